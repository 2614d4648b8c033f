/* SPDX-License-Identifier: MIT */
/*
 * test_http.c - the router in process: URL decoding, the loading state,
 * bounds (411, 413, 414), unknown routes, the nng message decoder, and that
 * every route the server has is described in docs/openapi.yaml.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "osa_test.h"

static void test_decode(void)
{
	char *s;

	s = osai_url_decode("caf%C3%A9+z%c3%bcrich", 21, 1);
	OSA_CHECK_STR(s, "café zürich");
	free(s);
	s = osai_url_decode("a+b", 3, 0);
	OSA_CHECK_STR(s, "a+b");
	free(s);
	OSA_CHECK(osai_url_decode("%ZZ", 3, 1) == NULL);
	OSA_CHECK(osai_url_decode("%4", 2, 1) == NULL);
	OSA_CHECK(osai_url_decode("%", 1, 1) == NULL);
	OSA_CHECK(osai_url_decode("a%00b", 5, 1) == NULL);
	OSA_CHECK(osai_url_decode("%C3%28", 6, 1) == NULL);    /* bad UTF-8 */
	OSA_CHECK(osai_url_decode("%ED%A0%80", 9, 1) == NULL); /* surrogate */
	s = osai_url_decode("", 0, 1);
	OSA_CHECK_STR(s, "");
	free(s);
}

static int status_of(struct osai_router *r, const char *m, const char *uri,
		     const char *te, size_t body_len, char **body)
{
	struct osai_http_req rq = { .method = m,
				    .uri = uri,
				    .transfer_enc = te,
				    .body = "",
				    .body_len = body_len };
	struct osai_http_res rs;

	osai_http_handle(r, &rq, &rs);
	if (body)
		*body = rs.body;
	else
		free(rs.body);
	return rs.status;
}

static void test_loading_and_bounds(void)
{
	struct osai_router r = { .max_body = 100, .max_query = 50 };
	char *body;

	atomic_store(&r.loading_index, "papers");
	OSA_CHECK(status_of(&r, "GET", "/health", NULL, 0, &body) == 503);
	OSA_CHECK_CONTAINS(body, "\"status\":\"loading\"");
	OSA_CHECK_CONTAINS(body, "\"index\":\"papers\"");
	free(body);
	OSA_CHECK(status_of(&r, "GET", "/search/papers?q=x", NULL, 0, &body) ==
		  503);
	OSA_CHECK_CONTAINS(body, "\"code\":\"loading\"");
	free(body);
	OSA_CHECK(status_of(&r, "GET", "/backends", NULL, 0, NULL) == 200);
	OSA_CHECK(status_of(&r, "POST", "/health", NULL, 0, NULL) == 405);
	OSA_CHECK(status_of(&r, "GET", "/nowhere", NULL, 0, &body) == 404);
	OSA_CHECK_CONTAINS(body, "\"code\":\"not_found\"");
	free(body);
	OSA_CHECK(status_of(&r, "POST", "/records", "chunked", 0, NULL) == 411);
	OSA_CHECK(status_of(&r, "POST", "/records", NULL, 101, &body) == 413);
	OSA_CHECK_CONTAINS(body, "server.max_body");
	free(body);
	{
		char uri[3000];

		memset(uri, 'a', sizeof(uri) - 1);
		uri[0] = '/';
		uri[sizeof(uri) - 1] = '\0';
		OSA_CHECK(status_of(&r, "GET", uri, NULL, 0, NULL) == 414);
	}
	OSA_CHECK(status_of(&r, NULL, NULL, NULL, 0, NULL) == 404);
}

/* The OSA surface: its envelope while loading, its liveness probe, its
 * own 404 and 405, and server.osa_api = false. */
static void test_osa_surface(void)
{
	struct osai_router r = { .max_body = 100, .max_query = 50 };
	char *body;

	atomic_store(&r.loading_index, "papers");
	OSA_CHECK(status_of(&r, "GET", "/api/v1/health", NULL, 0, &body) ==
		  200);
	OSA_CHECK_CONTAINS(body, "\"status\":\"healthy\"");
	OSA_CHECK_CONTAINS(body, "\"version\":\"" OSA_VERSION_STRING "\"");
	free(body);
	OSA_CHECK(status_of(&r, "GET", "/api/v1/search/papers?q=x", NULL, 0,
			    &body) == 503);
	OSA_CHECK_CONTAINS(body, "{\"detail\":\"indexes are loading");
	free(body);
	OSA_CHECK(status_of(&r, "GET", "/api/v1/records/a%3Ab", NULL, 0,
			    &body) == 503);
	OSA_CHECK_CONTAINS(body, "\"detail\"");
	free(body);
	OSA_CHECK(status_of(&r, "GET", "/api/v1/nowhere", NULL, 0, &body) ==
		  404);
	OSA_CHECK_STR(body, "{\"detail\":\"Not Found\"}");
	free(body);
	OSA_CHECK(status_of(&r, "GET", "/api/v1/search/a/b", NULL, 0, &body) ==
		  404);
	OSA_CHECK_STR(body, "{\"detail\":\"Not Found\"}");
	free(body);
	OSA_CHECK(status_of(&r, "DELETE", "/api/v1/records/x", NULL, 0,
			    &body) == 405);
	OSA_CHECK_STR(body, "{\"detail\":\"Method Not Allowed\"}");
	free(body);
	/* /api/v1x is not under /api/v1: the native 404. */
	OSA_CHECK(status_of(&r, "GET", "/api/v1x", NULL, 0, &body) == 404);
	OSA_CHECK_CONTAINS(body, "\"code\":\"not_found\"");
	free(body);
	r.osa_api_off = 1;
	OSA_CHECK(status_of(&r, "GET", "/api/v1/health", NULL, 0, &body) ==
		  404);
	OSA_CHECK_CONTAINS(body, "\"code\":\"not_found\"");
	free(body);
}

static void test_nng(void)
{
	struct osai_router r = { .max_body = 100, .max_query = 50 };
	char *out;

	out = osai_nng_handle(&r, "{\"op\":", 6);
	OSA_CHECK_CONTAINS(out, "\"status\":400");
	free(out);
	out = osai_nng_handle(&r, "[]", 2);
	OSA_CHECK_CONTAINS(out, "\"status\":400");
	free(out);
	out = osai_nng_handle(&r, "{\"op\":\"frob\"}", 13);
	OSA_CHECK_CONTAINS(out, "unknown op");
	free(out);
	out = osai_nng_handle(&r, "{\"op\":\"search\"}", 15);
	OSA_CHECK_CONTAINS(out, "\"status\":422");
	free(out);
	/* health keeps its own "status"; the HTTP one is http_status. */
	out = osai_nng_handle(&r, "{\"op\":\"health\"}", 15);
	OSA_CHECK_CONTAINS(out, "\"status\":\"loading\"");
	OSA_CHECK_CONTAINS(out, "\"http_status\":503");
	free(out);
	out = osai_nng_handle(&r, "{\"op\":\"get\",\"srn\":\"a/b%\"}", 25);
	OSA_CHECK_CONTAINS(out, "\"status\":503"); /* routed, loading */
	free(out);
}

/* Every route appears in docs/openapi.yaml with its method. */
static void test_spec(void)
{
	FILE *f = fopen(OSA_TEST_SRCDIR "/../docs/openapi.yaml", "r");
	char *spec = NULL;
	size_t n = 0;
	const char *const *rt;

	OSA_REQUIRE(f);
	OSA_REQUIRE(getdelim(&spec, &n, '\0', f) > 0);
	fclose(f);
	for (rt = osai_http_routes; *rt; rt++) {
		char method[16], path[128], key[160], verb[24];
		const char *at, *next;
		size_t i;

		OSA_REQUIRE(sscanf(*rt, "%15s %127s", method, path) == 2);
		snprintf(key, sizeof(key), "\n  %s:\n", path);
		at = strstr(spec, key);
		OSA_CHECK_MSG(at != NULL, "%s missing from openapi.yaml", path);
		if (!at)
			continue;
		for (i = 0; method[i]; i++)
			method[i] = (char)tolower((unsigned char)method[i]);
		snprintf(verb, sizeof(verb), "\n    %s:", method);
		next = strstr(at + strlen(key), "\n  /");
		at = strstr(at, verb);
		OSA_CHECK_MSG(at && (!next || at < next),
			      "%s missing from "
			      "openapi.yaml",
			      *rt);
	}
	free(spec);
}

int main(void)
{
	test_decode();
	test_loading_and_bounds();
	test_osa_surface();
	test_nng();
	test_spec();
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * test_fidelity.c - records come back as they were written: numbers jansson
 * cannot hold (0.1, integers beyond 64 bits, reals beyond double) and
 * member order survive ingest, the journal, GET and search metadata (the
 * record minus its vector member, cut out of the text), through the C API,
 * the HTTP router and the nng protocol.  Also the jtext helpers themselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osa/osa.h>

#include "http.h"
#include "jtext.h"
#include "osa_test.h"

#define P "urn:osa:test.org:rec:"

#define REQUIRE_MSG(cond, ...)                                                 \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: required: %s: ", __FILE__,     \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			exit(1);                                               \
		}                                                              \
	} while (0)

/* Each record, and its search metadata (the record minus "embedding"). */
static const char *const recs[] = {
	"{\"srn\":\"" P "f-1\",\"title\":\"fidelity\",\"f\":0.1,"
	"\"big\":12345678901234567890,\"neg\":-98765432109876543210,"
	"\"e\":1E+2,\"huge\":1e400,\"tiny\":5e-324,"
	"\"nested\":{\"x\":[0.30000000000000004,1.0,-0.0]},"
	"\"embedding\":[1,0.5,0],\"z\":\"after\"}",
	"{\"srn\":\"" P "f-2\",\"g\":2.50,\"embedding\":[0,1,0.25]}",
	"{\"embedding\":[0,0,1],\"srn\":\"" P "f-3\",\"h\":1.10}",
};
static const char *const metas[] = {
	"{\"srn\":\"" P "f-1\",\"title\":\"fidelity\",\"f\":0.1,"
	"\"big\":12345678901234567890,\"neg\":-98765432109876543210,"
	"\"e\":1E+2,\"huge\":1e400,\"tiny\":5e-324,"
	"\"nested\":{\"x\":[0.30000000000000004,1.0,-0.0]},\"z\":\"after\"}",
	"{\"srn\":\"" P "f-2\",\"g\":2.50}",
	"{\"srn\":\"" P "f-3\",\"h\":1.10}",
};
static const char *const vecs[] = { "[1,0.5,0]", "[0,1,0.25]", "[0,0,1]" };

static char dir[256];

static struct osa_db *open_db(void)
{
	struct osa_db *db = NULL;
	struct osa_error err;
	char cfg[1024];

	snprintf(
		cfg, sizeof(cfg),
		"data_dir = \"%s/data\";\n"
		"logging = { level = \"warn\"; };\n"
		"indexes = (\n"
		" { name = \"flat\"; backend = \"flat\"; config = { dim = 3; "
		"embedding = { embedder = \"field\"; }; }; },\n"
		" { name = \"hnsw\"; backend = \"vector\"; config = { dim = 3; "
		"embedding = { embedder = \"field\"; }; }; }\n"
		");\n",
		dir);
	OSA_CHECK_MSG(osa_open_string(cfg, NULL, NULL, &db, &err) == 0, "%s",
		      err.msg);
	OSA_REQUIRE(db);
	return db;
}

/* ---- jtext -------------------------------------------------------------- */

static void test_jtext(void)
{
	const char *o = "{ \"a\" : 1 , \"b\":[1,{\"c\":\"}\"}], \"c\\u0064\":"
			"\"x\\\"y\" }";
	size_t vb, ve, cb, ce, pos = 0, b, e, n = 0;
	struct osai_buf buf = { 0 };
	json_error_t je;
	json_t *j;
	char *dump;

	OSA_CHECK(osai_jtext_member(o, strlen(o), "b", &vb, &ve, &cb, &ce));
	OSA_CHECK(ve - vb == 13 && !memcmp(o + vb, "[1,{\"c\":\"}\"}]", 13));
	OSA_CHECK(osai_jtext_member(o, strlen(o), "cd", &vb, &ve, &cb, &ce));
	OSA_CHECK(!memcmp(o + vb, "\"x\\\"y\"", ve - vb));
	OSA_CHECK(osai_jtext_member(o, strlen(o), "a", &vb, &ve, &cb, &ce));
	OSA_CHECK(o[vb] == '1' && ve == vb + 1);
	OSA_CHECK(!osai_jtext_member(o, strlen(o), "c", &vb, &ve, NULL, NULL));
	OSA_CHECK(!osai_jtext_member("[1]", 3, "a", &vb, &ve, NULL, NULL));
	/* Cutting any member leaves a valid object without it. */
	{
		static const char *const names[] = { "a", "b", "cd" };
		size_t i;

		for (i = 0; i < 3; i++) {
			char cut[128];
			size_t len = strlen(o);

			OSA_REQUIRE(osai_jtext_member(o, len, names[i], &vb,
						      &ve, &cb, &ce));
			memcpy(cut, o, cb);
			memcpy(cut + cb, o + ce, len - ce + 1);
			j = json_loads(cut, JSON_REJECT_DUPLICATES, &je);
			OSA_CHECK_MSG(j && json_object_size(j) == 2, "%s: %s",
				      cut, je.text);
			OSA_CHECK(
				!json_object_get(j, i == 2 ? "cd" : names[i]));
			json_decref(j);
		}
	}
	/* Array items as written. */
	while (osai_jtext_item(
		" [ 1 , \"a,]\" ,{\"k\":[2]}, 12345678901234567890 ]", 46, &pos,
		&b, &e))
		n++;
	OSA_CHECK(n == 4);
	/* Numbers jansson refuses load; invalid ones still fail. */
	j = osai_jtext_load("[12345678901234567890,-9223372036854775808,"
			    "9223372036854775808,1e400,-1e400,0.1]",
			    80, 0, &je);
	REQUIRE_MSG(j, "%s", je.text);
	OSA_CHECK(json_is_real(json_array_get(j, 0)));
	OSA_CHECK(json_is_integer(json_array_get(j, 1)));
	OSA_CHECK(json_is_real(json_array_get(j, 2)));
	OSA_CHECK(json_real_value(json_array_get(j, 3)) > 1e308);
	OSA_CHECK(json_real_value(json_array_get(j, 4)) < -1e308);
	json_decref(j);
	OSA_CHECK(!osai_jtext_load("[01234567890123456789012]", 25, 0, &je));
	OSA_CHECK(!osai_jtext_load("[1.]", 4, 0, &je));
	OSA_CHECK(!osai_jtext_load("{\"a\":1,\"a\":2}", 13,
				   JSON_REJECT_DUPLICATES, &je));
	/* Strings and reals written as jansson writes them. */
	{
		static const char s[] = "a\"b\\c\n\t\x01/\xc3\xa9";
		static const double d[] = { 0.1,   3,	      -2.5e-7,
					    1e300, 123456789, 0.87654321 };
		size_t i;

		osai_buf_jstr(&buf, s, sizeof(s) - 1);
		j = json_stringn(s, sizeof(s) - 1);
		dump = json_dumps(j, JSON_ENCODE_ANY);
		OSA_CHECK_STR(buf.p, dump);
		free(dump);
		json_decref(j);
		for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
			osai_buf_reset(&buf);
			osai_buf_jreal(&buf, d[i]);
			j = json_real(d[i]);
			dump = json_dumps(j, JSON_ENCODE_ANY);
			OSA_CHECK_STR(buf.p, dump);
			free(dump);
			json_decref(j);
		}
	}
	osai_buf_free(&buf);
}

/* ---- C API -------------------------------------------------------------- */

static void check_search(struct osa_db *db, const char *index)
{
	struct osa_results *r = NULL;
	struct osa_error err;
	float q[3];
	size_t i, k;

	for (k = 0; k < 3; k++) {
		struct osa_search s = { .index = index, .limit = 3 };
		json_t *v = json_loads(vecs[k], 0, NULL);

		for (i = 0; i < 3; i++)
			q[i] = (float)json_number_value(json_array_get(v, i));
		json_decref(v);
		s.vector = q;
		s.dim = 3;
		REQUIRE_MSG(osa_search(db, &s, &r, &err) == 0, "%s", err.msg);
		OSA_REQUIRE(r->n >= 1);
		OSA_CHECK_STR(r->v[0].metadata, metas[k]);
		osa_results_free(r);
	}
}

static void test_c_api(void)
{
	size_t lens[3], i;
	struct osa_error err;
	struct osa_db *db = open_db();
	char *doc;
	uint64_t lsn;

	for (i = 0; i < 3; i++)
		lens[i] = strlen(recs[i]);
	REQUIRE_MSG(osa_ingest(db, recs, lens, 3, &lsn, NULL, &err) == 0, "%s",
		    err.msg);
	for (i = 0; i < 3; i++) {
		char srn[64];

		snprintf(srn, sizeof(srn), P "f-%zu", i + 1);
		OSA_REQUIRE(osa_get(db, srn, &doc, &err) == 0);
		OSA_CHECK_STR(doc, recs[i]);
		free(doc);
	}
	check_search(db, "flat");
	check_search(db, "hnsw");
	osa_close(db);
	/* Replayed or loaded from snapshots: the same. */
	db = open_db();
	check_search(db, "flat");
	check_search(db, "hnsw");
	osa_close(db);
}

/* ---- HTTP router and nng ------------------------------------------------ */

static int handle(struct osai_router *r, const char *m, const char *uri,
		  const char *body, struct osai_buf *scratch, char **out)
{
	struct osai_http_req rq = { .method = m,
				    .uri = uri,
				    .body = body ? body : "",
				    .body_len = body ? strlen(body) : 0,
				    .scratch = scratch };
	struct osai_http_res rs;

	osai_http_handle(r, &rq, &rs);
	*out = rs.borrowed ? strdup(rs.body) : rs.body;
	return rs.status;
}

static void test_http(void)
{
	struct osai_router r = { .max_body = 1 << 20, .max_query = 1000 };
	struct osai_buf scratch = { 0 };
	struct osa_db *db = open_db();
	char body[4096], *out, want[1024];
	size_t i;

	atomic_store(&r.svc, db);
	/* An array with whitespace around its items. */
	snprintf(body, sizeof(body), "[ %s ,\n  %s\n]", recs[0], recs[1]);
	OSA_CHECK(handle(&r, "POST", "/records", body, NULL, &out) == 200);
	free(out);
	/* NDJSON of one line. */
	OSA_CHECK(handle(&r, "POST", "/records", recs[2], NULL, &out) == 200);
	free(out);
	for (i = 0; i < 3; i++) {
		char uri[128];

		snprintf(uri, sizeof(uri), "/records/" P "f-%zu", i + 1);
		OSA_CHECK(handle(&r, "GET", uri, NULL, NULL, &out) == 200);
		OSA_CHECK_STR(out, recs[i]);
		free(out);
		snprintf(uri, sizeof(uri), "/api/v1/records/" P "f-%zu", i + 1);
		OSA_CHECK(handle(&r, "GET", uri, NULL, NULL, &out) == 200);
		snprintf(want, sizeof(want), "\"metadata\":%s}}", recs[i]);
		OSA_CHECK_CONTAINS(out, want);
		OSA_CHECK_CONTAINS(out, "{\"record\":{\"srn\":\"" P "f-");
		free(out);
		/* Search metadata, built in the scratch buffer and not. */
		snprintf(body, sizeof(body), "{\"vector\":%s,\"limit\":1}",
			 vecs[i]);
		OSA_CHECK(handle(&r, "POST", "/search/hnsw", body, &scratch,
				 &out) == 200);
		snprintf(want, sizeof(want), "\"metadata\":%s}]}", metas[i]);
		OSA_CHECK_CONTAINS(out, want);
		if (i == 0) /* 1e400: more than jansson holds */
			OSA_CHECK(json_loads(out, 0, NULL) == NULL);
		free(out);
		OSA_CHECK(handle(&r, "POST", "/search/flat", body, NULL,
				 &out) == 200);
		OSA_CHECK_CONTAINS(out, want);
		free(out);
	}
	/* A pretty-printed single object is one record, kept as written
	 * (without the whitespace between tokens). */
	OSA_CHECK(handle(&r, "POST", "/records",
			 "{\n  \"srn\": \"" P "f-4\",\n  \"n\": "
			 "18446744073709551616,\n  \"embedding\": [1, 1, 1]\n}",
			 NULL, &out) == 200);
	free(out);
	OSA_CHECK(handle(&r, "GET", "/records/" P "f-4", NULL, NULL, &out) ==
		  200);
	OSA_CHECK_STR(out, "{\"srn\":\"" P "f-4\",\"n\":18446744073709551616,"
			   "\"embedding\":[1,1,1]}");
	free(out);
	/* nng: ingest, get and search keep the text too. */
	out = osai_nng_handle(&r,
			      "{\"op\":\"ingest\",\"records\":[{\"srn\":\"" P
			      "f-5\",\"x\":0.1,\"y\":99999999999999999999,"
			      "\"embedding\":[2,2,2]}]}",
			      strlen("{\"op\":\"ingest\",\"records\":[{\"srn\""
				     ":\"" P "f-5\",\"x\":0.1,\"y\":"
				     "99999999999999999999,\"embedding\":"
				     "[2,2,2]}]}"));
	OSA_REQUIRE(out);
	OSA_CHECK_CONTAINS(out, "\"http_status\":200");
	free(out);
	out = osai_nng_handle(&r, "{\"op\":\"get\",\"srn\":\"" P "f-5\"}",
			      strlen("{\"op\":\"get\",\"srn\":\"" P "f-5\"}"));
	OSA_REQUIRE(out);
	OSA_CHECK_STR(out, "{\"srn\":\"" P "f-5\",\"x\":0.1,"
			   "\"y\":99999999999999999999,\"embedding\":[2,2,2],"
			   "\"http_status\":200,\"status\":200}");
	free(out);
	out = osai_nng_handle(&r,
			      "{\"op\":\"search\",\"index\":\"flat\","
			      "\"vector\":[2,2,2],\"limit\":1}",
			      strlen("{\"op\":\"search\",\"index\":\"flat\","
				     "\"vector\":[2,2,2],\"limit\":1}"));
	OSA_REQUIRE(out);
	OSA_CHECK_CONTAINS(out, "\"metadata\":{\"srn\":\"" P "f-4\",\"n\":"
				"18446744073709551616}");
	OSA_CHECK_CONTAINS(out, "}}],\"http_status\":200,\"status\":200}");
	free(out);
	out = osai_nng_handle(&r, "{\"op\":\"health\"}", 15);
	OSA_REQUIRE(out);
	OSA_CHECK_CONTAINS(out, "\"http_status\":200}");
	free(out);
	osai_buf_free(&scratch);
	atomic_store(&r.svc, NULL);
	osa_close(db);
}

int main(void)
{
	char cmd[400];

	snprintf(dir, sizeof(dir), "/tmp/osa-fidelity-XXXXXX");
	OSA_REQUIRE(mkdtemp(dir));
	test_jtext();
	test_c_api();
	snprintf(cmd, sizeof(cmd), "rm -rf %s/data", dir);
	OSA_REQUIRE(system(cmd) == 0);
	test_http();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	OSA_REQUIRE(system(cmd) == 0);
	OSA_TEST_END();
}

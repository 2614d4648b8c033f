/* SPDX-License-Identifier: MIT */
/*
 * http.c - the routes of `osa serve` (see http.h and docs/http-api.md).
 *
 * Every reply is JSON; every error is {"error": {"code", "message"}} with
 * the right status.  Input is bounded: body size (413), query length and
 * limit/offset (422 naming the field), Transfer-Encoding bodies (411: only
 * Content-Length bodies are read; httpd.c closes the connection after).
 * Writes need "Authorization: Bearer <api_key>" when a key is configured
 * (compared in constant time under the router's key_lock; the key is never
 * logged).
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "jtext.h"
#include "metrics.h"

/* Most results one can page to: offset + limit stays bounded. */
#define HTTP_MAX_OFFSET 10000

const char *const osai_http_routes[] = {
	"GET /search/", "POST /search/", "GET /search/{index}",
	"POST /search/{index}", "POST /records", "GET /records/{srn}",
	"DELETE /records/{srn}", "GET /health", "GET /stats", "GET /backends",
	"GET /metrics",
	/* the OSA surface (server.osa_api) */
	"GET /api/v1/search/", "GET /api/v1/search/{index}",
	"GET /api/v1/records/{srn}", "GET /api/v1/health", NULL
};

static void reply(struct osai_http_res *rs, int status, json_t *doc)
{
	rs->status = status;
	rs->body = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)
		       : NULL;
	json_decref(doc);
	if (!rs->body) {
		rs->status = 500;
		rs->body = strdup("{\"error\":{\"code\":\"internal\","
				  "\"message\":\"out of memory\"}}");
	}
}

static void fail(struct osai_http_res *rs, int status, const char *code,
		 const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void fail(struct osai_http_res *rs, int status, const char *code,
		 const char *field, const char *fmt, ...)
{
	char msg[1024];
	json_t *e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* json_string refuses invalid UTF-8; the message may quote input. */
	e = json_pack("{s:s, s:s?}", "code", code, "message", msg);
	if (e && !json_object_get(e, "message"))
		json_object_set_new(e, "message",
				    json_string("(message not valid UTF-8)"));
	if (e && field)
		json_object_set_new(e, "field", json_string(field));
	reply(rs, status, json_pack("{s:o}", "error", e));
}

/* ---- decoding ---------------------------------------------------------- */

static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len, k;
		unsigned cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 &&
		     (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += len;
	}
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *osai_url_decode(const char *src, size_t n, int plus)
{
	char *out = malloc(n + 1);
	size_t i, o = 0;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		char c = src[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				goto bad;
			hi = hexval(src[i + 1]);
			lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (c == '\0')
			goto bad;
		out[o++] = c;
	}
	out[o] = '\0';
	if (!utf8_valid((unsigned char *)out, o))
		goto bad;
	return out;
bad:
	free(out);
	return NULL;
}

/* The decoded value of query parameter `name`, "" if present without a
 * value, NULL if absent; *bad set when it cannot be decoded. */
static char *query_param(const char *query, const char *name, int *bad)
{
	size_t nl = strlen(name);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t kl = eq ? (size_t)(eq - p) : len;

		if (kl == nl && !strncmp(p, name, nl)) {
			char *v = eq ? osai_url_decode(eq + 1, len - kl - 1, 1)
				     : strdup("");

			if (!v)
				*bad = 1;
			return v;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* Parse a non-negative integer in [lo, hi]; -1 if it is not one. */
static long long parse_int(const char *s, long long lo, long long hi)
{
	long long v = 0;

	if (!s || !*s || strlen(s) > 12)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v < lo || v > hi ? -1 : v;
}

/* ---- helpers ------------------------------------------------------------ */

static const char *loading_name(struct osai_router *r)
{
	const char *name = atomic_load(&r->loading_index);

	return name ? name : "";
}

int osai_router_set_key(struct osai_router *r, const char *key)
{
	char *k = strdup(key ? key : ""), *old;

	if (!k)
		return OSA_ENOMEM;
	pthread_mutex_lock(&r->key_lock);
	old = r->api_key;
	r->api_key = k;
	pthread_mutex_unlock(&r->key_lock);
	free(old);
	return 0;
}

void osai_router_reload_status(struct osai_router *r, const char *msg)
{
	pthread_mutex_lock(&r->key_lock);
	snprintf(r->reload_error, sizeof(r->reload_error), "%s",
		 msg ? msg : "");
	if (!msg)
		r->reloads++;
	pthread_mutex_unlock(&r->key_lock);
}

void osai_router_fini(struct osai_router *r)
{
	free(r->api_key);
	r->api_key = NULL;
}

/* Does `given` (NULL: none) match the API key?  Constant time in the key's
 * length, whatever the guess. */
static int key_ok(struct osai_router *r, const char *given)
{
	size_t kl, gl, i;
	unsigned char diff = 0;
	int ok;

	pthread_mutex_lock(&r->key_lock);
	if (!r->api_key || !*r->api_key) {
		ok = 1;
	} else if (!given) {
		ok = 0;
	} else {
		kl = strlen(r->api_key);
		gl = strlen(given);
		for (i = 0; i < kl; i++)
			diff |= (unsigned char)r->api_key[i] ^
				(unsigned char)(i < gl ? given[i] : 0);
		ok = !diff && gl == kl;
	}
	pthread_mutex_unlock(&r->key_lock);
	return ok;
}

static int authorized(struct osai_router *r, const char *auth)
{
	if (auth && strncasecmp(auth, "Bearer ", 7))
		auth = NULL;
	return key_ok(r, auth ? auth + 7 : NULL);
}

static int service_error_status(int code)
{
	switch (code) {
	case OSA_ENOTFOUND:
		return 404;
	case OSA_EINVAL:
	case OSA_ERANGE:
	case OSA_ENOFEATURES:
	case OSA_ETYPE:
		return 422;
	case OSA_ENOTSUP: /* a query kind the index's backend cannot answer */
		return 400;
	case OSA_EDEGRADED:
	case OSA_EBUSY:
		return 503;
	case OSA_ENOSPC:
		return 507;
	default:
		return 500;
	}
}

static const char *service_error_code(int code)
{
	switch (code) {
	case OSA_ENOTFOUND:
		return "not_found";
	case OSA_EINVAL:
	case OSA_ERANGE:
	case OSA_ETYPE:
		return "invalid";
	case OSA_ENOFEATURES:
		return "nothing_to_search";
	case OSA_ENOTSUP:
		return "unsupported";
	case OSA_EDEGRADED:
		return "index_unavailable";
	case OSA_ENOSPC:
		return "disk_full";
	default:
		return "internal";
	}
}

static void index_not_found(struct osai_http_res *rs, struct osa_db *s,
			    const char *name)
{
	char list[1024] = "";
	size_t i, pos = 0;

	for (i = 0; i < osa_index_count(s) && pos + 70 < sizeof(list); i++)
		pos += (size_t)snprintf(list + pos, sizeof(list) - pos, "%s%s",
					i ? ", " : "", osa_index_name(s, i));
	fail(rs, 404, "unknown_index", NULL, "no index \"%s\"; available: %s",
	     name, *list ? list : "(none)");
}

/* The one search path of both surfaces.  An empty q (and no vector)
 * searches nothing: rc 0 with *res NULL, answered as an empty page with
 * total 0 (docs/http-api.md, "Empty q"). */
static int search_run(struct osa_db *s, struct osa_search *q,
		      struct osa_results **res, struct osa_error *err)
{
	*res = NULL;
	if (q->text && !*q->text && !q->vector)
		return 0;
	return osa_search(s, q, res, err);
}

/* Reply with text built in b: rs->scratch (borrowed) or a buffer of the
 * caller's, whose memory the reply then takes. */
static void reply_buf(struct osai_http_res *rs, int status, struct osai_buf *b)
{
	if (b->oom || !b->p) {
		if (b != rs->scratch)
			osai_buf_free(b);
		reply(rs, 500, NULL);
		return;
	}
	rs->status = status;
	rs->body = b->p;
	rs->borrowed = b == rs->scratch;
	if (!rs->borrowed)
		*b = (struct osai_buf){ 0 };
}

/* The response body of a search: the same on both surfaces, with each
 * record spliced in as stored. */
static void search_reply(struct osai_http_res *rs, const struct osa_search *q,
			 const struct osa_results *res)
{
	static const struct osa_results none = { 0 };
	struct osai_buf own = { 0 }, *b = rs->scratch ? rs->scratch : &own;

	osai_buf_reset(b);
	osai_search_text(b, q, res ? res : &none);
	reply_buf(rs, 200, b);
}

/* The request field a search error is about, from its message: "filter:"
 * and the like open it, after an "index NAME: " of a hybrid search. */
static const char *search_error_field(int rc, const char *msg)
{
	static const char *const fields[] = { "filter",	 "facets",
					      "indexes", "weights",
					      "rrf_k",	 "facet_limit",
					      NULL };
	const char *m = msg;
	size_t i, n;

	if (!strncmp(m, "index ", 6) && strstr(m, ": "))
		m = strstr(m, ": ") + 2;
	for (i = 0; fields[i]; i++) {
		n = strlen(fields[i]);
		if (!strncmp(m, fields[i], n) && (m[n] == ':' || m[n] == ' '))
			return fields[i];
	}
	return rc == OSA_ENOFEATURES || rc == OSA_ERANGE ? "q" : NULL;
}

static void do_search(struct osai_router *r, struct osa_db *s,
		      const char *index, struct osa_search *q,
		      struct osai_http_res *rs)
{
	struct osa_results *res = NULL;
	struct osa_error err;
	int rc;

	q->index = index;
	if (!q->nindexes && !osa_index_exists(s, index)) {
		index_not_found(rs, s, index);
		return;
	}
	for (size_t i = 0; i < q->nindexes; i++)
		if (!osa_index_exists(s, q->indexes[i])) {
			index_not_found(rs, s, q->indexes[i]);
			return;
		}
	(void)r;
	rc = search_run(s, q, &res, &err);
	if (rc) {
		/* a filter past the size or depth limit is the client's */
		fail(rs, rc == OSA_ELIMIT ? 422 : service_error_status(rc),
		     rc == OSA_ELIMIT ? "invalid" : service_error_code(rc),
		     search_error_field(rc, err.msg), "%s", err.msg);
		return;
	}
	search_reply(rs, q, res);
	osa_results_free(res);
}

/* ---- filters, facets and hybrid parameters ----------------------------- */

/* Most bytes of a filter expression a request may carry (the parser's own
 * limit: a longer one is refused with 422 before parsing). */
#define HTTP_MAX_FILTER 65536

/* The filter, facets and hybrid parameters of one search, as given. */
struct search_more {
	char *filter;
	char **facets;
	size_t nfacets;
	char **indexes;
	size_t nindexes;
	double *weights;
	size_t nweights;
	size_t facet_limit;
	double rrf_k;
};

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void more_free(struct search_more *m)
{
	free(m->filter);
	names_free(m->facets, m->nfacets);
	names_free(m->indexes, m->nindexes);
	free(m->weights);
	memset(m, 0, sizeof(*m));
}

/* Split "a, b,c" into names; -1 (with *why) for an empty item, a NUL or
 * more than `max` items. */
static int split_names(const char *s, size_t len, size_t max, char ***out,
		       size_t *n, const char **why)
{
	const char *p = s, *end = s + len;
	char **v;
	size_t cnt = 1, k = 0;

	*out = NULL;
	*n = 0;
	for (p = s; p < end; p++)
		cnt += *p == ',';
	if (memchr(s, 0, len)) {
		*why = "holds a NUL";
		return -1;
	}
	if (cnt > max) {
		*why = "lists too many names";
		return -1;
	}
	v = calloc(cnt, sizeof(*v));
	if (!v) {
		*why = "out of memory";
		return -1;
	}
	for (p = s; k < cnt; k++) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		const char *e = c ? c : end;

		while (p < e && *p == ' ')
			p++;
		while (e > p && e[-1] == ' ')
			e--;
		if (e == p || !(v[k] = strndup(p, (size_t)(e - p)))) {
			names_free(v, k);
			*why = e == p ? "has an empty name" : "out of memory";
			return -1;
		}
		p = c ? c + 1 : end;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* A finite number from text; false if it is not one. */
static bool parse_double(const char *s, double *out)
{
	char *end;

	if (!s || !*s || strlen(s) > 32)
		return false;
	*out = strtod(s, &end);
	return !*end && *out == *out && *out > -1e300 && *out < 1e300;
}

static void more_apply(const struct search_more *m, struct osa_search *q)
{
	q->filter = m->filter;
	q->facets = (const char *const *)m->facets;
	q->nfacets = m->nfacets;
	q->facet_limit = m->facet_limit;
	q->indexes = (const char *const *)m->indexes;
	q->nindexes = m->nindexes;
	q->weights = m->weights;
	q->rrf_k = m->rrf_k;
}

/* Checks shared by both forms; 0 or -1 with the reply filled. */
static int more_check(struct search_more *m, bool hybrid,
		      struct osai_http_res *rs)
{
	if (m->filter && strlen(m->filter) > HTTP_MAX_FILTER) {
		fail(rs, 422, "invalid", "filter",
		     "filter:1:1: the filter is longer than %d bytes",
		     HTTP_MAX_FILTER);
		return -1;
	}
	if (hybrid && !m->nindexes) {
		fail(rs, 422, "invalid", "indexes",
		     "a search over several indexes needs \"indexes\": "
		     "text,papers");
		return -1;
	}
	if (!hybrid && m->nindexes) {
		fail(rs, 422, "invalid", "indexes",
		     "\"indexes\" goes with /search (hybrid search), not "
		     "with /search/{index}");
		return -1;
	}
	if (m->weights && m->nweights != m->nindexes) {
		fail(rs, 422, "invalid", "weights",
		     "weights has %zu numbers for %zu indexes: give one per "
		     "index",
		     m->nweights, m->nindexes);
		return -1;
	}
	return 0;
}

/* The parameters from a query string; 0 or -1 with the reply filled. */
static int more_from_query(const char *query, bool hybrid,
			   struct search_more *m, struct osai_http_res *rs)
{
	char *facets, *flim, *idx, *w, *fusion, *k;
	const char *why = NULL;
	int bad = 0, rc = -1;
	long long v = 0;

	memset(m, 0, sizeof(*m));
	m->filter = query_param(query, "filter", &bad);
	facets = query_param(query, "facets", &bad);
	flim = query_param(query, "facet_limit", &bad);
	idx = query_param(query, "indexes", &bad);
	w = query_param(query, "weights", &bad);
	fusion = query_param(query, "fusion", &bad);
	k = query_param(query, "rrf_k", &bad);
	if (bad) {
		fail(rs, 400, "bad_encoding", NULL,
		     "the query string has a bad %%-escape, a NUL byte or "
		     "invalid UTF-8");
	} else if (facets && split_names(facets, strlen(facets), 64, &m->facets,
					 &m->nfacets, &why)) {
		fail(rs, 422, "invalid", "facets",
		     "facets %s: give attribute names separated by commas "
		     "(facets=type,year), at most 64",
		     why);
	} else if (flim && (v = parse_int(flim, 1, OSA_MAX_FACET_LIMIT)) < 0) {
		fail(rs, 422, "invalid", "facet_limit",
		     "facet_limit must be an integer from 1 to %d",
		     OSA_MAX_FACET_LIMIT);
	} else if (idx && split_names(idx, strlen(idx), OSA_MAX_FUSED_INDEXES,
				      &m->indexes, &m->nindexes, &why)) {
		fail(rs, 422, "invalid", "indexes",
		     "indexes %s: give index names separated by commas "
		     "(indexes=text,papers), at most %d",
		     why, OSA_MAX_FUSED_INDEXES);
	} else if (fusion && strcmp(fusion, "rrf")) {
		fail(rs, 422, "invalid", "fusion",
		     "fusion must be \"rrf\" (reciprocal rank fusion)");
	} else if (k && (!parse_double(k, &m->rrf_k) || m->rrf_k <= 0 ||
			 m->rrf_k > 1e6)) {
		fail(rs, 422, "invalid", "rrf_k",
		     "rrf_k must be a number above 0 and at most 1000000");
	} else {
		char **ws = NULL;
		size_t nw = 0, i;

		if (flim)
			m->facet_limit = (size_t)v;
		if (w && split_names(w, strlen(w), OSA_MAX_FUSED_INDEXES, &ws,
				     &nw, &why)) {
			fail(rs, 422, "invalid", "weights",
			     "weights %s: give one number per index, "
			     "separated by commas (weights=1,0.5)",
			     why);
			goto out;
		}
		if (nw) {
			m->weights = calloc(nw, sizeof(*m->weights));
			m->nweights = nw;
		}
		for (i = 0; i < nw; i++)
			if (!m->weights ||
			    !parse_double(ws[i], &m->weights[i]) ||
			    m->weights[i] < 0 || m->weights[i] > 1e6)
				break;
		names_free(ws, nw);
		if (i < nw) {
			fail(rs, 422, "invalid", "weights",
			     "weights: weight %zu must be a number from 0 to "
			     "1000000",
			     i + 1);
			goto out;
		}
		if (fusion && !hybrid && !idx) {
			fail(rs, 422, "invalid", "fusion",
			     "fusion goes with a search over several indexes "
			     "(/search?indexes=...)");
			goto out;
		}
		rc = more_check(m, hybrid, rs);
	}
out:
	free(facets);
	free(flim);
	free(idx);
	free(w);
	free(fusion);
	free(k);
	if (rc)
		more_free(m);
	return rc;
}

/* A list of names given as an array of strings or one comma string. */
static int json_names(json_t *v, size_t max, char ***out, size_t *n,
		      const char **why)
{
	size_t i;
	json_t *x;

	if (json_is_string(v))
		return split_names(json_string_value(v), json_string_length(v),
				   max, out, n, why);
	if (!json_is_array(v) || !json_array_size(v)) {
		*why = "must be a non-empty array of strings or a comma "
		       "separated string";
		return -1;
	}
	if (json_array_size(v) > max) {
		*why = "lists too many names";
		return -1;
	}
	*out = calloc(json_array_size(v), sizeof(**out));
	if (!*out) {
		*why = "out of memory";
		return -1;
	}
	json_array_foreach (v, i, x) {
		if (!json_is_string(x) || !json_string_length(x) ||
		    memchr(json_string_value(x), 0, json_string_length(x)) ||
		    !((*out)[i] = strdup(json_string_value(x)))) {
			names_free(*out, i);
			*out = NULL;
			*why = "must hold non-empty strings";
			return -1;
		}
		*n = i + 1;
	}
	return 0;
}

/* The parameters from a JSON search; 0 or -1 with the reply filled. */
static int more_from_json(json_t *doc, bool hybrid, struct search_more *m,
			  struct osai_http_res *rs)
{
	const char *why = NULL;
	json_t *v, *x;
	size_t i;

	memset(m, 0, sizeof(*m));
	if ((v = json_object_get(doc, "filter")) && !json_is_null(v)) {
		if (!json_is_string(v) ||
		    memchr(json_string_value(v), 0, json_string_length(v))) {
			fail(rs, 422, "invalid", "filter",
			     "filter must be a string (a filter expression)");
			goto bad;
		}
		m->filter = strdup(json_string_value(v));
		if (!m->filter)
			goto oom;
	}
	if ((v = json_object_get(doc, "facets")) && !json_is_null(v) &&
	    json_names(v, 64, &m->facets, &m->nfacets, &why)) {
		fail(rs, 422, "invalid", "facets",
		     "facets %s (attribute names, at most 64)", why);
		goto bad;
	}
	if ((v = json_object_get(doc, "facet_limit"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > OSA_MAX_FACET_LIMIT) {
			fail(rs, 422, "invalid", "facet_limit",
			     "facet_limit must be an integer from 1 to %d",
			     OSA_MAX_FACET_LIMIT);
			goto bad;
		}
		m->facet_limit = (size_t)json_integer_value(v);
	}
	if ((v = json_object_get(doc, "indexes")) && !json_is_null(v) &&
	    json_names(v, OSA_MAX_FUSED_INDEXES, &m->indexes, &m->nindexes,
		       &why)) {
		fail(rs, 422, "invalid", "indexes",
		     "indexes %s (index names, at most %d)", why,
		     OSA_MAX_FUSED_INDEXES);
		goto bad;
	}
	if ((v = json_object_get(doc, "fusion")) && !json_is_null(v) &&
	    (!json_is_string(v) || strcmp(json_string_value(v), "rrf"))) {
		fail(rs, 422, "invalid", "fusion",
		     "fusion must be \"rrf\" (reciprocal rank fusion)");
		goto bad;
	}
	if ((v = json_object_get(doc, "rrf_k")) && !json_is_null(v)) {
		if (!json_is_number(v) || json_number_value(v) <= 0 ||
		    json_number_value(v) > 1e6) {
			fail(rs, 422, "invalid", "rrf_k",
			     "rrf_k must be a number above 0 and at most "
			     "1000000");
			goto bad;
		}
		m->rrf_k = json_number_value(v);
	}
	if ((v = json_object_get(doc, "weights")) && !json_is_null(v)) {
		/* an array in the order of indexes, or {"index": weight} */
		m->nweights = json_is_array(v)	  ? json_array_size(v)
			      : json_is_object(v) ? m->nindexes
						  : 0;
		m->weights = calloc(m->nweights ? m->nweights : 1,
				    sizeof(*m->weights));
		if (!m->weights)
			goto oom;
		if (json_is_object(v)) {
			const char *key;

			for (i = 0; i < m->nindexes; i++)
				m->weights[i] = 1;
			json_object_foreach (v, key, x) {
				for (i = 0; i < m->nindexes &&
					    strcmp(m->indexes[i], key);
				     i++)
					;
				if (i == m->nindexes || !json_is_number(x) ||
				    json_number_value(x) < 0 ||
				    json_number_value(x) > 1e6) {
					fail(rs, 422, "invalid", "weights",
					     "weights: \"%.200s\" must be one "
					     "of the indexes with a number "
					     "from 0 to 1000000",
					     key);
					goto bad;
				}
				m->weights[i] = json_number_value(x);
			}
		} else if (!json_is_array(v)) {
			fail(rs, 422, "invalid", "weights",
			     "weights must be an array of numbers (one per "
			     "index) or an object {\"index\": weight}");
			goto bad;
		}
		json_array_foreach (v, i, x) {
			if (!json_is_number(x) || json_number_value(x) < 0 ||
			    json_number_value(x) > 1e6) {
				fail(rs, 422, "invalid", "weights",
				     "weights: weight %zu must be a number "
				     "from 0 to 1000000",
				     i + 1);
				goto bad;
			}
			m->weights[i] = json_number_value(x);
		}
	}
	if (!more_check(m, hybrid, rs))
		return 0;
	goto bad;
oom:
	fail(rs, 500, "internal", NULL, "out of memory");
bad:
	more_free(m);
	return -1;
}

static void route_search_get(struct osai_router *r, struct osa_db *s,
			     const char *index, const char *query,
			     struct osai_http_res *rs)
{
	struct osa_search q = { .limit = 20 };
	struct search_more more;
	char *text, *lim, *off, *ef;
	int bad = 0;
	long long v;

	text = query_param(query, "q", &bad);
	lim = query_param(query, "limit", &bad);
	off = query_param(query, "offset", &bad);
	ef = query_param(query, "ef_search", &bad);
	if (bad) {
		fail(rs, 400, "bad_encoding", NULL,
		     "the query string has a bad %%-escape, a NUL byte or "
		     "invalid UTF-8");
	} else if (!text) {
		fail(rs, 422, "invalid", "q",
		     "q is required: ?q=words (q= with no words answers an "
		     "empty page)");
	} else if (strlen(text) > r->max_query) {
		fail(rs, 422, "invalid", "q",
		     "q is %zu bytes; at most %zu (server.max_query)",
		     strlen(text), r->max_query);
	} else if (lim && (v = parse_int(lim, 1, 100)) < 0) {
		fail(rs, 422, "invalid", "limit",
		     "limit must be an integer from 1 to 100");
	} else if (off && parse_int(off, 0, HTTP_MAX_OFFSET) < 0) {
		fail(rs, 422, "invalid", "offset",
		     "offset must be an integer from 0 to %d", HTTP_MAX_OFFSET);
	} else if (ef && parse_int(ef, 1, 65535) < 0) {
		fail(rs, 422, "invalid", "ef_search",
		     "ef_search must be an integer from 1 to 65535");
	} else if (!more_from_query(query, !index, &more, rs)) {
		q.text = text;
		if (lim)
			q.limit = (size_t)parse_int(lim, 1, 100);
		if (off)
			q.offset = (size_t)parse_int(off, 0, HTTP_MAX_OFFSET);
		if (ef)
			q.ef_search = (int)parse_int(ef, 1, 65535);
		more_apply(&more, &q);
		do_search(r, s, index, &q, rs);
		more_free(&more);
	}
	free(text);
	free(lim);
	free(off);
	free(ef);
}

/* A search given as a JSON object (POST body or nng message): "q",
 * "vector", "limit", "offset", "ef_search", "filter", "facets",
 * "facet_limit", and with index NULL (hybrid) "indexes", "weights",
 * "fusion", "rrf_k"; other keys are not read. */
static void search_json(struct osai_router *r, struct osa_db *s,
			const char *index, json_t *doc,
			struct osai_http_res *rs)
{
	struct osa_search q = { .limit = 20 };
	struct search_more more;
	json_t *v, *x;
	float *vec = NULL;
	size_t i;

	if ((v = json_object_get(doc, "q")) && !json_is_null(v)) {
		if (!json_is_string(v)) {
			fail(rs, 422, "invalid", "q", "q must be a string");
			goto out;
		}
		if (json_string_length(v) > r->max_query) {
			fail(rs, 422, "invalid", "q",
			     "q is %zu bytes; at most %zu",
			     json_string_length(v), r->max_query);
			goto out;
		}
		if (memchr(json_string_value(v), 0, json_string_length(v))) {
			fail(rs, 422, "invalid", "q", "q holds a NUL");
			goto out;
		}
		q.text = json_string_value(v);
	}
	if ((v = json_object_get(doc, "vector")) && !json_is_null(v)) {
		if (!json_is_array(v) || !json_array_size(v) ||
		    json_array_size(v) > 65536) {
			fail(rs, 422, "invalid", "vector",
			     "vector must be an array of 1 to 65536 numbers");
			goto out;
		}
		vec = malloc(json_array_size(v) * sizeof(*vec));
		if (!vec) {
			fail(rs, 500, "internal", NULL, "out of memory");
			goto out;
		}
		json_array_foreach (v, i, x) {
			if (!json_is_number(x)) {
				fail(rs, 422, "invalid", "vector",
				     "vector[%zu] is not a number", i);
				goto out;
			}
			vec[i] = (float)json_number_value(x);
		}
		q.vector = vec;
		q.dim = json_array_size(v);
	}
	if (q.text && !*q.text && q.vector)
		q.text = NULL; /* "q": "" beside a vector: search the vector */
	if (!q.text && !q.vector) {
		fail(rs, 422, "invalid", "q",
		     "give \"q\" (text) or \"vector\"");
		goto out;
	}
	if ((v = json_object_get(doc, "limit"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 100) {
			fail(rs, 422, "invalid", "limit",
			     "limit must be an integer from 1 to 100");
			goto out;
		}
		q.limit = (size_t)json_integer_value(v);
	}
	if ((v = json_object_get(doc, "offset"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > HTTP_MAX_OFFSET) {
			fail(rs, 422, "invalid", "offset",
			     "offset must be an integer from 0 to %d",
			     HTTP_MAX_OFFSET);
			goto out;
		}
		q.offset = (size_t)json_integer_value(v);
	}
	if ((v = json_object_get(doc, "ef_search"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 65535) {
			fail(rs, 422, "invalid", "ef_search",
			     "ef_search must be an integer from 1 to 65535");
			goto out;
		}
		q.ef_search = (int)json_integer_value(v);
	}
	if (!more_from_json(doc, !index, &more, rs)) {
		more_apply(&more, &q);
		do_search(r, s, index, &q, rs);
		more_free(&more);
	}
out:
	free(vec);
}

static void route_search_post(struct osai_router *r, struct osa_db *s,
			      const char *index, const char *body, size_t len,
			      struct osai_http_res *rs)
{
	json_error_t je;
	json_t *doc = json_loadb(body, len, OSAI_JSON_IN, &je);

	if (!doc)
		fail(rs, 400, "bad_json", NULL,
		     "malformed JSON at line %d, column %d (byte %d): %s",
		     je.line, je.column, je.position, je.text);
	else if (!json_is_object(doc))
		fail(rs, 400, "bad_json", NULL, "expected a JSON object");
	else
		search_json(r, s, index, doc, rs);
	json_decref(doc);
}

/* Split a POST /records body into documents: one object, an array of
 * objects, or NDJSON. */
static int split_records(const char *body, size_t len, char ***docs,
			 size_t **lens, size_t *n, struct osai_http_res *rs)
{
	size_t i = 0, cap = 0, m = 0;
	char **d = NULL;
	size_t *l = NULL;

	while (i < len && (body[i] == ' ' || body[i] == '\n' ||
			   body[i] == '\r' || body[i] == '\t'))
		i++;
	if (i == len) {
		fail(rs, 400, "bad_json", NULL, "the body is empty");
		return -1;
	}
	if (body[i] == '[') {
		/* Validated whole, then each item's text as written. */
		json_error_t je;
		json_t *arr = osai_jtext_load(body, len, OSAI_JSON_IN, &je);
		size_t k, pos = 0, b, e;

		if (!arr) {
			fail(rs, 400, "bad_json", NULL,
			     "malformed JSON at line %d, column %d (byte %d): "
			     "%s",
			     je.line, je.column, je.position, je.text);
			return -1;
		}
		m = json_array_size(arr);
		json_decref(arr);
		d = calloc(m + 1, sizeof(*d));
		l = calloc(m + 1, sizeof(*l));
		if (!d || !l) {
			free(d);
			free(l);
			fail(rs, 500, "internal", NULL, "out of memory");
			return -1;
		}
		for (k = 0; k < m && osai_jtext_item(body, len, &pos, &b, &e);
		     k++) {
			d[k] = strndup(body + b, e - b);
			l[k] = e - b;
		}
		for (k = 0; k < m; k++)
			if (!d[k]) {
				while (m)
					free(d[--m]);
				free(d);
				free(l);
				fail(rs, 500, "internal", NULL,
				     "out of memory");
				return -1;
			}
	} else {
		/* NDJSON (a single object is one line of it). */
		const char *p = body, *end = body + len;

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *e = nl ? nl : end;
			size_t ll = (size_t)(e - p);

			while (ll && (p[ll - 1] == '\r' || p[ll - 1] == ' '))
				ll--;
			if (ll) {
				if (m == cap) {
					size_t nc = cap ? cap * 2 : 16;
					char **nd = realloc(d, nc * sizeof(*d));
					size_t *nlp;

					if (nd)
						d = nd;
					nlp = nd ? realloc(l, nc * sizeof(*l))
						 : NULL;
					if (!nd || !nlp) {
						while (m)
							free(d[--m]);
						free(d);
						free(l);
						fail(rs, 500, "internal", NULL,
						     "out of memory");
						return -1;
					}
					l = nlp;
					cap = nc;
				}
				d[m] = malloc(ll + 1);
				if (d[m]) {
					memcpy(d[m], p, ll);
					d[m][ll] = '\0';
				}
				l[m++] = ll;
			}
			p = e + 1;
		}
		/* A pretty-printed single object spans lines: try whole. */
		if (m > 1 && body[i] == '{') {
			json_t *one =
				osai_jtext_load(body, len, OSAI_JSON_IN, NULL);

			if (one && json_is_object(one)) {
				while (m)
					free(d[--m]);
				d[0] = strndup(body + i, len - i);
				l[0] = len - i;
				m = 1;
			}
			json_decref(one);
		}
	}
	*docs = d;
	*lens = l;
	*n = m;
	return 0;
}

/* Ingest n documents (every docs[i] non-NULL, n > 0) and reply. */
static void ingest_docs(struct osa_db *s, char **docs, size_t *lens, size_t n,
			struct osai_http_res *rs)
{
	struct osa_rejects rej = { 0 };
	struct osa_error err;
	uint64_t lsn;
	size_t i;
	int rc;

	rc = osa_ingest(s, (const char *const *)docs, lens, n, &lsn, &rej,
			&err);
	if (rc == OSA_EINVAL && rej.n) {
		json_t *arr = json_array();

		for (i = 0; i < rej.n; i++) {
			json_t *o = json_pack(
				"{s:I, s:s?}", "position",
				(json_int_t)rej.v[i].position, "message",
				rej.v[i].message ? rej.v[i].message
						 : "rejected");

			if (o && rej.v[i].srn)
				json_object_set_new(o, "srn",
						    json_string(rej.v[i].srn));
			json_array_append_new(arr, o);
		}
		reply(rs, 422,
		      json_pack("{s:{s:s, s:s, s:o}}", "error", "code",
				"rejected", "message", err.msg, "rejected",
				arr));
	} else if (rc) {
		fail(rs, service_error_status(rc), service_error_code(rc), NULL,
		     "%s", err.msg);
	} else {
		reply(rs, 200,
		      json_pack("{s:I, s:I}", "accepted", (json_int_t)n, "lsn",
				(json_int_t)lsn));
	}
	osa_rejects_free(&rej);
}

static void free_docs(char **docs, size_t *lens, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(docs[i]);
	free(docs);
	free(lens);
}

static void route_records_post(struct osa_db *s, const char *body, size_t len,
			       struct osai_http_res *rs)
{
	char **docs = NULL;
	size_t *lens = NULL, n = 0, i;

	if (split_records(body, len, &docs, &lens, &n, rs))
		return;
	for (i = 0; i < n; i++)
		if (!docs[i]) {
			fail(rs, 500, "internal", NULL, "out of memory");
			goto out;
		}
	if (!n)
		fail(rs, 400, "bad_json", NULL, "no records in the body");
	else
		ingest_docs(s, docs, lens, n, rs);
out:
	free_docs(docs, lens, n);
}

/* GET (get != 0) or DELETE one record by its srn (decoded, valid). */
static void record_op(struct osa_db *s, int get, const char *srn,
		      struct osai_http_res *rs)
{
	struct osa_error err;
	char *doc;
	size_t deleted = 0;
	int rc;

	if (get) {
		rc = osa_get(s, srn, &doc, &err);
		if (!rc) {
			/* The record as it was written. */
			rs->status = 200;
			rs->body = doc;
		} else {
			fail(rs, service_error_status(rc),
			     service_error_code(rc), NULL, "%s", err.msg);
		}
	} else {
		const char *one = srn;

		rc = osa_delete(s, &one, 1, &deleted, &err);
		if (rc)
			fail(rs, service_error_status(rc),
			     service_error_code(rc), NULL, "%s", err.msg);
		else if (!deleted)
			fail(rs, 404, "not_found", NULL, "no record %s", srn);
		else
			reply(rs, 200,
			      json_pack("{s:s, s:b}", "srn", srn, "deleted",
					1));
	}
}

static void route_record(struct osa_db *s, const char *method, const char *raw,
			 struct osai_http_res *rs)
{
	char *srn = osai_url_decode(raw, strlen(raw), 0);

	if (!srn || !*srn || strlen(srn) > 512)
		fail(rs, 400, "bad_srn", "srn",
		     "the srn in the path is empty, longer than 512 bytes, or "
		     "badly encoded");
	else
		record_op(s, !strcmp(method, "GET"), srn, rs);
	free(srn);
}

static json_t *backends_json(void)
{
	json_t *b = json_array(), *e = json_array();
	size_t i;

	for (i = 0; i < osai_backend_count(); i++)
		json_array_append_new(
			b, json_pack("{s:s, s:s}", "name",
				     osai_backend_at(i)->name, "doc",
				     osai_backend_at(i)->doc
					     ? osai_backend_at(i)->doc
					     : ""));
	for (i = 0; i < osai_embedder_count(); i++)
		json_array_append_new(
			e, json_pack("{s:s, s:s}", "name",
				     osai_embedder_at(i)->name, "doc",
				     osai_embedder_at(i)->doc
					     ? osai_embedder_at(i)->doc
					     : ""));
	return json_pack("{s:o, s:o}", "backends", b, "embedders", e);
}

static void from_service_json(struct osai_http_res *rs, int rc, char *text,
			      int status, struct osa_error *err)
{
	json_t *j;

	if (rc) {
		fail(rs, 500, "internal", NULL, "%s", err->msg);
		return;
	}
	j = json_loads(text, 0, NULL);
	free(text);
	reply(rs, status, j ? j : json_object());
}

static int method_is(const char *m, const char *want)
{
	return !strcmp(m, want);
}

/* GET /health and the nng "health" op.  A SIGHUP that could not apply
 * shows as "reload": {"applied": false, "error"} until one does. */
static void do_health(struct osai_router *r, struct osa_db *s,
		      struct osai_http_res *rs)
{
	struct osa_error err;
	char *text = NULL;
	int healthy = 0, rc;
	json_t *doc, *rl = NULL;

	pthread_mutex_lock(&r->key_lock);
	if (*r->reload_error)
		rl = json_pack("{s:b, s:s?, s:i}", "applied", 0, "error",
			       r->reload_error, "reloads", (int)r->reloads);
	pthread_mutex_unlock(&r->key_lock);
	if (!s) {
		doc = json_pack("{s:s, s:{s:s, s:i, s:i}}", "status", "loading",
				"progress", "index", loading_name(r), "done",
				atomic_load(&r->loading_done), "total",
				atomic_load(&r->loading_total));
		if (doc && rl)
			json_object_set(doc, "reload", rl);
		json_decref(rl);
		reply(rs, 503, doc);
		return;
	}
	rc = osa_health(s, &text, &healthy, &err);
	if (rc) {
		json_decref(rl);
		fail(rs, 500, "internal", NULL, "%s", err.msg);
		return;
	}
	doc = json_loads(text, 0, NULL);
	free(text);
	if (!doc)
		doc = json_object();
	if (doc && rl)
		json_object_set(doc, "reload", rl);
	json_decref(rl);
	reply(rs, healthy && !atomic_load(&r->stopping) ? 200 : 503, doc);
}

/* Routes other than /health and /backends need the indexes open. */
static int ready(struct osai_router *r, struct osa_db *s,
		 struct osai_http_res *rs)
{
	if (!s) {
		fail(rs, 503, "loading", NULL,
		     "indexes are loading (%d of %d records of %s): try again "
		     "shortly; GET /health shows progress",
		     atomic_load(&r->loading_done),
		     atomic_load(&r->loading_total), loading_name(r));
		return 0;
	}
	if (atomic_load(&r->stopping)) {
		fail(rs, 503, "stopping", NULL, "the server is shutting down");
		return 0;
	}
	return 1;
}

static void do_stats(struct osa_db *s, struct osai_http_res *rs)
{
	struct osa_error err;
	char *text = NULL;
	int rc = osa_stats(s, &text, &err);

	from_service_json(rs, rc, text, 200, &err);
}

static void do_indexes(struct osa_db *s, struct osai_http_res *rs)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < osa_index_count(s); i++)
		json_array_append_new(arr, json_string(osa_index_name(s, i)));
	reply(rs, 200, json_pack("{s:o}", "indexes", arr));
}

/* GET /metrics: Prometheus text; while loading, the request and process
 * figures only. */
static void do_metrics(struct osa_db *s, struct osai_http_res *rs)
{
	struct osa_error err = { 0 };
	char *text = NULL;
	size_t len = 0;

	if (osai_metrics_render(s, &text, &len, &err)) {
		fail(rs, 500, "internal", NULL, "metrics: %s", err.msg);
		return;
	}
	rs->status = 200;
	rs->body = text;
	rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- the OSA surface: /api/v1 -------------------------------------------
 *
 * The routes of the Open Science Archive's search API (opensciencearchive/
 * server at 5484889), answered the way its FastAPI server answered them:
 * errors are {"detail": "..."}, parameter errors 422 {"detail": [{"type",
 * "loc", "msg", "input"}]}.  Searches go through search_run() like the
 * native routes.  docs/http-api.md, "Coming from OSA", lists every
 * difference that remains.
 */

static void v1_detail(struct osai_http_res *rs, int status, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

static void v1_detail(struct osai_http_res *rs, int status, const char *fmt,
		      ...)
{
	char msg[1024];
	json_t *d;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d = json_string(msg);
	if (!d)
		d = json_string("(message not valid UTF-8)");
	reply(rs, status, json_pack("{s:o}", "detail", d));
}

/* Append one FastAPI-style validation error about query parameter `name`
 * (input NULL: the parameter is missing). */
static void v1_invalid(json_t *errs, const char *type, const char *name,
		       const char *msg, const char *input, const char *ctx_key,
		       long long ctx_val)
{
	json_t *it = json_pack("{s:s, s:[s,s], s:s}", "type", type, "loc",
			       "query", name, "msg", msg);
	json_t *in = input ? json_string(input) : NULL;

	if (!it) {
		json_decref(in);
		return;
	}
	json_object_set_new(it, "input", in ? in : json_null());
	if (ctx_key)
		json_object_set_new(
			it, "ctx",
			json_pack("{s:I}", ctx_key, (json_int_t)ctx_val));
	json_array_append_new(errs, it);
}

/* An integer query parameter in [lo, hi] as FastAPI reads one (sign and
 * surrounding blanks allowed): its value in *out, or an error in errs. */
static void v1_int_param(json_t *errs, const char *name, const char *v,
			 long long lo, long long hi, long long *out)
{
	const char *p = v;
	long long n = 0;
	size_t digits = 0;
	int neg = 0;
	char msg[96];

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		if (n < 1000000000000LL)
			n = n * 10 + (*p - '0');
	while (*p == ' ' || *p == '\t')
		p++;
	if (!digits || *p) {
		v1_invalid(errs, "int_parsing", name,
			   "Input should be a valid integer, unable to parse "
			   "string as an integer",
			   v, NULL, 0);
		return;
	}
	n = neg ? -n : n;
	if (n < lo) {
		snprintf(msg, sizeof(msg),
			 "Input should be greater than or equal to %lld", lo);
		v1_invalid(errs, "greater_than_equal", name, msg, v, "ge", lo);
	} else if (n > hi) {
		snprintf(msg, sizeof(msg),
			 "Input should be less than or equal to %lld", hi);
		v1_invalid(errs, "less_than_equal", name, msg, v, "le", hi);
	} else {
		*out = n;
	}
}

/* Replace *slot with v (the last of repeated parameters wins, as in
 * Starlette). */
static void v1_take(char **slot, char *v)
{
	free(*slot);
	*slot = v;
}

static void v1_index_not_found(struct osai_http_res *rs, struct osa_db *s,
			       const char *name)
{
	char list[1024] = "";
	size_t i, pos = 0;

	for (i = 0; i < osa_index_count(s) && pos + 70 < sizeof(list); i++)
		pos += (size_t)snprintf(list + pos, sizeof(list) - pos,
					"%s'%s'", i ? ", " : "",
					osa_index_name(s, i));
	v1_detail(rs, 404, "Index '%s' not found. Available: [%s]", name, list);
}

/* GET /api/v1/search/{index}?q=&offset=&limit=&filter:<key>=<value> */
static void v1_search(struct osai_router *r, struct osa_db *s,
		      const char *index, const char *query,
		      struct osai_http_res *rs)
{
	json_t *errs = json_array(), *ferrs = json_array();
	char *q = NULL, *off = NULL, *lim = NULL;
	long long offset = 0, limit = 20;
	struct osa_results *res = NULL;
	struct osa_error err;
	const char *p = query;
	int bad = 0, rc;

	if (!errs || !ferrs) {
		v1_detail(rs, 500, "out of memory");
		goto out;
	}
	while (p && *p && !bad) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t kl = eq ? (size_t)(eq - p) : len;
		char *k = len ? osai_url_decode(p, kl, 1) : NULL;
		char *v = !k   ? NULL
			  : eq ? osai_url_decode(eq + 1, len - kl - 1, 1)
			       : strdup("");

		if (len && (!k || !v)) {
			bad = 1;
		} else if (!len) {
			;
		} else if (!strcmp(k, "q")) {
			v1_take(&q, v), v = NULL;
		} else if (!strcmp(k, "offset")) {
			v1_take(&off, v), v = NULL;
		} else if (!strcmp(k, "limit")) {
			v1_take(&lim, v), v = NULL;
		} else if (!strncmp(k, "filter:", 7)) {
			char msg[512];

			snprintf(msg, sizeof(msg),
				 "filter \"%.400s\" is not supported: this "
				 "server has no attribute filters yet; search "
				 "without it",
				 k + 7);
			v1_invalid(ferrs, "filter_unsupported", k, msg, v, NULL,
				   0);
		}
		free(k);
		free(v);
		p = amp ? amp + 1 : NULL;
	}
	if (bad) {
		v1_detail(rs, 400,
			  "the query string has a bad %%-escape, a NUL byte "
			  "or invalid UTF-8");
		goto out;
	}
	if (!q) {
		v1_invalid(errs, "missing", "q", "Field required", NULL, NULL,
			   0);
	} else if (strlen(q) > r->max_query) {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "String should have at most %zu bytes "
			 "(server.max_query)",
			 r->max_query);
		v1_invalid(errs, "string_too_long", "q", msg, q, "max_length",
			   (long long)r->max_query);
	}
	if (off)
		v1_int_param(errs, "offset", off, 0, HTTP_MAX_OFFSET, &offset);
	if (lim)
		v1_int_param(errs, "limit", lim, 1, 100, &limit);
	json_array_extend(errs, ferrs);
	if (json_array_size(errs)) {
		reply(rs, 422, json_pack("{s:O}", "detail", errs));
		goto out;
	}
	if (!osa_index_count(s)) {
		v1_detail(rs, 503, "No search indexes configured");
		goto out;
	}
	if (!osa_index_exists(s, index)) {
		v1_index_not_found(rs, s, index);
		goto out;
	}
	{
		struct osa_search sq = { .index = index,
					 .text = q,
					 .offset = (size_t)offset,
					 .limit = (size_t)limit };

		rc = search_run(s, &sq, &res, &err);
		if (rc == OSA_ENOFEATURES) {
			/* No searchable word in q: an empty page, as for q=. */
			osa_results_free(res);
			res = NULL;
			rc = 0;
		}
		if (rc == OSA_EINVAL || rc == OSA_ERANGE) {
			json_t *one = json_array();

			v1_invalid(one, "value_error", "q", err.msg, q, NULL,
				   0);
			reply(rs, 422, json_pack("{s:o}", "detail", one));
		} else if (rc) {
			v1_detail(rs, service_error_status(rc), "%s", err.msg);
		} else {
			search_reply(rs, &sq, res);
		}
		osa_results_free(res);
	}
out:
	json_decref(errs);
	json_decref(ferrs);
	free(q);
	free(off);
	free(lim);
}

/* GET /api/v1/records/{srn}: {"record": {"srn", "metadata"}}. */
static void v1_record(struct osa_db *s, const char *raw,
		      struct osai_http_res *rs)
{
	char *srn = osai_url_decode(raw, strlen(raw), 0), *doc = NULL;
	struct osa_error err;
	int rc;

	if (!srn || !*srn || strlen(srn) > 512) {
		v1_detail(rs, 400, "Invalid SRN: the srn in the path is %s",
			  !srn	 ? "badly %-encoded or not UTF-8"
			  : *srn ? "longer than 512 bytes"
				 : "empty");
		free(srn);
		return;
	}
	rc = osa_get(s, srn, &doc, &err);
	if (rc == OSA_ENOTFOUND) {
		v1_detail(rs, 404, "Record not found");
	} else if (rc == OSA_EINVAL) {
		v1_detail(rs, 400, "Invalid SRN: %s", err.msg);
	} else if (rc) {
		v1_detail(rs, service_error_status(rc), "%s", err.msg);
	} else {
		/* {"record":{"srn":...,"metadata":<the record as written>}} */
		struct osai_buf b = { 0 };
		size_t len = strlen(doc), vb, ve;

		osai_buf_puts(&b, "{\"record\":{\"srn\":");
		if (osai_jtext_member(doc, len, "srn", &vb, &ve, NULL, NULL) &&
		    doc[vb] == '"')
			osai_buf_put(&b, doc + vb, ve - vb);
		else
			osai_buf_jstr(&b, srn, strlen(srn));
		osai_buf_puts(&b, ",\"metadata\":");
		osai_buf_put(&b, doc, len);
		osai_buf_puts(&b, "}}");
		reply_buf(rs, 200, &b);
	}
	free(doc);
	free(srn);
}

/* Answer a request under /api/v1; 0 if the path is not there (or the
 * surface is off: server.osa_api = false). */
static int v1_route(struct osai_router *r, struct osa_db *s, const char *m,
		    const char *path, const char *query,
		    struct osai_http_res *rs)
{
	const char *sub = path + 7;
	enum { HEALTH, INDEXES, SEARCH, RECORD } kind;

	if (r->osa_api_off || strncmp(path, "/api/v1", 7) ||
	    (*sub && *sub != '/'))
		return 0;
	if (!strcmp(sub, "/health")) {
		kind = HEALTH;
	} else if (!strcmp(sub, "/search") || !strcmp(sub, "/search/")) {
		kind = INDEXES;
	} else if (!strncmp(sub, "/search/", 8) && !strchr(sub + 8, '/')) {
		kind = SEARCH;
	} else if (!strncmp(sub, "/records/", 9)) {
		kind = RECORD;
	} else {
		v1_detail(rs, 404, "Not Found");
		return 1;
	}
	if (!method_is(m, "GET")) {
		rs->allow = "GET";
		v1_detail(rs, 405, "Method Not Allowed");
		return 1;
	}
	if (kind == HEALTH) {
		/* OSA's /health is a liveness probe: it answers while the
		 * process serves.  Readiness is the native GET /health. */
		reply(rs, 200,
		      json_pack("{s:s, s:s}", "status", "healthy", "version",
				OSA_VERSION_STRING));
		return 1;
	}
	if (!s) {
		v1_detail(rs, 503,
			  "indexes are loading (%d of %d records of %s): try "
			  "again shortly; GET /health shows progress",
			  atomic_load(&r->loading_done),
			  atomic_load(&r->loading_total), r->loading_index);
		return 1;
	}
	if (atomic_load(&r->stopping)) {
		v1_detail(rs, 503, "the server is shutting down");
		return 1;
	}
	if (kind == INDEXES) {
		do_indexes(s, rs);
	} else if (kind == RECORD) {
		v1_record(s, sub + 9, rs);
	} else {
		char *index = osai_url_decode(sub + 8, strlen(sub + 8), 0);

		if (!index)
			v1_detail(rs, 404,
				  "Index not found: its name in the path is "
				  "badly %%-encoded");
		else
			v1_search(r, s, index, query, rs);
		free(index);
	}
	return 1;
}

void osai_http_handle(struct osai_router *r, const struct osai_http_req *rq,
		      struct osai_http_res *rs)
{
	struct osa_db *s = atomic_load(&r->svc);
	const char *m = rq->method ? rq->method : "";
	char path[2048];
	const char *query, *uri = rq->uri ? rq->uri : "/";
	size_t plen;

	memset(rs, 0, sizeof(*rs));
	rs->scratch = rq->scratch;
	query = strchr(uri, '?');
	plen = query ? (size_t)(query - uri) : strlen(uri);
	if (plen >= sizeof(path)) {
		fail(rs, 414, "uri_too_long", NULL,
		     "the path is longer than %zu bytes", sizeof(path) - 1);
		return;
	}
	memcpy(path, uri, plen);
	path[plen] = '\0';
	query = query ? query + 1 : "";
	if (rq->transfer_enc && strcasestr(rq->transfer_enc, "chunked")) {
		fail(rs, 411, "length_required", NULL,
		     "chunked request bodies are not accepted: send "
		     "Content-Length");
		return;
	}
	if (rq->body_len > r->max_body) {
		fail(rs, 413, "too_large", NULL,
		     "the body is %zu bytes; at most %zu (server.max_body)",
		     rq->body_len, r->max_body);
		return;
	}

	if (v1_route(r, s, m, path, query, rs))
		return;
	if (!strcmp(path, "/health")) {
		if (!method_is(m, "GET")) {
			rs->allow = "GET";
			fail(rs, 405, "method_not_allowed", NULL,
			     "%s /health: use GET", m);
		} else {
			do_health(r, s, rs);
		}
		return;
	}
	if (!strcmp(path, "/metrics")) {
		if (!method_is(m, "GET")) {
			rs->allow = "GET";
			fail(rs, 405, "method_not_allowed", NULL,
			     "%s /metrics: use GET", m);
		} else {
			do_metrics(s, rs);
		}
		return;
	}
	if (!strcmp(path, "/backends")) {
		if (!method_is(m, "GET")) {
			rs->allow = "GET";
			fail(rs, 405, "method_not_allowed", NULL,
			     "%s /backends: use GET", m);
		} else {
			reply(rs, 200, backends_json());
		}
		return;
	}
	if (strcmp(path, "/stats") && strcmp(path, "/search") &&
	    strncmp(path, "/search/", 8) && strcmp(path, "/records") &&
	    strncmp(path, "/records/", 9)) {
		fail(rs, 404, "not_found", NULL,
		     "no route %s; see docs/http-api.md", path);
		return;
	}
	if (!ready(r, s, rs))
		return;
	if (!strcmp(path, "/stats")) {
		if (!method_is(m, "GET")) {
			rs->allow = "GET";
			fail(rs, 405, "method_not_allowed", NULL,
			     "%s /stats: use GET", m);
			return;
		}
		do_stats(s, rs);
		return;
	}
	if (!strcmp(path, "/search") || !strcmp(path, "/search/")) {
		int bad = 0;
		char *idx = query_param(query, "indexes", &bad);

		/* with `indexes`: a hybrid search; without: the index list */
		if (method_is(m, "POST")) {
			route_search_post(r, s, NULL, rq->body, rq->body_len,
					  rs);
		} else if (!method_is(m, "GET")) {
			rs->allow = "GET, POST";
			fail(rs, 405, "method_not_allowed", NULL,
			     "%s /search/: use GET or POST", m);
		} else if (idx || bad) {
			route_search_get(r, s, NULL, query, rs);
		} else {
			do_indexes(s, rs);
		}
		free(idx);
		return;
	}
	if (!strncmp(path, "/search/", 8)) {
		char *index = osai_url_decode(path + 8, strlen(path + 8), 0);

		if (!index || strchr(index, '/')) {
			fail(rs, 404, "unknown_index", NULL,
			     "no such index (bad name in the path)");
		} else if (method_is(m, "GET")) {
			route_search_get(r, s, index, query, rs);
		} else if (method_is(m, "POST")) {
			route_search_post(r, s, index, rq->body, rq->body_len,
					  rs);
		} else {
			rs->allow = "GET, POST";
			fail(rs, 405, "method_not_allowed", NULL,
			     "%s /search/{index}: use GET or POST", m);
		}
		free(index);
		return;
	}
	if (!strcmp(path, "/records")) {
		if (!method_is(m, "POST")) {
			rs->allow = "POST";
			fail(rs, 405, "method_not_allowed", NULL,
			     "%s /records: use POST", m);
		} else if (!authorized(r, rq->auth)) {
			fail(rs, 401, "unauthorized", NULL,
			     "writes need the header Authorization: Bearer "
			     "<server.api_key>");
		} else {
			route_records_post(s, rq->body, rq->body_len, rs);
		}
		return;
	}
	/* /records/{srn} */
	if (method_is(m, "GET")) {
		route_record(s, m, path + 9, rs);
	} else if (method_is(m, "DELETE")) {
		if (!authorized(r, rq->auth))
			fail(rs, 401, "unauthorized", NULL,
			     "writes need the header Authorization: Bearer "
			     "<server.api_key>");
		else
			route_record(s, m, path + 9, rs);
	} else {
		rs->allow = "GET, DELETE";
		fail(rs, 405, "method_not_allowed", NULL,
		     "%s /records/{srn}: use GET or DELETE", m);
	}
}

/* ---- the nng REQ/REP protocol ----------------------------------------- */

/* The "records" of an nng ingest (`recs`, parsed from msg[0..len)): an
 * object or an array of objects, each copied as written for osa_ingest.
 * 0, or -1 with the reply filled. */
static int nng_records(const char *msg, size_t len, json_t *recs, char ***docs,
		       size_t **lens, size_t *n, struct osai_http_res *rs)
{
	size_t m = json_is_array(recs) ? json_array_size(recs) : 1, k;
	size_t vb = 0, ve = 0, pos = 0, b = 0, e = 0;

	if (!json_is_array(recs) && !json_is_object(recs)) {
		fail(rs, 422, "invalid", "records",
		     "ingest needs \"records\": an object or an array of "
		     "objects");
		return -1;
	}
	if (!m) {
		fail(rs, 400, "bad_json", "records",
		     "no records in \"records\"");
		return -1;
	}
	if (!osai_jtext_member(msg, len, "records", &vb, &ve, NULL, NULL)) {
		fail(rs, 500, "internal", NULL, "\"records\" not found");
		return -1;
	}
	*docs = calloc(m, sizeof(**docs));
	*lens = calloc(m, sizeof(**lens));
	*n = m;
	for (k = 0; *docs && *lens && k < m; k++) {
		if (json_is_array(recs)) {
			if (!osai_jtext_item(msg + vb, ve - vb, &pos, &b, &e))
				break;
		} else {
			b = 0;
			e = ve - vb;
		}
		(*docs)[k] = strndup(msg + vb + b, e - b);
		if (!(*docs)[k])
			break;
		(*lens)[k] = e - b;
	}
	if (!*docs || !*lens || k < m) {
		fail(rs, 500, "internal", NULL, "out of memory");
		return -1;
	}
	return 0;
}

char *osai_nng_handle(struct osai_router *r, const char *msg, size_t len)
{
	struct osa_db *s = atomic_load(&r->svc);
	struct osai_http_res rs = { 0 };
	json_error_t je;
	json_t *doc = osai_jtext_load(msg, len, OSAI_JSON_IN, &je);
	json_t *key, *ix, *srn;
	const char *op, *given = NULL;
	struct osai_buf out = { 0 };
	size_t blen, vb, ve, end;
	int get;

	if (!doc || !json_is_object(doc) ||
	    !(op = json_string_value(json_object_get(doc, "op")))) {
		fail(&rs, 400, "bad_request", NULL,
		     doc ? "expected {\"op\": ...}" : "malformed JSON: %s",
		     doc ? "" : je.text);
		goto done;
	}
	key = json_object_get(doc, "api_key");
	if (json_is_string(key) &&
	    strlen(json_string_value(key)) == json_string_length(key))
		given = json_string_value(key);
	ix = json_object_get(doc, "index");
	srn = json_object_get(doc, "srn");
	get = !strcmp(op, "get");
	if (!strcmp(op, "health")) {
		do_health(r, s, &rs);
	} else if (!strcmp(op, "backends")) {
		reply(&rs, 200, backends_json());
	} else if (strcmp(op, "search") && strcmp(op, "ingest") && !get &&
		   strcmp(op, "delete") && strcmp(op, "stats") &&
		   strcmp(op, "indexes")) {
		fail(&rs, 400, "bad_request", "op",
		     "unknown op \"%s\"; ops: search, ingest, get, delete, "
		     "stats, health, backends, indexes",
		     op);
	} else if (!strcmp(op, "search") && !json_object_get(doc, "indexes") &&
		   (!json_is_string(ix) || !json_string_length(ix) ||
		    strlen(json_string_value(ix)) != json_string_length(ix))) {
		fail(&rs, 422, "invalid", "index",
		     "search needs \"index\": an index name (or \"indexes\" "
		     "for a hybrid search)");
	} else if (!strcmp(op, "search") && json_object_get(doc, "indexes") &&
		   ix) {
		fail(&rs, 422, "invalid", "index",
		     "give \"index\" or \"indexes\" (hybrid), not both");
	} else if ((get || !strcmp(op, "delete")) &&
		   (!json_is_string(srn) || !json_string_length(srn) ||
		    json_string_length(srn) > 512 ||
		    strlen(json_string_value(srn)) !=
			    json_string_length(srn))) {
		fail(&rs, 422, "invalid", "srn",
		     "%s needs \"srn\": 1 to 512 bytes, no NUL", op);
	} else if (!ready(r, s, &rs)) {
		;
	} else if (!strcmp(op, "stats")) {
		do_stats(s, &rs);
	} else if (!strcmp(op, "indexes")) {
		do_indexes(s, &rs);
	} else if (!strcmp(op, "search")) {
		/* The name is compared as is: no path, no decoding. */
		search_json(r, s, ix ? json_string_value(ix) : NULL, doc, &rs);
	} else if (!strcmp(op, "ingest")) {
		char **docs = NULL;
		size_t *lens = NULL, n = 0;

		if (!key_ok(r, given))
			fail(&rs, 401, "unauthorized", NULL,
			     "writes need \"api_key\": <server.api_key>");
		else if (!nng_records(msg, len, json_object_get(doc, "records"),
				      &docs, &lens, &n, &rs))
			ingest_docs(s, docs, lens, n, &rs);
		free_docs(docs, lens, docs ? n : 0);
	} else if (!get && !key_ok(r, given)) {
		fail(&rs, 401, "unauthorized", NULL,
		     "writes need \"api_key\": <server.api_key>");
	} else {
		record_op(s, get, json_string_value(srn), &rs);
	}
done:
	/* The HTTP body as written, plus "http_status" and "status" (unless
	 * the body has its own) before its closing brace. */
	blen = rs.body ? strlen(rs.body) : 0;
	end = blen;
	while (end && rs.body[end - 1] != '}')
		end--;
	if (!end || rs.body[osai_jtext_ws(rs.body, blen, 0)] != '{') {
		osai_buf_put(&out, "{", 1);
	} else {
		osai_buf_put(&out, rs.body, end - 1);
		if (osai_jtext_ws(rs.body, end - 1,
				  osai_jtext_ws(rs.body, blen, 0) + 1) <
		    end - 1)
			osai_buf_put(&out, ",", 1);
	}
	osai_buf_printf(&out, "\"http_status\":%d", rs.status);
	if (!rs.body ||
	    !osai_jtext_member(rs.body, blen, "status", &vb, &ve, NULL, NULL))
		osai_buf_printf(&out, ",\"status\":%d", rs.status);
	osai_buf_put(&out, "}", 1);
	json_decref(doc);
	if (!rs.borrowed)
		free(rs.body);
	if (out.oom) {
		osai_buf_free(&out);
		return NULL;
	}
	return out.p;
}

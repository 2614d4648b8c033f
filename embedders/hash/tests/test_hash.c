/* SPDX-License-Identifier: MIT */
/*
 * test_hash.c - the `hash` embedder: determinism and a golden vector (a
 * changed hash is caught), unit norm, case, punctuation and Unicode folding,
 * invalid UTF-8, texts without features, similarity ordering, records through
 * fields and templates, describe(), the `embedding` group's checks, and
 * threads sharing one instance.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <osa/embedder.h>
#include <osa/record.h>
#include <osa/schema.h>
#include <xxhash.h>

#include "osa_test.h"

#define DIM 384

struct emb {
	struct osa_embedding_config *cfg;
	struct osa_embedder_inst *e;
};

/* An embedder from the contents of an `embedding` group. */
static void emb_open(struct emb *m, const char *group, int dim)
{
	struct osa_embedder_args args = { .index = "papers", .dim = dim };
	struct osa_error err = { 0 };
	char *report = NULL;
	void *cfg = NULL;

	if (osa_schema_parse(&osa_embedding_schema, group, &cfg, &report,
			     &err)) {
		fprintf(stderr, "config: %s\n", report ? report : err.msg);
		exit(1);
	}
	free(report);
	m->cfg = cfg;
	args.cfg = m->cfg;
	if (osa_embedder_create(&args, &m->e, &err)) {
		fprintf(stderr, "create: %s\n", err.msg);
		exit(1);
	}
	OSA_CHECK_STR(osa_embed_name(m->e), "hash");
}

static void emb_close(struct emb *m)
{
	osa_embedder_destroy(m->e);
	osa_schema_free(&osa_embedding_schema, m->cfg);
}

static int embed(struct emb *m, const char *text, float *out)
{
	struct osa_error err = { 0 };
	int rc = osa_embed_text(m->e, text, strlen(text), out, &err);

	if (rc && rc != OSA_ENOFEATURES)
		fprintf(stderr, "embed \"%s\": %s\n", text, err.msg);
	return rc;
}

static double dot(const float *a, const float *b, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

static double cosine(struct emb *m, const char *a, const char *b)
{
	float va[DIM], vb[DIM];

	OSA_REQUIRE(embed(m, a, va) == 0);
	OSA_REQUIRE(embed(m, b, vb) == 0);
	return dot(va, vb, DIM);
}

/* a and b embed to exactly the same vector. */
static void same(struct emb *m, const char *a, const char *b)
{
	float va[DIM], vb[DIM];

	OSA_REQUIRE(embed(m, a, va) == 0);
	OSA_REQUIRE(embed(m, b, vb) == 0);
	OSA_CHECK_MSG(!memcmp(va, vb, sizeof(va)), "\"%s\" != \"%s\"", a, b);
}

static void test_basics(struct emb *m)
{
	float a[DIM], b[DIM];
	double n2;

	OSA_REQUIRE(embed(m, "Sea ice extent in the Arctic", a) == 0);
	OSA_REQUIRE(embed(m, "Sea ice extent in the Arctic", b) == 0);
	OSA_CHECK(!memcmp(a, b, sizeof(a)));
	n2 = dot(a, a, DIM);
	OSA_CHECK_MSG(fabs(n2 - 1.0) < 1e-5, "norm^2 %.9f", n2);
	OSA_REQUIRE(embed(m, "x", a) == 0);
	OSA_CHECK(fabs(dot(a, a, DIM) - 1.0) < 1e-5);

	/* Case and punctuation do not matter. */
	same(m, "Hello, World!", "hello world");
	same(m, "  hello...world  ", "HELLO WORLD");
	same(m, "state-of-the-art", "state of the art");
	same(m, "tab\tnew\nline\r", "tab new line");
	/* Latin-1, Latin Extended-A, Greek, Cyrillic, fullwidth. */
	same(m, "CAF\xc3\x89", "caf\xc3\xa9");
	same(m, "\xc3\x80\xc3\x9e\xc3\x96", "\xc3\xa0\xc3\xbe\xc3\xb6");
	same(m, "\xc5\x81\xc3\x93\x44\xc5\xb9", "\xc5\x82\xc3\xb3\x64\xc5\xba");
	same(m, "\xce\x91\xce\x98\xce\x97\xce\x9d\xce\x91",
	     "\xce\xb1\xce\xb8\xce\xb7\xce\xbd\xce\xb1");
	same(m, "\xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90",
	     "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0");
	same(m, "\xef\xbc\xa1\xef\xbd\x82\xef\xbc\x91", "ab1");
	/* × and ÷ separate; Latin-1 and General Punctuation separate. */
	same(m,
	     "3\xc3\x97"
	     "4",
	     "3 4");
	same(m,
	     "\xc2\xab"
	     "quoted\xc2\xbb \xe2\x80\x94 dash\xe2\x80\xa6",
	     "quoted dash");
	same(m,
	     "a\xe2\x80\x8b"
	     "b",
	     "a b"); /* zero-width space */
	same(m,
	     "co\xc2\xad"
	     "operation",
	     "cooperation"); /* soft hyphen */
	same(m,
	     "smile\xf0\x9f\x98\x80"
	     "face",
	     "smile face");
	/* Different words differ. */
	OSA_REQUIRE(embed(m, "hello world", a) == 0);
	OSA_REQUIRE(embed(m, "world hello", b) == 0);
	OSA_CHECK(memcmp(a, b, sizeof(a)) != 0); /* pairs keep order */
	OSA_CHECK(dot(a, b, DIM) > 0.8);
	OSA_REQUIRE(embed(m, "cafe", b) == 0);
	OSA_REQUIRE(embed(m, "caf\xc3\xa9", a) == 0);
	OSA_CHECK(memcmp(a, b, sizeof(a)) != 0);
}

/*
 * The vector of a fixed text.  These constants were recorded from this
 * implementation: if they change, the hash changed, every stored vector is
 * stale and HASH_VERSION must be bumped.  The digest (XXH3-64 of one
 * little-endian u16 per non-zero bucket: 2 * bucket + sign) covers which
 * buckets are non-zero and their signs (integers only, so no floating-point
 * rounding can move it); a few values are checked with a tolerance.
 * Recorded for HASH_VERSION 2 (XXH3 feature hashes).
 */
#define GOLDEN_TEXT "The quick brown fox jumps over the lazy dog"
#define GOLDEN_NONZERO 71
#define GOLDEN_DIGEST 0x9aa0d8562ace3503ull

static void test_golden(void)
{
	static const struct {
		int i;
		float v;
	} want[4] = { { 0, 0.075682044f },
		      { 11, -0.262170285f },
		      { 17, 0.0117080566f },
		      { 46, -0.0313485265f } };
	struct emb m;
	float v[DIM];
	unsigned char codes[2 * DIM];
	uint64_t h;
	int i, nz = 0;

	emb_open(&m, "embedder = \"hash\";", DIM);
	OSA_REQUIRE(embed(&m, GOLDEN_TEXT, v) == 0);
	for (i = 0; i < DIM; i++) {
		unsigned code = (unsigned)(i * 2 + (v[i] < 0));

		if (v[i] == 0)
			continue;
		codes[2 * nz] = (unsigned char)code;
		codes[2 * nz + 1] = (unsigned char)(code >> 8);
		nz++;
	}
	h = XXH3_64bits(codes, 2 * (size_t)nz);
	OSA_CHECK_MSG(nz == GOLDEN_NONZERO && h == GOLDEN_DIGEST,
		      "%d non-zero, digest 0x%016llx", nz,
		      (unsigned long long)h);
	for (i = 0; i < 4; i++)
		OSA_CHECK_MSG(fabsf(v[want[i].i] - want[i].v) < 1e-5f,
			      "v[%d] = %.9g, want %.9g", want[i].i,
			      v[want[i].i], want[i].v);
	emb_close(&m);
}

static void test_invalid_utf8(struct emb *m)
{
	static const char *const bad[] = {
		/* "\x80" "e": split so the 'e' is not read as a hex digit. */
		("\xff\xfe abc \xc3\x28 d\xed\xa0\x80"
		 "e"),
		"\xc0\xaf overlong \xe0\x80\xaf",
		"beyond \xf4\x90\x80\x80 max",
		"cut at the end \xe2\x82",
		"\x80\x80\x80 lone continuation bytes",
		"\xf0\x9f\x98",
	};
	float v[DIM];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]) - 1; i++) {
		OSA_CHECK_MSG(embed(m, bad[i], v) == 0, "case %zu", i);
		OSA_CHECK(fabs(dot(v, v, DIM) - 1.0) < 1e-5);
	}
	OSA_CHECK(embed(m, bad[i], v) == OSA_ENOFEATURES);
	/* A bad byte separates like a space. */
	same(m,
	     "abc\xff"
	     "def",
	     "abc def");
	same(m,
	     "abc\xed\xa0\x80"
	     "def",
	     "abc def");
	/* A NUL inside the given length is a separator too. */
	{
		struct osa_error err = { 0 };
		float w[DIM];

		OSA_REQUIRE(osa_embed_text(m->e, "abc\0def", 7, v, &err) == 0);
		OSA_REQUIRE(embed(m, "abc def", w) == 0);
		OSA_CHECK(!memcmp(v, w, sizeof(v)));
	}
}

static void test_no_features(struct emb *m)
{
	static const char *const none[] = {
		"",
		" ",
		"...!?",
		"\t\n",
		"\xe2\x80\x94\xe2\x80\x9c\xe2\x80\x9d", /* dash, quotes */
		"\xc2\xa9\xc2\xae",			/* (c) (r) */
		"\xf0\x9f\x98\x80\xf0\x9f\x8e\x89",	/* emoji */
		"\xff\xff",
	};
	struct osa_error err = { 0 };
	float v[DIM];
	size_t i;

	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		OSA_CHECK_MSG(osa_embed_text(m->e, none[i], strlen(none[i]), v,
					     &err) == OSA_ENOFEATURES,
			      "case %zu", i);
		OSA_CHECK_CONTAINS(err.msg, "query has no words to search for");
	}
	OSA_CHECK_STR(err.index, "papers");
	/* Stop words alone still give features. */
	OSA_CHECK(embed(m, "to be or not to be", v) == 0);
}

static void test_similarity(struct emb *m)
{
	double near, far;

	near = cosine(m, "sea ice extent in the arctic ocean",
		      "arctic sea ice decline");
	far = cosine(m, "sea ice extent in the arctic ocean",
		     "protein folding with deep learning");
	OSA_CHECK_MSG(near > far + 0.2, "near %.3f far %.3f", near, far);
	/* Word parts: volcano / volcanic share n-grams. */
	near = cosine(m, "volcano", "volcanic");
	far = cosine(m, "volcano", "glacier");
	OSA_CHECK_MSG(near > 0.2 && near > far + 0.2, "near %.3f far %.3f",
		      near, far);
	/* Stop words weigh little. */
	near = cosine(m, "the sea", "sea");
	OSA_CHECK_MSG(near > 0.95, "the sea / sea %.3f", near);
	near = cosine(m, "sea of ice", "sea ice");
	far = cosine(m, "sea ice", "ice sea");
	OSA_CHECK_MSG(near > far, "pairs skip stop words: %.3f %.3f", near,
		      far);
	/* Long words and long texts. */
	{
		size_t n = 1 << 20, i;
		char *big = malloc(n + 1);
		float v[DIM];

		OSA_REQUIRE(big);
		for (i = 0; i < n; i++)
			big[i] = (char)('a' + (i * 7 + i / 300) % 26);
		big[n] = '\0';
		OSA_CHECK(embed(m, big, v) == 0); /* one 1 MiB word */
		for (i = 0; i < n; i += 9)
			big[i] = ' ';
		OSA_CHECK(embed(m, big, v) == 0);
		OSA_CHECK(fabs(dot(v, v, DIM) - 1.0) < 1e-4);
		free(big);
	}
}

static struct osa_record *rec_of(const char *json)
{
	struct osa_record *rec = NULL;
	struct osa_error err = { 0 };

	if (osa_record_parse(json, strlen(json), NULL, &rec, &err)) {
		fprintf(stderr, "record: %s\n", err.msg);
		exit(1);
	}
	return rec;
}

static void test_records(void)
{
	struct emb fields, tmpl, one;
	struct osa_record *rec, *empty;
	struct osa_error err = { 0 };
	float a[DIM], b[DIM];
	char *text = NULL, d1[128], d2[128], d3[128];
	size_t len;

	emb_open(&fields, "embedder = \"hash\";", DIM);
	emb_open(&tmpl, "template = \"{title} ({year}): {summary}\";", DIM);
	emb_open(&one,
		 "fields = [\"title\", \"year\", \"missing\", "
		 "\"empty\", \"flag\"];",
		 DIM);
	rec = rec_of("{\"srn\":\"urn:osa:a.org:rec:r1\",\"title\":\"Sea ice\","
		     "\"summary\":\"Less of it each year.\",\"year\":2021,"
		     "\"empty\":\"\",\"flag\":true}");
	empty = rec_of("{\"srn\":\"urn:osa:a.org:rec:r2\",\"title\":\"...\","
		       "\"other\":\"words here\"}");

	/* The text of a record. */
	OSA_REQUIRE(osa_embedding_text(fields.cfg, rec, &text, &len, &err) ==
		    0);
	OSA_CHECK_STR(text, "Sea ice. Less of it each year.");
	OSA_CHECK(len == strlen(text));
	free(text);
	OSA_REQUIRE(osa_embedding_text(tmpl.cfg, rec, &text, &len, &err) == 0);
	OSA_CHECK_STR(text, "Sea ice (2021): Less of it each year.");
	free(text);
	OSA_REQUIRE(osa_embedding_text(one.cfg, rec, &text, &len, &err) == 0);
	OSA_CHECK_STR(text, "Sea ice. 2021"); /* numbers too, not booleans */
	free(text);
	OSA_REQUIRE(osa_embedding_text(one.cfg, empty, &text, &len, &err) == 0);
	OSA_CHECK_STR(text, "...");
	free(text);

	/* A record embeds like its text. */
	OSA_REQUIRE(osa_embed_record(fields.e, rec, a, &err) == 0);
	OSA_REQUIRE(embed(&fields, "Sea ice. Less of it each year.", b) == 0);
	OSA_CHECK(!memcmp(a, b, sizeof(a)));
	OSA_REQUIRE(osa_embed_record(tmpl.e, rec, a, &err) == 0);
	OSA_REQUIRE(embed(&tmpl, "sea ice 2021 less of it each year", b) == 0);
	OSA_CHECK(!memcmp(a, b, sizeof(a)));

	/* No words: OSA_ENOFEATURES naming the srn and the source. */
	OSA_CHECK(osa_embed_record(fields.e, empty, a, &err) ==
		  OSA_ENOFEATURES);
	OSA_CHECK_CONTAINS(err.msg, "record urn:osa:a.org:rec:r2");
	OSA_CHECK_CONTAINS(err.msg, "fields title, summary");
	OSA_CHECK(osa_embed_record(tmpl.e, empty, a, &err) == OSA_ENOFEATURES);
	OSA_CHECK_CONTAINS(err.msg, "its template \"{title} ({year})");

	/* describe() names every parameter, and the text source. */
	osa_embed_describe(fields.e, d1, sizeof(d1));
	osa_embed_describe(tmpl.e, d2, sizeof(d2));
	osa_embed_describe(one.e, d3, sizeof(d3));
	OSA_CHECK_CONTAINS(d1, "hash v2 xxh3");
	OSA_CHECK_CONTAINS(d1, "seed=0x");
	OSA_CHECK_CONTAINS(d1, "chars=3-5");
	OSA_CHECK_CONTAINS(d1, "dim=384");
	OSA_CHECK(strlen(d1) < 127);
	OSA_CHECK(strcmp(d1, d2) && strcmp(d1, d3) && strcmp(d2, d3));
	{
		struct emb small;
		char d4[128], tiny[12];

		emb_open(&small, "embedder = \"hash\";", 16);
		osa_embed_describe(small.e, d4, sizeof(d4));
		OSA_CHECK_CONTAINS(d4, "dim=16");
		osa_embed_describe(small.e, tiny, sizeof(tiny));
		OSA_CHECK_STR(tiny, "hash v2 xxh");
		emb_close(&small);
	}
	osa_record_free(rec);
	osa_record_free(empty);
	emb_close(&fields);
	emb_close(&tmpl);
	emb_close(&one);
}

/* The `embedding` group: defaults and checks. */
static void config_bad(const char *group, const char *n1, const char *n2)
{
	struct osa_error err = { 0 };
	char *report = NULL;
	void *cfg = NULL;

	OSA_CHECK_MSG(osa_schema_parse(&osa_embedding_schema, group, &cfg,
				       &report, &err) == OSA_ECONFIG,
		      "%s accepted", group);
	OSA_CHECK_CONTAINS(report, n1);
	if (n2)
		OSA_CHECK_CONTAINS(report, n2);
	free(report);
	osa_schema_free(&osa_embedding_schema, cfg);
}

static void test_config(void)
{
	struct osa_embedding_config *c = NULL;
	struct osa_error err = { 0 };
	char *report = NULL, big[1200];
	void *cfg = NULL;
	int i, n;

	OSA_REQUIRE(osa_schema_parse(&osa_embedding_schema, "", &cfg, &report,
				     &err) == 0);
	c = cfg;
	OSA_CHECK_STR(c->embedder, "hash");
	OSA_CHECK(c->fields.n == 2);
	OSA_CHECK_STR(c->fields.v[0], "title");
	OSA_CHECK_STR(c->fields.v[1], "summary");
	OSA_CHECK(c->template_ == NULL);
	OSA_CHECK_STR(c->vector_field, "embedding");
	osa_schema_free(&osa_embedding_schema, cfg);

	config_bad("embedder = \"nope\";",
		   "embedder: unknown embedder \"nope\"", "available: ");
	config_bad("embedder = \"nope\";", "hash", NULL);
	config_bad("embedder = \"hsah\";", "did you mean \"hash\"", NULL);
	config_bad("template = \"{title\";", "template: the '{' at byte 0",
		   NULL);
	config_bad("template = \"a } b\";", "template: a single '}'", NULL);
	config_bad("template = \"{}\";", "empty placeholder", NULL);
	config_bad("fields = [\"title\", \"\"];", "fields: element 1 is empty",
		   NULL);
	config_bad("vector_field = \"\";", "vector_field", NULL);
	n = snprintf(big, sizeof(big), "fields = [");
	for (i = 0; i < 65; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "%s\"f%d\"",
			      i ? ", " : "", i);
	snprintf(big + n, sizeof(big) - (size_t)n, "];");
	config_bad(big, "fields", NULL);
	OSA_CHECK(osa_schema_parse(&osa_embedding_schema,
				   "template = \"{{x}} {title}\"; fields = [];",
				   &cfg, &report, &err) == 0);
	osa_schema_free(&osa_embedding_schema, cfg);

	/* create() refuses what the schema would have refused. */
	{
		struct osa_embedding_config ec = { .embedder = (char *)"nope" };
		struct osa_embedder_args args = { "papers", DIM, &ec };
		struct osa_embedder_inst *e = (void *)&ec;

		OSA_CHECK(osa_embedder_create(&args, &e, &err) ==
			  OSA_ENOTFOUND);
		OSA_CHECK(e == NULL);
		OSA_CHECK_CONTAINS(err.msg, "unknown embedder \"nope\"");
		ec.embedder = (char *)"hash";
		args.dim = 0;
		OSA_CHECK(osa_embedder_create(&args, &e, &err) == OSA_EINVAL);
		OSA_CHECK_CONTAINS(err.msg, "dim");
	}
	osa_embedder_destroy(NULL);
}

/* Threads share one instance and get what one thread gets. */
#define NTEXTS 64
#define NTHREADS 4

struct job {
	struct emb *m;
	float (*out)[DIM];
	int rounds;
	int rc;
};

static void text_of(int i, char *buf, size_t n)
{
	static const char *const w[] = { "glacier", "River", "volcanic",
					 "Ash",	    "ice",   "sheet",
					 "ocean",   "heat",  "caf\xc3\xa9" };

	snprintf(buf, n, "%s %s, %s-%s %d", w[i % 9], w[(i * 5 + 1) % 9],
		 w[(i * 7 + 2) % 9], w[(i / 3) % 9], i);
}

static void *job_run(void *arg)
{
	struct job *j = arg;
	char text[128];
	int r, i;

	for (r = 0; r < j->rounds; r++)
		for (i = 0; i < NTEXTS; i++) {
			text_of(i, text, sizeof(text));
			if (embed(j->m, text, j->out[i]))
				j->rc = 1;
		}
	return NULL;
}

static void test_threads(struct emb *m)
{
	static float ref[NTEXTS][DIM], got[NTHREADS][NTEXTS][DIM];
	struct job jobs[NTHREADS];
	pthread_t t[NTHREADS];
	char text[128];
	int i, k;

	for (i = 0; i < NTEXTS; i++) {
		text_of(i, text, sizeof(text));
		OSA_REQUIRE(embed(m, text, ref[i]) == 0);
	}
	for (k = 0; k < NTHREADS; k++) {
		jobs[k] = (struct job){ m, got[k], 50, 0 };
		OSA_REQUIRE(pthread_create(&t[k], NULL, job_run, &jobs[k]) ==
			    0);
	}
	for (k = 0; k < NTHREADS; k++) {
		pthread_join(t[k], NULL);
		OSA_CHECK(jobs[k].rc == 0);
		OSA_CHECK(!memcmp(got[k], ref, sizeof(ref)));
	}
}

int main(void)
{
	struct emb m;

	emb_open(&m, "embedder = \"hash\";", DIM);
	test_basics(&m);
	test_golden();
	test_invalid_utf8(&m);
	test_no_features(&m);
	test_similarity(&m);
	test_records();
	test_config();
	test_threads(&m);
	emb_close(&m);
	OSA_TEST_END();
}

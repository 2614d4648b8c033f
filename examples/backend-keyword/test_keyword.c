/* SPDX-License-Identifier: MIT */
/*
 * test_keyword.c - the keyword backend through the backend contract: its
 * config rules, any/all matching, both scores, ties, upsert, delete, the
 * errors it returns, checkpoint and reopen, a snapshot of other fields.
 * (The conformance suite, osa_add_backend_conformance_test, covers the
 * rules every backend shares.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <osa/backend.h>

static int failures;
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,     \
				#c);                                           \
			failures++;                                            \
		}                                                              \
	} while (0)

static const struct osa_backend *b;
static char dir[64];

struct ix {
	void *cfg, *self;
	uint64_t lsn;
};

static int ix_open(struct ix *ix, const char *config, struct osa_error *err)
{
	struct osa_backend_args args = { .index = "t", .dir = dir };
	int rc = osa_schema_parse(b->schema, config, &ix->cfg, NULL, err);

	if (rc)
		return rc;
	args.config = ix->cfg;
	rc = b->open(&args, &ix->self, &ix->lsn, err);
	if (rc)
		osa_schema_free(b->schema, ix->cfg);
	return rc;
}

static void ix_close(struct ix *ix)
{
	b->close(ix->self);
	osa_schema_free(b->schema, ix->cfg);
}

static int ingest(struct ix *ix, const char *const *docs, int n,
		  struct osa_error *err)
{
	struct osa_record *recs[8];
	int i, rc;

	for (i = 0; i < n; i++)
		if (osa_record_parse(docs[i], strlen(docs[i]), NULL, &recs[i],
				     err))
			return -1;
	rc = b->ingest_batch(ix->self, (const struct osa_record *const *)recs,
			     (size_t)n, err);
	for (i = 0; i < n; i++)
		osa_record_free(recs[i]);
	return rc;
}

/* The hits of `text` as "srn:score srn:score ...". */
static const char *query(struct ix *ix, const char *text, size_t offset,
			 int *rc)
{
	static char out[512];
	struct osa_query q = { .text = text, .limit = 10, .offset = offset };
	struct osa_hits hits = { 0 };
	struct osa_error err;
	size_t i, n = 0;

	out[0] = '\0';
	*rc = b->query(ix->self, &q, &hits, &err);
	for (i = 0; i < hits.n; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s:%g",
				      i ? " " : "", hits.v[i].srn,
				      hits.v[i].score);
	osa_hits_free(&hits);
	return out;
}

static const char *const docs[] = {
	"{\"srn\":\"a1\",\"title\":\"Deep sea vents\",\"summary\":\"VENTS\"}",
	"{\"srn\":\"b2\",\"title\":\"Sea ice decline\",\"summary\":\"arctic\"}",
	"{\"srn\":\"c3\",\"title\":\"Desert soils\",\"summary\":null}",
	"{\"srn\":\"b1\",\"title\":\"sea-ice\"}",
};

static void test_config(void)
{
	struct osa_error err;
	char *report = NULL;
	void *cfg;

	CHECK(osa_schema_parse(b->schema, "min_terms = 5; max_query_terms = 4;",
			       &cfg, &report, &err) == OSA_ECONFIG);
	CHECK(report && strstr(report, "min_terms: min_terms (5) is more "
				       "than max_query_terms (4)"));
	free(report);
	report = NULL;
	CHECK(osa_schema_parse(b->schema, "fields = [];", &cfg, &report,
			       &err) == OSA_ECONFIG);
	CHECK(report && strstr(report, "fields"));
	free(report);
	report = NULL;
	CHECK(osa_schema_parse(b->schema, "score = \"bm25\";", &cfg, &report,
			       &err) == OSA_ECONFIG);
	CHECK(report && strstr(report, "\"terms\", \"tf\""));
	free(report);
}

static void test_search(void)
{
	const char *gone[] = { "a1", "nope" };
	const char *upd = "{\"srn\":\"c3\",\"title\":\"deep desert\"}";
	struct ix ix;
	struct osa_error err;
	uint64_t n;
	int rc;

	CHECK(ix_open(&ix, "", &err) == 0 && ix.lsn == 0);
	CHECK(ingest(&ix, docs, 4, &err) == 0);
	CHECK(b->count(ix.self, &n) == 0 && n == 4);
	/* any: ranked by distinct terms, ties by srn. */
	CHECK(!strcmp(query(&ix, "sea vents", 0, &rc), "a1:2 b1:1 b2:1"));
	CHECK(rc == 0);
	CHECK(!strcmp(query(&ix, "SEA vents", 1, &rc), "b1:1 b2:1"));
	CHECK(!strcmp(query(&ix, "tundra", 0, &rc), "") && rc == 0);
	ix_close(&ix);
	/* all, scored by counts: "vents" twice in a1, "sea" once. */
	CHECK(ix_open(&ix, "match = \"all\"; score = \"tf\";", &err) == 0);
	CHECK(ingest(&ix, docs, 4, &err) == 0);
	CHECK(!strcmp(query(&ix, "sea vents", 0, &rc), "a1:3"));
	CHECK(!strcmp(query(&ix, "ice sea", 0, &rc), "b1:2 b2:2"));
	/* min_terms is for "any" only. */
	ix_close(&ix);
	CHECK(ix_open(&ix, "min_terms = 2;", &err) == 0);
	CHECK(ingest(&ix, docs, 4, &err) == 0);
	CHECK(!strcmp(query(&ix, "sea ice vents", 0, &rc), "a1:2 b1:2 b2:2"));
	/* Upsert, delete (unknown srns are fine). */
	CHECK(ingest(&ix, &upd, 1, &err) == 0);
	CHECK(!strcmp(query(&ix, "desert soils", 0, &rc), ""));
	CHECK(!strcmp(query(&ix, "deep desert", 0, &rc), "c3:2"));
	CHECK(b->remove(ix.self, gone, 2, &err) == 0);
	CHECK(b->count(ix.self, &n) == 0 && n == 3);
	CHECK(!strcmp(query(&ix, "vents", 0, &rc), ""));
	/* Errors: a vector query, no words, too many terms, a number. */
	{
		float v[2] = { 1, 2 };
		struct osa_query q = { .vector = v, .dim = 2, .limit = 5 };
		struct osa_hits hits = { 0 };
		const char *bad = "{\"srn\":\"x\",\"title\":42}";

		CHECK(b->query(ix.self, &q, &hits, &err) == OSA_ENOTSUP);
		CHECK(strstr(err.msg, "backend \"keyword\" answers text"));
		query(&ix, " ,;! ", 0, &rc);
		CHECK(rc == OSA_ENOFEATURES);
		query(&ix,
		      "a b c d e f g h i j k l m n o p q r s t u v w x y z "
		      "aa bb cc dd ee ff gg",
		      0, &rc);
		CHECK(rc == OSA_EINVAL);
		CHECK(ingest(&ix, &bad, 1, &err) == OSA_ETYPE);
		CHECK(strstr(err.msg, "record x: field \"title\""));
	}
	CHECK(b->health(ix.self, &err) == 0);
	/* Checkpoint, reopen: the same answers at the checkpoint's LSN. */
	CHECK(b->checkpoint(ix.self, 77, &err) == 0);
	ix_close(&ix);
	CHECK(ix_open(&ix, "min_terms = 2;", &err) == 0 && ix.lsn == 77);
	CHECK(b->count(ix.self, &n) == 0 && n == 3);
	CHECK(!strcmp(query(&ix, "sea ice", 0, &rc), "b1:2 b2:2"));
	CHECK(!strcmp(query(&ix, "deep desert", 0, &rc), "c3:2"));
	ix_close(&ix);
	/* A snapshot of other fields is refused, naming the file. */
	CHECK(ix_open(&ix, "fields = [\"title\"];", &err) == OSA_ECORRUPT);
	CHECK(strstr(err.msg, "keyword.snap") &&
	      strstr(err.msg, "\"fields=title,summary\""));
	/* A failed checkpoint (its folder gone) shows in health until the
	 * next one succeeds. */
	{
		char away[80];

		snprintf(away, sizeof(away), "%s.away", dir);
		CHECK(ix_open(&ix, "", &err) == 0);
		CHECK(rename(dir, away) == 0);
		CHECK(b->checkpoint(ix.self, 78, &err) == OSA_EIO);
		CHECK(b->health(ix.self, &err) == OSA_EIO);
		CHECK(strstr(err.msg, "checkpoint failed"));
		CHECK(rename(away, dir) == 0);
		CHECK(b->checkpoint(ix.self, 79, &err) == 0);
		CHECK(b->health(ix.self, &err) == 0);
		ix_close(&ix);
	}
}

int main(void)
{
	char cmd[96];

	b = osa_backend_find("keyword");
	CHECK(b != NULL);
	if (!b)
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/osa-keyword-test-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	test_config();
	test_search();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		failures++;
	return failures ? 1 : 0;
}

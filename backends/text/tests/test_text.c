/* SPDX-License-Identifier: MIT */
/*
 * test_text.c - the text backend's search: BM25 scores against a
 * hand-computed example, ties, phrases, prefixes, required and excluded
 * words, upserts and deletes seen by queries, paging, errors (invalid
 * UTF-8, vector queries, nothing to search), and the pruned OR path against
 * the exhaustive path on a random corpus.
 */
#include "text_test.h"

static void test_bm25(void)
{
	struct bt_index ix;
	struct osa_error err = { 0 };
	struct osa_hits h;
	char dir[64];

	bt_tmpdir(dir);
	OSA_REQUIRE(bt_open(&ix, "text",
			    "fields = [\"title\"]; language = \"none\"; "
			    "stopwords = [\"none\"];",
			    dir, &err) == 0);
	tt_put(&ix, "d1", "apple banana", NULL);
	tt_put(&ix, "d2", "apple apple cherry", NULL);
	tt_put(&ix, "d3", "cherry date fig grape", NULL);
	/*
	 * By hand, k1 = 1.2, b = 0.75, N = 3, avgdl = (2 + 3 + 4) / 3 = 3.
	 * apple: df 2, idf = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln 1.6
	 *        = 0.4700036292.
	 * d2: tf 2, dl 3: K = 1.2 * (0.25 + 0.75 * 3/3) = 1.2;
	 *     2 * 2.2 / (2 + 1.2) = 1.375; score 0.6462549902.
	 * d1: tf 1, dl 2: K = 1.2 * (0.25 + 0.5) = 0.9;
	 *     2.2 / 1.9 = 1.1578947368; score 0.5442147286.
	 */
	OSA_REQUIRE(tt_q(&ix, "apple", 10, 0, &h, &err) == 0);
	OSA_CHECK(h.n == 2 && h.total == 2);
	if (h.n == 2) {
		OSA_CHECK_STR(h.v[0].srn, "d2");
		OSA_CHECK(fabs(h.v[0].score - 0.6462549902) < 1e-9);
		OSA_CHECK_STR(h.v[1].srn, "d1");
		OSA_CHECK(fabs(h.v[1].score - 0.5442147286) < 1e-9);
	}
	osa_hits_free(&h);
	/*
	 * apple cherry: cherry also has df 2 (idf ln 1.6).
	 * d2: 0.6462549902 + cherry tf 1, dl 3: 2.2 / 2.2 = 1 -> 0.4700036293;
	 *     1.1162586195.
	 * d1: 0.5442147286.
	 * d3: cherry tf 1, dl 4: K = 1.2 * (0.25 + 1) = 1.5; 2.2 / 2.5 = 0.88
	 *     -> 0.4136031938.
	 */
	OSA_REQUIRE(tt_q(&ix, "apple cherry", 10, 0, &h, &err) == 0);
	OSA_CHECK(h.n == 3 && h.total == 3);
	if (h.n == 3) {
		OSA_CHECK_STR(h.v[0].srn, "d2");
		OSA_CHECK(fabs(h.v[0].score - 1.1162586195) < 1e-9);
		OSA_CHECK_STR(h.v[1].srn, "d1");
		OSA_CHECK(fabs(h.v[1].score - 0.5442147286) < 1e-9);
		OSA_CHECK_STR(h.v[2].srn, "d3");
		OSA_CHECK(fabs(h.v[2].score - 0.4136031938) < 1e-9);
	}
	osa_hits_free(&h);
	/* Paging is a window on the same order. */
	OSA_REQUIRE(tt_q(&ix, "apple cherry", 1, 1, &h, &err) == 0);
	OSA_CHECK(h.n == 1 && h.total == 3);
	if (h.n == 1)
		OSA_CHECK_STR(h.v[0].srn, "d1");
	osa_hits_free(&h);
	/* Ties are ordered by srn. */
	tt_put(&ix, "tie-b", "zebra", NULL);
	tt_put(&ix, "tie-a", "zebra", NULL);
	tt_put(&ix, "tie-c", "zebra", NULL);
	OSA_CHECK_STR(tt_srns(&ix, "zebra"), "tie-a tie-b tie-c | 3");
	bt_close(&ix);
	bt_rmdir(dir);
}

static void test_operators(void)
{
	struct bt_index ix;
	struct osa_error err = { 0 };
	char dir[64];

	bt_tmpdir(dir);
	OSA_REQUIRE(bt_open(&ix, "text", "stopwords = [\"default\"];", dir,
			    &err) == 0);
	tt_put(&ix, "a", "New York City", "a big city by the sea");
	tt_put(&ix, "b", "York, a new city", "old town by a river");
	tt_put(&ix, "c", "Ship of the line", "computers compile programs");
	tt_put(&ix, "d", "Ship and line", "accomplish nothing");
	tt_put(&ix, "e", "Computing", "the sea ice is melting");
	/* Phrases keep order; stopwords keep their place. */
	OSA_CHECK_STR(tt_srns(&ix, "\"new york\""), "a | 1");
	OSA_CHECK_STR(tt_srns(&ix, "\"york new\""), "| 0");
	OSA_CHECK_STR(tt_srns(&ix, "\"ship of the line\""), "c | 1");
	OSA_CHECK_STR(tt_srns(&ix, "\"ship or line\""), "d | 1");
	OSA_CHECK_STR(tt_srns(&ix, "\"ship line\""), "| 0");
	/* A phrase does not run from one field into the next. */
	OSA_CHECK_STR(tt_srns(&ix, "\"city big\""), "| 0");
	/* Prefixes: unstemmed, on word starts only. */
	OSA_CHECK_STR(tt_srns(&ix, "comp*"), "c e | 2");
	OSA_CHECK_STR(tt_srns(&ix, "zzz*"), "| 0");
	/* Required and excluded. */
	OSA_CHECK_STR(tt_srns(&ix, "+city"), "a b | 2");
	OSA_CHECK_STR(tt_srns(&ix, "+sea city"), "a e | 2");
	OSA_CHECK_STR(tt_srns(&ix, "city -river"), "a | 1");
	OSA_CHECK_STR(tt_srns(&ix, "city -\"old town\""), "a | 1");
	OSA_CHECK_STR(tt_srns(&ix, "+ship +accomplish"), "d | 1");
	OSA_CHECK_STR(tt_srns(&ix, "+ship +nothingatall"), "| 0");
	OSA_CHECK_STR(tt_srns(&ix, "+\"new york\" sea"), "a | 1");
	/* Stemming at both ends; case and accents folded. */
	OSA_CHECK_STR(tt_srns(&ix, "MELTS"), "e | 1");
	OSA_CHECK_STR(tt_srns(&ix, "cities"), "a b | 2");
	bt_close(&ix);
	bt_rmdir(dir);
}

static void test_errors(void)
{
	struct bt_index ix;
	struct osa_error err = { 0 };
	struct osa_hits h;
	struct osa_query q = { .limit = 10 };
	float v[4] = { 1, 0, 0, 0 };
	char dir[64];

	bt_tmpdir(dir);
	OSA_REQUIRE(bt_open(&ix, "text", "stopwords = [\"default\"];", dir,
			    &err) == 0);
	tt_put(&ix, "a", "sea ice", NULL);
	OSA_CHECK(tt_q(&ix, "sea \xff", 10, 0, &h, &err) == OSA_EINVAL);
	OSA_CHECK_CONTAINS(err.msg, "invalid UTF-8");
	OSA_CHECK(tt_q(&ix, "the of and", 10, 0, &h, &err) == OSA_ENOFEATURES);
	OSA_CHECK_CONTAINS(err.msg, "no word to search");
	OSA_CHECK(tt_q(&ix, "-sea", 10, 0, &h, &err) == OSA_ENOFEATURES);
	q.vector = v;
	q.dim = 4;
	memset(&h, 0, sizeof(h));
	OSA_CHECK(ix.b->query(ix.self, &q, &h, &err) == OSA_ENOTSUP);
	OSA_CHECK_CONTAINS(err.msg, "backend \"text\" cannot answer a vector "
				    "query");
	/* Records with invalid UTF-8 never get past the JSON parser; a
	 * non-string field is skipped. */
	{
		struct osa_record *rec = NULL;
		const char *j =
			"{\"srn\":\"n\",\"title\":42,\"summary\":\"ok\"}";

		OSA_REQUIRE(osa_record_parse(j, strlen(j), NULL, &rec, &err) ==
			    0);
		OSA_CHECK(bt_ingest1(&ix, rec, &err) == 0);
		OSA_CHECK_STR(tt_srns(&ix, "ok"), "n | 1");
	}
	bt_close(&ix);
	bt_rmdir(dir);
}

static void test_upsert_delete(void)
{
	struct bt_index ix;
	struct osa_error err = { 0 };
	char dir[64];

	bt_tmpdir(dir);
	OSA_REQUIRE(bt_open(&ix, "text", "", dir, &err) == 0);
	tt_put(&ix, "a", "apple", "fruit");
	tt_put(&ix, "b", "apple pie", "dessert");
	OSA_CHECK(bt_count(&ix) == 2);
	tt_put(&ix, "a", "kiwi", "fruit");
	OSA_CHECK(bt_count(&ix) == 2);
	OSA_CHECK_STR(tt_srns(&ix, "apple"), "b | 1");
	OSA_CHECK_STR(tt_srns(&ix, "kiwi"), "a | 1");
	OSA_CHECK_STR(tt_srns(&ix, "fruit"), "a | 1");
	tt_del(&ix, "b");
	tt_del(&ix, "nope");
	OSA_CHECK(bt_count(&ix) == 1);
	OSA_CHECK_STR(tt_srns(&ix, "apple"), "| 0");
	OSA_CHECK_STR(tt_srns(&ix, "apple fruit"), "a | 1");
	/* Back again, after a delete, and twice in one batch. */
	{
		struct osa_record *r[2] = { bt_rec("b", "first", NULL, NULL, 0),
					    bt_rec("b", "second", NULL, NULL,
						   0) };

		OSA_CHECK(ix.b->ingest_batch(
				  ix.self, (const struct osa_record *const *)r,
				  2, &err) == 0);
		osa_record_free(r[0]);
		osa_record_free(r[1]);
	}
	OSA_CHECK(bt_count(&ix) == 2);
	OSA_CHECK_STR(tt_srns(&ix, "first"), "| 0");
	OSA_CHECK_STR(tt_srns(&ix, "second"), "b | 1");
	/* Many small batches: memory segments merge, results stay. */
	for (int i = 0; i < 300; i++) {
		char srn[16];

		snprintf(srn, sizeof(srn), "m-%03d", i % 100);
		tt_put(&ix, srn, i < 200 ? "draft" : "final", "many");
	}
	OSA_CHECK(bt_count(&ix) == 102);
	OSA_CHECK_STR(tt_srns(&ix, "draft"), "| 0");
	{
		struct osa_hits h;

		OSA_CHECK(tt_q(&ix, "final", 5, 0, &h, &err) == 0);
		OSA_CHECK(h.total == 100 && h.n == 5);
		osa_hits_free(&h);
	}
	bt_close(&ix);
	bt_rmdir(dir);
}

/* The MaxScore path against the exhaustive one: `x -absentword` takes the
 * exhaustive path and must give the very same hits, scores and total. */
static void test_pruning(void)
{
	struct bt_index ix;
	struct osa_error err = { 0 };
	char dir[64];
	uint64_t s = 12345;
	int i;

	bt_tmpdir(dir);
	OSA_REQUIRE(bt_open(&ix, "text", "language = \"none\";", dir, &err) ==
		    0);
	tt_corpus(&ix, 7, 0, 1500);
	tt_corpus(&ix, 7, 1500, 3000); /* two segments */
	tt_del(&ix, "d-00003");
	tt_del(&ix, "d-01600");
	tt_del(&ix, "d-02999");
	for (i = 0; i < 200; i++) {
		char q[256], q2[300];
		struct osa_hits a, b;
		size_t lim = 1 + bt_rng(&s) % 20;

		tt_text(&s, q, sizeof(q), 1 + bt_rng(&s) % 4);
		snprintf(q2, sizeof(q2), "%s -qqqqabsent", q);
		OSA_REQUIRE(tt_q(&ix, q, lim, 0, &a, &err) == 0);
		OSA_REQUIRE(tt_q(&ix, q2, lim, 0, &b, &err) == 0);
		OSA_CHECK_MSG(tt_same(&a, &b, 0),
			      "query \"%s\": %zu/%zu hits, "
			      "total %zu/%zu",
			      q, a.n, b.n, a.total, b.total);
		osa_hits_free(&a);
		osa_hits_free(&b);
	}
	bt_close(&ix);
	bt_rmdir(dir);
}

int main(void)
{
	test_bm25();
	test_operators();
	test_errors();
	test_upsert_delete();
	test_pruning();
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * test_sq8.c - `flat` with quantization = "sq8": recall@10 against the
 * float scan (exact: recall 1.0) on a generated clustered set, for cosine,
 * l2 and ip, must be >= 0.99, and the scores of the hits are the float
 * scan's (the rerank is exact); paging agrees with longer lists, batch
 * search stays exact; the scan reads dim bytes per vector.  Then: a first batch of one
 * record (degenerate range) followed by growth (retrained at each
 * doubling); removing every record and a new first batch (retrained on
 * it); checkpoint + reopen answers identically; a filter with facets on an
 * sq8 index equals the float index's (totals, facets, hits); a snapshot
 * written with the other quantisation is refused as OSA_ECORRUPT and the
 * core, through osa/osa.h, rebuilds the index from the journal.
 */
#include <math.h>

#include <osa/osa.h>
#include <osa/snapshot.h>

#include "../flat.h"
#include "filter_test.h"

/* Smaller under ThreadSanitizer: the same paths (retrains, reopen). */
#define N OSA_TEST_SIZE(6000, 1500)
#define NQ OSA_TEST_SIZE(200, 60)
#define DIM 32
#define K 10

static char dir[64];
static float *base, *queries;
static struct osa_record **recs;

static const char *const metrics[] = { "cosine", "l2", "ip" };

static void srn_of(char *buf, size_t n, int i)
{
	snprintf(buf, n, "urn:osa:example.org:rec:q-%05d", i);
}

static void open_flat(struct bt_index *ix, const char *metric,
		      const char *quant, const char *name,
		      const struct osa_attrs *attrs)
{
	struct osa_error err = { 0 };
	char cfg[320], sub[160];

	snprintf(
		cfg, sizeof(cfg),
		"dim = %d; metric = \"%s\"; initial_capacity = 16;"
		"quantization = \"%s\"; embedding = { embedder = \"field\"; };",
		DIM, metric, quant);
	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	OSA_REQUIRE(bt_open_attrs(ix, "flat", cfg, sub, attrs, &err) == 0);
}

static void ingest(struct bt_index *ix, size_t from, size_t n)
{
	struct osa_error err = { 0 };

	OSA_REQUIRE(ix->b->ingest_batch(ix->self,
					(const struct osa_record *const *)recs +
						from,
					n, &err) == 0);
}

/*
 * Recall@K of `sq` against the float index `fl` over the queries; every
 * hit both found must have the same score (within float rounding: BLAS
 * and the dispatched kernel add in other orders).
 */
static double recall(struct bt_index *fl, struct bt_index *sq)
{
	struct osa_error err = { 0 };
	size_t q, i, j, found = 0, total = 0;

	for (q = 0; q < NQ; q++) {
		struct osa_hits hf, hs;

		OSA_REQUIRE(bt_qvec(fl, queries + q * DIM, DIM, K, 0, &hf,
				    &err) == 0);
		OSA_REQUIRE(bt_qvec(sq, queries + q * DIM, DIM, K, 0, &hs,
				    &err) == 0);
		OSA_CHECK(hs.n == hf.n && hs.total == hf.total);
		for (i = 0; i < hf.n; i++) {
			total++;
			for (j = 0; j < hs.n; j++) {
				if (strcmp(hf.v[i].srn, hs.v[j].srn))
					continue;
				found++;
				OSA_CHECK_MSG(
					fabs(hf.v[i].score - hs.v[j].score) <
						1e-4 * (1 +
							fabs(hf.v[i].score)),
					"%s: %g vs %g", hf.v[i].srn,
					hf.v[i].score, hs.v[j].score);
			}
		}
		osa_hits_free(&hf);
		osa_hits_free(&hs);
	}
	return total ? (double)found / (double)total : 0;
}

/* One batch: recall per metric, stats, paging, batch search. */
static void test_recall(void)
{
	struct osa_error err = { 0 };
	int m;

	for (m = 0; m < 3; m++) {
		struct bt_index fl, sq;
		struct flat_stats fs, ss;
		char name[32];
		double r;
		size_t q, j;

		snprintf(name, sizeof(name), "rf%d", m);
		open_flat(&fl, metrics[m], "none", name, NULL);
		snprintf(name, sizeof(name), "rs%d", m);
		open_flat(&sq, metrics[m], "sq8", name, NULL);
		ingest(&fl, 0, N);
		ingest(&sq, 0, N);
		r = recall(&fl, &sq);
		printf("%s: sq8 recall@%d %.4f (float 1.0)\n", metrics[m], K,
		       r);
		OSA_CHECK_MSG(r >= 0.99, "%s: recall %.4f", metrics[m], r);
		flat_get_stats(fl.self, &fs);
		flat_get_stats(sq.self, &ss);
		OSA_CHECK(fs.live == N && ss.live == N);
		OSA_CHECK(fs.search_bytes == DIM * sizeof(float));
		OSA_CHECK(ss.search_bytes == DIM);
		OSA_CHECK(fs.sq8_trained_on == 0 && ss.sq8_trained_on == N);
		OSA_CHECK(ss.memory_bytes > fs.memory_bytes);
		/* A page is the tail of the longer list. */
		for (q = 0; q < 20; q++) {
			struct osa_hits all, page;

			OSA_REQUIRE(bt_qvec(&sq, queries + q * DIM, DIM, 10, 0,
					    &all, &err) == 0);
			OSA_REQUIRE(bt_qvec(&sq, queries + q * DIM, DIM, 5, 5,
					    &page, &err) == 0);
			OSA_REQUIRE(all.n == 10 && page.n == 5);
			for (j = 0; j < 5; j++) {
				OSA_CHECK_STR(page.v[j].srn, all.v[j + 5].srn);
				OSA_CHECK(page.v[j].score ==
					  all.v[j + 5].score);
			}
			osa_hits_free(&all);
			osa_hits_free(&page);
		}
		bt_close(&fl);
		bt_close(&sq);
	}
}

/* Batch search stays exact on sq8 (sgemm over the floats): the float
 * index's answer.  Small: OpenBLAS stays on one thread (its threads are not
 * instrumented, ThreadSanitizer would see races). */
static void test_batch(void)
{
	enum { NB = 300, QB = 10 };
	struct osa_error err = { 0 };
	struct bt_index fl, sq;
	const char *s1[QB * K], *s2[QB * K];
	float c1[QB * K], c2[QB * K];
	size_t j;

	open_flat(&fl, "l2", "none", "bf", NULL);
	open_flat(&sq, "l2", "sq8", "bs", NULL);
	ingest(&fl, 0, NB);
	ingest(&sq, 0, NB);
	OSA_REQUIRE(flat_search_batch(sq.self, queries, QB, K, s1, c1, &err) ==
		    0);
	OSA_REQUIRE(flat_search_batch(fl.self, queries, QB, K, s2, c2, &err) ==
		    0);
	for (j = 0; j < QB * K; j++) {
		OSA_CHECK_STR(s1[j], s2[j]);
		OSA_CHECK(c1[j] == c2[j]);
	}
	bt_close(&fl);
	bt_close(&sq);
}

/*
 * A first batch of one record: every dimension's range is [v, v + 1]; the
 * record is found with its exact score.  Growth in batches of 100 then
 * retrains at each doubling (from 64 rows on), and recall holds.  Removing
 * every record and ingesting again trains on the new first batch.
 */
static void test_single_first(void)
{
	struct osa_error err = { 0 };
	struct bt_index fl, sq;
	struct flat_stats st;
	struct osa_hits h;
	size_t i, expect = 1;
	double r;

	open_flat(&fl, "l2", "none", "s1f", NULL);
	open_flat(&sq, "l2", "sq8", "s1s", NULL);
	ingest(&sq, 0, 1);
	flat_get_stats(sq.self, &st);
	OSA_CHECK(st.sq8_trained_on == 1);
	OSA_REQUIRE(bt_qvec(&sq, base, DIM, 5, 0, &h, &err) == 0);
	OSA_CHECK(h.n == 1 && h.total == 1 && fabs(h.v[0].score) < 1e-5);
	osa_hits_free(&h);
	/* A query far outside the trained range: codes clamp, the rerank is
	 * exact. */
	{
		float far[DIM];
		double d = 0;

		for (i = 0; i < DIM; i++) {
			far[i] = base[i] + 3;
			d += 9;
		}
		OSA_REQUIRE(bt_qvec(&sq, far, DIM, 1, 0, &h, &err) == 0);
		OSA_CHECK(h.n == 1 && fabs(h.v[0].score + d) < 1e-3);
		osa_hits_free(&h);
	}
	ingest(&fl, 0, 1);
	for (i = 1; i < N; i += 100) {
		size_t n = N - i < 100 ? N - i : 100;

		ingest(&fl, i, n);
		ingest(&sq, i, n);
		if (i + n >= 64 && i + n >= 2 * expect)
			expect = i + n;
	}
	flat_get_stats(sq.self, &st);
	OSA_CHECK_MSG(st.sq8_trained_on == expect, "trained on %zu, not %zu",
		      st.sq8_trained_on, expect);
	OSA_CHECK(st.sq8_trained_on > N / 2);
	r = recall(&fl, &sq);
	printf("l2, first batch of 1 then growth: sq8 recall@%d %.4f\n", K, r);
	OSA_CHECK_MSG(r >= 0.99, "recall %.4f", r);

	/* Remove everything; the next first batch trains afresh. */
	{
		char(*srns)[64] = malloc((size_t)N * sizeof(*srns));
		const char **p = malloc((size_t)N * sizeof(*p));

		OSA_REQUIRE(srns && p);
		for (i = 0; i < N; i++) {
			srn_of(srns[i], sizeof(srns[i]), (int)i);
			p[i] = srns[i];
		}
		OSA_REQUIRE(sq.b->remove(sq.self, p, N, &err) == 0);
		OSA_CHECK(bt_count(&sq) == 0);
		free(p);
		free(srns);
	}
	ingest(&sq, 0, 500);
	flat_get_stats(sq.self, &st);
	OSA_CHECK(st.sq8_trained_on == 500 && st.live == 500);
	bt_close(&fl);
	bt_close(&sq);
}

/* Checkpoint, reopen: the same answers, bit for bit; the quantiser and
 * codes come back from the snapshot.  The other quantisation is refused
 * as corrupt. */
static void test_reopen(void)
{
	struct osa_error err = { 0 };
	struct osa_hits *before;
	struct bt_index sq;
	struct flat_stats st;
	char snap[200], sub[160];
	size_t q, j, removed = 0;

	before = calloc(NQ, sizeof(*before));
	OSA_REQUIRE(before);
	open_flat(&sq, "cosine", "sq8", "reopen", NULL);
	ingest(&sq, 0, 30);
	ingest(&sq, 30, N - 30); /* retrained on all */
	/* Removals move rows (and codes). */
	for (q = 0; q < (size_t)N; q += 7) {
		char srn[64];
		const char *p = srn;

		srn_of(srn, sizeof(srn), (int)q);
		OSA_REQUIRE(sq.b->remove(sq.self, &p, 1, &err) == 0);
		removed++;
	}
	for (q = 0; q < NQ; q++)
		OSA_REQUIRE(bt_qvec(&sq, queries + q * DIM, DIM, K, 0,
				    &before[q], &err) == 0);
	OSA_REQUIRE(sq.b->checkpoint(sq.self, 77, &err) == 0);
	bt_close(&sq);
	open_flat(&sq, "cosine", "sq8", "reopen", NULL);
	OSA_CHECK(sq.lsn == 77 && bt_count(&sq) == N - removed);
	flat_get_stats(sq.self, &st);
	OSA_CHECK(st.sq8_trained_on == N);
	for (q = 0; q < NQ; q++) {
		struct osa_hits h;

		OSA_REQUIRE(bt_qvec(&sq, queries + q * DIM, DIM, K, 0, &h,
				    &err) == 0);
		OSA_CHECK(h.n == before[q].n);
		for (j = 0; j < h.n && j < before[q].n; j++) {
			OSA_CHECK_STR(h.v[j].srn, before[q].v[j].srn);
			OSA_CHECK(h.v[j].score == before[q].v[j].score);
		}
		osa_hits_free(&h);
		osa_hits_free(&before[q]);
	}
	free(before);
	bt_close(&sq);

	/* The same snapshot under quantization = "none": refused. */
	snprintf(sub, sizeof(sub), "%s/reopen", dir);
	snprintf(snap, sizeof(snap), "%s/flat.snap", sub);
	OSA_CHECK(bt_open(&sq, "flat",
			  "dim = 32; metric = \"cosine\";"
			  "embedding = { embedder = \"field\"; };",
			  sub, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, snap);
	OSA_CHECK_CONTAINS(err.msg, "quantization=sq8");
	/* A float snapshot under sq8: refused too. */
	open_flat(&sq, "cosine", "none", "reopen-f", NULL);
	ingest(&sq, 0, 100);
	OSA_REQUIRE(sq.b->checkpoint(sq.self, 5, &err) == 0);
	bt_close(&sq);
	snprintf(sub, sizeof(sub), "%s/reopen-f", dir);
	snprintf(snap, sizeof(snap), "%s/flat.snap", sub);
	OSA_CHECK(bt_open(&sq, "flat",
			  "dim = 32; metric = \"cosine\"; quantization = "
			  "\"sq8\"; embedding = { embedder = \"field\"; };",
			  sub, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, snap);
	OSA_CHECK_CONTAINS(err.msg, "quantization=sq8");
	/* A crafted sq8 body: valid checksums, a zero step. */
	{
		struct osa_snap_info info;
		struct osa_snap_writer *w;
		struct osa_snap_reader *r;
		unsigned char tb[8] = { 1 }, code[DIM] = { 0 };
		float zero[DIM] = { 0 }, one[DIM];

		snprintf(sub, sizeof(sub), "%s/reopen", dir);
		snprintf(snap, sizeof(snap), "%s/flat.snap", sub);
		OSA_REQUIRE(osa_snap_open(snap, NULL, &r, &info, &err) == 0);
		osa_snap_close(r, NULL);
		for (j = 0; j < DIM; j++)
			one[j] = j ? 0 : 1;
		info.count = 1;
		OSA_REQUIRE(osa_snap_create(snap, &info, &w, &err) == 0);
		OSA_REQUIRE(osa_snap_write(w, one, sizeof(one), &err) == 0);
		OSA_REQUIRE(osa_snap_write(w, tb, 8, &err) == 0);
		OSA_REQUIRE(osa_snap_write(w, zero, sizeof(zero), &err) == 0);
		OSA_REQUIRE(osa_snap_write(w, zero, sizeof(zero), &err) == 0);
		OSA_REQUIRE(osa_snap_write(w, code, sizeof(code), &err) == 0);
		OSA_REQUIRE(osa_snap_write(w, "\x01\0\0\0x", 5, &err) == 0);
		OSA_REQUIRE(osa_snap_commit(w, &err) == 0);
		OSA_CHECK(bt_open(&sq, "flat",
				  "dim = 32; metric = \"cosine\"; "
				  "quantization = \"sq8\"; embedding = { "
				  "embedder = \"field\"; };",
				  sub, &err) == OSA_ECORRUPT);
		OSA_CHECK_CONTAINS(err.msg, "sq8 dimension 0");
	}
}

/* Filters and facets on sq8 equal those of the float index. */
static void test_filter(void)
{
	struct osa_error err = { 0 };
	struct bt_index fl, sq;
	struct osa_record **frecs;
	size_t i, c, q, found = 0, total = 0;
	static const size_t facets[] = { FT_CAT, FT_TAGS, FT_FLAG };

	frecs = malloc((size_t)N * sizeof(*frecs));
	OSA_REQUIRE(frecs);
	for (i = 0; i < (size_t)N; i++) {
		struct ft_row row;
		char srn[64];

		ft_row_of(i, 0, &row);
		srn_of(srn, sizeof(srn), (int)i);
		frecs[i] = ft_rec(srn, "t", NULL, base + i * DIM, DIM, &row);
	}
	open_flat(&fl, "ip", "none", "ff", &ft_attrs);
	open_flat(&sq, "ip", "sq8", "fs", &ft_attrs);
	OSA_REQUIRE(fl.b->ingest_batch(fl.self,
				       (const struct osa_record *const *)frecs,
				       N, &err) == 0);
	OSA_REQUIRE(sq.b->ingest_batch(sq.self,
				       (const struct osa_record *const *)frecs,
				       N, &err) == 0);
	for (c = 0; c < FT_NCASES; c++) {
		struct osa_filter *f = ft_filter(ft_cases[c].text);

		for (q = 0; q < 10; q++) {
			struct osa_query qq = {
				.vector = queries + q * DIM,
				.dim = DIM,
				.limit = K,
				.filter = f,
				.facets = facets,
				.nfacets = 3,
				.facet_limit = 10,
			};
			struct osa_hits hf = { 0 }, hs = { 0 };
			size_t a, b, fi;

			OSA_REQUIRE(fl.b->query(fl.self, &qq, &hf, &err) == 0);
			OSA_REQUIRE(sq.b->query(sq.self, &qq, &hs, &err) == 0);
			OSA_CHECK_MSG(hf.total == hs.total, "%s: %zu vs %zu",
				      ft_cases[c].text, hf.total, hs.total);
			OSA_CHECK(hf.n == hs.n);
			for (a = 0; a < hs.n; a++) {
				struct ft_row row;
				int id = atoi(strrchr(hs.v[a].srn, '-') + 1);

				ft_row_of((size_t)id, 0, &row);
				OSA_CHECK(ft_cases[c].pred(&row));
			}
			for (a = 0; a < hf.n; a++) {
				total++;
				for (b = 0; b < hs.n; b++)
					found += !strcmp(hf.v[a].srn,
							 hs.v[b].srn);
			}
			OSA_CHECK(hf.facets.n == hs.facets.n);
			for (fi = 0; fi < hf.facets.n && fi < hs.facets.n;
			     fi++) {
				const struct osa_facet *x = &hf.facets.v[fi],
						       *y = &hs.facets.v[fi];

				OSA_CHECK(x->attr == y->attr && x->n == y->n);
				for (a = 0; a < x->n && a < y->n; a++) {
					OSA_CHECK_STR(x->v[a].value,
						      y->v[a].value);
					OSA_CHECK(x->v[a].count ==
						  y->v[a].count);
				}
			}
			osa_hits_free(&hf);
			osa_hits_free(&hs);
		}
		osa_filter_free(f);
	}
	printf("filtered: sq8 recall@%d %.4f\n", K,
	       (double)found / (double)total);
	OSA_CHECK_MSG(found >= total - total / 100, "filtered recall %zu/%zu",
		      found, total);
	for (i = 0; i < (size_t)N; i++)
		osa_record_free(frecs[i]);
	free(frecs);
	bt_close(&fl);
	bt_close(&sq);
}

/* Through the core: turning sq8 on for an index with a float snapshot
 * rebuilds it from the journal, and it answers. */
static void test_core_rebuild(void)
{
	static const char *const quants[] = { "none", "sq8", "none" };
	struct osa_error err = { 0 };
	int round;

	for (round = 0; round < 3; round++) {
		struct osa_search s = { .index = "v", .limit = 3, .dim = DIM };
		struct osa_results *res = NULL;
		struct osa_db *db = NULL;
		char cfg[1024];
		char *stats = NULL;

		snprintf(cfg, sizeof(cfg),
			 "data_dir = \"%s/core\";\n"
			 "logging = { level = \"error\"; };\n"
			 "indexes = ( { name = \"v\"; backend = \"flat\"; "
			 "config = { dim = %d; metric = \"l2\"; quantization "
			 "= \"%s\"; embedding = { embedder = \"field\"; }; "
			 "}; } );\n",
			 dir, DIM, quants[round]);
		OSA_REQUIRE(osa_open_string(cfg, NULL, NULL, &db, &err) == 0);
		if (!round) {
			const char **docs = malloc(300 * sizeof(*docs));
			size_t *lens = malloc(300 * sizeof(*lens));
			size_t i, d;
			uint64_t lsn;

			OSA_REQUIRE(docs && lens);
			for (i = 0; i < 300; i++) {
				char *t = malloc(DIM * 20 + 128), srn[64];
				size_t n;

				OSA_REQUIRE(t);
				srn_of(srn, sizeof(srn), (int)i);
				n = (size_t)sprintf(t,
						    "{\"srn\":\"%s\",\"title\":"
						    "\"t\",\"embedding\":[",
						    srn);
				for (d = 0; d < DIM; d++)
					n += (size_t)sprintf(t + n, "%s%.9g",
							     d ? "," : "",
							     base[i * DIM + d]);
				n += (size_t)sprintf(t + n, "]}");
				docs[i] = t;
				lens[i] = n;
			}
			OSA_REQUIRE(osa_ingest(db, (const char *const *)docs,
					       lens, 300, &lsn, NULL,
					       &err) == 0);
			for (i = 0; i < 300; i++)
				free((void *)docs[i]);
			free(docs);
			free(lens);
		}
		OSA_REQUIRE(osa_stats(db, &stats, &err) == 0);
		OSA_CHECK_CONTAINS(stats, "\"v\":{\"backend\":\"flat\","
					  "\"count\":300,\"state\":\"ready\"");
		free(stats);
		/* Record 123's own vector finds it first, at distance 0. */
		s.vector = base + 123 * DIM;
		OSA_REQUIRE(osa_search(db, &s, &res, &err) == 0);
		OSA_CHECK(res->n == 3);
		if (res->n) {
			OSA_CHECK_CONTAINS(res->v[0].srn, "q-00123");
			OSA_CHECK(fabs(res->v[0].score) < 1e-4);
		}
		osa_results_free(res);
		osa_close(db);
	}
}

int main(void)
{
	struct osa_record **r;
	size_t i;

	bt_tmpdir(dir);
	base = malloc((size_t)N * DIM * sizeof(float));
	queries = malloc((size_t)NQ * DIM * sizeof(float));
	r = malloc((size_t)N * sizeof(*r));
	OSA_REQUIRE(base && queries && r);
	/* 50 clusters; the queries from the same centres (same seed). */
	bt_clustered(base, N, DIM, 50, 7);
	{
		float *all = malloc(((size_t)N + NQ) * DIM * sizeof(float));

		OSA_REQUIRE(all);
		bt_clustered(all, (size_t)N + NQ, DIM, 50, 7);
		memcpy(queries, all + (size_t)N * DIM,
		       (size_t)NQ * DIM * sizeof(float));
		free(all);
	}
	for (i = 0; i < (size_t)N; i++) {
		char srn[64];

		srn_of(srn, sizeof(srn), (int)i);
		r[i] = bt_rec(srn, "t", NULL, base + i * DIM, DIM);
	}
	recs = r;
	test_recall();
	test_batch();
	test_single_first();
	test_reopen();
	test_filter();
	test_core_rebuild();
	for (i = 0; i < (size_t)N; i++)
		osa_record_free(recs[i]);
	free(recs);
	free(base);
	free(queries);
	bt_rmdir(dir);
	OSA_TEST_END();
}

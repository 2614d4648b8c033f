/* SPDX-License-Identifier: MIT */
/*
 * test_parallel.c - `vector` with threads = 1 and threads = 3 fed the same
 * batches: new records, upserts, a srn twice in one batch (the later
 * wins), removals whose labels the next batch reuses, in float and sq8.
 * Both must hold the same records (count, every srn found by its own
 * vector, the latest vector of each) and reach the same recall@10 within
 * 0.02 of each other (the graphs differ: insertion order).  A batch with
 * bad records is refused whole, naming the first bad record whatever the
 * thread count.  The parallel index reopens from its snapshot with the
 * same answers.  Run under ThreadSanitizer by make test-tsan.
 */
#include <math.h>

#include "../vector.h"
#include "backend_test.h"

#define N OSA_TEST_SIZE(3000, 900)
#define B 250 /* batch size */
#define NQ 100
#define DIM 32
#define K 10

static char dir[64];
static float *base, *alt, *queries;

static struct osa_record *rec_of(int i, const float *v)
{
	char srn[64];

	snprintf(srn, sizeof(srn), "urn:osa:example.org:rec:p-%d", i);
	return bt_rec(srn, NULL, NULL, v, DIM);
}

static int ingest(struct bt_index *ix, struct osa_record **recs, size_t n,
		  struct osa_error *err)
{
	return ix->b->ingest_batch(
		ix->self, (const struct osa_record *const *)recs, n, err);
}

/* The vector record i holds after the workload below. */
static const float *latest(int i)
{
	return i % 7 == 0 ? alt + (size_t)i * DIM : base + (size_t)i * DIM;
}

/* Build index `sub` with `threads` workers through the same batches. */
static void build(struct bt_index *ix, const char *cfg, const char *sub)
{
	struct osa_record *recs[B + 1];
	struct osa_error err = { 0 };
	const char *gone[B];
	char names[B][64];
	int i, j, m;

	OSA_REQUIRE(bt_open(ix, "vector", cfg, sub, &err) == 0);
	/* New records in batches; each batch also gives its first record
	 * twice, first with a wrong vector (the later one wins). */
	for (i = 0; i < N; i += B) {
		m = N - i < B ? N - i : B;
		recs[0] = rec_of(i, alt + (size_t)(i + 1) * DIM);
		for (j = 0; j < m; j++)
			recs[j + 1] =
				rec_of(i + j, base + (size_t)(i + j) * DIM);
		OSA_REQUIRE(ingest(ix, recs, (size_t)m + 1, &err) == 0);
		for (j = 0; j <= m; j++)
			osa_record_free(recs[j]);
	}
	OSA_CHECK(bt_count(ix) == N);
	/* Remove every 5th of the first B records, then upsert every 7th
	 * record with another vector while re-adding the removed ones
	 * (their labels come back from the free list). */
	for (i = 0, m = 0; i < B; i += 5, m++) {
		snprintf(names[m], sizeof(names[m]),
			 "urn:osa:example.org:rec:p-%d", i);
		gone[m] = names[m];
	}
	OSA_REQUIRE(ix->b->remove(ix->self, gone, (size_t)m, &err) == 0);
	OSA_CHECK(bt_count(ix) == (uint64_t)(N - m));
	for (i = 0, j = 0; i < N; i++) {
		if (i % 7 && !(i < B && i % 5 == 0))
			continue;
		recs[j++] = rec_of(i, latest(i));
		if (j < B)
			continue;
		OSA_REQUIRE(ingest(ix, recs, (size_t)j, &err) == 0);
		while (j)
			osa_record_free(recs[--j]);
	}
	OSA_REQUIRE(ingest(ix, recs, (size_t)j, &err) == 0);
	while (j)
		osa_record_free(recs[--j]);
	OSA_CHECK(bt_count(ix) == N);
}

/* Every record is its own nearest hit; recall@10 against brute force. */
static double check(struct bt_index *ix, const char *what)
{
	struct osa_error err = { 0 };
	struct osa_hits h;
	int i, q, j, found = 0, self = 0;
	char want[64];

	for (i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "urn:osa:example.org:rec:p-%d", i);
		OSA_REQUIRE(bt_qvec(ix, latest(i), DIM, 1, 0, &h, &err) == 0);
		self += h.n == 1 && !strcmp(h.v[0].srn, want) &&
			fabs(h.v[0].score - 1.0) < 1e-4;
		osa_hits_free(&h);
	}
	for (q = 0; q < NQ; q++) {
		const float *x = queries + (size_t)q * DIM;
		double best[K];
		int ids[K];

		for (j = 0; j < K; j++)
			best[j] = -INFINITY, ids[j] = -1;
		for (i = 0; i < N; i++) {
			const float *y = latest(i);
			double dot = 0, xn = 0, yn = 0, s;

			for (j = 0; j < DIM; j++) {
				dot += (double)x[j] * y[j];
				xn += (double)x[j] * x[j];
				yn += (double)y[j] * y[j];
			}
			s = dot / sqrt(xn * yn);
			for (j = K; j > 0 && s > best[j - 1]; j--)
				if (j < K)
					best[j] = best[j - 1],
					ids[j] = ids[j - 1];
			if (j < K)
				best[j] = s, ids[j] = i;
		}
		OSA_REQUIRE(bt_qvec(ix, x, DIM, K, 0, &h, &err) == 0);
		for (i = 0; i < (int)h.n; i++) {
			int id = atoi(strrchr(h.v[i].srn, '-') + 1);

			for (j = 0; j < K; j++)
				found += ids[j] == id;
		}
		osa_hits_free(&h);
	}
	fprintf(stderr,
		"%s: %d of %d records found by their vector, "
		"recall@%d %.4f\n",
		what, self, N, K, (double)found / (NQ * K));
	OSA_CHECK(self == N);
	return (double)found / (NQ * K);
}

/* Records 3 and 8 of a batch are bad: the error names record 3. */
static void check_refusal(struct bt_index *ix, const char *what)
{
	struct osa_record *recs[12];
	struct osa_error err = { 0 };
	float bad[DIM - 1] = { 0 };
	char srn[64];
	int i;

	for (i = 0; i < 12; i++) {
		snprintf(srn, sizeof(srn), "urn:osa:example.org:rec:new-%d", i);
		recs[i] = bt_rec(srn, NULL, NULL, i == 3 || i == 8 ? bad : base,
				 i == 3 || i == 8 ? DIM - 1 : DIM);
	}
	OSA_CHECK(ingest(ix, recs, 12, &err) != 0);
	fprintf(stderr, "%s: refused: %s\n", what, err.msg);
	OSA_CHECK_CONTAINS(err.msg, "new-3");
	OSA_CHECK(strstr(err.msg, "new-8") == NULL);
	OSA_CHECK(bt_count(ix) == N);
	for (i = 0; i < 12; i++)
		osa_record_free(recs[i]);
}

int main(void)
{
	static const char *const quants[] = { "none", "sq8" };
	int q;

	base = malloc((size_t)(2 * N + NQ) * DIM * sizeof(float));
	OSA_REQUIRE(base);
	alt = base + (size_t)N * DIM;
	queries = alt + (size_t)N * DIM;
	bt_tmpdir(dir);
	bt_clustered(base, 2 * N + NQ, DIM, 40, 777);
	for (q = 0; q < 2; q++) {
		struct bt_index one, par, re;
		struct osa_error err = { 0 };
		char cfg[2][320], sub[2][128], what[64];
		double r[2];
		int t;

		for (t = 0; t < 2; t++) {
			snprintf(cfg[t], sizeof(cfg[t]),
				 "dim = %d; initial_capacity = 500; "
				 "quantization = \"%s\"; threads = %d; "
				 "embedding = { embedder = \"field\"; };",
				 DIM, quants[q], t ? 3 : 1);
			snprintf(sub[t], sizeof(sub[t]), "%s/%s-%d", dir,
				 quants[q], t);
		}
		build(&one, cfg[0], sub[0]);
		build(&par, cfg[1], sub[1]);
		snprintf(what, sizeof(what), "%s, 1 thread", quants[q]);
		r[0] = check(&one, what);
		check_refusal(&one, what);
		snprintf(what, sizeof(what), "%s, 3 threads", quants[q]);
		r[1] = check(&par, what);
		check_refusal(&par, what);
		OSA_CHECK(r[0] >= 0.9 && r[1] >= 0.9);
		OSA_CHECK(fabs(r[0] - r[1]) <= 0.02);
		/* The parallel build's snapshot reopens to the same. */
		OSA_REQUIRE(par.b->checkpoint(par.self, 3, &err) == 0);
		bt_close(&par);
		OSA_REQUIRE(bt_open(&re, "vector", cfg[1], sub[1], &err) == 0);
		OSA_CHECK(re.lsn == 3 && bt_count(&re) == N);
		snprintf(what, sizeof(what), "%s, 3 threads, reopened",
			 quants[q]);
		OSA_CHECK(fabs(check(&re, what) - r[1]) < 1e-9);
		bt_close(&re);
		bt_close(&one);
	}
	free(base);
	bt_rmdir(dir);
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * test_recall.c - recall@10 of `vector` against exact search (`flat` when it
 * is built in, else a loop) on a generated clustered set: 5000 x 32, cosine
 * and l2, ef_search 64.  A broken graph (bad links, wrong metric, lost
 * vectors) falls far below the 0.95 threshold.
 *
 * Then quantization = "sq8" (cosine): in one batch (trained on all of it), and
 * fed as a first batch of 20 records and then batches of 500 (the quantiser is
 * retrained as the index grows): recall within 0.01 of the float graph.
 * The sq8 index is checkpointed and reopened and must answer exactly the
 * same; a snapshot opened with the other quantization is refused as
 * corrupt (the core then rebuilds from the journal).
 */
#include <math.h>

#include "../vector.h"
#include "backend_test.h"

/* Smaller under ThreadSanitizer: the same batches, retrains and reopen. */
#define N OSA_TEST_SIZE(5000, 2000)
#define NQ 200
#define DIM 32
#define K 10

static char dir[64];

/* Exact top K ids under `metric` (0 cosine, 1 l2) by brute force. */
static void exact(const float *base, const float *q, int metric, int *out)
{
	static double score[N];
	double qn = 0;
	int i, j, d;

	for (d = 0; d < DIM; d++)
		qn += (double)q[d] * q[d];
	for (i = 0; i < N; i++) {
		double dot = 0, xn = 0, l2 = 0;

		for (d = 0; d < DIM; d++) {
			double x = base[i * DIM + d];

			dot += x * q[d];
			xn += x * x;
			l2 += (x - q[d]) * (x - q[d]);
		}
		score[i] = metric == 0 ? dot / sqrt(xn * qn) : -l2;
	}
	for (j = 0; j < K; j++) {
		int bi = 0;

		for (i = 1; i < N; i++)
			if (score[i] > score[bi])
				bi = i;
		out[j] = bi;
		score[bi] = -INFINITY;
	}
}

/* quant: 0 float, 1 sq8 in one batch, 2 sq8 fed in small batches. */
static double run(int metric, int quant, const float *base,
		  const float *queries, struct osa_record **recs)
{
	static const char *const names[] = { "cosine", "l2" };
	static const char *const quants[] = { "none", "sq8", "sq8" };
	struct osa_error err = { 0 };
	struct bt_index vx, fx;
	char cfg[320], sub[128], vsub[128];
	/* sq8 runs compare with the loop: flat once per metric is enough. */
	int have_flat = !quant && osa_backend_find("flat") != NULL;
	int q, j, found = 0, found_flat = 0;

	snprintf(cfg, sizeof(cfg),
		 "dim = %d; metric = \"%s\"; initial_capacity = 1000;"
		 "quantization = \"%s\";"
		 "embedding = { embedder = \"field\"; };",
		 DIM, names[metric], quants[quant]);
	snprintf(sub, sizeof(sub), "%s/v%d%d", dir, metric, quant);
	OSA_REQUIRE(bt_open(&vx, "vector", cfg, sub, &err) == 0);
	snprintf(vsub, sizeof(vsub), "%s", sub);
	if (quant < 2) {
		OSA_REQUIRE(vx.b->ingest_batch(
				    vx.self,
				    (const struct osa_record *const *)recs, N,
				    &err) == 0);
	} else {
		struct vector_stats st;

		for (j = 0; j < N; j += j ? 500 : 20)
			OSA_REQUIRE(
				vx.b->ingest_batch(
					vx.self,
					(const struct osa_record *const *)recs +
						j,
					j ? (N - j < 500 ? N - j : 500) : 20,
					&err) == 0);
		vector_get_stats(vx.self, &st);
		/* Trained on 20, retrained at 520, 1520 and (N = 5000)
		 * 3520: at each doubling. */
		OSA_CHECK(st.sq8_trained_on == (N > 3040 ? 3520 : 1520));
		OSA_CHECK(st.compactions == 0);
		OSA_CHECK(st.search_bytes == DIM);
	}
	OSA_CHECK(bt_count(&vx) == N);
	if (have_flat) {
		char fcfg[256];

		snprintf(fcfg, sizeof(fcfg),
			 "dim = %d; metric = \"%s\"; initial_capacity = 1000;"
			 "embedding = { embedder = \"field\"; };",
			 DIM, names[metric]);
		snprintf(sub, sizeof(sub), "%s/f%d%d", dir, metric, quant);
		OSA_REQUIRE(bt_open(&fx, "flat", fcfg, sub, &err) == 0);
		OSA_REQUIRE(fx.b->ingest_batch(
				    fx.self,
				    (const struct osa_record *const *)recs, N,
				    &err) == 0);
	}
	for (q = 0; q < NQ; q++) {
		struct osa_hits hv, hf;
		int truth[K];

		exact(base, queries + q * DIM, metric, truth);
		OSA_REQUIRE(bt_qvec(&vx, queries + q * DIM, DIM, K, 0, &hv,
				    &err) == 0);
		OSA_CHECK(hv.n == K);
		if (have_flat) {
			OSA_REQUIRE(bt_qvec(&fx, queries + q * DIM, DIM, K, 0,
					    &hf, &err) == 0);
			/* flat is exact: it must agree with the loop. */
			for (j = 0; j < (int)hf.n; j++) {
				int id = atoi(strrchr(hf.v[j].srn, '-') + 1);
				int k;

				for (k = 0; k < K; k++)
					found_flat += truth[k] == id;
			}
			/* vector against flat's answer. */
			for (j = 0; j < (int)hv.n; j++) {
				size_t k;

				for (k = 0; k < hf.n; k++)
					found += !strcmp(hv.v[j].srn,
							 hf.v[k].srn);
			}
			osa_hits_free(&hf);
		} else {
			for (j = 0; j < (int)hv.n; j++) {
				int id = atoi(strrchr(hv.v[j].srn, '-') + 1);
				int k;

				for (k = 0; k < K; k++)
					found += truth[k] == id;
			}
		}
		osa_hits_free(&hv);
	}
	fprintf(stderr, "%s %s%s: recall@%d vector %.4f%s", names[metric],
		quants[quant], quant == 2 ? " (small batches)" : "", K,
		(double)found / (NQ * K), have_flat ? "" : "\n");
	if (have_flat)
		fprintf(stderr, ", flat vs loop %.4f\n",
			(double)found_flat / (NQ * K));
	OSA_CHECK((double)found / (NQ * K) >= 0.95);
	if (have_flat) {
		OSA_CHECK((double)found_flat / (NQ * K) >= 0.999);
		bt_close(&fx);
	}
	if (quant == 1) {
		/* Reopen from the snapshot: the same answers, bit for bit. */
		struct osa_hits before[20], after;
		struct bt_index rx;
		char other[320];

		for (q = 0; q < 20; q++)
			OSA_REQUIRE(bt_qvec(&vx, queries + q * DIM, DIM, K, 0,
					    &before[q], &err) == 0);
		OSA_REQUIRE(vx.b->checkpoint(vx.self, 7, &err) == 0);
		bt_close(&vx);
		OSA_REQUIRE(bt_open(&rx, "vector", cfg, vsub, &err) == 0);
		OSA_CHECK(rx.lsn == 7 && bt_count(&rx) == N);
		for (q = 0; q < 20; q++) {
			OSA_REQUIRE(bt_qvec(&rx, queries + q * DIM, DIM, K, 0,
					    &after, &err) == 0);
			OSA_CHECK(after.n == before[q].n);
			for (j = 0; j < (int)after.n && j < (int)before[q].n;
			     j++) {
				OSA_CHECK_STR(after.v[j].srn,
					      before[q].v[j].srn);
				OSA_CHECK(after.v[j].score ==
					  before[q].v[j].score);
			}
			osa_hits_free(&after);
			osa_hits_free(&before[q]);
		}
		bt_close(&rx);
		/* The same snapshot under quantization "none": refused. */
		snprintf(other, sizeof(other),
			 "dim = %d; metric = \"%s\"; initial_capacity = 1000;"
			 "embedding = { embedder = \"field\"; };",
			 DIM, names[metric]);
		OSA_CHECK(bt_open(&rx, "vector", other, vsub, &err) ==
			  OSA_ECORRUPT);
		OSA_CHECK_CONTAINS(err.msg, "quantization sq8");
		return (double)found / (NQ * K);
	}
	bt_close(&vx);
	return (double)found / (NQ * K);
}

int main(void)
{
	float *base = malloc((size_t)(N + NQ) * DIM * sizeof(float));
	float *queries;
	struct osa_record **recs = malloc(N * sizeof(*recs));
	char srn[64];
	int i;

	OSA_REQUIRE(base && recs);
	queries = base + (size_t)N * DIM; /* same clusters, unseen points */
	bt_tmpdir(dir);
	bt_clustered(base, N + NQ, DIM, 50, 12345);
	for (i = 0; i < N; i++) {
		snprintf(srn, sizeof(srn), "urn:osa:example.org:rec:p-%d", i);
		recs[i] = bt_rec(srn, NULL, NULL, base + (size_t)i * DIM, DIM);
	}
	/* sq8 on cosine (the default metric): in one batch, with a reopen,
	 * and in small batches (retraining); l2 float only (the kernels and
	 * the shim test cover sq8 under L2). */
	double rc = run(0, 0, base, queries, recs);
	double r1 = run(0, 1, base, queries, recs);
	double r2 = run(0, 2, base, queries, recs);

	OSA_CHECK(r1 >= rc - 0.01);
	OSA_CHECK(r2 >= rc - 0.01);
	run(1, 0, base, queries, recs);
	for (i = 0; i < N; i++)
		osa_record_free(recs[i]);
	free(recs);
	free(base);
	bt_rmdir(dir);
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * test_hnswlib_c.c - unit test of the hnswlib C shim, in C11.
 *
 * Recall against brute force (L2 and IP), filters, exact distances to
 * listed labels, replace, delete and
 * re-add, resize, save/load round trips (file, FILE*, memory), corrupt,
 * truncated, random and bit-flipped inputs, argument checks, searches
 * in 4 threads while another thread adds, replaces, deletes and resizes,
 * and batches inserted by several threads (hnswc_add_batch): equal to
 * serial adds, mixed, refused, and under concurrent searches.
 * Prints one line per check group; exits 1 on the first failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hnswlib_c.h"

/* Under ThreadSanitizer (gcc's __SANITIZE_THREAD__, or OSA's
 * OSA_TEST_TSAN) every access costs 5 to 15 times more: the same checks on
 * fewer points. */
#if defined(__SANITIZE_THREAD__) || defined(OSA_TEST_TSAN)
#define HNSWC_TEST_TSAN 1
#endif
#define DIM 32
#ifdef HNSWC_TEST_TSAN
#define N 1200
#define NQ 100
#else
#define N 2000
#define NQ 200
#endif
#define K 10

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			failures++;                                            \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define OK(expr)                                                               \
	do {                                                                   \
		hnswc_error e_;                                                \
		(void)e_;                                                      \
		int rc_ = (expr);                                              \
		CHECK(rc_ >= 0, "%s -> %d", #expr, rc_);                       \
	} while (0)

/* ---- data ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static float rndf(void)
{
	return (float)((rnd() >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static void fill(float *v, size_t n, int normalise)
{
	for (size_t i = 0; i < n; i++) {
		float *x = v + i * DIM;
		double s = 0;
		for (int d = 0; d < DIM; d++) {
			x[d] = rndf();
			s += (double)x[d] * x[d];
		}
		if (normalise)
			for (int d = 0; d < DIM; d++)
				x[d] = (float)(x[d] / sqrt(s));
	}
}

static float dist(int space, const float *a, const float *b)
{
	float r = 0;
	if (space == HNSWC_L2) {
		for (int d = 0; d < DIM; d++)
			r += (a[d] - b[d]) * (a[d] - b[d]);
		return r;
	}
	for (int d = 0; d < DIM; d++)
		r += a[d] * b[d];
	return 1.0f - r;
}

typedef int (*accept_fn)(uint64_t, void *);

/* Brute-force k-NN over labels 0..n-1 (label i = data row i). */
static size_t brute(int space, const float *data, size_t n, const float *q,
		    size_t k, accept_fn ok, void *ctx, uint64_t *out)
{
	float best[64];
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (ok && !ok(i, ctx))
			continue;
		float d = dist(space, q, data + i * DIM);
		if (m == k && d >= best[m - 1])
			continue;
		size_t j = m < k ? m++ : m - 1;
		while (j > 0 && best[j - 1] > d) {
			best[j] = best[j - 1];
			out[j] = out[j - 1];
			j--;
		}
		best[j] = d;
		out[j] = i;
	}
	return m;
}

/* Check order and distances of one result against the data. */
static void check_result(int space, const float *data, const float *q,
			 const uint64_t *lab, const float *dis, int n)
{
	for (int i = 0; i < n; i++) {
		float d = dist(space, q, data + lab[i] * DIM);
		CHECK(fabsf(d - dis[i]) <= 1e-4f * (1 + fabsf(d)),
		      "distance of label %llu: %g, expected %g",
		      (unsigned long long)lab[i], dis[i], d);
		if (i)
			CHECK(dis[i - 1] <= dis[i], "not ascending at %d", i);
	}
}

static double recall(hnswc_index *x, int space, const float *data, size_t n,
		     const float *qs, size_t nq, size_t ef, accept_fn ok,
		     void *ctx)
{
	size_t hit = 0, total = 0;
	for (size_t q = 0; q < nq; q++) {
		uint64_t lab[K], truth[K];
		float dis[K];
		hnswc_error e;
		int r = hnswc_search(x, qs + q * DIM, K, ef, ok, ctx, lab, dis,
				     &e);
		CHECK(r >= 0, "search: %s", e.msg);
		check_result(space, data, qs + q * DIM, lab, dis, r);
		size_t m =
			brute(space, data, n, qs + q * DIM, K, ok, ctx, truth);
		CHECK((size_t)r == m, "search found %d, brute force %zu", r, m);
		for (size_t i = 0; i < m; i++)
			for (int j = 0; j < r; j++)
				if (lab[j] == truth[i]) {
					hit++;
					break;
				}
		total += m;
	}
	return total ? (double)hit / total : 1.0;
}

static float *data_l2, *data_ip, *queries, *queries_ip;

static hnswc_index *build(int space, const float *data, size_t n, size_t cap)
{
	hnswc_index *x;
	hnswc_error e;
	int rc = hnswc_create(space, DIM, cap, 16, 200, 42, &x, &e);
	CHECK(rc == 0, "create: %s", e.msg);
	for (size_t i = 0; i < n; i++) {
		rc = hnswc_add(x, data + i * DIM, i, &e);
		CHECK(rc == 0, "add %zu: %s", i, e.msg);
	}
	return x;
}

/* ---- tests ---- */

static int accept_even(uint64_t label, void *ctx);

/*
 * SQ8: recall within 0.02 of the float graph at ef 64 (exact distances
 * after the rerank, checked by recall()), exact get_vector, replace,
 * train rules, memory, save/load round trip with identical answers, and a
 * float load of SQ8 bytes refused.
 */
static void test_sq8(void)
{
	for (int space = HNSWC_L2; space <= HNSWC_IP; space++) {
		const float *data = space == HNSWC_L2 ? data_l2 : data_ip;
		const float *qs = space == HNSWC_L2 ? queries : queries_ip;
		hnswc_index *f = build(space, data, N, N), *x, *y;
		hnswc_error e;
		float v[DIM];

		CHECK(hnswc_create_q(space, 7, DIM, N, 16, 200, 42, &x, &e) ==
			      HNSWC_EINVAL,
		      "quant 7 accepted");
		OK(hnswc_create_q(space, HNSWC_QUANT_SQ8, DIM, N, 16, 200, 42,
				  &x, &e));
		CHECK(hnswc_quant(x) == HNSWC_QUANT_SQ8 && !hnswc_trained(x),
		      "fresh sq8 index");
		CHECK(hnswc_add(x, data, 0, &e) == HNSWC_EINVAL &&
			      strstr(e.msg, "hnswc_train"),
		      "add before train: %s", e.msg);
		/* Train on the first half, as a first batch would. */
		OK(hnswc_train(x, data, N / 2, &e));
		CHECK(hnswc_trained(x) == 1, "trained");
		for (size_t i = 0; i < N; i++)
			OK(hnswc_add(x, data + i * DIM, i, &e));
		CHECK(hnswc_train(x, data, N, &e) == HNSWC_EINVAL,
		      "train after add accepted");
		OK(hnswc_get_vector(x, 77, v, &e));
		CHECK(!memcmp(v, data + 77 * DIM, sizeof(v)),
		      "get_vector is not the float vector");
		double rf = recall(f, space, data, N, qs, NQ, 64, NULL, NULL);
		double rq = recall(x, space, data, N, qs, NQ, 64, NULL, NULL);
		OK(hnswc_set_rerank(x, 1));
		double r1 = recall(x, space, data, N, qs, NQ, 64, NULL, NULL);
		CHECK(hnswc_set_rerank(x, 0) == HNSWC_EINVAL, "rerank 0");
		OK(hnswc_set_rerank(x, HNSWC_DEFAULT_RERANK));
		printf("sq8 %s: recall@10 ef64 %.4f (rerank 1: %.4f, float "
		       "%.4f), memory %zu bytes (float %zu)\n",
		       space == HNSWC_L2 ? "L2" : "IP", rq, r1, rf,
		       hnswc_memory_bytes(x), hnswc_memory_bytes(f));
		CHECK(rq >= rf - 0.02, "sq8 recall %f, float %f", rq, rf);
		double rflt = recall(x, space, data, N, qs, NQ, 64, accept_even,
				     NULL);
		CHECK(rflt > 0.9, "sq8 filtered recall %f", rflt);

		/* Replace: the new float row is what search and get see. */
		OK(hnswc_add(x, data + 5 * DIM, 9, &e));
		OK(hnswc_get_vector(x, 9, v, &e));
		CHECK(!memcmp(v, data + 5 * DIM, sizeof(v)), "replaced row");
		OK(hnswc_add(x, data + 9 * DIM, 9, &e));

		/* Round trip. */
		size_t len = 0;
		CHECK(hnswc_save_mem(x, NULL, 0, &len, &e) == HNSWC_EINVAL &&
			      len == hnswc_serialized_size(x),
		      "size probe");
		void *buf = malloc(len);
		OK(hnswc_save_mem(x, buf, len, &len, &e));
		CHECK(hnswc_load_mem(buf, len, space, DIM, 0, &y, &e) ==
			      HNSWC_ECORRUPT,
		      "sq8 bytes loaded as float: %s", e.msg);
		OK(hnswc_load_mem_q(buf, len, space, HNSWC_QUANT_SQ8, DIM, 0,
				    &y, &e));
		CHECK(hnswc_trained(y) == 1 && hnswc_count(y) == N,
		      "loaded state");
		for (size_t q = 0; q < 20; q++) {
			uint64_t la[K], lb[K];
			float da[K], db[K];
			int na = hnswc_search(x, qs + q * DIM, K, 64, NULL,
					      NULL, la, da, NULL);
			int nb = hnswc_search(y, qs + q * DIM, K, 64, NULL,
					      NULL, lb, db, NULL);
			CHECK(na == nb && !memcmp(la, lb, sizeof(la[0]) * na) &&
				      !memcmp(da, db, sizeof(da[0]) * na),
			      "query %zu differs after reload", q);
		}
		/* Grow after load: rows follow the capacity. */
		OK(hnswc_resize(y, 2 * N, &e));
		OK(hnswc_add(y, data + 3 * DIM, N + 1, &e));
		OK(hnswc_get_vector(y, N + 1, v, &e));
		CHECK(!memcmp(v, data + 3 * DIM, sizeof(v)), "row after grow");
		/* A truncated float block is refused. */
		hnswc_index *z;
		CHECK(hnswc_load_mem_q(buf, len - 4, space, HNSWC_QUANT_SQ8,
				       DIM, 0, &z, &e) == HNSWC_ECORRUPT &&
			      z == NULL,
		      "truncated sq8 loaded: %s", e.msg);
		free(buf);

		/* An empty untrained index round-trips untrained. */
		hnswc_index *u, *w;
		OK(hnswc_create_q(space, HNSWC_QUANT_SQ8, DIM, 4, 16, 200, 1,
				  &u, &e));
		len = (size_t)hnswc_serialized_size(u);
		buf = malloc(len);
		OK(hnswc_save_mem(u, buf, len, &len, &e));
		OK(hnswc_load_mem_q(buf, len, space, HNSWC_QUANT_SQ8, DIM, 4,
				    &w, &e));
		CHECK(!hnswc_trained(w), "empty index came back trained");
		CHECK(hnswc_search(w, qs, K, 0, NULL, NULL, (uint64_t[K]){ 0 },
				   NULL, NULL) == 0,
		      "search of an empty sq8 index");
		free(buf);
		hnswc_free(u);
		hnswc_free(w);

		/* Trained on one vector (ranges of one value), retrained
		 * on what is stored after 100 adds (codes re-encoded), as
		 * the vector backend does when its first batch was small. */
		hnswc_index *t1;
		OK(hnswc_create_q(space, HNSWC_QUANT_SQ8, DIM, N / 2, 16, 200,
				  42, &t1, &e));
		CHECK(hnswc_retrain(t1, &e) == HNSWC_EINVAL,
		      "retrain of an empty index");
		OK(hnswc_train(t1, data, 1, &e));
		for (size_t i = 0; i < 100; i++)
			OK(hnswc_add(t1, data + i * DIM, i, &e));
		OK(hnswc_set_rerank(t1, 1));
		double rbad =
			recall(t1, space, data, 100, qs, NQ, 64, NULL, NULL);
		OK(hnswc_retrain(t1, &e));
		double rre =
			recall(t1, space, data, 100, qs, NQ, 64, NULL, NULL);
		for (size_t i = 100; i < N / 2; i++)
			OK(hnswc_add(t1, data + i * DIM, i, &e));
		OK(hnswc_set_rerank(t1, HNSWC_DEFAULT_RERANK));
		double rall =
			recall(t1, space, data, N / 2, qs, NQ, 64, NULL, NULL);
		printf("sq8 %s: 100 vectors coded from 1 trained: %.4f, "
		       "retrained: %.4f (rerank 1); all %d: %.4f\n",
		       space == HNSWC_L2 ? "L2" : "IP", rbad, rre, N / 2, rall);
		CHECK(rre > rbad && rall >= rq - 0.02,
		      "retrain: %f -> %f, all %f", rbad, rre, rall);
		hnswc_free(t1);
		hnswc_free(y);
		hnswc_free(x);
		hnswc_free(f);
	}
	printf("ok sq8 (L2, IP)\n");
}

static void test_recall(void)
{
	for (int space = HNSWC_L2; space <= HNSWC_IP; space++) {
		const float *data = space == HNSWC_L2 ? data_l2 : data_ip;
		const float *qs = space == HNSWC_L2 ? queries : queries_ip;
		hnswc_index *x = build(space, data, N, N);
		CHECK(hnswc_count(x) == N, "count %zu", hnswc_count(x));
		CHECK(hnswc_capacity(x) == N, "capacity");
		CHECK(hnswc_dim(x) == DIM && hnswc_space(x) == space, "dims");
		double r64 = recall(x, space, data, N, qs, NQ, 64, NULL, NULL);
		double r10 = recall(x, space, data, N, qs, NQ, 10, NULL, NULL);
		/* Default ef (10) equals ef=10; set_ef changes the default. */
		double rdef = recall(x, space, data, N, qs, NQ, 0, NULL, NULL);
		CHECK(rdef == r10, "default ef: %f vs %f", rdef, r10);
		OK(hnswc_set_ef(x, 64));
		CHECK(hnswc_get_ef(x) == 64, "get_ef");
		rdef = recall(x, space, data, N, qs, NQ, 0, NULL, NULL);
		CHECK(rdef == r64, "set_ef: %f vs %f", rdef, r64);
		double r200 =
			recall(x, space, data, N, qs, NQ, 200, NULL, NULL);
		printf("recall %s: ef10 %.4f ef64 %.4f ef200 %.4f, memory "
		       "%zu bytes\n",
		       space == HNSWC_L2 ? "L2" : "IP", r10, r64, r200,
		       hnswc_memory_bytes(x));
		CHECK(r64 > 0.95, "recall@10 at ef 64 is %f", r64);
		CHECK(r200 >= r64 - 0.01, "ef 200 worse than 64");

		/* A query equal to a stored vector finds it at distance 0
		 * (1 - |v|^2 = 0 for IP over unit vectors). */
		uint64_t lab[K];
		float dis[K];
		int n = hnswc_search(x, data + 123 * DIM, K, 64, NULL, NULL,
				     lab, dis, NULL);
		CHECK(n == K && lab[0] == 123 && fabsf(dis[0]) < 1e-5f,
		      "self query: n %d label %llu dist %g", n,
		      (unsigned long long)lab[0], dis[0]);
		/* distances NULL is allowed; k larger than the index */
		n = hnswc_search(x, qs, 5, 0, NULL, NULL, lab, NULL, NULL);
		CHECK(n == 5, "distances NULL: %d", n);
		hnswc_free(x);
	}
	printf("ok recall (L2, IP)\n");
}

static int accept_even(uint64_t label, void *ctx)
{
	(void)ctx;
	return label % 2 == 0;
}

struct set {
	const uint64_t *v;
	size_t n;
	size_t calls;
};

static int accept_set(uint64_t label, void *ctx)
{
	struct set *s = ctx;
	s->calls++;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == label)
			return 1;
	return 0;
}

static void test_filter(void)
{
	hnswc_index *x = build(HNSWC_L2, data_l2, N, N);
	double r = recall(x, HNSWC_L2, data_l2, N, queries, NQ, 64, accept_even,
			  NULL);
	CHECK(r > 0.95, "filtered recall %f", r);
	for (size_t q = 0; q < 20; q++) {
		uint64_t lab[K];
		float dis[K];
		int n = hnswc_search(x, queries + q * DIM, K, 64, accept_even,
				     NULL, lab, dis, NULL);
		CHECK(n == K, "filtered n %d", n);
		for (int i = 0; i < n; i++)
			CHECK(lab[i] % 2 == 0, "odd label %llu",
			      (unsigned long long)lab[i]);
	}
	/* Very selective: 5 accepted labels, all found, exact order. */
	static const uint64_t few[] = { 17, 404, 999, N * 3 / 4, N - 1 };
	struct set s = { few, 5, 0 };
	uint64_t lab[K], truth[K];
	float dis[K];
	int n = hnswc_search(x, queries, K, 16, accept_set, &s, lab, dis, NULL);
	size_t m =
		brute(HNSWC_L2, data_l2, N, queries, K, accept_set, &s, truth);
	CHECK(n == 5 && m == 5, "selective filter: %d / %zu", n, m);
	for (int i = 0; i < n; i++)
		CHECK(lab[i] == truth[i], "selective %d: %llu vs %llu", i,
		      (unsigned long long)lab[i], (unsigned long long)truth[i]);
	/* Reject all. */
	struct set none = { few, 0, 0 };
	n = hnswc_search(x, queries, K, 64, accept_set, &none, lab, dis, NULL);
	CHECK(n == 0, "reject-all filter returned %d", n);
	CHECK(none.calls > 0, "filter never called");
	hnswc_free(x);
	printf("ok filter (recall %.4f)\n", r);
}

/*
 * hnswc_distances(): the same distances as the reference for float and SQ8
 * indexes (SQ8 on its float vectors), HUGE_VALF for deleted and absent
 * labels, and the count of labels scored; bad arguments refused.
 */
static void test_distances(void)
{
	for (int quant = 0; quant < 2; quant++) {
		for (int space = 0; space < 2; space++) {
			const float *data =
				space == HNSWC_L2 ? data_l2 : data_ip;
			const float *q =
				space == HNSWC_L2 ? queries : queries_ip;
			uint64_t lab[64];
			float dis[64];
			hnswc_index *x;
			hnswc_error e;

			OK(hnswc_create_q(space, quant, DIM, N, 16, 100, 42, &x,
					  &e));
			if (quant)
				OK(hnswc_train(x, data, N, &e));
			for (size_t i = 0; i < 500; i++)
				OK(hnswc_add(x, data + i * DIM, i, &e));
			OK(hnswc_mark_deleted(x, 7, &e));
			for (size_t i = 0; i < 64; i++)
				lab[i] = (i * 37) % 520; /* some >= 500 */
			int n = hnswc_distances(x, q, lab, 64, dis, &e);
			int want = 0;
			for (size_t i = 0; i < 64; i++) {
				if (lab[i] >= 500 || lab[i] == 7) {
					CHECK(dis[i] == HUGE_VALF,
					      "label %llu: %g, not HUGE_VALF",
					      (unsigned long long)lab[i],
					      dis[i]);
					continue;
				}
				want++;
				float d = dist(space, q, data + lab[i] * DIM);
				CHECK(fabsf(d - dis[i]) <=
					      1e-4f * (1 + fabsf(d)),
				      "label %llu: %g, expected %g",
				      (unsigned long long)lab[i], dis[i], d);
			}
			CHECK(n == want, "scored %d, expected %d", n, want);
			CHECK(hnswc_distances(x, q, lab, 0, NULL, &e) == 0,
			      "no labels");
			CHECK(hnswc_distances(x, q, NULL, 3, dis, &e) ==
				      HNSWC_EINVAL,
			      "NULL labels accepted");
			float bad[DIM];
			memcpy(bad, q, sizeof(bad));
			bad[3] = NAN;
			CHECK(hnswc_distances(x, bad, lab, 3, dis, &e) ==
				      HNSWC_EINVAL,
			      "NaN query accepted");
			hnswc_free(x);
		}
	}
	printf("ok distances\n");
}

static void test_replace_delete(void)
{
	float *data = malloc(sizeof(float) * N * DIM);
	memcpy(data, data_l2, sizeof(float) * N * DIM);
	hnswc_index *x = build(HNSWC_L2, data, N, N);
	uint64_t lab[K];
	float dis[K];
	hnswc_error e;
	float q[DIM];
	fill(q, 1, 0);

	/* Replace label 7 by q: q's nearest becomes 7 at distance 0. */
	int n = hnswc_search(x, q, 1, 64, NULL, NULL, lab, dis, NULL);
	CHECK(n == 1 && lab[0] != 7, "7 already nearest");
	float old7[DIM];
	memcpy(old7, data + 7 * DIM, sizeof(old7));
	OK(hnswc_add(x, q, 7, &e));
	memcpy(data + 7 * DIM, q, sizeof(q));
	CHECK(hnswc_count(x) == N, "replace added an element");
	n = hnswc_search(x, q, K, 64, NULL, NULL, lab, dis, NULL);
	CHECK(n == K && lab[0] == 7 && dis[0] == 0.0f, "after replace: %llu %g",
	      (unsigned long long)lab[0], dis[0]);
	n = hnswc_search(x, old7, K, 64, NULL, NULL, lab, dis, NULL);
	CHECK(n == K && !(lab[0] == 7 && dis[0] == 0.0f),
	      "old vector of 7 still found at 0");
	float got[DIM];
	OK(hnswc_get_vector(x, 7, got, &e));
	CHECK(memcmp(got, q, sizeof(q)) == 0, "get_vector after replace");
	CHECK(hnswc_get_vector(x, 123456, got, &e) == HNSWC_ENOTFOUND &&
		      e.code == HNSWC_ENOTFOUND,
	      "get_vector unknown");
	double r = recall(x, HNSWC_L2, data, N, queries, NQ, 64, NULL, NULL);
	CHECK(r > 0.95, "recall after replace %f", r);

	/* Delete the nearest of each of 50 queries: never returned. */
	uint64_t gone[50];
	for (int i = 0; i < 50; i++) {
		n = hnswc_search(x, queries + i * DIM, 1, 64, NULL, NULL, lab,
				 dis, NULL);
		CHECK(n == 1, "search");
		gone[i] = lab[0];
		int rc = hnswc_mark_deleted(x, lab[0], &e);
		CHECK(rc == 0, "mark_deleted: %s", e.msg);
		CHECK(hnswc_contains(x, lab[0]) == 0, "contains deleted");
		OK(hnswc_mark_deleted(x, lab[0], &e)); /* idempotent */
	}
	size_t del = hnswc_deleted_count(x);
	CHECK(del >= 40 && del <= 50, "deleted %zu", del);
	CHECK(hnswc_count(x) == N, "count after delete");
	for (int i = 0; i < 50; i++) {
		n = hnswc_search(x, queries + i * DIM, K, 64, NULL, NULL, lab,
				 dis, NULL);
		CHECK(n == K, "n %d", n);
		for (int j = 0; j < n; j++)
			for (int g = 0; g < 50; g++)
				CHECK(lab[j] != gone[g], "deleted %llu found",
				      (unsigned long long)gone[g]);
	}
	CHECK(hnswc_mark_deleted(x, 999999, &e) == HNSWC_ENOTFOUND &&
		      e.code == HNSWC_ENOTFOUND && e.msg[0],
	      "unknown label");
	CHECK(hnswc_contains(x, 999999) == HNSWC_ENOTFOUND, "contains");
	CHECK(hnswc_contains(x, 5) == 1 || hnswc_contains(x, 5) == 0,
	      "contains 5");

	/* Re-adding a deleted label undeletes it with the new vector. */
	uint64_t l = gone[0];
	OK(hnswc_add(x, q, l, &e));
	memcpy(data + l * DIM, q, sizeof(q));
	CHECK(hnswc_contains(x, l) == 1, "undeleted");
	CHECK(hnswc_deleted_count(x) == del - 1, "deleted count");
	n = hnswc_search(x, q, 2, 64, NULL, NULL, lab, dis, NULL);
	CHECK(n == 2 && dis[0] == 0 && dis[1] == 0 &&
		      ((lab[0] == 7 && lab[1] == l) ||
		       (lab[0] == l && lab[1] == 7)),
	      "re-added label not found");
	/* Deleting everything: searches return nothing. */
	for (uint64_t i = 0; i < N; i++)
		OK(hnswc_mark_deleted(x, i, &e));
	CHECK(hnswc_deleted_count(x) == N, "all deleted");
	n = hnswc_search(x, q, K, 64, NULL, NULL, lab, dis, NULL);
	CHECK(n == 0, "all deleted: %d", n);
	OK(hnswc_add(x, q, 3, &e));
	n = hnswc_search(x, q, K, 64, NULL, NULL, lab, dis, NULL);
	CHECK(n == 1 && lab[0] == 3, "only 3 live: %d", n);
	hnswc_free(x);
	free(data);
	printf("ok replace, delete, re-add\n");
}

static void test_resize(void)
{
	hnswc_error e;
	hnswc_index *x = build(HNSWC_L2, data_l2, 100, 100);
	size_t mem100 = hnswc_memory_bytes(x);
	int rc = hnswc_add(x, data_l2 + 100 * DIM, 100, &e);
	CHECK(rc == HNSWC_EFULL && e.code == HNSWC_EFULL, "full: %d", rc);
	/* Replacing still works when full. */
	OK(hnswc_add(x, data_l2 + 5 * DIM, 5, &e));
	CHECK(hnswc_resize(x, 99, &e) == HNSWC_EINVAL, "shrink below count");
	CHECK(hnswc_resize(x, 0, &e) == HNSWC_EINVAL, "resize 0");
	CHECK(hnswc_resize(x, (size_t)1 << 40, &e) == HNSWC_EINVAL,
	      "resize huge");
	OK(hnswc_resize(x, 300, &e));
	CHECK(hnswc_capacity(x) == 300, "capacity %zu", hnswc_capacity(x));
	CHECK(hnswc_memory_bytes(x) > mem100, "memory did not grow");
	for (size_t i = 100; i < 300; i++)
		OK(hnswc_add(x, data_l2 + i * DIM, i, &e));
	CHECK(hnswc_add(x, data_l2 + 300 * DIM, 300, &e) == HNSWC_EFULL,
	      "full at 300");
	OK(hnswc_resize(x, N, &e));
	for (size_t i = 300; i < N; i++)
		OK(hnswc_add(x, data_l2 + i * DIM, i, &e));
	double r = recall(x, HNSWC_L2, data_l2, N, queries, NQ, 64, NULL, NULL);
	CHECK(r > 0.95, "recall after resizes %f", r);
	/* Shrink to exactly the count. */
	OK(hnswc_resize(x, N + 500, &e));
	OK(hnswc_resize(x, N, &e));
	CHECK(hnswc_capacity(x) == N, "shrunk");
	r = recall(x, HNSWC_L2, data_l2, N, queries, NQ, 64, NULL, NULL);
	CHECK(r > 0.95, "recall after shrink %f", r);
	hnswc_free(x);
	printf("ok resize (recall %.4f)\n", r);
}

static void same_results(hnswc_index *a, hnswc_index *b, const float *qs)
{
	for (int q = 0; q < 50; q++) {
		uint64_t la[K], lb[K];
		float da[K], db[K];
		int na = hnswc_search(a, qs + q * DIM, K, 64, NULL, NULL, la,
				      da, NULL);
		int nb = hnswc_search(b, qs + q * DIM, K, 64, NULL, NULL, lb,
				      db, NULL);
		CHECK(na == nb && na > 0, "counts %d %d", na, nb);
		CHECK(memcmp(la, lb, sizeof(la[0]) * na) == 0 &&
			      memcmp(da, db, sizeof(da[0]) * na) == 0,
		      "results differ at query %d", q);
	}
}

static char tmpdir[] = "/tmp/test_hnswlib_c.XXXXXX";

static char *tmp(const char *name)
{
	static char buf[4][256];
	static int i;
	char *p = buf[i++ % 4];
	snprintf(p, 256, "%s/%s", tmpdir, name);
	return p;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	CHECK(f, "open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *b = malloc(n ? n : 1);
	CHECK(fread(b, 1, n, f) == (size_t)n, "read");
	fclose(f);
	*len = n;
	return b;
}

static void spit(const char *path, const void *b, size_t len)
{
	FILE *f = fopen(path, "wb");
	CHECK(f, "create %s", path);
	CHECK(fwrite(b, 1, len, f) == len, "write");
	fclose(f);
}

static void test_save_load(void)
{
	hnswc_error e;
	hnswc_index *x = build(HNSWC_L2, data_l2, N, N + 10), *y;
	for (uint64_t l = 0; l < 30; l++)
		OK(hnswc_mark_deleted(x, l * 7, &e));
	const char *path = tmp("a.hnsw");
	int rc = hnswc_save(x, path, &e);
	CHECK(rc == 0, "save: %s", e.msg);
	size_t len;
	unsigned char *file = slurp(path, &len);
	CHECK(len == hnswc_serialized_size(x), "size %zu vs %llu", len,
	      (unsigned long long)hnswc_serialized_size(x));

	/* file */
	rc = hnswc_load(path, HNSWC_L2, DIM, 0, &y, &e);
	CHECK(rc == 0, "load: %s", e.msg);
	CHECK(hnswc_count(y) == N && hnswc_deleted_count(y) == 30,
	      "loaded counts %zu %zu", hnswc_count(y), hnswc_deleted_count(y));
	CHECK(hnswc_capacity(y) == N, "capacity %zu", hnswc_capacity(y));
	same_results(x, y, queries);
	/* the loaded index is fully usable: resize, add, delete */
	OK(hnswc_resize(y, N + 100, &e));
	OK(hnswc_add(y, queries, 5000, &e));
	OK(hnswc_mark_deleted(y, 5000, &e));
	hnswc_free(y);

	/* memory, with a larger capacity */
	size_t need;
	CHECK(hnswc_save_mem(x, file, 10, &need, &e) == HNSWC_EINVAL &&
		      need == len,
	      "small buffer");
	unsigned char *mem = malloc(len);
	size_t wrote;
	OK(hnswc_save_mem(x, mem, len, &wrote, &e));
	CHECK(wrote == len && memcmp(mem, file, len) == 0,
	      "memory image differs from the file");
	rc = hnswc_load_mem(mem, len, HNSWC_L2, DIM, 5000, &y, &e);
	CHECK(rc == 0, "load_mem: %s", e.msg);
	CHECK(hnswc_capacity(y) == 5000, "capacity %zu", hnswc_capacity(y));
	same_results(x, y, queries);
	hnswc_free(y);

	/* FILE*, embedded between a caller's header and trailer */
	FILE *f = fopen(tmp("b.bin"), "w+b");
	CHECK(f, "fopen");
	fputs("HEADER", f);
	uint64_t n64;
	OK(hnswc_save_fp(x, f, &n64, &e));
	CHECK(n64 == len, "save_fp wrote %llu", (unsigned long long)n64);
	fputs("TRAILER", f);
	fflush(f);
	fseek(f, 6, SEEK_SET);
	rc = hnswc_load_fp(f, n64, HNSWC_L2, DIM, 0, &y, &e);
	CHECK(rc == 0, "load_fp: %s", e.msg);
	char t[8] = { 0 };
	CHECK(fread(t, 1, 7, f) == 7 && strcmp(t, "TRAILER") == 0,
	      "position after load_fp");
	same_results(x, y, queries);
	hnswc_free(y);
	/* a len past the end of the file is refused before reading */
	fseek(f, 6, SEEK_SET);
	rc = hnswc_load_fp(f, n64 + 100, HNSWC_L2, DIM, 0, &y, &e);
	CHECK(rc == HNSWC_ECORRUPT && !y, "load_fp long len: %d", rc);
	/* a len that cuts the index short */
	fseek(f, 6, SEEK_SET);
	rc = hnswc_load_fp(f, n64 - 1, HNSWC_L2, DIM, 0, &y, &e);
	CHECK(rc == HNSWC_ECORRUPT && !y, "load_fp short len: %d", rc);
	fclose(f);

	/* wrong dim and wrong parameters */
	rc = hnswc_load(path, HNSWC_L2, DIM / 2, 0, &y, &e);
	CHECK(rc == HNSWC_ECORRUPT && strstr(e.msg, "dim") &&
		      strstr(e.msg, path),
	      "wrong dim: %d %s", rc, e.msg);
	CHECK(hnswc_load(path, 7, DIM, 0, &y, &e) == HNSWC_EINVAL, "space");
	CHECK(hnswc_load(NULL, 0, DIM, 0, &y, &e) == HNSWC_EINVAL, "path");

	/* empty index round trip */
	hnswc_index *z;
	OK(hnswc_create(HNSWC_IP, DIM, 10, 8, 50, 1, &z, &e));
	OK(hnswc_save(z, tmp("empty.hnsw"), &e));
	rc = hnswc_load(tmp("empty.hnsw"), HNSWC_IP, DIM, 0, &y, &e);
	CHECK(rc == 0 && hnswc_count(y) == 0, "empty load: %s", e.msg);
	uint64_t lab[K];
	CHECK(hnswc_search(y, queries_ip, K, 0, NULL, NULL, lab, NULL, NULL) ==
		      0,
	      "search empty");
	OK(hnswc_add(y, data_ip, 1, &e));
	CHECK(hnswc_search(y, queries_ip, K, 0, NULL, NULL, lab, NULL, NULL) ==
		      1,
	      "search one");
	hnswc_free(y);
	hnswc_free(z);

	free(mem);
	free(file);
	hnswc_free(x);
	printf("ok save/load (file, FILE*, memory; %zu bytes)\n", len);
}

/* Load `b`: must fail with ECORRUPT (or succeed when `may_pass`). */
static int try_load(const void *b, size_t len, int may_pass)
{
	hnswc_index *y = (hnswc_index *)1;
	hnswc_error e;
	int rc = hnswc_load_mem(b, len, HNSWC_L2, DIM, 0, &y, &e);
	if (rc == 0) {
		CHECK(may_pass, "corrupt input accepted");
		/* whatever was accepted must be safe to use */
		uint64_t lab[K];
		float dis[K];
		int n = hnswc_search(y, queries, K, 32, NULL, NULL, lab, dis,
				     NULL);
		CHECK(n >= 0, "search on accepted input");
		hnswc_free(y);
		return 0;
	}
	CHECK(rc == HNSWC_ECORRUPT && e.code == rc && !y,
	      "expected ECORRUPT, got %d (%s)", rc, e.msg);
	CHECK(strncmp(e.msg, "buffer: corrupt index: ", 23) == 0, "message: %s",
	      e.msg);
	return rc;
}

/* Loads of bit-flipped images.  Under ThreadSanitizer each load and free
 * costs hnswlib's 65 536 update mutexes, intercepted one by one: a tenth of
 * the flips keeps the run in minutes (threads are tested elsewhere here). */
#ifdef HNSWC_TEST_TSAN
#define FLIPS 300
#else
#define FLIPS 3000
#endif

static void put64(unsigned char *b, size_t off, uint64_t v)
{
	memcpy(b + off, &v, 8);
}

static void test_corrupt(void)
{
	hnswc_error e;
	hnswc_index *x = build(HNSWC_L2, data_l2, 300, 300), *y;
	uint64_t lab[K];
	OK(hnswc_mark_deleted(x, 3, &e));
	size_t len = hnswc_serialized_size(x);
	unsigned char *img = malloc(len), *b = malloc(len + 64);
	OK(hnswc_save_mem(x, img, len, NULL, &e));
	CHECK(try_load(img, len, 1) == 0, "pristine image");

	/* truncations */
	static const size_t cuts[] = { 0, 1, 50, 95, 96, 97, 1000 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		try_load(img, cuts[i], 0);
	for (size_t cut = 96; cut < len; cut += 997)
		try_load(img, cut, 0);
	try_load(img, len - 1, 0);
	/* trailing garbage */
	memcpy(b, img, len);
	memset(b + len, 0, 64);
	try_load(b, len + 1, 0);

	/* header fields: offsets of hnswlib's saveIndex() layout */
	struct {
		size_t off;
		uint64_t val;
	} h[] = {
		{ 0, 8 },		   /* offsetLevel0 */
		{ 8, 10 },		   /* max_elements < count */
		{ 16, 301 },		   /* count past data */
		{ 16, (uint64_t)1 << 40 }, /* count huge */
		{ 16, UINT64_MAX },	   /* count overflow */
		{ 24, 0 },		   /* size_data_per_element */
		{ 24, UINT64_MAX / 2 },	   /* element size huge */
		{ 32, 12 },		   /* label_offset */
		{ 40, 4 },		   /* offsetData */
		{ 56, 15 },		   /* maxM */
		{ 64, 1u << 30 },	   /* maxM0 */
		{ 72, 0 },		   /* M */
		{ 72, 1000000 },	   /* M huge */
		{ 88, 0 },		   /* ef_construction */
		{ 88, UINT64_MAX },	   /* ef_construction huge */
	};
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		memcpy(b, img, len);
		put64(b, h[i].off, h[i].val);
		try_load(b, len, 0);
	}
	/* maxlevel (int at 48) and enterpoint (uint32 at 52) */
	int32_t lvls[] = { -1, 300, 1000000 };
	for (int i = 0; i < 3; i++) {
		memcpy(b, img, len);
		memcpy(b + 48, &lvls[i], 4);
		try_load(b, len, 0);
	}
	uint32_t eps[] = { 300, 0xffffffffu, 1u << 31 };
	for (int i = 0; i < 3; i++) {
		memcpy(b, img, len);
		memcpy(b + 52, &eps[i], 4);
		try_load(b, len, 0);
	}
	/* mult */
	memcpy(b, img, len);
	double bad = 1e300;
	memcpy(b + 80, &bad, 8);
	try_load(b, len, 0);

	/* neighbour id out of range / list count too large in element 10 */
	size_t sdpe, off0 = 96;
	memcpy(&sdpe, img + 24, 8);
	memcpy(b, img, len);
	uint32_t big = 300;
	memcpy(b + off0 + 10 * sdpe + 4, &big, 4);
	try_load(b, len, 0);
	memcpy(b, img, len);
	b[off0 + 10 * sdpe] = 0xff;
	b[off0 + 10 * sdpe + 1] = 0xff;
	try_load(b, len, 0);
	/* a stray header bit */
	memcpy(b, img, len);
	b[off0 + 10 * sdpe + 3] = 0x80;
	try_load(b, len, 0);
	/* a NaN vector component */
	memcpy(b, img, len);
	float nan = NAN;
	memcpy(b + off0 + 10 * sdpe + (4 + 32 * 4), &nan, 4);
	try_load(b, len, 0);
	/* duplicate label: element 11 gets element 10's label */
	memcpy(b, img, len);
	size_t loff;
	memcpy(&loff, img + 32, 8);
	memcpy(b + off0 + 11 * sdpe + loff, img + off0 + 10 * sdpe + loff, 8);
	try_load(b, len, 0);
	/* the first link-list size: not a multiple, huge */
	size_t lls = off0 + 300 * sdpe;
	uint32_t s;
	memcpy(b, img, len);
	memcpy(&s, b + lls, 4);
	s += 1;
	memcpy(b + lls, &s, 4);
	try_load(b, len, 0);
	memcpy(b, img, len);
	s = 0xfffffff0u;
	memcpy(b + lls, &s, 4);
	try_load(b, len, 0);

	/* Random single-bit flips anywhere: never a crash; what is accepted
	 * (flips in vector bits, unused bytes) still searches. */
	int rejected = 0, accepted = 0;
	for (int i = 0; i < FLIPS; i++) {
		memcpy(b, img, len);
		size_t pos = (i < FLIPS / 3) ? rnd() % 96 : rnd() % len;
		b[pos] ^= (unsigned char)(1u << (rnd() % 8));
		if (try_load(b, len, 1))
			rejected++;
		else
			accepted++;
	}
	/* Random bytes of various sizes. */
	for (int i = 0; i < 200; i++) {
		size_t n = rnd() % (len + 1);
		for (size_t j = 0; j < n; j++)
			b[j] = (unsigned char)rnd();
		try_load(b, n, 0);
	}
	/* Random bytes with a plausible header. */
	for (int i = 0; i < 200; i++) {
		memcpy(b, img, 96);
		for (size_t j = 96; j < len; j++)
			b[j] = (unsigned char)rnd();
		try_load(b, len, 0);
	}

	/* Files: truncated, flipped size field, random, empty, missing. */
	size_t flen;
	const char *path = tmp("c.hnsw");
	OK(hnswc_save(x, path, &e));
	unsigned char *file = slurp(path, &flen);
	spit(tmp("trunc.hnsw"), file, flen / 2);
	int rc = hnswc_load(tmp("trunc.hnsw"), HNSWC_L2, DIM, 0, &y, &e);
	CHECK(rc == HNSWC_ECORRUPT && strstr(e.msg, "trunc.hnsw"),
	      "truncated file: %d %s", rc, e.msg);
	memcpy(b, file, flen);
	put64(b, 24, 4096);
	spit(tmp("flip.hnsw"), b, flen);
	rc = hnswc_load(tmp("flip.hnsw"), HNSWC_L2, DIM, 0, &y, &e);
	CHECK(rc == HNSWC_ECORRUPT && strstr(e.msg, "flip.hnsw"),
	      "flipped size: %d %s", rc, e.msg);
	for (size_t j = 0; j < 5000; j++)
		b[j] = (unsigned char)rnd();
	spit(tmp("random.hnsw"), b, 5000);
	rc = hnswc_load(tmp("random.hnsw"), HNSWC_L2, DIM, 0, &y, &e);
	CHECK(rc == HNSWC_ECORRUPT, "random file: %d %s", rc, e.msg);
	spit(tmp("empty"), b, 0);
	rc = hnswc_load(tmp("empty"), HNSWC_L2, DIM, 0, &y, &e);
	CHECK(rc == HNSWC_ECORRUPT && strstr(e.msg, "empty"),
	      "empty file: %d %s", rc, e.msg);
	rc = hnswc_load(tmp("missing"), HNSWC_L2, DIM, 0, &y, &e);
	CHECK(rc == HNSWC_EIO && strstr(e.msg, "missing") && !y,
	      "missing file: %d %s", rc, e.msg);
	rc = hnswc_load(tmpdir, HNSWC_L2, DIM, 0, &y, &e);
	CHECK(rc == HNSWC_EIO, "directory: %d %s", rc, e.msg);
	rc = hnswc_save(x, tmp("no/such/dir"), &e);
	CHECK(rc == HNSWC_EIO, "save to missing dir: %d", rc);
	printf("  e.g. %s\n", e.msg);

	/* The original is unharmed by all this. */
	CHECK(hnswc_search(x, queries, K, 64, NULL, NULL, lab, NULL, NULL) == K,
	      "original");
	free(file);
	free(img);
	free(b);
	hnswc_free(x);
	printf("ok corrupt inputs (bit flips: %d rejected, %d accepted and "
	       "searched)\n",
	       rejected, accepted);
}

static void test_args(void)
{
	hnswc_index *x = (hnswc_index *)1;
	hnswc_error e;
	uint64_t lab[K];
	float v[DIM] = { 0 };

	CHECK(hnswc_create(2, DIM, 10, 16, 100, 0, &x, &e) == HNSWC_EINVAL &&
		      x == NULL && e.code == HNSWC_EINVAL && e.msg[0],
	      "bad space");
	CHECK(hnswc_create(0, 0, 10, 16, 100, 0, &x, &e) == HNSWC_EINVAL,
	      "dim 0");
	CHECK(hnswc_create(0, DIM, 0, 16, 100, 0, &x, &e) == HNSWC_EINVAL,
	      "cap 0");
	CHECK(hnswc_create(0, DIM, 10, 1, 100, 0, &x, &e) == HNSWC_EINVAL,
	      "M 1");
	CHECK(hnswc_create(0, DIM, 10, 20000, 100, 0, &x, &e) == HNSWC_EINVAL,
	      "M big");
	CHECK(hnswc_create(0, DIM, 10, 16, 0, 0, &x, &e) == HNSWC_EINVAL,
	      "efc 0");
	CHECK(hnswc_create(0, DIM, 10, 16, 100, 0, NULL, &e) == HNSWC_EINVAL,
	      "out NULL");
	CHECK(hnswc_create(0, DIM, (size_t)1 << 40, 16, 100, 0, &x, &e) ==
		      HNSWC_EINVAL,
	      "cap huge");

	OK(hnswc_create(HNSWC_L2, DIM, 10, 16, 100, 0, &x, &e));
	CHECK(e.code == 0 && e.msg[0] == 0, "err cleared on success");
	CHECK(hnswc_add(x, NULL, 1, &e) == HNSWC_EINVAL, "vec NULL");
	CHECK(hnswc_add(NULL, v, 1, &e) == HNSWC_EINVAL, "idx NULL");
	v[3] = NAN;
	CHECK(hnswc_add(x, v, 1, &e) == HNSWC_EINVAL, "NaN add");
	CHECK(hnswc_search(x, v, K, 0, NULL, NULL, lab, NULL, &e) ==
		      HNSWC_EINVAL,
	      "NaN query");
	v[3] = INFINITY;
	CHECK(hnswc_add(x, v, 1, NULL) == HNSWC_EINVAL, "inf add");
	v[3] = 0;
	CHECK(hnswc_search(x, v, K, 0, NULL, NULL, NULL, NULL, &e) ==
		      HNSWC_EINVAL,
	      "labels NULL");
	CHECK(hnswc_search(x, v, 0, 0, NULL, NULL, NULL, NULL, &e) == 0, "k 0");
	CHECK(hnswc_search(x, v, K, 0, NULL, NULL, lab, NULL, &e) == 0,
	      "empty index");
	CHECK(hnswc_set_ef(x, 0) == HNSWC_EINVAL, "ef 0");
	CHECK(hnswc_set_ef(NULL, 5) == HNSWC_EINVAL, "ef NULL");
	CHECK(hnswc_count(NULL) == 0 && hnswc_capacity(NULL) == 0 &&
		      hnswc_deleted_count(NULL) == 0 &&
		      hnswc_memory_bytes(NULL) == 0 &&
		      hnswc_serialized_size(NULL) == 0,
	      "NULL getters");
	CHECK(hnswc_save(x, NULL, &e) == HNSWC_EINVAL, "save NULL");
	CHECK(hnswc_mark_deleted(x, 1, NULL) == HNSWC_ENOTFOUND, "mark");
	OK(hnswc_add(x, v, 1, NULL));
	CHECK(hnswc_search(x, v, K, 0, NULL, NULL, lab, NULL, &e) == 1 &&
		      lab[0] == 1,
	      "single");
	CHECK(strcmp(hnswc_strerror(HNSWC_EFULL), "index full") == 0 &&
		      hnswc_strerror(-99)[0],
	      "strerror");
	hnswc_free(x);
	hnswc_free(NULL);
	printf("ok argument checks\n");
}

/* ---- concurrency ---- */

#ifdef HNSWC_TEST_TSAN
#define CN 2000 /* final number of labels */
#define CINIT 500
#else
#define CN 4000 /* final number of labels */
#define CINIT 1000
#endif
#define NTHREADS 4

static float *cdata;
static hnswc_index *cidx;
static volatile int cdone;

struct searcher {
	pthread_t t;
	unsigned id;
	long searches;
	int bad;
};

static int accept_not_mult5(uint64_t label, void *ctx)
{
	(void)ctx;
	return label % 5 != 0;
}

static void *search_thread(void *arg)
{
	struct searcher *s = arg;
	uint64_t st = 0x1234567ull * (s->id + 1);
	while (!__atomic_load_n(&cdone, __ATOMIC_ACQUIRE)) {
		st = st * 6364136223846793005ull + 1442695040888963407ull;
		const float *q = queries + ((st >> 33) % NQ) * DIM;
		uint64_t lab[K];
		float dis[K];
		int filt = (st >> 20) & 1;
		size_t ef = 16 + ((st >> 40) % 100); /* per-query ef */
		hnswc_error e;
		int n = hnswc_search(cidx, q, K, ef,
				     filt ? accept_not_mult5 : NULL, NULL, lab,
				     dis, &e);
		if (n < 0) {
			fprintf(stderr, "search: %s\n", e.msg);
			s->bad++;
			continue;
		}
		if (n != K)
			s->bad++;
		for (int i = 0; i < n; i++) {
			if (lab[i] >= CN || (filt && lab[i] % 5 == 0))
				s->bad++;
			if (i && dis[i - 1] > dis[i])
				s->bad++;
		}
		s->searches++;
	}
	return NULL;
}

static void test_concurrency(void)
{
	hnswc_error e;
	cdata = malloc(sizeof(float) * CN * DIM);
	fill(cdata, CN, 0);
	cidx = build(HNSWC_L2, cdata, CINIT, CINIT + 500);
	struct searcher s[NTHREADS];
	for (unsigned i = 0; i < NTHREADS; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].id = i;
		CHECK(pthread_create(&s[i].t, NULL, search_thread, &s[i]) == 0,
		      "pthread_create");
	}
	/* The writer: new labels (with resizes when full), replacements
	 * and deletions, while the searchers run. */
	size_t resizes = 0, replaced = 0, deleted = 0;
	for (size_t i = CINIT; i < CN; i++) {
		int rc = hnswc_add(cidx, cdata + i * DIM, i, &e);
		if (rc == HNSWC_EFULL) {
			OK(hnswc_resize(cidx, hnswc_capacity(cidx) + 500, &e));
			resizes++;
			rc = hnswc_add(cidx, cdata + i * DIM, i, &e);
		}
		CHECK(rc == 0, "concurrent add %zu: %s", i, e.msg);
		if (i % 7 == 0) {
			uint64_t l = rnd() % i;
			fill(cdata + l * DIM, 1, 0);
			OK(hnswc_add(cidx, cdata + l * DIM, l, &e));
			replaced++;
		}
		if (i % 50 == 0) {
			uint64_t l = rnd() % i;
			OK(hnswc_mark_deleted(cidx, l, &e));
			OK(hnswc_add(cidx, cdata + l * DIM, l, &e));
			deleted++;
		}
	}
	/* keep searching a little after the last write */
	nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	__atomic_store_n(&cdone, 1, __ATOMIC_RELEASE);
	long total = 0;
	for (unsigned i = 0; i < NTHREADS; i++) {
		pthread_join(s[i].t, NULL);
		CHECK(s[i].bad == 0, "thread %u: %d bad results", i, s[i].bad);
		total += s[i].searches;
	}
	CHECK(hnswc_count(cidx) == CN && hnswc_deleted_count(cidx) == 0,
	      "final counts %zu %zu", hnswc_count(cidx),
	      hnswc_deleted_count(cidx));
	double r =
		recall(cidx, HNSWC_L2, cdata, CN, queries, NQ, 64, NULL, NULL);
	CHECK(r > 0.95, "recall after concurrent build %f", r);
	hnswc_free(cidx);
	free(cdata);
	printf("ok concurrency (%d searchers: %ld searches during %d adds, "
	       "%zu replaces, %zu delete+re-add, %zu resizes; recall %.4f)\n",
	       NTHREADS, total, CN - CINIT, replaced, deleted, resizes, r);
}

/* ---- batches (hnswc_add_batch) ---- */

/* Row pointers of data[0..n) and labels first..first+n-1. */
static void rows(const float *data, size_t n, uint64_t first, const float **vp,
		 uint64_t *lab)
{
	for (size_t i = 0; i < n; i++) {
		vp[i] = data + i * DIM;
		lab[i] = first + i;
	}
}

/* An index of data[0..n) built by one batch of `threads` threads. */
static hnswc_index *build_batch(int space, int quant, const float *data,
				size_t n, size_t threads)
{
	const float **vp = malloc(n * sizeof(*vp));
	uint64_t *lab = malloc(n * sizeof(*lab));
	unsigned char *done = malloc(n);
	hnswc_index *x;
	hnswc_error e;

	CHECK(vp && lab && done, "out of memory");
	OK(hnswc_create_q(space, quant, DIM, n, 16, 200, 42, &x, &e));
	if (quant == HNSWC_QUANT_SQ8)
		OK(hnswc_train(x, data, n, &e));
	rows(data, n, 0, vp, lab);
	int rc = hnswc_add_batch(x, vp, lab, n, threads, done, &e);
	CHECK(rc == 0, "batch of %zu with %zu threads: %s", n, threads, e.msg);
	for (size_t i = 0; i < n; i++)
		CHECK(done[i] == 1, "entry %zu not done", i);
	CHECK(hnswc_count(x) == n, "count %zu, expected %zu", hnswc_count(x),
	      n);
	free(vp);
	free(lab);
	free(done);
	return x;
}

/* Every label 0..n-1 is live and holds data's row. */
static void check_rows(hnswc_index *x, const float *data, size_t n)
{
	float v[DIM];
	hnswc_error e;

	for (size_t i = 0; i < n; i++) {
		CHECK(hnswc_contains(x, i) == 1, "label %zu not live", i);
		OK(hnswc_get_vector(x, i, v, &e));
		CHECK(!memcmp(v, data + i * DIM, sizeof(v)),
		      "label %zu: wrong vector", i);
	}
}

/* The serialised bytes of two indexes are equal. */
static int same_bytes(hnswc_index *a, hnswc_index *b)
{
	size_t la = (size_t)hnswc_serialized_size(a);
	size_t lb = (size_t)hnswc_serialized_size(b);
	unsigned char *ba = malloc(la ? la : 1), *bb = malloc(lb ? lb : 1);
	hnswc_error e;
	int same;

	CHECK(ba && bb, "out of memory");
	OK(hnswc_save_mem(a, ba, la, &la, &e));
	OK(hnswc_save_mem(b, bb, lb, &lb, &e));
	same = la == lb && !memcmp(ba, bb, la);
	free(ba);
	free(bb);
	return same;
}

/*
 * One thread: the very graph hnswc_add() builds (byte for byte).  Several:
 * every label stored with its vector, recall within 0.02 of the serial
 * build (L2, IP, SQ8).  Mixed batches (new, replaced, deleted labels and a
 * label given twice), all-or-nothing refusals (full, NaN, NULL), and the
 * done flags.
 */
static void test_batch(void)
{
	hnswc_error e;

	for (int quant = HNSWC_QUANT_NONE; quant <= HNSWC_QUANT_SQ8; quant++)
		for (int space = HNSWC_L2; space <= HNSWC_IP; space++) {
			const float *data =
				space == HNSWC_L2 ? data_l2 : data_ip;
			const float *qs =
				space == HNSWC_L2 ? queries : queries_ip;
			hnswc_index *s, *one, *par;

			OK(hnswc_create_q(space, quant, DIM, N, 16, 200, 42, &s,
					  &e));
			if (quant == HNSWC_QUANT_SQ8)
				OK(hnswc_train(s, data, N, &e));
			for (size_t i = 0; i < N; i++)
				OK(hnswc_add(s, data + i * DIM, i, &e));
			one = build_batch(space, quant, data, N, 1);
			CHECK(same_bytes(s, one),
			      "a 1-thread batch built another graph than "
			      "hnswc_add (space %d, quant %d)",
			      space, quant);
			par = build_batch(space, quant, data, N, 4);
			check_rows(par, data, N);
			double rs = recall(s, space, data, N, qs, NQ, 64, NULL,
					   NULL);
			double rp = recall(par, space, data, N, qs, NQ, 64,
					   NULL, NULL);
			printf("batch %s%s: recall@10 ef64 serial %.4f, 4 "
			       "threads %.4f\n",
			       space == HNSWC_L2 ? "L2" : "IP",
			       quant ? " sq8" : "", rs, rp);
			CHECK(rp >= rs - 0.02 && rp > 0.9,
			      "parallel recall %f, serial %f", rp, rs);
			hnswc_free(s);
			hnswc_free(one);
			hnswc_free(par);
		}

	/* Mixed: labels 0..H-1 exist (every 3rd deleted); the batch
	 * replaces 0..H-1, undeletes the deleted ones, adds H..N-1, and
	 * gives label 5 twice (the later vector wins). */
	enum { H = N / 2 };
	size_t nb = N + 1;
	const float **vp = malloc(nb * sizeof(*vp));
	uint64_t *lab = malloc(nb * sizeof(*lab));
	unsigned char *done = malloc(nb);
	float *fresh = malloc(sizeof(float) * N * DIM);
	float v[DIM];
	CHECK(vp && lab && done && fresh, "out of memory");
	for (int quant = HNSWC_QUANT_NONE; quant <= HNSWC_QUANT_SQ8; quant++) {
		hnswc_index *x;
		OK(hnswc_create_q(HNSWC_L2, quant, DIM, N, 16, 200, 42, &x,
				  &e));
		if (quant == HNSWC_QUANT_SQ8)
			OK(hnswc_train(x, data_l2, N, &e));
		for (size_t i = 0; i < H; i++)
			OK(hnswc_add(x, data_l2 + i * DIM, i, &e));
		for (size_t i = 0; i < H; i += 3)
			OK(hnswc_mark_deleted(x, i, &e));
		memcpy(fresh, data_l2, sizeof(float) * N * DIM);
		fill(fresh, H, 0); /* new vectors for 0..H-1 */
		rows(fresh, N, 0, vp, lab);
		vp[N] = data_l2 + 7 * DIM; /* label 5 again */
		lab[N] = 5;
		OK(hnswc_add_batch(x, vp, lab, nb, 3, done, &e));
		for (size_t i = 0; i < nb; i++)
			CHECK(done[i] == 1, "mixed: entry %zu not done", i);
		CHECK(hnswc_count(x) == N && hnswc_deleted_count(x) == 0,
		      "mixed: count %zu, deleted %zu", hnswc_count(x),
		      hnswc_deleted_count(x));
		memcpy(fresh + 5 * DIM, data_l2 + 7 * DIM, sizeof(v));
		check_rows(x, fresh, N);
		double r = recall(x, HNSWC_L2, fresh, N, queries, NQ, 64, NULL,
				  NULL);
		CHECK(r > 0.9, "mixed: recall %f", r);

		/* Refused before anything changes: no room (N + 1 new
		 * labels for none free), a NaN, a NULL vector. */
		OK(hnswc_resize(x, N + 10, &e));
		rows(data_l2, 20, N, vp, lab);
		lab[3] = 2; /* an existing label: not applied either */
		memset(done, 7, 20);
		CHECK(hnswc_add_batch(x, vp, lab, 20, 2, done, &e) ==
				      HNSWC_EFULL &&
			      strstr(e.msg, "resize"),
		      "full batch: %s", e.msg);
		for (size_t i = 0; i < 20; i++)
			CHECK(done[i] == 0, "refused batch: entry %zu done", i);
		float bad[DIM];
		memcpy(bad, data_l2, sizeof(bad));
		bad[3] = NAN;
		vp[9] = bad;
		CHECK(hnswc_add_batch(x, vp, lab, 5, 2, NULL, &e) == 0,
		      "5 entries: %s", e.msg);
		CHECK(hnswc_add_batch(x, vp, lab, 10, 2, NULL, &e) ==
			      HNSWC_EINVAL,
		      "NaN accepted");
		vp[9] = NULL;
		CHECK(hnswc_add_batch(x, vp, lab, 10, 2, NULL, &e) ==
			      HNSWC_EINVAL,
		      "NULL vector accepted");
		CHECK(hnswc_count(x) == N + 4,
		      "refused batches changed the "
		      "count: %zu",
		      hnswc_count(x));
		OK(hnswc_get_vector(x, 2, v, &e));
		CHECK(!memcmp(v, data_l2 + 3 * DIM, sizeof(v)),
		      "label 2 given in the 5-entry batch");
		CHECK(hnswc_add_batch(x, NULL, lab, 1, 1, NULL, &e) ==
			      HNSWC_EINVAL,
		      "NULL vecs");
		OK(hnswc_add_batch(x, NULL, NULL, 0, 4, NULL, &e));
		hnswc_free(x);
	}
	free(vp);
	free(lab);
	free(done);
	free(fresh);
	printf("ok batch (1 thread = hnswc_add byte for byte; 4 threads: "
	       "recall; mixed; refusals)\n");
}

/*
 * Searches in 4 threads while batches of new labels are inserted by 3
 * threads each (SQ8, so the rerank reads the float rows of labels being
 * linked), with replacements between batches.
 */
static void test_batch_concurrency(void)
{
	enum { B = 100 };
	const float *vp[B];
	uint64_t lab[B];
	hnswc_error e;

	cdata = malloc(sizeof(float) * CN * DIM);
	CHECK(cdata, "out of memory");
	fill(cdata, CN, 0);
	OK(hnswc_create_q(HNSWC_L2, HNSWC_QUANT_SQ8, DIM, CINIT, 16, 200, 42,
			  &cidx, &e));
	OK(hnswc_train(cidx, cdata, CN, &e));
	for (size_t i = 0; i < CINIT; i++)
		OK(hnswc_add(cidx, cdata + i * DIM, i, &e));
	cdone = 0;
	struct searcher s[NTHREADS];
	for (unsigned i = 0; i < NTHREADS; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].id = i;
		CHECK(pthread_create(&s[i].t, NULL, search_thread, &s[i]) == 0,
		      "pthread_create");
	}
	size_t batches = 0;
	for (size_t at = CINIT; at < CN; at += B) {
		size_t m = CN - at < B ? CN - at : B;
		rows(cdata + at * DIM, m, at, vp, lab);
		if (hnswc_capacity(cidx) < at + m)
			OK(hnswc_resize(cidx, at + 4 * B, &e));
		/* two existing labels, replaced by themselves */
		vp[0] = cdata + (at / 2) * DIM;
		lab[0] = at / 2;
		OK(hnswc_add_batch(cidx, vp, lab, m, 3, NULL, &e));
		OK(hnswc_add(cidx, cdata + at * DIM, at, &e));
		batches++;
	}
	nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	__atomic_store_n(&cdone, 1, __ATOMIC_RELEASE);
	long total = 0;
	for (unsigned i = 0; i < NTHREADS; i++) {
		pthread_join(s[i].t, NULL);
		CHECK(s[i].bad == 0, "thread %u: %d bad results", i, s[i].bad);
		total += s[i].searches;
	}
	CHECK(hnswc_count(cidx) == CN && hnswc_deleted_count(cidx) == 0,
	      "final counts %zu %zu", hnswc_count(cidx),
	      hnswc_deleted_count(cidx));
	check_rows(cidx, cdata, CN);
	double r =
		recall(cidx, HNSWC_L2, cdata, CN, queries, NQ, 64, NULL, NULL);
	CHECK(r > 0.95, "recall after concurrent batches %f", r);
	hnswc_free(cidx);
	free(cdata);
	printf("ok batch_concurrency (%d searchers: %ld searches during %zu "
	       "batches of 3 threads; recall %.4f)\n",
	       NTHREADS, total, batches, r);
}

static void cleanup(void)
{
	static const char *names[] = { "a.hnsw",      "b.bin",
				       "empty.hnsw",  "c.hnsw",
				       "trunc.hnsw",  "flip.hnsw",
				       "random.hnsw", "empty" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(tmp(names[i]));
	rmdir(tmpdir);
}

/* ---- mapped load (hnswc_load_map_q) ---- */

/* Write `img` at offset `off` of a new file; return its descriptor and a
 * read-only mapping of the whole file in *map (length *maplen). */
static int map_file(const char *name, const unsigned char *img, size_t len,
		    size_t off, unsigned char **map, size_t *maplen)
{
	const char *path = tmp(name);
	FILE *f = fopen(path, "wb");
	CHECK(f, "create %s", path);
	for (size_t i = 0; i < off; i++)
		fputc('x', f);
	CHECK(fwrite(img, 1, len, f) == len, "write");
	CHECK(fclose(f) == 0, "close");
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0, "open %s", path);
	*maplen = off + len;
	*map = mmap(NULL, *maplen, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(*map != MAP_FAILED, "mmap: %s", strerror(errno));
	return fd;
}

static int stop_now(void *ctx)
{
	(void)ctx;
	return 1;
}

static void test_mapped(void)
{
	hnswc_error e;
	hnswc_index *x = build(HNSWC_L2, data_l2, N, N + 10), *y;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), len, maplen, wrote;
	for (uint64_t l = 0; l < 30; l++)
		OK(hnswc_mark_deleted(x, l * 7, &e));
	len = hnswc_serialized_size(x);
	unsigned char *img = malloc(len), *map;
	OK(hnswc_save_mem(x, img, len, &wrote, &e));
	size_t off = pg - HNSWC_SAVED_LEVEL0_OFFSET;
	int fd = map_file("m.hnsw", img, len, off, &map, &maplen);

	/* Deferred: serves at once from the file's pages. */
	int rc = hnswc_load_map_q(
		fd, off, map + off, len, HNSWC_L2, HNSWC_QUANT_NONE, DIM, N + 10,
		HNSWC_LOAD_TRUSTED | HNSWC_LOAD_DEFER, &y, &e);
	CHECK(rc == 0, "load_map: %s", e.msg);
	CHECK(hnswc_mapped_bytes(y) >= pg && hnswc_deferred(y),
	      "mapped %zu, deferred %d", hnswc_mapped_bytes(y),
	      hnswc_deferred(y));
	/* The index keeps its own mapping of the file. */
	munmap(map, maplen);
	close(fd);
	same_results(x, y, queries);
	CHECK(hnswc_verify(y, stop_now, NULL, &e) == 1 && hnswc_deferred(y),
	      "a stopped check leaves the index deferred");
	OK(hnswc_verify(y, NULL, NULL, &e));
	CHECK(!hnswc_deferred(y) && hnswc_deleted_count(y) == 30 &&
		      hnswc_contains(y, 7) == 0 && hnswc_contains(y, 8) == 1,
	      "after the checks: deleted %zu", hnswc_deleted_count(y));
	same_results(x, y, queries);
	/* Saved again: the very same bytes as the copy it was loaded from. */
	unsigned char *again = malloc(len);
	OK(hnswc_save_mem(y, again, len, &wrote, &e));
	CHECK(wrote == len && !memcmp(again, img, len),
	      "a mapped index saves other bytes");
	/* Writes copy the pages they change; the file stays as it was. */
	OK(hnswc_add(y, queries, 9000, &e));
	OK(hnswc_mark_deleted(y, 8, &e));
	size_t flen;
	unsigned char *file = slurp(tmp("m.hnsw"), &flen);
	CHECK(flen == off + len && !memcmp(file + off, img, len),
	      "a write through the mapping reached the file");
	free(file);
	/* Growing past the mapping moves the layer to memory of its own. */
	OK(hnswc_resize(y, N + 5000, &e));
	CHECK(hnswc_mapped_bytes(y) == 0, "still mapped after a resize");
	OK(hnswc_add(y, queries + DIM, 9001, &e));
	CHECK(hnswc_contains(y, 9000) == 1 && hnswc_contains(y, 8) == 0,
	      "labels lost by the move");
	hnswc_free(y);

	/* A writer that comes first runs the checks itself. */
	fd = map_file("m2.hnsw", img, len, off, &map, &maplen);
	OK(hnswc_load_map_q(fd, off, map + off, len, HNSWC_L2, HNSWC_QUANT_NONE,
			    DIM, N + 10, HNSWC_LOAD_DEFER, &y, &e));
	OK(hnswc_add(y, queries, 9000, &e));
	CHECK(!hnswc_deferred(y) && hnswc_count(y) == N + 1, "implicit check");
	hnswc_free(y);
	/* Not on a page boundary: copied, checked at once, same index. */
	OK(hnswc_load_map_q(fd, off + pg / 2, map + off, len, HNSWC_L2,
			    HNSWC_QUANT_NONE, DIM, 0, HNSWC_LOAD_DEFER, &y,
			    &e));
	CHECK(hnswc_mapped_bytes(y) == 0 && !hnswc_deferred(y),
	      "an unaligned layer was mapped");
	same_results(x, y, queries);
	hnswc_free(y);
	munmap(map, maplen);
	close(fd);

	/* A neighbour id beyond the elements: searches stay in bounds, the
	 * checks find it, and the index then refuses writes. */
	uint64_t sdpe;
	memcpy(&sdpe, img + 24, 8);
	unsigned char *bad = malloc(len);
	memcpy(bad, img, len);
	uint32_t wild = 0xfffffff0u;
	for (size_t i = 0; i < 50; i++)
		memcpy(bad + HNSWC_SAVED_LEVEL0_OFFSET + i * sdpe + 4, &wild,
		       4);
	fd = map_file("m3.hnsw", bad, len, off, &map, &maplen);
	OK(hnswc_load_map_q(fd, off, map + off, len, HNSWC_L2, HNSWC_QUANT_NONE,
			    DIM, 0, HNSWC_LOAD_TRUSTED | HNSWC_LOAD_DEFER, &y,
			    &e));
	for (int q = 0; q < 20; q++) {
		uint64_t lb[K];
		float db[K];
		CHECK(hnswc_search(y, queries + q * DIM, K, 64, NULL, NULL, lb,
				   db, NULL) > 0,
		      "search on a damaged deferred index");
	}
	rc = hnswc_verify(y, NULL, NULL, &e);
	CHECK(rc == HNSWC_ECORRUPT && strstr(e.msg, "neighbour"),
	      "verify: %d %s", rc, e.msg);
	CHECK(hnswc_add(y, queries, 9000, &e) == HNSWC_ECORRUPT &&
		      hnswc_contains(y, 1) == HNSWC_ECORRUPT,
	      "writes after a failed check");
	CHECK(hnswc_verify(y, NULL, NULL, &e) == HNSWC_ECORRUPT,
	      "the failure is kept");
	hnswc_free(y);
	munmap(map, maplen);
	close(fd);
	/* The same damage loaded without deferring is refused at once. */
	CHECK(hnswc_load_mem(bad, len, HNSWC_L2, DIM, 0, &y, &e) ==
		      HNSWC_ECORRUPT,
	      "load_mem accepted a wild neighbour");
	free(bad);
	free(again);
	free(img);
	hnswc_free(x);
	printf("ok mapped\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	data_l2 = malloc(sizeof(float) * N * DIM);
	data_ip = malloc(sizeof(float) * N * DIM);
	queries = malloc(sizeof(float) * NQ * DIM);
	queries_ip = malloc(sizeof(float) * NQ * DIM);
	fill(data_l2, N, 0);
	fill(data_ip, N, 1);
	fill(queries, NQ, 0);
	fill(queries_ip, NQ, 1);

	/* No argument: every group; else only the groups named (ctest
	 * splits them so that each test stays short under sanitizers). */
	static const struct {
		const char *name;
		void (*fn)(void);
	} groups[] = { { "args", test_args },
		       { "recall", test_recall },
		       { "sq8", test_sq8 },
		       { "filter", test_filter },
		       { "distances", test_distances },
		       { "replace", test_replace_delete },
		       { "resize", test_resize },
		       { "save_load", test_save_load },
		       { "mapped", test_mapped },
		       { "corrupt", test_corrupt },
		       { "concurrency", test_concurrency },
		       { "batch", test_batch },
		       { "batch_concurrency", test_batch_concurrency } };
	size_t ng = sizeof(groups) / sizeof(groups[0]);
	for (int a = 1; a < argc; a++) {
		size_t g = 0;
		while (g < ng && strcmp(argv[a], groups[g].name))
			g++;
		CHECK(g < ng, "unknown test group %s", argv[a]);
	}
	for (size_t g = 0; g < ng; g++) {
		int run = argc == 1;
		for (int a = 1; a < argc; a++)
			run |= !strcmp(argv[a], groups[g].name);
		if (run)
			groups[g].fn();
	}

	free(data_l2);
	free(data_ip);
	free(queries);
	free(queries_ip);
	printf("all hnswlib-c tests passed\n");
	return failures != 0;
}

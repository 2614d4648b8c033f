/* SPDX-License-Identifier: MIT */
/*
 * test_filter.c - filtered and faceted search of `vector` (osa/filter.h).
 *
 * 30000 clustered records (dim 32, cosine) with attributes of every type;
 * ten filters, among them `sel < 500`, `< 100`, `< 10`, `< 1` (50 %, 10 %,
 * 1 %, 0.1 % of the records).  For each filter and query: every hit
 * matches, `total` is the exact number of matches, and recall@10 against
 * exact filtered search (brute force here) is at least 0.95.  Selective
 * filters (1 %, 0.1 %) are searched exactly, so their facets are exact
 * counts over every match; the 50 % filter goes through the graph, whose
 * facets are counted over its candidates (marked estimated): with ef 10
 * the candidates are the hits.  Then sq8, checkpoint and reopen, removals
 * that compact the graph (rows move with the labels), upserts that change
 * attributes, new records on freed labels, again after a reopen; snapshots
 * opened with other declarations are refused as corrupt; a record with a
 * wrongly typed attribute is refused whole; and filtered queries with
 * facets race a writer (run under TSan too).
 */
#include <math.h>
#include <pthread.h>

#include "../vector.h"
#include "filter_test.h"

#define N 30000
#define DIM 32
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* Sanitizers slow everything 5-15x: fewer queries and rounds, and the
 * sq8 pass (no filter code of its own) only in plain builds. */
#define NQ 20
#define ROUNDS 25
#define SANITIZED 1
#else
#define NQ 100
#define ROUNDS 60
#define SANITIZED 0
#endif
#define K 10

static char dir[64];
/* Records and queries: unseen points of the same clusters. */
static float data[(N + NQ) * DIM];
static float *const base = data, *const queries = data + (size_t)N * DIM;
/* Cosine of query q and record i (vectors never change, attributes do). */
static float simtab[(size_t)NQ * N];
static struct ft_row rows[N];
static bool live[N];
static unsigned ver[N];

static const char *cfg_float = "dim = 32; metric = \"cosine\"; m = 16; "
			       "ef_construction = 100; ef_search = 100; "
			       "initial_capacity = 1000; "
			       "embedding = { embedder = \"field\"; };";

static void normalise(float *x)
{
	double s = 0;
	int d;

	for (d = 0; d < DIM; d++)
		s += (double)x[d] * x[d];
	for (d = 0; d < DIM; d++)
		x[d] = (float)(x[d] / sqrt(s));
}

static void put(struct bt_index *ix, size_t from, size_t to, unsigned v)
{
	struct osa_record **recs = calloc(to - from, sizeof(*recs));
	struct osa_error err = { 0 };
	size_t i;

	OSA_REQUIRE(recs);
	for (i = from; i < to; i++) {
		char srn[48];

		ver[i] = v;
		ft_row_of(i, v, &rows[i]);
		live[i] = true;
		snprintf(srn, sizeof(srn), "urn:osa:x:rec:r-%zu", i);
		recs[i - from] =
			ft_rec(srn, NULL, NULL, base + i * DIM, DIM, &rows[i]);
	}
	OSA_CHECK_MSG(ix->b->ingest_batch(
			      ix->self, (const struct osa_record *const *)recs,
			      to - from, &err) == 0,
		      "%s", err.msg);
	for (i = 0; i < to - from; i++)
		osa_record_free(recs[i]);
	free(recs);
}

/* Exact filtered top K of query q (ids), the matches counted in *count,
 * their facets in *fc. */
static size_t exact(const float *q, bool (*pred)(const struct ft_row *),
		    const float *sims, size_t *out, size_t *count,
		    struct ft_counts *fc)
{
	float best[K];
	size_t m = 0, i, j;

	(void)q;
	*count = 0;
	memset(fc, 0, sizeof(*fc));
	for (i = 0; i < N; i++) {
		if (!live[i] || !pred(&rows[i]))
			continue;
		(*count)++;
		ft_count(fc, &rows[i]);
		if (m == K && !(sims[i] > best[K - 1]))
			continue;
		j = m < K ? m++ : K - 1;
		while (j > 0 && best[j - 1] < sims[i]) {
			best[j] = best[j - 1];
			out[j] = out[j - 1];
			j--;
		}
		best[j] = sims[i];
		out[j] = i;
	}
	return m;
}

static int query(struct bt_index *ix, const float *v,
		 const struct osa_filter *f, int ef, struct osa_hits *h,
		 struct osa_error *err)
{
	struct osa_query q = { .vector = v,
			       .dim = DIM,
			       .limit = K,
			       .ef_search = ef,
			       .filter = f,
			       .facets = ft_facet_attrs,
			       .nfacets = 3,
			       .facet_limit = 100 };

	memset(h, 0, sizeof(*h));
	memset(err, 0, sizeof(*err));
	return ix->b->query(ix->self, &q, h, err);
}

/* Filter c over every query at `ef` (0: the index's): hits match, exact
 * totals, recall, facets; `path` 1: every search must have been exact, 2:
 * the graph's, 0: either. */
static void check_case(struct bt_index *ix, const char *when, size_t c, int ef,
		       int path)
{
	size_t q, i, j;

	{
		struct osa_filter *f = ft_filter(ft_cases[c].text);
		size_t found = 0, want = 0, bad = 0, badtotal = 0;
		size_t badfacets = 0, exact_paths = 0;

		for (q = 0; q < NQ; q++) {
			const float *x = queries + q * DIM;
			size_t truth[K], nt, count;
			struct ft_counts fc;
			struct osa_hits h;
			struct osa_error err;

			nt = exact(x, ft_cases[c].pred, simtab + q * N, truth,
				   &count, &fc);
			OSA_REQUIRE(query(ix, x, f, ef, &h, &err) == 0);
			badtotal += h.total != count || h.total_estimated;
			for (i = 0; i < h.n; i++) {
				size_t id = ft_id(h.v[i].srn);

				bad += id >= N || !live[id] ||
				       !ft_cases[c].pred(&rows[id]);
				for (j = 0; j < nt; j++)
					found += truth[j] == id;
			}
			want += nt;
			if (!h.facets.estimated) {
				exact_paths++;
				badfacets += !ft_facets_equal(&h.facets, &fc);
			} else {
				/* Over candidates: each count at most the
				 * matches', and every hit among them. */
				const struct osa_facet *fcat =
					ft_facet(&h.facets, FT_CAT);
				uint64_t sum = 0;

				for (i = 0; fcat && i < fcat->n; i++) {
					size_t k =
						(size_t)(fcat->v[i].value[1] -
							 '0');

					sum += fcat->v[i].count;
					badfacets += k > 4 || fcat->v[i].count >
								      fc.cat[k];
				}
				badfacets += !fcat || sum < h.n;
			}
			osa_hits_free(&h);
		}
		fprintf(stderr,
			"%s: %-44.44s ef %2d recall@%d %.4f (exact %zu/%d)\n",
			when, ft_cases[c].text, ef, K,
			want ? (double)found / (double)want : 1.0, exact_paths,
			NQ);
		OSA_CHECK_MSG(!want || (double)found / (double)want >= 0.95,
			      "%s: %s", when, ft_cases[c].text);
		OSA_CHECK_MSG(bad == 0, "%s: %s: %zu hits do not match", when,
			      ft_cases[c].text, bad);
		OSA_CHECK_MSG(badtotal == 0, "%s: %s: %zu wrong totals", when,
			      ft_cases[c].text, badtotal);
		OSA_CHECK_MSG(badfacets == 0, "%s: %s: %zu wrong facets", when,
			      ft_cases[c].text, badfacets);
		if (path == 1)
			OSA_CHECK_MSG(exact_paths == NQ, "%s: %s: not exact",
				      when, ft_cases[c].text);
		if (path == 2)
			OSA_CHECK_MSG(exact_paths == 0, "%s: %s: not the graph",
				      when, ft_cases[c].text);
		osa_filter_free(f);
	}
}

/*
 * Every filter.  With `paths` (30000 records, ef 100: exact below
 * sqrt(8 x 100 x 30000) = 4899 matches) the 10 %, 1 % and 0.1 % filters
 * must be exact and the 50 % one the graph's; at ef 24 (below 2400) the
 * 10 % filter (about 2800 matches) goes through the graph too.
 */
static void check(struct bt_index *ix, const char *when, bool paths)
{
	size_t c;

	for (c = 0; c < FT_NCASES; c++)
		check_case(ix, when, c, 0,
			   !paths	      ? 0
			   : c >= 1 && c <= 3 ? 1
			   : c == 0	      ? 2
					      : 0);
	if (paths)
		check_case(ix, when, 1, 24, 2);
}

/* Graph path with ef = K: the candidates are the hits, so the facets are
 * the hits' counts. */
static void check_candidates(struct bt_index *ix)
{
	struct osa_filter *f = ft_filter(ft_cases[0].text);
	size_t q, i, bad = 0;

	for (q = 0; q < NQ; q++) {
		struct ft_counts fc;
		struct osa_hits h;
		struct osa_error err;

		OSA_REQUIRE(query(ix, queries + q * DIM, f, K, &h, &err) == 0);
		memset(&fc, 0, sizeof(fc));
		for (i = 0; i < h.n; i++)
			ft_count(&fc, &rows[ft_id(h.v[i].srn)]);
		bad += !h.facets.estimated || h.n != K ||
		       !ft_facets_equal(&h.facets, &fc);
		osa_hits_free(&h);
	}
	OSA_CHECK_MSG(bad == 0, "%zu queries' candidate facets differ", bad);
	osa_filter_free(f);
}

static void remove_ids(struct bt_index *ix, const size_t *ids, size_t n)
{
	struct osa_error err = { 0 };
	char(*srns)[48] = malloc(n * sizeof(*srns));
	const char **v = malloc(n * sizeof(*v));
	size_t i;

	OSA_REQUIRE(srns && v);
	for (i = 0; i < n; i++) {
		snprintf(srns[i], sizeof(srns[i]), "urn:osa:x:rec:r-%zu",
			 ids[i]);
		v[i] = srns[i];
		live[ids[i]] = false;
	}
	OSA_CHECK(ix->b->remove(ix->self, v, n, &err) == 0);
	free(srns);
	free(v);
}

/* ---- concurrency -------------------------------------------------------- */

#define CN 2000

struct race {
	struct bt_index *ix;
	int stop;
	long queries, bad, errors;
	pthread_mutex_t mu;
};

static void *race_reader(void *arg)
{
	struct race *r = arg;
	struct osa_filter *f = ft_filter("sel < 300");
	uint64_t s = (uint64_t)(uintptr_t)&s | 1;
	long q = 0, bad = 0, errors = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		struct osa_hits h;
		struct osa_error err;
		size_t i;

		if (query(r->ix, base + (bt_rng(&s) % CN) * DIM, f, 0, &h,
			  &err)) {
			errors++;
			continue;
		}
		/* `sel` never changes with the version. */
		for (i = 0; i < h.n; i++) {
			struct ft_row row;

			ft_row_of(ft_id(h.v[i].srn), 0, &row);
			bad += !row.has_sel || row.sel >= 300;
		}
		osa_hits_free(&h);
		q++;
	}
	pthread_mutex_lock(&r->mu);
	r->queries += q;
	r->bad += bad;
	r->errors += errors;
	pthread_mutex_unlock(&r->mu);
	osa_filter_free(f);
	return NULL;
}

static void race(void)
{
	struct osa_error err = { 0 };
	struct bt_index ix;
	struct race r = { 0 };
	pthread_t th[3];
	char sub[128];
	int t, round;

	snprintf(sub, sizeof(sub), "%s/race", dir);
	OSA_REQUIRE(ft_open(&ix, "vector", cfg_float, sub, &ft_attrs, &err) ==
		    0);
	put(&ix, 0, CN, 0);
	r.ix = &ix;
	pthread_mutex_init(&r.mu, NULL);
	for (t = 0; t < 3; t++)
		OSA_REQUIRE(pthread_create(&th[t], NULL, race_reader, &r) == 0);
	for (round = 0; round < ROUNDS; round++) {
		size_t ids[100], i;

		/* Upserts with new attributes, removals (compactions), new
		 * records on freed labels, checkpoints. */
		put(&ix, (size_t)round * 30 % (CN - 200),
		    (size_t)round * 30 % (CN - 200) + 200, (unsigned)round + 1);
		for (i = 0; i < 100; i++)
			ids[i] = (size_t)(round * 7 + (int)i * 13) % CN;
		remove_ids(&ix, ids, 100);
		put(&ix, ids[0] < CN - 50 ? ids[0] : 0,
		    (ids[0] < CN - 50 ? ids[0] : 0) + 50, 0);
		if (round % 20 == 19)
			OSA_CHECK(ix.b->checkpoint(ix.self, (uint64_t)round,
						   &err) == 0);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	for (t = 0; t < 3; t++)
		pthread_join(th[t], NULL);
	fprintf(stderr, "race: %ld filtered queries, %ld bad hits\n", r.queries,
		r.bad);
	OSA_CHECK(r.queries > 0 && r.bad == 0 && r.errors == 0);
	pthread_mutex_destroy(&r.mu);
	bt_close(&ix);
}

int main(void)
{
	struct osa_error err = { 0 };
	struct bt_index ix, sx;
	struct vector_stats st;
	char sub[128], plain[128];
	size_t i, ids[N];
	size_t nids = 0;

	bt_tmpdir(dir);
	bt_clustered(data, N + NQ, DIM, 40, 11);
	for (i = 0; i < N + NQ; i++)
		normalise(data + i * DIM);
	for (i = 0; i < (size_t)NQ * N; i++) {
		const float *x = queries + i / N * DIM, *y = base + i % N * DIM;
		double s = 0;

		for (size_t j = 0; j < DIM; j++)
			s += (double)x[j] * y[j];
		simtab[i] = (float)s;
	}

	snprintf(sub, sizeof(sub), "%s/v", dir);
	OSA_REQUIRE(ft_open(&ix, "vector", cfg_float, sub, &ft_attrs, &err) ==
		    0);
	OSA_CHECK((osa_backend_caps(ix.b) &
		   (OSA_BACKEND_CAP_FILTER | OSA_BACKEND_CAP_FACETS)) ==
		  (OSA_BACKEND_CAP_FILTER | OSA_BACKEND_CAP_FACETS));
	for (i = 0; i < N; i += 1000)
		put(&ix, i, i + 1000, 0);
	check(&ix, "built", true);
	check_candidates(&ix);

	/* A wrongly typed attribute refuses the batch, nothing applied. */
	{
		struct osa_record *recs[2];

		recs[0] = ft_rec("urn:osa:x:rec:typed-1", NULL, NULL, base, DIM,
				 &rows[0]);
		static const char bad[] =
			"{\"srn\":\"urn:osa:x:rec:typed-2\","
			"\"embedding\":[1,2,3,4,5,6,7,8,1,2,3,4,5,6,7,8,1,2,"
			"3,4,5,6,7,8,1,2,3,4,5,6,7,8],\"sel\":\"many\"}";

		OSA_REQUIRE(osa_record_parse(bad, sizeof(bad) - 1, NULL,
					     &recs[1], &err) == 0);
		OSA_CHECK(ix.b->ingest_batch(
				  ix.self,
				  (const struct osa_record *const *)recs, 2,
				  &err) == OSA_ETYPE);
		OSA_CHECK_CONTAINS(err.msg, "sel");
		OSA_CHECK(bt_count(&ix) == N);
		osa_record_free(recs[0]);
		osa_record_free(recs[1]);
	}

	/* Checkpoint and reopen: the table comes back with the graph. */
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 5, &err) == 0);
	bt_close(&ix);
	OSA_REQUIRE(ft_open(&ix, "vector", cfg_float, sub, &ft_attrs, &err) ==
		    0);
	OSA_CHECK(ix.lsn == 5 && bt_count(&ix) == N);
	check(&ix, "reopened", true);

	/* Remove 40 % (compacts: rows move with the labels), change the
	 * attributes of a tenth, add records on freed labels. */
	for (i = 0; i < N; i++)
		if (i % 5 < 2)
			ids[nids++] = i;
	remove_ids(&ix, ids, nids);
	vector_get_stats(ix.self, &st);
	OSA_CHECK(st.compactions >= 1);
	for (i = 2; i + 1000 <= N; i += 10000)
		put(&ix, i, i + 1000, 1);
	put(&ix, 0, 500, 2);
	check(&ix, "after removals, upserts", false);
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 9, &err) == 0);
	bt_close(&ix);
	OSA_REQUIRE(ft_open(&ix, "vector", cfg_float, sub, &ft_attrs, &err) ==
		    0);
	OSA_CHECK(ix.lsn == 9);
	check(&ix, "reopened again", false);
	OSA_CHECK(ix.b->health(ix.self, &err) == 0);
	bt_close(&ix);

	/* Other declarations than the snapshot's: refused as corrupt (the
	 * core rebuilds from the journal). */
	OSA_CHECK(ft_open(&ix, "vector", cfg_float, sub, &ft_none, &err) ==
		  OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "attribute");
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	OSA_REQUIRE(ft_open(&ix, "vector", cfg_float, plain, &ft_none, &err) ==
		    0);
	put(&ix, 0, 100, 0);
	{
		/* Without attributes, a filter is refused. */
		struct osa_filter *f = ft_filter("sel < 10");
		struct osa_hits h;

		OSA_CHECK(query(&ix, queries, f, 0, &h, &err) == OSA_EINVAL);
		osa_hits_free(&h);
		osa_filter_free(f);
	}
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 3, &err) == 0);
	bt_close(&ix);
	OSA_CHECK(ft_open(&ix, "vector", cfg_float, plain, &ft_attrs, &err) ==
		  OSA_ECORRUPT);

	/* sq8: the exact path scores the float vectors; the graph reranks. */
	for (i = 0; i < N; i++)
		live[i] = false;
	snprintf(sub, sizeof(sub), "%s/sq8", dir);
	if (!SANITIZED) {
		char cfg[512];

		snprintf(cfg, sizeof(cfg), "%s quantization = \"sq8\";",
			 cfg_float);
		OSA_REQUIRE(ft_open(&sx, "vector", cfg, sub, &ft_attrs, &err) ==
			    0);
		put(&sx, 0, N / 2, 0);
		check(&sx, "sq8", false);
		bt_close(&sx);
	}

	race();
	bt_rmdir(dir);
	OSA_TEST_END();
}

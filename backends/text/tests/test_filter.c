/* SPDX-License-Identifier: MIT */
/*
 * test_filter.c - filtered and faceted search of `text` (osa/filter.h).
 *
 * 3000 records of a generated corpus with attributes of every type, spread
 * over a segment file and memory segments.  For ten filters and queries of
 * every kind (one word, OR of words, +required -excluded, a phrase, a
 * prefix): the filtered hits, scores and `total` equal exact filtering of
 * the complete unfiltered ranking, pages included, and the facets equal
 * brute-force counts over every match (filtered or not).  Again after
 * removals and upserts that change attributes, and after a checkpoint
 * (merges keep record ids) and a reopen.  A manifest opened with other
 * declarations is refused as corrupt; a wrongly typed attribute refuses
 * its batch; filtered queries race a writer (run under TSan too).
 */
#include <pthread.h>

#include "filter_test.h"
#include "text_test.h"

#define N 3000
#define K 10

static char dir[64];
static struct ft_row rows[N];
static bool live[N];

static const char *const queries[] = {
	"ice",		 "sea ocean",	      "glacier survey arctic",
	"+ice -sea",	 "\"sea ice\" ocean", "ice*",
	"climate model", "ocean -current",
};
#define NQ (sizeof(queries) / sizeof(queries[0]))

static void put(struct bt_index *ix, size_t from, size_t to, unsigned v)
{
	struct osa_record **recs = calloc(to - from, sizeof(*recs));
	struct osa_error err = { 0 };
	size_t i;

	OSA_REQUIRE(recs);
	for (i = from; i < to; i++) {
		char srn[32], title[128], summary[512];
		uint64_t s = (i + 977 * v) * 0x9E3779B97F4A7C15ull | 1;

		ft_row_of(i, v, &rows[i]);
		live[i] = true;
		snprintf(srn, sizeof(srn), "d-%05zu", i);
		tt_text(&s, title, sizeof(title), 2 + bt_rng(&s) % 4);
		tt_text(&s, summary, sizeof(summary), 5 + bt_rng(&s) % 30);
		recs[i - from] = ft_rec(srn, title, summary, NULL, 0, &rows[i]);
	}
	OSA_CHECK_MSG(ix->b->ingest_batch(
			      ix->self, (const struct osa_record *const *)recs,
			      to - from, &err) == 0,
		      "%s", err.msg);
	for (i = 0; i < to - from; i++)
		osa_record_free(recs[i]);
	free(recs);
}

static void del(struct bt_index *ix, size_t i)
{
	char srn[32];

	snprintf(srn, sizeof(srn), "d-%05zu", i);
	tt_del(ix, srn);
	live[i] = false;
}

static int query(struct bt_index *ix, const char *text,
		 const struct osa_filter *f, size_t limit, size_t offset,
		 struct osa_hits *h, struct osa_error *err)
{
	struct osa_query q = { .text = text,
			       .limit = limit,
			       .offset = offset,
			       .filter = f,
			       .facets = ft_facet_attrs,
			       .nfacets = 3,
			       .facet_limit = 100 };

	memset(h, 0, sizeof(*h));
	memset(err, 0, sizeof(*err));
	return ix->b->query(ix->self, &q, h, err);
}

/* The filtered query against exact filtering of the full ranking. */
static void check_one(struct bt_index *ix, const char *text, size_t c,
		      const char *when)
{
	struct osa_filter *f =
		c < FT_NCASES ? ft_filter(ft_cases[c].text) : NULL;
	const char *ftext = f ? ft_cases[c].text : "(none)";
	struct osa_hits all, h, page;
	struct osa_error err;
	struct ft_counts fc;
	size_t i, m = 0, bad = 0;

	memset(&fc, 0, sizeof(fc));
	OSA_REQUIRE(tt_q(ix, text, N, 0, &all, &err) == 0);
	OSA_REQUIRE(query(ix, text, f, K, 0, &h, &err) == 0);
	OSA_REQUIRE(query(ix, text, f, 5, 5, &page, &err) == 0);
	for (i = 0; i < all.n; i++) {
		size_t id = ft_id(all.v[i].srn);

		OSA_REQUIRE(id < N && live[id]);
		if (f && !ft_cases[c].pred(&rows[id]))
			continue;
		ft_count(&fc, &rows[id]);
		if (m < K)
			bad += m >= h.n || strcmp(h.v[m].srn, all.v[i].srn) ||
			       h.v[m].score != all.v[i].score;
		if (m >= 5 && m < K)
			bad += m - 5 >= page.n ||
			       strcmp(page.v[m - 5].srn, all.v[i].srn);
		m++;
	}
	OSA_CHECK_MSG(bad == 0 && h.n == (m < K ? m : K),
		      "%s: q %s filter %s: %zu differences, %zu hits of %zu",
		      when, text, ftext, bad, h.n, m);
	OSA_CHECK_MSG(h.total == m && page.total == m && !h.total_estimated,
		      "%s: q %s filter %s: total %zu, exact %zu", when, text,
		      ftext, h.total, m);
	OSA_CHECK_MSG(!h.facets.estimated && ft_facets_equal(&h.facets, &fc),
		      "%s: q %s filter %s: facets differ", when, text, ftext);
	osa_hits_free(&all);
	osa_hits_free(&h);
	osa_hits_free(&page);
	osa_filter_free(f);
}

static void check(struct bt_index *ix, const char *when)
{
	size_t q, c;

	for (q = 0; q < NQ; q++)
		for (c = 0; c <= FT_NCASES; c++)
			check_one(ix, queries[q], c, when);
}

/* ---- concurrency -------------------------------------------------------- */

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
		uint64_t cat = 0;

		if (query(r->ix, queries[bt_rng(&s) % NQ], f, K, 0, &h, &err)) {
			errors++;
			continue;
		}
		/* `sel` never changes with the version. */
		for (i = 0; i < h.n; i++) {
			struct ft_row row;

			ft_row_of(ft_id(h.v[i].srn), 0, &row);
			bad += !row.has_sel || row.sel >= 300;
		}
		/* Each match has one cat: the counts sum to the total. */
		for (i = 0; i < h.facets.n; i++)
			if (h.facets.v[i].attr == FT_CAT)
				for (size_t j = 0; j < h.facets.v[i].n; j++)
					cat += h.facets.v[i].v[j].count;
		bad += cat != h.total;
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
	OSA_REQUIRE(ft_open(&ix, "text", "", sub, &ft_attrs, &err) == 0);
	put(&ix, 0, 1000, 0);
	r.ix = &ix;
	pthread_mutex_init(&r.mu, NULL);
	for (t = 0; t < 3; t++)
		OSA_REQUIRE(pthread_create(&th[t], NULL, race_reader, &r) == 0);
	for (round = 0; round < 60; round++) {
		size_t at = (size_t)round * 13 % 900, i;

		put(&ix, at, at + 100, (unsigned)round + 1);
		for (i = 0; i < 30; i++)
			del(&ix, (size_t)(round * 7 + (int)i * 31) % 1000);
		put(&ix, at + 50, at + 80, 0);
		if (round % 20 == 19)
			OSA_CHECK(ix.b->checkpoint(ix.self, (uint64_t)round,
						   &err) == 0);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	for (t = 0; t < 3; t++)
		pthread_join(th[t], NULL);
	fprintf(stderr, "race: %ld filtered queries, %ld bad\n", r.queries,
		r.bad);
	OSA_CHECK(r.queries > 0 && r.bad == 0 && r.errors == 0);
	pthread_mutex_destroy(&r.mu);
	bt_close(&ix);
}

int main(void)
{
	struct osa_error err = { 0 };
	struct bt_index ix;
	char sub[128], plain[128];
	size_t i;

	bt_tmpdir(dir);
	snprintf(sub, sizeof(sub), "%s/t", dir);
	OSA_REQUIRE(ft_open(&ix, "text", "", sub, &ft_attrs, &err) == 0);
	OSA_CHECK((osa_backend_caps(ix.b) &
		   (OSA_BACKEND_CAP_FILTER | OSA_BACKEND_CAP_FACETS)) ==
		  (OSA_BACKEND_CAP_FILTER | OSA_BACKEND_CAP_FACETS));
	/* A segment file, then memory segments. */
	put(&ix, 0, 1000, 0);
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 1, &err) == 0);
	for (i = 1000; i < 2000; i += 250)
		put(&ix, i, i + 250, 0);
	put(&ix, 2000, N, 0);
	check(&ix, "built");

	/* A wrongly typed attribute refuses the batch, nothing applied. */
	{
		static const char bad[] =
			"{\"srn\":\"d-99999\",\"title\":\"ice\","
			"\"day\":\"yesterday\"}";
		struct osa_record *recs[2];

		recs[0] = ft_rec("d-99998", "ice", "sea", NULL, 0, &rows[0]);
		OSA_REQUIRE(osa_record_parse(bad, sizeof(bad) - 1, NULL,
					     &recs[1], &err) == 0);
		OSA_CHECK(ix.b->ingest_batch(
				  ix.self,
				  (const struct osa_record *const *)recs, 2,
				  &err) == OSA_ETYPE);
		OSA_CHECK_CONTAINS(err.msg, "day");
		OSA_CHECK(bt_count(&ix) == N);
		osa_record_free(recs[0]);
		osa_record_free(recs[1]);
	}

	/* Removals, upserts with other attributes, freed ids reused. */
	for (i = 0; i < N; i += 7)
		del(&ix, i);
	put(&ix, 500, 1500, 1);
	put(&ix, 0, 100, 2);
	check(&ix, "after removals, upserts");

	/* Checkpoint (merges renumber documents, not record ids), reopen. */
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 2, &err) == 0);
	check(&ix, "checkpointed");
	bt_close(&ix);
	OSA_REQUIRE(ft_open(&ix, "text", "", sub, &ft_attrs, &err) == 0);
	OSA_CHECK(ix.lsn == 2);
	check(&ix, "reopened");
	for (i = 1; i < N; i += 11)
		del(&ix, i);
	put(&ix, 2500, 2700, 3);
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 3, &err) == 0);
	bt_close(&ix);
	OSA_REQUIRE(ft_open(&ix, "text", "", sub, &ft_attrs, &err) == 0);
	check(&ix, "reopened again");
	OSA_CHECK(ix.b->health(ix.self, &err) == 0);
	bt_close(&ix);

	/* Other declarations than the manifest's: refused as corrupt. */
	OSA_CHECK(ft_open(&ix, "text", "", sub, &ft_none, &err) ==
		  OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "attribute");
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	OSA_REQUIRE(ft_open(&ix, "text", "", plain, &ft_none, &err) == 0);
	put(&ix, 0, 100, 0);
	{
		/* Without attributes, a filter is refused. */
		struct osa_filter *f = ft_filter("sel < 10");
		struct osa_hits h;

		OSA_CHECK(query(&ix, "ice", f, K, 0, &h, &err) == OSA_EINVAL);
		osa_hits_free(&h);
		osa_filter_free(f);
	}
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 3, &err) == 0);
	bt_close(&ix);
	OSA_CHECK(ft_open(&ix, "text", "", plain, &ft_attrs, &err) ==
		  OSA_ECORRUPT);

	race();
	bt_rmdir(dir);
	OSA_TEST_END();
}

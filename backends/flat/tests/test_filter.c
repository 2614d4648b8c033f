/* SPDX-License-Identifier: MIT */
/*
 * test_filter.c - `flat` with declared attributes: filtered results and
 * totals equal exact filtering of its own full ranking, facets equal a
 * brute-force count, on generated data with upserts and removals (which
 * move rows); attributes survive a checkpoint and reopen; a damaged or
 * missing flat.attrs is OSA_ECORRUPT; a type error refuses the batch.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <osa/filter.h>

#include "backend_test.h"

#define DIM 8
#define NREC 700

static char dir[64];

static const char *cfg = "dim = 8; metric = \"ip\"; initial_capacity = 4;"
			 "embedding = { embedder = \"field\"; };";

static const struct osa_attr_decl decl_v[] = {
	{ "year", OSA_ATTR_INT },
	{ "type", OSA_ATTR_KEYWORD },
	{ "tags", OSA_ATTR_KEYWORDS },
	{ "open", OSA_ATTR_BOOL },
};
static const struct osa_attrs attrs = { 4, decl_v };

static const char *const types[] = { "a", "b", "c", "d" };
static const char *const tags[] = { "ice", "sea", "land", "air" };

struct mrec {
	bool live;
	int year; /* 0: absent */
	int type; /* -1: absent */
	unsigned tags;
	int open; /* -1 absent, 0, 1 */
};

static struct mrec model[NREC];
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rn(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void srn_of(char *buf, size_t n, int i)
{
	snprintf(buf, n, "urn:osa:example.org:rec:f-%04d", i);
}

static struct osa_record *gen(int i, int bad_type)
{
	struct mrec *m = &model[i];
	struct osa_error err = { 0 };
	struct osa_record *rec = NULL;
	char json[1024], srn[64];
	size_t k = 0;
	int d;

	srn_of(srn, sizeof(srn), i);
	m->year = rn(5) ? 2000 + (int)rn(20) : 0;
	m->type = rn(6) ? (int)rn(4) : -1;
	m->tags = rn(16);
	m->open = (int)rn(3) - 1;
	k += (size_t)snprintf(json + k, sizeof(json) - k, "{\"srn\":\"%s\"",
			      srn);
	if (bad_type)
		k += (size_t)snprintf(json + k, sizeof(json) - k,
				      ",\"year\":\"%d\"", 2000 + bad_type);
	else if (m->year)
		k += (size_t)snprintf(json + k, sizeof(json) - k,
				      ",\"year\":%d", m->year);
	if (m->type >= 0)
		k += (size_t)snprintf(json + k, sizeof(json) - k,
				      ",\"type\":\"%s\"", types[m->type]);
	k += (size_t)snprintf(json + k, sizeof(json) - k, ",\"tags\":[");
	for (d = 0; d < 4; d++)
		if (m->tags >> d & 1)
			k += (size_t)snprintf(
				json + k, sizeof(json) - k, "%s\"%s\"",
				json[k - 1] == '[' ? "" : ",", tags[d]);
	k += (size_t)snprintf(json + k, sizeof(json) - k, "]");
	if (m->open >= 0)
		k += (size_t)snprintf(json + k, sizeof(json) - k,
				      ",\"open\":%s",
				      m->open ? "true" : "false");
	k += (size_t)snprintf(json + k, sizeof(json) - k, ",\"embedding\":[");
	for (d = 0; d < DIM; d++)
		k += (size_t)snprintf(json + k, sizeof(json) - k, "%s%d",
				      d ? "," : "", (int)rn(200) - 100);
	k += (size_t)snprintf(json + k, sizeof(json) - k, "]}");
	OSA_REQUIRE(osa_record_parse(json, k, NULL, &rec, &err) == 0);
	m->live = true;
	return rec;
}

/* Filter template t with parameters; text and model predicate. */
struct ftpl {
	int t, p, g, ty;
};

static void ftext(const struct ftpl *f, char *buf, size_t n)
{
	switch (f->t) {
	case 0:
		snprintf(buf, n, "year >= %d", f->p);
		break;
	case 1:
		snprintf(buf, n, "type = \"%s\"", types[f->ty]);
		break;
	case 2:
		snprintf(buf, n, "tags = \"%s\" OR year < %d", tags[f->g],
			 f->p);
		break;
	case 3:
		snprintf(buf, n, "NOT open = true AND type IN [\"a\", \"b\"]");
		break;
	case 4:
		snprintf(buf, n,
			 "tags != \"%s\" AND (year = %d OR type = \"%s\")",
			 tags[f->g], f->p, types[f->ty]);
		break;
	default:
		snprintf(buf, n, "open = false");
		break;
	}
}

static bool fmatch(const struct ftpl *f, const struct mrec *m)
{
	bool hy = m->year != 0, ht = m->type >= 0;

	if (!m->live)
		return false;
	switch (f->t) {
	case 0:
		return hy && m->year >= f->p;
	case 1:
		return ht && m->type == f->ty;
	case 2:
		return (m->tags >> f->g & 1) || (hy && m->year < f->p);
	case 3:
		return m->open != 1 && ht && m->type <= 1;
	case 4:
		return !(m->tags >> f->g & 1) &&
		       ((hy && m->year == f->p) || (ht && m->type == f->ty));
	default:
		return m->open == 0;
	}
}

static int srn_index(const char *srn)
{
	return atoi(strrchr(srn, '-') + 1);
}

static void check_queries(struct bt_index *ix, int rounds)
{
	struct osa_error err = { 0 };
	float qv[DIM];
	int r, d;

	for (r = 0; r < rounds; r++) {
		struct osa_query q = { 0 };
		struct osa_hits all = { 0 }, got = { 0 };
		struct ftpl ft = { (int)rn(6), 2000 + (int)rn(20), (int)rn(4),
				   (int)rn(4) };
		struct osa_filter *f = NULL;
		size_t facets[3] = { 1, 2, 0 }, i, m = 0;
		uint64_t cnt_type[4] = { 0 }, cnt_tags[4] = { 0 };
		char text[256];

		for (d = 0; d < DIM; d++)
			qv[d] = (float)((int)rn(200) - 100);
		ftext(&ft, text, sizeof(text));
		OSA_REQUIRE(osa_filter_parse(text, &attrs, &f, NULL, &err) ==
			    0);
		/* the index's own full ranking, filtered here */
		q.vector = qv;
		q.dim = DIM;
		q.limit = NREC;
		OSA_REQUIRE(ix->b->query(ix->self, &q, &all, &err) == 0);
		q.filter = f;
		q.offset = rn(3) ? 0 : rn(30);
		q.limit = 1 + rn(25);
		q.facets = facets;
		q.nfacets = 2;
		q.facet_limit = 10;
		OSA_REQUIRE(ix->b->query(ix->self, &q, &got, &err) == 0);
		OSA_CHECK(!got.total_estimated);
		for (i = 0; i < all.n; i++) {
			const struct mrec *mr = &model[srn_index(all.v[i].srn)];

			if (!fmatch(&ft, mr))
				continue;
			if (mr->type >= 0)
				cnt_type[mr->type]++;
			for (d = 0; d < 4; d++)
				cnt_tags[d] += mr->tags >> d & 1;
			if (m >= q.offset && m - q.offset < q.limit) {
				size_t j = m - q.offset;

				OSA_CHECK_MSG(j < got.n &&
						      !strcmp(got.v[j].srn,
							      all.v[i].srn),
					      "%s: hit %zu", text, j);
			}
			m++;
		}
		OSA_CHECK_MSG(got.total == m, "%s: total %zu, exact %zu", text,
			      got.total, m);
		OSA_CHECK(got.n ==
			  (m > q.offset ? (m - q.offset < q.limit ? m - q.offset
								  : q.limit)
					: 0));
		/* facets: type and tags over every matching record */
		OSA_REQUIRE(got.facets.n == 2);
		OSA_CHECK(!got.facets.estimated);
		for (i = 0; i < got.facets.n; i++) {
			const struct osa_facet *fc = &got.facets.v[i];
			uint64_t sum = 0, want_sum = 0;

			OSA_CHECK(fc->attr == facets[i]);
			for (size_t k = 0; k < fc->n; k++) {
				const char *v = fc->v[k].value;
				uint64_t want = 0;

				for (d = 0; d < 4; d++)
					if (!strcmp(v, i ? tags[d] : types[d]))
						want = i ? cnt_tags[d]
							 : cnt_type[d];
				OSA_CHECK_MSG(
					fc->v[k].count == want,
					"%s: facet %s=%s %llu vs %llu", text,
					i ? "tags" : "type", v,
					(unsigned long long)fc->v[k].count,
					(unsigned long long)want);
				sum += fc->v[k].count;
			}
			for (d = 0; d < 4; d++)
				want_sum += i ? cnt_tags[d] : cnt_type[d];
			OSA_CHECK(sum == want_sum && fc->others == 0);
		}
		osa_hits_free(&all);
		osa_hits_free(&got);
		osa_filter_free(f);
	}
}

static void test_filtered(void)
{
	struct osa_error err = { 0 };
	struct bt_index ix;
	struct osa_record *batch[50];
	char sub[128], srn[64];
	int i, b;
	uint64_t count;

	snprintf(sub, sizeof(sub), "%s/f", dir);
	OSA_REQUIRE(bt_open_attrs(&ix, "flat", cfg, sub, &attrs, &err) == 0);
	OSA_CHECK(osa_backend_caps(ix.b) ==
		  (OSA_BACKEND_CAP_FILTER | OSA_BACKEND_CAP_FACETS));
	for (b = 0; b < NREC / 50; b++) {
		for (i = 0; i < 50; i++)
			batch[i] = gen(b * 50 + i, 0);
		OSA_REQUIRE(ix.b->ingest_batch(
				    ix.self,
				    (const struct osa_record *const *)batch, 50,
				    &err) == 0);
		for (i = 0; i < 50; i++)
			osa_record_free(batch[i]);
	}
	/* removals move the last rows into the holes; upserts change rows */
	for (i = 0; i < 200; i++) {
		int k = (int)rn(NREC);
		const char *one[1];

		srn_of(srn, sizeof(srn), k);
		if (rn(2)) {
			one[0] = srn;
			OSA_REQUIRE(ix.b->remove(ix.self, one, 1, &err) == 0);
			model[k].live = false;
		} else {
			OSA_REQUIRE(bt_ingest1(&ix, gen(k, 0), &err) == 0);
		}
	}
	check_queries(&ix, 150);
	/* a wrong type refuses the whole batch */
	OSA_REQUIRE(ix.b->count(ix.self, &count) == 0);
	{
		struct mrec keep[3];

		memcpy(keep, model, sizeof(keep));
		batch[0] = gen(0, 0);
		batch[1] = gen(1, 5);
		batch[2] = gen(2, 0);
		OSA_CHECK(ix.b->ingest_batch(
				  ix.self,
				  (const struct osa_record *const *)batch, 3,
				  &err) == OSA_ETYPE);
		OSA_CHECK_CONTAINS(err.msg,
				   "attribute \"year\" is declared int");
		for (i = 0; i < 3; i++)
			osa_record_free(batch[i]);
		memcpy(model, keep, sizeof(keep));
	}
	{
		uint64_t after;

		OSA_REQUIRE(ix.b->count(ix.self, &after) == 0);
		OSA_CHECK(after == count);
	}
	check_queries(&ix, 20);
	/* checkpoint, reopen: the same answers */
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 42, &err) == 0);
	bt_close(&ix);
	OSA_REQUIRE(bt_open_attrs(&ix, "flat", cfg, sub, &attrs, &err) == 0);
	OSA_CHECK(ix.lsn == 42);
	check_queries(&ix, 60);
	bt_close(&ix);
	/* a damaged flat.attrs: ECORRUPT */
	{
		char p[256];
		FILE *fp;

		snprintf(p, sizeof(p), "%s/flat.attrs", sub);
		fp = fopen(p, "r+b");
		OSA_REQUIRE(fp);
		fseek(fp, 300, SEEK_SET);
		fputc(0x55 ^ fgetc(fp), fp);
		fclose(fp);
		OSA_CHECK(bt_open_attrs(&ix, "flat", cfg, sub, &attrs, &err) ==
			  OSA_ECORRUPT);
		OSA_CHECK(unlink(p) == 0);
		OSA_CHECK(bt_open_attrs(&ix, "flat", cfg, sub, &attrs, &err) ==
			  OSA_ECORRUPT);
		OSA_CHECK_CONTAINS(err.msg, "flat.attrs is missing");
	}
}

/* Without attributes a filter is refused, and nothing else changes. */
static void test_no_attrs(void)
{
	struct osa_error err = { 0 };
	struct bt_index ix;
	char sub[128], p[256];
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/n", dir);
	OSA_REQUIRE(bt_open(&ix, "flat", cfg, sub, &err) == 0);
	OSA_REQUIRE(bt_ingest1(&ix, gen(1, 0), &err) == 0);
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 1, &err) == 0);
	snprintf(p, sizeof(p), "%s/flat.attrs", sub);
	OSA_CHECK(stat(p, &st) != 0);
	{
		struct osa_filter *f = NULL;
		struct osa_query q = { 0 };
		struct osa_hits h = { 0 };
		float qv[DIM] = { 1 };

		OSA_REQUIRE(osa_filter_parse("year = 1", &attrs, &f, NULL,
					     &err) == 0);
		q.vector = qv;
		q.dim = DIM;
		q.limit = 3;
		q.filter = f;
		OSA_CHECK(ix.b->query(ix.self, &q, &h, &err) == OSA_EINVAL);
		osa_hits_free(&h);
		osa_filter_free(f);
	}
	bt_close(&ix);
}

int main(void)
{
	bt_tmpdir(dir);
	test_filtered();
	test_no_attrs();
	bt_rmdir(dir);
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * text_test.h - helpers of the text backend's tests: records with text,
 * queries, result comparison, a small deterministic corpus.
 */
#ifndef OSA_TEXT_TEST_H
#define OSA_TEXT_TEST_H

#include <math.h>
#include <sys/stat.h>

#include "backend_test.h"

static inline void tt_put(struct bt_index *ix, const char *srn,
			  const char *title, const char *summary)
{
	struct osa_error err = { 0 };
	int rc = bt_ingest1(ix, bt_rec(srn, title, summary, NULL, 0), &err);

	OSA_CHECK_MSG(rc == 0, "ingest %s: %s", srn, err.msg);
}

static inline void tt_del(struct bt_index *ix, const char *srn)
{
	struct osa_error err = { 0 };
	const char *const v[1] = { srn };

	OSA_CHECK(ix->b->remove(ix->self, v, 1, &err) == 0);
}

static inline int tt_q(struct bt_index *ix, const char *text, size_t limit,
		       size_t offset, struct osa_hits *hits,
		       struct osa_error *err)
{
	struct osa_query q = { .text = text, .limit = limit, .offset = offset };

	memset(hits, 0, sizeof(*hits));
	memset(err, 0, sizeof(*err));
	return ix->b->query(ix->self, &q, hits, err);
}

/* The result of `text` as "srn srn ... | total". */
static inline char *tt_srns(struct bt_index *ix, const char *text)
{
	static char out[4096];
	struct osa_hits h;
	struct osa_error err;
	size_t i, n = 0;
	int rc = tt_q(ix, text, 50, 0, &h, &err);

	if (rc) {
		snprintf(out, sizeof(out), "error %d: %s", rc, err.msg);
		return out;
	}
	out[0] = '\0';
	for (i = 0; i < h.n; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s ",
				      h.v[i].srn);
	snprintf(out + n, sizeof(out) - n, "| %zu", h.total);
	osa_hits_free(&h);
	return out;
}

/* Are two hit lists identical (srns, scores to `eps`, totals)? */
static inline bool tt_same(const struct osa_hits *a, const struct osa_hits *b,
			   double eps)
{
	size_t i;

	if (a->n != b->n || a->total != b->total)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].srn, b->v[i].srn) ||
		    fabs(a->v[i].score - b->v[i].score) > eps)
			return false;
	return true;
}

/* A deterministic corpus: Zipf-like words over a small vocabulary. */
static const char *const tt_vocab[] = {
	"ice",	   "sea",	"ocean",    "glacier", "survey", "arctic",
	"climate", "model",	"data",	    "warming", "shelf",	 "melt",
	"storm",   "wind",	"current",  "salt",    "deep",	 "coast",
	"river",   "delta",	"sediment", "core",    "drill",	 "station",
	"polar",   "bear",	"seal",	    "whale",   "krill",	 "algae",
	"bloom",   "carbon",	"cycle",    "flux",    "heat",	 "balance",
	"orbit",   "satellite", "radar",    "sonar",   "buoy",	 "float",
	"profile", "mixing",	"layer",    "front",   "eddy",	 "wave"
};
#define TT_NVOCAB (sizeof(tt_vocab) / sizeof(tt_vocab[0]))

static inline const char *tt_word(uint64_t *s)
{
	/* Squared uniform: low indexes are much more frequent. */
	double u = (double)(bt_rng(s) >> 11) / 9007199254740992.0;

	return tt_vocab[(size_t)(u * u * TT_NVOCAB)];
}

static inline void tt_text(uint64_t *s, char *out, size_t cap, size_t words)
{
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < words && n + 16 < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? " " : "",
				      tt_word(s));
}

/* Ingest docs first..last-1 of the corpus of `seed` in one batch. */
static inline void tt_corpus(struct bt_index *ix, uint64_t seed, size_t first,
			     size_t last)
{
	struct osa_record **recs = calloc(last - first, sizeof(*recs));
	struct osa_error err = { 0 };
	uint64_t s;
	size_t i;

	OSA_REQUIRE(recs);
	for (i = first; i < last; i++) {
		char srn[32], title[128], summary[512];

		s = (seed + i) * 0x9E3779B97F4A7C15ull | 1;
		snprintf(srn, sizeof(srn), "d-%05zu", i);
		tt_text(&s, title, sizeof(title), 2 + bt_rng(&s) % 4);
		tt_text(&s, summary, sizeof(summary), 5 + bt_rng(&s) % 30);
		recs[i - first] = bt_rec(srn, title, summary, NULL, 0);
	}
	OSA_CHECK_MSG(ix->b->ingest_batch(
			      ix->self, (const struct osa_record *const *)recs,
			      last - first, &err) == 0,
		      "%s", err.msg);
	for (i = 0; i < last - first; i++)
		osa_record_free(recs[i]);
	free(recs);
}

/* Bytes of the files in `dir` whose name contains `part`. */
static inline long long tt_bytes(const char *dir, const char *part, int *nfiles)
{
	char cmd[512];
	FILE *p;
	long long total = 0, sz;
	char name[256];

	snprintf(cmd, sizeof(cmd),
		 "find %s -maxdepth 1 -type f -printf '%%s %%f\\n'", dir);
	OSA_REQUIRE((p = popen(cmd, "r")) != NULL);
	if (nfiles)
		*nfiles = 0;
	while (fscanf(p, "%lld %255s", &sz, name) == 2)
		if (strstr(name, part)) {
			total += sz;
			if (nfiles)
				(*nfiles)++;
		}
	pclose(p);
	return total;
}

#endif /* OSA_TEXT_TEST_H */

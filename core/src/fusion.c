/* SPDX-License-Identifier: MIT */
/*
 * fusion.c - reciprocal rank fusion of several ranked hit lists (hybrid
 * search, osa_search() with `indexes`).
 *
 * score(d) = sum over lists i holding d of w_i / (k + rank_i(d)), rank from
 * 1.  The sum runs over the lists in their order, so the same inputs give
 * the same bits; the fused list is ordered by score, then by srn, so pages
 * cut from it are stable.
 */
#include <stdlib.h>
#include <string.h>

#include "osai.h"

struct rrf_entry {
	const char *srn;
	size_t list, rank; /* rank from 1 */
};

static int rrf_by_srn(const void *a, const void *b)
{
	const struct rrf_entry *x = a, *y = b;
	int c = strcmp(x->srn, y->srn);

	if (c)
		return c;
	if (x->list != y->list)
		return x->list < y->list ? -1 : 1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static int rrf_by_score(const void *a, const void *b)
{
	const struct osai_fused *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->srn, y->srn);
}

void osai_fused_free(struct osai_fused *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i].ranks);
	free(v);
}

int osai_rrf_fuse(const struct osa_hits *lists, size_t n, const double *weights,
		  double k, struct osai_fused **out, size_t *nout,
		  struct osa_error *err)
{
	struct rrf_entry *e;
	struct osai_fused *f = NULL;
	size_t total = 0, i, j, m = 0;

	*out = NULL;
	*nout = 0;
	for (i = 0; i < n; i++)
		total += lists[i].n;
	e = calloc(total ? total : 1, sizeof(*e));
	if (!e)
		goto oom;
	for (i = 0, j = 0; i < n; i++) {
		size_t r;

		for (r = 0; r < lists[i].n; r++, j++) {
			e[j].srn = lists[i].v[r].srn;
			e[j].list = i;
			e[j].rank = r + 1;
		}
	}
	qsort(e, total, sizeof(*e), rrf_by_srn);
	f = calloc(total ? total : 1, sizeof(*f));
	if (!f)
		goto oom;
	for (j = 0; j < total; j++) {
		/* A list holding an srn twice (it should not) counts its
		 * best rank once. */
		if (m && !strcmp(f[m - 1].srn, e[j].srn)) {
			if (f[m - 1].ranks[e[j].list])
				continue;
		} else {
			f[m].srn = e[j].srn;
			f[m].ranks = calloc(n, sizeof(size_t));
			if (!f[m].ranks)
				goto oom;
			m++;
		}
		f[m - 1].ranks[e[j].list] = e[j].rank;
	}
	for (j = 0; j < m; j++) {
		double s = 0;

		for (i = 0; i < n; i++)
			if (f[j].ranks[i])
				s += (weights ? weights[i] : 1.0) /
				     (k + (double)f[j].ranks[i]);
		f[j].score = s;
	}
	qsort(f, m, sizeof(*f), rrf_by_score);
	free(e);
	*out = f;
	*nout = m;
	return 0;
oom:
	free(e);
	osai_fused_free(f, m);
	return osa_error_set(err, OSA_ENOMEM, "out of memory fusing results");
}

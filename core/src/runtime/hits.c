/* SPDX-License-Identifier: MIT */
/*
 * hits.c - struct osa_hits: a growing, owned list of (srn, score) that
 * backends fill from `query`.  Capacity doubles (from 16), with overflow
 * checks; every srn is copied.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osai.h"

int osa_hits_push(struct osa_hits *hits, const char *srn, double score)
{
	char *copy;
	size_t len;

	if (!hits || !srn)
		return OSA_EINVAL;
	if (hits->n == hits->cap) {
		size_t cap = hits->cap ? hits->cap : 16;
		struct osa_hit *v;

		if (hits->cap) {
			if (cap > SIZE_MAX / 2 / sizeof(*v))
				return OSA_ENOMEM;
			cap *= 2;
		}
		v = realloc(hits->v, cap * sizeof(*v));
		if (!v)
			return OSA_ENOMEM;
		hits->v = v;
		hits->cap = cap;
	}
	len = strlen(srn) + 1;
	copy = malloc(len);
	if (!copy)
		return OSA_ENOMEM;
	memcpy(copy, srn, len);
	hits->v[hits->n].srn = copy;
	hits->v[hits->n].score = score;
	hits->n++;
	return 0;
}

void osa_hits_free(struct osa_hits *hits)
{
	size_t i;

	if (!hits)
		return;
	for (i = 0; i < hits->n; i++)
		free(hits->v[i].srn);
	free(hits->v);
	osa_facets_free(&hits->facets);
	memset(hits, 0, sizeof(*hits));
}

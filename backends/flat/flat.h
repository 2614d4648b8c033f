/* SPDX-License-Identifier: MIT */
/*
 * flat.h - what the `flat` backend offers beyond the backend contract, for
 * bench/flat and the tests that link the backend library.  Not part of the
 * SDK.
 */
#ifndef OSA_BACKEND_FLAT_H
#define OSA_BACKEND_FLAT_H

#include <stddef.h>

#include <osa/error.h>

/*
 * Exact k-NN of `nq` query vectors (row-major, nq x dim) in one go: scores
 * with cblas_sgemm over blocks of queries, then a top-k heap per query.
 * Always over the float rows, also with quantization = "sq8": a block of
 * queries reads each row once, so the codes would save no memory traffic.
 * `self` is an instance opened through the `flat` backend.  For query i,
 * srns[i * k + j] and scores[i * k + j] receive its j-th best hit (srn
 * pointers stay valid until the next write to the index; when the index has
 * fewer than k records the tail is NULL / -INFINITY).  Scores are those of
 * `query` (which, with sq8, may miss a hit of this exact ranking).  Takes
 * the index's read lock.  0, OSA_EINVAL, OSA_ENOMEM.
 */
int flat_search_batch(void *self, const float *queries, size_t nq, size_t k,
		      const char **srns, float *scores, struct osa_error *err);

struct flat_stats {
	size_t live;	       /* rows (records) */
	size_t capacity;       /* rows before the matrix must grow */
	size_t memory_bytes;   /* rows, codes, maps and srns, approximate */
	size_t search_bytes;   /* bytes of one vector the scan reads: 4 x dim
				* (float), dim (sq8) */
	size_t sq8_trained_on; /* sq8: vectors the quantiser was fit on */
};

/* Fill `st` for an instance opened through the `flat` backend.  Takes the
 * index's read lock. */
void flat_get_stats(void *self, struct flat_stats *st);

#endif /* OSA_BACKEND_FLAT_H */

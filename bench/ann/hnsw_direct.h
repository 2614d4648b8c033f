/* SPDX-License-Identifier: MIT */
/*
 * hnsw_direct.h - the peer of bench/ann: hnswlib's C++ called directly
 * (hnsw_direct.cpp), with the parameters the backend gets.
 */
#ifndef OSA_BENCH_HNSW_DIRECT_H
#define OSA_BENCH_HNSW_DIRECT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hnsw_direct;

/*
 * Build an index of base[0..n) (metric 0 cosine: vectors normalised first,
 * inside the timing; 1 l2; 2 ip) with `threads` inserting threads.  NULL
 * with why[] filled on failure.  *seconds receives the build time.
 */
struct hnsw_direct *hnsw_direct_build(const float *base, size_t n, size_t dim,
				      int metric, size_t m, size_t efc,
				      int threads, double *seconds, char *why,
				      size_t whylen);

/*
 * Search nq queries (k nearest each, ef) on `threads` threads; ids[i * k +
 * j] gets the label of the j-th nearest (-1 when fewer).  Returns the
 * wall-clock seconds.
 */
double hnsw_direct_search(struct hnsw_direct *h, const float *queries,
			  size_t nq, size_t k, int ef, int threads, long *ids);

void hnsw_direct_free(struct hnsw_direct *h);

#ifdef __cplusplus
}
#endif

#endif /* OSA_BENCH_HNSW_DIRECT_H */

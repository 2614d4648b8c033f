/* SPDX-License-Identifier: MIT */
/*
 * bench_data.h - what bench/ann and bench/flat share: TEXMEX .fvecs files,
 * a synthetic clustered data set, a clock, heap accounting and the records
 * that carry vectors through the backend API.
 */
#ifndef OSA_BENCH_DATA_H
#define OSA_BENCH_DATA_H

#include <stddef.h>
#include <stdint.h>

#include <osa/record.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Read up to `max_n` vectors (0: all) of an .fvecs file (per vector an int32
 * dimension, then that many float32, little-endian).  Checks the file size
 * against the first dimension, every vector's dimension, 1 <= dim <= 4096,
 * and that every number is finite.  0 and *out (malloc'd, n x dim), or -1
 * with why[] filled.
 */
int bench_read_fvecs(const char *path, size_t max_n, float **out, size_t *n,
		     size_t *dim, char *why, size_t whylen);

/* Write n x dim floats as .fvecs.  0 or -1 (errno). */
int bench_write_fvecs(const char *path, const float *v, size_t n, size_t dim);

/*
 * A clustered synthetic set: `n` points around 100 random centres, each
 * cluster spread along its own random 16-dimensional subspace plus a little
 * isotropic noise (real embeddings have a low intrinsic dimension).  The
 * same `seed` gives the same centres, so base and queries drawn with one
 * seed and different `stream` values come from the same clusters.
 */
void bench_synthetic(float *out, size_t n, size_t dim, uint64_t seed,
		     uint64_t stream);

/* Seconds on a monotonic clock. */
double bench_now(void);

/*
 * CPU seconds of the calling thread: single-threaded query timings use it,
 * so time other processes take on a shared machine is not counted.
 */
double bench_cpu_now(void);

/* Bytes of heap in use (malloc'd, mmapped blocks included). */
size_t bench_heap_bytes(void);

/* Records {"srn":"urn:osa:bench:rec:<i>","embedding":[...]}. */
struct osa_record **bench_records(const float *v, size_t n, size_t dim);
void bench_records_free(struct osa_record **recs, size_t n);

/* The id <i> of a bench srn, or -1. */
long bench_srn_id(const char *srn);

/* Parse "16,32,64" into at most `max` values; the count, or -1. */
int bench_parse_list(const char *s, int *out, int max);

#ifdef __cplusplus
}
#endif

#endif /* OSA_BENCH_DATA_H */

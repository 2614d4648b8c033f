/* SPDX-License-Identifier: MIT */
/*
 * bench_data.c - .fvecs I/O, the synthetic data set and the small helpers
 * of bench_data.h.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench_data.h"

int bench_read_fvecs(const char *path, size_t max_n, float **out, size_t *n,
		     size_t *dim, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	int32_t d;
	size_t rec, count, i, j;
	float *v;

	*out = NULL;
	if (!f) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) || fread(&d, 4, 1, f) != 1) {
		snprintf(why, whylen, "%s: empty or unreadable", path);
		fclose(f);
		return -1;
	}
	if (d < 1 || d > 4096) {
		snprintf(why, whylen,
			 "%s: dimension %d outside [1, 4096] (not an .fvecs "
			 "file?)",
			 path, (int)d);
		fclose(f);
		return -1;
	}
	rec = 4 + (size_t)d * 4;
	if ((size_t)st.st_size % rec) {
		snprintf(why, whylen,
			 "%s: %lld bytes is not a multiple of the %zu bytes "
			 "of one %d-dimensional vector (truncated?)",
			 path, (long long)st.st_size, rec, (int)d);
		fclose(f);
		return -1;
	}
	count = (size_t)st.st_size / rec;
	if (max_n && count > max_n)
		count = max_n;
	v = malloc(count * (size_t)d * sizeof(float) + 1);
	if (!v) {
		snprintf(why, whylen, "%s: out of memory for %zu vectors", path,
			 count);
		fclose(f);
		return -1;
	}
	rewind(f);
	for (i = 0; i < count; i++) {
		int32_t di;

		if (fread(&di, 4, 1, f) != 1 || di != d ||
		    fread(v + i * (size_t)d, 4, (size_t)d, f) != (size_t)d) {
			snprintf(why, whylen,
				 "%s: vector %zu: bad dimension or short read",
				 path, i);
			free(v);
			fclose(f);
			return -1;
		}
		for (j = 0; j < (size_t)d; j++)
			if (!isfinite(v[i * (size_t)d + j])) {
				snprintf(why, whylen,
					 "%s: vector %zu holds a non-finite "
					 "number",
					 path, i);
				free(v);
				fclose(f);
				return -1;
			}
	}
	fclose(f);
	*out = v;
	*n = count;
	*dim = (size_t)d;
	return 0;
}

int bench_write_fvecs(const char *path, const float *v, size_t n, size_t dim)
{
	FILE *f = fopen(path, "wb");
	int32_t d = (int32_t)dim;
	size_t i;

	if (!f)
		return -1;
	for (i = 0; i < n; i++)
		if (fwrite(&d, 4, 1, f) != 1 ||
		    fwrite(v + i * dim, 4, dim, f) != dim) {
			fclose(f);
			return -1;
		}
	return fclose(f);
}

static uint64_t bench_rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double bench_unif(uint64_t *s)
{
	return (double)(bench_rng(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double bench_gauss(uint64_t *s)
{
	double u = bench_unif(s), v = bench_unif(s);

	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

#define BENCH_CLUSTERS 100
#define BENCH_SUBDIM 16

void bench_synthetic(float *out, size_t n, size_t dim, uint64_t seed,
		     uint64_t stream)
{
	float *centres = malloc(BENCH_CLUSTERS * dim * sizeof(float));
	float *basis =
		malloc(BENCH_CLUSTERS * BENCH_SUBDIM * dim * sizeof(float));
	uint64_t s = seed;
	size_t i, j, c, b;

	if (!centres || !basis) {
		fprintf(stderr, "bench: out of memory\n");
		abort();
	}
	for (i = 0; i < BENCH_CLUSTERS * dim; i++)
		centres[i] = (float)(bench_unif(&s) * 2 - 1);
	for (i = 0; i < BENCH_CLUSTERS * BENCH_SUBDIM * dim; i++)
		basis[i] = (float)(bench_gauss(&s) / sqrt((double)dim) * 0.6);
	s = seed ^ (stream * 0x632be59bd9b4e019ull + 1);
	for (i = 0; i < n; i++) {
		float *x = out + i * dim;
		double z[BENCH_SUBDIM];

		c = (size_t)(bench_rng(&s) % BENCH_CLUSTERS);
		for (b = 0; b < BENCH_SUBDIM; b++)
			z[b] = bench_gauss(&s);
		for (j = 0; j < dim; j++) {
			double acc =
				centres[c * dim + j] + 0.02 * bench_gauss(&s);

			for (b = 0; b < BENCH_SUBDIM; b++)
				acc += z[b] *
				       basis[(c * BENCH_SUBDIM + b) * dim + j];
			x[j] = (float)acc;
		}
	}
	free(basis);
	free(centres);
}

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

size_t bench_heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

struct osa_record **bench_records(const float *v, size_t n, size_t dim)
{
	struct osa_record **recs = calloc(n ? n : 1, sizeof(*recs));
	size_t cap = 64 + dim * 18, i, j;
	char *json = malloc(cap);
	struct osa_error err;

	if (!recs || !json) {
		fprintf(stderr, "bench: out of memory\n");
		abort();
	}
	for (i = 0; i < n; i++) {
		size_t o =
			(size_t)snprintf(json, cap,
					 "{\"srn\":\"urn:osa:bench:rec:%zu\","
					 "\"embedding\":[",
					 i);

		for (j = 0; j < dim; j++)
			o += (size_t)snprintf(json + o, cap - o, "%s%.9g",
					      j ? "," : "", v[i * dim + j]);
		o += (size_t)snprintf(json + o, cap - o, "]}");
		if (osa_record_parse(json, o, NULL, &recs[i], &err)) {
			fprintf(stderr, "bench: record %zu: %s\n", i, err.msg);
			abort();
		}
	}
	free(json);
	return recs;
}

void bench_records_free(struct osa_record **recs, size_t n)
{
	size_t i;

	for (i = 0; recs && i < n; i++)
		osa_record_free(recs[i]);
	free(recs);
}

long bench_srn_id(const char *srn)
{
	const char *p = srn ? strrchr(srn, ':') : NULL;

	return p ? strtol(p + 1, NULL, 10) : -1;
}

int bench_parse_list(const char *s, int *out, int max)
{
	int n = 0;

	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 1 || v > 65535 || n == max)
			return -1;
		out[n++] = (int)v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return n;
}

/* SPDX-License-Identifier: MIT */
/*
 * test_kernels.c - every distance-kernel build this CPU can run, against a
 * double-precision reference computed here, for odd and even dimensions,
 * unaligned inputs, float and SQ8 distances.  Then the dispatcher: it picks
 * the best build the CPU has, and HNSWC_KERNEL lowers it.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hnswc_kernels.h"

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			failures++;                                            \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);        \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

static unsigned long long rng = 88172645463325252ull;

static double urand(void) /* [0, 1) */
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* |got - want| within float rounding of a sum whose terms add to `mag`. */
static int close_to(double got, double want, double mag, size_t n)
{
	double tol = 1e-6 * (double)(n + 8) * (mag + 1.0);
	return fabs(got - want) <= tol;
}

#define MAXD 768

struct vecs {
	/* +1: the kernels are also run on pointers one float/byte off. */
	float a[MAXD + 1], b[MAXD + 1], lo[MAXD + 1], sc[MAXD + 1];
	unsigned char x[MAXD + 1], y[MAXD + 1];
};

static void check_level(const struct hnswc_kernels *k, size_t n, int off,
			struct vecs *v)
{
	const float *a = v->a + off, *b = v->b + off;
	const float *lo = v->lo + off, *sc = v->sc + off;
	const unsigned char *x = v->x + off, *y = v->y + off;
	double dot = 0, l2 = 0, mdot = 0, mq = 0, sl2 = 0, sdot = 0, adot = 0,
	       ml2 = 0, base = 0, msd = 0;
	float qa[MAXD], qw[MAXD];
	size_t i;

	for (i = 0; i < n; i++) {
		double d = (double)a[i] - b[i];
		double dx = (double)lo[i] + (double)sc[i] * x[i];
		double dy = (double)lo[i] + (double)sc[i] * y[i];
		double e = (double)a[i] - dx;

		dot += (double)a[i] * b[i];
		mdot += fabs((double)a[i] * b[i]);
		l2 += d * d;
		mq += e * e;
		ml2 += (dx - dy) * (dx - dy);
		sl2 += ((double)sc[i] * ((int)x[i] - (int)y[i])) *
		       ((double)sc[i] * ((int)x[i] - (int)y[i]));
		sdot += dx * dy;
		msd += fabs(dx * dy);
		adot += (double)a[i] * dx;
		base += (double)a[i] * lo[i];
		qa[i] = a[i] - lo[i];
		qw[i] = a[i] * sc[i];
	}
	(void)ml2;

	struct hnswc_sq8_param p = { n, lo, sc, (float)base };
	const char *nm = k->name;

	CHECK(close_to(k->dot(a, b, n), dot, mdot, n),
	      "%s dot n=%zu off=%d: %g, want %g", nm, n, off,
	      (double)k->dot(a, b, n), dot);
	CHECK(close_to(k->l2sq(a, b, n), l2, l2, n),
	      "%s l2sq n=%zu off=%d: %g, want %g", nm, n, off,
	      (double)k->l2sq(a, b, n), l2);
	CHECK(close_to(k->l2(a, b, &n), l2, l2, n), "%s l2 n=%zu: %g, want %g",
	      nm, n, (double)k->l2(a, b, &n), l2);
	CHECK(close_to(k->ip(a, b, &n), 1 - dot, mdot + 1, n),
	      "%s ip n=%zu: %g, want %g", nm, n, (double)k->ip(a, b, &n),
	      1 - dot);
	/* Asymmetric SQ8: query a against the decoded codes x. */
	CHECK(close_to(k->sq8_l2(qa, x, &p), mq, mq + l2, n),
	      "%s sq8_l2 n=%zu off=%d: %g, want %g", nm, n, off,
	      (double)k->sq8_l2(qa, x, &p), mq);
	CHECK(close_to(k->sq8_ip(qw, x, &p), 1 - adot, mdot + msd + 1, n),
	      "%s sq8_ip n=%zu off=%d: %g, want %g", nm, n, off,
	      (double)k->sq8_ip(qw, x, &p), 1 - adot);
	CHECK(close_to(k->sq8_l2_sym(x, y, &p), sl2, sl2, n),
	      "%s sq8_l2_sym n=%zu off=%d: %g, want %g", nm, n, off,
	      (double)k->sq8_l2_sym(x, y, &p), sl2);
	CHECK(close_to(k->sq8_ip_sym(x, y, &p), 1 - sdot, msd + 1, n),
	      "%s sq8_ip_sym n=%zu off=%d: %g, want %g", nm, n, off,
	      (double)k->sq8_ip_sym(x, y, &p), 1 - sdot);
	/* A vector against itself: exactly 0 for L2 in every build. */
	CHECK(k->l2sq(a, a, n) == 0, "%s l2sq(a, a) n=%zu is not 0", nm, n);
	CHECK(k->sq8_l2_sym(x, x, &p) == 0, "%s sq8_l2_sym(x, x) n=%zu", nm, n);
}

int main(void)
{
	static const size_t dims[] = { 1,  2,  3,   7,	 15,  16,  17, 31,
				       32, 33, 100, 128, 384, 767, 768 };
	struct vecs *v = calloc(1, sizeof(*v));
	int levels = 0, best = 0, l;
	size_t i, d;

	if (!v)
		return 2;
	for (i = 0; i <= MAXD; i++) {
		v->a[i] = (float)(urand() * 4 - 2);
		v->b[i] = (float)(urand() * 4 - 2);
		v->lo[i] = (float)(-1 - urand());
		v->sc[i] = (float)(urand() * 2 / 255);
		v->x[i] = (unsigned char)(urand() * 256);
		v->y[i] = (unsigned char)(urand() * 256);
	}
	/* Codes at the extremes too. */
	v->x[5] = 255;
	v->y[5] = 0;
	v->x[MAXD - 1] = 0;
	v->y[MAXD - 1] = 255;

	CHECK(hnswc_kernels_at(HNSWC_KERNEL_SCALAR) != NULL, "no scalar build");
	CHECK(hnswc_kernels_at(-1) == NULL && hnswc_kernels_at(4) == NULL,
	      "a level out of range has a build");
	for (l = 0; l < HNSWC_KERNEL_LEVELS; l++) {
		const struct hnswc_kernels *k = hnswc_kernels_at(l);

		if (!k) {
			printf("kernels: %s not compiled in or not supported "
			       "by this CPU: skipped\n",
			       hnswc_kernel_level_name(l));
			continue;
		}
		CHECK(k->level == l &&
			      !strcmp(k->name, hnswc_kernel_level_name(l)),
		      "build %d calls itself %d/%s", l, k->level, k->name);
		levels++;
		best = l;
		for (d = 0; d < sizeof(dims) / sizeof(dims[0]); d++) {
			check_level(k, dims[d], 0, v);
			if (dims[d] < MAXD)
				check_level(k, dims[d], 1, v);
		}
		printf("kernels: %s checked\n", k->name);
	}

	/* The dispatcher: capped by HNSWC_KERNEL when set (ctest runs this
	 * test without it; try a cap in-process before the first call). */
	const char *env = getenv("HNSWC_KERNEL");
	if (!env && best > HNSWC_KERNEL_SCALAR) {
		setenv("HNSWC_KERNEL", hnswc_kernel_level_name(best - 1), 1);
		CHECK(hnswc_kernels()->level == best - 1,
		      "HNSWC_KERNEL=%s: picked %s",
		      hnswc_kernel_level_name(best - 1), hnswc_kernels()->name);
	} else if (!env) {
		CHECK(hnswc_kernels()->level == best, "picked %s, best is %s",
		      hnswc_kernels()->name, hnswc_kernel_level_name(best));
	}
	/* Picked once: a later change is not seen. */
	const struct hnswc_kernels *first = hnswc_kernels();
	setenv("HNSWC_KERNEL", first->level ? "scalar" : "avx512", 1);
	CHECK(hnswc_kernels() == first,
	      "the pick changed after the first call");
	CHECK(!strcmp(hnswc_kernel_level_name(9), "unknown"),
	      "name of level 9");
	printf("kernels: %d builds checked, dispatcher picked %s\n", levels,
	       hnswc_kernels()->name);
	free(v);
	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * hnswc_kernels.h - distance kernels with run-time CPU dispatch (plain C, no
 * C++ runtime: the `flat` backend links them without hnswlib).
 *
 * Every kernel exists in up to four builds compiled into the one library:
 * scalar (portable C, the reference), SSE2 (the x86-64 baseline), AVX2+FMA
 * and AVX-512F.  hnswc_kernels() picks the best build the CPU supports
 * (cpuid through __builtin_cpu_supports) once, at the first call, lowered
 * by two caps:
 *   - the build-time cap HNSWLIB_C_SIMD (CMake: none, sse, avx2, avx512):
 *     builds above it are not compiled in;
 *   - the environment variable HNSWC_KERNEL (scalar, sse2, avx2, avx512),
 *     read once at that first call: never pick above it (for tests and
 *     benchmarks).  An unknown value is ignored.
 * hnswc_kernels_at() gives any one build the CPU can run, so a test can
 * compare each with the scalar reference.
 *
 * Distance functions have hnswlib's DISTFUNC signature
 * float(const void *a, const void *b, const void *param), so that the shim
 * hands them to hnswlib as its own space.  Results of different builds
 * agree within float rounding (the order of the additions differs).
 *
 * SQ8 (8-bit scalar quantisation, per dimension): component i of a vector
 * is stored as the code c_i = round((x_i - lo_i) / scale_i) clamped to
 * [0, 255], so x_i ~ lo_i + scale_i * c_i.  Queries stay float:
 *   L2:  sum_i (a_i - scale_i c_i)^2        with a_i = q_i - lo_i
 *   IP:  1 - (base + sum_i w_i c_i)         with w_i = q_i scale_i,
 *                                                base = sum_i q_i lo_i
 * (asymmetric: only the stored side is quantised).  Between two stored
 * vectors (graph construction) both sides are decoded.
 *
 * All functions are thread-safe; the tables are immutable.
 */
#ifndef HNSWC_KERNELS_H
#define HNSWC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum hnswc_kernel_level {
	HNSWC_KERNEL_SCALAR = 0,
	HNSWC_KERNEL_SSE2 = 1,
	HNSWC_KERNEL_AVX2 = 2, /* AVX2 + FMA */
	HNSWC_KERNEL_AVX512 = 3,
	HNSWC_KERNEL_LEVELS = 4
};

/* Parameters of the SQ8 distances (`param` of the sq8_* functions). */
struct hnswc_sq8_param {
	size_t dim;
	const float *lo;    /* dim per-dimension minimums */
	const float *scale; /* dim per-dimension steps, >= 0 */
	float base;	    /* IP asymmetric only: sum q_i lo_i */
};

/* hnswlib's DISTFUNC<float>. */
typedef float (*hnswc_dist_fn)(const void *a, const void *b, const void *param);

/* One build of every kernel.  Immutable, static storage. */
struct hnswc_kernels {
	int level;	  /* enum hnswc_kernel_level */
	const char *name; /* "scalar", "sse2", "avx2", "avx512" */
	/* Plain: over n floats. */
	float (*dot)(const float *a, const float *b, size_t n);
	float (*l2sq)(const float *a, const float *b, size_t n);
	/* hnswlib float spaces; param points to a size_t dim. */
	hnswc_dist_fn l2; /* squared Euclidean distance */
	hnswc_dist_fn ip; /* 1 - dot(a, b) */
	/* SQ8; param is a struct hnswc_sq8_param.  `a` holds q - lo
	 * (L2) or q * scale (IP), b the codes. */
	hnswc_dist_fn sq8_l2;
	hnswc_dist_fn sq8_ip;
	/* SQ8 between two code vectors (a and b both codes). */
	hnswc_dist_fn sq8_l2_sym;
	hnswc_dist_fn sq8_ip_sym;
};

/* The build picked for this CPU and the caps (see above).  Never NULL. */
const struct hnswc_kernels *hnswc_kernels(void);

/*
 * The build of `level` if it is compiled in and this CPU can run it (caps
 * by HNSWC_KERNEL are ignored here), else NULL.  The scalar build always
 * exists.
 */
const struct hnswc_kernels *hnswc_kernels_at(int level);

/* Name of a level ("scalar", ...), or "unknown".  Never NULL. */
const char *hnswc_kernel_level_name(int level);

#ifdef __cplusplus
}
#endif

#endif /* HNSWC_KERNELS_H */

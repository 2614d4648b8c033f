/* SPDX-License-Identifier: MIT */
/*
 * kernels.c - the scalar build of the distance kernels and the dispatcher
 * that picks a build once for this CPU (see hnswc_kernels.h).
 *
 * HNSWC_HAVE_SSE2/AVX2/AVX512 (set by CMake) say which builds are compiled
 * in; the build-time cap HNSWLIB_C_SIMD decides that.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HNSWC_KLEVEL 0 /* HNSWC_KERNEL_SCALAR */
#define HNSWC_KTABLE hnswc_kernels_table_scalar
#define HNSWC_KNAME "scalar"
#include "kernels_impl.h"

#ifdef HNSWC_HAVE_SSE2
extern const struct hnswc_kernels hnswc_kernels_table_sse2;
#endif
#ifdef HNSWC_HAVE_AVX2
extern const struct hnswc_kernels hnswc_kernels_table_avx2;
#endif
#ifdef HNSWC_HAVE_AVX512
extern const struct hnswc_kernels hnswc_kernels_table_avx512;
#endif

static const char *const hnswc_level_names[HNSWC_KERNEL_LEVELS] = {
	"scalar", "sse2", "avx2", "avx512"
};

const char *hnswc_kernel_level_name(int level)
{
	if (level < 0 || level >= HNSWC_KERNEL_LEVELS)
		return "unknown";
	return hnswc_level_names[level];
}

/* Can this CPU (and its OS: libgcc checks XCR0) run `level`? */
static int hnswc_cpu_has(int level)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	switch (level) {
	case HNSWC_KERNEL_SCALAR:
		return 1;
	case HNSWC_KERNEL_SSE2:
		return __builtin_cpu_supports("sse2");
	case HNSWC_KERNEL_AVX2:
		return __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("fma");
	case HNSWC_KERNEL_AVX512:
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("fma");
	default:
		return 0;
	}
#else
	return level == HNSWC_KERNEL_SCALAR;
#endif
}

const struct hnswc_kernels *hnswc_kernels_at(int level)
{
	const struct hnswc_kernels *k = NULL;

	switch (level) {
	case HNSWC_KERNEL_SCALAR:
		return &hnswc_kernels_table_scalar;
#ifdef HNSWC_HAVE_SSE2
	case HNSWC_KERNEL_SSE2:
		k = &hnswc_kernels_table_sse2;
		break;
#endif
#ifdef HNSWC_HAVE_AVX2
	case HNSWC_KERNEL_AVX2:
		k = &hnswc_kernels_table_avx2;
		break;
#endif
#ifdef HNSWC_HAVE_AVX512
	case HNSWC_KERNEL_AVX512:
		k = &hnswc_kernels_table_avx512;
		break;
#endif
	default:
		return NULL;
	}
	return hnswc_cpu_has(level) ? k : NULL;
}

static pthread_once_t hnswc_pick_once = PTHREAD_ONCE_INIT;
static const struct hnswc_kernels *hnswc_picked;

static void hnswc_pick(void)
{
	int cap = HNSWC_KERNEL_LEVELS - 1, level;
	const char *env = getenv("HNSWC_KERNEL");

	for (level = 0; env && level < HNSWC_KERNEL_LEVELS; level++)
		if (!strcmp(env, hnswc_level_names[level]))
			cap = level;
	for (level = cap; level > 0; level--)
		if (hnswc_kernels_at(level))
			break;
	hnswc_picked = hnswc_kernels_at(level);
}

const struct hnswc_kernels *hnswc_kernels(void)
{
	pthread_once(&hnswc_pick_once, hnswc_pick);
	return hnswc_picked;
}

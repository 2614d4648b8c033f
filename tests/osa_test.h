/* SPDX-License-Identifier: MIT */
/*
 * osa_test.h - the few macros the C tests share.  A failed check prints
 * file:line and the expression, and the test exits 1 at the end of main
 * (OSA_TEST_END) or at once with OSA_REQUIRE.
 */
#ifndef OSA_TEST_H
#define OSA_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int osa_test_failures;

/*
 * Workload sizes: OSA_TEST_SIZE(full, tsan) is `full`, or `tsan` in a
 * ThreadSanitizer build (make test-tsan defines OSA_TEST_TSAN), where every
 * memory access costs 5 to 15 times more and every lock far more.  The
 * smaller workload must run the same code paths (growth, compaction,
 * checkpoints, concurrent readers) and keep every assertion meaningful.
 */
#ifdef OSA_TEST_TSAN
#define OSA_TEST_SIZE(full, tsan) (tsan)
#else
#define OSA_TEST_SIZE(full, tsan) (full)
#endif

#define OSA_CHECK(cond)                                                        \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			osa_test_failures++;                                   \
		}                                                              \
	} while (0)

#define OSA_CHECK_MSG(cond, ...)                                               \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			osa_test_failures++;                                   \
		}                                                              \
	} while (0)

#define OSA_REQUIRE(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: required: %s\n", __FILE__,     \
				__LINE__, #cond);                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define OSA_CHECK_STR(a, b)                                                    \
	do {                                                                   \
		const char *osa_t_a_ = (a), *osa_t_b_ = (b);                   \
		if (!osa_t_a_ || !osa_t_b_ || strcmp(osa_t_a_, osa_t_b_)) {    \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, \
				__LINE__, osa_t_a_ ? osa_t_a_ : "(null)",      \
				osa_t_b_ ? osa_t_b_ : "(null)");               \
			osa_test_failures++;                                   \
		}                                                              \
	} while (0)

#define OSA_CHECK_CONTAINS(hay, needle)                                        \
	do {                                                                   \
		const char *osa_t_h_ = (hay), *osa_t_n_ = (needle);            \
		if (!osa_t_h_ || !strstr(osa_t_h_, osa_t_n_)) {                \
			fprintf(stderr, "%s:%d: \"%s\" lacks \"%s\"\n",        \
				__FILE__, __LINE__,                            \
				osa_t_h_ ? osa_t_h_ : "(null)", osa_t_n_);     \
			osa_test_failures++;                                   \
		}                                                              \
	} while (0)

#define OSA_TEST_END()                                                         \
	do {                                                                   \
		if (osa_test_failures)                                         \
			fprintf(stderr, "%d check(s) failed\n",                \
				osa_test_failures);                            \
		return osa_test_failures ? 1 : 0;                              \
	} while (0)

#endif /* OSA_TEST_H */

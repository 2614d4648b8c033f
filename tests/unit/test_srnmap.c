/* SPDX-License-Identifier: MIT */
/* test_srnmap.c - the srn -> position index: insert, find, delete (with
 * probe chains crossing the table's end), grow, rebuild in place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osa/srnmap.h>

#include "osa_test.h"

#define N 5000

int main(void)
{
	static char *srns[N];
	static uint64_t hash[N];
	struct osa_srnmap m;
	size_t i;

	OSA_REQUIRE(osa_srnmap_init(&m, 4) == 0 && m.mask == 15);
	for (i = 0; i < N; i++) {
		size_t at;

		OSA_REQUIRE(asprintf(&srns[i], "urn:osa:t.org:rec:x-%zu", i) >
			    0);
		hash[i] = osa_srn_hash(srns[i]);
		OSA_REQUIRE(osa_srnmap_reserve(&m, (const char *const *)srns,
					       hash, i, i + 1, false) == 0);
		at = osa_srnmap_slot(&m, (const char *const *)srns, hash,
				     srns[i], hash[i]);
		OSA_CHECK(m.slot[at] == 0);
		m.slot[at] = (uint32_t)(i + 1);
	}
	OSA_CHECK(m.mask + 1 >= 2 * N);
	OSA_CHECK(osa_srn_hash("a") != osa_srn_hash("b"));
	for (i = 0; i < N; i++)
		OSA_CHECK(osa_srnmap_find(&m, (const char *const *)srns, hash,
					  srns[i], hash[i]) == (long)i);
	OSA_CHECK(osa_srnmap_find(&m, (const char *const *)srns, hash, "nope",
				  osa_srn_hash("nope")) == -1);
	/* Delete every other one; the rest must still be found. */
	for (i = 0; i < N; i += 2) {
		size_t at = osa_srnmap_slot(&m, (const char *const *)srns, hash,
					    srns[i], hash[i]);

		osa_srnmap_delete(&m, hash, at);
		free(srns[i]);
		srns[i] = NULL;
	}
	for (i = 1; i < N; i += 2)
		OSA_CHECK(osa_srnmap_find(&m, (const char *const *)srns, hash,
					  srns[i], hash[i]) == (long)i);
	osa_srnmap_rebuild(&m, (const char *const *)srns, hash, N);
	for (i = 1; i < N; i += 2)
		OSA_CHECK(osa_srnmap_find(&m, (const char *const *)srns, hash,
					  srns[i], hash[i]) == (long)i);
	OSA_CHECK(osa_srnmap_reserve(&m, (const char *const *)srns, hash, N,
				     N / 2, true) == 0);
	for (i = 1; i < N; i += 2)
		OSA_CHECK(osa_srnmap_find(&m, (const char *const *)srns, hash,
					  srns[i], hash[i]) == (long)i);
	for (i = 0; i < N; i++)
		free(srns[i]);
	osa_srnmap_free(&m);
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_records.c - record parsing, srn validation and ingest: the input is
 * split into lines, each a document of one batch; then a search.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "srn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct osa_db *s = fuzz_service();
	const char *docs[64];
	size_t lens[64], n = 0, i = 0;
	struct osa_rejects rej = { 0 };
	struct osa_error err;
	struct osa_results *r;
	struct osa_search q = { .index = "v", .text = "a b c", .limit = 3 };
	char why[256], *copy;
	uint64_t lsn;

	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	osai_srn_check(copy, 0, why, sizeof(why));
	osai_srn_check(copy, 1, why, sizeof(why));
	while (i < size && n < 64) {
		const char *nl = memchr(copy + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - copy) : size;

		docs[n] = copy + i;
		lens[n++] = end - i;
		i = end + 1;
	}
	osa_ingest(s, docs, lens, n, &lsn, &rej, &err);
	osa_rejects_free(&rej);
	if (!osa_search(s, &q, &r, &err))
		osa_results_free(r);
	free(copy);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* fuzz_nng.c - the nng REQ/REP message decoder on arbitrary bytes. */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_service();
	free(osai_nng_handle(&fuzz_router, (const char *)data, size));
	return 0;
}

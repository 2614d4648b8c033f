/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http.c - the HTTP router and URL decoding, in process: the input is
 * "METHOD\nURI\nBODY".
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct osai_http_req rq = { 0 };
	struct osai_http_res rs;
	char *copy, *nl1, *nl2;

	fuzz_service();
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	nl1 = strchr(copy, '\n');
	nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
	if (!nl1 || !nl2) {
		free(osai_url_decode(copy, size, 1));
		free(copy);
		return 0;
	}
	*nl1 = *nl2 = '\0';
	rq.method = copy;
	rq.uri = nl1 + 1;
	rq.body = nl2 + 1;
	rq.body_len = size - (size_t)(nl2 + 1 - copy);
	osai_http_handle(&fuzz_router, &rq, &rs);
	free(rs.body);
	free(copy);
	return 0;
}

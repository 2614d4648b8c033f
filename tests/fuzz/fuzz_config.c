/* SPDX-License-Identifier: MIT */
/* fuzz_config.c - libconfig loader + schema validation on arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osai.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg = NULL;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	osai_registry_init(NULL);
	if (!osai_config_load_string(text, "fuzz.cfg", "/tmp", &cfg, &d))
		osai_config_free(cfg);
	free(osai_diags_join(&d));
	osai_diags_free(&d);
	free(text);
	return 0;
}

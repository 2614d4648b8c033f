/* SPDX-License-Identifier: MIT */
/*
 * fuzz_common.h - one service for the whole fuzzing run, in a data
 * directory under /dev/shm (memory), with a small vector and flat index.
 */
#ifndef OSA_FUZZ_COMMON_H
#define OSA_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <osa/osa.h>

#include "http.h"

static struct osai_router fuzz_router;

static struct osa_db *fuzz_service(void)
{
	static struct osa_db *db;
	char cfg[1024], dir[64];
	struct osa_error err;

	if (db)
		return db;
	snprintf(dir, sizeof(dir), "/dev/shm/osa-fuzz-%ld", (long)getpid());
	snprintf(
		cfg, sizeof(cfg),
		"data_dir = \"%s\";\n"
		"srn_format = \"any\";\n"
		"max_record_bytes = 65536;\n"
		"logging = { level = \"error\"; };\n"
		"indexes = (\n"
		" { name = \"v\"; backend = \"vector\"; config = { dim = 16; "
		"}; },\n"
		" { name = \"f\"; backend = \"flat\"; config = { dim = 16; }; }"
		");\n",
		dir);
	if (osa_open_string(cfg, NULL, NULL, &db, &err)) {
		fprintf(stderr, "fuzz: %s\n", err.msg);
		abort();
	}
	fuzz_router.svc = db;
	fuzz_router.max_body = 1 << 20;
	fuzz_router.max_query = 4096;
	return db;
}

#endif

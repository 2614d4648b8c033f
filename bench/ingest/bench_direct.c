/* SPDX-License-Identifier: MIT */
/*
 * bench_direct.c - the peer of bench/ingest: build the same `vector` index
 * (dim 384, hash embedder) straight through the backend API, batches of
 * 1000 records parsed beforehand, no journal.
 *   osa-bench-ingest-direct FILE.ndjson DIR
 * Prints {"impl":"backend-direct","records":N,"records_per_s":...}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <osa/backend.h>

#include "osai.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const struct osa_backend *b;
	static const struct osa_attrs none = { 0, NULL };
	struct osa_backend_args args = { .index = "papers", .attrs = &none };
	struct osa_record **recs = NULL;
	size_t n = 0, cap = 0, i, len = 0;
	struct osa_error err;
	char *line = NULL;
	uint64_t lsn;
	void *cfg, *self;
	ssize_t got;
	double t0, t;
	FILE *in;

	if (argc != 3 || !(in = fopen(argv[1], "r")))
		return 64;
	osai_registry_init(NULL);
	b = osa_backend_find("vector");
	if (!b || osa_schema_parse(b->schema, "dim = 384;", &cfg, NULL, &err))
		return 1;
	while ((got = getline(&line, &len, in)) > 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			recs = realloc(recs, cap * sizeof(*recs));
			if (!recs)
				return 1;
		}
		if (osa_record_parse(line, (size_t)got, NULL, &recs[n], &err))
			return 1;
		n++;
	}
	fclose(in);
	free(line);
	args.config = cfg;
	args.dir = argv[2];
	if (b->open(&args, &self, &lsn, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	t0 = now();
	for (i = 0; i < n; i += 1000) {
		size_t k = n - i < 1000 ? n - i : 1000;

		if (b->ingest_batch(self,
				    (const struct osa_record *const *)recs + i,
				    k, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
	}
	if (b->checkpoint && b->checkpoint(self, 1, &err))
		return 1;
	t = now() - t0;
	printf("{\"impl\":\"backend-direct\",\"records\":%zu,\"seconds\":%.2f,"
	       "\"records_per_s\":%.0f}\n",
	       n, t, (double)n / t);
	b->close(self);
	for (i = 0; i < n; i++)
		osa_record_free(recs[i]);
	free(recs);
	osa_schema_free(b->schema, cfg);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * catalogue - a product that embeds OSA Index through its C API.
 *
 *   catalogue DATA_DIR [NDJSON]
 *
 * Opens a database in DATA_DIR with a configuration of its own (one vector
 * index over title and summary), ingests NDJSON (default: three built-in
 * records), then runs the query its Kconfig chose (CONFIG_CATALOGUE_QUERY)
 * and prints CONFIG_CATALOGUE_LIMIT hits.  Exit 0 when the query found
 * something.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osa/osa.h>
#include <osa/osa_autoconf.h>

static const char *builtin[] = {
	"{\"srn\":\"urn:osa:catalogue.example:rec:item-1@1\",\"title\":"
	"\"Glacier "
	"retreat\",\"summary\":\"Survey of glacier mass balance in the Alps\"}",
	"{\"srn\":\"urn:osa:catalogue.example:rec:item-2@1\",\"title\":\"Sea "
	"ice\",\"summary\":\"Arctic sea ice extent from satellites\"}",
	"{\"srn\":\"urn:osa:catalogue.example:rec:item-3@1\",\"title\":\"Soil "
	"carbon\",\"summary\":\"Carbon stocks in boreal soils\"}",
};

int main(int argc, char **argv)
{
	struct osa_search q = { .index = "catalogue",
				.text = CONFIG_CATALOGUE_QUERY,
				.limit = CONFIG_CATALOGUE_LIMIT };
	const char *docs[3];
	size_t lens[3], i;
	struct osa_rejects rej = { 0 };
	struct osa_results *res = NULL;
	struct osa_error err;
	struct osa_db *db;
	char cfg[4096];
	uint64_t lsn;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
		return 64;
	}
	snprintf(cfg, sizeof(cfg),
		 "data_dir = \"%s\";\n"
		 "indexes = ({ name = \"catalogue\"; backend = \"vector\";\n"
		 "  config = { dim = 256; embedding = { embedder = \"hash\";\n"
		 "    fields = [\"title\", \"summary\"]; }; }; });\n",
		 argv[1]);
	if (osa_open_string(cfg, NULL, NULL, &db, &err)) {
		fprintf(stderr, "catalogue: %s\n", err.msg);
		return 1;
	}
	for (i = 0; i < 3; i++) {
		docs[i] = builtin[i];
		lens[i] = strlen(builtin[i]);
	}
	rc = osa_ingest(db, docs, lens, 3, &lsn, &rej, &err);
	if (rc) {
		fprintf(stderr, "catalogue: ingest: %s\n", err.msg);
		for (i = 0; i < rej.n; i++)
			fprintf(stderr, "  record %zu: %s\n", rej.v[i].position,
				rej.v[i].message);
		osa_rejects_free(&rej);
		osa_close(db);
		return 1;
	}
	printf("ingested 3 records (lsn %llu)\n", (unsigned long long)lsn);
	rc = osa_search(db, &q, &res, &err);
	if (rc) {
		fprintf(stderr, "catalogue: search: %s\n", err.msg);
		osa_close(db);
		return 1;
	}
	printf("query \"%s\": %zu hits\n", q.text, res->n);
	for (i = 0; i < res->n; i++)
		printf("%zu %.4f %s\n", i + 1, res->v[i].score, res->v[i].srn);
	rc = res->n ? 0 : 1;
	osa_results_free(res);
	osa_close(db);
	return rc;
}

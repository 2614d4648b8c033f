/* SPDX-License-Identifier: MIT */
/*
 * embed.c - using OSA Index as a library (osa/osa.h), without the binary.
 *
 *   embed CONFIG NDJSON [QUERY]
 *
 * Opens the database CONFIG describes, ingests the NDJSON file in batches of
 * 100 (printing "ack lsn=L line=N" once each batch is durable), searches the
 * first index for QUERY (default "data"), prints the hits and closes.  The
 * crash test kills it at random moments to prove acknowledged batches
 * survive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osa/osa.h>

int main(int argc, char **argv)
{
	struct osa_search q = { .index = "papers", .limit = 5 };
	struct osa_results *res;
	struct osa_error err;
	struct osa_db *db;
	char *docs[100], *line = NULL;
	size_t lens[100], n = 0, cap = 0, i;
	long lineno = 0;
	uint64_t lsn;
	ssize_t len;
	FILE *in;
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s CONFIG NDJSON [QUERY]\n", argv[0]);
		return 64;
	}
	q.text = argc > 3 ? argv[3] : "data";
	if (osa_open_file(argv[1], NULL, &db, &err)) {
		fprintf(stderr, "embed: %s\n", err.msg);
		return 1;
	}
	in = fopen(argv[2], "r");
	if (!in) {
		perror(argv[2]);
		osa_close(db);
		return 66;
	}
	while (!rc) {
		len = getline(&line, &cap, in);
		if (len > 0) {
			lineno++;
			docs[n] = strdup(line);
			lens[n] = (size_t)len;
			if (!docs[n]) {
				rc = 1;
				break;
			}
			n++;
		}
		if (n == 100 || (len < 0 && n)) {
			rc = osa_ingest(db, (const char *const *)docs, lens, n,
					&lsn, NULL, &err);
			if (rc)
				fprintf(stderr, "embed: %s\n", err.msg);
			else
				printf("ack lsn=%llu line=%ld\n",
				       (unsigned long long)lsn, lineno);
			fflush(stdout);
			for (i = 0; i < n; i++)
				free(docs[i]);
			n = 0;
		}
		if (len < 0)
			break;
	}
	free(line);
	fclose(in);
	if (!rc && !osa_search(db, &q, &res, &err)) {
		for (i = 0; i < res->n; i++)
			printf("%zu %.4f %s\n", i + 1, res->v[i].score,
			       res->v[i].srn);
		osa_results_free(res);
	}
	osa_close(db);
	return rc ? 1 : 0;
}

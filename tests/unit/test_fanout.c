/* SPDX-License-Identifier: MIT */
/*
 * test_fanout.c - a change goes to several indexes at once (svc_fan_out):
 * two writers ingest batches large enough to fan out concurrently (and
 * small ones, and deletes, applied in turn) into three indexes (`vector`
 * with threads = 2, `vector` sq8 with threads = 1, `flat`) while a reader
 * searches.  Afterwards every index holds exactly the journal's records
 * (count, applied LSN = last LSN, each record found first by its own
 * vector in each index), also after a reopen.  Run under ThreadSanitizer
 * by make test-tsan.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osa/osa.h>

#include "osa_test.h"

#define DIM 8
#define ROUNDS OSA_TEST_SIZE(12, 4)
#define BIG 40	/* fans out concurrently */
#define SMALL 5 /* applied index after index */

static char dir[256];
static const char *const names[] = { "hnsw", "hnsw_sq8", "exact" };
static int stop;

static char *config(void)
{
	static char buf[2048];
	const char *emb = "embedding = { embedder = \"field\"; };";

	snprintf(buf, sizeof(buf),
		 "data_dir = \"%s/data\";\n"
		 "logging = { level = \"warn\"; };\n"
		 "indexes = (\n"
		 " { name = \"hnsw\"; backend = \"vector\"; config = { dim = "
		 "%d; threads = 2; %s }; },\n"
		 " { name = \"hnsw_sq8\"; backend = \"vector\"; config = { "
		 "dim = %d; threads = 1; quantization = \"sq8\"; %s }; },\n"
		 " { name = \"exact\"; backend = \"flat\"; config = { dim = "
		 "%d; %s }; }\n"
		 ");\n",
		 dir, DIM, emb, DIM, emb, DIM, emb);
	return buf;
}

/* Record (writer w, number i)'s vector: distinct directions. */
static void vec_of(int w, int i, float *v)
{
	uint64_t s = (uint64_t)(w * 100003 + i) * 0x9e3779b97f4a7c15ull + 1;
	int d;

	for (d = 0; d < DIM; d++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		v[d] = (float)((s >> 11) * (1.0 / 9007199254740992.0)) - 0.5f;
	}
}

static char *doc_of(int w, int i)
{
	float v[DIM];
	char *d, *p;
	int k;

	vec_of(w, i, v);
	OSA_REQUIRE((d = malloc(64 + DIM * 20)) != NULL);
	p = d + sprintf(d,
			"{\"srn\":\"urn:osa:t.org:rec:w%d-%d\","
			"\"embedding\":[",
			w, i);
	for (k = 0; k < DIM; k++)
		p += sprintf(p, "%s%.9g", k ? "," : "", v[k]);
	strcpy(p, "]}");
	return d;
}

struct writer {
	pthread_t t;
	struct osa_db *db;
	int w;
	int next; /* records made: w<w>-0 .. w<w>-(next-1) */
	int bad;
};

/* Ingest records next .. next + n - 1 in one batch. */
static void ingest(struct writer *wr, int n)
{
	char *docs[BIG];
	size_t lens[BIG];
	struct osa_error err;
	uint64_t lsn;
	int i;

	for (i = 0; i < n; i++) {
		docs[i] = doc_of(wr->w, wr->next + i);
		lens[i] = strlen(docs[i]);
	}
	if (osa_ingest(wr->db, (const char *const *)docs, lens, (size_t)n, &lsn,
		       NULL, &err)) {
		fprintf(stderr, "ingest: %s\n", err.msg);
		wr->bad++;
	}
	for (i = 0; i < n; i++)
		free(docs[i]);
	wr->next += n;
}

/* Delete every 4th record of writer w below `upto`: srns w<w>-(4k+1). */
static void delete_some(struct writer *wr, int from, int upto)
{
	char srn[64];
	const char *p = srn;
	struct osa_error err;
	size_t gone;
	int i;

	for (i = from; i < upto; i++) {
		if (i % 4 != 1)
			continue;
		snprintf(srn, sizeof(srn), "urn:osa:t.org:rec:w%d-%d", wr->w,
			 i);
		if (osa_delete(wr->db, &p, 1, &gone, &err) || gone != 1) {
			fprintf(stderr, "delete %s: %s\n", srn, err.msg);
			wr->bad++;
		}
	}
}

static void *writer_main(void *arg)
{
	struct writer *wr = arg;
	int r;

	for (r = 0; r < ROUNDS; r++) {
		int from = wr->next;

		ingest(wr, BIG);
		ingest(wr, SMALL);
		delete_some(wr, from, wr->next);
	}
	return NULL;
}

static void *reader_main(void *arg)
{
	struct osa_db *db = arg;
	long n = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		float v[DIM];
		struct osa_search q = { .index = names[n % 3],
					.vector = v,
					.dim = DIM,
					.limit = 5 };
		struct osa_results *r = NULL;
		struct osa_error err;

		vec_of((int)(n % 2), (int)(n % 97), v);
		OSA_CHECK_MSG(osa_search(db, &q, &r, &err) == 0, "%s", err.msg);
		osa_results_free(r);
		n++;
	}
	return NULL;
}

/* Every index: the live records, each found first by its vector. */
static void check_all(struct osa_db *db, const struct writer *wr, int nw)
{
	struct osa_db_stats *st = NULL;
	struct osa_error err;
	uint64_t live = 0;
	size_t k;
	int w, i;

	for (w = 0; w < nw; w++)
		for (i = 0; i < wr[w].next; i++)
			live += i % 4 != 1;
	OSA_REQUIRE(osa_stats_get(db, &st, &err) == 0);
	OSA_CHECK(st->records == live);
	for (k = 0; k < st->n; k++) {
		OSA_CHECK_MSG(st->v[k].count == live,
			      "index %s holds %llu records, the journal %llu",
			      st->v[k].name, (unsigned long long)st->v[k].count,
			      (unsigned long long)live);
		OSA_CHECK(st->v[k].applied_lsn == st->last_lsn);
		OSA_CHECK(!st->v[k].degraded);
	}
	osa_stats_free(st);
	for (k = 0; k < 3; k++) {
		int found = 0, total = 0;

		for (w = 0; w < nw; w++)
			for (i = 0; i < wr[w].next; i++) {
				float v[DIM];
				char want[64];
				struct osa_search q = { .index = names[k],
							.vector = v,
							.dim = DIM,
							.limit = 1 };
				struct osa_results *r = NULL;

				if (i % 4 == 1)
					continue;
				vec_of(w, i, v);
				snprintf(want, sizeof(want),
					 "urn:osa:t.org:rec:w%d-%d", w, i);
				OSA_REQUIRE(osa_search(db, &q, &r, &err) == 0);
				found +=
					r->n == 1 && !strcmp(r->v[0].srn, want);
				total++;
				osa_results_free(r);
			}
		fprintf(stderr, "%s: %d of %d records found by their vector\n",
			names[k], found, total);
		OSA_CHECK(found == total);
	}
}

int main(void)
{
	struct writer wr[2];
	struct osa_db *db = NULL;
	struct osa_error err;
	pthread_t reader;
	int w;

	snprintf(dir, sizeof(dir), "/tmp/osa_fanout.XXXXXX");
	OSA_REQUIRE(mkdtemp(dir));
	OSA_REQUIRE(osa_open_string(config(), NULL, NULL, &db, &err) == 0);
	OSA_REQUIRE(pthread_create(&reader, NULL, reader_main, db) == 0);
	for (w = 0; w < 2; w++) {
		memset(&wr[w], 0, sizeof(wr[w]));
		wr[w].db = db;
		wr[w].w = w;
		OSA_REQUIRE(pthread_create(&wr[w].t, NULL, writer_main,
					   &wr[w]) == 0);
	}
	for (w = 0; w < 2; w++) {
		pthread_join(wr[w].t, NULL);
		OSA_CHECK(wr[w].bad == 0);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(reader, NULL);
	check_all(db, wr, 2);
	osa_close(db);
	/* Reopen: snapshots and log replay give the same records. */
	db = NULL;
	OSA_REQUIRE(osa_open_string(config(), NULL, NULL, &db, &err) == 0);
	check_all(db, wr, 2);
	osa_close(db);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		OSA_CHECK(system(cmd) == 0);
	}
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * test_churn.c - bounded disk under churn.  One long-lived handle (as a
 * server keeps) re-upserts the same 10 000 records 30 times with the default
 * checkpoint settings.  The journal must stay within 1.5 times its size
 * after the first pass: the maintenance thread checkpoints an index whose
 * part of the log outgrows half the records, trims the log, and LMDB reuses
 * the pages freed by the trim and by the replaced records.  `osa compact`
 * then gives the free pages back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <osa/osa.h>

#include "osa_test.h"

#define RECORDS 10000
#define BATCH 500
/* 10 under ThreadSanitizer: the journal grew to 2.2 times one pass after
 * 10 passes before the log was trimmed on the tick, so 10 still tell. */
#define PASSES OSA_TEST_SIZE(30, 10)

static char dir[256];

/* A number of stats, e.g. "journal_bytes". */
static long long stat_of(struct osa_db *db, const char *key)
{
	struct osa_error err;
	char *text = NULL, pat[64];
	const char *p;
	long long v = -1;

	OSA_REQUIRE(osa_stats(db, &text, &err) == 0);
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(text, pat);
	if (p)
		v = strtoll(p + strlen(pat), NULL, 10);
	free(text);
	return v;
}

static void pass(struct osa_db *db, int round)
{
	static char *docs[BATCH];
	size_t lens[BATCH];
	struct osa_error err;
	uint64_t lsn;
	int i, k;

	for (i = 0; i < RECORDS; i += BATCH) {
		for (k = 0; k < BATCH; k++) {
			free(docs[k]);
			OSA_REQUIRE(asprintf(&docs[k],
					     "{\"srn\":\"urn:osa:test.org:rec:"
					     "churn-%05d\",\"title\":\"record "
					     "%d of the churn\",\"summary\":"
					     "\"pass %02d rewrites the same "
					     "records with text of the same "
					     "length every time\"}",
					     i + k, i + k, round) > 0);
			lens[k] = strlen(docs[k]);
		}
		OSA_REQUIRE(osa_ingest(db, (const char *const *)docs, lens,
				       BATCH, &lsn, NULL, &err) == 0);
	}
	if (round == PASSES)
		for (k = 0; k < BATCH; k++) {
			free(docs[k]);
			docs[k] = NULL;
		}
}

/* Wait (at most 60 s) until the maintenance thread trimmed the log to at
 * most one pass of changes. */
static long long settled_log(struct osa_db *db)
{
	long long n = stat_of(db, "log_entries");
	int i;

	for (i = 0; i < 600 && n > RECORDS / BATCH; i++) {
		usleep(100000);
		n = stat_of(db, "log_entries");
	}
	return n;
}

int main(void)
{
	struct osa_db *db = NULL;
	struct osa_error err;
	char cfg[1024], cmd[400];
	long long one, worst = 0, now, log, compacted;
	int round;

	snprintf(dir, sizeof(dir), "/tmp/osa-test-churn-XXXXXX");
	OSA_REQUIRE(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg),
		 "data_dir = \"%s/data\";\n"
		 "logging = { level = \"warn\"; };\n"
		 "indexes = ( { name = \"exact\"; backend = \"flat\"; "
		 "config = { dim = 8; }; } );\n",
		 dir);
	OSA_REQUIRE(osa_open_string(cfg, NULL, NULL, &db, &err) == 0);
	pass(db, 1);
	log = settled_log(db);
	one = stat_of(db, "journal_bytes");
	OSA_REQUIRE(one > 0);
	for (round = 2; round <= PASSES; round++) {
		pass(db, round);
		now = stat_of(db, "journal_bytes");
		if (now > worst)
			worst = now;
	}
	log = settled_log(db);
	now = stat_of(db, "journal_bytes");
	printf("journal after 1 pass %lld bytes; after %d passes %lld "
	       "(%.2fx, at worst %.2fx); log entries %lld\n",
	       one, PASSES, now, (double)now / (double)one,
	       (double)worst / (double)one, log);
	OSA_CHECK_MSG(log <= RECORDS / BATCH,
		      "the log kept %lld entries: never trimmed", log);
	OSA_CHECK_MSG(now * 2 <= one * 3,
		      "journal %lld bytes after %d passes, over 1.5 times "
		      "%lld after one",
		      now, PASSES, one);
	OSA_CHECK_MSG(osa_compact(db, &err) == 0, "%s", err.msg);
	compacted = stat_of(db, "journal_bytes");
	printf("after compaction %lld bytes (%.2fx)\n", compacted,
	       (double)compacted / (double)one);
	OSA_CHECK(compacted * 2 <= one * 3);
	OSA_CHECK(stat_of(db, "records") == RECORDS);
	osa_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	OSA_REQUIRE(system(cmd) == 0);
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * test_lsn_writes.c - the core drives a backend with ingest_batch_at and
 * remove_at (ABI 1.3) with the LSN of each change, on every path: a live
 * write, a delete, a batch holding a record the index refuses (one-record
 * retries through the plain method, then the LSN alone), the replay at open
 * after the index was degraded, the retry on the maintenance tick, and a
 * rebuild (plain methods only, the LSN set by the checkpoint after it).
 *
 * The fixture backend `lsnlog` appends every change to a file in its folder
 * and stores the LSN in the same write, as a database would in one
 * transaction; `open` reads it back.  It traces each write call and counts
 * any LSN that goes backwards.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <osa/backend.h>
#include <osa/osa.h>

#include "osa_test.h"
#include "osai.h"

/* ---- the fixture backend ------------------------------------------------ */

#define LG_MAX 64

static pthread_mutex_t lg_mu = PTHREAD_MUTEX_INITIALIZER;
static char lg_trace[4096]; /* [lg_mu] write calls, in order */
static int lg_down;	    /* [lg_mu] every write fails (server down) */
static int lg_regress;	    /* [lg_mu] LSNs that went backwards */

struct lg {
	char path[600];
	char *srns[LG_MAX]; /* [lg_mu] */
	size_t n;	    /* [lg_mu] */
	uint64_t lsn;	    /* [lg_mu] stored */
};

struct lg_config {
	int unused;
};
static const struct osa_field lg_fields[] = {
	OSA_FIELD_INT(struct lg_config, unused, "unused", 0, 0, 1, "Nothing."),
	OSA_FIELD_END
};
static const struct osa_schema lg_schema = { .name = "lsnlog",
					     .size = sizeof(struct lg_config),
					     .fields = lg_fields };

static void lg_note(const char *fmt, size_t n, uint64_t lsn, int failed)
{
	size_t len = strlen(lg_trace);

	snprintf(lg_trace + len, sizeof(lg_trace) - len, fmt, n,
		 (unsigned long long)lsn);
	if (failed)
		strncat(lg_trace, "!", sizeof(lg_trace) - strlen(lg_trace) - 1);
	strncat(lg_trace, " ", sizeof(lg_trace) - strlen(lg_trace) - 1);
}

static void lg_set(struct lg *g, const char *srn, int add)
{
	size_t i;

	for (i = 0; i < g->n && strcmp(g->srns[i], srn); i++)
		;
	if (i < g->n && !add) {
		free(g->srns[i]);
		g->srns[i] = g->srns[--g->n];
	} else if (i == g->n && add && g->n < LG_MAX) {
		g->srns[g->n] = strdup(srn);
		OSA_REQUIRE(g->srns[g->n]);
		g->n++;
	}
}

/* Append one change (lines "U srn", "D srn", then "L lsn" when `at`) in
 * one write, and apply it in memory; lg_mu held. */
static int lg_write(struct lg *g, const struct osa_record *const *recs,
		    const char *const *srns, size_t n, int at, uint64_t lsn,
		    struct osa_error *err)
{
	char buf[8192];
	size_t len = 0, i;
	FILE *f;

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%c %s\n",
					recs ? 'U' : 'D',
					recs ? osa_record_srn(recs[i])
					     : srns[i]);
	if (at)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"L %llu\n", (unsigned long long)lsn);
	OSA_REQUIRE(len < sizeof(buf));
	f = fopen(g->path, "a");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		return osa_error_set(err, OSA_EIO, "cannot write %s", g->path);
	for (i = 0; i < n; i++)
		lg_set(g, recs ? osa_record_srn(recs[i]) : srns[i], !!recs);
	if (at) {
		if (lsn < g->lsn)
			lg_regress++;
		g->lsn = lsn;
	}
	return 0;
}

static int lg_open(const struct osa_backend_args *a, void **self, uint64_t *lsn,
		   struct osa_error *err)
{
	struct lg *g = calloc(1, sizeof(*g));
	char line[512];
	FILE *f;

	OSA_REQUIRE(g);
	snprintf(g->path, sizeof(g->path), "%s/lsnlog.txt", a->dir);
	pthread_mutex_lock(&lg_mu);
	f = fopen(g->path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == 'L')
			g->lsn = strtoull(line + 2, NULL, 10);
		else
			lg_set(g, line + 2, line[0] == 'U');
	}
	if (f)
		fclose(f);
	lg_note("open:%zu@%llu", g->n, g->lsn, 0);
	pthread_mutex_unlock(&lg_mu);
	(void)err;
	*lsn = g->lsn;
	*self = g;
	return 0;
}

/* Records titled "bad" are refused (record-level), the batch whole. */
static int lg_refused(const struct osa_record *const *recs, size_t n,
		      struct osa_error *err)
{
	const char *s;
	size_t i, len;

	for (i = 0; i < n; i++)
		if (!osa_record_string(recs[i], "title", &s, &len) &&
		    len == 3 && !memcmp(s, "bad", 3))
			return osa_error_set(err, OSA_EINVAL,
					     "srn %s: title \"bad\"",
					     osa_record_srn(recs[i]));
	return 0;
}

static int lg_change(void *self, const struct osa_record *const *recs,
		     const char *const *srns, size_t n, int at, uint64_t lsn,
		     struct osa_error *err)
{
	const char *fmt = recs ? (at ? "at:%zu@%llu" : "in:%zu")
			       : (at ? "rm_at:%zu@%llu" : "rm:%zu");
	int rc = 0;

	pthread_mutex_lock(&lg_mu);
	if (lg_down)
		rc = osa_error_set(err, OSA_EDEGRADED, "lsnlog: down");
	else if (recs)
		rc = lg_refused(recs, n, err);
	if (!rc)
		rc = lg_write(self, recs, srns, n, at, lsn, err);
	lg_note(fmt, n, lsn, rc != 0);
	pthread_mutex_unlock(&lg_mu);
	return rc;
}

static int lg_ingest(void *self, const struct osa_record *const *recs, size_t n,
		     struct osa_error *err)
{
	return lg_change(self, recs, NULL, n, 0, 0, err);
}

static int lg_remove(void *self, const char *const *srns, size_t n,
		     struct osa_error *err)
{
	return lg_change(self, NULL, srns, n, 0, 0, err);
}

static int lg_ingest_at(void *self, const struct osa_record *const *recs,
			size_t n, uint64_t lsn, struct osa_error *err)
{
	static const struct osa_record *const none[1] = { NULL };

	return lg_change(self, n ? recs : none, NULL, n, 1, lsn, err);
}

static int lg_remove_at(void *self, const char *const *srns, size_t n,
			uint64_t lsn, struct osa_error *err)
{
	return lg_change(self, NULL, srns, n, 1, lsn, err);
}

static int lg_query(void *self, const struct osa_query *q, struct osa_hits *h,
		    struct osa_error *err)
{
	(void)self, (void)q, (void)h, (void)err;
	return 0;
}

static int lg_count(void *self, uint64_t *c)
{
	struct lg *g = self;

	pthread_mutex_lock(&lg_mu);
	*c = g->n;
	pthread_mutex_unlock(&lg_mu);
	return 0;
}

static int lg_checkpoint(void *self, uint64_t lsn, struct osa_error *err)
{
	int rc;

	pthread_mutex_lock(&lg_mu);
	rc = lg_down ? osa_error_set(err, OSA_EDEGRADED, "lsnlog: down")
		     : lg_write(self, NULL, NULL, 0, 1, lsn, err);
	pthread_mutex_unlock(&lg_mu);
	return rc;
}

static void lg_close(void *self)
{
	struct lg *g = self;
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->srns[i]);
	free(g);
}

static const struct osa_backend lg_backend = {
	.abi = OSA_BACKEND_ABI,
	.size = sizeof(struct osa_backend),
	.name = "lsnlog",
	.doc = "Fixture: stores the LSN with every change.",
	.schema = &lg_schema,
	.open = lg_open,
	.ingest_batch = lg_ingest,
	.remove = lg_remove,
	.query = lg_query,
	.count = lg_count,
	.checkpoint = lg_checkpoint,
	.close = lg_close,
	.ingest_batch_at = lg_ingest_at,
	.remove_at = lg_remove_at,
};
OSA_BACKEND_REGISTER(lg_backend);

/* ---- helpers ------------------------------------------------------------ */

static char dir[256];

/* The write calls since the last take ("open:" entries included). */
static void take(char *out, size_t n)
{
	pthread_mutex_lock(&lg_mu);
	snprintf(out, n, "%s", lg_trace);
	lg_trace[0] = '\0';
	pthread_mutex_unlock(&lg_mu);
}

static void set_down(int down)
{
	pthread_mutex_lock(&lg_mu);
	lg_down = down;
	pthread_mutex_unlock(&lg_mu);
}

/* The LSN the fixture's file holds (as `open` would read it). */
static uint64_t file_lsn(void)
{
	char path[400], line[512];
	uint64_t lsn = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/data/indexes/log/lsnlog.txt", dir);
	pthread_mutex_lock(&lg_mu);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (line[0] == 'L')
			lsn = strtoull(line + 2, NULL, 10);
	if (f)
		fclose(f);
	pthread_mutex_unlock(&lg_mu);
	return lsn;
}

static struct osa_db *open_db(void)
{
	char cfg[1024];
	struct osa_db *db = NULL;
	struct osa_error err;

	snprintf(cfg, sizeof(cfg),
		 "data_dir = \"%s/data\";\n"
		 "checkpoint_interval = { ops = 100000; seconds = 3600; };\n"
		 "logging = { level = \"error\"; };\n"
		 "indexes = ( { name = \"log\"; backend = \"lsnlog\"; "
		 "config = { }; } );\n",
		 dir);
	OSA_CHECK_MSG(osa_open_string(cfg, NULL, NULL, &db, &err) == 0, "%s",
		      err.msg);
	OSA_REQUIRE(db);
	return db;
}

/* Ingest records `from`..`to`-1 as one batch, titled `title` (a record
 * whose number is `bad` is titled "bad"); returns the batch's LSN. */
static uint64_t ingest(struct osa_db *db, int from, int to, int bad)
{
	char *docs[16];
	size_t lens[16];
	struct osa_error err;
	uint64_t lsn = 0;
	int i;

	OSA_REQUIRE(to - from <= 16);
	for (i = from; i < to; i++) {
		OSA_REQUIRE(asprintf(&docs[i - from],
				     "{\"srn\":\"urn:osa:t.org:rec:r-%d\","
				     "\"title\":\"%s\"}",
				     i, i == bad ? "bad" : "good") > 0);
		lens[i - from] = strlen(docs[i - from]);
	}
	OSA_CHECK_MSG(osa_ingest(db, (const char *const *)docs, lens,
				 (size_t)(to - from), &lsn, NULL, &err) == 0,
		      "%s", err.msg);
	for (i = 0; i < to - from; i++)
		free(docs[i]);
	return lsn;
}

/* Delete record `i`; returns the journal's last LSN after it. */
static uint64_t delete1(struct osa_db *db, int i)
{
	char srn[64];
	const char *v[1] = { srn };
	struct osa_db_stats *st = NULL;
	struct osa_error err;
	uint64_t lsn = 0;

	snprintf(srn, sizeof(srn), "urn:osa:t.org:rec:r-%d", i);
	OSA_CHECK_MSG(osa_delete(db, v, 1, NULL, &err) == 0, "%s", err.msg);
	OSA_REQUIRE(osa_stats_get(db, &st, &err) == 0);
	lsn = st->last_lsn;
	osa_stats_free(st);
	return lsn;
}

static int index_ready(struct osa_db *db, uint64_t *count)
{
	struct osa_db_stats *st = NULL;
	struct osa_error err;
	int ready;

	OSA_REQUIRE(osa_stats_get(db, &st, &err) == 0 && st->n == 1);
	ready = !strcmp(st->v[0].state, "ready");
	if (count)
		*count = st->v[0].count;
	osa_stats_free(st);
	return ready;
}

/* ---- the paths ---------------------------------------------------------- */

static void test_paths(void)
{
	struct osa_db *db = open_db();
	struct osa_error err;
	char got[4096], want[512];
	uint64_t l1, l2, l3, l4, l5, l6, count = 0;
	int i;

	take(got, sizeof(got));
	OSA_CHECK_CONTAINS(got, "open:0@0");

	/* A live write: the batch with its LSN, stored at once (no
	 * checkpoint is due for 100000 changes). */
	l1 = ingest(db, 0, 3, -1);
	take(got, sizeof(got));
	snprintf(want, sizeof(want), "at:3@%llu ", (unsigned long long)l1);
	OSA_CHECK_STR(got, want);
	OSA_CHECK(file_lsn() == l1);

	/* A delete. */
	l2 = delete1(db, 1);
	take(got, sizeof(got));
	snprintf(want, sizeof(want), "rm_at:1@%llu ", (unsigned long long)l2);
	OSA_CHECK_STR(got, want);
	OSA_CHECK(file_lsn() == l2);

	/* A batch holding a refused record: the batch at its LSN fails,
	 * the records go one by one through the plain method (each only a
	 * part of the change), then the change's LSN alone. */
	l3 = ingest(db, 10, 12, 11);
	take(got, sizeof(got));
	snprintf(want, sizeof(want), "at:2@%llu! in:1 in:1! at:0@%llu ",
		 (unsigned long long)l3, (unsigned long long)l3);
	OSA_CHECK_STR(got, want);
	OSA_CHECK(file_lsn() == l3);

	/* Down: writes are acknowledged (journal), the index degrades. */
	set_down(1);
	l4 = ingest(db, 20, 21, -1);
	l5 = delete1(db, 0);
	OSA_CHECK(!index_ready(db, NULL));
	set_down(0);
	osa_close(db);
	take(got, sizeof(got));
	OSA_CHECK(file_lsn() == l3);

	/* The replay at open starts after the stored LSN, each change with
	 * its own. */
	db = open_db();
	take(got, sizeof(got));
	snprintf(want, sizeof(want), "open:3@%llu at:1@%llu rm_at:1@%llu ",
		 (unsigned long long)l3, (unsigned long long)l4,
		 (unsigned long long)l5);
	OSA_CHECK_STR(got, want);
	OSA_CHECK(file_lsn() == l5);
	OSA_CHECK(index_ready(db, &count) && count == 3);

	/* The retry on the maintenance tick (every 5 s). */
	set_down(1);
	l6 = ingest(db, 30, 31, -1);
	OSA_CHECK(!index_ready(db, NULL));
	set_down(0);
	for (i = 0; i < 300 && !index_ready(db, NULL); i++)
		usleep(100000);
	OSA_CHECK_MSG(index_ready(db, &count), "not retried within 30 s");
	OSA_CHECK(count == 4);
	take(got, sizeof(got));
	snprintf(want, sizeof(want), "at:1@%llu! at:1@%llu ",
		 (unsigned long long)l6, (unsigned long long)l6);
	OSA_CHECK_STR(got, want);
	OSA_CHECK(file_lsn() == l6);

	/* A rebuild loads the records as they are now, through the plain
	 * method; the checkpoint after it stores the LSN it reached. */
	OSA_CHECK_MSG(osa_reindex(db, "log", NULL, NULL, &err) == 0, "%s",
		      err.msg);
	take(got, sizeof(got));
	/* By srn: r-10, r-11 (refused), r-2, r-20, r-30. */
	OSA_CHECK_STR(got, "open:0@0 in:5! in:1 in:1! in:1 in:1 in:1 ");
	OSA_CHECK(file_lsn() == l6);
	OSA_CHECK(index_ready(db, &count) && count == 4);
	osa_close(db);

	/* Reopened: nothing to replay. */
	db = open_db();
	take(got, sizeof(got));
	snprintf(want, sizeof(want), "open:4@%llu ", (unsigned long long)l6);
	OSA_CHECK_STR(got, want);
	osa_close(db);

	pthread_mutex_lock(&lg_mu);
	OSA_CHECK_MSG(lg_regress == 0, "%d LSNs went backwards", lg_regress);
	pthread_mutex_unlock(&lg_mu);
}

/* The registry refuses a descriptor with one of the two methods. */
static void test_both_or_neither(void)
{
	struct osa_backend half = lg_backend;
	const struct osa_backend *v[1] = { &half };
	struct osa_error err;

	half.remove_at = NULL;
	OSA_CHECK(osai_registry_check(v, 1, NULL, 0, &err) == OSA_EINVAL);
	OSA_CHECK_CONTAINS(err.msg, "backend \"lsnlog\" sets "
				    "`ingest_batch_at` without `remove_at`");
	OSA_CHECK(!osa_backend_has_lsn_writes(&half));
	half = lg_backend;
	half.ingest_batch_at = NULL;
	OSA_CHECK(osai_registry_check(v, 1, NULL, 0, &err) == OSA_EINVAL);
	OSA_CHECK_CONTAINS(err.msg, "sets `remove_at` without "
				    "`ingest_batch_at`");
	/* A 1.2 descriptor (shorter) has neither, whatever follows it. */
	half = lg_backend;
	half.abi = OSA_ABI(1, 2);
	half.size = (unsigned)offsetof(struct osa_backend, ingest_batch_at);
	OSA_CHECK(osai_registry_check(v, 1, NULL, 0, &err) == 0);
	OSA_CHECK(!osa_backend_has_lsn_writes(&half));
	OSA_CHECK(osa_backend_has_lsn_writes(&lg_backend));
}

int main(void)
{
	char cmd[400];

	snprintf(dir, sizeof(dir), "/tmp/osa-test-lsn-XXXXXX");
	OSA_REQUIRE(mkdtemp(dir));
	test_both_or_neither();
	test_paths();
	if (!osa_test_failures) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		OSA_REQUIRE(system(cmd) == 0);
	}
	OSA_TEST_END();
}

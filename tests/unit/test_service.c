/* SPDX-License-Identifier: MIT */
/*
 * test_service.c - the index service through the public C API (osa/osa.h):
 * ingest/search/get/delete, batch validation (all or nothing, both positions
 * of a duplicate named), the data directory lock, replay after reopen,
 * rebuild on a config change, quarantine of a corrupt snapshot, reindex
 * after deletes, a failed checkpoint failing compaction, retry of a degraded
 * index by the maintenance thread, bounded disk use on re-ingest, compaction
 * after deleting everything, concurrent writers and readers, the count of
 * skipped records across restarts, and a lost journal (refused;
 * OSA_OPEN_REBUILD_FROM_JOURNAL quarantines).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <osa/osa.h>

#include "osa_test.h"

static char dir[256];

static char *config(int dim)
{
	static char buf[2048];

	snprintf(
		buf, sizeof(buf),
		"data_dir = \"%s/data\";\n"
		"checkpoint_interval = { ops = 3; seconds = 3600; };\n"
		"logging = { level = \"warn\"; };\n"
		"indexes = (\n"
		" { name = \"papers\"; backend = \"vector\"; config = { dim = "
		"%d; }; },\n"
		" { name = \"exact\"; backend = \"flat\"; config = { dim = %d; "
		"}; },\n"
		" { name = \"vecs\"; backend = \"flat\"; config = { dim = 3; "
		"metric = \"l2\"; embedding = { embedder = \"field\"; }; }; }\n"
		");\n",
		dir, dim, dim);
	return buf;
}

static struct osa_db *open_db(int dim)
{
	struct osa_db *db = NULL;
	struct osa_error err;

	OSA_CHECK_MSG(osa_open_string(config(dim), NULL, NULL, &db, &err) == 0,
		      "%s", err.msg);
	OSA_REQUIRE(db);
	return db;
}

static char *make_doc(int i, const char *title)
{
	char *d;

	OSA_REQUIRE(asprintf(&d,
			     "{\"srn\":\"urn:osa:test.org:rec:r-%d\","
			     "\"title\":\"%s %d\",\"summary\":\"record "
			     "number %d about %s\",\"embedding\":[%d,1,0]}",
			     i, title, i, i, title, i % 7) > 0);
	return d;
}

static int ingest_range(struct osa_db *db, int from, int to, const char *t)
{
	char **docs = calloc((size_t)(to - from), sizeof(*docs));
	size_t *lens = calloc((size_t)(to - from), sizeof(*lens));
	struct osa_error err;
	uint64_t lsn;
	int i, rc;

	for (i = from; i < to; i++) {
		docs[i - from] = make_doc(i, t);
		lens[i - from] = strlen(docs[i - from]);
	}
	rc = osa_ingest(db, (const char *const *)docs, lens,
			(size_t)(to - from), &lsn, NULL, &err);
	OSA_CHECK_MSG(rc == 0, "%s", err.msg);
	for (i = 0; i < to - from; i++)
		free(docs[i]);
	free(docs);
	free(lens);
	return rc;
}

static size_t search_n(struct osa_db *db, const char *index, const char *q,
		       const char *want_first)
{
	struct osa_search s = { .index = index, .text = q, .limit = 10 };
	struct osa_results *r = NULL;
	struct osa_error err;
	size_t n;

	OSA_CHECK_MSG(osa_search(db, &s, &r, &err) == 0, "%s", err.msg);
	if (!r)
		return 0;
	if (want_first)
		OSA_CHECK(r->n > 0 && !strcmp(r->v[0].srn, want_first));
	n = r->n;
	if (n) {
		OSA_CHECK_CONTAINS(r->v[0].metadata, "\"title\"");
		OSA_CHECK(strstr(r->v[0].metadata, "\"embedding\"") == NULL);
	}
	osa_results_free(r);
	return n;
}

static void test_basic(void)
{
	struct osa_db *db = open_db(64), *db2 = NULL;
	const char *bad_docs[] = {
		"{\"srn\":\"urn:osa:test.org:rec:ok-1\",\"title\":\"fine\"}",
		"{\"srn\":\"not an srn\",\"title\":\"x\"}",
		"{\"title\":\"no srn\"}",
		"[1,2]",
		"{\"srn\":\"urn:osa:test.org:rec:ok-1\",\"title\":\"again\"}",
		"{\"srn\":\"urn:osa:test.org:rec:ok-2\",\"title\":\"\xff\"}"
	};
	size_t lens[6], i, deleted;
	struct osa_rejects rej = { 0 };
	struct osa_error err;
	const char *gone[] = { "urn:osa:test.org:rec:r-3" };
	char *doc, *stats;
	uint64_t lsn;
	int healthy;

	OSA_CHECK(ingest_range(db, 0, 50, "glacier") == 0);
	OSA_CHECK(ingest_range(db, 50, 100, "volcano") == 0);
	OSA_CHECK(search_n(db, "papers", "volcano 77", NULL) > 0);
	OSA_CHECK(search_n(db, "exact", "glacier 12",
			   "urn:osa:test.org:rec:r-12") > 0);
	OSA_CHECK(osa_get(db, "urn:osa:test.org:rec:r-5", &doc, &err) == 0);
	OSA_CHECK_CONTAINS(doc, "glacier 5");
	free(doc);

	/* All or nothing, every bad record named. */
	for (i = 0; i < 6; i++)
		lens[i] = strlen(bad_docs[i]);
	OSA_CHECK(osa_ingest(db, bad_docs, lens, 6, &lsn, &rej, &err) ==
		  OSA_EINVAL);
	OSA_CHECK(rej.n == 4);
	for (i = 0; i < rej.n; i++) {
		if (rej.v[i].position == 1)
			OSA_CHECK_CONTAINS(rej.v[i].message, "invalid srn");
		if (rej.v[i].position == 2)
			OSA_CHECK_CONTAINS(rej.v[i].message, "srn");
	}
	osa_rejects_free(&rej);
	OSA_CHECK(osa_get(db, "urn:osa:test.org:rec:ok-1", &doc, &err) ==
		  OSA_ENOTFOUND);
	/* A duplicate srn names both positions. */
	OSA_CHECK(osa_ingest(db, (const char *[]){ bad_docs[0], bad_docs[4] },
			     (size_t[]){ lens[0], lens[4] }, 2, &lsn, &rej,
			     &err) == OSA_EINVAL);
	OSA_CHECK(rej.n == 1 && rej.v[0].message &&
		  strstr(rej.v[0].message, "positions 0 and 1"));
	osa_rejects_free(&rej);

	/* The lock: a second opener is told who holds the directory. */
	OSA_CHECK(osa_open_string(config(64), NULL, NULL, &db2, &err) ==
		  OSA_EBUSY);
	OSA_CHECK_CONTAINS(err.msg, "in use by pid");

	OSA_CHECK(osa_delete(db, gone, 1, &deleted, &err) == 0 && deleted == 1);
	OSA_CHECK(osa_get(db, gone[0], &doc, &err) == OSA_ENOTFOUND);
	OSA_CHECK(osa_stats(db, &stats, &err) == 0);
	OSA_CHECK_CONTAINS(stats, "\"records\":99");
	OSA_CHECK_CONTAINS(stats,
			   "\"papers\":{\"backend\":\"vector\",\"count\":99");
	free(stats);
	OSA_CHECK(osa_health(db, &stats, &healthy, &err) == 0 && healthy);
	free(stats);
	osa_close(db);

	/* Reopen: snapshot + replay give the same answers. */
	db = open_db(64);
	OSA_CHECK(osa_stats(db, &stats, &err) == 0);
	OSA_CHECK_CONTAINS(stats,
			   "\"exact\":{\"backend\":\"flat\",\"count\":99");
	free(stats);
	OSA_CHECK(search_n(db, "exact", "glacier 12",
			   "urn:osa:test.org:rec:r-12") > 0);
	osa_close(db);

	/* A changed dim rebuilds from the records. */
	db = open_db(32);
	OSA_CHECK(osa_stats(db, &stats, &err) == 0);
	OSA_CHECK_CONTAINS(stats,
			   "\"papers\":{\"backend\":\"vector\",\"count\":99");
	free(stats);
	OSA_CHECK(search_n(db, "papers", "glacier 12", NULL) > 0);
	OSA_CHECK(osa_reindex(db, "exact", NULL, NULL, &err) == 0);
	OSA_CHECK(osa_reindex(db, "nope", NULL, NULL, &err) == OSA_ENOTFOUND);
	osa_close(db);
}

static void corrupt_snapshots(const char *index)
{
	char path[600];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/data/indexes/%s", dir, index);
	d = opendir(path);
	OSA_REQUIRE(d);
	while ((e = readdir(d))) {
		char f[900];
		FILE *fp;

		if (e->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
		fp = fopen(f, "r+");
		if (fp) {
			fseek(fp, 40, SEEK_SET);
			fputs("garbage garbage garbage", fp);
			fclose(fp);
		}
	}
	closedir(d);
}

/* Does a search of `index` for `q` return `srn`? */
static int finds(struct osa_db *db, const char *index, const char *q,
		 const char *srn)
{
	struct osa_search s = { .index = index, .text = q, .limit = 100 };
	struct osa_results *r = NULL;
	struct osa_error err;
	size_t i;
	int found = 0;

	OSA_CHECK_MSG(osa_search(db, &s, &r, &err) == 0, "%s", err.msg);
	for (i = 0; r && i < r->n; i++)
		if (!strcmp(r->v[i].srn, srn))
			found = 1;
	osa_results_free(r);
	return found;
}

/* The JSON of stats, which the caller frees. */
static char *stats_of(struct osa_db *db)
{
	struct osa_error err;
	char *text = NULL;

	OSA_CHECK_MSG(osa_stats(db, &text, &err) == 0, "%s", err.msg);
	return text;
}

static void test_quarantine(void)
{
	struct osa_db *db;
	struct osa_error err;
	char *text, q[600];
	struct stat st;
	int n = 0;
	DIR *d;
	struct dirent *e;

	corrupt_snapshots("exact");
	corrupt_snapshots("papers");
	db = open_db(32);
	OSA_CHECK(osa_health(db, &text, NULL, &err) == 0);
	OSA_CHECK_CONTAINS(text, "quarantined");
	free(text);
	/* Rebuilt from the journal: every record is back in both. */
	text = stats_of(db);
	OSA_CHECK_CONTAINS(text, "\"papers\":{\"backend\":\"vector\","
				 "\"count\":99,\"state\":\"ready\"");
	OSA_CHECK_CONTAINS(text, "\"exact\":{\"backend\":\"flat\","
				 "\"count\":99,\"state\":\"ready\"");
	free(text);
	OSA_CHECK(search_n(db, "exact", "glacier 12",
			   "urn:osa:test.org:rec:r-12") > 0);
	OSA_CHECK(search_n(db, "papers", "glacier 12", NULL) > 0);
	osa_close(db);
	/* The damaged files were moved aside, not deleted. */
	snprintf(q, sizeof(q), "%s/data/quarantine", dir);
	OSA_CHECK(stat(q, &st) == 0 && S_ISDIR(st.st_mode));
	d = opendir(q);
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "exact.", 6) ||
		    !strncmp(e->d_name, "papers.", 7))
			n++;
	if (d)
		closedir(d);
	OSA_CHECK_MSG(n == 2, "%d quarantined index directories", n);
}

/*
 * A snapshot damaged where only its body checksum can tell (a vector
 * component): `vector` opens it at once and serves, its check after open
 * finds the damage, and the tick moves the folder to quarantine and
 * rebuilds the index from the journal.
 */
static void test_damage_after_open(void)
{
	struct osa_db *db;
	char path[600], *text;
	long size;
	int c, i, ok = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/data/indexes/papers/vector.snap",
		 dir);
	fp = fopen(path, "r+");
	OSA_REQUIRE(fp);
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	fseek(fp, size / 2, SEEK_SET);
	c = fgetc(fp);
	fseek(fp, size / 2, SEEK_SET);
	fputc(c ^ 0x01, fp);
	OSA_REQUIRE(fclose(fp) == 0);
	db = open_db(32);
	OSA_CHECK(search_n(db, "papers", "glacier 12", NULL) > 0);
	for (i = 0; i < 300 && !ok; i++) {
		text = stats_of(db);
		ok = strstr(text, "quarantined") &&
		     strstr(text, "\"papers\":{\"backend\":\"vector\","
				  "\"count\":99,\"state\":\"ready\"");
		free(text);
		if (!ok)
			usleep(50 * 1000);
	}
	OSA_CHECK_MSG(ok, "the damage found after open was not repaired");
	OSA_CHECK(search_n(db, "papers", "glacier 12", NULL) > 0);
	osa_close(db);
}

/* Mark every snapshot of `index` as format 1 (osa before 0.4). */
static int old_format_snapshots(const char *index)
{
	char path[600];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "%s/data/indexes/%s", dir, index);
	d = opendir(path);
	OSA_REQUIRE(d);
	while ((e = readdir(d))) {
		char f[900], magic[8];
		FILE *fp;

		if (e->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
		fp = fopen(f, "r+");
		if (!fp)
			continue;
		if (fread(magic, 1, 8, fp) == 8 &&
		    !memcmp(magic, "OSASNAP1", 8)) {
			fseek(fp, 8, SEEK_SET);
			fputc(1, fp);
			n++;
		}
		fclose(fp);
	}
	closedir(d);
	return n;
}

/*
 * Snapshots of the old format (1: CRC-32C, vector fields in the header)
 * are refused as corrupt: the core quarantines them and rebuilds the index
 * from the journal, with every record back.
 */
static void test_old_snapshot_format(void)
{
	struct osa_db *db;
	char *text, q[700];
	int n = 0;
	DIR *d;
	struct dirent *e;

	db = open_db(32);
	osa_close(db); /* checkpoints: fresh snapshots on disk */
	/* No wait after test_quarantine: a second quarantine of an index
	 * within the same second goes to <index>.<time>.1, not onto the
	 * first (which failed the move and lost the old files). */
	OSA_CHECK(old_format_snapshots("exact") > 0);
	OSA_CHECK(old_format_snapshots("papers") > 0);
	db = open_db(32);
	text = stats_of(db);
	OSA_CHECK_CONTAINS(text, "\"papers\":{\"backend\":\"vector\","
				 "\"count\":99,\"state\":\"ready\"");
	OSA_CHECK_CONTAINS(text, "\"exact\":{\"backend\":\"flat\","
				 "\"count\":99,\"state\":\"ready\"");
	free(text);
	OSA_CHECK(search_n(db, "exact", "glacier 12",
			   "urn:osa:test.org:rec:r-12") > 0);
	osa_close(db);
	/* The old folders are kept in quarantine (2 each with the above,
	 * and papers' from test_damage_after_open). */
	snprintf(q, sizeof(q), "%s/data/quarantine", dir);
	d = opendir(q);
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "exact.", 6) ||
		    !strncmp(e->d_name, "papers.", 7))
			n++;
	if (d)
		closedir(d);
	OSA_CHECK_MSG(n == 5, "%d quarantined index directories", n);
}

/*
 * Reindex after deletes: the rebuild clears the index's directory, which
 * holds everything the backend wrote, so a snapshot taken before the
 * deletes cannot bring deleted records back (nor can a reopen after).
 */
static void test_reindex_after_deletes(void)
{
	const char *gone[] = { "urn:osa:test.org:rec:r-1007",
			       "urn:osa:test.org:rec:r-1008" };
	const char *const names[] = { "papers", "exact" };
	struct osa_db *db = open_db(32);
	struct osa_error err;
	size_t deleted, i, k;
	char *text;
	int round;

	ingest_range(db, 1000, 1020, "lagoon");
	osa_close(db); /* every snapshot now holds r-1007 and r-1008 */
	db = open_db(32);
	OSA_CHECK(finds(db, "exact", "lagoon 1007", gone[0]));
	OSA_CHECK(osa_delete(db, gone, 2, &deleted, &err) == 0 && deleted == 2);
	for (i = 0; i < 2; i++)
		OSA_CHECK_MSG(osa_reindex(db, names[i], NULL, NULL, &err) == 0,
			      "%s", err.msg);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < 2; i++)
			for (k = 0; k < 2; k++)
				OSA_CHECK_MSG(!finds(db, names[i],
						     k ? "lagoon 1008"
						       : "lagoon 1007",
						     gone[k]),
					      "%s returns deleted %s (%s)",
					      names[i], gone[k],
					      round ? "after reopen"
						    : "after reindex");
		text = stats_of(db);
		OSA_CHECK_CONTAINS(text, "\"records\":117");
		OSA_CHECK_CONTAINS(text, "\"papers\":{\"backend\":\"vector\","
					 "\"count\":117");
		OSA_CHECK_CONTAINS(text, "\"exact\":{\"backend\":\"flat\","
					 "\"count\":117");
		free(text);
		osa_close(db);
		db = open_db(32);
	}
	osa_close(db);
}

/* `osa compact` fails, and says which index, when a checkpoint fails. */
static void test_compact_checkpoint_failure(void)
{
	struct osa_db *db = open_db(32);
	struct osa_error err;
	char snap[700], inner[800];
	int rc;

	/* A directory where the snapshot goes: its rename fails. */
	snprintf(snap, sizeof(snap), "%s/data/indexes/exact/flat.snap", dir);
	snprintf(inner, sizeof(inner), "%s/keep", snap);
	unlink(snap);
	OSA_REQUIRE(mkdir(snap, 0755) == 0 && mkdir(inner, 0755) == 0);
	ingest_range(db, 2000, 2010, "fjord");
	rc = osa_compact(db, &err);
	OSA_CHECK_MSG(rc != 0, "compaction reported success");
	if (rc)
		OSA_CHECK_CONTAINS(err.msg, "index exact: checkpoint failed");
	OSA_REQUIRE(rmdir(inner) == 0 && rmdir(snap) == 0);
	rc = osa_compact(db, &err);
	OSA_CHECK_MSG(rc == 0, "%s", err.msg);
	osa_close(db);
}

/* A degraded index is retried by the service's own thread: no request
 * has to come (stats never retries). */
static void test_retry_on_tick(void)
{
	struct osa_db *db;
	char path[700], *text;
	FILE *f;
	int i, ready = 0;

	snprintf(path, sizeof(path), "rm -rf %s/data/indexes/exact", dir);
	OSA_REQUIRE(system(path) == 0);
	/* A file where the index's directory should be. */
	snprintf(path, sizeof(path), "%s/data/indexes/exact", dir);
	f = fopen(path, "w");
	OSA_REQUIRE(f);
	fclose(f);
	db = open_db(32);
	text = stats_of(db);
	OSA_CHECK_CONTAINS(text, "\"state\":\"degraded\"");
	free(text);
	unlink(path);
	for (i = 0; i < 600 && !ready; i++) {
		text = stats_of(db);
		ready = text && strstr(text, "\"exact\":{\"backend\":\"flat\","
					     "\"count\":127,\"state\":"
					     "\"ready\"");
		free(text);
		if (!ready)
			usleep(100000);
	}
	OSA_CHECK_MSG(ready, "exact was not retried within 60 s");
	OSA_CHECK(search_n(db, "exact", "fjord 2003",
			   "urn:osa:test.org:rec:r-2003") > 0);
	osa_close(db);
}

static long long du(void)
{
	char cmd[600];
	long long kb = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "du -sk %s/data", dir);
	p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%lld", &kb) != 1)
			kb = -1;
		pclose(p);
	}
	return kb;
}

/* Records of test_disk_bounded, ingested in 4 batches: each re-ingest
 * replaces every vector in the HNSW graph, the slow part under TSan. */
#define DISK_N OSA_TEST_SIZE(2000, 400)
#define DISK_BATCH (DISK_N / 4)

static void test_disk_bounded(void)
{
	struct osa_db *db = open_db(32);
	struct osa_error err;
	const char **srns = calloc(DISK_N, sizeof(*srns));
	char **mem = calloc(DISK_N, sizeof(*mem));
	long long first, later, empty;
	size_t deleted;
	int i, round;

	for (i = 0; i < DISK_N; i += DISK_BATCH)
		ingest_range(db, i, i + DISK_BATCH, "river");
	osa_close(db);
	first = du();
	for (round = 0; round < 3; round++) {
		db = open_db(32);
		for (i = 0; i < DISK_N; i += DISK_BATCH)
			ingest_range(db, i, i + DISK_BATCH, "river");
		osa_close(db);
	}
	later = du();
	OSA_CHECK_MSG(later <= first * 3 / 2,
		      "%lld kB after 4 ingests vs %lld "
		      "kB after 1",
		      later, first);
	db = open_db(32);
	for (i = 0; i < DISK_N; i++) {
		OSA_REQUIRE(asprintf(&mem[i], "urn:osa:test.org:rec:r-%d", i) >
			    0);
		srns[i] = mem[i];
	}
	OSA_CHECK(osa_delete(db, srns, DISK_N, &deleted, &err) == 0);
	OSA_CHECK(osa_compact(db, &err) == 0);
	osa_close(db);
	empty = du();
	OSA_CHECK_MSG(empty < first,
		      "%lld kB after deleting all and "
		      "compacting vs %lld kB",
		      empty, first);
	for (i = 0; i < DISK_N; i++)
		free(mem[i]);
	free(mem);
	free(srns);
}

struct worker {
	struct osa_db *db;
	int id;
	int errors;
};

static void *writer(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < 20; i++)
		if (ingest_range(w->db, 10000 + w->id * 1000 + i * 5,
				 10000 + w->id * 1000 + i * 5 + 5, "delta"))
			w->errors++;
	return NULL;
}

static void *reader(void *arg)
{
	struct worker *w = arg;
	struct osa_search s = { .index = "papers",
				.text = "delta",
				.limit = 5 };
	struct osa_error err;
	int i;

	for (i = 0; i < 50; i++) {
		struct osa_results *r;

		if (osa_search(w->db, &s, &r, &err))
			w->errors++;
		else
			osa_results_free(r);
	}
	return NULL;
}

static void test_concurrency(void)
{
	struct osa_db *db = open_db(32);
	struct worker w[6];
	pthread_t t[6];
	struct osa_error err;
	char *stats;
	int i;

	for (i = 0; i < 6; i++) {
		w[i].db = db;
		w[i].id = i;
		w[i].errors = 0;
		pthread_create(&t[i], NULL, i < 3 ? writer : reader, &w[i]);
	}
	for (i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		OSA_CHECK(w[i].errors == 0);
	}
	OSA_CHECK(osa_stats(db, &stats, &err) == 0);
	/* 3 writers x 100 records, all in every index. */
	OSA_CHECK_CONTAINS(stats, "\"records\":300");
	OSA_CHECK_CONTAINS(stats,
			   "\"papers\":{\"backend\":\"vector\",\"count\":300");
	OSA_CHECK_CONTAINS(stats,
			   "\"vecs\":{\"backend\":\"flat\",\"count\":300");
	free(stats);
	osa_close(db);
}

/* The number of records an index left out survives a restart (it is kept
 * in the index's journal state), and goes on counting after it. */
static void test_skipped_persists(void)
{
	const char *noembed[] = {
		"{\"srn\":\"urn:osa:test.org:rec:n-1\",\"title\":\"nov\"}",
		"{\"srn\":\"urn:osa:test.org:rec:n-2\",\"title\":\"none\"}",
		"{\"srn\":\"urn:osa:test.org:rec:n-3\",\"title\":\"again\"}"
	};
	size_t lens[3] = { strlen(noembed[0]), strlen(noembed[1]),
			   strlen(noembed[2]) };
	struct osa_db *db = open_db(16);
	struct osa_error err;
	uint64_t lsn;
	char *stats;

	OSA_CHECK(ingest_range(db, 0, 10, "skip") == 0);
	OSA_CHECK(osa_ingest(db, noembed, lens, 2, &lsn, NULL, &err) == 0);
	OSA_CHECK(osa_stats(db, &stats, &err) == 0);
	OSA_CHECK_CONTAINS(stats, "\"records\":12");
	OSA_CHECK_CONTAINS(stats,
			   "\"vecs\":{\"backend\":\"flat\",\"count\":10");
	OSA_CHECK_CONTAINS(stats, "\"skipped_records\":2");
	free(stats);
	osa_close(db);

	db = open_db(16);
	OSA_CHECK(osa_stats(db, &stats, &err) == 0);
	OSA_CHECK_CONTAINS(stats,
			   "\"vecs\":{\"backend\":\"flat\",\"count\":10");
	OSA_CHECK_CONTAINS(stats, "\"skipped_records\":2");
	free(stats);
	OSA_CHECK(osa_ingest(db, &noembed[2], &lens[2], 1, &lsn, NULL, &err) ==
		  0);
	osa_close(db);

	db = open_db(16);
	OSA_CHECK(osa_stats(db, &stats, &err) == 0);
	OSA_CHECK_CONTAINS(stats, "\"records\":13");
	OSA_CHECK_CONTAINS(stats, "\"skipped_records\":3");
	free(stats);
	/* A rebuild counts afresh. */
	OSA_CHECK(osa_reindex(db, "vecs", NULL, NULL, &err) == 0);
	OSA_CHECK(osa_stats(db, &stats, &err) == 0);
	OSA_CHECK_CONTAINS(stats, "\"skipped_records\":3");
	free(stats);
	osa_close(db);
}

/* A missing journal with index data is refused, nothing touched; the
 * rebuild flag moves the index files to quarantine/ and starts afresh. */
static void test_lost_journal(void)
{
	struct osa_open_options opt = { NULL, NULL,
					OSA_OPEN_REBUILD_FROM_JOURNAL };
	struct osa_db *db = open_db(16);
	struct osa_error err;
	char cmd[700], path[600], *stats;
	struct stat st;

	OSA_CHECK(ingest_range(db, 0, 20, "lost") == 0);
	osa_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s/data/journal", dir);
	OSA_REQUIRE(system(cmd) == 0);
	db = NULL;
	OSA_CHECK(osa_open_string(config(16), NULL, NULL, &db, &err) ==
		  OSA_ECORRUPT);
	OSA_CHECK(db == NULL);
	OSA_CHECK_CONTAINS(err.msg, "is missing but index");
	OSA_CHECK_CONTAINS(err.msg, "--rebuild-from-journal");
	snprintf(path, sizeof(path), "%s/data/journal", dir);
	OSA_CHECK(stat(path, &st) != 0); /* not created */
	snprintf(path, sizeof(path), "%s/data/quarantine", dir);
	OSA_CHECK(stat(path, &st) != 0);

	OSA_CHECK_MSG(osa_open_string(config(16), NULL, &opt, &db, &err) == 0,
		      "%s", err.msg);
	OSA_REQUIRE(db);
	OSA_CHECK(osa_stats(db, &stats, &err) == 0);
	OSA_CHECK_CONTAINS(stats, "\"records\":0");
	OSA_CHECK_CONTAINS(stats,
			   "\"exact\":{\"backend\":\"flat\",\"count\":0");
	free(stats);
	osa_close(db);
	snprintf(cmd, sizeof(cmd),
		 "ls %s/data/quarantine | grep -c '^exact\\.'", dir);
	{
		FILE *p = popen(cmd, "r");
		int n = 0;

		OSA_REQUIRE(p);
		OSA_CHECK(fscanf(p, "%d", &n) == 1 && n == 1);
		pclose(p);
	}
	/* And the next plain open is consistent again. */
	db = open_db(16);
	osa_close(db);
}

int main(void)
{
	char cmd[400];

	snprintf(dir, sizeof(dir), "/tmp/osa-test-service-XXXXXX");
	OSA_REQUIRE(mkdtemp(dir));
	test_basic();
	test_quarantine();
	test_damage_after_open();
	test_old_snapshot_format();
	test_reindex_after_deletes();
	test_compact_checkpoint_failure();
	test_retry_on_tick();
	snprintf(cmd, sizeof(cmd), "rm -rf %s/data", dir);
	OSA_REQUIRE(system(cmd) == 0);
	test_disk_bounded();
	snprintf(cmd, sizeof(cmd), "rm -rf %s/data", dir);
	OSA_REQUIRE(system(cmd) == 0);
	test_concurrency();
	snprintf(cmd, sizeof(cmd), "rm -rf %s/data", dir);
	OSA_REQUIRE(system(cmd) == 0);
	test_skipped_persists();
	snprintf(cmd, sizeof(cmd), "rm -rf %s/data", dir);
	OSA_REQUIRE(system(cmd) == 0);
	test_lost_journal();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	OSA_REQUIRE(system(cmd) == 0);
	OSA_TEST_END();
}

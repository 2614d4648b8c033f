/* SPDX-License-Identifier: MIT */
/*
 * test_journal.c - the LMDB journal: durable upserts and deletes with LSNs,
 * group commit under concurrent writers, map growth, log scans, index state,
 * trimming, long srns, reopen, refusal of a newer format, the upgrade of a
 * format-1 journal, checksums (a damaged record, log entry or index state is
 * reported, never returned), and the check of the file against its meta
 * pages (a truncated file is refused before LMDB maps it).
 */
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "osa_test.h"

static char dir[256];

static int count_log(void *ctx, uint64_t lsn, int op, size_t n,
		     const char *const *srns, const char *const *docs,
		     const size_t *lens)
{
	uint64_t *seen = ctx;

	(void)srns, (void)docs, (void)lens, (void)op, (void)n;
	OSA_CHECK(lsn > seen[1]);
	seen[1] = lsn;
	seen[0]++;
	return 0;
}

static int count_recs(void *ctx, size_t n, const char *const *srns,
		      const char *const *docs, const size_t *lens)
{
	size_t *total = ctx, i;

	for (i = 0; i < n; i++)
		OSA_CHECK(srns[i] && docs[i] && lens[i] == strlen(docs[i]));
	*total += n;
	return 0;
}

static void test_basic(void)
{
	struct osai_journal *j;
	struct osa_error err;
	const char *srns[] = { "urn:osa:a.org:rec:aaa",
			       "urn:osa:a.org:rec:bbb" };
	const char *docs[] = { "{\"t\":1}", "{\"t\":2}" };
	size_t lens[] = { 7, 7 }, found;
	uint64_t lsn, recs, last, logn, seen[2] = { 0, 0 };
	struct osai_istate st = { 5, 4, 99, 7 }, st2;
	char *doc;
	size_t len, total = 0;

	OSA_REQUIRE(osai_journal_open(dir, 1 << 20, &j, &err) == 0);
	OSA_CHECK(osai_journal_upsert(j, 2, srns, docs, lens, &lsn, &err) == 0);
	OSA_CHECK(lsn == 1);
	OSA_CHECK(osai_journal_get(j, srns[1], &doc, &len, &err) == 0);
	OSA_CHECK_STR(doc, "{\"t\":2}");
	free(doc);
	OSA_CHECK(osai_journal_get(j, "urn:osa:a.org:rec:zzz", &doc, &len,
				   &err) == OSA_ENOTFOUND);
	/* Deleting nothing logs nothing. */
	OSA_CHECK(osai_journal_delete(j, 1, (const char *[]){ "nope" }, &lsn,
				      &found, &err) == 0);
	OSA_CHECK(lsn == 0 && found == 0);
	OSA_CHECK(osai_journal_delete(j, 1, srns, &lsn, &found, &err) == 0);
	OSA_CHECK(lsn == 2 && found == 1);
	OSA_CHECK(osai_journal_stats(j, &recs, &last, &logn, &err) == 0);
	OSA_CHECK(recs == 1 && last == 2 && logn == 2);
	OSA_CHECK(osai_journal_scan_log(j, 0, 100, count_log, seen, &err) == 0);
	OSA_CHECK(seen[0] == 2 && seen[1] == 2);
	OSA_CHECK(osai_journal_scan_records(j, 1, count_recs, &total, NULL,
					    &err) == 0);
	OSA_CHECK(total == 1);
	OSA_CHECK(osai_journal_get_state(j, "papers", &st2, &err) ==
		  OSA_ENOTFOUND);
	OSA_CHECK(osai_journal_put_state(j, "papers", &st, &err) == 0);
	OSA_CHECK(osai_journal_get_state(j, "papers", &st2, &err) == 0);
	OSA_CHECK(!memcmp(&st, &st2, sizeof(st)));
	OSA_CHECK(osai_journal_trim(j, 2, &err) == 0);
	OSA_CHECK(osai_journal_stats(j, NULL, NULL, &logn, &err) == 0);
	OSA_CHECK(logn == 1);
	osai_journal_close(j);

	/* Reopen: LSNs continue even after the log was trimmed empty. */
	OSA_REQUIRE(osai_journal_open(dir, 1 << 20, &j, &err) == 0);
	OSA_CHECK(osai_journal_trim(j, 100, &err) == 0);
	osai_journal_close(j);
	OSA_REQUIRE(osai_journal_open(dir, 1 << 20, &j, &err) == 0);
	OSA_CHECK(osai_journal_upsert(j, 1, srns, docs, lens, &lsn, &err) == 0);
	OSA_CHECK(lsn == 3);
	osai_journal_close(j);
}

struct writer {
	struct osai_journal *j;
	int id;
	uint64_t lsns[100];
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char srn[64], doc[64];
	struct osa_error err;
	int i;

	for (i = 0; i < 100; i++) {
		const char *s = srn, *d = doc;
		size_t len;

		snprintf(srn, sizeof(srn), "urn:osa:w.org:rec:w%d-%d", w->id,
			 i);
		len = (size_t)snprintf(doc, sizeof(doc), "{\"i\":%d}", i);
		if (osai_journal_upsert(w->j, 1, &s, &d, &len, &w->lsns[i],
					&err))
			w->lsns[i] = 0;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_group_commit(void)
{
	struct writer w[8];
	pthread_t t[8];
	uint64_t all[800], recs, last;
	struct osai_journal *j;
	struct osa_error err;
	int i;

	OSA_REQUIRE(osai_journal_open(dir, 1 << 20, &j, &err) == 0);
	for (i = 0; i < 8; i++) {
		w[i].j = j;
		w[i].id = i;
		pthread_create(&t[i], NULL, writer_main, &w[i]);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		memcpy(all + i * 100, w[i].lsns, sizeof(w[i].lsns));
	}
	qsort(all, 800, sizeof(all[0]), cmp_u64);
	OSA_CHECK(all[0] > 0);
	for (i = 1; i < 800; i++)
		OSA_CHECK(all[i] == all[i - 1] + 1); /* unique, no gaps */
	OSA_CHECK(osai_journal_stats(j, &recs, &last, NULL, &err) == 0);
	OSA_CHECK(recs == 800 && last == all[799]);
	osai_journal_close(j);
}

static void test_growth_and_long_srns(void)
{
	struct osai_journal *j;
	struct osa_error err;
	char *big = malloc(200000), srn[700], *doc;
	const char *s = srn, *d;
	size_t len = 200000, i;
	uint64_t lsn;

	OSA_REQUIRE(big);
	memset(big, 'x', len);
	big[0] = '"', big[len - 1] = '"';
	d = big;
	OSA_REQUIRE(osai_journal_open(dir, 1 << 20, &j, &err) == 0);
	/* 40 x 200 kB into a 1 MiB map: it must grow by itself. */
	for (i = 0; i < 40; i++) {
		snprintf(srn, sizeof(srn), "urn:osa:big.org:rec:b%zu", i);
		OSA_CHECK_MSG(osai_journal_upsert(j, 1, &s, &d, &len, &lsn,
						  &err) == 0,
			      "%s", err.msg);
	}
	/* Longer than an LMDB key (511) but within 512. */
	memset(srn, 'a', 512);
	srn[512] = '\0';
	len = 2;
	d = "{}";
	OSA_CHECK(osai_journal_upsert(j, 1, &s, &d, &len, &lsn, &err) == 0);
	OSA_CHECK(osai_journal_get(j, srn, &doc, NULL, &err) == 0);
	OSA_CHECK_STR(doc, "{}");
	free(doc);
	srn[511] = 'b'; /* same 494-byte prefix, different srn */
	OSA_CHECK(osai_journal_get(j, srn, &doc, NULL, &err) == OSA_ENOTFOUND);
	memset(srn, 'a', 600);
	srn[600] = '\0';
	OSA_CHECK(osai_journal_upsert(j, 1, &s, &d, &len, &lsn, &err) ==
		  OSA_EINVAL);
	OSA_CHECK(osai_journal_compact(j, &err) == 0);
	OSA_CHECK(osai_journal_get(j, "urn:osa:big.org:rec:b3", &doc, NULL,
				   &err) == 0);
	free(doc);
	osai_journal_close(j);
	free(big);
}

static void test_newer_format(void)
{
	char d2[300];
	struct osai_journal *j;
	struct osa_error err;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	uint32_t v = OSAI_JOURNAL_FORMAT + 1;
	MDB_val k = { 6, "format" }, val = { 4, &v };

	snprintf(d2, sizeof(d2), "%s/newer", dir);
	OSA_REQUIRE(osai_journal_open(d2, 1 << 20, &j, &err) == 0);
	osai_journal_close(j);
	OSA_REQUIRE(!mdb_env_create(&env));
	mdb_env_set_maxdbs(env, 4);
	OSA_REQUIRE(!mdb_env_open(env, d2, 0, 0644));
	OSA_REQUIRE(!mdb_txn_begin(env, NULL, 0, &txn));
	OSA_REQUIRE(!mdb_dbi_open(txn, "meta", 0, &meta));
	OSA_REQUIRE(!mdb_put(txn, meta, &k, &val, 0));
	OSA_REQUIRE(!mdb_txn_commit(txn));
	mdb_env_close(env);
	OSA_CHECK(osai_journal_open(d2, 1 << 20, &j, &err) == OSA_EVERSION);
	OSA_CHECK_CONTAINS(err.msg, "newer osa (format 3");
	OSA_CHECK_CONTAINS(err.msg, "upgrade osa");
}

/* Find `needle` in the file from `from` on; its offset or -1.  (LMDB is
 * copy-on-write: older copies of a page may hold it too, so callers damage
 * every copy.) */
static long find_in_file(const char *path, const char *needle, long from)
{
	FILE *f = fopen(path, "rb");
	static char buf[1 << 22];
	size_t n, m = strlen(needle), i;
	long at = -1;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (i = (size_t)from; i + m <= n && at < 0; i++)
		if (!memcmp(buf + i, needle, m))
			at = (long)i;
	return at;
}

static void flip_byte(const char *path, long off)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	OSA_REQUIRE(fd >= 0);
	OSA_REQUIRE(pread(fd, &c, 1, off) == 1);
	c ^= 0x5a;
	OSA_REQUIRE(pwrite(fd, &c, 1, off) == 1);
	close(fd);
}

static int count_docs(void *ctx, uint64_t lsn, int op, size_t n,
		      const char *const *srns, const char *const *docs,
		      const size_t *lens)
{
	size_t *found = ctx, i;

	(void)lsn, (void)op, (void)srns, (void)lens;
	for (i = 0; i < n; i++)
		found[docs[i] != NULL]++;
	return 0;
}

/* A flipped byte in a record value, a log entry or an index state is
 * reported by srn, LSN or index, and the damaged record never comes back
 * as data; the other records still do. */
static void test_checksums(void)
{
	char d2[300], path[400], *doc = NULL;
	struct osai_journal *j;
	struct osa_error err;
	const char *srns[] = { "urn:osa:a.org:rec:good",
			       "urn:osa:a.org:rec:hurt" };
	const char *docs[] = { "{\"t\":\"GOODGOODGOOD\"}",
			       "{\"t\":\"HURTHURTHURT\"}" };
	size_t lens[] = { strlen(docs[0]), strlen(docs[1]) };
	struct osai_istate st = { 1, 1, 42, 3 }, st2;
	size_t total = 0, found[2] = { 0, 0 };
	uint64_t lsn, damaged = 0;
	long off;

	snprintf(d2, sizeof(d2), "%s/sums", dir);
	snprintf(path, sizeof(path), "%s/data.mdb", d2);
	OSA_REQUIRE(osai_journal_open(d2, 1 << 20, &j, &err) == 0);
	OSA_REQUIRE(osai_journal_upsert(j, 2, srns, docs, lens, &lsn, &err) ==
		    0);
	OSA_REQUIRE(osai_journal_put_state(j, "papers", &st, &err) == 0);
	osai_journal_close(j);

	/* The document of the second record. */
	off = find_in_file(path, "HURTHURTHURT", 0);
	OSA_REQUIRE(off > 0);
	for (; off > 0; off = find_in_file(path, "HURTHURTHURT", off + 1))
		flip_byte(path, off + 4);
	OSA_REQUIRE(osai_journal_open(d2, 1 << 20, &j, &err) == 0);
	OSA_CHECK(osai_journal_get(j, srns[1], &doc, NULL, &err) ==
		  OSA_ECORRUPT);
	OSA_CHECK(doc == NULL);
	OSA_CHECK_CONTAINS(err.msg, "record urn:osa:a.org:rec:hurt is damaged");
	OSA_CHECK(osai_journal_get(j, srns[0], &doc, NULL, &err) == 0);
	OSA_CHECK_STR(doc, docs[0]);
	free(doc);
	OSA_CHECK(osai_journal_scan_records(j, 10, count_recs, &total, &damaged,
					    &err) == 0);
	OSA_CHECK(total == 1 && damaged == 1);
	/* Replay: the damaged record is left out, the good one applied. */
	OSA_CHECK(osai_journal_scan_log(j, 0, 10, count_docs, found, &err) ==
		  0);
	OSA_CHECK(found[1] == 1 && found[0] == 1);
	/* Rewriting the record heals it. */
	OSA_CHECK(osai_journal_upsert(j, 1, &srns[1], &docs[1], &lens[1], &lsn,
				      &err) == 0);
	OSA_CHECK(osai_journal_get(j, srns[1], &doc, NULL, &err) == 0);
	OSA_CHECK_STR(doc, docs[1]);
	free(doc);
	osai_journal_close(j);

	/* A byte of the srn inside the first log entry. */
	{
		/* The records db holds the srn in its key and value too;
		 * flip every copy that is not in the log by rewriting the
		 * records first, then find the log's copy: the log entry
		 * of LSN 1 is the only value starting [sum][op=1][n=2]. */
		FILE *f = fopen(path, "rb");
		static unsigned char buf[1 << 20];
		size_t n = fread(buf, 1, sizeof(buf), f), i;
		long logoff = -1;

		fclose(f);
		for (i = 8; i + 5 + 24 < n; i++)
			if (buf[i] == 1 && buf[i + 1] == 2 && !buf[i + 2] &&
			    !buf[i + 3] && !buf[i + 4] && buf[i + 5] == 22 &&
			    !memcmp(buf + i + 7, "urn:osa:a.org:rec:good",
				    22)) {
				logoff = (long)i;
				flip_byte(path, logoff + 7 + 10);
			}
		OSA_REQUIRE(logoff > 0);
	}
	OSA_REQUIRE(osai_journal_open(d2, 1 << 20, &j, &err) == 0);
	found[0] = found[1] = 0;
	OSA_CHECK(osai_journal_scan_log(j, 0, 10, count_docs, found, &err) ==
		  OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "log entry 1 is damaged");
	OSA_CHECK(found[0] == 0 && found[1] == 0);
	/* The index state. */
	OSA_CHECK(osai_journal_get_state(j, "papers", &st2, &err) == 0);
	OSA_CHECK(st2.skipped == 3 && st2.config_hash == 42);
	osai_journal_close(j);
	off = find_in_file(path, "index/papers", 0);
	OSA_REQUIRE(off > 0);
	/* The value follows its key in a leaf node: its config_hash. */
	for (; off > 0; off = find_in_file(path, "index/papers", off + 1))
		flip_byte(path, off + 12 + 16);
	OSA_REQUIRE(osai_journal_open(d2, 1 << 20, &j, &err) == 0);
	OSA_CHECK(osai_journal_get_state(j, "papers", &st2, &err) ==
		  OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "state of index papers is damaged");
	osai_journal_close(j);
}

/* A journal of format 1 (no checksums, a 24-byte state) is upgraded in
 * place on open, and reads back exactly. */
static void test_upgrade_v1(void)
{
	char d2[300], *doc;
	struct osai_journal *j;
	struct osa_error err;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi rec, log, meta;
	uint32_t one = 1, fmt = 0;
	uint64_t lsn1 = 1, st1[3] = { 1, 1, 77 }, recs, last;
	unsigned char rv[64], lv[64];
	const char *srn = "urn:osa:a.org:rec:old", *body = "{\"old\":true}";
	uint16_t sl = (uint16_t)strlen(srn);
	size_t rlen = 2 + sl + strlen(body), llen = 5 + 2 + sl;
	struct osai_istate st;
	size_t total = 0;
	MDB_val k, v;

	snprintf(d2, sizeof(d2), "%s/v1", dir);
	OSA_REQUIRE(!mkdir(d2, 0755));
	memcpy(rv, &sl, 2);
	memcpy(rv + 2, srn, sl);
	memcpy(rv + 2 + sl, body, strlen(body));
	lv[0] = 1;
	memcpy(lv + 1, &(uint32_t){ 1 }, 4);
	memcpy(lv + 5, &sl, 2);
	memcpy(lv + 7, srn, sl);
	OSA_REQUIRE(!mdb_env_create(&env));
	mdb_env_set_maxdbs(env, 4);
	OSA_REQUIRE(!mdb_env_open(env, d2, 0, 0644));
	OSA_REQUIRE(!mdb_txn_begin(env, NULL, 0, &txn));
	OSA_REQUIRE(!mdb_dbi_open(txn, "records", MDB_CREATE, &rec));
	OSA_REQUIRE(
		!mdb_dbi_open(txn, "log", MDB_CREATE | MDB_INTEGERKEY, &log));
	OSA_REQUIRE(!mdb_dbi_open(txn, "meta", MDB_CREATE, &meta));
	k.mv_data = (void *)srn, k.mv_size = sl;
	v.mv_data = rv, v.mv_size = rlen;
	OSA_REQUIRE(!mdb_put(txn, rec, &k, &v, 0));
	k.mv_data = &lsn1, k.mv_size = 8;
	v.mv_data = lv, v.mv_size = llen;
	OSA_REQUIRE(!mdb_put(txn, log, &k, &v, 0));
	k.mv_data = "format", k.mv_size = 6;
	v.mv_data = &one, v.mv_size = 4;
	OSA_REQUIRE(!mdb_put(txn, meta, &k, &v, 0));
	k.mv_data = "index/old", k.mv_size = 9;
	v.mv_data = st1, v.mv_size = 24;
	OSA_REQUIRE(!mdb_put(txn, meta, &k, &v, 0));
	OSA_REQUIRE(!mdb_txn_commit(txn));
	mdb_env_close(env);

	OSA_REQUIRE(osai_journal_open(d2, 1 << 20, &j, &err) == 0);
	OSA_CHECK(osai_journal_get(j, srn, &doc, NULL, &err) == 0);
	OSA_CHECK_STR(doc, body);
	free(doc);
	OSA_CHECK(osai_journal_stats(j, &recs, &last, NULL, &err) == 0);
	OSA_CHECK(recs == 1 && last == 1);
	OSA_CHECK(osai_journal_get_state(j, "old", &st, &err) == 0);
	OSA_CHECK(st.applied_lsn == 1 && st.config_hash == 77 &&
		  st.skipped == 0);
	{
		size_t found[2] = { 0, 0 };

		OSA_CHECK(osai_journal_scan_log(j, 0, 10, count_docs, found,
						&err) == 0);
		OSA_CHECK(found[1] == 1);
	}
	OSA_CHECK(osai_journal_scan_records(j, 10, count_recs, &total, NULL,
					    &err) == 0);
	OSA_CHECK(total == 1);
	osai_journal_close(j);
	/* The marker now says the current format. */
	OSA_REQUIRE(!mdb_env_create(&env));
	mdb_env_set_maxdbs(env, 4);
	OSA_REQUIRE(!mdb_env_open(env, d2, MDB_RDONLY, 0644));
	OSA_REQUIRE(!mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
	OSA_REQUIRE(!mdb_dbi_open(txn, "meta", 0, &meta));
	k.mv_data = "format", k.mv_size = 6;
	OSA_CHECK(!mdb_get(txn, meta, &k, &v) && v.mv_size == 4);
	memcpy(&fmt, v.mv_data, 4);
	OSA_CHECK(fmt == OSAI_JOURNAL_FORMAT);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/* A truncated data.mdb is refused with "journal truncated" before LMDB maps
 * it, and left as it was; an empty or missing one is not an error here. */
static void test_truncated(void)
{
	char d2[300], path[400];
	struct osai_journal *j;
	struct osa_error err;
	struct stat sb;
	int64_t bytes;
	off_t full, page = 4096, sizes[4];
	int i;

	snprintf(d2, sizeof(d2), "%s/trunc", dir);
	snprintf(path, sizeof(path), "%s/data.mdb", d2);
	OSA_CHECK(osai_journal_check_file(d2, &bytes, &err) == 0 && bytes == 0);
	OSA_REQUIRE(osai_journal_open(d2, 1 << 20, &j, &err) == 0);
	{
		const char *srn = "urn:osa:a.org:rec:x";
		static char body[300000];
		const char *docs[1] = { body };
		size_t lens[1];
		uint64_t lsn;

		memset(body, 'a', sizeof(body) - 1);
		body[0] = '"';
		body[sizeof(body) - 2] = '"';
		lens[0] = strlen(body);
		OSA_REQUIRE(osai_journal_upsert(j, 1, &srn, docs, lens, &lsn,
						&err) == 0);
	}
	osai_journal_close(j);
	OSA_REQUIRE(!stat(path, &sb));
	full = sb.st_size;
	{
		char cmd[900];

		snprintf(cmd, sizeof(cmd), "cp %s %s.orig", path, path);
		OSA_REQUIRE(system(cmd) == 0);
	}
	OSA_CHECK(osai_journal_check_file(d2, &bytes, &err) == 0 &&
		  bytes == full);
	sizes[0] = 100;
	sizes[1] = 65536;
	sizes[2] = full / 2;
	sizes[3] = full - page;
	OSA_REQUIRE(full > 2 * 65536);
	for (i = 0; i < 4; i++) {
		char cmd[900];

		snprintf(cmd, sizeof(cmd), "cp %s.orig %s", path, path);
		OSA_REQUIRE(system(cmd) == 0);
		OSA_REQUIRE(!truncate(path, sizes[i]));
		OSA_CHECK(osai_journal_open(d2, 1 << 20, &j, &err) ==
			  OSA_ECORRUPT);
		OSA_CHECK_CONTAINS(err.msg, "journal truncated: ");
		OSA_CHECK_CONTAINS(err.msg, path);
		OSA_CHECK_CONTAINS(err.msg, "restore");
		OSA_CHECK(!stat(path, &sb) && sb.st_size == sizes[i]);
	}
	OSA_REQUIRE(!truncate(path, 0));
	OSA_CHECK(osai_journal_check_file(d2, &bytes, &err) == 0 && bytes == 0);
}

int main(void)
{
	char cmd[400];

	snprintf(dir, sizeof(dir), "/tmp/osa-test-journal-XXXXXX");
	OSA_REQUIRE(mkdtemp(dir));
	test_basic();
	snprintf(cmd, sizeof(cmd), "rm -rf %s/*", dir);
	OSA_REQUIRE(system(cmd) == 0);
	test_group_commit();
	snprintf(cmd, sizeof(cmd), "rm -rf %s/*", dir);
	OSA_REQUIRE(system(cmd) == 0);
	test_growth_and_long_srns();
	test_newer_format();
	test_checksums();
	test_upgrade_v1();
	test_truncated();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	OSA_REQUIRE(system(cmd) == 0);
	OSA_TEST_END();
}

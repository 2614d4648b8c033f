/* SPDX-License-Identifier: MIT */
/*
 * test_journal.c - the LMDB journal: durable upserts and deletes with LSNs,
 * group commit under concurrent writers, map growth, log scans, index state,
 * trimming, long srns, reopen, and refusal of a newer format.
 */
#include <lmdb.h>
#include <pthread.h>
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
	struct osai_istate st = { 5, 4, 99 }, st2;
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
	OSA_CHECK(osai_journal_scan_records(j, 1, count_recs, &total, &err) ==
		  0);
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
	OSA_CHECK_CONTAINS(err.msg, "newer osa (format 2");
	OSA_CHECK_CONTAINS(err.msg, "upgrade osa");
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
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	OSA_REQUIRE(system(cmd) == 0);
	OSA_TEST_END();
}

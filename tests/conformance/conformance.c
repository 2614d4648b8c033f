/* SPDX-License-Identifier: MIT */
/*
 * conformance.c - the backend conformance suite: what the core relies on from
 * every backend (osa/backend.h), run against one backend by name.
 *
 *   osa_conformance_main(argc, argv)
 *     --backend NAME     the registered backend to test
 *     --config TEXT      its `config` group (osa.cfg syntax)
 *     --query text|vector  how to query it (vector: records carry an
 *                        `embedding` array of --dim floats, queries a vector)
 *     --dim N            vector dimension (vector queries)
 *     --bad JSON         a record the backend must refuse (all-or-nothing
 *                        batch); without it that case is reported skipped
 *     --config-file F, --bad-file F   the same, read from file F
 *
 * Cases: upsert, delete, all-or-nothing batch, deterministic ties and
 * paging, checkpoint/reopen identity, torn and corrupt snapshots (and files
 * of osa/snapshot.h in its old format 1) refused with OSA_ECORRUPT naming
 * the file, concurrent readers during writes, and for a backend with
 * ingest_batch_at/remove_at (ABI 1.3) the LSN stored with each change
 * (reopened without a checkpoint, it reports the last change).  Backends
 * without a checkpoint method skip the two snapshot cases, those without
 * ingest_batch_at the LSN case (each reported).  Built into
 * libosa_conformance; osa_add_backend_conformance_test() (OsaPlugin.cmake)
 * runs it as a ctest test.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>

#include "backend_test.h"

struct conf {
	const char *backend, *config, *bad;
	int vector;
	size_t dim;
	char dir[64];
};

static struct conf C;

/* The contents of file `path` (NUL-terminated, owned by the caller). */
static char *conf_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;

	if (!f) {
		fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
		exit(2);
	}
	OSA_REQUIRE(fseek(f, 0, SEEK_END) == 0);
	n = (size_t)ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	OSA_REQUIRE(buf && fread(buf, 1, n, f) == n);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* Deterministic content of record i: a title of two words and a vector. */
static const char *const conf_words[] = {
	"amber", "basalt", "cedar", "delta", "ember", "fjord", "garnet", "heron"
};

static void conf_srn(char *buf, size_t n, int i)
{
	snprintf(buf, n, "urn:osa:conformance.test:rec:r-%04d", i);
}

static void conf_vec(float *v, uint64_t seed)
{
	uint64_t s = seed * 2654435761u + 7;
	size_t i;

	for (i = 0; i < C.dim; i++)
		v[i] = bt_unif(&s);
}

static struct osa_record *conf_rec(const char *srn, const char *title,
				   uint64_t seed)
{
	float v[4096];

	if (C.dim)
		conf_vec(v, seed);
	return bt_rec(srn, title, NULL, C.dim ? v : NULL, C.dim);
}

static void conf_title(char *buf, size_t n, int i)
{
	snprintf(buf, n, "%s %s", conf_words[i % 8], conf_words[(i / 8) % 8]);
}

/* Query by the content a record was made with (title or seed). */
static int conf_query(struct bt_index *ix, const char *text, uint64_t seed,
		      size_t limit, size_t offset, struct osa_hits *hits,
		      struct osa_error *err)
{
	float v[4096];
	struct osa_query q = { .limit = limit, .offset = offset };

	memset(hits, 0, sizeof(*hits));
	if (C.vector) {
		conf_vec(v, seed);
		q.vector = v;
		q.dim = C.dim;
	} else {
		q.text = text;
	}
	return ix->b->query(ix->self, &q, hits, err);
}

static int conf_has(const struct osa_hits *h, const char *srn)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (!strcmp(h->v[i].srn, srn))
			return 1;
	return 0;
}

/* Best first; equal scores by srn. */
static void conf_check_order(const struct osa_hits *h, const char *where)
{
	size_t i;

	for (i = 1; i < h->n; i++) {
		OSA_CHECK_MSG(h->v[i - 1].score >= h->v[i].score,
			      "%s: hit %zu scores above hit %zu", where, i,
			      i - 1);
		if (h->v[i - 1].score == h->v[i].score)
			OSA_CHECK_MSG(strcmp(h->v[i - 1].srn, h->v[i].srn) < 0,
				      "%s: tied hits %s and %s not in srn "
				      "order",
				      where, h->v[i - 1].srn, h->v[i].srn);
	}
}

static void conf_open(struct bt_index *ix, const char *sub)
{
	struct osa_error err = { 0 };

	OSA_REQUIRE(mkdir(sub, 0700) == 0 || errno == EEXIST);
	if (bt_open(ix, C.backend, C.config, sub, &err)) {
		fprintf(stderr, "%s: open %s: %s\n", C.backend, sub, err.msg);
		exit(1);
	}
}

static void conf_fill(struct bt_index *ix, int n)
{
	struct osa_error err = { 0 };
	char srn[64], title[64];
	int i;

	for (i = 0; i < n; i++) {
		conf_srn(srn, sizeof(srn), i);
		conf_title(title, sizeof(title), i);
		OSA_REQUIRE(bt_ingest1(ix, conf_rec(srn, title, (uint64_t)i),
				       &err) == 0);
	}
}

static void case_upsert_delete(void)
{
	struct osa_error err = { 0 };
	struct osa_hits h;
	struct bt_index ix;
	char sub[128], srn[64];
	const char *gone[2];

	snprintf(sub, sizeof(sub), "%s/upsert", C.dir);
	conf_open(&ix, sub);
	OSA_CHECK(ix.lsn == 0 && bt_count(&ix) == 0);
	conf_fill(&ix, 20);
	OSA_CHECK(bt_count(&ix) == 20);
	/* Record 3 again, with new content: still 20, found by the new. */
	conf_srn(srn, sizeof(srn), 3);
	OSA_REQUIRE(bt_ingest1(&ix, conf_rec(srn, "zircon", 1000), &err) == 0);
	OSA_CHECK_MSG(bt_count(&ix) == 20, "upsert: count %llu, want 20",
		      (unsigned long long)bt_count(&ix));
	OSA_REQUIRE(conf_query(&ix, "zircon", 1000, 5, 0, &h, &err) == 0);
	OSA_CHECK_MSG(h.n >= 1 && !strcmp(h.v[0].srn, srn),
		      "upsert: the new content does not find %s first", srn);
	conf_check_order(&h, "upsert");
	osa_hits_free(&h);
	/* Delete it (and an srn never seen: not an error). */
	gone[0] = srn;
	gone[1] = "urn:osa:conformance.test:rec:never";
	OSA_CHECK(ix.b->remove(ix.self, gone, 2, &err) == 0);
	OSA_CHECK_MSG(bt_count(&ix) == 19, "delete: count %llu, want 19",
		      (unsigned long long)bt_count(&ix));
	OSA_REQUIRE(conf_query(&ix, "zircon", 1000, 100, 0, &h, &err) == 0);
	OSA_CHECK_MSG(!conf_has(&h, srn), "delete: %s still found", srn);
	osa_hits_free(&h);
	/* A limit beyond the index returns what exists. */
	OSA_REQUIRE(conf_query(&ix, "amber", 0, 1000, 0, &h, &err) == 0);
	OSA_CHECK(h.n <= 19 && h.total >= h.n);
	conf_check_order(&h, "limit beyond the index");
	osa_hits_free(&h);
	bt_close(&ix);
}

static void case_batch(void)
{
	struct osa_error err = { 0 };
	struct osa_record *recs[2];
	struct osa_hits h;
	struct bt_index ix;
	char sub[128], srn[64];
	int rc;

	if (!C.bad) {
		printf("%s: all-or-nothing batch skipped (no --bad record)\n",
		       C.backend);
		return;
	}
	snprintf(sub, sizeof(sub), "%s/batch", C.dir);
	conf_open(&ix, sub);
	conf_fill(&ix, 10);
	conf_srn(srn, sizeof(srn), 500);
	recs[0] = conf_rec(srn, "zircon", 1000);
	if (osa_record_parse(C.bad, strlen(C.bad), NULL, &recs[1], &err)) {
		fprintf(stderr, "--bad: not a record: %s\n", err.msg);
		exit(1);
	}
	rc = ix.b->ingest_batch(ix.self, (const struct osa_record *const *)recs,
				2, &err);
	OSA_CHECK_MSG(rc < 0, "batch with the --bad record accepted");
	OSA_CHECK_MSG(rc >= 0 || err.msg[0], "refusal without a message");
	OSA_CHECK_MSG(bt_count(&ix) == 10,
		      "refused batch left %llu records, want 10",
		      (unsigned long long)bt_count(&ix));
	OSA_REQUIRE(conf_query(&ix, "zircon", 1000, 100, 0, &h, &err) == 0);
	OSA_CHECK_MSG(!conf_has(&h, srn),
		      "refused batch: its good record %s was kept", srn);
	osa_hits_free(&h);
	osa_record_free(recs[0]);
	osa_record_free(recs[1]);
	bt_close(&ix);
}

/* Equal content under several srns: srn order, stable, pages that agree. */
static void case_ties(void)
{
	struct osa_error err = { 0 };
	struct osa_hits all, again, page;
	struct bt_index ix;
	char sub[128], srn[64];
	size_t i, off;

	snprintf(sub, sizeof(sub), "%s/ties", C.dir);
	conf_open(&ix, sub);
	/* Ingested in reverse srn order, so insertion order is not srn order.
	 */
	for (i = 0; i < 12; i++) {
		conf_srn(srn, sizeof(srn), 900 - (int)i);
		OSA_REQUIRE(bt_ingest1(&ix, conf_rec(srn, "quartz", 77),
				       &err) == 0);
	}
	OSA_REQUIRE(conf_query(&ix, "quartz", 77, 12, 0, &all, &err) == 0);
	OSA_CHECK_MSG(all.n == 12, "ties: %zu hits, want 12", all.n);
	conf_check_order(&all, "ties");
	OSA_REQUIRE(conf_query(&ix, "quartz", 77, 12, 0, &again, &err) == 0);
	OSA_CHECK(again.n == all.n);
	for (i = 0; i < again.n && i < all.n; i++)
		OSA_CHECK_STR(again.v[i].srn, all.v[i].srn);
	osa_hits_free(&again);
	for (off = 0; off < 12; off += 5) {
		OSA_REQUIRE(conf_query(&ix, "quartz", 77, 5, off, &page,
				       &err) == 0);
		for (i = 0; i < page.n; i++)
			OSA_CHECK_MSG(off + i < all.n &&
					      !strcmp(page.v[i].srn,
						      all.v[off + i].srn),
				      "ties: page at offset %zu differs", off);
		osa_hits_free(&page);
	}
	osa_hits_free(&all);
	bt_close(&ix);
}

static long conf_fsize(const char *p)
{
	struct stat st;

	return stat(p, &st) ? -1 : (long)st.st_size;
}

static char *conf_slurp(const char *p, long *n)
{
	FILE *f = fopen(p, "rb");
	char *buf;

	OSA_REQUIRE(f);
	*n = conf_fsize(p);
	buf = malloc((size_t)*n + 1);
	OSA_REQUIRE(buf && fread(buf, 1, (size_t)*n, f) == (size_t)*n);
	fclose(f);
	return buf;
}

static void conf_spit(const char *p, const char *buf, long n)
{
	FILE *f = fopen(p, "wb");

	OSA_REQUIRE(f && fwrite(buf, 1, (size_t)n, f) == (size_t)n);
	OSA_REQUIRE(fclose(f) == 0);
}

static void case_snapshots(void)
{
	struct osa_error err = { 0 };
	struct osa_hits before[4], after;
	struct bt_index ix;
	struct dirent *de;
	DIR *d;
	char sub[128], path[512];
	int i, files = 0;
	size_t j;

	if (!osa_backend_find(C.backend)->checkpoint) {
		printf("%s: checkpoint/reopen and damaged snapshots skipped "
		       "(no checkpoint method: the core replays the journal)\n",
		       C.backend);
		return;
	}
	snprintf(sub, sizeof(sub), "%s/snap", C.dir);
	conf_open(&ix, sub);
	conf_fill(&ix, 150);
	for (i = 0; i < 4; i++)
		OSA_REQUIRE(conf_query(&ix, conf_words[i], (uint64_t)i * 13, 10,
				       0, &before[i], &err) == 0);
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 42, &err) == 0);
	bt_close(&ix);
	conf_open(&ix, sub);
	OSA_CHECK_MSG(ix.lsn == 42, "reopen: lsn %llu, want 42",
		      (unsigned long long)ix.lsn);
	OSA_CHECK(bt_count(&ix) == 150);
	for (i = 0; i < 4; i++) {
		OSA_REQUIRE(conf_query(&ix, conf_words[i], (uint64_t)i * 13, 10,
				       0, &after, &err) == 0);
		OSA_CHECK_MSG(after.n == before[i].n,
			      "reopen: query %d: %zu hits, had %zu", i, after.n,
			      before[i].n);
		for (j = 0; j < after.n && j < before[i].n; j++) {
			OSA_CHECK_STR(after.v[j].srn, before[i].v[j].srn);
			OSA_CHECK(after.v[j].score == before[i].v[j].score);
		}
		osa_hits_free(&after);
		osa_hits_free(&before[i]);
	}
	bt_close(&ix);

	/* Each file the checkpoint left, torn and then with a flipped byte. */
	d = opendir(sub);
	OSA_REQUIRE(d);
	while ((de = readdir(d))) {
		long n, cut;
		char *keep;
		int rc;

		snprintf(path, sizeof(path), "%s/%s", sub, de->d_name);
		if (de->d_name[0] == '.' || conf_fsize(path) <= 0)
			continue;
		files++;
		keep = conf_slurp(path, &n);
		for (cut = 0; cut < n; cut += n / 3 + 1) {
			conf_spit(path, keep, cut);
			memset(&err, 0, sizeof(err));
			rc = bt_open(&ix, C.backend, C.config, sub, &err);
			OSA_CHECK_MSG(rc == OSA_ECORRUPT,
				      "%s torn at %ld of %ld bytes: open "
				      "returned %d, want OSA_ECORRUPT",
				      path, cut, n, rc);
			OSA_CHECK_MSG(rc != OSA_ECORRUPT ||
					      strstr(err.msg, de->d_name),
				      "torn %s: message does not name the "
				      "file: %s",
				      path, err.msg);
			if (rc == 0)
				bt_close(&ix);
		}
		keep[n / 2] ^= 0x5a;
		conf_spit(path, keep, n);
		keep[n / 2] ^= 0x5a;
		rc = bt_open(&ix, C.backend, C.config, sub, &err);
		if (rc == 0) {
			/* A backend that serves from its files at once and
			 * checks them after open (osa_snap_open_flags()) must
			 * find the damage before its first write: the write
			 * and health then fail with OSA_ECORRUPT, naming the
			 * file, and the core rebuilds the index. */
			int wrc = ix.b->checkpoint
					  ? ix.b->checkpoint(ix.self, ix.lsn,
							     &err)
					  : OSA_ECORRUPT;

			OSA_CHECK_MSG(wrc == OSA_ECORRUPT &&
					      strstr(err.msg, de->d_name),
				      "%s with byte %ld flipped: open "
				      "succeeded and the next checkpoint "
				      "returned %d (%s), want OSA_ECORRUPT "
				      "naming the file",
				      path, n / 2, wrc, err.msg);
			memset(&err, 0, sizeof(err));
			OSA_CHECK_MSG(!ix.b->health ||
					      ix.b->health(ix.self, &err) ==
						      OSA_ECORRUPT,
				      "%s with byte %ld flipped: health did "
				      "not report the damage found",
				      path, n / 2);
			bt_close(&ix);
			rc = OSA_ECORRUPT;
		}
		OSA_CHECK_MSG(rc == OSA_ECORRUPT,
			      "%s with byte %ld flipped: open returned %d, "
			      "want OSA_ECORRUPT",
			      path, n / 2, rc);
		/* A file of osa/snapshot.h in its old format 1 (osa < 0.4):
		 * refused as corrupt, so that the core rebuilds the index. */
		if (n >= 16 && !memcmp(keep, "OSASNAP1", 8)) {
			char fmt[4];

			memcpy(fmt, keep + 8, 4);
			memcpy(keep + 8, "\1\0\0\0", 4);
			conf_spit(path, keep, n);
			memcpy(keep + 8, fmt, 4);
			memset(&err, 0, sizeof(err));
			rc = bt_open(&ix, C.backend, C.config, sub, &err);
			OSA_CHECK_MSG(rc == OSA_ECORRUPT &&
					      strstr(err.msg, de->d_name),
				      "%s as a format-1 snapshot: open "
				      "returned %d (%s), want OSA_ECORRUPT "
				      "naming the file",
				      path, rc, err.msg);
			if (rc == 0)
				bt_close(&ix);
		}
		conf_spit(path, keep, n);
		free(keep);
	}
	closedir(d);
	OSA_CHECK_MSG(files > 0, "checkpoint wrote no file in %s", sub);
	/* Restored: opens again at the checkpoint. */
	conf_open(&ix, sub);
	OSA_CHECK(ix.lsn == 42 && bt_count(&ix) == 150);
	bt_close(&ix);
}

/* Close and reopen `ix` (no checkpoint); check the LSN and count open
 * reports. */
static void conf_reopen_expect(struct bt_index *ix, const char *sub,
			       uint64_t lsn, uint64_t count, const char *after)
{
	bt_close(ix);
	conf_open(ix, sub);
	OSA_CHECK_MSG(ix->lsn == lsn,
		      "after %s and a reopen without checkpoint: open "
		      "reported LSN %llu, want %llu",
		      after, (unsigned long long)ix->lsn,
		      (unsigned long long)lsn);
	OSA_CHECK_MSG(bt_count(ix) == count,
		      "after %s and a reopen: count %llu, want %llu", after,
		      (unsigned long long)bt_count(ix),
		      (unsigned long long)count);
}

/* ingest_batch_at / remove_at: the LSN is stored with the change, in the
 * same atomic step; plain ingest_batch/remove leave it; a refused batch
 * changes neither the records nor the LSN. */
static void case_lsn_writes(void)
{
	const struct osa_backend *b = osa_backend_find(C.backend);
	struct osa_error err = { 0 };
	struct osa_record *recs[3];
	struct osa_hits h;
	struct bt_index ix;
	char sub[128], srn[3][64], title[64];
	const char *gone[2];
	int i;

	if (!osa_backend_has_lsn_writes(b)) {
		printf("%s: LSN stored with each change skipped (no "
		       "ingest_batch_at/remove_at: the core replays from the "
		       "last checkpoint)\n",
		       C.backend);
		return;
	}
	snprintf(sub, sizeof(sub), "%s/lsn", C.dir);
	conf_open(&ix, sub);
	OSA_CHECK(ix.lsn == 0 && bt_count(&ix) == 0);
	for (i = 0; i < 3; i++) {
		conf_srn(srn[i], sizeof(srn[i]), 700 + i);
		conf_title(title, sizeof(title), i);
		recs[i] = conf_rec(srn[i], title, (uint64_t)i);
	}
	OSA_CHECK(b->ingest_batch_at(ix.self,
				     (const struct osa_record *const *)recs, 3,
				     5, &err) == 0);
	conf_reopen_expect(&ix, sub, 5, 3, "ingest_batch_at(3 records, 5)");
	OSA_REQUIRE(conf_query(&ix, "amber", 0, 10, 0, &h, &err) == 0);
	OSA_CHECK_MSG(conf_has(&h, srn[0]),
		      "reopen: %s, ingested at LSN 5, is not found", srn[0]);
	osa_hits_free(&h);
	/* Removal, with an srn never seen. */
	gone[0] = srn[1];
	gone[1] = "urn:osa:conformance.test:rec:never";
	OSA_CHECK(b->remove_at(ix.self, gone, 2, 6, &err) == 0);
	conf_reopen_expect(&ix, sub, 6, 2, "remove_at(2 srns, 6)");
	/* Nothing to apply: the LSN alone. */
	OSA_CHECK(b->ingest_batch_at(ix.self, NULL, 0, 7, &err) == 0);
	conf_reopen_expect(&ix, sub, 7, 2, "ingest_batch_at(0 records, 7)");
	OSA_CHECK(b->remove_at(ix.self, NULL, 0, 8, &err) == 0);
	conf_reopen_expect(&ix, sub, 8, 2, "remove_at(0 srns, 8)");
	/* All or nothing includes the LSN. */
	if (C.bad) {
		struct osa_record *pair[2];
		int rc;

		pair[0] = conf_rec(srn[1], "zircon", 1000);
		OSA_REQUIRE(osa_record_parse(C.bad, strlen(C.bad), NULL,
					     &pair[1], &err) == 0);
		rc = b->ingest_batch_at(ix.self,
					(const struct osa_record *const *)pair,
					2, 9, &err);
		OSA_CHECK_MSG(rc < 0, "ingest_batch_at with the --bad record "
				      "accepted");
		osa_record_free(pair[0]);
		osa_record_free(pair[1]);
		conf_reopen_expect(&ix, sub, 8, 2,
				   "a refused ingest_batch_at(2 records, 9)");
	}
	/* The plain methods leave the stored LSN as it is. */
	OSA_CHECK(bt_ingest1(&ix, conf_rec(srn[1], "zircon", 1000), &err) == 0);
	conf_reopen_expect(&ix, sub, 8, 3, "a plain ingest_batch");
	gone[0] = srn[2];
	OSA_CHECK(b->remove(ix.self, gone, 1, &err) == 0);
	conf_reopen_expect(&ix, sub, 8, 2, "a plain remove");
	/* A checkpoint at or past the stored LSN moves it. */
	if (b->checkpoint) {
		OSA_CHECK(b->checkpoint(ix.self, 12, &err) == 0);
		conf_reopen_expect(&ix, sub, 12, 2, "checkpoint(12)");
		OSA_CHECK(b->ingest_batch_at(
				  ix.self,
				  (const struct osa_record *const *)&recs[2], 1,
				  13, &err) == 0);
		conf_reopen_expect(&ix, sub, 13, 3,
				   "ingest_batch_at(1 record, 13)");
	}
	for (i = 0; i < 3; i++)
		osa_record_free(recs[i]);
	bt_close(&ix);
}

struct conf_readers {
	struct bt_index *ix;
	int stop;
	int failures;
	pthread_mutex_t mu;
};

static void *conf_reader(void *arg)
{
	struct conf_readers *c = arg;
	struct osa_error err;
	struct osa_hits h;
	uint64_t k = 0, n;
	int bad = 0;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		k++;
		if (conf_query(c->ix, conf_words[k % 8], k, 10, 0, &h, &err))
			bad++;
		conf_check_order(&h, "concurrent query");
		osa_hits_free(&h);
		if (c->ix->b->count(c->ix->self, &n))
			bad++;
	}
	pthread_mutex_lock(&c->mu);
	c->failures += bad;
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void case_concurrency(void)
{
	struct osa_error err = { 0 };
	struct conf_readers c = { 0 };
	struct bt_index ix;
	pthread_t th[3];
	char sub[128], srn[64], title[64];
	int i;

	snprintf(sub, sizeof(sub), "%s/conc", C.dir);
	conf_open(&ix, sub);
	c.ix = &ix;
	pthread_mutex_init(&c.mu, NULL);
	for (i = 0; i < 3; i++)
		OSA_REQUIRE(pthread_create(&th[i], NULL, conf_reader, &c) == 0);
	for (i = 0; i < 1500; i++) {
		conf_srn(srn, sizeof(srn), i % 400);
		conf_title(title, sizeof(title), i);
		OSA_CHECK(bt_ingest1(&ix, conf_rec(srn, title, (uint64_t)i),
				     &err) == 0);
		if (i % 5 == 4) {
			const char *r[1] = { srn };

			conf_srn(srn, sizeof(srn), (i * 7) % 400);
			OSA_CHECK(ix.b->remove(ix.self, r, 1, &err) == 0);
		}
		if (i % 500 == 499 && ix.b->checkpoint)
			OSA_CHECK(ix.b->checkpoint(ix.self, (uint64_t)i,
						   &err) == 0);
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	OSA_CHECK_MSG(c.failures == 0, "%d concurrent queries failed",
		      c.failures);
	pthread_mutex_destroy(&c.mu);
	bt_close(&ix);
}

static void conf_usage(void)
{
	fprintf(stderr,
		"usage: --backend NAME --config TEXT [--query text|vector] "
		"[--dim N] [--bad JSON] [--config-file F] [--bad-file F]\n");
	exit(2);
}

int osa_conformance_main(int argc, char **argv);

int osa_conformance_main(int argc, char **argv)
{
	static char *owned[2];
	int i;

	C.config = "";
	for (i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			conf_usage();
		if (!strcmp(a, "--backend"))
			C.backend = v;
		else if (!strcmp(a, "--config"))
			C.config = v;
		else if (!strcmp(a, "--bad"))
			C.bad = v[0] ? v : NULL;
		else if (!strcmp(a, "--config-file"))
			C.config = owned[0] = conf_read(v);
		else if (!strcmp(a, "--bad-file")) {
			owned[1] = conf_read(v);
			C.bad = owned[1][0] ? owned[1] : NULL;
		} else if (!strcmp(a, "--dim"))
			C.dim = (size_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--query"))
			C.vector = !strcmp(v, "vector");
		else
			conf_usage();
	}
	if (!C.backend || C.dim > 4096 || (C.vector && !C.dim))
		conf_usage();
	if (!osa_backend_find(C.backend)) {
		fprintf(stderr,
			"backend \"%s\" is not linked into this test: is its "
			"package selected and linked?\n",
			C.backend);
		return 1;
	}
	bt_tmpdir(C.dir);
	case_upsert_delete();
	case_batch();
	case_ties();
	case_snapshots();
	case_lsn_writes();
	case_concurrency();
	bt_rmdir(C.dir);
	free(owned[0]);
	free(owned[1]);
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * test_storage.c - the text backend's files: checkpoint + reopen gives the
 * same results, a merge gives the same results, deletes are dropped by a
 * merge (files shrink, results equal a fresh index of the remaining
 * records), re-upserting keeps the files bounded, and damaged, torn or
 * crafted files are refused with OSA_ECORRUPT naming the file.
 */
#include <osa/snapshot.h>

#include "text_test.h"

#define NQ 40

static char queries[NQ][256];

static void make_queries(void)
{
	uint64_t s = 99;
	int i;

	for (i = 0; i < NQ; i++) {
		tt_text(&s, queries[i], sizeof(queries[i]), 1 + bt_rng(&s) % 4);
		if (i % 5 == 4) { /* some phrases and operators too */
			char t[256];
			size_t n = strlen(queries[i]);

			memcpy(t, queries[i], n + 1);
			queries[i][0] = '"';
			memcpy(queries[i] + 1, t, n);
			queries[i][n + 1] = '"';
			queries[i][n + 2] = ' ';
			queries[i][n + 3] = '+';
			memcpy(queries[i] + n + 4, tt_vocab[i % 8],
			       strlen(tt_vocab[i % 8]) + 1);
		}
	}
}

static void run_all(struct bt_index *ix, struct osa_hits *out)
{
	struct osa_error err;
	int i;

	for (i = 0; i < NQ; i++)
		OSA_CHECK_MSG(tt_q(ix, queries[i], 20, 0, &out[i], &err) == 0,
			      "%s: %s", queries[i], err.msg);
}

static int same_all(struct osa_hits *a, struct osa_hits *b, double eps)
{
	int i, bad = 0;

	for (i = 0; i < NQ; i++)
		if (!tt_same(&a[i], &b[i], eps)) {
			fprintf(stderr,
				"query \"%s\" differs (%zu/%zu hits, "
				"total %zu/%zu)\n",
				queries[i], a[i].n, b[i].n, a[i].total,
				b[i].total);
			bad++;
		}
	return bad == 0;
}

static void free_all(struct osa_hits *h)
{
	int i;

	for (i = 0; i < NQ; i++)
		osa_hits_free(&h[i]);
}

static int ckpt(struct bt_index *ix, uint64_t lsn)
{
	struct osa_error err = { 0 };
	int rc = ix->b->checkpoint(ix->self, lsn, &err);

	OSA_CHECK_MSG(rc == 0, "checkpoint: %s", err.msg);
	return rc;
}

static void test_reopen_merge_delete(void)
{
	struct bt_index ix, fresh;
	struct osa_error err = { 0 };
	struct osa_hits a[NQ], b[NQ];
	char dir[64], dir2[64];
	long long before, after, first;
	int nf;
	size_t i;

	bt_tmpdir(dir);
	OSA_REQUIRE(bt_open(&ix, "text", "", dir, &err) == 0);
	tt_corpus(&ix, 3, 0, 400);
	tt_corpus(&ix, 3, 400, 800);
	run_all(&ix, a);
	/* The memory segments become one file: same results. */
	ckpt(&ix, 5);
	run_all(&ix, b);
	OSA_CHECK(same_all(a, b, 0));
	free_all(b);
	tt_bytes(dir, "seg-", &nf);
	OSA_CHECK(nf == 1);
	bt_close(&ix);
	/* Reopen: mapped, same LSN, same results. */
	OSA_REQUIRE(bt_open(&ix, "text", "", dir, &err) == 0);
	OSA_CHECK(ix.lsn == 5);
	OSA_CHECK(bt_count(&ix) == 800);
	run_all(&ix, b);
	OSA_CHECK(same_all(a, b, 0));
	free_all(a);
	free_all(b);
	/* A second file, then a merge of both: same results. */
	tt_corpus(&ix, 3, 800, 1200);
	ckpt(&ix, 6);
	tt_bytes(dir, "seg-", &nf);
	OSA_CHECK(nf == 2);
	run_all(&ix, a);
	bt_close(&ix);
	OSA_REQUIRE(bt_open(&ix, "text", "max_segments = 1;", dir, &err) == 0);
	OSA_CHECK(ix.lsn == 6);
	ckpt(&ix, 7);
	tt_bytes(dir, "seg-", &nf);
	OSA_CHECK(nf == 1);
	run_all(&ix, b);
	OSA_CHECK(same_all(a, b, 0));
	free_all(a);
	free_all(b);
	/* Delete half: invisible at once, dropped by the merge. */
	before = tt_bytes(dir, "seg-", NULL);
	for (i = 0; i < 600; i++) {
		char srn[16];

		snprintf(srn, sizeof(srn), "d-%05zu", i);
		tt_del(&ix, srn);
	}
	OSA_CHECK(bt_count(&ix) == 600);
	bt_tmpdir(dir2);
	OSA_REQUIRE(bt_open(&fresh, "text", "", dir2, &err) == 0);
	tt_corpus(&fresh, 3, 600, 1200);
	run_all(&fresh, a);
	run_all(&ix, b);
	for (i = 0; i < NQ; i++) {
		size_t j;

		OSA_CHECK(a[i].total == b[i].total);
		for (j = 0; j < b[i].n; j++)
			OSA_CHECK(strcmp(b[i].v[j].srn, "d-00600") >= 0);
	}
	free_all(b);
	ckpt(&ix, 8);
	after = tt_bytes(dir, "seg-", &nf);
	OSA_CHECK(nf == 1);
	OSA_CHECK_MSG(after < before * 7 / 10, "%lld -> %lld bytes", before,
		      after);
	run_all(&ix, b);
	OSA_CHECK(same_all(a, b, 1e-12));
	free_all(b);
	bt_close(&ix);
	OSA_REQUIRE(bt_open(&ix, "text", "", dir, &err) == 0);
	run_all(&ix, b);
	OSA_CHECK(same_all(a, b, 1e-12));
	free_all(a);
	free_all(b);
	/* Re-upserting the same records keeps the files bounded. */
	first = tt_bytes(dir, "", NULL);
	for (i = 0; i < 6; i++) {
		tt_corpus(&ix, 3, 600, 1200);
		ckpt(&ix, 9 + i);
	}
	OSA_CHECK(bt_count(&ix) == 600);
	after = tt_bytes(dir, "", &nf);
	OSA_CHECK_MSG(after <= first * 13 / 10, "%lld -> %lld bytes", first,
		      after);
	bt_close(&ix);
	bt_close(&fresh);
	bt_rmdir(dir);
	bt_rmdir(dir2);
}

/* ---- damaged files ---------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	OSA_REQUIRE(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n);
	OSA_REQUIRE(p && fread(p, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void spit(const char *path, const char *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	OSA_REQUIRE(f && fwrite(p, 1, len, f) == len);
	fclose(f);
}

struct body {
	const char *p;
	size_t n;
};

static int body_fn(void *ctx, struct osa_snap_writer *w, struct osa_error *e)
{
	struct body *b = ctx;

	return osa_snap_write(w, b->p, b->n, e);
}

/* Rewrite `path` with body `body` and a valid header and checksums. */
static void recheck(const char *path, const char *good, size_t len,
		    const char *body)
{
	struct osa_snap_info got;
	struct osa_error err = { 0 };
	struct body b = { body, len - OSA_SNAP_HEADER_SIZE };

	/* The header fields of the good file (layout in osa/snapshot.h). */
	memset(&got, 0, sizeof(got));
	memcpy(got.kind, good + 16, 16);
	memcpy(&got.body_version, good + 32, 4);
	memcpy(&got.blob_len, good + 36, 4);
	OSA_REQUIRE(got.blob_len <= OSA_SNAP_BLOB_MAX);
	memcpy(got.blob, good + 72, got.blob_len);
	memcpy(&got.count, good + 40, 8);
	memcpy(&got.lsn, good + 48, 8);
	OSA_REQUIRE(osa_snap_save(path, &got, body_fn, &b, &err) == 0);
}

static void expect_refused(const char *dir, const char *file, int code)
{
	struct bt_index ix;
	struct osa_error err = { 0 };
	int rc = bt_open(&ix, "text", "", dir, &err);

	OSA_CHECK_MSG(rc == code, "rc %d, want %d: %s", rc, code, err.msg);
	OSA_CHECK_CONTAINS(err.msg, file);
	if (!rc)
		bt_close(&ix);
}

static void test_damage(void)
{
	struct bt_index ix;
	struct osa_error err = { 0 };
	struct osa_hits h;
	char dir[64], seg[128], man[128];
	char *good, *mgood, *body;
	size_t len, mlen;
	uint64_t off;

	bt_tmpdir(dir);
	OSA_REQUIRE(bt_open(&ix, "text", "", dir, &err) == 0);
	tt_corpus(&ix, 5, 0, 300);
	ckpt(&ix, 3);
	bt_close(&ix);
	snprintf(seg, sizeof(seg), "%s/seg-0000000000000001.tix", dir);
	snprintf(man, sizeof(man), "%s/text.manifest", dir);
	good = slurp(seg, &len);
	mgood = slurp(man, &mlen);
	body = malloc(len);
	OSA_REQUIRE(body);

	/* A flipped byte: the checksum says so. */
	memcpy(body, good, len);
	body[len / 2] ^= 0x40;
	spit(seg, body, len);
	expect_refused(dir, "seg-0000000000000001.tix", OSA_ECORRUPT);
	/* Torn: cut short. */
	spit(seg, good, len - 100);
	expect_refused(dir, "seg-0000000000000001.tix", OSA_ECORRUPT);
	/* Crafted with valid checksums: a term count that does not fit. */
	memcpy(body, good, len);
	body[OSA_SNAP_HEADER_SIZE + 12] = 0x7f;
	recheck(seg, good, len, body + OSA_SNAP_HEADER_SIZE);
	expect_refused(dir, "seg-0000000000000001.tix", OSA_ECORRUPT);
	/* Crafted: a section pointing outside the body. */
	memcpy(body, good, len);
	off = (uint64_t)1 << 40;
	memcpy(body + OSA_SNAP_HEADER_SIZE + 32 + 16 * 5, &off, 8);
	recheck(seg, good, len, body + OSA_SNAP_HEADER_SIZE);
	expect_refused(dir, "seg-0000000000000001.tix", OSA_ECORRUPT);
	/* Crafted postings (tables intact): open works, the query that meets
	 * them fails with the file named, and nothing crashes. */
	memcpy(body, good, len);
	memcpy(&off, good + OSA_SNAP_HEADER_SIZE + 32 + 16 * 5, 8);
	{
		uint64_t plen;

		memcpy(&plen, good + OSA_SNAP_HEADER_SIZE + 40 + 16 * 5, 8);
		memset(body + OSA_SNAP_HEADER_SIZE + off, 0xff, (size_t)plen);
	}
	recheck(seg, good, len, body + OSA_SNAP_HEADER_SIZE);
	OSA_REQUIRE(bt_open(&ix, "text", "", dir, &err) == 0);
	OSA_CHECK(tt_q(&ix, "ice sea", 10, 0, &h, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "seg-0000000000000001.tix");
	OSA_CHECK(tt_q(&ix, "\"ice sea\"", 10, 0, &h, &err) == OSA_ECORRUPT);
	osa_hits_free(&h);
	bt_close(&ix);
	/* A missing segment. */
	unlink(seg);
	expect_refused(dir, "seg-0000000000000001.tix", OSA_ECORRUPT);
	spit(seg, good, len);
	/* A damaged manifest. */
	memcpy(body, mgood, mlen);
	body[mlen - 3] ^= 1;
	spit(man, body, mlen);
	expect_refused(dir, "text.manifest", OSA_ECORRUPT);
	/* And back to good. */
	spit(man, mgood, mlen);
	OSA_REQUIRE(bt_open(&ix, "text", "", dir, &err) == 0);
	OSA_CHECK(bt_count(&ix) == 300);
	OSA_CHECK(tt_q(&ix, "ice sea", 10, 0, &h, &err) == 0 && h.n == 10);
	osa_hits_free(&h);
	bt_close(&ix);
	/* Another configuration: refused, so the core rebuilds. */
	{
		struct osa_error e2 = { 0 };

		OSA_CHECK(bt_open(&ix, "text", "language = \"none\";", dir,
				  &e2) == OSA_ECORRUPT);
		OSA_CHECK_CONTAINS(e2.msg, "text.manifest");
	}
	free(good);
	free(mgood);
	free(body);
	bt_rmdir(dir);
}

int main(void)
{
	make_queries();
	test_reopen_merge_delete();
	test_damage();
	OSA_TEST_END();
}

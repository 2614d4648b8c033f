/* SPDX-License-Identifier: MIT */
/*
 * test_vector.c - the `vector` backend: scores per metric, upsert, delete
 * with slot reuse, growth, all-or-nothing batches, errors, paging with ties,
 * text queries, compaction, checkpoint + reopen, damaged snapshots.
 */
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>

#include <osa/snapshot.h>
#include <osa/vecspace.h>

#include "../vector.h"
#include "backend_test.h"

#define DIM 8

static char dir[64];

static const char *cfg_ip = "dim = 8; metric = \"ip\"; initial_capacity = 2;"
			    "embedding = { embedder = \"field\"; };";

static void srn_of(char *buf, size_t n, int i)
{
	snprintf(buf, n, "urn:osa:example.org:rec:r-%04d", i);
}

static void vec_of(float *v, uint64_t seed)
{
	uint64_t s = seed * 2654435761u + 1;
	int i;

	for (i = 0; i < DIM; i++)
		v[i] = bt_unif(&s);
}

static struct vector_stats stats(struct bt_index *ix)
{
	struct vector_stats st;

	vector_get_stats(ix->self, &st);
	return st;
}

static void test_metrics(void)
{
	static const char *const names[] = { "ip", "l2", "cosine" };
	float a[DIM] = { 1, 2, 0, 0, 0, 0, 0, 0 },
	      b[DIM] = { 0, 0, 3, 0, 0, 0, 0, 0 };
	float q[DIM] = { 1, 1, 1, 0, 0, 0, 0, 0 };
	struct osa_error err = { 0 };
	struct osa_hits hits;
	size_t m;

	for (m = 0; m < 3; m++) {
		struct bt_index ix;
		char cfg[256], sub[128];
		double sa, sb, ea, eb;

		snprintf(sub, sizeof(sub), "%s/m%zu", dir, m);
		snprintf(cfg, sizeof(cfg),
			 "dim = 8; metric = \"%s\";"
			 "embedding = { embedder = \"field\"; };",
			 names[m]);
		OSA_REQUIRE(bt_open(&ix, "vector", cfg, sub, &err) == 0);
		OSA_CHECK(ix.lsn == 0);
		OSA_CHECK(
			bt_ingest1(&ix,
				   bt_rec("urn:osa:x:rec:b", "B", NULL, b, DIM),
				   &err) == 0);
		OSA_CHECK(
			bt_ingest1(&ix,
				   bt_rec("urn:osa:x:rec:a", "A", NULL, a, DIM),
				   &err) == 0);
		OSA_REQUIRE(bt_qvec(&ix, q, DIM, 10, 0, &hits, &err) == 0);
		OSA_REQUIRE(hits.n == 2);
		OSA_CHECK(hits.total == 2);
		sa = !strcmp(hits.v[0].srn, "urn:osa:x:rec:a")
			     ? hits.v[0].score
			     : hits.v[1].score;
		sb = !strcmp(hits.v[0].srn, "urn:osa:x:rec:b")
			     ? hits.v[0].score
			     : hits.v[1].score;
		if (m == 0) {
			ea = 3;
			eb = 3;
		} else if (m == 1) {
			ea = -2;
			eb = -6;
		} else {
			ea = 3 / (sqrt(5) * sqrt(3));
			eb = 3 / (3 * sqrt(3));
		}
		OSA_CHECK_MSG(fabs(sa - ea) < 1e-5 && fabs(sb - eb) < 1e-5,
			      "%s: a %g (want %g) b %g (want %g)", names[m], sa,
			      ea, sb, eb);
		OSA_CHECK(hits.v[0].score >= hits.v[1].score);
		if (m == 0) /* a tie: srn order */
			OSA_CHECK_STR(hits.v[0].srn, "urn:osa:x:rec:a");
		osa_hits_free(&hits);
		bt_close(&ix);
	}
}

/* Upsert, delete, slot reuse, growth, all-or-nothing. */
static void test_writes(void)
{
	enum { N = 300 };
	static float vecs[N][DIM];
	struct osa_error err = { 0 };
	struct osa_hits hits;
	struct vector_stats st;
	struct bt_index ix;
	char srn[64], sub[128];
	int i;

	snprintf(sub, sizeof(sub), "%s/writes", dir);
	OSA_REQUIRE(bt_open(&ix, "vector",
			    "dim = 8; metric = \"ip\"; initial_capacity = 2;"
			    "compact_deleted_ratio = 1.0;"
			    "embedding = { embedder = \"field\"; };",
			    sub, &err) == 0);
	for (i = 0; i < N; i++) {
		srn_of(srn, sizeof(srn), i);
		vec_of(vecs[i], (uint64_t)i);
		OSA_REQUIRE(bt_ingest1(&ix,
				       bt_rec(srn, "t", NULL, vecs[i], DIM),
				       &err) == 0);
	}
	st = stats(&ix);
	OSA_CHECK(bt_count(&ix) == N && st.slots == N && st.deleted == 0);
	OSA_CHECK_MSG(st.capacity >= N && st.capacity <= 4 * N, "capacity %zu",
		      st.capacity);
	/* Upsert: same label, new vector. */
	srn_of(srn, sizeof(srn), 7);
	vec_of(vecs[7], 100007);
	OSA_REQUIRE(bt_ingest1(&ix, bt_rec(srn, "t", NULL, vecs[7], DIM),
			       &err) == 0);
	st = stats(&ix);
	OSA_CHECK(bt_count(&ix) == N && st.slots == N);
	OSA_REQUIRE(bt_qvec(&ix, vecs[7], DIM, 5, 0, &hits, &err) == 0);
	OSA_REQUIRE(hits.n == 5);
	{
		float self = 0;
		int found = 0, j;

		for (j = 0; j < DIM; j++)
			self += vecs[7][j] * vecs[7][j];
		for (j = 0; j < 5; j++)
			if (!strcmp(hits.v[j].srn, srn)) {
				found = 1;
				OSA_CHECK(fabs(hits.v[j].score - self) < 1e-4);
			}
		OSA_CHECK(found);
	}
	osa_hits_free(&hits);
	/* Delete hides and frees. */
	{
		const char *rm[3];
		char b0[64], b1[64];

		srn_of(b0, sizeof(b0), 10);
		srn_of(b1, sizeof(b1), 20);
		rm[0] = b0;
		rm[1] = b1;
		rm[2] = "urn:osa:x:rec:unknown";
		OSA_CHECK(ix.b->remove(ix.self, rm, 3, &err) == 0);
		st = stats(&ix);
		OSA_CHECK(bt_count(&ix) == N - 2);
		OSA_CHECK(st.deleted == 2 && st.slots == N);
		OSA_REQUIRE(bt_qvec(&ix, vecs[10], DIM, N, 0, &hits, &err) ==
			    0);
		OSA_CHECK(hits.n == N - 2 && hits.total == N - 2);
		for (i = 0; i < (int)hits.n; i++)
			OSA_CHECK(strcmp(hits.v[i].srn, b0) &&
				  strcmp(hits.v[i].srn, b1));
		osa_hits_free(&hits);
		/* A new srn reuses a freed slot. */
		OSA_REQUIRE(bt_ingest1(&ix,
				       bt_rec("urn:osa:x:rec:new", "t", NULL,
					      vecs[10], DIM),
				       &err) == 0);
		st = stats(&ix);
		OSA_CHECK(st.slots == N && st.deleted == 1);
		OSA_CHECK(bt_count(&ix) == N - 1);
		OSA_REQUIRE(bt_qvec(&ix, vecs[10], DIM, 1, 0, &hits, &err) ==
			    0);
		OSA_CHECK(hits.n == 1);
		OSA_CHECK_STR(hits.v[0].srn, "urn:osa:x:rec:new");
		osa_hits_free(&hits);
		/* A removed srn comes back under a (reused) slot. */
		OSA_REQUIRE(bt_ingest1(&ix,
				       bt_rec(b1, "t", NULL, vecs[20], DIM),
				       &err) == 0);
		st = stats(&ix);
		OSA_CHECK(st.slots == N && st.deleted == 0 &&
			  bt_count(&ix) == N);
	}
	/* All or nothing: a bad record leaves everything as it was. */
	{
		float z[DIM + 2] = { 1 };
		struct osa_record *r[4];

		r[0] = bt_rec("urn:osa:x:rec:n1", "t", NULL, z, DIM);
		srn_of(srn, sizeof(srn), 3); /* an upsert in the batch */
		r[1] = bt_rec(srn, "t", NULL, z, DIM);
		r[2] = bt_rec("urn:osa:x:rec:n2", "t", NULL, z, DIM);
		r[3] = bt_rec("urn:osa:x:rec:bad", "t", NULL, z, DIM + 2);
		OSA_CHECK(ix.b->ingest_batch(
				  ix.self, (const struct osa_record *const *)r,
				  4, &err) != 0);
		OSA_CHECK_CONTAINS(err.msg, "urn:osa:x:rec:bad");
		osa_record_free(r[3]);
		r[3] = bt_rec("urn:osa:x:rec:bad", "no vector", NULL, NULL, 0);
		OSA_CHECK(ix.b->ingest_batch(
				  ix.self, (const struct osa_record *const *)r,
				  4, &err) != 0);
		OSA_CHECK_CONTAINS(err.msg, "urn:osa:x:rec:bad");
		OSA_CHECK_CONTAINS(err.msg, "embedding");
		OSA_CHECK(bt_count(&ix) == N);
		/* r-0003 still holds its old vector: its score says so. */
		OSA_REQUIRE(bt_qvec(&ix, vecs[3], DIM, N, 0, &hits, &err) == 0);
		{
			float self = 0;
			int found = 0, d;

			for (d = 0; d < DIM; d++)
				self += vecs[3][d] * vecs[3][d];
			for (i = 0; i < (int)hits.n; i++)
				if (!strcmp(hits.v[i].srn, srn)) {
					found = 1;
					OSA_CHECK(fabs(hits.v[i].score - self) <
						  1e-4);
				}
			OSA_CHECK(found);
		}
		osa_hits_free(&hits);
		for (i = 0; i < 4; i++)
			osa_record_free(r[i]);
	}
	/* A batch naming one srn twice: the last one wins. */
	{
		float x1[DIM] = { 0, 0, 0, 0, 0, 0, 0, 5 };
		float x2[DIM] = { 0, 0, 0, 0, 0, 0, 5, 0 };
		struct osa_record *r[2];

		r[0] = bt_rec("urn:osa:x:rec:twice", "t", NULL, x1, DIM);
		r[1] = bt_rec("urn:osa:x:rec:twice", "t", NULL, x2, DIM);
		OSA_CHECK(ix.b->ingest_batch(
				  ix.self, (const struct osa_record *const *)r,
				  2, &err) == 0);
		OSA_CHECK(bt_count(&ix) == N + 1);
		OSA_REQUIRE(bt_qvec(&ix, x2, DIM, 1, 0, &hits, &err) == 0);
		OSA_CHECK(hits.n == 1);
		OSA_CHECK_STR(hits.v[0].srn, "urn:osa:x:rec:twice");
		OSA_CHECK(hits.n && fabs(hits.v[0].score - 25) < 1e-4);
		osa_hits_free(&hits);
		osa_record_free(r[0]);
		osa_record_free(r[1]);
	}
	bt_close(&ix);
}

static void test_errors(void)
{
	struct osa_error err = { 0 };
	struct osa_hits hits = { 0 };
	struct bt_index ix;
	struct osa_query q = { .limit = 5 };
	float v[DIM + 1] = { 1 };
	char sub[128];

	snprintf(sub, sizeof(sub), "%s/errors", dir);
	OSA_REQUIRE(bt_open(&ix, "vector", cfg_ip, sub, &err) == 0);
	OSA_CHECK(bt_ingest1(&ix, bt_rec("urn:osa:x:rec:a", "A", NULL, v, DIM),
			     &err) == 0);
	OSA_CHECK(bt_qvec(&ix, v, DIM + 1, 5, 0, &hits, &err) == OSA_ERANGE);
	OSA_CHECK_CONTAINS(err.msg, "9 numbers");
	OSA_CHECK_CONTAINS(err.msg, "dim is 8");
	osa_hits_free(&hits);
	OSA_CHECK(ix.b->query(ix.self, &q, &hits, &err) == OSA_EINVAL);
	OSA_CHECK_CONTAINS(err.msg, "text or a vector");
	q.vector = v;
	q.dim = DIM;
	q.ef_search = 70000;
	OSA_CHECK(ix.b->query(ix.self, &q, &hits, &err) == OSA_ERANGE);
	OSA_CHECK_CONTAINS(err.msg, "ef_search");
	q.vector = NULL;
	q.ef_search = 0;
	q.text = "hello";
	OSA_CHECK(ix.b->query(ix.self, &q, &hits, &err) != 0);
	OSA_CHECK(err.msg[0] != '\0');
	osa_hits_free(&hits);
	bt_close(&ix);
}

static void test_paging(void)
{
	struct osa_error err = { 0 };
	struct osa_hits all, page;
	struct bt_index ix;
	float v[DIM] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	char srn[64], sub[128];
	size_t off, i;
	int k;

	snprintf(sub, sizeof(sub), "%s/paging", dir);
	OSA_REQUIRE(bt_open(&ix, "vector", cfg_ip, sub, &err) == 0);
	for (k = 0; k < 12; k++) {
		srn_of(srn, sizeof(srn), (k * 5) % 12);
		OSA_REQUIRE(bt_ingest1(&ix, bt_rec(srn, "t", NULL, v, DIM),
				       &err) == 0);
	}
	OSA_REQUIRE(bt_qvec(&ix, v, DIM, 100, 0, &all, &err) == 0);
	OSA_CHECK(all.n == 12 && all.total == 12);
	for (i = 1; i < all.n; i++)
		OSA_CHECK(strcmp(all.v[i - 1].srn, all.v[i].srn) < 0);
	for (off = 0; off < 14; off += 5) {
		OSA_REQUIRE(bt_qvec(&ix, v, DIM, 5, off, &page, &err) == 0);
		OSA_CHECK(page.n == (off + 5 <= 12 ? 5
				     : off < 12	   ? 12 - off
						   : 0));
		for (i = 0; i < page.n; i++)
			OSA_CHECK_STR(page.v[i].srn, all.v[off + i].srn);
		osa_hits_free(&page);
	}
	OSA_REQUIRE(bt_qvec(&ix, v, DIM, 5, 100, &page, &err) == 0);
	OSA_CHECK(page.n == 0 && page.total == 12);
	osa_hits_free(&page);
	osa_hits_free(&all);
	bt_close(&ix);
}

static void test_text(void)
{
	static const char *const titles[] = {
		"Sea ice extent in the Arctic",
		"Protein folding with deep learning",
		"Volcanic ash and aviation safety",
		"Coral reef bleaching events",
	};
	struct osa_error err = { 0 };
	struct osa_query q = { .limit = 3 };
	struct osa_hits hits = { 0 };
	struct bt_index ix;
	char srn[64], sub[128];
	int i;

	snprintf(sub, sizeof(sub), "%s/text", dir);
	OSA_REQUIRE(bt_open(&ix, "vector",
			    "dim = 256; embedding = { embedder = \"hash\"; };",
			    sub, &err) == 0);
	for (i = 0; i < 4; i++) {
		srn_of(srn, sizeof(srn), i);
		OSA_REQUIRE(bt_ingest1(&ix,
				       bt_rec(srn, titles[i],
					      "A short summary.", NULL, 0),
				       &err) == 0);
	}
	q.text = "coral bleaching";
	OSA_REQUIRE(ix.b->query(ix.self, &q, &hits, &err) == 0);
	OSA_REQUIRE(hits.n == 3);
	srn_of(srn, sizeof(srn), 3);
	OSA_CHECK_STR(hits.v[0].srn, srn);
	OSA_CHECK(hits.v[0].score > hits.v[1].score);
	osa_hits_free(&hits);
	bt_close(&ix);
}

/* Exact top-10 srns of `q` among vecs[live] under ip. */
static void brute(float (*vecs)[DIM], const int *live, int n, const float *q,
		  int *best, int k)
{
	int j, i, d;

	for (j = 0; j < k; j++) {
		int bi = -1;
		float bs = -INFINITY;

		for (i = 0; i < n; i++) {
			float s = 0;
			int taken = 0;

			if (!live[i])
				continue;
			for (d = 0; d < j; d++)
				taken |= best[d] == i;
			if (taken)
				continue;
			for (d = 0; d < DIM; d++)
				s += vecs[i][d] * q[d];
			if (s > bs)
				bs = s, bi = i;
		}
		best[j] = bi;
	}
}

/* Past the ratio the graph is rebuilt; results stay right. */
static void test_compaction(void)
{
	enum { N = 400 };
	static float vecs[N][DIM];
	static int live[N];
	struct osa_error err = { 0 };
	struct vector_stats st;
	struct osa_hits hits;
	struct bt_index ix;
	char srn[64], sub[128], bufs[N][64];
	const char *rm[N];
	int i, nrm = 0, t, found = 0, total = 0;

	snprintf(sub, sizeof(sub), "%s/compact", dir);
	OSA_REQUIRE(bt_open(&ix, "vector",
			    "dim = 8; metric = \"ip\"; initial_capacity = 16;"
			    "compact_deleted_ratio = 0.3;"
			    "embedding = { embedder = \"field\"; };",
			    sub, &err) == 0);
	for (i = 0; i < N; i++) {
		srn_of(srn, sizeof(srn), i);
		vec_of(vecs[i], (uint64_t)i + 31);
		live[i] = 1;
		OSA_REQUIRE(bt_ingest1(&ix,
				       bt_rec(srn, "t", NULL, vecs[i], DIM),
				       &err) == 0);
	}
	/* 25%: below the threshold, nothing happens. */
	for (i = 0; i < N; i += 4) {
		srn_of(bufs[nrm], sizeof(bufs[nrm]), i);
		rm[nrm] = bufs[nrm];
		nrm++;
		live[i] = 0;
	}
	OSA_CHECK(ix.b->remove(ix.self, rm, (size_t)nrm, &err) == 0);
	st = stats(&ix);
	OSA_CHECK(st.compactions == 0 && st.deleted == (size_t)nrm);
	/* 25% more of the rest: past 30%, one rebuild. */
	nrm = 0;
	for (i = 1; i < N; i += 4) {
		srn_of(bufs[nrm], sizeof(bufs[nrm]), i);
		rm[nrm] = bufs[nrm];
		nrm++;
		live[i] = 0;
	}
	OSA_CHECK(ix.b->remove(ix.self, rm, (size_t)nrm, &err) == 0);
	st = stats(&ix);
	OSA_CHECK_MSG(st.compactions == 1, "%zu compactions", st.compactions);
	OSA_CHECK(st.deleted == 0 && st.slots == N / 2 && st.live == N / 2);
	OSA_CHECK(bt_count(&ix) == N / 2);
	OSA_CHECK(ix.b->health(ix.self, &err) == 0);
	/* Results against brute force over the survivors. */
	for (t = 0; t < 30; t++) {
		float q[DIM];
		int best[10], j;

		vec_of(q, (uint64_t)t + 9000);
		brute(vecs, live, N, q, best, 10);
		OSA_REQUIRE(bt_qvec(&ix, q, DIM, 10, 0, &hits, &err) == 0);
		OSA_CHECK(hits.n == 10 && hits.total == N / 2);
		for (j = 0; j < (int)hits.n; j++) {
			int id =
				atoi(hits.v[j].srn + strlen(hits.v[j].srn) - 4);
			int k;

			OSA_CHECK(live[id]);
			for (k = 0; k < 10; k++)
				found += best[k] == id;
		}
		total += 10;
		osa_hits_free(&hits);
	}
	OSA_CHECK_MSG(found >= total * 95 / 100, "recall %d/%d", found, total);
	/* New records after a compaction work as before. */
	srn_of(srn, sizeof(srn), 0);
	OSA_REQUIRE(bt_ingest1(&ix, bt_rec(srn, "t", NULL, vecs[0], DIM),
			       &err) == 0);
	OSA_CHECK(bt_count(&ix) == N / 2 + 1);
	OSA_REQUIRE(bt_qvec(&ix, vecs[0], DIM, 1, 0, &hits, &err) == 0);
	OSA_CHECK(hits.n == 1);
	OSA_CHECK_STR(hits.v[0].srn, srn);
	osa_hits_free(&hits);
	bt_close(&ix);
}

static long file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) ? -1 : (long)st.st_size;
}

static void copy_file(const char *from, const char *to)
{
	FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
	char buf[4096];
	size_t n;

	OSA_REQUIRE(a && b);
	while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
		OSA_REQUIRE(fwrite(buf, 1, n, b) == n);
	fclose(a);
	fclose(b);
}

static void flip_byte(const char *p, long off)
{
	FILE *f = fopen(p, "r+b");
	int c;

	OSA_REQUIRE(f);
	fseek(f, off, SEEK_SET);
	c = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(c ^ 0x10, f);
	fclose(f);
}

/*
 * Rewrite the snapshot `path` with valid checksums around a body changed
 * by `edit` (so only the backend's own checks can catch it).
 */
static void rewrite_body(const char *path,
			 void (*edit)(unsigned char *, size_t *))
{
	struct osa_snap_info info;
	struct osa_snap_writer *w;
	struct osa_snap_reader *r;
	struct osa_error err;
	unsigned char *body;
	size_t len;
	FILE *f = fopen(path, "rb");
	long size = file_size(path);

	OSA_REQUIRE(f && size > 256);
	body = malloc((size_t)size);
	OSA_REQUIRE(body);
	OSA_REQUIRE(fread(body, 1, (size_t)size, f) == (size_t)size);
	fclose(f);
	/* The header as the backend wrote it, blob included. */
	OSA_REQUIRE(osa_snap_open(path, NULL, &r, &info, &err) == 0);
	osa_snap_close(r, NULL);
	len = (size_t)size - 256;
	memmove(body, body + 256, len);
	edit(body, &len);
	OSA_REQUIRE(osa_snap_create(path, &info, &w, &err) == 0);
	OSA_REQUIRE(osa_snap_write(w, body, len, &err) == 0);
	OSA_REQUIRE(osa_snap_commit(w, &err) == 0);
	free(body);
}

static void edit_labels(unsigned char *b, size_t *len)
{
	(void)len;
	b[8] ^= 0x01; /* label count */
}

static void edit_huge(unsigned char *b, size_t *len)
{
	(void)len;
	b[15] = 0x7f; /* label count near 2^63 */
}

static void edit_graph(unsigned char *b, size_t *len)
{
	/* Body version 2: u64 pad and the padding after the preamble. */
	size_t g = 48 + 8 + (size_t)osa_le64_get(b + 48), i;

	OSA_REQUIRE(g + 260 < *len);
	for (i = g + 200; i < g + 260; i++)
		b[i] = 0xff; /* inside the graph's bottom layer */
}

static void edit_srn(unsigned char *b, size_t *len)
{
	b[*len - 30 * 4 - 2] = 0; /* a NUL inside the last srn */
}

static void edit_free(unsigned char *b, size_t *len)
{
	b[*len - 1] = 0x7f; /* the last free label out of range */
}

static void edit_trailing(unsigned char *b, size_t *len)
{
	b[*len] = 'x';
	*len += 1;
}

/*
 * Open a damaged snapshot: OSA_ECORRUPT from open, or (a snapshot served
 * at once and checked after open) from the first write, here a checkpoint,
 * and then from health too.
 */
static int open_damaged(struct bt_index *ix, const char *cfg, const char *sub,
			struct osa_error *err)
{
	struct osa_error herr = { 0 };
	int rc = bt_open(ix, "vector", cfg, sub, err);

	if (rc)
		return rc;
	rc = ix->b->checkpoint(ix->self, ix->lsn, err);
	OSA_CHECK_MSG(rc != OSA_ECORRUPT ||
			      ix->b->health(ix->self, &herr) == OSA_ECORRUPT,
		      "health after a failed check: %s", herr.msg);
	bt_close(ix);
	return rc;
}

static void test_snapshots(void)
{
	enum { N = 300 };
	const char *cfg = "dim = 8; metric = \"cosine\"; m = 8;"
			  "compact_deleted_ratio = 1.0;"
			  "embedding = { embedder = \"field\"; };";
	struct osa_error err = { 0 };
	struct osa_hits before[5], after;
	struct vector_stats s1, s2;
	struct bt_index ix;
	char srn[64], sub[128], snap[256], keep[256];
	float v[DIM], qs[5][DIM];
	int i, j;

	snprintf(sub, sizeof(sub), "%s/snap", dir);
	snprintf(snap, sizeof(snap), "%s/vector.snap", sub);
	snprintf(keep, sizeof(keep), "%s/keep.snap", dir);
	OSA_REQUIRE(bt_open(&ix, "vector", cfg, sub, &err) == 0);
	for (i = 0; i < N; i++) {
		srn_of(srn, sizeof(srn), i);
		vec_of(v, (uint64_t)i + 3);
		OSA_REQUIRE(bt_ingest1(&ix, bt_rec(srn, "t", NULL, v, DIM),
				       &err) == 0);
	}
	/* Some deleted slots, so the free list is saved too. */
	for (i = 0; i < N; i += 10) {
		const char *r[1] = { srn };

		srn_of(srn, sizeof(srn), i);
		OSA_CHECK(ix.b->remove(ix.self, r, 1, &err) == 0);
	}
	for (i = 0; i < 5; i++) {
		vec_of(qs[i], (uint64_t)i + 4242);
		OSA_REQUIRE(bt_qvec(&ix, qs[i], DIM, 10, 0, &before[i], &err) ==
			    0);
	}
	s1 = stats(&ix);
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 77, &err) == 0);
	bt_close(&ix);
	OSA_REQUIRE(bt_open(&ix, "vector", cfg, sub, &err) == 0);
	OSA_CHECK(ix.lsn == 77);
	s2 = stats(&ix);
	OSA_CHECK(s2.live == s1.live && s2.slots == s1.slots &&
		  s2.deleted == s1.deleted);
	for (i = 0; i < 5; i++) {
		OSA_REQUIRE(bt_qvec(&ix, qs[i], DIM, 10, 0, &after, &err) == 0);
		OSA_REQUIRE(after.n == before[i].n);
		for (j = 0; j < (int)after.n; j++) {
			OSA_CHECK_STR(after.v[j].srn, before[i].v[j].srn);
			OSA_CHECK(after.v[j].score == before[i].v[j].score);
		}
		osa_hits_free(&after);
		osa_hits_free(&before[i]);
	}
	/* The free list survived: a new record takes a freed slot. */
	vec_of(v, 5);
	OSA_REQUIRE(bt_ingest1(&ix,
			       bt_rec("urn:osa:x:rec:after", "t", NULL, v, DIM),
			       &err) == 0);
	s2 = stats(&ix);
	OSA_CHECK(s2.slots == s1.slots && s2.deleted == s1.deleted - 1);
	bt_close(&ix);
	copy_file(snap, keep);

	/* Truncated anywhere. */
	{
		long size = file_size(keep),
		     cuts[] = { 0, 100, 256, 300, 400, size / 2, size - 1 };

		for (i = 0; i < (int)(sizeof(cuts) / sizeof(cuts[0])); i++) {
			copy_file(keep, snap);
			OSA_REQUIRE(truncate(snap, cuts[i]) == 0);
			OSA_CHECK_MSG(bt_open(&ix, "vector", cfg, sub, &err) ==
					      OSA_ECORRUPT,
				      "cut %ld: %s", cuts[i], err.msg);
			OSA_CHECK_CONTAINS(err.msg, snap);
		}
	}
	/* Flipped bits. */
	{
		long size = file_size(keep),
		     offs[] = { 5,	   36,	     200,     256 + 9,
				256 + 100, size / 2, size - 2 };

		for (i = 0; i < (int)(sizeof(offs) / sizeof(offs[0])); i++) {
			copy_file(keep, snap);
			flip_byte(snap, offs[i]);
			OSA_CHECK_MSG(open_damaged(&ix, cfg, sub, &err) ==
					      OSA_ECORRUPT,
				      "offset %ld: %s", offs[i], err.msg);
			OSA_CHECK_CONTAINS(err.msg, snap);
		}
	}
	/* Valid checksums around a lying body: the backend's own checks. */
	{
		void (*edits[])(unsigned char *,
				size_t *) = { edit_labels, edit_huge,
					      edit_graph,  edit_srn,
					      edit_free,   edit_trailing };

		for (i = 0; i < (int)(sizeof(edits) / sizeof(edits[0])); i++) {
			copy_file(keep, snap);
			rewrite_body(snap, edits[i]);
			OSA_CHECK_MSG(open_damaged(&ix, cfg, sub, &err) ==
					      OSA_ECORRUPT,
				      "edit %d: %s", i, err.msg);
			OSA_CHECK_CONTAINS(err.msg, snap);
		}
	}
	/* Another dim, metric, embedder or m than the config. */
	copy_file(keep, snap);
	OSA_CHECK(bt_open(&ix, "vector",
			  "dim = 9; metric = \"cosine\"; m = 8;"
			  "embedding = { embedder = \"field\"; };",
			  sub, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "written for \"dim=8 ");
	OSA_CHECK_CONTAINS(err.msg, "expects \"dim=9 ");
	OSA_CHECK_CONTAINS(err.msg, snap);
	OSA_CHECK(bt_open(&ix, "vector",
			  "dim = 8; metric = \"cosine\"; m = 8;"
			  "embedding = { embedder = \"hash\"; };",
			  sub, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "embedder");
	OSA_CHECK(bt_open(&ix, "vector",
			  "dim = 8; metric = \"cosine\"; m = 12;"
			  "embedding = { embedder = \"field\"; };",
			  sub, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "m 12");
	/* The intact file still opens. */
	OSA_REQUIRE(bt_open(&ix, "vector", cfg, sub, &err) == 0);
	OSA_CHECK(bt_count(&ix) == N - N / 10); /* as checkpointed */
	bt_close(&ix);
}

int main(void)
{
	bt_tmpdir(dir);
	test_metrics();
	test_writes();
	test_errors();
	test_paging();
	test_text();
	test_compaction();
	test_snapshots();
	bt_rmdir(dir);
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * test_flat.c - the `flat` backend: exact scores per metric, upsert, remove
 * (dense compaction), all-or-nothing batches, paging with ties, text
 * queries, batch search, checkpoint + reopen, damaged snapshots, vectors
 * with a non-finite number refused under every metric.  Readers during
 * writes: the conformance suite (osa.flat.conformance).
 */
#include <math.h>
#include <sys/stat.h>

#include <osa/embedder.h>
#include <osa/snapshot.h>

#include "../flat.h"
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

/* Brute-force best srn for `q` among live[] under ip. */
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
		OSA_REQUIRE(bt_open(&ix, "flat", cfg, sub, &err) == 0);
		OSA_CHECK(ix.lsn == 0);
		OSA_CHECK(
			bt_ingest1(&ix,
				   bt_rec("urn:osa:x:rec:a", "A", NULL, a, DIM),
				   &err) == 0);
		OSA_CHECK(
			bt_ingest1(&ix,
				   bt_rec("urn:osa:x:rec:b", "B", NULL, b, DIM),
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
			ea = 3; /* dot */
			eb = 3;
		} else if (m == 1) {
			ea = -(0 + 1 + 1.0); /* -|a-q|^2 */
			eb = -(1 + 1 + 4.0);
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

/* Upsert, remove, all-or-nothing, against a brute-force model. */
static void test_writes(void)
{
	enum { N = 300 };
	static float vecs[N][DIM];
	static int live[N];
	struct osa_error err = { 0 };
	struct osa_hits hits;
	struct bt_index ix;
	char srn[64], sub[128];
	const char *rm[N];
	char rmbuf[N][64];
	float q[DIM];
	int i, nrm = 0, n_live = 0, trial;

	snprintf(sub, sizeof(sub), "%s/writes", dir);
	OSA_REQUIRE(bt_open(&ix, "flat", cfg_ip, sub, &err) == 0);
	for (i = 0; i < N; i++) {
		srn_of(srn, sizeof(srn), i);
		vec_of(vecs[i], (uint64_t)i);
		OSA_REQUIRE(bt_ingest1(&ix,
				       bt_rec(srn, "t", NULL, vecs[i], DIM),
				       &err) == 0);
		live[i] = 1;
	}
	OSA_CHECK(bt_count(&ix) == N);
	/* Upsert: the same srn with a new vector replaces it. */
	for (i = 0; i < N; i += 7) {
		srn_of(srn, sizeof(srn), i);
		vec_of(vecs[i], (uint64_t)i + 100000);
		OSA_REQUIRE(bt_ingest1(&ix,
				       bt_rec(srn, "t", NULL, vecs[i], DIM),
				       &err) == 0);
	}
	OSA_CHECK(bt_count(&ix) == N);
	/* The replaced vector is found with its own score. */
	OSA_REQUIRE(bt_qvec(&ix, vecs[7], DIM, 1, 0, &hits, &err) == 0);
	OSA_CHECK(hits.n == 1);
	if (hits.n) {
		float self = 0;

		for (i = 0; i < DIM; i++)
			self += vecs[7][i] * vecs[7][i];
		srn_of(srn, sizeof(srn), 7);
		OSA_CHECK_MSG(fabs(hits.v[0].score - self) < 1e-4 ||
				      hits.v[0].score > self,
			      "score %g self %g", hits.v[0].score, self);
	}
	osa_hits_free(&hits);
	/* Remove every third (and an unknown srn: not an error). */
	for (i = 0; i < N; i += 3) {
		srn_of(rmbuf[nrm], sizeof(rmbuf[nrm]), i);
		rm[nrm] = rmbuf[nrm];
		nrm++;
		live[i] = 0;
	}
	rm[nrm++] = "urn:osa:example.org:rec:nope";
	OSA_CHECK(ix.b->remove(ix.self, rm, (size_t)nrm, &err) == 0);
	for (i = 0; i < N; i++)
		n_live += live[i];
	OSA_CHECK(bt_count(&ix) == (uint64_t)n_live);
	/* All or nothing: a bad third record leaves the index unchanged. */
	{
		float v[DIM] = { 0 };
		struct osa_record *r[3];

		r[0] = bt_rec("urn:osa:x:rec:new-1", "t", NULL, v, DIM);
		r[1] = bt_rec("urn:osa:x:rec:new-2", "t", NULL, v, DIM);
		r[2] = bt_rec("urn:osa:x:rec:bad-3", "t", NULL, v, DIM - 1);
		OSA_CHECK(ix.b->ingest_batch(
				  ix.self, (const struct osa_record *const *)r,
				  3, &err) != 0);
		OSA_CHECK_CONTAINS(err.msg, "urn:osa:x:rec:bad-3");
		OSA_CHECK(bt_count(&ix) == (uint64_t)n_live);
		osa_record_free(r[2]);
		r[2] = bt_rec("urn:osa:x:rec:bad-3", "t", NULL, NULL, 0);
		OSA_CHECK(ix.b->ingest_batch(
				  ix.self, (const struct osa_record *const *)r,
				  3, &err) != 0);
		OSA_CHECK_CONTAINS(err.msg, "embedding");
		OSA_CHECK(bt_count(&ix) == (uint64_t)n_live);
		for (i = 0; i < 3; i++)
			osa_record_free(r[i]);
	}
	/* Exact: the top 10 equal a brute-force ranking. */
	for (trial = 0; trial < 20; trial++) {
		int best[10], nb = 0, j;

		vec_of(q, (uint64_t)trial + 777);
		for (j = 0; j < 10; j++) {
			int bi = -1;
			float bs = -INFINITY;

			for (i = 0; i < N; i++) {
				float s = 0;
				int k, taken = 0;

				if (!live[i])
					continue;
				for (k = 0; k < nb; k++)
					taken |= best[k] == i;
				if (taken)
					continue;
				for (k = 0; k < DIM; k++)
					s += vecs[i][k] * q[k];
				if (s > bs)
					bs = s, bi = i;
			}
			best[nb++] = bi;
		}
		OSA_REQUIRE(bt_qvec(&ix, q, DIM, 10, 0, &hits, &err) == 0);
		OSA_CHECK(hits.n == 10 && hits.total == (size_t)n_live);
		for (j = 0; j < 10 && j < (int)hits.n; j++) {
			srn_of(srn, sizeof(srn), best[j]);
			OSA_CHECK_STR(hits.v[j].srn, srn);
		}
		osa_hits_free(&hits);
	}
	/* Removed records never come back. */
	OSA_REQUIRE(bt_qvec(&ix, q, DIM, 1000, 0, &hits, &err) == 0);
	OSA_CHECK(hits.n == (size_t)n_live);
	for (i = 0; i < (int)hits.n; i++) {
		int id = atoi(hits.v[i].srn + strlen(hits.v[i].srn) - 4);

		OSA_CHECK(live[id]);
	}
	osa_hits_free(&hits);
	bt_close(&ix);
}

/* Errors: wrong vector length, missing field, no text or vector. */
static void test_errors(void)
{
	struct osa_error err = { 0 };
	struct osa_hits hits;
	struct bt_index ix;
	struct osa_query q = { .limit = 5 };
	float v[DIM + 1] = { 1 };
	char sub[128];

	snprintf(sub, sizeof(sub), "%s/errors", dir);
	OSA_REQUIRE(bt_open(&ix, "flat", cfg_ip, sub, &err) == 0);
	OSA_CHECK(bt_ingest1(&ix, bt_rec("urn:osa:x:rec:a", "A", NULL, v, DIM),
			     &err) == 0);
	OSA_CHECK(bt_qvec(&ix, v, DIM + 1, 5, 0, &hits, &err) == OSA_ERANGE);
	OSA_CHECK_CONTAINS(err.msg, "9 numbers");
	OSA_CHECK_CONTAINS(err.msg, "dim is 8");
	osa_hits_free(&hits);
	memset(&hits, 0, sizeof(hits));
	OSA_CHECK(ix.b->query(ix.self, &q, &hits, &err) == OSA_EINVAL);
	OSA_CHECK_CONTAINS(err.msg, "text or a vector");
	/* The field embedder cannot embed text. */
	q.text = "hello";
	OSA_CHECK(ix.b->query(ix.self, &q, &hits, &err) != 0);
	OSA_CHECK(err.msg[0] != '\0');
	osa_hits_free(&hits);
	bt_close(&ix);
}

/*
 * A test embedder whose vectors hold a NaN (title "nan") or an infinity
 * (title "inf") at position 3, and are finite otherwise: what a broken
 * embedder or model could hand a backend.  (JSON cannot carry either, so
 * the field embedder never does.)
 */
static int nonfinite_create(const struct osa_embedder_args *args, void **self,
			    struct osa_error *err)
{
	(void)err;
	*self = (void *)(size_t)args->dim;
	return 0;
}

static int nonfinite_record(void *self, const struct osa_record *rec,
			    float *out, struct osa_error *err)
{
	size_t dim = (size_t)self, i, len;
	const char *title = NULL;

	(void)err;
	for (i = 0; i < dim; i++)
		out[i] = (float)(i + 1);
	if (osa_record_string(rec, "title", &title, &len) == 0 && title) {
		if (!strcmp(title, "nan"))
			out[3] = NAN;
		else if (!strcmp(title, "inf"))
			out[3] = -INFINITY;
	}
	return 0;
}

static void nonfinite_describe(void *self, char *buf, size_t n)
{
	snprintf(buf, n, "nonfinite dim=%zu", (size_t)self);
}

static void nonfinite_destroy(void *self)
{
	(void)self;
}

static const struct osa_embedder nonfinite_embedder = {
	.abi = OSA_EMBEDDER_ABI,
	.size = sizeof(struct osa_embedder),
	.name = "test-nonfinite",
	.doc = "test only: NaN or infinity on request",
	.create = nonfinite_create,
	.embed_record = nonfinite_record,
	.describe = nonfinite_describe,
	.destroy = nonfinite_destroy,
};
OSA_EMBEDDER_REGISTER(nonfinite_embedder);

/*
 * A vector with a NaN or an infinity is refused under every metric (as
 * `vector` does; osa/vecspace.h), not stored to poison every later score:
 * at ingest, naming the record, and in a query vector, naming the position.
 */
static void test_nonfinite(void)
{
	static const char *const metrics[] = { "ip", "l2", "cosine" };
	static const char *const bad[] = { "nan", "inf" };
	float q[DIM] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	struct osa_error err = { 0 };
	struct osa_hits hits;
	size_t m, b;

	for (m = 0; m < 3; m++) {
		struct bt_index ix;
		char cfg[256], sub[128];

		snprintf(sub, sizeof(sub), "%s/nonfinite-%s", dir, metrics[m]);
		snprintf(cfg, sizeof(cfg),
			 "dim = 8; metric = \"%s\"; embedding = { embedder "
			 "= \"test-nonfinite\"; fields = [\"title\"]; };",
			 metrics[m]);
		OSA_REQUIRE(bt_open(&ix, "flat", cfg, sub, &err) == 0);
		OSA_CHECK(bt_ingest1(&ix,
				     bt_rec("urn:osa:x:rec:fine", "fine", NULL,
					    NULL, 0),
				     &err) == 0);
		for (b = 0; b < 2; b++) {
			OSA_CHECK_MSG(bt_ingest1(&ix,
						 bt_rec("urn:osa:x:rec:bad",
							bad[b], NULL, NULL, 0),
						 &err) == OSA_EINVAL,
				      "metric %s stored a %s", metrics[m],
				      bad[b]);
			OSA_CHECK_CONTAINS(err.msg, "urn:osa:x:rec:bad");
			OSA_CHECK_CONTAINS(err.msg, "non-finite");
			OSA_CHECK_CONTAINS(err.msg, "position 3");
		}
		OSA_CHECK(bt_count(&ix) == 1);
		/* A query vector with one: refused, naming where. */
		q[5] = NAN;
		OSA_CHECK(bt_qvec(&ix, q, DIM, 5, 0, &hits, &err) ==
			  OSA_EINVAL);
		OSA_CHECK_CONTAINS(err.msg, "non-finite number at position 5");
		osa_hits_free(&hits);
		q[5] = 1;
		OSA_CHECK(bt_qvec(&ix, q, DIM, 5, 0, &hits, &err) == 0);
		OSA_CHECK(hits.n == 1 && isfinite(hits.v[0].score));
		osa_hits_free(&hits);
		bt_close(&ix);
	}
}

/* Limit beyond the index, offsets and ties ordered by srn. */
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
	OSA_REQUIRE(bt_open(&ix, "flat", cfg_ip, sub, &err) == 0);
	/* 12 equal vectors, ingested in scrambled order. */
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

/* Text queries through the hash embedder. */
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
	OSA_REQUIRE(bt_open(&ix, "flat",
			    "dim = 256; embedding = { embedder = \"hash\"; };",
			    sub, &err) == 0);
	for (i = 0; i < 4; i++) {
		srn_of(srn, sizeof(srn), i);
		OSA_REQUIRE(bt_ingest1(&ix,
				       bt_rec(srn, titles[i],
					      "A short summary.", NULL, 0),
				       &err) == 0);
	}
	q.text = "volcanic ash";
	OSA_REQUIRE(ix.b->query(ix.self, &q, &hits, &err) == 0);
	OSA_REQUIRE(hits.n == 3);
	srn_of(srn, sizeof(srn), 2);
	OSA_CHECK_STR(hits.v[0].srn, srn);
	OSA_CHECK(hits.v[0].score > hits.v[1].score);
	OSA_CHECK(hits.v[0].score <= 1.0 + 1e-6);
	osa_hits_free(&hits);
	bt_close(&ix);
}

/* Batch search (sgemm) agrees with single queries (sgemv). */
static void test_batch(void)
{
	enum { N = 500, NQ = 37, K = 7 };
	struct osa_error err = { 0 };
	struct bt_index ix;
	struct osa_hits hits;
	static float qs[NQ * DIM];
	const char *srns[NQ * K];
	float scores[NQ * K];
	char srn[64], sub[128];
	float v[DIM];
	int i, j;

	snprintf(sub, sizeof(sub), "%s/batch", dir);
	OSA_REQUIRE(bt_open(&ix, "flat",
			    "dim = 8; metric = \"l2\";"
			    "embedding = { embedder = \"field\"; };",
			    sub, &err) == 0);
	for (i = 0; i < N; i++) {
		srn_of(srn, sizeof(srn), i);
		vec_of(v, (uint64_t)i + 5);
		OSA_REQUIRE(bt_ingest1(&ix, bt_rec(srn, "t", NULL, v, DIM),
				       &err) == 0);
	}
	for (i = 0; i < NQ; i++)
		vec_of(qs + i * DIM, (uint64_t)i + 99999);
	OSA_REQUIRE(flat_search_batch(ix.self, qs, NQ, K, srns, scores, &err) ==
		    0);
	for (i = 0; i < NQ; i++) {
		OSA_REQUIRE(bt_qvec(&ix, qs + i * DIM, DIM, K, 0, &hits,
				    &err) == 0);
		OSA_REQUIRE(hits.n == K);
		for (j = 0; j < K; j++) {
			OSA_CHECK_STR(hits.v[j].srn, srns[i * K + j]);
			OSA_CHECK(fabs(hits.v[j].score - scores[i * K + j]) <
				  1e-4);
		}
		osa_hits_free(&hits);
	}
	/* k beyond the index: the tail is empty. */
	{
		const char *s2[2 * (N + 3)];
		float sc2[2 * (N + 3)];

		OSA_REQUIRE(flat_search_batch(ix.self, qs, 2, N + 3, s2, sc2,
					      &err) == 0);
		OSA_CHECK(s2[N - 1] != NULL && s2[N] == NULL &&
			  s2[N + 2] == NULL && isinf(sc2[N + 1]));
	}
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

/* Checkpoint, reopen identical; every kind of damage is a clear error. */
static void test_snapshots(void)
{
	enum { N = 200 };
	const char *cfg = "dim = 8; metric = \"cosine\";"
			  "embedding = { embedder = \"field\"; };";
	struct osa_error err = { 0 };
	struct osa_hits before[5], after;
	struct bt_index ix;
	char srn[64], sub[128], snap[256], keep[256];
	float v[DIM], qs[5][DIM];
	int i, j;

	snprintf(sub, sizeof(sub), "%s/snap", dir);
	snprintf(snap, sizeof(snap), "%s/flat.snap", sub);
	snprintf(keep, sizeof(keep), "%s/keep.snap", dir);
	OSA_REQUIRE(bt_open(&ix, "flat", cfg, sub, &err) == 0);
	for (i = 0; i < N; i++) {
		srn_of(srn, sizeof(srn), i);
		vec_of(v, (uint64_t)i + 3);
		OSA_REQUIRE(bt_ingest1(&ix, bt_rec(srn, "t", NULL, v, DIM),
				       &err) == 0);
	}
	for (i = 0; i < 5; i++) {
		vec_of(qs[i], (uint64_t)i + 4242);
		OSA_REQUIRE(bt_qvec(&ix, qs[i], DIM, 10, 0, &before[i], &err) ==
			    0);
	}
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 42, &err) == 0);
	bt_close(&ix);
	OSA_REQUIRE(bt_open(&ix, "flat", cfg, sub, &err) == 0);
	OSA_CHECK(ix.lsn == 42);
	OSA_CHECK(bt_count(&ix) == N);
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
	bt_close(&ix);
	copy_file(snap, keep);

	/* Truncated at several places. */
	{
		long size = file_size(keep),
		     cuts[] = { 0, 17, 255, 256, 300, size - 1 };

		for (i = 0; i < (int)(sizeof(cuts) / sizeof(cuts[0])); i++) {
			copy_file(keep, snap);
			OSA_REQUIRE(truncate(snap, cuts[i]) == 0);
			OSA_CHECK(bt_open(&ix, "flat", cfg, sub, &err) ==
				  OSA_ECORRUPT);
			OSA_CHECK_CONTAINS(err.msg, snap);
			OSA_CHECK_STR(err.file, snap);
		}
	}
	/* A flipped bit in the header, the rows, the srns. */
	{
		long offs[] = { 3, 40, 180, 260, file_size(keep) - 3 };

		for (i = 0; i < (int)(sizeof(offs) / sizeof(offs[0])); i++) {
			copy_file(keep, snap);
			flip_byte(snap, offs[i]);
			OSA_CHECK_MSG(bt_open(&ix, "flat", cfg, sub, &err) ==
					      OSA_ECORRUPT,
				      "offset %ld: %s", offs[i], err.msg);
			OSA_CHECK_CONTAINS(err.msg, snap);
		}
	}
	/* Another dim, metric or embedder than the config. */
	copy_file(keep, snap);
	OSA_CHECK(bt_open(&ix, "flat",
			  "dim = 16; metric = \"cosine\";"
			  "embedding = { embedder = \"field\"; };",
			  sub, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, snap);
	OSA_CHECK_CONTAINS(err.msg, "written for \"dim=8 ");
	OSA_CHECK_CONTAINS(err.msg, "expects \"dim=16 ");
	OSA_CHECK(bt_open(&ix, "flat",
			  "dim = 8; metric = \"l2\";"
			  "embedding = { embedder = \"field\"; };",
			  sub, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "metric=cosine");
	OSA_CHECK_CONTAINS(err.msg, "metric=l2");
	OSA_CHECK(bt_open(&ix, "flat",
			  "dim = 8; metric = \"cosine\";"
			  "embedding = { embedder = \"hash\"; };",
			  sub, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "embedder");
	OSA_CHECK_CONTAINS(err.msg, snap);
	/* A vector snapshot is not a flat one. */
	{
		struct osa_snap_info info = { .kind = "vector" };
		struct osa_snap_writer *w;

		OSA_REQUIRE(osa_snap_create(snap, &info, &w, &err) == 0);
		OSA_REQUIRE(osa_snap_commit(w, &err) == 0);
		OSA_CHECK(bt_open(&ix, "flat", cfg, sub, &err) == OSA_ECORRUPT);
		OSA_CHECK_CONTAINS(err.msg, "\"vector\"");
	}
	/* A crafted header: valid checksums, a count the body cannot hold. */
	{
		struct osa_snap_info info;
		struct osa_snap_writer *w;
		struct osa_snap_reader *r;

		/* The header (and blob) the backend wrote. */
		OSA_REQUIRE(osa_snap_open(keep, NULL, &r, &info, &err) == 0);
		osa_snap_close(r, NULL);
		info.count = (uint64_t)1 << 40;
		OSA_REQUIRE(osa_snap_create(snap, &info, &w, &err) == 0);
		OSA_REQUIRE(osa_snap_write(w, "abcdefgh", 8, &err) == 0);
		OSA_REQUIRE(osa_snap_commit(w, &err) == 0);
		OSA_CHECK(bt_open(&ix, "flat", cfg, sub, &err) == OSA_ECORRUPT);
		OSA_CHECK_CONTAINS(err.msg, "do not fit");
		/* Rows fit, srn lengths lie. */
		info.count = 1;
		OSA_REQUIRE(osa_snap_create(snap, &info, &w, &err) == 0);
		memset(v, 0, sizeof(v));
		v[0] = 1;
		OSA_REQUIRE(osa_snap_write(w, v, sizeof(v), &err) == 0);
		OSA_REQUIRE(osa_snap_write(w, "\xff\xff\xff\x7f", 4, &err) ==
			    0);
		OSA_REQUIRE(osa_snap_commit(w, &err) == 0);
		OSA_CHECK(bt_open(&ix, "flat", cfg, sub, &err) == OSA_ECORRUPT);
		OSA_CHECK_CONTAINS(err.msg, "bad length");
	}
	/* No snapshot: a fresh index at LSN 0. */
	unlink(snap);
	OSA_REQUIRE(bt_open(&ix, "flat", cfg, sub, &err) == 0);
	OSA_CHECK(ix.lsn == 0 && bt_count(&ix) == 0);
	bt_close(&ix);
}

int main(void)
{
	bt_tmpdir(dir);
	test_metrics();
	test_writes();
	test_errors();
	test_nonfinite();
	test_paging();
	test_text();
	test_batch();
	test_snapshots();
	bt_rmdir(dir);
	OSA_TEST_END();
}

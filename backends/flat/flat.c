/* SPDX-License-Identifier: MIT */
/*
 * flat.c - the `flat` backend: exact search over a dense, row-major float
 * matrix with BLAS (cblas_sgemv for one query, cblas_sgemm for a batch), or
 * a scan of 8-bit codes and an exact rerank (quantization = "sq8").
 *
 * Layout: rows 0..n-1 of `mat` are live, each `dim` floats; `srns[r]` owns
 * the srn of row r and `hash[r]` caches its hash; an open-addressing table
 * (linear probing, backward-shift deletion) maps an srn to its row.  A
 * removal moves the last row into the hole, so the matrix stays dense and
 * every query is one BLAS call over n x dim.
 *
 * Scores: cosine stores unit vectors and scores by the dot product (the
 * cosine similarity); ip scores by the dot product; l2 scores by the
 * negative *squared* Euclidean distance, -(|x|^2 - 2 x.q + |q|^2), computed
 * from a cache of |x|^2 and the dot product (clamped to <= 0).  Higher is
 * better, ties are ordered by srn.
 *
 * Locking: a rwlock; queries, count, stats and checkpoint take it shared,
 * ingest (sq8 training included) and remove exclusive.  Embedding (the slow
 * part of an ingest) happens before the lock is taken.
 *
 * Quantisation (`quantization = "sq8"`): beside the float rows, `codes`
 * holds one byte per dimension of every row (8-bit scalar quantisation per
 * dimension, the vector backend's: c = round((x - lo) / scale), clamped to
 * [0, 255]).  A query then scans the codes only (dim bytes per row instead
 * of 4 x dim) with the dispatched SQ8 kernels (hnswc_kernels.h: sq8_l2,
 * sq8_ip; asymmetric, the query stays float), keeps the best rerank x k
 * rows and re-scores those exactly on the float rows, so the scores
 * returned are those of the float scan.  The float rows stay in memory for
 * the rerank and for retraining.  The quantiser is trained on the first
 * batch an empty index receives (a dimension with one value seen, e.g. a
 * batch of one record, gets the range [v, v + 1]); flat has no compaction,
 * so instead, while it was trained on fewer than FLAT_SQ8_TRAIN vectors
 * and the index has doubled since, ingest retrains it on every row and
 * re-encodes them (O(n x dim) under the exclusive lock, amortised O(dim)
 * per insert).  Values outside the trained range clamp.
 *
 * Snapshot (flat.snap, body version 2, osa/snapshot.h): n * dim float32
 * little-endian rows; with sq8: u64 trained_on, dim float32 minimums (lo),
 * dim float32 steps (scale), n * dim codes; then n times { u32 length, srn
 * bytes }.  Without sq8 the body is that of version 1, and so is the blob,
 * so older snapshots load; with sq8 the blob ends in " quantization=sq8",
 * so a snapshot written with the other setting is refused as OSA_ECORRUPT
 * and the core rebuilds the index from the journal.
 *
 * Declared attributes (osa/filter.h): an osa_attr_table whose rows are the
 * matrix's rows (a removal copies the last row's attributes into the hole,
 * like its vector), checkpointed beside flat.snap as flat.attrs (the
 * table's encoding in a snapshot of kind "flat-attrs" with the same LSN and
 * count; any mismatch is OSA_ECORRUPT, so the core rebuilds).  A filter is
 * evaluated into a bitmap of rows and only matching rows are ranked, so
 * filtered results and `total` are exact; facets count every matching row.
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <osa/backend.h>
#include <osa/snapshot.h>
#include <osa/srnmap.h>
#include <osa/vecspace.h>
#include <hnswc_kernels.h>
#include <osa/sys.h>
#include <osa_autoconf.h>

#ifdef CONFIG_OSA_BLAS_REFERENCE
#include <cblas-netlib.h>
#else
#include <cblas.h>
#endif

#include "flat.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "flat snapshots store raw little-endian floats"
#endif

#define FLAT_BODY_VERSION 2u
#define FLAT_SNAP_NAME "flat.snap"
#define FLAT_ATTRS_NAME "flat.attrs"
#define FLAT_ATTRS_KIND "flat-attrs"
/* Rows are BLAS `int` indices and map slots hold row + 1 in 32 bits. */
#define FLAT_MAX_ROWS ((size_t)INT_MAX / 2)
/* Longest srn a snapshot may hold. */
#define FLAT_SRN_MAX 65536u
/* Bytes of scores one sgemm block may produce (batch search). */
#define FLAT_BLOCK_BYTES ((size_t)32 << 20)
/* An sq8 quantiser trained on fewer vectors is retrained as data grows
 * (at each doubling: the pause under the exclusive lock stays short). */
#define FLAT_SQ8_TRAIN 262144
/* No growth retraining below this many rows. */
#define FLAT_SQ8_RETRAIN_MIN 64

enum flat_metric {
	FLAT_COSINE = OSA_METRIC_COSINE,
	FLAT_L2 = OSA_METRIC_L2,
	FLAT_IP = OSA_METRIC_IP
};

enum flat_quant { FLAT_QUANT_NONE, FLAT_QUANT_SQ8 };

static const char *const flat_quants[] = { "none", "sq8", NULL };

struct flat_config {
	int dim;
	int metric;
	int initial_capacity;
	struct osa_embedding_config embedding;
	int quantization;
	int rerank;
};

/* ---- configuration --------------------------------------------------- */

/*
 * Cross-field rule: an embedder that embeds text needs something to embed.
 * (The `embedding` group checks its own keys: a known embedder, a non-empty
 * vector_field, a valid template.)
 */
static const struct osa_field flat_fields[] = {
	OSA_VECSPACE_FIELD_DIM(struct flat_config, dim),
	OSA_VECSPACE_FIELD_METRIC(struct flat_config, metric),
	OSA_FIELD_INT(struct flat_config, initial_capacity, "initial_capacity",
		      10000, 1, 1000000000,
		      "Rows allocated at open; the matrix doubles when full."),
	OSA_FIELD_ENUM_F(
		struct flat_config, quantization, "quantization", OSA_F_STORED,
		FLAT_QUANT_NONE, flat_quants,
		"none (the scan reads the float rows, 4 x dim bytes per "
		"vector) or sq8 (the scan reads 8-bit codes per dimension, "
		"dim bytes per vector, then an exact rerank on the float "
		"rows kept beside them)."),
	OSA_FIELD_INT(struct flat_config, rerank, "rerank", 4, 1, 100,
		      "sq8: re-score this many times the hits asked for on "
		      "the float vectors."),
	OSA_VECSPACE_FIELD_EMBEDDING(struct flat_config, embedding),
	OSA_FIELD_END
};

static const struct osa_schema flat_schema = {
	.name = "flat",
	.size = sizeof(struct flat_config),
	.fields = flat_fields,
};

/* ---- the instance ---------------------------------------------------- */

struct flat {
	char *index;
	char *snap_path;
	size_t dim;
	int metric;
	int quant; /* enum flat_quant */
	struct osa_embedder_inst *emb;
	char desc[OSA_SNAP_EMBEDDER_MAX];
	pthread_rwlock_t lock;

	float *mat; /* cap x dim, rows 0..n-1 live */
	float *sq;  /* |row|^2 (l2) */
	/* sq8: codes of the rows (cap x dim, rows 0..n-1 live) and the
	 * quantiser (dim each): row r dimension i ~ lo[i] + scale[i] * c;
	 * inv = 1 / scale.  NULL without quantisation. */
	uint8_t *codes;
	float *lo, *scale, *inv;
	size_t trained_on; /* sq8: rows the quantiser was fit on */
	size_t rerank;	   /* sq8: candidates = rerank x hits */
	char **srns;	   /* owned srn of each row */
	uint64_t *hash;	   /* hash of each row's srn */
	size_t n, cap;

	struct osa_srnmap map; /* srn -> row */

	const struct osa_attrs *decl; /* declared attributes (args) */
	struct osa_attr_table *attrs; /* rows = matrix rows; NULL: none */
	char *attrs_path;	      /* flat.attrs */
};

/* The row of `srn`, or -1. */
static long flat_find(const struct flat *f, const char *srn, uint64_t h)
{
	return osa_srnmap_find(&f->map, (const char *const *)f->srns, f->hash,
			       srn, h);
}

static size_t flat_map_slot(const struct flat *f, const char *srn, uint64_t h)
{
	return osa_srnmap_slot(&f->map, (const char *const *)f->srns, f->hash,
			       srn, h);
}

/* Make the table hold `rows` rows at a load of at most 1/2. */
static int flat_map_reserve(struct flat *f, size_t rows)
{
	return osa_srnmap_reserve(&f->map, (const char *const *)f->srns,
				  f->hash, f->n, rows, false);
}

/* Multiply without overflow: 0 and *out, or -1. */
static int flat_mul(size_t a, size_t b, size_t *out)
{
	if (a && b > SIZE_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}

/* Grow the row arrays to hold `rows` rows.  Contents are kept. */
static int flat_reserve_rows(struct flat *f, size_t rows)
{
	size_t cap = f->cap ? f->cap : 1, bytes;
	void *p;

	if (rows <= f->cap)
		return 0;
	if (rows > FLAT_MAX_ROWS)
		return OSA_ELIMIT;
	while (cap < rows)
		cap = cap > FLAT_MAX_ROWS / 2 ? FLAT_MAX_ROWS : cap * 2;
	if (flat_mul(cap, f->dim * sizeof(float), &bytes))
		return OSA_ENOMEM;
	/* Each array grows on its own; `cap` moves only once all did. */
	if (!(p = realloc(f->mat, bytes)))
		return OSA_ENOMEM;
	f->mat = p;
	if (!(p = realloc(f->sq, cap * sizeof(*f->sq))))
		return OSA_ENOMEM;
	f->sq = p;
	if (!(p = realloc(f->srns, cap * sizeof(*f->srns))))
		return OSA_ENOMEM;
	f->srns = p;
	if (!(p = realloc(f->hash, cap * sizeof(*f->hash))))
		return OSA_ENOMEM;
	f->hash = p;
	if (f->quant) {
		if (!(p = realloc(f->codes, cap * f->dim)))
			return OSA_ENOMEM;
		f->codes = p;
	}
	f->cap = cap;
	return 0;
}

/* Outside BLAS: the dot-product kernel picked for this CPU at start. */
static float flat_dot(const float *a, const float *b, size_t n)
{
	return hnswc_kernels()->dot(a, b, n);
}

static const char *flat_kernel(void)
{
	return hnswc_kernels()->name;
}

/* Prepare a vector for storage or search (osa/vecspace.h): finite, and of
 * unit length under cosine.  -1 when refused. */
static int flat_prepare(const struct flat *f, float *v)
{
	return osa_vec_prepare(f->metric, v, f->dim);
}

/* ---- sq8 ------------------------------------------------------------ */

/* Codes of x (dim floats) into c (dim bytes); values outside the trained
 * range clamp to 0 or 255.  As the vector backend's quantiser. */
static void flat_sq8_encode(const struct flat *f, const float *x, uint8_t *c)
{
	size_t i;

	for (i = 0; i < f->dim; i++) {
		float v = (x[i] - f->lo[i]) * f->inv[i] + 0.5f;

		c[i] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
	}
}

/* The step of dimension i from the range [min, max] seen.  One value seen
 * (a first batch of one record, or a constant dimension): [min, min + 1]. */
static void flat_sq8_set_range(struct flat *f, size_t i, float min, float max)
{
	float st = (max - min) / 255.0f;

	if (!(st > 0) || !isfinite(st))
		st = 1.0f / 255.0f;
	f->lo[i] = min;
	f->scale[i] = st;
	f->inv[i] = 1.0f / st;
}

/* Fit the quantiser to the n vectors of `vecs` (n >= 1, finite). */
static void flat_sq8_train(struct flat *f, const float *vecs, size_t n)
{
	size_t i, j;

	for (i = 0; i < f->dim; i++) {
		float mn = vecs[i], mx = vecs[i];

		for (j = 1; j < n; j++) {
			float v = vecs[j * f->dim + i];

			mn = v < mn ? v : mn;
			mx = v > mx ? v : mx;
		}
		flat_sq8_set_range(f, i, mn, mx);
	}
	f->trained_on = n;
}

/* Refit the quantiser to every row and re-encode them all: O(n x dim).
 * Caller holds the lock exclusively; f->n >= 1. */
static void flat_sq8_retrain(struct flat *f)
{
	size_t r;

	flat_sq8_train(f, f->mat, f->n);
	for (r = 0; r < f->n; r++)
		flat_sq8_encode(f, f->mat + r * f->dim, f->codes + r * f->dim);
}

/* Put `v` (prepared) in row `r`. */
static void flat_set_row(struct flat *f, size_t r, const float *v)
{
	memcpy(f->mat + r * f->dim, v, f->dim * sizeof(float));
	f->sq[r] = flat_dot(v, v, f->dim);
	if (f->quant)
		flat_sq8_encode(f, v, f->codes + r * f->dim);
}

static void flat_free(struct flat *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->n; i++)
		free(f->srns[i]);
	free(f->srns);
	free(f->mat);
	free(f->sq);
	free(f->codes);
	free(f->lo);
	free(f->scale);
	free(f->inv);
	free(f->hash);
	osa_srnmap_free(&f->map);
	osa_embedder_destroy(f->emb);
	osa_attr_table_free(f->attrs);
	free(f->attrs_path);
	free(f->index);
	free(f->snap_path);
	pthread_rwlock_destroy(&f->lock);
	free(f);
}

/* "dim=4096 metric=cosine embedder=" is 32 bytes, the description < 128,
 * " quantization=sq8" 17. */
_Static_assert(32 + OSA_SNAP_EMBEDDER_MAX - 1 + 17 <= OSA_SNAP_BLOB_MAX,
	       "flat's snapshot blob always fits");

/*
 * The header of flat.snap; its blob says what the rows were built from.
 * Without quantisation the blob is that of body version 1 (whose layout
 * version 2 keeps), so older snapshots load; with sq8 it names the
 * quantisation, so a snapshot of the other kind is refused as corrupt.
 */
static void flat_expect(const struct flat *f, struct osa_snap_info *in)
{
	memset(in, 0, sizeof(*in));
	snprintf(in->kind, sizeof(in->kind), "flat");
	in->body_version = FLAT_BODY_VERSION;
	osa_snap_set_blob(in, NULL, "dim=%zu metric=%s embedder=%s%s", f->dim,
			  osa_metric_names[f->metric], f->desc,
			  f->quant ? " quantization=sq8" : "");
}

/* Read the sq8 block of flat.snap (sizes checked by the caller): the
 * quantiser, then the codes of n rows. */
static int flat_load_sq8(struct flat *f, struct osa_snap_reader *r, size_t n,
			 struct osa_error *err)
{
	unsigned char tb[8];
	uint64_t trained;
	size_t i;
	int rc;

	if ((rc = osa_snap_read(r, tb, 8, err)) ||
	    (rc = osa_snap_read(r, f->lo, f->dim * sizeof(float), err)) ||
	    (rc = osa_snap_read(r, f->scale, f->dim * sizeof(float), err)) ||
	    (rc = osa_snap_read(r, f->codes, n * f->dim, err)))
		return rc;
	trained = osa_le64_get(tb);
	if (n && (!trained || trained > FLAT_MAX_ROWS))
		return osa_snap_corrupt(r, err,
					"%zu rows but an sq8 quantiser "
					"trained on %llu vectors",
					n, (unsigned long long)trained);
	for (i = 0; i < f->dim; i++) {
		if (!isfinite(f->lo[i]) || !isfinite(f->scale[i]) ||
		    (n && !(f->scale[i] > 0)) || f->scale[i] < 0)
			return osa_snap_corrupt(r, err,
						"sq8 dimension %zu: minimum "
						"%g, step %g",
						i, (double)f->lo[i],
						(double)f->scale[i]);
		f->inv[i] = f->scale[i] > 0 ? 1.0f / f->scale[i] : 0;
	}
	f->trained_on = (size_t)trained;
	return 0;
}

/* Load flat.snap into the empty instance; *lsn gets its LSN. */
static int flat_load(struct flat *f, uint64_t *lsn, struct osa_error *err)
{
	struct osa_snap_reader *r;
	struct osa_snap_info exp, got;
	size_t n, bytes, i, row_bytes = f->dim * sizeof(float), qbytes = 0;
	int rc;

	flat_expect(f, &exp);
	rc = osa_snap_open(f->snap_path, &exp, &r, &got, err);
	if (rc == OSA_ENOTFOUND) {
		osa_error_clear(err);
		*lsn = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (f->quant && got.body_version < 2) {
		/* Its blob matched, so it cannot be: a crafted file. */
		rc = osa_snap_corrupt(r, err,
				      "body version %u holds no sq8 "
				      "quantiser",
				      got.body_version);
		goto out;
	}
	/* sq8: u64 trained_on, lo and scale, then one code per dimension. */
	if (f->quant && got.count <= FLAT_MAX_ROWS)
		qbytes = 8 + 2 * row_bytes + (size_t)got.count * f->dim;
	/* Every size is checked against what the file holds first. */
	if (got.count > FLAT_MAX_ROWS ||
	    flat_mul((size_t)got.count, row_bytes, &bytes) ||
	    bytes + qbytes < bytes || bytes + qbytes > osa_snap_remaining(r) ||
	    (osa_snap_remaining(r) - bytes - qbytes) / 4 < got.count) {
		rc = osa_snap_corrupt(r, err,
				      "%llu rows of dim %zu do not fit in its "
				      "%llu-byte body",
				      (unsigned long long)got.count, f->dim,
				      (unsigned long long)got.body_len);
		goto out;
	}
	n = (size_t)got.count;
	rc = flat_reserve_rows(f, n);
	if (!rc)
		rc = flat_map_reserve(f, n);
	if (rc) {
		rc = osa_error_set(err, rc,
				   "index %s: out of memory loading %zu rows "
				   "from %s",
				   f->index, n, f->snap_path);
		goto out;
	}
	if ((rc = osa_snap_read(r, f->mat, bytes, err)))
		goto out;
	for (i = 0; i < n * f->dim; i++)
		if (!isfinite(f->mat[i])) {
			rc = osa_snap_corrupt(r, err,
					      "row %zu holds a non-finite "
					      "number",
					      i / f->dim);
			goto out;
		}
	if (f->quant && (rc = flat_load_sq8(f, r, n, err)))
		goto out;
	for (i = 0; i < n; i++) {
		unsigned char lb[4];
		uint32_t len;
		size_t at;
		char *s;

		if ((rc = osa_snap_read(r, lb, 4, err)))
			goto out;
		len = osa_le32_get(lb);
		if (!len || len > FLAT_SRN_MAX || len > osa_snap_remaining(r)) {
			rc = osa_snap_corrupt(r, err,
					      "srn %zu has a bad length (%u)",
					      i, len);
			goto out;
		}
		if (!(s = malloc((size_t)len + 1))) {
			rc = osa_error_set(err, OSA_ENOMEM,
					   "index %s: out of memory", f->index);
			goto out;
		}
		if ((rc = osa_snap_read(r, s, len, err))) {
			free(s);
			goto out;
		}
		s[len] = '\0';
		if (strlen(s) != len) {
			free(s);
			rc = osa_snap_corrupt(r, err,
					      "srn %zu holds a NUL byte", i);
			goto out;
		}
		f->hash[i] = osa_srn_hash(s);
		at = flat_map_slot(f, s, f->hash[i]);
		if (f->map.slot[at]) {
			rc = osa_snap_corrupt(r, err, "srn %s appears twice",
					      s);
			free(s);
			goto out;
		}
		f->srns[i] = s;
		f->sq[i] = flat_dot(f->mat + i * f->dim, f->mat + i * f->dim,
				    f->dim);
		f->map.slot[at] = (uint32_t)(i + 1);
		f->n = i + 1;
	}
	rc = osa_snap_close(r, err);
	r = NULL;
	if (!rc)
		*lsn = got.lsn;
out:
	osa_snap_close(r, NULL);
	return rc;
}

/* Load flat.attrs into the (empty) table: the same LSN and row count as
 * flat.snap, every row of the matrix live and no other. */
static int flat_load_attrs(struct flat *f, uint64_t lsn, struct osa_error *err)
{
	struct osa_snap_reader *r;
	struct osa_snap_info exp, got;
	struct osa_attr_table *t = NULL;
	uint64_t *bits = NULL;
	void *buf = NULL;
	size_t len;
	int rc;

	flat_expect(f, &exp);
	snprintf(exp.kind, sizeof(exp.kind), FLAT_ATTRS_KIND);
	rc = osa_snap_open(f->attrs_path, &exp, &r, &got, err);
	if (rc == OSA_ENOTFOUND && !f->n) {
		osa_error_clear(err);
		return 0;
	}
	if (rc == OSA_ENOTFOUND)
		return osa_error_set(err, OSA_ECORRUPT,
				     "index %s: %s is missing beside %s (%zu "
				     "rows); the index is rebuilt from the "
				     "journal",
				     f->index, f->attrs_path, f->snap_path,
				     f->n);
	if (rc)
		return rc;
	if (got.lsn != lsn || got.count != f->n) {
		rc = osa_snap_corrupt(r, err,
				      "it covers LSN %llu and %llu rows but "
				      "%s covers LSN %llu and %zu rows",
				      (unsigned long long)got.lsn,
				      (unsigned long long)got.count,
				      f->snap_path, (unsigned long long)lsn,
				      f->n);
		goto out;
	}
	len = (size_t)osa_snap_remaining(r);
	if (!(buf = malloc(len ? len : 1))) {
		rc = osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				   f->index);
		goto out;
	}
	if ((rc = osa_snap_read(r, buf, len, err)))
		goto out;
	rc = osa_attr_table_decode(f->decl, buf, len, &t, err);
	if (rc == OSA_ECORRUPT && err) {
		char why[OSA_ERROR_MSG_MAX];

		snprintf(why, sizeof(why), "%s", err->msg);
		rc = osa_snap_corrupt(r, err, "%s", why);
	}
	if (rc)
		goto out;
	bits = calloc(f->n / 64 + 1, sizeof(*bits));
	if (!bits) {
		rc = osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				   f->index);
		goto out;
	}
	if (osa_filter_bitmap(NULL, t, bits, (uint32_t)f->n) != f->n ||
	    osa_attr_table_live(t) != f->n) {
		rc = osa_snap_corrupt(r, err,
				      "its live rows are not the %zu rows of "
				      "the matrix",
				      f->n);
		goto out;
	}
	rc = osa_snap_close(r, err);
	r = NULL;
	if (!rc) {
		osa_attr_table_free(f->attrs);
		f->attrs = t;
		t = NULL;
	}
out:
	osa_snap_close(r, NULL);
	osa_attr_table_free(t);
	free(bits);
	free(buf);
	return rc;
}

static int flat_open(const struct osa_backend_args *args, void **self,
		     uint64_t *lsn, struct osa_error *err)
{
	const struct flat_config *cfg = args->config;
	const char *dir = args->dir; /* everything we write is under it */
	struct osa_embedder_args ea = { args->index, cfg->dim,
					&cfg->embedding };
	struct flat *f = calloc(1, sizeof(*f));
	size_t plen;
	int rc;

	*self = NULL;
	if (!f)
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     args->index);
	f->dim = (size_t)cfg->dim;
	f->metric = cfg->metric;
	f->quant = cfg->quantization == FLAT_QUANT_SQ8;
	f->rerank = (size_t)cfg->rerank;
	if (osa_rwlock_init(&f->lock)) {
		free(f);
		return osa_error_set(err, OSA_ENOMEM,
				     "index %s: cannot create a lock",
				     args->index);
	}
	plen = strlen(dir) + sizeof("/" FLAT_SNAP_NAME);
	f->index = strdup(args->index);
	f->snap_path = malloc(plen);
	if (f->quant) {
		f->lo = calloc(f->dim, sizeof(float));
		f->scale = calloc(f->dim, sizeof(float));
		f->inv = calloc(f->dim, sizeof(float));
	}
	if (!f->index || !f->snap_path || osa_srnmap_init(&f->map, 16) ||
	    (f->quant && (!f->lo || !f->scale || !f->inv))) {
		flat_free(f);
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     args->index);
	}
	snprintf(f->snap_path, plen, "%s/" FLAT_SNAP_NAME, dir);
	f->decl = args->attrs;
	if (f->decl && f->decl->n) {
		if (asprintf(&f->attrs_path, "%s/" FLAT_ATTRS_NAME, dir) < 0)
			f->attrs_path = NULL;
		if (!f->attrs_path ||
		    osa_attr_table_new(f->decl, &f->attrs, err)) {
			flat_free(f);
			return osa_error_set(err, OSA_ENOMEM,
					     "index %s: out of memory",
					     args->index);
		}
	}
	rc = osa_mkdirs(dir, err);
	if (rc) {
		osa_error_prefix(err, "index %s: ", args->index);
		flat_free(f);
		return rc;
	}
	rc = osa_embedder_create(&ea, &f->emb, err);
	if (rc) {
		flat_free(f);
		return rc;
	}
	osa_embed_describe(f->emb, f->desc, sizeof(f->desc));
	rc = flat_reserve_rows(f, (size_t)cfg->initial_capacity);
	if (!rc)
		rc = flat_map_reserve(f, (size_t)cfg->initial_capacity);
	if (rc) {
		flat_free(f);
		return osa_error_set(err, rc,
				     "index %s: cannot allocate %d rows of dim "
				     "%d; lower initial_capacity",
				     args->index, cfg->initial_capacity,
				     cfg->dim);
	}
	rc = flat_load(f, lsn, err);
	if (!rc && f->attrs)
		rc = flat_load_attrs(f, *lsn, err);
	if (rc) {
		if (err && !err->index[0])
			snprintf(err->index, sizeof(err->index), "%s",
				 args->index);
		flat_free(f);
		return rc;
	}
	if (f->n)
		osa_log(OSA_LOG_INFO,
			"index=%s backend=flat loaded %zu records from %s "
			"(lsn %llu)",
			f->index, f->n, f->snap_path, (unsigned long long)*lsn);
	*self = f;
	return 0;
}

static int flat_ingest(void *self, const struct osa_record *const *recs,
		       size_t n, struct osa_error *err)
{
	struct flat *f = self;
	float *vecs = NULL;
	char **copies = NULL;
	uint64_t *hashes = NULL;
	size_t bytes, i, fresh = 0;
	int rc = 0;

	if (!n)
		return 0;
	if (flat_mul(n, f->dim * sizeof(float), &bytes) ||
	    !(vecs = malloc(bytes)) || !(copies = calloc(n, sizeof(*copies))) ||
	    !(hashes = malloc(n * sizeof(*hashes)))) {
		rc = osa_error_set(err, OSA_ENOMEM,
				   "index %s: out of memory embedding a batch "
				   "of %zu records",
				   f->index, n);
		goto out;
	}
	/* Everything that can fail happens before the index changes. */
	for (i = 0; i < n; i++) {
		const char *srn = osa_record_srn(recs[i]);

		rc = osa_vec_record(f->emb, f->metric, f->dim, f->index,
				    recs[i], vecs + i * f->dim, err);
		if (rc)
			goto out;
		if (f->attrs && (rc = osa_attrs_check(f->decl, recs[i], err))) {
			osa_error_prefix(err, "index %s: ", f->index);
			goto out;
		}
		if (!(copies[i] = strdup(srn))) {
			rc = osa_error_set(err, OSA_ENOMEM,
					   "index %s: out of memory", f->index);
			goto out;
		}
		hashes[i] = osa_srn_hash(srn);
	}
	pthread_rwlock_wrlock(&f->lock);
	for (i = 0; i < n; i++)
		fresh += flat_find(f, copies[i], hashes[i]) < 0;
	rc = flat_reserve_rows(f, f->n + fresh);
	if (!rc)
		rc = flat_map_reserve(f, f->n + fresh);
	if (rc) {
		pthread_rwlock_unlock(&f->lock);
		rc = osa_error_set(err, rc,
				   rc == OSA_ELIMIT
					   ? "index %s: full (%zu rows); split "
					     "the collection"
					   : "index %s: out of memory growing "
					     "to %zu rows",
				   f->index, f->n + fresh);
		goto out;
	}
	/* sq8: the first batch an empty index receives trains the
	 * quantiser (also after every record was removed). */
	if (f->quant && !f->n)
		flat_sq8_train(f, vecs, n);
	/* Nothing below can fail, but for the attributes running out of
	 * memory: that row then matches no filter, and the error degrades the
	 * index until the core rebuilds it. */
	for (i = 0; i < n; i++) {
		size_t at = flat_map_slot(f, copies[i], hashes[i]);
		uint32_t v = f->map.slot[at];
		uint32_t row = v ? v - 1 : (uint32_t)f->n;

		if (f->attrs && osa_attr_table_set(f->attrs, row, recs[i],
						   rc ? NULL : err)) {
			osa_attr_table_clear(f->attrs, row);
			rc = OSA_ENOMEM;
		}
		if (v) {
			flat_set_row(f, v - 1, vecs + i * f->dim);
			continue;
		}
		flat_set_row(f, f->n, vecs + i * f->dim);
		f->srns[f->n] = copies[i];
		f->hash[f->n] = hashes[i];
		copies[i] = NULL;
		f->map.slot[at] = (uint32_t)++f->n;
	}
	/* sq8: retrain a quantiser that saw too few vectors, once the index
	 * has doubled since (amortised O(dim) per insert). */
	if (f->quant && f->trained_on < FLAT_SQ8_TRAIN &&
	    f->n >= 2 * f->trained_on && f->n >= FLAT_SQ8_RETRAIN_MIN) {
		flat_sq8_retrain(f);
		osa_log(OSA_LOG_DEBUG,
			"index=%s backend=flat sq8 quantiser retrained on %zu "
			"vectors",
			f->index, f->trained_on);
	}
	pthread_rwlock_unlock(&f->lock);
	if (rc)
		osa_error_prefix(err, "index %s: ", f->index);
out:
	if (copies)
		for (i = 0; i < n; i++)
			free(copies[i]);
	free(copies);
	free(hashes);
	free(vecs);
	return rc;
}

static int flat_remove(void *self, const char *const *srns, size_t n,
		       struct osa_error *err)
{
	struct flat *f = self;
	size_t i;

	(void)err;
	pthread_rwlock_wrlock(&f->lock);
	for (i = 0; i < n; i++) {
		uint64_t h = osa_srn_hash(srns[i]);
		size_t at = flat_map_slot(f, srns[i], h), last;
		uint32_t v = f->map.slot[at];

		if (!v)
			continue;
		osa_srnmap_delete(&f->map, f->hash, at);
		free(f->srns[v - 1]);
		last = f->n - 1;
		if (v - 1 != last) {
			/* Move the last row into the hole. */
			size_t ls =
				flat_map_slot(f, f->srns[last], f->hash[last]);

			memcpy(f->mat + (size_t)(v - 1) * f->dim,
			       f->mat + last * f->dim, f->dim * sizeof(float));
			if (f->quant)
				memcpy(f->codes + (size_t)(v - 1) * f->dim,
				       f->codes + last * f->dim, f->dim);
			f->sq[v - 1] = f->sq[last];
			f->srns[v - 1] = f->srns[last];
			f->hash[v - 1] = f->hash[last];
			f->map.slot[ls] = v;
			/* Cannot fail: row v - 1 exists already. */
			if (f->attrs)
				osa_attr_table_copy(f->attrs, v - 1,
						    (uint32_t)last, NULL);
		}
		if (f->attrs)
			osa_attr_table_clear(f->attrs, (uint32_t)last);
		f->n = last;
	}
	pthread_rwlock_unlock(&f->lock);
	return 0;
}

/* ---- search ---------------------------------------------------------- */

struct flat_cand {
	float score;
	uint32_t row;
};

/* Is a worse than b?  Lower score, then greater srn. */
static bool flat_worse(const struct flat *f, const struct flat_cand *a,
		       const struct flat_cand *b)
{
	if (a->score != b->score)
		return a->score < b->score;
	return strcmp(f->srns[a->row], f->srns[b->row]) > 0;
}

/* Sift down in a heap whose root is the worst candidate. */
static void flat_sift(const struct flat *f, struct flat_cand *h, size_t n,
		      size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, w = i;
		struct flat_cand t;

		if (l < n && flat_worse(f, &h[l], &h[w]))
			w = l;
		if (l + 1 < n && flat_worse(f, &h[l + 1], &h[w]))
			w = l + 1;
		if (w == i)
			return;
		t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

/*
 * The best `k` rows of scores[0..n) into h[0..k), best first; only rows
 * set in `allow` when it is not NULL (k <= the rows allowed).
 */
static void flat_topk(const struct flat *f, const float *scores, size_t n,
		      size_t k, struct flat_cand *h, const uint64_t *allow)
{
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		struct flat_cand c = { scores[i], (uint32_t)i };

		if (allow && !((allow[i / 64] >> (i % 64)) & 1))
			continue;
		if (m < k) {
			size_t j = m++;

			/* Sift up. */
			h[j] = c;
			while (j) {
				size_t p = (j - 1) / 2;
				struct flat_cand t;

				if (!flat_worse(f, &h[j], &h[p]))
					break;
				t = h[j];
				h[j] = h[p];
				h[p] = t;
				j = p;
			}
			continue;
		}
		if (c.score < h[0].score)
			continue;
		if (!flat_worse(f, &h[0], &c))
			continue;
		h[0] = c;
		flat_sift(f, h, m, 0);
	}
	/* Pop the worst to the end: h ends up best first. */
	while (m > 1) {
		struct flat_cand t = h[0];

		h[0] = h[--m];
		h[m] = t;
		flat_sift(f, h, m, 0);
	}
}

/* Sort h[0..m) best first (the order of flat_worse). */
static void flat_sort(const struct flat *f, struct flat_cand *h, size_t m)
{
	size_t i;

	for (i = m / 2; i-- > 0;)
		flat_sift(f, h, m, i);
	while (m > 1) {
		struct flat_cand t = h[0];

		h[0] = h[--m];
		h[m] = t;
		flat_sift(f, h, m, 0);
	}
}

/*
 * sq8: the best `k` rows for the prepared query qv (|qv|^2 = qq) into
 * h[0..k), best first, with exact scores.  The scan reads only the codes:
 * every row (set in `allow` when it is not NULL) is scored on them by the
 * dispatched SQ8 kernel (asymmetric: the query stays float), the best
 * k x rerank (at most `avail`, the rows allowed) are re-scored on the
 * float rows, and the best k of those are kept.  `scores` has room for
 * f->n floats.  Caller holds the lock (shared); 1 <= k <= avail.
 * 0 or OSA_ENOMEM.
 */
static int flat_sq8_search(const struct flat *f, const float *qv, float qq,
			   size_t k, size_t avail, const uint64_t *allow,
			   float *scores, struct flat_cand *h)
{
	const struct hnswc_kernels *kn = hnswc_kernels();
	struct hnswc_sq8_param p = { f->dim, f->lo, f->scale, 0 };
	size_t kk = k * f->rerank < avail ? k * f->rerank : avail, i, r;
	hnswc_dist_fn dist;
	struct flat_cand *c;
	float *a;

	a = malloc(f->dim * sizeof(float));
	c = malloc(kk * sizeof(*c));
	if (!a || !c) {
		free(a);
		free(c);
		return OSA_ENOMEM;
	}
	if (f->metric == FLAT_L2) {
		/* sum_i (q_i - lo_i - scale_i c_i)^2 */
		for (i = 0; i < f->dim; i++)
			a[i] = qv[i] - f->lo[i];
		dist = kn->sq8_l2;
	} else {
		/* 1 - (sum_i q_i lo_i + sum_i q_i scale_i c_i) */
		double base = 0;

		for (i = 0; i < f->dim; i++) {
			a[i] = qv[i] * f->scale[i];
			base += (double)qv[i] * f->lo[i];
		}
		p.base = (float)base;
		dist = kn->sq8_ip;
	}
	for (r = 0; r < f->n; r++) {
		float d;

		if (allow && !((allow[r / 64] >> (r % 64)) & 1)) {
			scores[r] = 0; /* skipped by flat_topk */
			continue;
		}
		d = dist(a, f->codes + r * f->dim, &p);
		scores[r] = f->metric == FLAT_L2 ? -d : 1 - d;
	}
	flat_topk(f, scores, f->n, kk, c, allow);
	/* Exact rerank on the float rows, scored as the float scan does. */
	for (i = 0; i < kk; i++) {
		r = c[i].row;
		c[i].score = flat_dot(qv, f->mat + r * f->dim, f->dim);
		if (f->metric == FLAT_L2) {
			float d = f->sq[r] - 2 * c[i].score + qq;

			c[i].score = d > 0 ? -d : 0;
		}
	}
	flat_sort(f, c, kk);
	memcpy(h, c, k * sizeof(*h));
	free(c);
	free(a);
	return 0;
}

/* Turn dot products into scores for the metric (|q|^2 = qq). */
static void flat_finish_scores(const struct flat *f, float *s, float qq)
{
	size_t i;

	if (f->metric != FLAT_L2)
		return;
	for (i = 0; i < f->n; i++) {
		float d = f->sq[i] - 2 * s[i] + qq;

		s[i] = d > 0 ? -d : 0;
	}
}

/* The query's vector, prepared, into qv[0..dim). */
static int flat_query_vector(struct flat *f, const struct osa_query *q,
			     float *qv, struct osa_error *err)
{
	return osa_vec_query(f->emb, f->metric, f->dim, f->index, q, qv, err);
}

/* Facets of q over the rows set in `rows` (f->n bits), exact. */
static int flat_facets(struct flat *f, const struct osa_query *q,
		       const uint64_t *rows, struct osa_hits *hits,
		       struct osa_error *err)
{
	struct osa_facet_counter *c;
	size_t w, nw = (f->n + 63) / 64;
	int rc;

	rc = osa_facet_counter_new(f->attrs, q->facets, q->nfacets,
				   q->facet_limit, &c, err);
	if (rc)
		return osa_error_prefix(err, "index %s: ", f->index);
	for (w = 0; w < nw; w++) {
		uint64_t b = rows[w];

		while (b) {
			osa_facet_counter_add(
				c, (uint32_t)(w * 64 +
					      (size_t)__builtin_ctzll(b)));
			b &= b - 1;
		}
	}
	rc = osa_facet_counter_finish(c, &hits->facets, err);
	if (rc)
		osa_error_prefix(err, "index %s: ", f->index);
	return rc;
}

static int flat_query(void *self, const struct osa_query *q,
		      struct osa_hits *hits, struct osa_error *err)
{
	struct flat *f = self;
	struct flat_cand *h = NULL;
	float *qv, *scores = NULL;
	uint64_t *allow = NULL;
	size_t k, i, total;
	int rc;

	qv = malloc(f->dim * sizeof(float));
	if (!qv)
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     f->index);
	rc = flat_query_vector(f, q, qv, err);
	if (rc) {
		free(qv);
		return rc;
	}
	if ((q->filter || q->nfacets) && !f->attrs) {
		free(qv);
		return osa_error_set(err, OSA_EINVAL,
				     "index %s declares no attributes to "
				     "filter or count",
				     f->index);
	}
	pthread_rwlock_rdlock(&f->lock);
	total = f->n;
	if (q->filter || q->nfacets) {
		allow = malloc((f->n / 64 + 1) * sizeof(*allow));
		if (!allow) {
			rc = osa_error_set(err, OSA_ENOMEM,
					   "index %s: out of memory", f->index);
			goto out;
		}
		total = osa_filter_bitmap(q->filter, f->attrs, allow,
					  (uint32_t)f->n);
	}
	if (q->nfacets)
		rc = flat_facets(f, q, allow, hits, err);
	hits->total = total;
	k = q->offset > total ? total : q->offset;
	k += q->limit > total - k ? total - k : q->limit;
	if (rc || k <= q->offset)
		goto out;
	scores = malloc(f->n * sizeof(float));
	h = malloc(k * sizeof(*h));
	if (!scores || !h) {
		rc = osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				   f->index);
		goto out;
	}
	if (f->quant) {
		rc = flat_sq8_search(f, qv, flat_dot(qv, qv, f->dim), k, total,
				     q->filter ? allow : NULL, scores, h);
	} else {
		cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)f->n, (int)f->dim,
			    1.0f, f->mat, (int)f->dim, qv, 1, 0.0f, scores, 1);
		flat_finish_scores(f, scores, flat_dot(qv, qv, f->dim));
		flat_topk(f, scores, f->n, k, h, q->filter ? allow : NULL);
	}
	for (i = q->offset; i < k && !rc; i++)
		rc = osa_hits_push(hits, f->srns[h[i].row], h[i].score);
	if (rc)
		rc = osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				   f->index);
out:
	pthread_rwlock_unlock(&f->lock);
	free(allow);
	free(h);
	free(scores);
	free(qv);
	return rc;
}

int flat_search_batch(void *self, const float *queries, size_t nq, size_t k,
		      const char **srns, float *scores, struct osa_error *err)
{
	struct flat *f = self;
	float *qs = NULL, *block = NULL, *qq = NULL;
	struct flat_cand *h = NULL;
	size_t bq, b, i, j, kk, bytes;
	int rc = 0;

	if (!nq || !k)
		return 0;
	if (flat_mul(nq, f->dim * sizeof(float), &bytes) ||
	    !(qs = malloc(bytes)) || !(qq = malloc(nq * sizeof(float))) ||
	    !(h = malloc(k * sizeof(*h))))
		goto nomem;
	memcpy(qs, queries, bytes);
	for (i = 0; i < nq; i++) {
		if (flat_prepare(f, qs + i * f->dim)) {
			rc = osa_error_set(err, OSA_EINVAL,
					   "index %s: query %zu is zero or "
					   "holds a non-finite number",
					   f->index, i);
			goto out;
		}
		qq[i] = flat_dot(qs + i * f->dim, qs + i * f->dim, f->dim);
	}
	pthread_rwlock_rdlock(&f->lock);
	kk = k < f->n ? k : f->n;
	bq = f->n ? FLAT_BLOCK_BYTES / (f->n * sizeof(float)) : nq;
	if (bq < 1)
		bq = 1;
	if (bq > nq)
		bq = nq;
	if (f->n && !(block = malloc(bq * f->n * sizeof(float)))) {
		pthread_rwlock_unlock(&f->lock);
		goto nomem;
	}
	for (b = 0; b < nq; b += bq) {
		size_t m = nq - b < bq ? nq - b : bq;

		if (kk)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
				    (int)m, (int)f->n, (int)f->dim, 1.0f,
				    qs + b * f->dim, (int)f->dim, f->mat,
				    (int)f->dim, 0.0f, block, (int)f->n);
		for (i = 0; i < m; i++) {
			float *s = block + i * f->n;
			size_t o = (b + i) * k;

			if (kk) {
				flat_finish_scores(f, s, qq[b + i]);
				flat_topk(f, s, f->n, kk, h, NULL);
			}
			for (j = 0; j < k; j++) {
				srns[o + j] = j < kk ? f->srns[h[j].row] : NULL;
				scores[o + j] = j < kk ? h[j].score : -INFINITY;
			}
		}
	}
	pthread_rwlock_unlock(&f->lock);
	goto out;
nomem:
	rc = osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
			   f->index);
out:
	free(block);
	free(h);
	free(qq);
	free(qs);
	return rc;
}

static int flat_count(void *self, uint64_t *count)
{
	struct flat *f = self;

	pthread_rwlock_rdlock(&f->lock);
	*count = f->n;
	pthread_rwlock_unlock(&f->lock);
	return 0;
}

void flat_get_stats(void *self, struct flat_stats *st)
{
	struct flat *f = self;
	size_t i;

	pthread_rwlock_rdlock(&f->lock);
	st->live = f->n;
	st->capacity = f->cap;
	st->search_bytes = f->quant ? f->dim : f->dim * sizeof(float);
	st->sq8_trained_on = f->quant ? f->trained_on : 0;
	st->memory_bytes = f->cap * (f->dim * sizeof(float) +
				     (f->quant ? f->dim : 0) + sizeof(*f->sq) +
				     sizeof(*f->srns) + sizeof(*f->hash)) +
			   (f->quant ? 3 * f->dim * sizeof(float) : 0) +
			   (f->map.mask + 1) * sizeof(*f->map.slot);
	for (i = 0; i < f->n; i++)
		st->memory_bytes += strlen(f->srns[i]) + 1;
	pthread_rwlock_unlock(&f->lock);
}

static int flat_health(void *self, struct osa_error *err)
{
	(void)self;
	(void)err;
	return 0;
}

/* ---- checkpoint ------------------------------------------------------ */

static int flat_body(void *ctx, struct osa_snap_writer *w,
		     struct osa_error *err)
{
	struct flat *f = ctx;
	size_t i;
	int rc;

	rc = osa_snap_write(w, f->mat, f->n * f->dim * sizeof(float), err);
	if (!rc && f->quant) {
		unsigned char tb[8];

		osa_le64_put(tb, (uint64_t)f->trained_on);
		rc = osa_snap_write(w, tb, 8, err);
		if (!rc)
			rc = osa_snap_write(w, f->lo, f->dim * sizeof(float),
					    err);
		if (!rc)
			rc = osa_snap_write(w, f->scale, f->dim * sizeof(float),
					    err);
		if (!rc)
			rc = osa_snap_write(w, f->codes, f->n * f->dim, err);
	}
	for (i = 0; i < f->n && !rc; i++) {
		size_t len = strlen(f->srns[i]);
		unsigned char lb[4];

		osa_le32_put(lb, (uint32_t)len);
		rc = osa_snap_write(w, lb, 4, err);
		if (!rc)
			rc = osa_snap_write(w, f->srns[i], len, err);
	}
	return rc;
}

static int flat_attrs_body(void *ctx, struct osa_snap_writer *w,
			   struct osa_error *err)
{
	struct flat *f = ctx;
	void *buf;
	size_t len;
	int rc;

	rc = osa_attr_table_encode(f->attrs, &buf, &len, err);
	if (rc)
		return rc;
	rc = osa_snap_write(w, buf, len, err);
	free(buf);
	return rc;
}

static int flat_checkpoint(void *self, uint64_t lsn, struct osa_error *err)
{
	struct flat *f = self;
	struct osa_snap_info info;
	int rc;

	/* Shared: queries go on; writers are excluded. */
	pthread_rwlock_rdlock(&f->lock);
	flat_expect(f, &info);
	info.count = f->n;
	info.lsn = lsn;
	rc = osa_snap_save(f->snap_path, &info, flat_body, f, err);
	if (!rc && f->attrs) {
		snprintf(info.kind, sizeof(info.kind), FLAT_ATTRS_KIND);
		rc = osa_snap_save(f->attrs_path, &info, flat_attrs_body, f,
				   err);
	}
	pthread_rwlock_unlock(&f->lock);
	if (rc)
		osa_error_prefix(err,
				 "index %s: checkpoint failed: ", f->index);
	return rc;
}

static void flat_close(void *self)
{
	flat_free(self);
}

static const struct osa_backend flat_backend = {
	.abi = OSA_BACKEND_ABI,
	.size = sizeof(struct osa_backend),
	.name = "flat",
	.doc = "exact search over a float matrix with BLAS (the ground truth)",
	.schema = &flat_schema,
	.open = flat_open,
	.ingest_batch = flat_ingest,
	.remove = flat_remove,
	.query = flat_query,
	.count = flat_count,
	.health = flat_health,
	.checkpoint = flat_checkpoint,
	.close = flat_close,
	.kernel = flat_kernel,
	.caps = OSA_BACKEND_CAP_FILTER | OSA_BACKEND_CAP_FACETS,
};
OSA_BACKEND_REGISTER(flat_backend);

/* SPDX-License-Identifier: MIT */
/*
 * vector.c - the `vector` backend: an HNSW graph (hnswlib through the
 * hnswlib_c shim) plus the srn <-> label maps around it.
 *
 * Labels: every record lives under a 32-bit label, an index into `srns`.
 * An upsert of a known srn re-adds its vector under the same label; a
 * removal marks the label deleted in the graph and pushes it on a free list,
 * from which later inserts take labels before new ones are made.  When the
 * deleted share of the labels passes `compact_deleted_ratio` (and there are
 * at least VECTOR_COMPACT_MIN labels), the graph is rebuilt from the live
 * vectors alone, so delete-heavy workloads keep their recall and memory.
 * The graph's capacity doubles when an insert needs more room.
 *
 * Scores (higher = better): cosine: 1 - d where d is the shim's inner-product
 * distance (1 - dot) over unit vectors, i.e. the cosine similarity; ip:
 * 1 - d = the inner product; l2: -d, minus the *squared* Euclidean distance
 * (as the `flat` backend).  Ties are ordered by srn.
 *
 * Locking.  `wmu` serialises writers (ingest, remove, checkpoint).  `lock`
 * (a writer-preferring rwlock) guards the maps: queries hold it shared for
 * the whole search; writers take it exclusive only to plan a batch (take
 * labels, grow the arrays, resize the graph) and to publish it.  The graph
 * insertions themselves, the slow part, run without `lock`, concurrently
 * with queries (the shim allows searches during adds).  While a batch's new
 * labels are in the graph but not yet published (`pending` > 0), searches
 * pass a filter that skips labels with no srn.  Compaction and removals hold
 * `lock` exclusively.  Lock order: wmu, then lock, then the shim's own.
 *
 * Parallel ingest (`threads`, 0 = one per online core): under wmu, a
 * batch's records are embedded by that many workers (osa_parallel_for;
 * each writes only its own records' slots, and the error kept is the first
 * bad record's, as a serial loop reports it), then the shim inserts the
 * new labels with as many threads (hnswc_add_batch), replacements one at a
 * time.  Labels, maps and attributes are planned before and published
 * after, by the calling thread alone, exactly as for one thread.  A failed
 * batch is undone from the shim's per-entry flags (vector_rollback).
 *
 * Quantisation (`quantization = "sq8"`): the graph holds 8-bit codes per
 * dimension and the shim re-scores the best `rerank` x k candidates on the
 * float vectors it keeps beside them.  The quantiser is trained on the
 * first batch an empty graph receives, and again at every compaction (all
 * live vectors).  While it was trained on fewer than VECTOR_SQ8_TRAIN
 * vectors and the index has grown to twice that many, ingest retrains it on
 * every stored vector and re-encodes them (hnswc_retrain: O(n x dim), the
 * links stay): a first batch of a few records does not fix the ranges for
 * good.
 *
 * Attributes (osa/filter.h), when the index declares some: an
 * osa_attr_table whose rows are the labels, set when a batch is published,
 * cleared on removal, moved with the labels by compaction; guarded by
 * `lock` like the maps (queries read it shared).  A filtered query first
 * evaluates the filter on every row at once (osa_filter_bitmap): `total`
 * is then the exact number of matching records.  Few matches
 * (VECTOR_EXACT_*: below about 7 % of 100 000 records at ef 64) are
 * ranked exactly, by their distances alone (hnswc_distances): the graph
 * would have to walk through many rejected nodes to find them (its cost
 * grows as 1 / selectivity), and its recall could fall.  Otherwise the graph search skips the labels
 * whose bit is clear (the shim's filter callback).  Facets are counted over
 * the candidates ranked: every match when the search was exact (then the
 * counts are exact), else the graph's candidate list (marked estimated).
 *
 * Snapshot (vector.snap, body version 1, through osa/snapshot.h):
 *   u32 m, u32 ef_construction, u64 labels, u64 free, u64 live,
 *   u64 graph_len, u64 quant (bits 0-7: 0 float, 1 sq8; bits 8-63: the
 *   vectors the sq8 quantiser was trained on; 0 in older snapshots);
 *   since body version 2: u64 pad, then pad zero bytes, so that the graph's
 *   bottom layer (after its HNSWC_SAVED_LEVEL0_OFFSET-byte header) starts on
 *   a page boundary of the writing machine: loading then maps that layer
 *   copy-on-write instead of reading it (hnswc_load_map_q), and an index
 *   serves as soon as the file's checksum and structure are checked;
 *   graph_len bytes: the graph (hnswc_save_fp, SQ8 form for sq8);
 *   per label: u32 length (0: a deleted, free label), srn bytes (and,
 *   since body version 2, a NUL: loaded srns point into the mapping);
 *   free times u32: the free list, bottom first;
 *   when attributes are declared: u64 length, the attribute table
 *   (osa_attr_table_encode, rows = labels).  A snapshot without it loads
 *   as an index without attributes; one without it for an index that
 *   declares some (and has records) is refused as corrupt, so the core
 *   rebuilds it from the journal.
 * Loading checks every count against the bytes left before allocating and
 * checks the maps against the graph (count, deleted count, each label's
 * state); the shim checks the graph bytes.
 */
#include <errno.h>
#include <stdatomic.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hnswc_kernels.h>
#include <hnswlib_c.h>
#include <osa/backend.h>
#include <osa/filter.h>
#include <osa/snapshot.h>
#include <osa/srnmap.h>
#include <osa/vecspace.h>
#include <osa/sys.h>

#include "vector.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vector snapshots hold the graph in native (little-endian) order"
#endif

#define VECTOR_BODY_VERSION 2u
/* Largest page size the graph is aligned for (body version 2). */
#define VECTOR_MAX_PAD ((uint64_t)1 << 16)
#define VECTOR_SNAP_NAME "vector.snap"
#define VECTOR_PREAMBLE 48
/* Labels are 32-bit (map slots hold label + 1). */
#define VECTOR_MAX_LABELS ((size_t)0x7ffffffe)
/* No compaction below this many labels: rebuilding is not worth it. */
#define VECTOR_COMPACT_MIN 64
/* Compaction copies out and re-inserts this many float vectors at a time. */
#define VECTOR_COMPACT_CHUNK 4096
#define VECTOR_SRN_MAX 65536u
#define VECTOR_EF_MAX 65535
/* hnswlib's level generator seed: fixed, so builds are reproducible. */
#define VECTOR_SEED 100
/* An sq8 quantiser trained on fewer vectors is retrained as data grows
 * (at each doubling: the pause under the exclusive lock stays short). */
#define VECTOR_SQ8_TRAIN 262144
/*
 * A filter with m matches among n live records is searched exactly when
 * m <= VECTOR_EXACT_MIN or m^2 <= VECTOR_EXACT_C x ef x n.  The graph's
 * filtered search expands about ef / (m / n) nodes before it has ef
 * matches, the exact scan scores m vectors; bench/filter --sweep measured
 * (100 000 x 128, ef 64, AVX-512) the graph at 37 us x n / m and the scan
 * at 0.077 us x m: equal at m^2 = 7.5 ef n (m = 6.9 % of n).
 */
#define VECTOR_EXACT_MIN 1024
#define VECTOR_EXACT_C 8.0

enum vector_metric {
	VECTOR_COSINE = OSA_METRIC_COSINE,
	VECTOR_L2 = OSA_METRIC_L2,
	VECTOR_IP = OSA_METRIC_IP
};

enum vector_quant { VECTOR_QUANT_NONE, VECTOR_QUANT_SQ8 };

static const char *const vector_quants[] = { "none", "sq8", NULL };

struct vector_config {
	int dim;
	int metric;
	int m;
	int ef_construction;
	int ef_search;
	int initial_capacity;
	double compact_deleted_ratio;
	struct osa_embedding_config embedding;
	int quantization;
	int rerank;
	int threads;
};

/* ---- configuration --------------------------------------------------- */

/*
 * Cross-field rule: an embedder that embeds text needs something to embed.
 * (The `embedding` group checks its own keys: a known embedder, a non-empty
 * vector_field, a valid template.)
 */
static const struct osa_field vector_fields[] = {
	OSA_VECSPACE_FIELD_DIM(struct vector_config, dim),
	OSA_VECSPACE_FIELD_METRIC(struct vector_config, metric),
	OSA_FIELD_INT_F(struct vector_config, m, "m", OSA_F_STORED, 16, 2, 100,
			"HNSW links per node (2m on the bottom layer); more "
			"means better recall, more memory, slower builds."),
	OSA_FIELD_INT_F(struct vector_config, ef_construction,
			"ef_construction", OSA_F_STORED, 200, 1, 65535,
			"Candidate list size while building the graph."),
	OSA_FIELD_INT(struct vector_config, ef_search, "ef_search", 64, 1,
		      65535,
		      "Candidate list size per query (at least offset + "
		      "limit); a query may override it."),
	OSA_FIELD_INT(struct vector_config, initial_capacity,
		      "initial_capacity", 10000, 1, 1000000000,
		      "Graph slots allocated at open; the graph doubles when "
		      "full."),
	OSA_FIELD_DOUBLE(struct vector_config, compact_deleted_ratio,
			 "compact_deleted_ratio", 0.3, 0.0, 1.0,
			 "Rebuild the graph without deleted slots once they "
			 "are more than this share of all slots."),
	OSA_FIELD_ENUM_F(
		struct vector_config, quantization, "quantization",
		OSA_F_STORED, VECTOR_QUANT_NONE, vector_quants,
		"none (float vectors in the graph) or sq8 (8-bit codes "
		"per dimension in the graph, 4x less to read per "
		"distance, then an exact rerank on the float vectors "
		"kept beside it)."),
	OSA_FIELD_INT(struct vector_config, rerank, "rerank", 4, 1, 100,
		      "sq8: re-score this many times the hits asked for on "
		      "the float vectors (the candidate list is at least that "
		      "long)."),
	OSA_FIELD_INT(struct vector_config, threads, "threads", 0, 0,
		      HNSWC_MAX_THREADS,
		      "Workers that embed a batch and insert its new records "
		      "into the graph at once (searches go on meanwhile); 0 = "
		      "one per online CPU core.  The graph built differs with "
		      "the thread count (insertion order), not its recall."),
	OSA_VECSPACE_FIELD_EMBEDDING(struct vector_config, embedding),
	OSA_FIELD_END
};

static const struct osa_schema vector_schema = {
	.name = "vector",
	.size = sizeof(struct vector_config),
	.fields = vector_fields,
};

/* ---- the instance ---------------------------------------------------- */

struct vector {
	char *index;
	char *snap_path;
	size_t dim;
	int metric;
	int space;
	int ef_search;
	size_t m, efc, init_cap;
	double compact_ratio;
	int quant;	   /* enum hnswc_quant */
	size_t rerank;	   /* sq8 rerank factor */
	size_t trained_on; /* sq8: vectors the quantiser saw (wmu) */
	size_t threads;	   /* ingest workers (config; 0 became the CPUs) */
	struct osa_embedder_inst *emb;
	char desc[OSA_SNAP_EMBEDDER_MAX];

	pthread_mutex_t wmu;   /* writers */
	pthread_rwlock_t lock; /* the maps below vs queries */

	hnswc_index *h;
	char **srns;	 /* by label: owned srn, NULL for a free label */
	uint64_t *hash;	 /* by label: hash of its srn */
	uint32_t *freel; /* free (deleted) labels, a stack */
	size_t nlabels;	 /* labels 0..nlabels-1 exist in the graph */
	size_t nfree;
	size_t cap; /* room of srns, hash, freel */
	size_t live;
	size_t pending; /* labels in the graph, not yet published */

	struct osa_srnmap map; /* srn -> label */

	/* Declared attributes (args->attrs, valid until close) and their
	 * values by label; NULL when none are declared.  Guarded by `lock`. */
	const struct osa_attrs *decl;
	struct osa_attr_table *attrs;
	size_t attrs_lost; /* rows cleared for lack of memory (lock) */
	char attrs_why[OSA_ERROR_MSG_MAX];

	size_t compactions;
	bool degraded;
	char why[OSA_ERROR_MSG_MAX];

	/*
	 * Instant open (body version 2): the snapshot stays mapped (snap_r)
	 * and the graph serves from it; srns of loaded labels point into it
	 * (arena).  What needs every record read waits for vector_settle():
	 * the body checksum, the graph's deferred checks, the hashes and the
	 * srn map, the maps against the graph.  A thread started by open
	 * runs it; a writer that comes first runs it itself (wmu).
	 * `settled` and `bad` are written under wmu; bad_code (atomic) tells
	 * health and queries without it.
	 */
	struct osa_snap_reader *snap_r;
	const char *arena, *arena_end;
	bool settled;
	char bad[OSA_ERROR_MSG_MAX];
	atomic_int bad_code;
	atomic_int stop;
	pthread_t settler;
	bool settler_on;
};

/* Free an srn unless it points into the mapped snapshot. */
static void vector_srn_free(const struct vector *v, char *s)
{
	if (s && !(s >= v->arena && s < v->arena_end))
		free(s);
}

static size_t vector_map_slot(const struct vector *v, const char *srn,
			      uint64_t h)
{
	return osa_srnmap_slot(&v->map, (const char *const *)v->srns, v->hash,
			       srn, h);
}

static long vector_find(const struct vector *v, const char *srn, uint64_t h)
{
	return osa_srnmap_find(&v->map, (const char *const *)v->srns, v->hash,
			       srn, h);
}

/* Rebuild the table with room for `n` entries at a load of at most 1/2. */
static int vector_map_reserve(struct vector *v, size_t n, bool force)
{
	return osa_srnmap_reserve(&v->map, (const char *const *)v->srns,
				  v->hash, v->nlabels, n, force);
}

/* Room for `n` labels in the per-label arrays (new srns zeroed). */
static int vector_reserve_labels(struct vector *v, size_t n)
{
	size_t cap = v->cap ? v->cap : 16;
	void *p;

	if (n <= v->cap)
		return 0;
	if (n > VECTOR_MAX_LABELS)
		return OSA_ELIMIT;
	while (cap < n)
		cap = cap > VECTOR_MAX_LABELS / 2 ? VECTOR_MAX_LABELS : cap * 2;
	if (!(p = realloc(v->srns, cap * sizeof(*v->srns))))
		return OSA_ENOMEM;
	v->srns = p;
	memset(v->srns + v->cap, 0, (cap - v->cap) * sizeof(*v->srns));
	if (!(p = realloc(v->hash, cap * sizeof(*v->hash)))) {
		/* srns is larger and zeroed beyond cap: still consistent. */
		return OSA_ENOMEM;
	}
	v->hash = p;
	if (!(p = realloc(v->freel, cap * sizeof(*v->freel))))
		return OSA_ENOMEM;
	v->freel = p;
	/* Only now: srns was zeroed up to the new cap. */
	v->cap = cap;
	return 0;
}

static int vector_code(int hc)
{
	switch (hc) {
	case HNSWC_ENOMEM:
		return OSA_ENOMEM;
	case HNSWC_ECORRUPT:
		return OSA_ECORRUPT;
	case HNSWC_EINVAL:
		return OSA_EINVAL;
	case HNSWC_EIO:
		return OSA_EIO;
	case HNSWC_EFULL:
		return OSA_ELIMIT;
	default:
		return OSA_EINTERNAL;
	}
}

/* For a caller older than ABI 1.2 (no args->attrs). */
static const struct osa_attrs vector_no_attrs = { 0, NULL };

static void vector_free(struct vector *v)
{
	size_t i;

	if (!v)
		return;
	if (v->settler_on) {
		atomic_store(&v->stop, 1);
		pthread_join(v->settler, NULL);
	}
	for (i = 0; i < v->nlabels; i++)
		vector_srn_free(v, v->srns[i]);
	free(v->srns);
	free(v->hash);
	free(v->freel);
	osa_srnmap_free(&v->map);
	osa_attr_table_free(v->attrs);
	hnswc_free(v->h);
	osa_snap_close(v->snap_r, NULL);
	osa_embedder_destroy(v->emb);
	free(v->index);
	free(v->snap_path);
	pthread_rwlock_destroy(&v->lock);
	pthread_mutex_destroy(&v->wmu);
	free(v);
}

static void vector_log_state(const struct vector *v, const char *what)
{
	osa_log(OSA_LOG_INFO,
		"index=%s backend=vector %s: live=%zu slots=%zu deleted=%zu "
		"(%.1f%%) capacity=%zu",
		v->index, what, v->live, v->nlabels, v->nfree,
		v->nlabels ? 100.0 * (double)v->nfree / (double)v->nlabels : 0,
		hnswc_capacity(v->h));
}

/* ---- snapshot loading ------------------------------------------------ */

/* "dim=4096 metric=cosine embedder=" is 32 bytes, the description < 128. */
_Static_assert(32 + OSA_SNAP_EMBEDDER_MAX <= OSA_SNAP_BLOB_MAX,
	       "vector's snapshot blob always fits");

/* The header of vector.snap; its blob says what the graph was built from. */
static void vector_expect(const struct vector *v, struct osa_snap_info *in)
{
	memset(in, 0, sizeof(*in));
	snprintf(in->kind, sizeof(in->kind), "vector");
	in->body_version = VECTOR_BODY_VERSION;
	osa_snap_set_blob(in, NULL, "dim=%zu metric=%s embedder=%s",
			  (size_t)v->dim, osa_metric_names[v->metric], v->desc);
}

/* The free list, after the srns. */
static int vector_load_freel(struct vector *v, struct osa_snap_reader *r,
			     struct osa_error *err)
{
	unsigned char *seen = NULL;
	size_t l;
	int rc = 0;

	if (!v->nfree)
		return 0;
	if (v->nfree * 4 > osa_snap_remaining(r))
		return osa_snap_corrupt(r, err, "the free list is truncated");
	if (!(seen = calloc(v->nlabels, 1)))
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     v->index);
	for (l = 0; l < v->nfree && !rc; l++) {
		unsigned char lb[4];
		uint32_t x;

		if ((rc = osa_snap_read(r, lb, 4, err)))
			break;
		x = osa_le32_get(lb);
		if (x >= v->nlabels || v->srns[x] || seen[x])
			rc = osa_snap_corrupt(r, err,
					      "free list entry %zu (label %u) "
					      "is not a free label",
					      l, x);
		else
			seen[x] = 1;
		v->freel[l] = x;
	}
	free(seen);
	return rc;
}

/*
 * The srns: per label a u32 length, the bytes and, in a version-2 body
 * (`mapped`), a NUL; then the free list.  Version 2's srns are used in place
 * (they point into the mapping), version 1's are copied.  Nothing is hashed
 * or checked against the graph here: vector_index_maps() does that.
 */
static int vector_load_srns(struct vector *v, struct osa_snap_reader *r,
			    bool mapped, struct osa_error *err)
{
	size_t l, nfree = 0;

	/* Every mapped srn points between these (vector_srn_free()). */
	if (mapped) {
		v->arena = (const char *)osa_snap_view(r, 0, err);
		v->arena_end = v->arena + osa_snap_remaining(r);
	}
	for (l = 0; l < v->nlabels; l++) {
		const unsigned char *lb = osa_snap_view(r, 4, err);
		const char *p;
		uint32_t len;

		if (!lb)
			return err->code;
		if ((len = osa_le32_get(lb)) == 0) {
			nfree++;
			continue;
		}
		if (len > VECTOR_SRN_MAX ||
		    len + (uint64_t)mapped > osa_snap_remaining(r))
			return osa_snap_corrupt(
				r, err, "label %zu: bad srn length %u", l, len);
		p = osa_snap_view(r, (size_t)len + mapped, err);
		if ((mapped && p[len]) || memchr(p, 0, len))
			return osa_snap_corrupt(
				r, err, "label %zu: NUL in its srn%s", l,
				mapped ? " or none after it" : "");
		if (mapped) {
			v->srns[l] = (char *)p; /* never written through */
		} else {
			if (!(v->srns[l] = malloc((size_t)len + 1)))
				return osa_error_set(err, OSA_ENOMEM,
						     "index %s: out of memory",
						     v->index);
			memcpy(v->srns[l], p, len);
			v->srns[l][len] = '\0';
		}
		v->live++;
	}
	if (nfree != v->nfree)
		return osa_snap_corrupt(r, err,
					"%zu free labels in the map, %zu in "
					"the header",
					nfree, v->nfree);
	return vector_load_freel(v, r, err);
}

static int vector_stop(void *ctx)
{
	struct vector *v = ctx;

	return atomic_load(&v->stop);
}

/*
 * The srns loaded (vector_load_srns) against the graph: every label's state
 * and the deleted count; then their hashes and the srn map, built aside and
 * installed under `lock` (stats reads them; queries do not).  0, 1 when
 * stopped by close, or the error (corruption named after reader `r`).
 * Caller holds wmu or is open.
 */
static int vector_index_maps(struct vector *v, struct osa_snap_reader *r,
			     struct osa_error *e)
{
	struct osa_srnmap map = { 0 };
	uint64_t *hash;
	size_t l;
	int rc = 0;

	if (hnswc_deleted_count(v->h) != v->nfree)
		return osa_snap_corrupt(r, e,
					"the graph holds %zu deleted labels, "
					"the maps %zu",
					hnswc_deleted_count(v->h), v->nfree);
	hash = malloc((v->cap ? v->cap : 1) * sizeof(*hash));
	if (!hash || osa_srnmap_init(&map, 2 * v->live + 16)) {
		free(hash);
		return osa_error_set(e, OSA_ENOMEM,
				     "index %s: out of memory checking %s",
				     v->index, v->snap_path);
	}
	for (l = 0; l < v->nlabels && !rc; l++) {
		int state = hnswc_contains(v->h, (uint64_t)l);
		size_t at;

		if (!(l & 4095) && vector_stop(v)) {
			rc = 1;
			break;
		}
		if (state != (v->srns[l] ? 1 : 0)) {
			rc = osa_snap_corrupt(r, e,
					      "label %zu is %s in the map but "
					      "%s in the graph",
					      l, v->srns[l] ? "live" : "free",
					      state == 1   ? "live"
					      : state == 0 ? "deleted"
							   : "absent");
			break;
		}
		if (!v->srns[l])
			continue;
		hash[l] = osa_srn_hash(v->srns[l]);
		at = osa_srnmap_slot(&map, (const char *const *)v->srns, hash,
				     v->srns[l], hash[l]);
		if (map.slot[at]) {
			rc = osa_snap_corrupt(r, e, "srn %s appears twice",
					      v->srns[l]);
			break;
		}
		map.slot[at] = (uint32_t)(l + 1);
	}
	if (rc) {
		free(hash);
		osa_srnmap_free(&map);
		return rc;
	}
	pthread_rwlock_wrlock(&v->lock);
	free(v->hash);
	v->hash = hash;
	osa_srnmap_free(&v->map);
	v->map = map;
	pthread_rwlock_unlock(&v->lock);
	return 0;
}

/*
 * What the instant open left for later (see struct vector), with wmu held:
 * 0 when done (now or before), 1 when stopped by close, OSA_ECORRUPT (err
 * filled; kept, health reports it and the core rebuilds the index) when the
 * snapshot fails a check.
 */
static int vector_settle(struct vector *v, struct osa_error *err)
{
	struct osa_error e = { 0 };
	hnswc_error herr = { 0 };
	int rc;

	if (v->settled)
		return v->bad[0]
			       ? osa_error_set(err, OSA_ECORRUPT, "%s", v->bad)
			       : 0;
	rc = osa_snap_verify(v->snap_r, vector_stop, v, &e);
	if (rc == 1)
		return 1;
	if (!rc) {
		rc = hnswc_verify(v->h, vector_stop, v, &herr);
		if (rc == 1)
			return 1;
		if (rc)
			osa_snap_corrupt(v->snap_r, &e, "graph: %s", herr.msg);
	}
	if (!rc)
		rc = vector_index_maps(v, v->snap_r, &e);
	if (rc == 1)
		return 1;
	if (rc) {
		if (e.code == OSA_ECORRUPT) {
			snprintf(v->bad, sizeof(v->bad), "%s", e.msg);
			atomic_store(&v->bad_code, OSA_ECORRUPT);
			osa_log(OSA_LOG_ERROR, "index=%s backend=vector %s",
				v->index, e.msg);
		} else {
			/* Out of memory: not settled, the next writer tries
			 * again. */
			if (err)
				*err = e;
			return e.code;
		}
	}
	v->settled = true;
	if (rc) {
		if (err)
			*err = e;
		return OSA_ECORRUPT;
	}
	return 0;
}

/* vector_settle() for a writer (wmu held): 0, or the error to return. */
static int vector_settle_writer(struct vector *v, struct osa_error *err)
{
	int rc = vector_settle(v, err);

	if (rc == 1)
		rc = osa_error_set(err, OSA_EBUSY, "index %s: closing",
				   v->index);
	else if (rc == OSA_ECORRUPT)
		osa_error_prefix(err,
				 "index %s: refusing writes until it is "
				 "rebuilt: ",
				 v->index);
	return rc;
}

static void *vector_settler(void *arg)
{
	struct vector *v = arg;

	pthread_mutex_lock(&v->wmu);
	vector_settle(v, NULL);
	pthread_mutex_unlock(&v->wmu);
	return NULL;
}

/*
 * The attribute table at the end of the body (if any), checked against the
 * maps: a row is live exactly when its label has an srn.
 */
static int vector_load_attrs(struct vector *v, struct osa_snap_reader *r,
			     struct osa_error *err)
{
	unsigned char lb[8];
	uint64_t len;
	void *buf;
	size_t l;
	int rc;

	if (!osa_snap_remaining(r)) {
		if (v->decl->n && v->live)
			return osa_snap_corrupt(r, err,
						"has no attribute table but "
						"the index declares "
						"attributes");
		return 0;
	}
	if (!v->decl->n)
		return osa_snap_corrupt(r, err,
					"holds attributes but the index "
					"declares none");
	if ((rc = osa_snap_read(r, lb, 8, err)))
		return rc;
	len = osa_le64_get(lb);
	if (len > osa_snap_remaining(r))
		return osa_snap_corrupt(r, err,
					"attribute table of %llu bytes is "
					"truncated",
					(unsigned long long)len);
	if (!(buf = malloc(len ? (size_t)len : 1)))
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     v->index);
	rc = osa_snap_read(r, buf, (size_t)len, err);
	if (!rc) {
		struct osa_error de = { 0 };

		osa_attr_table_free(v->attrs);
		v->attrs = NULL;
		rc = osa_attr_table_decode(v->decl, buf, (size_t)len, &v->attrs,
					   &de);
		if (rc == OSA_ECORRUPT)
			rc = osa_snap_corrupt(r, err, "attribute table: %s",
					      de.msg);
		else if (rc)
			rc = osa_error_set(err, rc, "index %s: %s", v->index,
					   de.msg);
	}
	free(buf);
	if (rc)
		return rc;
	/* Rows past the labels (left by a compaction) must be dead. */
	if (osa_attr_table_live(v->attrs) != v->live)
		return osa_snap_corrupt(
			r, err,
			"the attribute table has %llu live "
			"rows, the maps %zu live labels",
			(unsigned long long)osa_attr_table_live(v->attrs),
			v->live);
	for (l = 0; l < v->nlabels; l++)
		if (osa_filter_match(NULL, v->attrs, (uint32_t)l) !=
		    (v->srns[l] != NULL))
			return osa_snap_corrupt(r, err,
						"label %zu is %s in the maps "
						"but not in the attribute "
						"table",
						l,
						v->srns[l] ? "live" : "free");
	return 0;
}

/* Load vector.snap (if any) into the instance, which has no graph yet. */
static int vector_load(struct vector *v, uint64_t *lsn, struct osa_error *err)
{
	unsigned char pre[VECTOR_PREAMBLE];
	struct osa_snap_info exp, got;
	struct osa_snap_reader *r;
	hnswc_error herr = { 0 };
	uint64_t nlabels, nfree, live, glen, left, goff;
	const void *graph;
	bool mapped;
	uint32_t m, efc;
	int rc;

	vector_expect(v, &exp);
	rc = osa_snap_open_flags(v->snap_path, &exp, OSA_SNAP_DEFER_CHECKSUM,
				 &r, &got, err);
	if (rc == OSA_ENOTFOUND) {
		osa_error_clear(err);
		*lsn = 0;
		return 1; /* nothing loaded */
	}
	if (rc)
		return rc;
	/* Version 1 is read and checked at once; version 2 serves from the
	 * mapped file and is checked by vector_settle(). */
	mapped = got.body_version >= 2;
	if (!mapped && (rc = osa_snap_verify(r, NULL, NULL, err)))
		goto out;
	if ((rc = osa_snap_read(r, pre, sizeof(pre), err)))
		goto out;
	m = osa_le32_get(pre);
	efc = osa_le32_get(pre + 4);
	nlabels = osa_le64_get(pre + 8);
	nfree = osa_le64_get(pre + 16);
	live = osa_le64_get(pre + 24);
	glen = osa_le64_get(pre + 32);
	if ((int)(osa_le64_get(pre + 40) & 0xff) != v->quant) {
		rc = osa_snap_corrupt(r, err,
				      "was written with quantization %s but "
				      "the config says %s",
				      (osa_le64_get(pre + 40) & 0xff) ==
						      HNSWC_QUANT_SQ8
					      ? "sq8"
					      : "none",
				      vector_quants[v->quant]);
		goto out;
	}
	v->trained_on = (size_t)(osa_le64_get(pre + 40) >> 8);
	if (m != v->m || efc != v->efc) {
		rc = osa_snap_corrupt(r, err,
				      "was written for m %u, ef_construction "
				      "%u but the config says m %zu, "
				      "ef_construction %zu",
				      m, efc, v->m, v->efc);
		goto out;
	}
	if (got.body_version >= 2) {
		unsigned char padb[8];
		const unsigned char *z;
		uint64_t pad;

		if ((rc = osa_snap_read(r, padb, 8, err)))
			goto out;
		pad = osa_le64_get(padb);
		if (pad >= VECTOR_MAX_PAD ||
		    !(z = osa_snap_view(r, (size_t)pad, err))) {
			rc = pad >= VECTOR_MAX_PAD
				     ? osa_snap_corrupt(r, err,
							"padding of %llu bytes",
							(unsigned long long)pad)
				     : err->code;
			goto out;
		}
		for (uint64_t i = 0; i < pad; i++)
			if (z[i]) {
				rc = osa_snap_corrupt(r, err,
						      "non-zero padding byte "
						      "%llu",
						      (unsigned long long)i);
				goto out;
			}
	}
	left = osa_snap_remaining(r);
	if (nlabels > VECTOR_MAX_LABELS || nfree > nlabels ||
	    live != nlabels - nfree || live != got.count || glen > left ||
	    (left - glen) / 4 < nlabels + nfree) {
		rc = osa_snap_corrupt(
			r, err,
			"inconsistent counts (labels %llu, free "
			"%llu, live %llu, graph %llu bytes of "
			"%llu)",
			(unsigned long long)nlabels, (unsigned long long)nfree,
			(unsigned long long)live, (unsigned long long)glen,
			(unsigned long long)left);
		goto out;
	}
	goff = osa_snap_file_offset(r);
	if (!(graph = osa_snap_view(r, (size_t)glen, err))) {
		rc = err ? err->code : OSA_ECORRUPT;
		goto out;
	}
	/* The body's checksum was verified: the shim checks the structure
	 * but not every vector component again. */
	rc = hnswc_load_map_q(
		osa_snap_fd(r), goff, graph, (size_t)glen, v->space, v->quant,
		v->dim, v->init_cap > nlabels ? v->init_cap : (size_t)nlabels,
		HNSWC_LOAD_TRUSTED | (mapped ? HNSWC_LOAD_DEFER : 0), &v->h,
		&herr);
	if (rc) {
		rc = rc == HNSWC_ENOMEM
			     ? osa_error_set(err, OSA_ENOMEM,
					     "index %s: out of memory loading "
					     "the graph of %s: %s",
					     v->index, v->snap_path, herr.msg)
			     : osa_snap_corrupt(r, err, "graph: %s", herr.msg);
		goto out;
	}
	/* (The deleted count is checked with the maps.) */
	if (hnswc_count(v->h) != nlabels) {
		rc = osa_snap_corrupt(
			r, err,
			"the graph holds %zu labels (%zu "
			"deleted), the maps %llu (%llu free)",
			hnswc_count(v->h), hnswc_deleted_count(v->h),
			(unsigned long long)nlabels, (unsigned long long)nfree);
		goto out;
	}
	rc = vector_reserve_labels(v, (size_t)nlabels);
	if (rc) {
		rc = osa_error_set(err, OSA_ENOMEM,
				   "index %s: out of memory loading %s",
				   v->index, v->snap_path);
		goto out;
	}
	v->nlabels = (size_t)nlabels;
	v->nfree = (size_t)nfree;
	if ((rc = vector_load_srns(v, r, mapped, err)) ||
	    (!mapped && (rc = vector_index_maps(v, r, err))))
		goto out;
	if ((rc = vector_load_attrs(v, r, err)))
		goto out;
	if (mapped) {
		if (osa_snap_remaining(r)) {
			rc = osa_snap_corrupt(
				r, err,
				"%llu unexpected bytes after "
				"the body",
				(unsigned long long)osa_snap_remaining(r));
			goto out;
		}
		v->snap_r = r; /* the srns point into it */
		v->settled = false;
	} else {
		rc = osa_snap_close(r, err);
	}
	r = NULL;
	if (!rc)
		*lsn = got.lsn;
out:
	osa_snap_close(r, NULL);
	return rc;
}

static int vector_open(const struct osa_backend_args *args, void **self,
		       uint64_t *lsn, struct osa_error *err)
{
	const struct vector_config *cfg = args->config;
	const char *dir = args->dir; /* everything we write is under it */
	struct osa_embedder_args ea = { args->index, cfg->dim,
					&cfg->embedding };
	struct vector *v = calloc(1, sizeof(*v));
	hnswc_error herr = { 0 };
	size_t plen;
	int rc;

	*self = NULL;
	if (!v)
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     args->index);
	if (pthread_mutex_init(&v->wmu, NULL)) {
		free(v);
		return osa_error_set(err, OSA_ENOMEM,
				     "index %s: cannot create a lock",
				     args->index);
	}
	if (osa_rwlock_init(&v->lock)) {
		pthread_mutex_destroy(&v->wmu);
		free(v);
		return osa_error_set(err, OSA_ENOMEM,
				     "index %s: cannot create a lock",
				     args->index);
	}
	v->dim = (size_t)cfg->dim;
	v->metric = cfg->metric;
	v->space = cfg->metric == VECTOR_L2 ? HNSWC_L2 : HNSWC_IP;
	v->ef_search = cfg->ef_search;
	v->m = (size_t)cfg->m;
	v->efc = (size_t)cfg->ef_construction;
	v->init_cap = (size_t)cfg->initial_capacity;
	v->compact_ratio = cfg->compact_deleted_ratio;
	v->quant = cfg->quantization == VECTOR_QUANT_SQ8 ? HNSWC_QUANT_SQ8
							 : HNSWC_QUANT_NONE;
	v->rerank = (size_t)cfg->rerank;
	v->settled = true;
	v->threads = cfg->threads ? (size_t)cfg->threads : osa_cpus();
	v->decl = args->attrs ? args->attrs : &vector_no_attrs;
	plen = strlen(dir) + sizeof("/" VECTOR_SNAP_NAME);
	v->index = strdup(args->index);
	v->snap_path = malloc(plen);
	if (!v->index || !v->snap_path || osa_srnmap_init(&v->map, 16)) {
		vector_free(v);
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     args->index);
	}
	snprintf(v->snap_path, plen, "%s/" VECTOR_SNAP_NAME, dir);
	rc = osa_mkdirs(dir, err);
	if (rc) {
		osa_error_prefix(err, "index %s: ", args->index);
		vector_free(v);
		return rc;
	}
	rc = osa_embedder_create(&ea, &v->emb, err);
	if (rc) {
		vector_free(v);
		return rc;
	}
	osa_embed_describe(v->emb, v->desc, sizeof(v->desc));
	rc = vector_load(v, lsn, err);
	if (rc <= 1 && v->decl->n && !v->attrs) {
		int ar = osa_attr_table_new(v->decl, &v->attrs, err);

		if (ar) {
			osa_error_prefix(err, "index %s: ", args->index);
			rc = ar;
		}
	}
	if (rc == 1) {
		rc = hnswc_create_q(v->space, v->quant, v->dim, v->init_cap,
				    v->m, v->efc, VECTOR_SEED, &v->h, &herr);
		if (rc)
			rc = osa_error_set(err, vector_code(rc),
					   "index %s: cannot create the graph "
					   "(%zu slots of dim %zu): %s; lower "
					   "initial_capacity",
					   args->index, v->init_cap, v->dim,
					   herr.msg);
	}
	if (rc) {
		if (err && !err->index[0])
			snprintf(err->index, sizeof(err->index), "%s",
				 args->index);
		vector_free(v);
		return rc;
	}
	hnswc_set_ef(v->h, (size_t)v->ef_search);
	hnswc_set_rerank(v->h, v->rerank);
	if (v->nlabels)
		vector_log_state(v, "loaded");
	if (!v->settled) {
		if (pthread_create(&v->settler, NULL, vector_settler, v) == 0)
			v->settler_on = true;
		/* else the first writer settles it */
	}
	*self = v;
	return 0;
}

/* ---- attributes ------------------------------------------------------ */

/*
 * Attributes that could not be stored (out of memory, after the point
 * where a batch can be undone): the row is cleared, so the record matches
 * no filter, and health reports it until a rebuild.  Caller holds lock
 * exclusively.
 */
static void vector_attr_lost(struct vector *v, uint32_t label, const char *srn,
			     const struct osa_error *e)
{
	osa_attr_table_clear(v->attrs, label);
	v->attrs_lost++;
	snprintf(v->attrs_why, sizeof(v->attrs_why),
		 "the attributes of %zu record(s) could not be stored (last: "
		 "%.120s: %.120s); they match no filter until the index is "
		 "rebuilt (osa reindex %.64s)",
		 v->attrs_lost, srn, e->msg, v->index);
	osa_log(OSA_LOG_WARN, "index=%s backend=vector %s", v->index,
		v->attrs_why);
}

/* Row `src` to row `dst` (compaction).  Caller holds lock exclusively. */
static void vector_attr_move(struct vector *v, uint32_t dst, uint32_t src)
{
	struct osa_error e = { 0 };

	if (osa_attr_table_copy(v->attrs, dst, src, &e))
		vector_attr_lost(v, dst, v->srns[dst], &e);
	osa_attr_table_clear(v->attrs, src);
}

/* ---- compaction ------------------------------------------------------ */

/*
 * Rebuild the graph from the live labels only, renumbering them 0..live-1.
 * Caller holds wmu and lock exclusively.  On failure nothing changed.
 */
static int vector_compact(struct vector *v, struct osa_error *err)
{
	size_t cap = v->live > v->init_cap ? v->live : v->init_cap, l = 0,
	       nl = 0, k;
	/* Live vectors are copied out and inserted `room` at a time, each
	 * chunk one batch of v->threads threads; sq8 takes them all at once
	 * (it retrains on every live vector first). */
	size_t room = v->quant || v->live < VECTOR_COMPACT_CHUNK
			      ? v->live
			      : VECTOR_COMPACT_CHUNK;
	hnswc_error herr = { 0 };
	hnswc_index *nh = NULL;
	const float **ptrs;
	uint64_t *labs;
	float *buf;
	int rc;

	if (!room)
		room = 1;
	buf = malloc(room * v->dim * sizeof(float));
	ptrs = malloc(room * sizeof(*ptrs));
	labs = malloc(room * sizeof(*labs));
	if (!buf || !ptrs || !labs) {
		free(buf);
		free(ptrs);
		free(labs);
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     v->index);
	}
	rc = hnswc_create_q(v->space, v->quant, v->dim, cap ? cap : 1, v->m,
			    v->efc, VECTOR_SEED, &nh, &herr);
	while (!rc && nl < v->live) {
		size_t m = 0;

		for (; !rc && m < room && l < v->nlabels; l++)
			if (v->srns[l])
				rc = hnswc_get_vector(v->h, (uint64_t)l,
						      buf + m++ * v->dim,
						      &herr);
		if (!rc && !m) {
			snprintf(herr.msg, sizeof(herr.msg),
				 "%zu live labels found, %zu counted", nl,
				 v->live);
			rc = HNSWC_EINTERNAL;
		}
		if (!rc && v->quant && !nl)
			rc = hnswc_train(nh, buf, m, &herr);
		for (k = 0; k < m; k++) {
			ptrs[k] = buf + k * v->dim;
			labs[k] = nl + k;
		}
		if (!rc)
			rc = hnswc_add_batch(nh, ptrs, labs, m, v->threads,
					     NULL, &herr);
		nl += m;
	}
	free(buf);
	free(ptrs);
	free(labs);
	if (rc) {
		hnswc_free(nh);
		return osa_error_set(err, vector_code(rc),
				     "index %s: compaction failed: %s",
				     v->index, herr.msg);
	}
	hnswc_set_ef(nh, (size_t)v->ef_search);
	hnswc_set_rerank(nh, v->rerank);
	if (v->quant && v->live)
		v->trained_on = v->live;
	for (l = 0, nl = 0; l < v->nlabels; l++) {
		if (!v->srns[l])
			continue;
		v->srns[nl] = v->srns[l];
		v->hash[nl] = v->hash[l];
		if (v->attrs && nl != l)
			vector_attr_move(v, (uint32_t)nl, (uint32_t)l);
		nl++;
	}
	if (v->attrs)
		for (l = nl; l < v->nlabels; l++)
			osa_attr_table_clear(v->attrs, (uint32_t)l);
	memset(v->srns + nl, 0, (v->nlabels - nl) * sizeof(*v->srns));
	v->nlabels = nl;
	v->nfree = 0;
	/* Same size: cannot fail for lack of room, may for memory. */
	if (vector_map_reserve(v, v->live, true))
		osa_srnmap_rebuild(&v->map, (const char *const *)v->srns,
				   v->hash, nl);
	hnswc_free(v->h);
	v->h = nh;
	v->compactions++;
	return 0;
}

/* Compact if the deleted share passed the threshold.  Never fails the
 * caller: a failed compaction is logged and reported by health. */
static void vector_maybe_compact(struct vector *v)
{
	struct osa_error err = { 0 };

	if (v->nlabels < VECTOR_COMPACT_MIN ||
	    (double)v->nfree <= v->compact_ratio * (double)v->nlabels)
		return;
	vector_log_state(v, "compacting");
	if (vector_compact(v, &err)) {
		osa_log(OSA_LOG_WARN, "%s", err.msg);
		v->degraded = true;
		snprintf(v->why, sizeof(v->why), "%s", err.msg);
		return;
	}
	v->degraded = false;
	vector_log_state(v, "compacted");
}

/* ---- writes ---------------------------------------------------------- */

struct vector_op {
	size_t rec; /* index in the batch */
	size_t old; /* replaced: its slot in the saved old vectors */
	uint32_t label;
	bool fresh;	/* a new srn (not yet in the maps) */
	bool from_free; /* its label came from the free list */
};

/* Order batch positions by srn, then position (for de-duplication). */
static int vector_cmp_pos(const void *a, const void *b, void *ctx)
{
	char **copies = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(copies[x], copies[y]);

	if (c)
		return c;
	return x < y ? -1 : x > y;
}

static int vector_filter(uint64_t label, void *ctx)
{
	const struct vector *v = ctx;

	return label < v->nlabels && v->srns[label] != NULL;
}

/*
 * Undo a batch's graph changes: `done` (NULL: nothing was tried) holds
 * hnswc_add_batch()'s flags.  Labels from the free list are deleted
 * again, replaced vectors restored (also for the entry that failed).  New
 * labels were numbered from old_nlabels up and inserted in parallel, so
 * those that reached the graph need not be a prefix: every label under
 * the highest one that did must be in the graph (the maps' invariant), so
 * a missing one is added now (with its record's vector); all of them are
 * deleted and become free labels (under lock).
 */
static void vector_rollback(struct vector *v, struct vector_op *ops,
			    size_t nops, const unsigned char *done,
			    const float *vecs, const float *old,
			    size_t old_nlabels, size_t old_nfree)
{
	hnswc_error herr = { 0 };
	size_t j, top = old_nlabels;
	int bad = 0;

	for (j = 0; j < nops; j++)
		if (ops[j].fresh && !ops[j].from_free &&
		    ops[j].label + 1u > top &&
		    hnswc_contains(v->h, ops[j].label) != HNSWC_ENOTFOUND)
			top = ops[j].label + 1u;
	for (j = nops; j-- > 0;) {
		if (ops[j].fresh && !ops[j].from_free) {
			if (ops[j].label >= top)
				continue;
			if (hnswc_contains(v->h, ops[j].label) ==
			    HNSWC_ENOTFOUND)
				bad |= hnswc_add(v->h,
						 vecs + ops[j].rec * v->dim,
						 ops[j].label, &herr);
			bad |= hnswc_mark_deleted(v->h, ops[j].label, &herr);
		} else if (!done || !done[j]) {
			continue;
		} else if (ops[j].fresh) {
			bad |= hnswc_mark_deleted(v->h, ops[j].label, &herr);
		} else {
			bad |= hnswc_add(v->h, old + ops[j].old * v->dim,
					 ops[j].label, &herr);
		}
	}
	pthread_rwlock_wrlock(&v->lock);
	/* Labels popped from the free list are free again. */
	v->nfree = old_nfree;
	/* New labels below `top` are in the graph, deleted: free slots;
	 * the others never existed. */
	for (j = 0; j < nops; j++)
		if (ops[j].fresh && !ops[j].from_free && ops[j].label < top)
			v->freel[v->nfree++] = ops[j].label;
	v->nlabels = top;
	v->pending = 0;
	if (bad) {
		v->degraded = true;
		snprintf(v->why, sizeof(v->why),
			 "a failed batch could not be undone in the graph: "
			 "%s; rebuild the index (osa reindex %s)",
			 herr.msg, v->index);
	}
	pthread_rwlock_unlock(&v->lock);
}

/* A batch being embedded by several workers (vector_embed_one). */
struct vector_embed {
	struct vector *v;
	const struct osa_record *const *recs;
	float *vecs;
	char **copies;
	uint64_t *hashes;
	pthread_mutex_t mu;    /* err, rc, and the stores to fail_at */
	atomic_size_t fail_at; /* lowest failed position (n: none) */
	struct osa_error err;  /* its error */
	int rc;
};

/*
 * Embed record i, check its attributes, copy its srn.  After a failure,
 * records past it are skipped; those before it are still done (items come
 * in increasing order), so the error kept is that of the first bad record,
 * as a serial loop would report it.
 */
static void vector_embed_one(void *ctx, size_t i)
{
	struct vector_embed *b = ctx;
	struct vector *v = b->v;
	struct osa_error e = { 0 };
	const char *srn = osa_record_srn(b->recs[i]);
	int rc;

	if (i > atomic_load(&b->fail_at))
		return;
	rc = osa_vec_record(v->emb, v->metric, v->dim, v->index, b->recs[i],
			    b->vecs + i * v->dim, &e);
	if (!rc && v->attrs && (rc = osa_attrs_check(v->decl, b->recs[i], &e)))
		osa_error_prefix(&e, "index %s: ", v->index);
	if (!rc && !(b->copies[i] = strdup(srn)))
		rc = osa_error_set(&e, OSA_ENOMEM, "index %s: out of memory",
				   v->index);
	if (!rc) {
		b->hashes[i] = osa_srn_hash(srn);
		return;
	}
	pthread_mutex_lock(&b->mu);
	if (i < atomic_load(&b->fail_at)) {
		atomic_store(&b->fail_at, i);
		b->err = e;
		b->rc = rc;
	}
	pthread_mutex_unlock(&b->mu);
}

/* Embed recs[0..n) into vecs with v->threads workers (see above). */
static int vector_embed_all(struct vector *v,
			    const struct osa_record *const *recs, size_t n,
			    float *vecs, char **copies, uint64_t *hashes,
			    struct osa_error *err)
{
	struct vector_embed b = { .v = v,
				  .recs = recs,
				  .vecs = vecs,
				  .copies = copies,
				  .hashes = hashes };

	if (pthread_mutex_init(&b.mu, NULL))
		return osa_error_set(err, OSA_ENOMEM,
				     "index %s: cannot create a lock",
				     v->index);
	atomic_init(&b.fail_at, n);
	osa_parallel_for(n, v->threads, vector_embed_one, &b);
	pthread_mutex_destroy(&b.mu);
	if (atomic_load(&b.fail_at) == n)
		return 0;
	if (err)
		*err = b.err;
	return b.rc;
}

static int vector_ingest(void *self, const struct osa_record *const *recs,
			 size_t n, struct osa_error *err)
{
	struct vector *v = self;
	size_t *pos = NULL, nops = 0, nfresh = 0, nrep = 0, i, j, bytes;
	size_t old_nlabels, old_nfree;
	struct vector_op *ops = NULL;
	hnswc_error herr = { 0 };
	float *vecs = NULL, *old = NULL;
	char **copies = NULL;
	uint64_t *hashes = NULL, *labels = NULL;
	const float **ptrs = NULL;
	unsigned char *done = NULL;
	int rc = 0;

	if (!n)
		return 0;
	if (v->dim && n > SIZE_MAX / sizeof(float) / v->dim)
		return osa_error_set(err, OSA_ENOMEM,
				     "index %s: batch too large", v->index);
	bytes = n * v->dim * sizeof(float);
	pthread_mutex_lock(&v->wmu);
	if ((rc = vector_settle_writer(v, err)))
		goto out;
	if (!(vecs = malloc(bytes)) || !(copies = calloc(n, sizeof(*copies))) ||
	    !(hashes = malloc(n * sizeof(*hashes))) ||
	    !(pos = malloc(n * sizeof(*pos))) ||
	    !(ops = malloc(n * sizeof(*ops))) ||
	    !(labels = malloc(n * sizeof(*labels))) ||
	    !(ptrs = malloc(n * sizeof(*ptrs))) || !(done = calloc(n, 1))) {
		rc = osa_error_set(err, OSA_ENOMEM,
				   "index %s: out of memory embedding a batch "
				   "of %zu records",
				   v->index, n);
		goto out;
	}
	/* 1. Embed everything (v->threads workers); nothing changes yet. */
	rc = vector_embed_all(v, recs, n, vecs, copies, hashes, err);
	if (rc)
		goto out;
	for (i = 0; i < n; i++)
		pos[i] = i;
	/* The last occurrence of an srn in the batch wins. */
	qsort_r(pos, n, sizeof(*pos), vector_cmp_pos, copies);
	for (i = 0; i < n; i++) {
		if (i + 1 < n && !strcmp(copies[pos[i]], copies[pos[i + 1]]))
			continue;
		ops[nops].rec = pos[i];
		ops[nops].fresh = false;
		ops[nops++].from_free = false;
	}
	/* 2. Plan under the lock: labels, room in the arrays and graph. */
	pthread_rwlock_wrlock(&v->lock);
	old_nlabels = v->nlabels;
	old_nfree = v->nfree;
	for (j = 0; j < nops; j++) {
		size_t r = ops[j].rec;
		long l = vector_find(v, copies[r], hashes[r]);

		if (l >= 0) {
			ops[j].label = (uint32_t)l;
			ops[j].old = nrep++;
			continue;
		}
		ops[j].fresh = true;
		nfresh++;
		if (v->nfree) {
			ops[j].label = v->freel[--v->nfree];
			ops[j].from_free = true;
		} else {
			ops[j].label = (uint32_t)v->nlabels++;
		}
	}
	rc = v->nlabels > VECTOR_MAX_LABELS ? OSA_ELIMIT : 0;
	if (!rc)
		rc = vector_reserve_labels(v, v->nlabels);
	if (!rc)
		rc = vector_map_reserve(v, v->live + nfresh, false);
	if (!rc && v->nlabels > hnswc_capacity(v->h)) {
		size_t cap = hnswc_capacity(v->h) * 2;

		if (cap < v->nlabels)
			cap = v->nlabels;
		if (cap > HNSWC_MAX_ELEMENTS)
			cap = HNSWC_MAX_ELEMENTS;
		rc = hnswc_resize(v->h, cap, &herr);
		if (rc)
			rc = vector_code(rc);
		else
			osa_log(OSA_LOG_DEBUG,
				"index=%s backend=vector grew to %zu slots",
				v->index, cap);
	}
	if (rc) {
		v->nlabels = old_nlabels;
		v->nfree = old_nfree;
		pthread_rwlock_unlock(&v->lock);
		rc = osa_error_set(err, rc,
				   "index %s: cannot grow to %zu slots: %s",
				   v->index, old_nlabels + nfresh,
				   herr.msg[0] ? herr.msg : osa_strerror(rc));
		goto out;
	}
	v->pending = nfresh;
	pthread_rwlock_unlock(&v->lock);
	/* Room to restore the vectors a failed batch replaced. */
	if (nrep && !(old = malloc(nrep * v->dim * sizeof(float)))) {
		vector_rollback(v, ops, nops, NULL, vecs, old, old_nlabels,
				old_nfree);
		rc = osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				   v->index);
		goto out;
	}

	/* The first batch of an empty sq8 graph trains its quantiser. */
	if (!hnswc_trained(v->h)) {
		rc = hnswc_train(v->h, vecs, n, &herr);
		if (rc) {
			vector_rollback(v, ops, nops, NULL, vecs, old,
					old_nlabels, old_nfree);
			rc = osa_error_set(err, vector_code(rc),
					   "index %s: training the sq8 "
					   "quantiser failed: %s",
					   v->index, herr.msg);
			goto out;
		}
		v->trained_on = n;
	}

	/* 3. Insert, concurrently with queries (the filter hides the new
	 * labels until they are published): the replaced vectors are saved
	 * first, then the shim applies the batch, its new labels by
	 * v->threads threads.  done[] says what to undo if it fails. */
	for (j = 0; j < nops; j++) {
		ptrs[j] = vecs + ops[j].rec * v->dim;
		labels[j] = ops[j].label;
		if (ops[j].fresh)
			continue;
		rc = hnswc_get_vector(v->h, ops[j].label,
				      old + ops[j].old * v->dim, &herr);
		if (rc) {
			vector_rollback(v, ops, nops, NULL, vecs, old,
					old_nlabels, old_nfree);
			rc = osa_error_set(err, vector_code(rc),
					   "index %s: reading the vector of %s "
					   "failed: %s; the batch was not "
					   "applied",
					   v->index, copies[ops[j].rec],
					   herr.msg);
			goto out;
		}
	}
	rc = hnswc_add_batch(v->h, ptrs, labels, nops, v->threads, done, &herr);
	if (rc) {
		vector_rollback(v, ops, nops, done, vecs, old, old_nlabels,
				old_nfree);
		for (j = 0; j < nops && done[j] != HNSWC_FAILED; j++)
			;
		rc = osa_error_set(err, vector_code(rc),
				   "index %s: inserting %s failed: %s; the "
				   "batch was not applied",
				   v->index,
				   j < nops ? copies[ops[j].rec] : "a batch",
				   herr.msg);
		goto out;
	}

	/* 4. Publish. */
	pthread_rwlock_wrlock(&v->lock);
	for (j = 0; j < nops; j++) {
		size_t r = ops[j].rec, at;
		struct osa_error ae = { 0 };

		if (v->attrs &&
		    osa_attr_table_set(v->attrs, ops[j].label, recs[r], &ae))
			vector_attr_lost(v, ops[j].label, copies[r], &ae);
		if (!ops[j].fresh)
			continue;
		at = vector_map_slot(v, copies[r], hashes[r]);
		v->srns[ops[j].label] = copies[r];
		v->hash[ops[j].label] = hashes[r];
		v->map.slot[at] = ops[j].label + 1;
		copies[r] = NULL;
		v->live++;
	}
	v->pending = 0;
	pthread_rwlock_unlock(&v->lock);
	/* sq8: retrain a quantiser that saw too few vectors (wmu held). */
	if (v->quant && v->trained_on < VECTOR_SQ8_TRAIN &&
	    v->live >= 2 * v->trained_on && v->live >= 64) {
		if (hnswc_retrain(v->h, &herr) == 0) {
			v->trained_on = hnswc_count(v->h);
			osa_log(OSA_LOG_DEBUG,
				"index=%s backend=vector sq8 quantiser "
				"retrained on %zu vectors",
				v->index, v->trained_on);
		} else {
			osa_log(OSA_LOG_WARN,
				"index=%s backend=vector retraining the sq8 "
				"quantiser failed: %s",
				v->index, herr.msg);
		}
	}
out:
	pthread_mutex_unlock(&v->wmu);
	if (copies)
		for (i = 0; i < n; i++)
			free(copies[i]);
	free(copies);
	free(hashes);
	free(pos);
	free(ops);
	free(old);
	free(vecs);
	free(labels);
	free(ptrs);
	free(done);
	return rc;
}

static int vector_remove(void *self, const char *const *srns, size_t n,
			 struct osa_error *err)
{
	struct vector *v = self;
	hnswc_error herr = { 0 };
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&v->wmu);
	if ((rc = vector_settle_writer(v, err))) {
		pthread_mutex_unlock(&v->wmu);
		return rc;
	}
	pthread_rwlock_wrlock(&v->lock);
	for (i = 0; i < n && !rc; i++) {
		uint64_t h = osa_srn_hash(srns[i]);
		size_t at = vector_map_slot(v, srns[i], h);
		uint32_t s = v->map.slot[at];

		if (!s)
			continue;
		rc = hnswc_mark_deleted(v->h, s - 1, &herr);
		if (rc) {
			rc = osa_error_set(err, vector_code(rc),
					   "index %s: removing %s failed: %s",
					   v->index, srns[i], herr.msg);
			break;
		}
		osa_srnmap_delete(&v->map, v->hash, at);
		if (v->attrs)
			osa_attr_table_clear(v->attrs, s - 1);
		vector_srn_free(v, v->srns[s - 1]);
		v->srns[s - 1] = NULL;
		v->freel[v->nfree++] = s - 1;
		v->live--;
	}
	vector_maybe_compact(v);
	pthread_rwlock_unlock(&v->lock);
	pthread_mutex_unlock(&v->wmu);
	return rc;
}

/* ---- queries --------------------------------------------------------- */

struct vector_cand {
	double score;
	const char *srn;
};

static int vector_cmp_cand(const void *a, const void *b)
{
	const struct vector_cand *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return strcmp(x->srn, y->srn);
}

static int vector_query_vector(struct vector *v, const struct osa_query *q,
			       float *qv, struct osa_error *err)
{
	return osa_vec_query(v->emb, v->metric, v->dim, v->index, q, qv, err);
}

/* The graph search's filter for a filtered query: the labels whose bit is
 * set (rows are set when a batch is published, so pending labels are not;
 * the srn check is insurance). */
struct vector_fctx {
	const struct vector *v;
	const uint64_t *bits;
	size_t nbits;
};

static int vector_filter_bits(uint64_t label, void *ctx)
{
	const struct vector_fctx *f = ctx;

	return label < f->nbits && (f->bits[label >> 6] >> (label & 63) & 1) &&
	       (!f->v->pending || f->v->srns[label]);
}

/* Max-heap of k distances: the k-th smallest seen is on top. */
static void vector_kth_push(float *h, size_t *n, size_t k, float d)
{
	size_t i;

	if (*n < k) {
		for (i = (*n)++; i && h[(i - 1) / 2] < d; i = (i - 1) / 2)
			h[i] = h[(i - 1) / 2];
		h[i] = d;
		return;
	}
	if (!(d < h[0]))
		return;
	for (i = 0;;) {
		size_t c = 2 * i + 1;

		if (c >= k)
			break;
		if (c + 1 < k && h[c + 1] > h[c])
			c++;
		if (!(h[c] > d))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = d;
}

/*
 * Exact search over the `nmatch` labels set in bits[0..nbits): every one
 * is scored; the best k and those tied with the k-th go to c (room for
 * nmatch), *nc their number; `fc` (optional) counts every match.  Caller
 * holds lock shared.
 */
static int vector_exact(struct vector *v, const float *qv, const uint64_t *bits,
			size_t nbits, size_t nmatch, size_t k,
			struct vector_cand *c, size_t *nc,
			struct osa_facet_counter *fc, struct osa_error *err)
{
	uint64_t *labels = malloc((nmatch ? nmatch : 1) * sizeof(*labels));
	float *d = malloc((nmatch ? nmatch : 1) * sizeof(*d));
	float *kth = malloc((k ? k : 1) * sizeof(*kth));
	hnswc_error herr = { 0 };
	size_t w, m = 0, nk = 0, i;
	int n, rc = 0;

	*nc = 0;
	if (!labels || !d || !kth) {
		rc = osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				   v->index);
		goto out;
	}
	for (w = 0; w < (nbits + 63) / 64 && m < nmatch; w++)
		for (uint64_t x = bits[w]; x && m < nmatch; x &= x - 1) {
			size_t l = w * 64 + (size_t)__builtin_ctzll(x);

			if (l < v->nlabels && v->srns[l])
				labels[m++] = l;
		}
	n = hnswc_distances(v->h, qv, labels, m, d, &herr);
	if (n < 0) {
		rc = osa_error_set(err, vector_code(n),
				   "index %s: exact search failed: %s",
				   v->index, herr.msg);
		goto out;
	}
	for (i = 0; i < m && k; i++)
		if (d[i] != HUGE_VALF)
			vector_kth_push(kth, &nk, k, d[i]);
	for (i = 0; i < m; i++) {
		if (d[i] == HUGE_VALF)
			continue;
		if (fc)
			osa_facet_counter_add(fc, (uint32_t)labels[i]);
		if (!k || (nk == k && d[i] > kth[0]))
			continue;
		c[*nc].srn = v->srns[labels[i]];
		c[(*nc)++].score = v->metric == VECTOR_L2 ? -(double)d[i]
							  : 1.0 - (double)d[i];
	}
out:
	free(kth);
	free(d);
	free(labels);
	return rc;
}

static int vector_query(void *self, const struct osa_query *q,
			struct osa_hits *hits, struct osa_error *err)
{
	struct vector *v = self;
	struct vector_cand *c = NULL;
	struct osa_facet_counter *fc = NULL;
	struct vector_fctx fx = { v, NULL, 0 };
	hnswc_error herr = { 0 };
	uint64_t *labels = NULL, *bits = NULL;
	float *qv, *d = NULL;
	size_t k, ef, want, i, nc = 0, last = 0, nmatch;
	bool exact = false;
	int rc, n;

	if (q->ef_search < 0 || q->ef_search > VECTOR_EF_MAX)
		return osa_error_set(err, OSA_ERANGE,
				     "index %s: ef_search %d is outside [1, "
				     "%d]",
				     v->index, q->ef_search, VECTOR_EF_MAX);
	if ((q->filter || q->nfacets) && !v->attrs)
		return osa_error_set(err, OSA_EINVAL,
				     "index %s: a filter or facets need "
				     "declared attributes; add `attributes` "
				     "to the index's configuration",
				     v->index);
	qv = malloc(v->dim * sizeof(float));
	if (!qv)
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     v->index);
	rc = vector_query_vector(v, q, qv, err);
	if (rc) {
		free(qv);
		return rc;
	}
	pthread_rwlock_rdlock(&v->lock);
	nmatch = v->live;
	ef = q->ef_search > 0 ? (size_t)q->ef_search : (size_t)v->ef_search;
	if (q->filter) {
		fx.nbits = osa_attr_table_rows(v->attrs);
		bits = malloc(((fx.nbits + 63) / 64 + 1) * sizeof(*bits));
		if (!bits) {
			rc = osa_error_set(err, OSA_ENOMEM,
					   "index %s: out of memory", v->index);
			goto out;
		}
		nmatch = osa_filter_bitmap(q->filter, v->attrs, bits,
					   (uint32_t)fx.nbits);
		fx.bits = bits;
		exact = nmatch <= VECTOR_EXACT_MIN ||
			(double)nmatch * (double)nmatch <=
				VECTOR_EXACT_C * (double)ef * (double)v->live;
	}
	if (q->nfacets &&
	    (rc = osa_facet_counter_new(v->attrs, q->facets, q->nfacets,
					q->facet_limit, &fc, err))) {
		osa_error_prefix(err, "index %s: ", v->index);
		goto out;
	}
	hits->total = nmatch;
	hits->total_estimated = false;
	k = q->offset > nmatch ? nmatch : q->offset;
	k += q->limit > nmatch - k ? nmatch - k : q->limit;
	if (k <= q->offset && !fc)
		goto out;
	if (exact) {
		if (!(c = malloc((nmatch ? nmatch : 1) * sizeof(*c)))) {
			rc = osa_error_set(err, OSA_ENOMEM,
					   "index %s: out of memory", v->index);
			goto out;
		}
		rc = vector_exact(v, qv, bits, fx.nbits, nmatch, k, c, &nc, fc,
				  err);
		if (rc)
			goto out;
		goto rank;
	}
	/*
	 * Ask for ef results, not k: the search explores that many anyway,
	 * and candidates tied with the k-th best can then be ordered by srn,
	 * so pages are deterministic even across ties.
	 */
	want = ef > k ? ef : k;
	/* sq8: the shim fetches rerank x want candidates from the codes and
	 * returns the best `want` by exact distance; ask for k only, or the
	 * graph search would widen to rerank x ef. */
	if (v->quant)
		want = k ? k : 1;
	if (want > nmatch)
		want = nmatch;
	if (!want)
		goto rank;
	labels = malloc(want * sizeof(*labels));
	d = malloc(want * sizeof(*d));
	c = malloc(want * sizeof(*c));
	if (!labels || !d || !c) {
		rc = osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				   v->index);
		goto out;
	}
	n = hnswc_search(v->h, qv, want, ef,
			 bits	      ? vector_filter_bits
			 : v->pending ? vector_filter
				      : NULL,
			 bits ? (void *)&fx : (void *)v, labels, d, &herr);
	if (n < 0) {
		rc = osa_error_set(err, vector_code(n),
				   "index %s: search failed: %s", v->index,
				   herr.msg);
		goto out;
	}
	/* Keep the best k and everything tied with the k-th; facets count
	 * every candidate. */
	for (i = 0; i < (size_t)n; i++) {
		const char *srn =
			labels[i] < v->nlabels ? v->srns[labels[i]] : NULL;

		if (!srn)
			continue;
		if (fc)
			osa_facet_counter_add(fc, (uint32_t)labels[i]);
		if (nc >= k && d[i] != d[last])
			continue;
		last = i;
		c[nc].srn = srn;
		c[nc++].score = v->metric == VECTOR_L2 ? -(double)d[i]
						       : 1.0 - (double)d[i];
	}
rank:
	if (nc)
		qsort(c, nc, sizeof(*c), vector_cmp_cand);
	if (nc > k)
		nc = k;
	for (i = q->offset; i < nc && !rc; i++)
		rc = osa_hits_push(hits, c[i].srn, c[i].score);
	if (rc)
		rc = osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				   v->index);
	if (!rc && fc) {
		rc = osa_facet_counter_finish(fc, &hits->facets, err);
		fc = NULL;
		/* Exact: every match was counted. */
		hits->facets.estimated = !exact;
	}
out:
	pthread_rwlock_unlock(&v->lock);
	osa_facet_counter_free(fc);
	free(bits);
	free(c);
	free(d);
	free(labels);
	free(qv);
	return rc;
}

static int vector_count(void *self, uint64_t *count)
{
	struct vector *v = self;

	pthread_rwlock_rdlock(&v->lock);
	*count = v->live;
	pthread_rwlock_unlock(&v->lock);
	return 0;
}

static int vector_health(void *self, struct osa_error *err)
{
	struct vector *v = self;
	int rc = 0;

	if (atomic_load(&v->bad_code))
		return osa_error_set(err, OSA_ECORRUPT,
				     "index %s: %s; the index is rebuilt from "
				     "the journal",
				     v->index, v->bad);
	pthread_rwlock_rdlock(&v->lock);
	if (v->degraded)
		rc = osa_error_set(err, OSA_EDEGRADED,
				   "index %s: %s (live %zu, deleted slots %zu "
				   "of %zu)",
				   v->index, v->why, v->live, v->nfree,
				   v->nlabels);
	else if (v->attrs_lost)
		rc = osa_error_set(err, OSA_EDEGRADED, "index %s: %s", v->index,
				   v->attrs_why);
	pthread_rwlock_unlock(&v->lock);
	return rc;
}

void vector_get_stats(void *self, struct vector_stats *st)
{
	struct vector *v = self;
	size_t i;

	pthread_rwlock_rdlock(&v->lock);
	st->live = v->live;
	st->slots = v->nlabels;
	st->deleted = v->nfree;
	st->capacity = hnswc_capacity(v->h);
	st->compactions = v->compactions;
	st->search_bytes = v->quant ? v->dim : v->dim * sizeof(float);
	st->sq8_trained_on = v->quant ? v->trained_on : 0;
	st->memory_bytes = hnswc_memory_bytes(v->h) +
			   v->cap * (sizeof(*v->srns) + sizeof(*v->hash) +
				     sizeof(*v->freel)) +
			   (v->map.mask + 1) * sizeof(*v->map.slot);
	for (i = 0; i < v->nlabels; i++)
		if (v->srns[i])
			st->memory_bytes += strlen(v->srns[i]) + 1;
	pthread_rwlock_unlock(&v->lock);
}

/* ---- checkpoint ------------------------------------------------------ */

static int vector_body(void *ctx, struct osa_snap_writer *w,
		       struct osa_error *err)
{
	struct vector *v = ctx;
	static const unsigned char zero[4096];
	unsigned char pre[VECTOR_PREAMBLE] = { 0 }, padb[8];
	uint64_t glen = hnswc_serialized_size(v->h), wrote = 0, pg, at, pad;
	hnswc_error herr = { 0 };
	size_t l;
	FILE *fp;
	int rc;

	osa_le32_put(pre, (uint32_t)v->m);
	osa_le32_put(pre + 4, (uint32_t)v->efc);
	osa_le64_put(pre + 8, v->nlabels);
	osa_le64_put(pre + 16, v->nfree);
	osa_le64_put(pre + 24, v->live);
	osa_le64_put(pre + 32, glen);
	osa_le64_put(pre + 40,
		     (uint64_t)v->quant | (uint64_t)v->trained_on << 8);
	pg = (uint64_t)sysconf(_SC_PAGESIZE);
	if (pg < 512 || pg > VECTOR_MAX_PAD || (pg & (pg - 1)))
		pg = 4096;
	at = osa_snap_writer_offset(w) + sizeof(pre) + 8 +
	     HNSWC_SAVED_LEVEL0_OFFSET;
	pad = (pg - at % pg) % pg;
	osa_le64_put(padb, pad);
	if ((rc = osa_snap_write(w, pre, sizeof(pre), err)) ||
	    (rc = osa_snap_write(w, padb, 8, err)))
		return rc;
	for (; pad && !rc; pad -= pad > sizeof(zero) ? sizeof(zero) : pad)
		rc = osa_snap_write(
			w, zero, pad > sizeof(zero) ? sizeof(zero) : pad, err);
	if (rc)
		return rc;
	if (!(fp = osa_snap_writer_file(w, err)))
		return err ? err->code : OSA_ENOMEM;
	rc = hnswc_save_fp(v->h, fp, &wrote, &herr);
	if (fclose(fp) && !rc)
		return osa_error_set(err, OSA_EIO,
				     "index %s: writing the graph to %s "
				     "failed",
				     v->index, v->snap_path);
	if (rc || wrote != glen)
		return osa_error_set(err, rc ? vector_code(rc) : OSA_EINTERNAL,
				     "index %s: saving the graph failed: %s",
				     v->index,
				     rc ? herr.msg : "its size changed");
	for (l = 0; l < v->nlabels && !rc; l++) {
		size_t len = v->srns[l] ? strlen(v->srns[l]) : 0;
		unsigned char lb[4];

		osa_le32_put(lb, (uint32_t)len);
		rc = osa_snap_write(w, lb, 4, err);
		if (!rc && len) /* with its NUL (body version 2) */
			rc = osa_snap_write(w, v->srns[l], len + 1, err);
	}
	for (l = 0; l < v->nfree && !rc; l++) {
		unsigned char lb[4];

		osa_le32_put(lb, v->freel[l]);
		rc = osa_snap_write(w, lb, 4, err);
	}
	if (!rc && v->attrs) {
		unsigned char lb[8];
		void *buf = NULL;
		size_t len = 0;

		rc = osa_attr_table_encode(v->attrs, &buf, &len, err);
		if (rc)
			return osa_error_prefix(err, "index %s: ", v->index);
		osa_le64_put(lb, len);
		rc = osa_snap_write(w, lb, 8, err);
		if (!rc)
			rc = osa_snap_write(w, buf, len, err);
		free(buf);
	}
	return rc;
}

static int vector_checkpoint(void *self, uint64_t lsn, struct osa_error *err)
{
	struct vector *v = self;
	struct osa_snap_info info;
	int rc;

	/* Writers wait; queries go on. */
	pthread_mutex_lock(&v->wmu);
	if ((rc = vector_settle_writer(v, err))) {
		pthread_mutex_unlock(&v->wmu);
		return rc;
	}
	pthread_rwlock_rdlock(&v->lock);
	vector_expect(v, &info);
	info.count = v->live;
	info.lsn = lsn;
	rc = osa_snap_save(v->snap_path, &info, vector_body, v, err);
	if (!rc && v->nfree)
		vector_log_state(v, "checkpoint");
	pthread_rwlock_unlock(&v->lock);
	pthread_mutex_unlock(&v->wmu);
	if (rc)
		osa_error_prefix(err,
				 "index %s: checkpoint failed: ", v->index);
	return rc;
}

static void vector_close(void *self)
{
	vector_free(self);
}

static const char *vector_kernel(void)
{
	return hnswc_kernels()->name;
}

static const struct osa_backend vector_backend = {
	.abi = OSA_BACKEND_ABI,
	.size = sizeof(struct osa_backend),
	.name = "vector",
	.doc = "approximate nearest neighbours: an HNSW graph (hnswlib)",
	.schema = &vector_schema,
	.open = vector_open,
	.ingest_batch = vector_ingest,
	.remove = vector_remove,
	.query = vector_query,
	.count = vector_count,
	.health = vector_health,
	.checkpoint = vector_checkpoint,
	.close = vector_close,
	.kernel = vector_kernel,
	.caps = OSA_BACKEND_CAP_FILTER | OSA_BACKEND_CAP_FACETS |
		OSA_BACKEND_CAP_SELF_CHECK,
};
OSA_BACKEND_REGISTER(vector_backend);

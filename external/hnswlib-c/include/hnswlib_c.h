/* SPDX-License-Identifier: MIT */
/*
 * hnswlib_c.h - a C interface to hnswlib (HNSW approximate nearest neighbour
 * search), for float vectors under squared L2 or inner-product distance.
 *
 * Implemented in C++ (src/hnswlib_c.cpp) over the Debian package
 * libhnswlib-dev (0.6.2, header-only).  No C++ type and no C++ exception
 * crosses this interface: every failure becomes a negative HNSWC_E* code and
 * a message in a caller-owned struct hnswc_error.
 *
 * Conventions
 *   - Fallible functions return 0 (or a count >= 0) on success and a negative
 *     HNSWC_E* code on failure.  If `err` is not NULL it is filled on failure
 *     (code and a message naming what went wrong) and cleared (code 0, empty
 *     message) on success.  `err` may always be NULL.
 *   - Labels are caller-chosen 64-bit ids, one vector per label.
 *   - Distances: HNSWC_L2 gives the SQUARED Euclidean distance; HNSWC_IP
 *     gives 1 - dot(a, b).  Cosine similarity is HNSWC_IP over vectors the
 *     caller has normalised (queries too); then distance = 1 - cosine.
 *   - Vectors are `dim` floats, copied in; they must be finite (NaN and
 *     infinities are refused with HNSWC_EINVAL).
 *   - Sizes are limited to HNSWC_MAX_ELEMENTS elements, HNSWC_MAX_DIM
 *     dimensions and M in [HNSWC_MIN_M, HNSWC_MAX_M].
 *
 * Ownership
 *   hnswc_create() and the hnswc_load*() functions give the caller an index
 *   that it frees with hnswc_free().  Nothing else allocates on the caller's
 *   behalf; output arrays are the caller's.
 *
 * Thread safety (one index; different indexes are independent)
 *   - hnswc_search() and the read-only getters may run in any number of
 *     threads at once, also while another thread runs hnswc_add(),
 *     hnswc_mark_deleted(), hnswc_resize(), hnswc_set_ef() or a save.  An
 *     internal reader-writer lock makes this safe:
 *       * adding a NEW label runs concurrently with searches (hnswlib's own
 *         per-element locks; the shim's search takes the same locks);
 *       * replacing or undeleting an existing label, hnswc_mark_deleted()
 *         and hnswc_resize() briefly take the lock exclusively: searches wait
 *         for that one operation.
 *   - Writers (add, mark_deleted, resize, save) are serialised by an internal
 *     mutex: calling them from several threads is safe but not parallel.
 *     Parallel inserts go through hnswc_add_batch(): its new labels are
 *     inserted by several threads at once (still concurrently with
 *     searches); its existing labels are replaced one at a time.
 *   - hnswc_free() must not race with any other call on the same index.
 *   - The search filter callback runs inside the search with the index
 *     read-locked: it must not call any hnswc_* function on the same index.
 *
 * Persistence
 *   The serialised form is exactly hnswlib 0.6.2's saveIndex() layout
 *   (native byte order, 64-bit size_t), so files written by hnswlib's C++ or
 *   Python bindings of that version load here and the reverse.  It carries
 *   no magic, version or checksum: embed it in a container that has them
 *   (see hnswc_save_fp() / hnswc_save_mem()).  Loading never hands unchecked
 *   bytes to hnswlib: every size, count, level and neighbour id is checked
 *   against the real input length, `dim` and the element count first, and a
 *   bad input gives HNSWC_ECORRUPT, never a crash or a huge allocation.
 */
#ifndef HNSWLIB_C_H
#define HNSWLIB_C_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An HNSW index.  Opaque. */
typedef struct hnswc_index hnswc_index;

enum hnswc_space {
	HNSWC_L2 = 0, /* squared Euclidean distance */
	HNSWC_IP = 1  /* 1 - inner product; cosine over normalised vectors */
};

/*
 * How the graph stores vectors.  HNSWC_QUANT_SQ8: 8-bit scalar quantisation
 * per dimension (hnswc_kernels.h): the graph holds one byte per component
 * and is searched with float queries against those codes; the float
 * vectors are kept beside it (hnswc_get_vector() returns them) and the best
 * `rerank` x k candidates are re-scored on them exactly, so distances
 * returned are exact.  The quantiser (per-dimension minimum and step) is
 * set by hnswc_train() before the first add (hnswc_retrain() later);
 * components outside the trained range are clamped.
 */
enum hnswc_quant {
	HNSWC_QUANT_NONE = 0, /* float vectors in the graph */
	HNSWC_QUANT_SQ8 = 1   /* uint8 codes in the graph, float rerank */
};

#define HNSWC_DEFAULT_RERANK 4

enum hnswc_errcode {
	HNSWC_OK = 0,
	HNSWC_EINVAL = -1,   /* bad argument (NULL, out of range, non-finite) */
	HNSWC_ENOMEM = -2,   /* out of memory */
	HNSWC_EIO = -3,	     /* open/read/write failed (errno in message) */
	HNSWC_EFULL = -4,    /* capacity reached: hnswc_resize() first */
	HNSWC_ECORRUPT = -5, /* serialised index failed a check */
	HNSWC_EINTERNAL = -6, /* a bug or an index left inconsistent */
	HNSWC_ENOTFOUND = -7  /* no such label */
};

/* Size of hnswc_error.msg, NUL included. */
#define HNSWC_ERROR_MSG_MAX 256

/* Failure detail, plain data: may live on the stack. */
typedef struct {
	int code;		       /* HNSWC_E* code, 0 if no error */
	char msg[HNSWC_ERROR_MSG_MAX]; /* what went wrong, NUL-terminated */
} hnswc_error;

/* Limits checked by hnswc_create() / hnswc_resize() / hnswc_load*(). */
#define HNSWC_MAX_ELEMENTS ((size_t)0x7fffffff) /* internal ids are 32-bit */
#define HNSWC_MAX_DIM ((size_t)1 << 20)
#define HNSWC_MIN_M 2
#define HNSWC_MAX_M 10000
#define HNSWC_DEFAULT_EF 10 /* hnswlib's default query-time ef */

/* Static description of a code ("invalid argument", ...); never NULL. */
const char *hnswc_strerror(int code);

/*
 * Create an empty index for `dim`-dimensional vectors of distance `space`
 * (enum hnswc_space), room for `max_elements` (>= 1) elements, `m` links per
 * node (2M on the bottom layer; 16 is a good default), `ef_construction`
 * (>= 1; 100-400 typical, raised to m if lower) and a seed from which, with
 * its label, each new element's level is drawn (reproducible builds).
 * The query-time ef starts at HNSWC_DEFAULT_EF.  On success *out is the new
 * index; on failure *out is set to NULL.
 */
int hnswc_create(int space, size_t dim, size_t max_elements, size_t m,
		 size_t ef_construction, uint64_t seed, hnswc_index **out,
		 hnswc_error *err);

/*
 * hnswc_create() with a storage choice `quant` (enum hnswc_quant).  An SQ8
 * index must be given hnswc_train() before its first add.
 */
int hnswc_create_q(int space, int quant, size_t dim, size_t max_elements,
		   size_t m, size_t ef_construction, uint64_t seed,
		   hnswc_index **out, hnswc_error *err);

/*
 * Set an SQ8 index's quantiser from `n` >= 1 vectors vecs[0..n*dim): per
 * dimension, the minimum and (maximum - minimum) / 255.  Only while the
 * index is empty (HNSWC_EINVAL after the first add).  On a float index:
 * nothing to do, 0.  Non-finite components: HNSWC_EINVAL.
 */
int hnswc_train(hnswc_index *idx, const float *vecs, size_t n,
		hnswc_error *err);

/*
 * Retrain an SQ8 index's quantiser on every vector it stores (deleted ones
 * included) and re-encode them all; the graph's links stay.  O(count x
 * dim) under the exclusive lock (searches wait).  For an index whose first
 * training set was small.  Empty index: HNSWC_EINVAL.  Float index: 0.
 */
int hnswc_retrain(hnswc_index *idx, hnswc_error *err);

/* 1 once an SQ8 index is trained (always 1 for a float index). */
int hnswc_trained(const hnswc_index *idx);

/* The storage choice (enum hnswc_quant), HNSWC_EINVAL for NULL. */
int hnswc_quant(const hnswc_index *idx);

/*
 * SQ8: re-score the best `factor` x k candidates on the float vectors
 * (the candidate list is at least that long).  factor >= 1; default
 * HNSWC_DEFAULT_RERANK.  Atomic: safe while searches run.  Ignored by
 * float indexes.
 */
int hnswc_set_rerank(hnswc_index *idx, size_t factor);

/* Free an index and everything it owns.  NULL is a no-op. */
void hnswc_free(hnswc_index *idx);

/*
 * Insert `vec` (dim floats) under `label`.  A label already present has its
 * vector replaced (and its graph links repaired); a label marked deleted is
 * undeleted and replaced.  A new label when hnswc_count() has reached
 * hnswc_capacity() gives HNSWC_EFULL (deleted elements keep their slots;
 * reuse their labels or hnswc_resize()).
 */
int hnswc_add(hnswc_index *idx, const float *vec, uint64_t label,
	      hnswc_error *err);

/* Upper bound on the threads of one hnswc_add_batch(). */
#define HNSWC_MAX_THREADS 256
/* hnswc_add_batch()'s `done` flags. */
#define HNSWC_DONE 1
#define HNSWC_FAILED 2

/*
 * hnswc_add() of n vectors: vecs[i] (dim floats) under labels[i], with
 * the new labels inserted by `threads` threads at once (0: one per online
 * CPU; 1: the calling thread alone; never more than the new labels or
 * HNSWC_MAX_THREADS).  The effect is that of hnswc_add() on each entry in
 * turn, except for the graph's links (the insertion order among new labels
 * is not fixed when threads > 1): a label given more than once counts once,
 * with its last vector.  Each new label's level in the graph is drawn from
 * the seed and the label, so threads = 1 builds exactly the graph that
 * hnswc_add() calls in the same order build.
 *
 * Checked before anything changes: every vector non-NULL and finite
 * (HNSWC_EINVAL), an SQ8 index trained (HNSWC_EINVAL), and room for all
 * the new labels (HNSWC_EFULL: resize first; deleted labels keep their
 * slots).  Then the existing labels (replace, undelete) are applied one at
 * a time, each under the exclusive lock, and then the new ones, under the
 * shared lock: searches run meanwhile and may find a new label as soon as
 * it is linked.  If an insertion fails, the others stop at the next label
 * and the first error is returned; a failure half-way through an insertion
 * leaves the index refusing writes (HNSWC_EINTERNAL, as hnswc_add()).
 *
 * `done`, if not NULL, has room for n flags: done[i] becomes HNSWC_DONE
 * when entry i was applied (or superseded by a later entry with its
 * label), HNSWC_FAILED for the entry whose error is returned, and 0
 * otherwise, so that a caller can undo a partly applied batch and name
 * the entry that failed.
 */
int hnswc_add_batch(hnswc_index *idx, const float *const *vecs,
		    const uint64_t *labels, size_t n, size_t threads,
		    unsigned char *done, hnswc_error *err);

/*
 * Set the default query-time ef (size of the dynamic candidate list; higher
 * = better recall, slower), used when hnswc_search() is given ef 0.
 * Returns 0, or HNSWC_EINVAL for a NULL index or ef 0.  Atomic: safe while
 * searches run.
 */
int hnswc_set_ef(hnswc_index *idx, size_t ef);

/* The default query-time ef (0 for NULL). */
size_t hnswc_get_ef(const hnswc_index *idx);

/*
 * Filter for hnswc_search(): return non-zero to accept `label`.  Called from
 * the searching thread, possibly many times per search, only for live
 * (not deleted) elements.  Must not call hnswc_* on the same index.
 */
typedef int (*hnswc_filter_fn)(uint64_t label, void *ctx);

/*
 * k nearest neighbours of `query` (dim floats).  Fills labels[0..n) and, if
 * `distances` is not NULL, distances[0..n), nearest first (ascending
 * distance), and returns n (0 <= n <= k; n < k when fewer live elements pass
 * the filter or the search found fewer), or a negative HNSWC_E* code.
 *
 * `ef` is this query's candidate list size (0 = the index default, see
 * hnswc_set_ef()); max(ef, k) is used.  It changes no shared state, so
 * threads may search with different ef concurrently.
 *
 * Deleted elements and labels the filter rejects are never returned but
 * are still walked through, so a selective filter stays correct (the search
 * then visits more of the graph; with very selective filters an exact scan
 * of the accepted labels is cheaper).
 */
int hnswc_search(const hnswc_index *idx, const float *query, size_t k,
		 size_t ef, hnswc_filter_fn filter, void *ctx, uint64_t *labels,
		 float *distances, hnswc_error *err);

/*
 * Exact distances from `query` (dim floats) to the elements labels[0..n)
 * into distances[0..n), as hnswc_search() reports them (an SQ8 index scores
 * its float vectors, not the codes), with the kernels hnswc_kernels()
 * picked.  For an exact search over a known set of labels, e.g. the few
 * that pass a very selective filter.  An absent or deleted label gets
 * HUGE_VALF.  Returns how many labels were scored (live), or a negative
 * HNSWC_E* code.  Safe with concurrent searches and writers; a label whose
 * hnswc_add() has not returned yet gives an unspecified distance.
 */
int hnswc_distances(const hnswc_index *idx, const float *query,
		    const uint64_t *labels, size_t n, float *distances,
		    hnswc_error *err);

/*
 * Mark `label` deleted: searches stop returning it; it keeps its slot and
 * its place in the graph (as a waypoint).  hnswc_add() with the same label
 * undeletes it.  Marking an already deleted label succeeds (no-op).
 * Unknown label: HNSWC_ENOTFOUND.
 */
int hnswc_mark_deleted(hnswc_index *idx, uint64_t label, hnswc_error *err);

/*
 * Label state: 1 if `label` is present and live, 0 if present but marked
 * deleted, HNSWC_ENOTFOUND if absent, HNSWC_EINVAL for a NULL index.
 */
int hnswc_contains(const hnswc_index *idx, uint64_t label);

/*
 * Copy the stored vector of `label` (live or deleted) into out[0..dim).
 * HNSWC_ENOTFOUND if the label is absent.
 */
int hnswc_get_vector(const hnswc_index *idx, uint64_t label, float *out,
		     hnswc_error *err);

/*
 * Change the capacity to `new_max` (>= max(hnswc_count(), 1), at most
 * HNSWC_MAX_ELEMENTS).  Takes the index lock exclusively: concurrent
 * searches wait for it.
 */
int hnswc_resize(hnswc_index *idx, size_t new_max, hnswc_error *err);

/* Elements stored, deleted ones included (0 for NULL). */
size_t hnswc_count(const hnswc_index *idx);
/* Elements marked deleted. */
size_t hnswc_deleted_count(const hnswc_index *idx);
/* Maximum elements before hnswc_resize() is needed. */
size_t hnswc_capacity(const hnswc_index *idx);
/* Dimension and space (enum hnswc_space) the index was made with. */
size_t hnswc_dim(const hnswc_index *idx);
int hnswc_space(const hnswc_index *idx);
/*
 * Approximate heap memory of the index in bytes: vectors and bottom layer
 * (preallocated for the whole capacity), upper layers, per-element locks,
 * label map and the visited lists used by searches (and, for SQ8, the
 * float vectors kept for the rerank).
 */
size_t hnswc_memory_bytes(const hnswc_index *idx);

/*
 * Exact size in bytes of the serialised index as hnswc_save*() would write
 * it now (0 for NULL).  Only stable while no writer runs.
 */
uint64_t hnswc_serialized_size(const hnswc_index *idx);

/*
 * Write the index to `path` (created or truncated, then flushed and
 * fsync()ed).  Not atomic: to replace a file safely, save to a temporary
 * name in the same directory and rename(2) it.  Searches may run meanwhile;
 * writers wait.
 */
int hnswc_save(const hnswc_index *idx, const char *path, hnswc_error *err);

/*
 * Write the index at the current position of `fp` (not flushed, not
 * closed), and, if `written` is not NULL, store the byte count there, to
 * be passed back to hnswc_load_fp() as `len`.  For embedding the graph in a
 * caller's own file format (own header, own checksum).
 */
int hnswc_save_fp(const hnswc_index *idx, FILE *fp, uint64_t *written,
		  hnswc_error *err);

/*
 * Serialise into buf[0..cap).  Stores the size in *written (if not NULL).
 * If cap is too small: HNSWC_EINVAL, nothing meaningful written, and
 * *written holds the size needed.
 */
int hnswc_save_mem(const hnswc_index *idx, void *buf, size_t cap,
		   size_t *written, hnswc_error *err);

/*
 * Load an index saved by hnswc_save() (or hnswlib 0.6.2's saveIndex()).
 * `space` and `dim` must be what it was built with (the format does not
 * record the space; a wrong dim is detected).  The capacity becomes
 * max(max_elements, stored element count, 1); the capacity recorded in the
 * file is not used (a crafted file could not make us allocate it).  The
 * default ef is HNSWC_DEFAULT_EF.  Errors: HNSWC_EIO (cannot open/read),
 * HNSWC_ECORRUPT (failed a check; the message names the file and the
 * check), HNSWC_ENOMEM, HNSWC_EINVAL.
 */
int hnswc_load(const char *path, int space, size_t dim, size_t max_elements,
	       hnswc_index **out, hnswc_error *err);

/*
 * Load exactly `len` bytes from the current position of `fp`, as written by
 * hnswc_save_fp().  The serialised index must fill exactly `len` bytes.  If
 * `fp` is a regular file, `len` is first checked against the bytes left in
 * it.  On success `fp` is positioned just after the index.
 */
int hnswc_load_fp(FILE *fp, uint64_t len, int space, size_t dim,
		  size_t max_elements, hnswc_index **out, hnswc_error *err);

/* Load from buf[0..len), which must hold exactly one serialised index. */
int hnswc_load_mem(const void *buf, size_t len, int space, size_t dim,
		   size_t max_elements, hnswc_index **out, hnswc_error *err);

/*
 * hnswc_load_fp() / hnswc_load_mem() of an index saved with storage
 * `quant` (which the format does not record, like the space).  The SQ8
 * form is hnswlib's layout over the codes (one byte per component),
 * followed by the quantiser (dim float minimums, dim float steps) and the
 * float vectors (count x dim floats, by internal id).
 */
int hnswc_load_fp_q(FILE *fp, uint64_t len, int space, int quant, size_t dim,
		    size_t max_elements, hnswc_index **out, hnswc_error *err);
int hnswc_load_mem_q(const void *buf, size_t len, int space, int quant,
		     size_t dim, size_t max_elements, hnswc_index **out,
		     hnswc_error *err);

/*
 * hnswc_load_map_q() flag: the caller verified a checksum over the bytes
 * (e.g. its own file format's), so the per-component finiteness check of
 * every vector is skipped; the structure (ids, levels, list headers, labels,
 * the quantiser) is still checked in full.
 */
#define HNSWC_LOAD_TRUSTED 1u

/*
 * hnswc_load_map_q() flag: defer what needs every element to be read, so
 * that loading costs about the header and the upper layers (a few percent
 * of the bytes) and the index answers searches at once from the file's
 * pages as they are touched.  Searches never rely on the deferred checks
 * (they bound every neighbour id and list length themselves).  The
 * bottom layer's lists, the labels (each once) and the deleted count are
 * checked, and the label map built, by hnswc_verify(), which every other
 * call that needs them (add, mark_deleted, contains, get_vector,
 * distances, resize, retrain, deleted_count, save) runs first if it has
 * not run yet.  Ignored when the layer is copied rather than mapped.
 */
#define HNSWC_LOAD_DEFER 2u

/* Where the bottom layer starts in the saved form (after the header). */
#define HNSWC_SAVED_LEVEL0_OFFSET 96u

/*
 * Load the index saved (hnswc_save_fp(), storage `quant`) in buf[0..len),
 * memory that also is the file `fd` from offset `off` (typically a read-only
 * mapping of that file).  When off + HNSWC_SAVED_LEVEL0_OFFSET is a multiple
 * of the page size, the bottom layer (links, vectors and labels of every
 * element: nearly all the bytes) is not copied: it is mapped from the file
 * privately, copy-on-write, so that the load costs about the checks and the
 * index serves at once from the page cache; inserts and deletes later copy
 * the pages they change, and a resize beyond the mapping moves the layer to
 * memory of its own.  The mapping keeps its own reference to the file: `fd`
 * and `buf` may be closed and unmapped after the call.  Otherwise (or when
 * mapping fails) it is copied, as hnswc_load_mem_q() does.  The file must
 * not be modified in place while the index lives (replace it by rename).
 */
int hnswc_load_map_q(int fd, uint64_t off, const void *buf, size_t len,
		     int space, int quant, size_t dim, size_t max_elements,
		     unsigned flags, hnswc_index **out, hnswc_error *err);

/*
 * Run the checks HNSWC_LOAD_DEFER deferred (0 at once when there are none).
 * Writers wait for it, searches go on.  `stop` (may be NULL) is polled; when
 * it returns non-zero the checks end unfinished and 1 is returned (the next
 * call starts over).  HNSWC_ECORRUPT when a check fails: from then on the
 * index refuses writes and every call that needed the checks returns that
 * error again; searches still answer.
 */
int hnswc_verify(hnswc_index *idx, int (*stop)(void *), void *ctx,
		 hnswc_error *err);

/* Whether the index still waits for hnswc_verify(). */
int hnswc_deferred(const hnswc_index *idx);

/* Bytes of the bottom layer served from a file mapping (0: none). */
size_t hnswc_mapped_bytes(const hnswc_index *idx);

#ifdef __cplusplus
}
#endif

#endif /* HNSWLIB_C_H */

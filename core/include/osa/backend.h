/* SPDX-License-Identifier: MIT */
/*
 * osa/backend.h - the storage backend contract (the OSA protocol, in C).
 *
 * A backend is a const `struct osa_backend` registered with
 * OSA_BACKEND_REGISTER(desc) at file scope.  The core matches it by name
 * against the `backend` key of each index in the runtime config, validates the
 * index's `config` group against `schema`, and drives one instance per index.
 *
 * Every method returns 0 or a negative OSA_E* code and fills `err` (never
 * NULL when the core calls) on failure.
 *
 * Threading: the core serialises writes (ingest_batch, remove, checkpoint)
 * per instance; `query`, `count` and `health` may run on many threads at once
 * and concurrently with one writer.  A backend that cannot allow that must
 * lock inside.
 */
#ifndef OSA_BACKEND_H
#define OSA_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <osa/embedder.h>
#include <osa/error.h>
#include <osa/filter.h>
#include <osa/log.h>
#include <osa/plugin.h>
#include <osa/record.h>
#include <osa/schema.h>
#include <osa/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI of struct osa_backend: 1.3. */
#define OSA_BACKEND_ABI OSA_ABI(1, 3)

/* What `open` receives.  Valid until `close`. */
struct osa_backend_args {
	const char *index;  /* the index's name */
	const void *config; /* the validated struct, `schema->size` bytes */
	const char *dir;    /* a private directory, existing and writable */
	/* --- since ABI 1.2 --- */
	/* The index's declared attributes (n == 0 when none; never NULL).
	 * Changing them makes the core rebuild the index. */
	const struct osa_attrs *attrs;
};

/* A query.  `text` and/or `vector`; limit >= 1. */
struct osa_query {
	const char *text;    /* NUL-terminated, or NULL */
	const float *vector; /* `dim` floats, or NULL */
	size_t dim;	     /* length of `vector` */
	size_t limit;	     /* at most this many hits */
	size_t offset;	     /* skip this many best hits first */
	int ef_search;	     /* search breadth; 0: the index's default */
	/* --- since ABI 1.2; set only for a backend declaring the caps --- */
	const struct osa_filter *filter; /* NULL: every record (FILTER cap) */
	const size_t *facets; /* attribute numbers to count (FACETS cap) */
	size_t nfacets;	      /* 0: no facets */
	size_t facet_limit;   /* most values per facet (>= 1) */
};

/* One hit. */
struct osa_hit {
	char *srn;    /* owned by the hit list */
	double score; /* higher = better */
};

/* A growing, owned list of hits.  Zero-initialise before use. */
struct osa_hits {
	struct osa_hit *v;
	size_t n, cap;
	size_t total; /* matches in the index (for paging), set by query */
	/* --- since ABI 1.2 --- */
	bool total_estimated;	  /* `total` is an estimate, not a count */
	struct osa_facets facets; /* q->facets counted, when asked */
};

/* Append a copy of `srn` with `score`.  0 or OSA_ENOMEM. */
int osa_hits_push(struct osa_hits *hits, const char *srn, double score);
/* Free every hit and the facets, and reset the list.  NULL is allowed. */
void osa_hits_free(struct osa_hits *hits);

/*
 * A storage backend.  A const struct nobody writes to.  New methods are added
 * only at the end, after a version boundary comment; the core checks `abi`
 * and NULL before it calls a newer method.
 */
struct osa_backend {
	unsigned abi;			 /* OSA_BACKEND_ABI */
	unsigned size;			 /* sizeof(struct osa_backend) */
	const char *name;		 /* [a-z0-9_-]+, unique */
	const char *doc;		 /* one sentence for the listings */
	const struct osa_schema *schema; /* its `config` group */

	/*
	 * Required.  Open (creating if needed) the index described by `args`.
	 * On success *self is the instance and *lsn the highest log sequence
	 * number the backend has durably applied (0 for a new index): the core
	 * replays every change after it.  A snapshot that is unreadable, torn
	 * or of another configuration must fail with OSA_ECORRUPT naming the
	 * file, never crash: the core then quarantines the directory and
	 * rebuilds the index from the journal.
	 */
	int (*open)(const struct osa_backend_args *args, void **self,
		    uint64_t *lsn, struct osa_error *err);
	/*
	 * Required.  Add or replace `n` records, all or nothing: on failure
	 * the index is as before the call.  An srn seen before replaces the old
	 * record (upsert).  Records are valid only during the call.
	 */
	int (*ingest_batch)(void *self, const struct osa_record *const *recs,
			    size_t n, struct osa_error *err);
	/* Required.  Remove `n` srns; unknown srns are not an error. */
	int (*remove)(void *self, const char *const *srns, size_t n,
		      struct osa_error *err);
	/*
	 * Required.  Fill `hits` (empty on entry) with at most q->limit hits
	 * after skipping q->offset, best first; equal scores ordered by srn;
	 * set hits->total.  A limit beyond the index returns what exists.
	 */
	int (*query)(void *self, const struct osa_query *q,
		     struct osa_hits *hits, struct osa_error *err);
	/* Required.  Number of live records.  Cheap. */
	int (*count)(void *self, uint64_t *count);
	/* Optional.  0 when healthy, else a code and why in `err`.  Cheap. */
	int (*health)(void *self, struct osa_error *err);
	/*
	 * Optional (NULL: the core rebuilds from the log at every open).  Make
	 * everything up to `lsn` durable; return only once it is (write a
	 * temporary file, fsync, rename, fsync the directory).
	 */
	int (*checkpoint)(void *self, uint64_t lsn, struct osa_error *err);
	/* Required.  Free everything; nothing is flushed. */
	void (*close)(void *self);
	/* --- end of ABI 1.0 --- */
	/*
	 * Optional.  The compute kernels the backend picked for this CPU
	 * (e.g. "avx512"), a static string, shown by `osa backends show` and
	 * in stats.  Cheap; any thread; no instance needed.
	 */
	const char *(*kernel)(void);
	/* --- end of ABI 1.1 --- */
	/*
	 * What the backend can do beyond ranking (OSA_BACKEND_CAP_*).  The
	 * core refuses a query with a filter (or facets) sent to an index
	 * whose backend lacks the cap, with HTTP 422 naming the index and the
	 * backend; it never drops a filter silently.
	 */
	unsigned caps;
	/* --- end of ABI 1.2 --- */
	/*
	 * Optional, both or neither (the registry refuses one alone).  For a
	 * backend that stores the LSN it has applied beside its data (a
	 * database: one transaction), so that the two never disagree.  When
	 * set, the core applies every change of the log through them (live
	 * writes, catch-up, the replay at open, retries), with `lsn` the
	 * change's log sequence number, increasing from call to call:
	 *
	 *   - apply the records (as ingest_batch) or removals (as remove) AND
	 *     record `lsn` as the backend's applied LSN in one atomic,
	 *     durable step: once the call returns 0, `open` returns at least
	 *     `lsn` (no checkpoint needed); when it fails, neither the data
	 *     nor the LSN changed;
	 *   - `n` may be 0: nothing to apply, store `lsn` alone (a change
	 *     whose records were all deleted since, or all refused);
	 *   - same threading and error rules as ingest_batch and remove.
	 *
	 * ingest_batch and remove stay required: the core still calls them
	 * for records that are not one whole change (the records loaded by a
	 * rebuild; the one-record retries of a batch holding a record the
	 * index refused, after which it stores the change's LSN with n == 0),
	 * and they must leave the stored LSN as it is.  `checkpoint(lsn)`
	 * stays the way the LSN advances after a rebuild; it is never called
	 * with an LSN below one already stored.
	 */
	int (*ingest_batch_at)(void *self, const struct osa_record *const *recs,
			       size_t n, uint64_t lsn, struct osa_error *err);
	int (*remove_at)(void *self, const char *const *srns, size_t n,
			 uint64_t lsn, struct osa_error *err);
	/* --- end of ABI 1.3 --- */
};

/* struct osa_backend.caps */
/* query() applies q->filter exactly: only matching records are ranked and
 * counted in `total` (or hits->total_estimated is set). */
#define OSA_BACKEND_CAP_FILTER 0x1u
/* query() fills hits->facets for q->facets (hits->facets.estimated when
 * counted over ranked candidates only). */
#define OSA_BACKEND_CAP_FACETS 0x2u
/*
 * health() is cheap and local (no I/O, no lock held for long): the core
 * calls it on every ready index once a second, and an OSA_ECORRUPT from it
 * means the backend found its own files damaged after open (e.g. a snapshot
 * served at once and checked on a thread, osa_snap_open_flags()): the core
 * moves the index's folder to quarantine and rebuilds it from the journal.
 * Whatever the caps, an OSA_ECORRUPT from ingest_batch() or remove() while
 * the core applies the journal does the same.
 */
#define OSA_BACKEND_CAP_SELF_CHECK 0x4u

/* b->caps if `b` is new enough, else 0. */
static inline unsigned osa_backend_caps(const struct osa_backend *b)
{
	if (b->size < offsetof(struct osa_backend, caps) + sizeof(b->caps))
		return 0;
	return b->caps;
}

/* b->kernel() if `b` is new enough and has it, else NULL. */
static inline const char *osa_backend_kernel(const struct osa_backend *b)
{
	if (b->size <
		    offsetof(struct osa_backend, kernel) + sizeof(b->kernel) ||
	    !b->kernel)
		return NULL;
	return b->kernel();
}

/* Whether `b` is new enough to have ingest_batch_at and remove_at and
 * sets them (the registry has checked it sets both or neither). */
static inline bool osa_backend_has_lsn_writes(const struct osa_backend *b)
{
	return b->size >= offsetof(struct osa_backend, remove_at) +
				  sizeof(b->remove_at) &&
	       b->ingest_batch_at && b->remove_at;
}

#define OSA_BACKEND_REGISTER(desc)                                             \
	OSA_SET_ENTRY(osa_backends, struct osa_backend, &(desc))

/* The registered backend named `name`, or NULL. */
const struct osa_backend *osa_backend_find(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* OSA_BACKEND_H */

/* SPDX-License-Identifier: MIT */
/*
 * osa/osa.h - the C API for products that embed OSA Index instead of
 * running the `osa` binary.
 *
 * Open a database from a runtime configuration (a libconfig file or text),
 * ingest and delete records, get them back, search an index, read stats and
 * health, close.  Every function is thread-safe: any number of threads may
 * search and write at once (writes are group-committed).  A write returns
 * only once it is durable in the journal; indexes are then updated from it.
 *
 * Link: with CMake, find_package(osa) (or add_subdirectory of the source
 * tree) and link osa::osa; otherwise `pkg-config --static --libs osa`.
 * Either links libosa.a and every plugin library whole, so that their
 * registrations survive.  See docs/embedding.md and examples/embed.c; the
 * `osa` binary is itself such a program.
 *
 *   struct osa_db *db;
 *   struct osa_error err;
 *   struct osa_results *res;
 *   const char *doc = "{\"srn\":\"urn:osa:example.org:rec:abc-1@1\","
 *                     "\"title\":\"Sea ice\"}";
 *   size_t len = strlen(doc);
 *   uint64_t lsn;
 *
 *   if (osa_open_file("osa.cfg", NULL, &db, &err)) {
 *           fprintf(stderr, "%s\n", err.msg);
 *           return 1;
 *   }
 *   if (osa_ingest(db, &doc, &len, 1, &lsn, NULL, &err))
 *           fprintf(stderr, "%s\n", err.msg);
 *   struct osa_search q = { .index = "papers", .text = "sea ice",
 *                           .limit = 10 };
 *   if (!osa_search(db, &q, &res, &err)) {
 *           for (size_t i = 0; i < res->n; i++)
 *                   printf("%s %.3f\n", res->v[i].srn, res->v[i].score);
 *           osa_results_free(res);
 *   }
 *   osa_close(db);
 */
#ifndef OSA_OSA_H
#define OSA_OSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <osa/error.h>
#include <osa/filter.h>
#include <osa/version.h>

#ifdef __cplusplus
extern "C" {
#endif

struct osa_db;

/* Progress of long operations (open with rebuilds, reindex). */
typedef void (*osa_progress_fn)(void *ctx, const char *index, uint64_t done,
				uint64_t total);

/* osa_open_options.flags */
/* Rebuild every index from the journal, moving its old files to
 * <data_dir>/quarantine/ first (never deleting them).  The way out when the
 * journal was lost or restored from an older backup: without it, index data
 * that the journal cannot explain (journal missing or empty, or a snapshot
 * ahead of it) refuses the open with OSA_ECORRUPT saying so. */
#define OSA_OPEN_REBUILD_FROM_JOURNAL 0x1u

struct osa_open_options {
	osa_progress_fn progress; /* optional */
	void *progress_ctx;
	unsigned flags; /* OSA_OPEN_* */
};

/*
 * Open the database a configuration file describes: validate it (on any
 * error OSA_ECONFIG with every problem in err->msg, one per line, truncated
 * to the buffer), lock its data directory (OSA_EBUSY "in use by pid N"),
 * open the journal and every index, replaying or rebuilding as needed.  An
 * index whose backend fails to open is reported degraded, not fatal.  A
 * truncated or damaged journal file is refused (OSA_ECORRUPT, "journal
 * truncated: ..."), as is index data the journal cannot explain (see
 * OSA_OPEN_REBUILD_FROM_JOURNAL); nothing is changed then.  Starts
 * the database's maintenance thread (retries, checkpoints, log trimming),
 * which osa_close stops; signals a program handles itself should be blocked
 * before this call.
 */
int osa_open_file(const char *path, const struct osa_open_options *opt,
		  struct osa_db **out, struct osa_error *err);
/* The same from configuration text; relative paths resolve against
 * `basedir` (NULL: the current directory). */
int osa_open_string(const char *config, const char *basedir,
		    const struct osa_open_options *opt, struct osa_db **out,
		    struct osa_error *err);
/* Checkpoint every index, then free everything.  NULL is allowed. */
void osa_close(struct osa_db *db);

/* The configured indexes, in configuration order: their number, the name
 * of the i-th (NULL past the end; valid until osa_close), and whether one is
 * called `name`. */
size_t osa_index_count(struct osa_db *db);
const char *osa_index_name(struct osa_db *db, size_t i);
bool osa_index_exists(struct osa_db *db, const char *name);

/* Why one record of a batch was refused. */
struct osa_reject {
	size_t position; /* index in the batch */
	char *srn;	 /* NULL when none could be read */
	char *message;
};

/* Filled by osa_ingest when records are refused (free with
 * osa_rejects_free). */
struct osa_rejects {
	size_t n;
	struct osa_reject *v;
};
void osa_rejects_free(struct osa_rejects *r);

/*
 * Ingest `n` JSON documents (docs[i], lens[i] bytes) as one all-or-nothing
 * batch: each must be a JSON object in UTF-8 with a valid "srn", at most
 * max_record_bytes, and no srn twice.  If any is refused, nothing is written,
 * OSA_EINVAL is returned and `rejects` (if not NULL) lists every refused
 * record.  On success *lsn is the batch's log sequence number.  A srn seen
 * before is replaced.
 */
int osa_ingest(struct osa_db *db, const char *const *docs, const size_t *lens,
	       size_t n, uint64_t *lsn, struct osa_rejects *rejects,
	       struct osa_error *err);

/* Delete srns; *deleted (optional) counts those that existed. */
int osa_delete(struct osa_db *db, const char *const *srns, size_t n,
	       size_t *deleted, struct osa_error *err);

/* A record's JSON (malloc'd; free()).  OSA_ENOTFOUND if none. */
int osa_get(struct osa_db *db, const char *srn, char **json,
	    struct osa_error *err);

/*
 * A search: text or vector, paged; optionally filtered, faceted, or fused
 * over several indexes (hybrid search).
 *
 * `filter` is an expression over the index's declared `attributes`
 * (osa/filter.h gives the language); it is parsed once here, and an error
 * is OSA_EINVAL with a message "filter:LINE:COL: ..." (also for a backend
 * that cannot filter, naming the index and the backend).  `facets` names
 * attributes whose values are counted over the matching records.
 *
 * Hybrid search: with `nindexes` >= 1, `indexes` replaces `index` and the
 * ranked lists of every index (the same text, analysed or embedded by each
 * index as it needs; the same filter, parsed against each index) are fused
 * by reciprocal rank fusion: score = sum over indexes i of
 * weights[i] / (rrf_k + rank_i), rank_i counted from 1 in index i's first
 * offset + limit hits.  Ties are broken by srn, so pages are stable.
 * Facets apply to one index and are refused with several.
 */
struct osa_search {
	const char *index;   /* index name */
	const char *text;    /* query text, or NULL */
	const float *vector; /* query vector, or NULL */
	size_t dim;	     /* its length */
	size_t offset;	     /* results to skip */
	size_t limit;	     /* 1..100 */
	int ef_search;	     /* 0: the index's default */
	/* --- filters, facets and hybrid search --- */
	const char *filter;	   /* filter expression, or NULL */
	const char *const *facets; /* attribute names to count, or NULL */
	size_t nfacets;
	size_t facet_limit;	    /* most values per facet, 0: 10 */
	const char *const *indexes; /* hybrid: the indexes to fuse */
	size_t nindexes;	    /* 0: not hybrid (use `index`) */
	const double *weights;	    /* per entry of `indexes`; NULL: all 1 */
	double rrf_k;		    /* 0: 60 */
};

/* Most values per facet (osa_search.facet_limit). */
#define OSA_MAX_FACET_LIMIT 1000
/* Most indexes one hybrid search fuses. */
#define OSA_MAX_FUSED_INDEXES 16

struct osa_result {
	char *srn;
	double score;	/* hybrid: the fused score */
	char *metadata; /* the record as JSON, minus its vector field */
	/* --- hybrid search --- */
	size_t *ranks; /* rank in each of the indexes (from 1; 0 when it is
			* not in that index's window); NULL if not hybrid */
};

/* The counts of one facet: values most frequent first (ties by value). */
struct osa_result_facet {
	char *name; /* the attribute */
	size_t n;
	struct osa_facet_value *v; /* osa/filter.h */
	uint64_t others;	   /* records of values past facet_limit */
};

struct osa_results {
	size_t n;
	size_t total;  /* matches in the index */
	bool has_more; /* more beyond offset + n */
	struct osa_result *v;
	/* --- filters, facets and hybrid search --- */
	bool total_exact; /* `total` is a count (false: an estimate, or, when
			   * hybrid, the largest of the indexes' totals) */
	size_t nfacets;
	struct osa_result_facet *facets;
	bool facets_estimated; /* counted over ranked candidates only */
	size_t nindexes;       /* hybrid: entries of `ranks` and `totals` */
	size_t *totals;	       /* hybrid: each index's total */
	bool *totals_exact;    /* hybrid: whether each is a count */
};

/* Search; *out is owned by the caller (osa_results_free). */
int osa_search(struct osa_db *db, const struct osa_search *q,
	       struct osa_results **out, struct osa_error *err);
void osa_results_free(struct osa_results *r);

/* {"records": N, "indexes": {"NAME": {"backend", "count", "state",
 * "applied_lsn", "checkpoint_lsn"}}} as malloc'd JSON text. */
int osa_stats(struct osa_db *db, char **json, struct osa_error *err);
/* One index's figures, as osa_stats_get() reads them. */
struct osa_index_stats {
	const char *name;	 /* the index's name */
	const char *backend;	 /* its backend's name */
	const char *state;	 /* "ready", "loading", "degraded", ... */
	bool degraded;		 /* failing; retried in the background */
	uint64_t count;		 /* records it holds */
	uint64_t applied_lsn;	 /* last journal LSN applied */
	uint64_t checkpoint_lsn; /* LSN its last checkpoint covers */
	double checkpoint_age;	 /* seconds since that checkpoint (or open) */
	uint64_t skipped;	 /* records it could not take */
	uint64_t bytes;		 /* bytes its folder holds on disk */
};

/* The database's figures: typed, for programs (GET /metrics uses it). */
struct osa_db_stats {
	uint64_t records;	/* records in the journal */
	uint64_t last_lsn;	/* last LSN written */
	uint64_t journal_bytes; /* size of the journal file */
	size_t n;		/* indexes, in configuration order */
	struct osa_index_stats *v;
};

/* Read the figures; *out is owned by the caller (osa_stats_free). */
int osa_stats_get(struct osa_db *db, struct osa_db_stats **out,
		  struct osa_error *err);
void osa_stats_free(struct osa_db_stats *s);

/* {"status": "ok"|"degraded", "indexes": {...}}; *healthy is 1 when every
 * index is ready. */
int osa_health(struct osa_db *db, char **json, int *healthy,
	       struct osa_error *err);

/* Rebuild an index from the journal's records. */
int osa_reindex(struct osa_db *db, const char *index, osa_progress_fn progress,
		void *ctx, struct osa_error *err);

/* Checkpoint every index now, trim the log, and compact the journal file
 * (gives disk space back after deletes). */
int osa_compact(struct osa_db *db, struct osa_error *err);

#ifdef __cplusplus
}
#endif

#endif /* OSA_OSA_H */

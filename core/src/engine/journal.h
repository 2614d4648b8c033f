/* SPDX-License-Identifier: MIT */
/*
 * journal.h - the durable journal: records are the source of truth, indexes
 * are projections of them.
 *
 * An LMDB environment under <data_dir>/journal holds three databases:
 *   records  srn -> JSON document
 *   log      LSN (u64) -> change: upsert of srns, or delete of srns
 *   meta     "format" -> u32 version; "index/<name>" -> struct osai_istate
 * Every record, log entry and index state carries an XXH3 checksum verified
 * on each read: a damaged one is reported (OSA_ECORRUPT naming the srn or
 * LSN), never returned as data.  Before LMDB maps the file, its two meta
 * pages are read with plain read() and the file's size checked against the
 * last committed page, so a truncated file is refused with a message instead
 * of a SIGBUS on first access.
 * A write returns only after its transaction committed (fsync'd).  Writers
 * arriving while a commit is under way are group-committed together in the
 * next transaction.  Readers never block writers (LMDB MVCC).  The map grows
 * by itself when full; a full disk fails the write with OSA_ENOSPC and loses
 * nothing already acknowledged.
 *
 * The log keeps only srns: replaying an upsert applies the record's current
 * document (or skips it when it was deleted since; the delete follows in the
 * log), so a replayed index reaches the same final state.
 */
#ifndef OSAI_JOURNAL_H
#define OSAI_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <osa/error.h>

/* The journal format this code writes; newer ones are refused, older ones
 * upgraded on open.  1: no checksums; 2: XXH3 checksums on records, log
 * entries and index states, and skipped-record counts in the index state. */
#define OSAI_JOURNAL_FORMAT 2u
/* Longest srn (bytes) the journal stores. */
#define OSAI_SRN_MAX 512

enum osai_change_op { OSAI_OP_UPSERT = 1, OSAI_OP_DELETE = 2 };

/* Per-index state kept in `meta`. */
struct osai_istate {
	uint64_t applied_lsn;	 /* highest LSN applied to the backend */
	uint64_t checkpoint_lsn; /* highest LSN the backend made durable */
	uint64_t config_hash;	 /* hash of what the index stores */
	uint64_t skipped;	 /* records the index left out (format 2) */
};

struct osai_journal;

/*
 * Open (creating) the journal in `dir` (created if missing).  `map_size` is
 * the initial map size in bytes.  OSA_EVERSION for a newer format,
 * OSA_ECORRUPT ("journal truncated: ...", "journal damaged: ...") when the
 * file fails the check of its meta pages (nothing is written then),
 * OSA_EIO/OSA_ENOSPC with the path and errno otherwise.  A format-1 journal
 * is upgraded in place (one transaction: all or nothing).
 */
int osai_journal_open(const char *dir, int64_t map_size,
		      struct osai_journal **out, struct osa_error *err);
void osai_journal_close(struct osai_journal *j);

/*
 * Upsert `n` documents (docs[i] of lens[i] bytes, keyed by srns[i]) as one
 * change; returns once durable, with its LSN.  All or nothing.
 */
int osai_journal_upsert(struct osai_journal *j, size_t n,
			const char *const *srns, const char *const *docs,
			const size_t *lens, uint64_t *lsn,
			struct osa_error *err);
/* Delete `n` srns as one change; *found counts those that existed.  A
 * change is logged (and an LSN returned) only when something existed;
 * otherwise *lsn is 0. */
int osai_journal_delete(struct osai_journal *j, size_t n,
			const char *const *srns, uint64_t *lsn, size_t *found,
			struct osa_error *err);

/*
 * Check <dir>/data.mdb against its LMDB meta pages without mapping it.
 * *bytes gets the file's size (0 when missing or empty, which is not an
 * error).  OSA_ECORRUPT with "journal truncated: ..." or "journal damaged:
 * ..." naming the file and what to do.
 */
int osai_journal_check_file(const char *dir, int64_t *bytes,
			    struct osa_error *err);

/* A record's document (malloc'd, NUL-terminated); OSA_ENOTFOUND if none,
 * OSA_ECORRUPT naming the srn when its checksum does not match. */
int osai_journal_get(struct osai_journal *j, const char *srn, char **doc,
		     size_t *len, struct osa_error *err);

/* Many records at once in one read transaction: docs[i] malloc'd or NULL. */
int osai_journal_get_many(struct osai_journal *j, size_t n,
			  const char *const *srns, char **docs,
			  struct osa_error *err);

/* Number of records, and the last LSN written. */
int osai_journal_stats(struct osai_journal *j, uint64_t *records,
		       uint64_t *last_lsn, uint64_t *log_entries,
		       struct osa_error *err);

/*
 * Visit the changes after `after`, in order.  For an upsert, docs[i] is the
 * record's current document (NULL when deleted since, or when it is damaged:
 * then an error naming the srn is logged and the record left out).  A
 * damaged log entry stops the scan with OSA_ECORRUPT naming its LSN.  The
 * callback returns 0 to go on, anything else stops the scan and is returned.
 */
typedef int (*osai_log_cb)(void *ctx, uint64_t lsn, int op, size_t n,
			   const char *const *srns, const char *const *docs,
			   const size_t *lens);
int osai_journal_scan_log(struct osai_journal *j, uint64_t after,
			  size_t max_batch, osai_log_cb cb, void *ctx,
			  struct osa_error *err);

/*
 * Visit every record in srn order, up to `batch` at a time (the callback
 * gets parallel arrays).  Same return convention.  A damaged record is
 * logged as an error naming its srn (or key) and left out; *damaged (when
 * not NULL) counts them.
 */
typedef int (*osai_rec_cb)(void *ctx, size_t n, const char *const *srns,
			   const char *const *docs, const size_t *lens);
int osai_journal_scan_records(struct osai_journal *j, size_t batch,
			      osai_rec_cb cb, void *ctx, uint64_t *damaged,
			      struct osa_error *err);

/* Per-index state: OSA_ENOTFOUND when the index was never seen. */
int osai_journal_get_state(struct osai_journal *j, const char *index,
			   struct osai_istate *st, struct osa_error *err);
int osai_journal_put_state(struct osai_journal *j, const char *index,
			   const struct osai_istate *st, struct osa_error *err);

/* Drop log entries with LSN < `below`. */
int osai_journal_trim(struct osai_journal *j, uint64_t below,
		      struct osa_error *err);

/* Rewrite the environment without free pages (gives space back). */
int osai_journal_compact(struct osai_journal *j, struct osa_error *err);

/* Bytes the environment's file takes on disk. */
int64_t osai_journal_file_bytes(struct osai_journal *j);

#endif /* OSAI_JOURNAL_H */

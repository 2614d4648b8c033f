/* SPDX-License-Identifier: MIT */
/*
 * svc.h - what the engine's files (service.c, index.c, ingest.c, search.c,
 * maintenance.c) share; private to them.  Locking: see service.h.
 */
#ifndef OSAI_SVC_H
#define OSAI_SVC_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <osa/osa.h>
#include <osa/sys.h>
#include "journal.h"
#include "jtext.h"
#include "osai.h"
#include "service.h"
#include "srn.h"

/* ---- status ------------------------------------------------------------ */

/* Timings of the maintenance (seconds), and the smallest log worth a
 * checkpoint of its own (srns). */
#define SVC_TICK_SECONDS 1
#define SVC_RETRY_SECONDS 5.0
#define SVC_CKPT_BACKOFF 5.0
#define SVC_REPLAY_SECONDS 1.0
#define SVC_LOG_MIN_RECORDS 1000
/* A change of this many records goes to the indexes concurrently. */
#define SVC_FAN_OUT_MIN 16

struct svc_replay {
	struct svc_index *ix;
	uint64_t own_lsn;
	const struct osa_record *const *own;
	size_t own_n;
	struct osa_error *err;
	uint64_t stop;
	int be_code; /* what the backend returned, when it failed */
};

struct svc_rebuild {
	struct svc_index *ix;
	void *be;
	struct osa_error *err;
	uint64_t done, total;
	osa_progress_fn progress;
	void *pctx;
};

struct svc_sorted {
	const char *srn;
	size_t pos;
};

double osai_svc_now(void);

uint64_t osai_svc_hash(uint64_t h, const void *p, size_t n);

uint64_t osai_svc_hash_fields(const struct osa_schema *s, const void *base,
			      int all, uint64_t h);

/* The string at "group.key" of a filled config, or NULL. */
const char *osai_svc_find_string(const struct osa_schema *s, const void *cfg,
				 const char *group, const char *key);

/* Remove our own stale temporary files (*.tmp.*) in an index directory. */
void osai_svc_clean_tmp(const char *dir);

/* Set the state (and reason); wlock held. */
void osai_svc_set_state(struct svc_index *ix, int state, const char *why);

/* The state, for a thread that does not hold wlock. */
int osai_svc_get_state(struct svc_index *ix);

/* Record the LSNs; wlock held. */
void osai_svc_set_lsns(struct svc_index *ix, uint64_t applied,
		       uint64_t checkpointed);

/* Close the backend instance (wlock held). */
void osai_svc_close_be(struct svc_index *ix);

/* Wake the maintenance thread: something is due now. */
void osai_svc_tick_wake(struct osai_service *s);

/* Checkpoint one index (wlock held).  Nothing to do for an index that is
 * not open or not ready. */
int osai_svc_checkpoint_locked(struct osai_service *s, struct svc_index *ix,
			       struct osa_error *err);

/* Bring one index up to the journal (wlock held).  A failure degrades the
 * index and is returned. */
int osai_svc_catch_up_locked(struct osai_service *s, struct svc_index *ix,
			     uint64_t own_lsn,
			     const struct osa_record *const *own, size_t own_n);

/* Mark the index ready, then catch up with what was committed while it was
 * not (a writer skips an index that is not ready). */
int osai_svc_ready_locked(struct osai_service *s, struct svc_index *ix);

/* Drop the log entries no index needs any more.  Takes each index's mu in
 * turn (any wlock may be held). */
int osai_svc_trim(struct osai_service *s, struct osa_error *err);

/* Open the backend fresh (after clearing its directory) and load every
 * record (wlock held).  Queries see no instance until it holds every
 * record; then it catches up with the log and checkpoints. */
void osai_svc_repair_locked(struct osai_service *s, struct svc_index *ix);
int osai_svc_rebuild_locked(struct osai_service *s, struct svc_index *ix,
			    const char *why, osa_progress_fn progress,
			    void *pctx, struct osa_error *err);

/* Whether an index directory holds anything (its data, not dot files). */
int osai_svc_dir_has_files(const char *dir);

/*
 * Open one index (wlock held, no instance): snapshot + log replay, or a
 * rebuild.  A replay that was long is followed by a checkpoint, so that a
 * process killed again and again never replays more at each start.  Index
 * data the journal cannot explain (a snapshot ahead of it) fills `fatal` and
 * returns OSA_ECORRUPT when `fatal` is given (at open), and degrades the
 * index otherwise; with OSA_OPEN_REBUILD_FROM_JOURNAL the old files go to
 * quarantine and the index is rebuilt.
 */
int osai_svc_open_index_locked(struct osai_service *s, struct svc_index *ix,
			       osa_progress_fn progress, void *pctx,
			       struct osa_error *fatal);

int osai_svc_tick_start(struct osai_service *s, struct osa_error *err);

void osai_svc_tick_stop(struct osai_service *s);

#endif /* OSAI_SVC_H */

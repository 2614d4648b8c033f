/* SPDX-License-Identifier: MIT */
/*
 * service.c - the index service behind osa/osa.h: the data directory lock,
 * the journal, and every configured index as a projection of it.
 *
 * Write path: validate the batch (JSON, UTF-8, srn, size, duplicates), commit
 * it to the journal (durable, group-committed), then bring every index up to
 * the journal's last LSN ("catch up"): under the index's write lock, each
 * change after the index's applied LSN is applied in LSN order, using the
 * writer's own parsed records for its own LSN and the journal's documents for
 * the others.  A record an index cannot take (no text to embed, a vector of
 * the wrong length) is skipped for that index with a warning; any other
 * backend failure marks the index degraded: it keeps answering queries from
 * what it has, and is retried and caught up from the log later.
 *
 * Maintenance (retry of degraded indexes, checkpoints, trimming the log) runs
 * on the service's own thread (osai_service_tick), every second or when a
 * write finds it due; a request never waits for more than the write lock of
 * an index that is applying or checkpointing.  Locking: see service.h.
 *
 * Open: each index's backend reports the LSN its snapshot covers; the log is
 * replayed from there.  When the log no longer reaches back that far, the
 * stored config hash differs, or the backend keeps no snapshots, the index
 * is rebuilt from the records.  A snapshot the backend finds corrupt is moved
 * to <data_dir>/quarantine/ (never deleted) and the index rebuilt.
 *
 * Index data the journal cannot explain is never rebuilt over on its own: a
 * missing or empty journal while a configured index has files, or a
 * snapshot that covers more changes than the journal holds (a journal
 * restored from an older backup), refuses the open and says how to proceed.
 * OSA_OPEN_REBUILD_FROM_JOURNAL is that way: every index's files go to
 * quarantine and the index is rebuilt from the journal.
 *
 * The number of records each index left out ("skipped") is kept in its
 * journal state at every checkpoint, so it survives a restart.
 */
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
#include "osai.h"
#include "service.h"
#include "srn.h"

static const char *const svc_state_names[] = { "loading", "ready", "degraded",
					       "rebuilding" };

const char *osai_index_state_name(int state)
{
	return state >= 0 && state <= SVC_REBUILDING ? svc_state_names[state]
						     : "unknown";
}

static double svc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int svc_record_level(int code)
{
	return code == OSA_EINVAL || code == OSA_ERANGE ||
	       code == OSA_ENOFEATURES || code == OSA_ETYPE ||
	       code == OSA_ENOTFOUND || code == OSA_ELIMIT;
}

/* ---- config hash and lookups over a schema ----------------------------- */

static uint64_t svc_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--) {
		h ^= *s++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t svc_hash_fields(const struct osa_schema *s, const void *base,
				int all, uint64_t h)
{
	const struct osa_field *f;

	for (f = s->fields; f && f->name; f++) {
		const char *p = (const char *)base + f->offset;
		int stored = all || (f->flags & OSA_F_STORED);
		size_t i;

		if (f->type == OSA_T_GROUP) {
			h = svc_hash_fields(f->group, p, stored, h);
			continue;
		}
		if (!stored)
			continue;
		h = svc_fnv(h, f->name, strlen(f->name) + 1);
		switch (f->type) {
		case OSA_T_BOOL:
			h = svc_fnv(h, p, sizeof(bool));
			break;
		case OSA_T_INT:
		case OSA_T_ENUM:
			h = svc_fnv(h, p, sizeof(int));
			break;
		case OSA_T_INT64:
			h = svc_fnv(h, p, sizeof(int64_t));
			break;
		case OSA_T_DOUBLE:
			h = svc_fnv(h, p, sizeof(double));
			break;
		case OSA_T_STRING:
		case OSA_T_PATH: {
			const char *v = *(char *const *)p;

			h = svc_fnv(h, v ? v : "\x01", v ? strlen(v) + 1 : 1);
			break;
		}
		case OSA_T_STRLIST: {
			const struct osa_strlist *l = (const void *)p;

			for (i = 0; i < l->n; i++)
				h = svc_fnv(h, l->v[i], strlen(l->v[i]) + 1);
			h = svc_fnv(h, &l->n, sizeof(l->n));
			break;
		}
		default:
			break;
		}
	}
	return h;
}

/* The string at "group.key" of a filled config, or NULL. */
static const char *svc_find_string(const struct osa_schema *s, const void *cfg,
				   const char *group, const char *key)
{
	const struct osa_field *f, *g;

	for (g = s->fields; g && g->name; g++) {
		if (g->type != OSA_T_GROUP || strcmp(g->name, group))
			continue;
		for (f = g->group->fields; f && f->name; f++)
			if (f->type == OSA_T_STRING && !strcmp(f->name, key))
				return *(char *const *)((const char *)cfg +
							g->offset + f->offset);
	}
	return NULL;
}

/* ---- files ------------------------------------------------------------- */

/* Remove our own stale temporary files (*.tmp.*) in an index directory. */
static void svc_clean_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[4400];

		if (!strstr(e->d_name, ".tmp."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!unlink(path))
			osa_log(OSA_LOG_INFO, "removed stale temporary file %s",
				path);
	}
	closedir(d);
}

static int svc_lock_dir(struct osai_service *s, struct osa_error *err)
{
	char path[4200], pid[32];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/LOCK", s->data_dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0)
		return osa_error_set(
			err, errno == ENOSPC ? OSA_ENOSPC : OSA_EIO,
			"cannot open %s: %s%s", path, strerror(errno),
			errno == EACCES || errno == EROFS
				? " (is the data directory "
				  "writable by this user?)"
				: "");
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
		n = pread(s->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(s->lock_fd);
		s->lock_fd = -1;
		return osa_error_set(err, OSA_EBUSY,
				     "data directory %s is in use by pid %s: "
				     "stop that process or use another "
				     "data_dir",
				     s->data_dir, *pid ? pid : "(unknown)");
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(s->lock_fd, 0) ||
	    pwrite(s->lock_fd, pid, (size_t)n, 0) < 0)
		osa_log(OSA_LOG_WARN, "cannot write pid to %s: %s", path,
			strerror(errno));
	return 0;
}

/* ---- status ------------------------------------------------------------ */

/* Timings of the maintenance (seconds), and the smallest log worth a
 * checkpoint of its own (srns). */
#define SVC_TICK_SECONDS 1
#define SVC_RETRY_SECONDS 5.0
#define SVC_CKPT_BACKOFF 5.0
#define SVC_REPLAY_SECONDS 1.0
#define SVC_LOG_MIN_RECORDS 1000

/* Set the state (and reason); wlock held. */
static void svc_set_state(struct svc_index *ix, int state, const char *why)
{
	pthread_mutex_lock(&ix->mu);
	ix->state = state;
	snprintf(ix->why, sizeof(ix->why), "%s", why ? why : "");
	pthread_mutex_unlock(&ix->mu);
}

/* The state, for a thread that does not hold wlock. */
static int svc_get_state(struct svc_index *ix)
{
	int state;

	pthread_mutex_lock(&ix->mu);
	state = ix->state;
	pthread_mutex_unlock(&ix->mu);
	return state;
}

/* Record the LSNs; wlock held. */
static void svc_set_lsns(struct svc_index *ix, uint64_t applied,
			 uint64_t checkpointed)
{
	pthread_mutex_lock(&ix->mu);
	ix->applied = applied;
	ix->checkpointed = checkpointed;
	pthread_mutex_unlock(&ix->mu);
}

/* Swap the backend instance in (wlock held); returns the old one, which no
 * query uses any more. */
static void *svc_swap_be(struct svc_index *ix, void *be)
{
	void *old;

	pthread_rwlock_wrlock(&ix->life);
	old = ix->be;
	ix->be = be;
	pthread_rwlock_unlock(&ix->life);
	return old;
}

/* Close the backend instance (wlock held). */
static void svc_close_be(struct svc_index *ix)
{
	void *old = svc_swap_be(ix, NULL);

	if (old)
		ix->cfg->backend->close(old);
}

/* Wake the maintenance thread: something is due now. */
static void svc_tick_wake(struct osai_service *s)
{
	pthread_mutex_lock(&s->tick_mu);
	s->tick_wake = 1;
	pthread_cond_signal(&s->tick_cv);
	pthread_mutex_unlock(&s->tick_mu);
}

/* ---- applying changes to an index ------------------------------------- */

static void svc_degrade(struct svc_index *ix, const struct osa_error *e)
{
	svc_set_state(ix, SVC_DEGRADED, e->msg);
	ix->last_retry = svc_now();
	osa_log(OSA_LOG_ERROR, "index=%s state=degraded reason=\"%s\"",
		ix->cfg->name, e->msg);
}

/* Apply parsed records to `be`; per record on a record-level failure. */
static int svc_apply_upsert(struct svc_index *ix, void *be,
			    const struct osa_record *const *recs, size_t n,
			    struct osa_error *err)
{
	const struct osa_backend *b = ix->cfg->backend;
	size_t i;
	int rc;

	if (!n)
		return 0;
	rc = b->ingest_batch(be, recs, n, err);
	if (!rc || !svc_record_level(rc))
		return rc;
	for (i = 0; i < n; i++) {
		rc = b->ingest_batch(be, &recs[i], 1, err);
		if (!rc)
			continue;
		if (!svc_record_level(rc))
			return rc;
		pthread_mutex_lock(&ix->mu);
		ix->skipped++;
		pthread_mutex_unlock(&ix->mu);
		osa_log(OSA_LOG_WARN,
			"index=%s srn=%s skipped: %s (the record is stored; "
			"this index leaves it out)",
			ix->cfg->name, osa_record_srn(recs[i]), err->msg);
	}
	osa_error_clear(err);
	return 0;
}

/* Parse journal documents and apply them to `be`. */
static int svc_apply_docs(struct svc_index *ix, void *be, size_t n,
			  const char *const *srns, const char *const *docs,
			  const size_t *lens, struct osa_error *err)
{
	struct osa_record **recs = calloc(n ? n : 1, sizeof(*recs));
	size_t i, m = 0;
	int rc = 0;

	if (!recs)
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	for (i = 0; i < n && !rc; i++) {
		if (!docs[i])
			continue; /* deleted since; its delete follows */
		rc = osa_record_parse(docs[i], lens[i], srns[i], &recs[m], err);
		if (!rc)
			m++;
	}
	if (!rc)
		rc = svc_apply_upsert(
			ix, be, (const struct osa_record *const *)recs, m, err);
	for (i = 0; i < m; i++)
		osa_record_free(recs[i]);
	free(recs);
	return rc;
}

struct svc_replay {
	struct svc_index *ix;
	uint64_t own_lsn;
	const struct osa_record *const *own;
	size_t own_n;
	struct osa_error *err;
	uint64_t stop;
};

static int svc_replay_cb(void *ctx, uint64_t lsn, int op, size_t n,
			 const char *const *srns, const char *const *docs,
			 const size_t *lens)
{
	struct svc_replay *r = ctx;
	struct svc_index *ix = r->ix;
	int rc;

	if (lsn <= ix->applied)
		return 0;
	if (lsn > r->stop)
		return 1; /* caught up to where we were asked */
	if (op == OSAI_OP_DELETE)
		rc = ix->cfg->backend->remove(ix->be, srns, n, r->err);
	else if (lsn == r->own_lsn && r->own)
		rc = svc_apply_upsert(ix, ix->be, r->own, r->own_n, r->err);
	else
		rc = svc_apply_docs(ix, ix->be, n, srns, docs, lens, r->err);
	if (rc)
		return rc;
	pthread_mutex_lock(&ix->mu);
	ix->applied = lsn;
	pthread_mutex_unlock(&ix->mu);
	ix->ops_since_ckpt++;
	ix->recs_since_ckpt += n;
	return 0;
}

/* Checkpoint one index (wlock held).  Nothing to do for an index that is
 * not open or not ready. */
static int svc_checkpoint_locked(struct osai_service *s, struct svc_index *ix,
				 struct osa_error *err)
{
	const struct osa_backend *b = ix->cfg->backend;
	struct osai_istate st;
	int rc = 0;

	if (!ix->be || ix->state != SVC_READY)
		return 0;
	if (b->checkpoint && ix->checkpointed != ix->applied) {
		rc = b->checkpoint(ix->be, ix->applied, err);
		if (rc) {
			ix->ckpt_after = svc_now() + SVC_CKPT_BACKOFF;
			if (err && strncmp(err->msg, "index ", 6))
				osa_error_prefix(
					err, "index %s: checkpoint failed: ",
					ix->cfg->name);
			osa_log(OSA_LOG_ERROR, "%s", err ? err->msg : "");
			return rc;
		}
		svc_set_lsns(ix, ix->applied, ix->applied);
	}
	st.applied_lsn = ix->applied;
	st.checkpoint_lsn = ix->checkpointed;
	st.config_hash = ix->hash;
	st.skipped = ix->skipped;
	rc = osai_journal_put_state(s->journal, ix->cfg->name, &st, err);
	if (rc) {
		ix->ckpt_after = svc_now() + SVC_CKPT_BACKOFF;
		osa_error_prefix(err, "index %s: cannot save its state: ",
				 ix->cfg->name);
		osa_log(OSA_LOG_ERROR, "%s", err->msg);
		return rc;
	}
	ix->ops_since_ckpt = 0;
	ix->recs_since_ckpt = 0;
	ix->last_ckpt = svc_now();
	pthread_mutex_lock(&ix->mu);
	ix->ckpt_seen = ix->last_ckpt;
	pthread_mutex_unlock(&ix->mu);
	return 0;
}

/* Bring one index up to the journal (wlock held).  A failure degrades the
 * index and is returned. */
static int svc_catch_up_locked(struct osai_service *s, struct svc_index *ix,
			       uint64_t own_lsn,
			       const struct osa_record *const *own,
			       size_t own_n)
{
	struct osa_error err = { 0 };
	struct svc_replay r = { ix, own_lsn, own, own_n, &err, UINT64_MAX };
	uint64_t last = 0;
	int rc;

	if (!ix->be || ix->state == SVC_DEGRADED)
		return 0;
	rc = osai_journal_stats(s->journal, NULL, &last, NULL, &err);
	if (rc) {
		svc_degrade(ix, &err);
		return rc;
	}
	if (ix->applied >= last)
		return 0;
	r.stop = last;
	rc = osai_journal_scan_log(s->journal, ix->applied, 0, svc_replay_cb,
				   &r, &err);
	if (rc < 0) {
		svc_degrade(ix, &err);
		return rc;
	}
	return 0;
}

/* Mark the index ready, then catch up with what was committed while it was
 * not (a writer skips an index that is not ready). */
static int svc_ready_locked(struct osai_service *s, struct svc_index *ix)
{
	svc_set_state(ix, SVC_READY, NULL);
	return svc_catch_up_locked(s, ix, 0, NULL, 0);
}

/* Is a checkpoint of this index due (wlock held)?  After
 * `checkpoint_interval`, or when its part of the log holds more srns than
 * half the journal's records (so that the log stays small next to them). */
static int svc_ckpt_due(struct osai_service *s, struct svc_index *ix,
			uint64_t records)
{
	const struct osai_checkpoint_config *c =
		&s->cfg->core.journal.checkpoint;
	uint64_t log_max = records / 2;
	double now = svc_now();

	if (!ix->be || ix->state != SVC_READY ||
	    ix->checkpointed == ix->applied || now < ix->ckpt_after)
		return 0;
	if (log_max < SVC_LOG_MIN_RECORDS)
		log_max = SVC_LOG_MIN_RECORDS;
	return ix->ops_since_ckpt >= (uint64_t)c->ops ||
	       now - ix->last_ckpt >= c->seconds ||
	       ix->recs_since_ckpt >= log_max;
}

/* Drop the log entries no index needs any more.  Takes each index's mu in
 * turn (any wlock may be held). */
static int svc_trim(struct osai_service *s, struct osa_error *err)
{
	uint64_t keep = UINT64_MAX;
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];
		uint64_t need;
		int state;

		pthread_mutex_lock(&ix->mu);
		state = ix->state;
		/* An index with snapshots replays from its checkpoint, whatever
		 * its state.  One without rebuilds from the records at open,
		 * and needs the log only while it catches up. */
		need = ix->cfg->backend->checkpoint ? ix->checkpointed
						    : ix->applied;
		pthread_mutex_unlock(&ix->mu);
		if (!ix->cfg->backend->checkpoint && state == SVC_READY)
			continue;
		if (need < keep)
			keep = need;
	}
	if (keep == UINT64_MAX) {
		int rc = osai_journal_stats(s->journal, NULL, &keep, NULL, err);

		if (rc)
			return rc;
	}
	return keep > 0 ? osai_journal_trim(s->journal, keep + 1, err) : 0;
}

struct svc_rebuild {
	struct svc_index *ix;
	void *be;
	struct osa_error *err;
	uint64_t done, total;
	osa_progress_fn progress;
	void *pctx;
};

static int svc_rebuild_cb(void *ctx, size_t n, const char *const *srns,
			  const char *const *docs, const size_t *lens)
{
	struct svc_rebuild *r = ctx;
	int rc = svc_apply_docs(r->ix, r->be, n, srns, docs, lens, r->err);

	r->done += n;
	if (r->progress)
		r->progress(r->pctx, r->ix->cfg->name, r->done, r->total);
	return rc;
}

/* nftw callback: remove one entry of an index directory (children first). */
static int svc_rm_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0)
		return 0; /* the directory itself stays */
	return remove(path) && errno != ENOENT ? -1 : 0;
}

/* Open the backend fresh (after clearing its directory) and load every
 * record (wlock held).  Queries see no instance until it holds every
 * record; then it catches up with the log and checkpoints. */
static int svc_rebuild_locked(struct osai_service *s, struct svc_index *ix,
			      const char *why, osa_progress_fn progress,
			      void *pctx, struct osa_error *err)
{
	const struct osa_backend *b = ix->cfg->backend;
	struct osa_backend_args args = { ix->cfg->name, ix->cfg->config,
					 ix->dir, &ix->cfg->attrs };
	struct svc_rebuild r = { ix, NULL, err, 0, 0, progress, pctx };
	uint64_t start_lsn = 0, lsn, damaged = 0;
	double t0 = svc_now();
	int rc;

	osa_log(OSA_LOG_INFO, "index=%s rebuilding from the journal: %s",
		ix->cfg->name, why);
	svc_set_state(ix, SVC_REBUILDING, NULL);
	svc_close_be(ix);
	/* The directory holds only derived data of ours. */
	if (nftw(ix->dir, svc_rm_entry, 16, FTW_DEPTH | FTW_PHYS) &&
	    errno != ENOENT) {
		osa_error_set(err, OSA_EIO,
			      "index %s: cannot clear %s for a rebuild: %s "
			      "(check its owner and permissions)",
			      ix->cfg->name, ix->dir, strerror(errno));
		svc_degrade(ix, err);
		return err ? err->code : OSA_EIO;
	}
	rc = osai_journal_stats(s->journal, &r.total, &start_lsn, NULL, err);
	if (!rc)
		rc = b->open(&args, &r.be, &lsn, err);
	if (rc) {
		svc_degrade(ix, err);
		return rc;
	}
	pthread_mutex_lock(&ix->mu);
	ix->skipped = 0;
	pthread_mutex_unlock(&ix->mu);
	rc = osai_journal_scan_records(s->journal, 1000, svc_rebuild_cb, &r,
				       &damaged, err);
	if (rc) {
		b->close(r.be);
		svc_degrade(ix, err);
		return rc;
	}
	/* Damaged records were reported by the journal, each by name. */
	pthread_mutex_lock(&ix->mu);
	ix->skipped += damaged;
	pthread_mutex_unlock(&ix->mu);
	svc_set_lsns(ix, start_lsn, 0);
	ix->ops_since_ckpt = 0;
	ix->recs_since_ckpt = r.done;
	svc_swap_be(ix, r.be);
	rc = svc_ready_locked(s, ix);
	if (!rc)
		rc = svc_checkpoint_locked(s, ix, err);
	else
		osa_error_set(err, rc,
			      "index %s: catching up after the rebuild "
			      "failed: %s",
			      ix->cfg->name, ix->why);
	osa_log(OSA_LOG_INFO, "index=%s rebuilt records=%llu seconds=%.2f",
		ix->cfg->name, (unsigned long long)r.done, svc_now() - t0);
	return rc;
}

/* Move an unreadable index directory aside (wlock held, no instance). */
static void svc_quarantine(struct osai_service *s, struct svc_index *ix,
			   const char *why)
{
	char qdir[4200], dest[4400];
	struct osa_error err;

	snprintf(qdir, sizeof(qdir), "%s/quarantine", s->data_dir);
	snprintf(dest, sizeof(dest), "%s/%s.%ld", qdir, ix->cfg->name,
		 (long)time(NULL));
	if (osa_mkdirs(qdir, &err) || rename(ix->dir, dest)) {
		osa_log(OSA_LOG_ERROR,
			"index=%s cannot move unreadable data aside to %s: %s",
			ix->cfg->name, dest, strerror(errno));
		return;
	}
	pthread_mutex_lock(&ix->mu);
	snprintf(ix->quarantined, sizeof(ix->quarantined), "%s", dest);
	pthread_mutex_unlock(&ix->mu);
	osa_log(OSA_LOG_WARN,
		"index=%s unreadable data moved to %s (%s); rebuilding from "
		"the journal",
		ix->cfg->name, dest, why);
	if (osa_mkdirs(ix->dir, &err))
		osa_log(OSA_LOG_ERROR, "index=%s %s", ix->cfg->name, err.msg);
}

/* Whether an index directory holds anything (its data, not dot files). */
static int svc_dir_has_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	while (d && !found && (e = readdir(d)))
		found = e->d_name[0] != '.';
	if (d)
		closedir(d);
	return found;
}

/*
 * Open one index (wlock held, no instance): snapshot + log replay, or a
 * rebuild.  A replay that was long is followed by a checkpoint, so that a
 * process killed again and again never replays more at each start.  Index
 * data the journal cannot explain (a snapshot ahead of it) fills `fatal` and
 * returns OSA_ECORRUPT when `fatal` is given (at open), and degrades the
 * index otherwise; with OSA_OPEN_REBUILD_FROM_JOURNAL the old files go to
 * quarantine and the index is rebuilt.
 */
static int svc_open_index_locked(struct osai_service *s, struct svc_index *ix,
				 osa_progress_fn progress, void *pctx,
				 struct osa_error *fatal)
{
	const struct osa_backend *b = ix->cfg->backend;
	const struct osai_checkpoint_config *c =
		&s->cfg->core.journal.checkpoint;
	struct osa_backend_args args = { ix->cfg->name, ix->cfg->config,
					 ix->dir, &ix->cfg->attrs };
	struct osai_istate st = { 0 };
	struct osa_error err = { 0 };
	uint64_t lsn = 0, last = 0, nlog = 0;
	void *be = NULL;
	int have_state, rc;
	double t0;

	svc_set_state(ix, SVC_LOADING, NULL);
	ix->ops_since_ckpt = ix->recs_since_ckpt = 0;
	if (osa_mkdirs(ix->dir, &err)) {
		svc_degrade(ix, &err);
		return err.code;
	}
	svc_clean_tmp(ix->dir);
	if (s->open_flags & OSA_OPEN_REBUILD_FROM_JOURNAL) {
		if (svc_dir_has_files(ix->dir))
			svc_quarantine(s, ix, "--rebuild-from-journal");
		return svc_rebuild_locked(s, ix,
					  "requested (--rebuild-from-journal)",
					  progress, pctx, &err);
	}
	rc = osai_journal_get_state(s->journal, ix->cfg->name, &st, &err);
	have_state = !rc;
	if (rc == OSA_ECORRUPT) {
		/* Its config hash and LSNs cannot be trusted: start over. */
		osa_log(OSA_LOG_ERROR, "index=%s %s", ix->cfg->name, err.msg);
		return svc_rebuild_locked(s, ix, "its journal state is damaged",
					  progress, pctx, &err);
	}
	memset(&err, 0, sizeof(err));
	if (have_state && st.config_hash != ix->hash)
		return svc_rebuild_locked(s, ix,
					  "its configuration changed what it "
					  "stores",
					  progress, pctx, &err);
	rc = b->open(&args, &be, &lsn, &err);
	if (rc == OSA_ECORRUPT || rc == OSA_EVERSION) {
		svc_quarantine(s, ix, err.msg);
		return svc_rebuild_locked(s, ix, "its snapshot was unreadable",
					  progress, pctx, &err);
	}
	if (!rc)
		rc = osai_journal_stats(s->journal, NULL, &last, &nlog, &err);
	if (rc) {
		if (be)
			b->close(be);
		svc_degrade(ix, &err);
		return rc;
	}
	if (lsn > last) {
		/* The journal lost changes this index saw: never paper over
		 * it by deleting the index. */
		osa_error_set(&err, OSA_ECORRUPT,
			      "index %s: its snapshot covers change %llu but "
			      "the journal %s/journal ends at %llu (a journal "
			      "restored from an older backup, or replaced?): "
			      "restore the matching journal, or run `osa "
			      "serve --rebuild-from-journal` to rebuild every "
			      "index from this journal (the old index files "
			      "go to %s/quarantine/)",
			      ix->cfg->name, (unsigned long long)lsn,
			      s->data_dir, (unsigned long long)last,
			      s->data_dir);
		b->close(be);
		if (fatal)
			*fatal = err;
		svc_degrade(ix, &err);
		return OSA_ECORRUPT;
	}
	svc_set_lsns(ix, lsn, lsn);
	svc_swap_be(ix, be);
	if (have_state) {
		pthread_mutex_lock(&ix->mu);
		ix->skipped = st.skipped;
		pthread_mutex_unlock(&ix->mu);
	}
	if (!b->checkpoint && last > 0)
		return svc_rebuild_locked(s, ix, "it keeps no snapshots",
					  progress, pctx, &err);
	if (lsn < last && last - nlog > lsn)
		/* The log was trimmed past what the snapshot covers. */
		return svc_rebuild_locked(s, ix,
					  "the log no longer reaches its "
					  "snapshot",
					  progress, pctx, &err);
	if (lsn < last)
		osa_log(OSA_LOG_INFO, "index=%s replaying changes %llu..%llu",
			ix->cfg->name, (unsigned long long)lsn + 1,
			(unsigned long long)last);
	t0 = svc_now();
	rc = svc_catch_up_locked(s, ix, 0, NULL, 0);
	if (!rc)
		rc = svc_ready_locked(s, ix);
	if (rc)
		return rc;
	if (!have_state || ix->ops_since_ckpt >= (uint64_t)c->replay_ops ||
	    svc_now() - t0 >= SVC_REPLAY_SECONDS)
		rc = svc_checkpoint_locked(s, ix, &err);
	return rc;
}

/* Retry a degraded index (wlock held): catch the open instance up, or open
 * it again. */
static void svc_retry_locked(struct osai_service *s, struct svc_index *ix)
{
	ix->last_retry = svc_now();
	osa_log(OSA_LOG_INFO, "index=%s retrying", ix->cfg->name);
	if (!ix->be) {
		svc_open_index_locked(s, ix, NULL, NULL, NULL);
		return;
	}
	svc_set_state(ix, SVC_LOADING, NULL);
	if (!svc_catch_up_locked(s, ix, 0, NULL, 0))
		svc_ready_locked(s, ix); /* a failure degrades it again */
}

/* ---- the maintenance thread ------------------------------------------- */

void osai_service_tick(struct osai_service *s)
{
	struct osa_error err = { 0 };
	uint64_t records = 0;
	size_t i;
	int trim = 0;

	if (osai_journal_stats(s->journal, &records, NULL, NULL, &err))
		osa_log(OSA_LOG_ERROR, "maintenance: %s", err.msg);
	else
		s->records_hint = records;
	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];

		pthread_mutex_lock(&ix->wlock);
		if (ix->state == SVC_DEGRADED) {
			if (svc_now() - ix->last_retry >= SVC_RETRY_SECONDS)
				svc_retry_locked(s, ix);
		} else if (ix->state == SVC_READY &&
			   !svc_catch_up_locked(s, ix, 0, NULL, 0) &&
			   svc_ckpt_due(s, ix, records)) {
			if (!svc_checkpoint_locked(s, ix, &err))
				trim = 1;
		}
		pthread_mutex_unlock(&ix->wlock);
	}
	if (trim && svc_trim(s, &err))
		osa_log(OSA_LOG_WARN, "log trim failed: %s", err.msg);
}

static void *svc_tick_main(void *arg)
{
	struct osai_service *s = arg;
	struct timespec until;

	pthread_mutex_lock(&s->tick_mu);
	while (!s->tick_stop) {
		if (!s->tick_wake) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += SVC_TICK_SECONDS;
			pthread_cond_timedwait(&s->tick_cv, &s->tick_mu,
					       &until);
			if (s->tick_stop)
				break;
		}
		s->tick_wake = 0;
		pthread_mutex_unlock(&s->tick_mu);
		osai_service_tick(s);
		pthread_mutex_lock(&s->tick_mu);
	}
	pthread_mutex_unlock(&s->tick_mu);
	return NULL;
}

static int svc_tick_start(struct osai_service *s, struct osa_error *err)
{
	pthread_condattr_t ca;
	int rc;

	rc = pthread_condattr_init(&ca);
	if (!rc) {
		rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (!rc)
			rc = pthread_cond_init(&s->tick_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (!rc) {
		rc = pthread_create(&s->tick_thread, NULL, svc_tick_main, s);
		if (rc)
			pthread_cond_destroy(&s->tick_cv);
	}
	if (rc)
		return osa_error_set(err, OSA_ENOMEM,
				     "cannot start the maintenance thread: %s",
				     strerror(rc));
	s->tick_running = 1;
	return 0;
}

static void svc_tick_stop(struct osai_service *s)
{
	if (!s->tick_running)
		return;
	pthread_mutex_lock(&s->tick_mu);
	s->tick_stop = 1;
	pthread_cond_signal(&s->tick_cv);
	pthread_mutex_unlock(&s->tick_mu);
	pthread_join(s->tick_thread, NULL);
	pthread_cond_destroy(&s->tick_cv);
	s->tick_running = 0;
}

/* ---- open / close ------------------------------------------------------ */

/*
 * Before the journal opens (and creates anything): refuse a truncated or
 * damaged journal file, and a missing or empty journal while a configured
 * index has data, unless a rebuild from the journal was asked for.
 */
static int svc_check_journal(struct osai_service *s, const char *path,
			     struct osa_error *err)
{
	int64_t bytes = 0;
	size_t i;
	int rc = osai_journal_check_file(path, &bytes, err);

	if (rc || bytes > 0 || (s->open_flags & OSA_OPEN_REBUILD_FROM_JOURNAL))
		return rc;
	for (i = 0; i < s->cfg->n_indexes; i++) {
		const char *name = s->cfg->indexes[i].name;
		char dir[4200], file[4300];

		snprintf(dir, sizeof(dir), "%s/indexes/%s", s->data_dir, name);
		if (!svc_dir_has_files(dir))
			continue;
		snprintf(file, sizeof(file), "%s/data.mdb", path);
		return osa_error_set(
			err, OSA_ECORRUPT,
			"journal %s is %s but index %s has data in %s; "
			"nothing was changed: restore the journal from a "
			"backup, or run `osa serve --rebuild-from-journal` "
			"to start from this journal (the index files go to "
			"quarantine/)",
			file, access(file, F_OK) ? "missing" : "empty", name,
			dir);
	}
	return 0;
}

static int svc_open(struct osai_config *cfg, const struct osa_open_options *opt,
		    struct osai_service **out, struct osa_error *err)
{
	struct osai_service *s = calloc(1, sizeof(*s));
	char path[4200];
	uint64_t records = 0;
	size_t i;
	int rc;

	*out = NULL;
	if (!s) {
		osai_config_free(cfg);
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	}
	s->cfg = cfg;
	s->lock_fd = -1;
	s->data_dir = cfg->core.data_dir;
	pthread_mutex_init(&s->tick_mu, NULL);
	rc = osai_registry_init(err);
	if (!rc)
		rc = osa_mkdirs(s->data_dir, err);
	if (!rc)
		rc = svc_lock_dir(s, err);
	s->open_flags = opt ? opt->flags : 0;
	snprintf(path, sizeof(path), "%s/journal", s->data_dir);
	if (!rc)
		rc = svc_check_journal(s, path, err);
	if (!rc)
		rc = osai_journal_open(path, cfg->core.journal.map_size,
				       &s->journal, err);
	if (rc) {
		osai_service_close(s);
		return rc;
	}
	s->n = cfg->n_indexes;
	s->ix = calloc(s->n ? s->n : 1, sizeof(*s->ix));
	if (!s->ix) {
		osai_service_close(s);
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	}
	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];
		const struct osai_index_config *ic = &cfg->indexes[i];

		if (pthread_mutex_init(&ix->wlock, NULL) ||
		    osa_rwlock_init(&ix->life) ||
		    pthread_mutex_init(&ix->mu, NULL)) {
			osai_service_close(s);
			return osa_error_set(err, OSA_ENOMEM,
					     "cannot create a lock");
		}
		ix->cfg = ic;
		ix->state = SVC_LOADING;
		ix->hash = svc_fnv(0xcbf29ce484222325ull, ic->backend->name,
				   strlen(ic->backend->name) + 1);
		ix->hash = svc_hash_fields(ic->backend->schema, ic->config, 0,
					   ix->hash);
		/* Declared attributes are stored by the backend: changing them
		 * rebuilds the index.  None leaves the hash as it was. */
		for (size_t k = 0; k < ic->attrs.n; k++) {
			unsigned char t = (unsigned char)ic->attrs.v[k].type;

			ix->hash = svc_fnv(ix->hash, "attr", 5);
			ix->hash = svc_fnv(ix->hash, ic->attrs.v[k].name,
					   strlen(ic->attrs.v[k].name) + 1);
			ix->hash = svc_fnv(ix->hash, &t, 1);
		}
		ix->vector_field =
			svc_find_string(ic->backend->schema, ic->config,
					"embedding", "vector_field");
		ix->last_ckpt = ix->ckpt_seen = svc_now();
		if (asprintf(&ix->dir, "%s/indexes/%s", s->data_dir, ic->name) <
		    0) {
			ix->dir = NULL;
			osai_service_close(s);
			return osa_error_set(err, OSA_ENOMEM, "out of memory");
		}
	}
	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];
		struct osa_error fatal = { 0 };

		/* A failure degrades the index (logged); the tick retries.  Data
		 * the journal cannot explain stops the open. */
		pthread_mutex_lock(&ix->wlock);
		svc_open_index_locked(s, ix, opt ? opt->progress : NULL,
				      opt ? opt->progress_ctx : NULL, &fatal);
		pthread_mutex_unlock(&ix->wlock);
		if (fatal.code) {
			if (err)
				*err = fatal;
			osai_service_close(s);
			return fatal.code;
		}
	}
	if (!osai_journal_stats(s->journal, &records, NULL, NULL, NULL))
		s->records_hint = records;
	rc = svc_tick_start(s, err);
	if (rc) {
		osai_service_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void osai_service_close(struct osai_service *s)
{
	struct osa_error err;
	size_t i;

	if (!s)
		return;
	svc_tick_stop(s);
	for (i = 0; s->ix && i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];

		if (!ix->cfg)
			continue;
		pthread_mutex_lock(&ix->wlock);
		if (ix->be && ix->state == SVC_READY &&
		    !svc_catch_up_locked(s, ix, 0, NULL, 0))
			svc_checkpoint_locked(s, ix, &err); /* logs failures */
		svc_close_be(ix);
		pthread_mutex_unlock(&ix->wlock);
	}
	if (s->journal && s->ix && svc_trim(s, &err))
		osa_log(OSA_LOG_WARN, "log trim failed: %s", err.msg);
	for (i = 0; s->ix && i < s->n; i++) {
		if (!s->ix[i].cfg)
			continue;
		pthread_mutex_destroy(&s->ix[i].wlock);
		pthread_rwlock_destroy(&s->ix[i].life);
		pthread_mutex_destroy(&s->ix[i].mu);
		free(s->ix[i].dir);
	}
	free(s->ix);
	osai_journal_close(s->journal);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	pthread_mutex_destroy(&s->tick_mu);
	osai_config_free(s->cfg);
	free(s);
}

static int svc_config_error(struct osai_diags *d, int rc, struct osa_error *err)
{
	char *all = osai_diags_join(d);

	osa_error_set(err, rc == OSA_EIO ? OSA_EIO : OSA_ECONFIG, "%s",
		      all ? all : "invalid configuration");
	free(all);
	osai_diags_free(d);
	return err ? err->code : OSA_ECONFIG;
}

int osa_open_file(const char *path, const struct osa_open_options *opt,
		  struct osa_db **out, struct osa_error *err)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg;
	int rc;

	osai_registry_init(NULL);
	rc = osai_config_load_file(path, &cfg, &d);
	if (rc)
		return svc_config_error(&d, rc, err);
	osai_diags_free(&d);
	return svc_open(cfg, opt, (struct osai_service **)out, err);
}

int osa_open_string(const char *config, const char *basedir,
		    const struct osa_open_options *opt, struct osa_db **out,
		    struct osa_error *err)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg;
	int rc;

	osai_registry_init(NULL);
	rc = osai_config_load_string(config, "<string>", basedir, &cfg, &d);
	if (rc)
		return svc_config_error(&d, rc, err);
	osai_diags_free(&d);
	return svc_open(cfg, opt, (struct osai_service **)out, err);
}

int osai_service_open(struct osai_config *cfg,
		      const struct osa_open_options *opt,
		      struct osai_service **out, struct osa_error *err)
{
	return svc_open(cfg, opt, out, err);
}

void osa_close(struct osa_db *db)
{
	osai_service_close((struct osai_service *)db);
}

/* ---- writes ------------------------------------------------------------ */

void osa_rejects_free(struct osa_rejects *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->v[i].srn);
		free(r->v[i].message);
	}
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

static void svc_reject(struct osa_rejects *r, size_t pos, const char *srn,
		       const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void svc_reject(struct osa_rejects *r, size_t pos, const char *srn,
		       const char *fmt, ...)
{
	struct osa_reject *v;
	va_list ap;

	if (!r)
		return;
	v = realloc(r->v, (r->n + 1) * sizeof(*v));
	if (!v)
		return;
	r->v = v;
	v = &r->v[r->n++];
	v->position = pos;
	v->srn = srn ? strdup(srn) : NULL;
	va_start(ap, fmt);
	if (vasprintf(&v->message, fmt, ap) < 0)
		v->message = NULL;
	va_end(ap);
}

struct svc_sorted {
	const char *srn;
	size_t pos;
};

static int svc_cmp_srn(const void *a, const void *b)
{
	const struct svc_sorted *x = a, *y = b;
	int c = strcmp(x->srn, y->srn);

	return c ? c : (x->pos < y->pos ? -1 : x->pos > y->pos);
}

/*
 * Apply the committed change at `lsn` (our own parsed records) to every
 * ready index, then anything else pending, so that a search after the write
 * finds it.  An index that is not ready (loading, rebuilding, degraded) is
 * skipped without waiting: it catches up from the log when it becomes ready.
 * Maintenance that is due is left to the maintenance thread.
 */
static void svc_fan_out(struct osai_service *s, uint64_t lsn,
			const struct osa_record *const *recs, size_t n)
{
	const struct osai_checkpoint_config *c =
		&s->cfg->core.journal.checkpoint;
	uint64_t log_max = s->records_hint / 2;
	int wake = 0;
	size_t i;

	if (log_max < SVC_LOG_MIN_RECORDS)
		log_max = SVC_LOG_MIN_RECORDS;
	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];

		/* An index seen not ready here becomes ready after this change
		 * was committed: the catch-up that follows includes it. */
		if (svc_get_state(ix) != SVC_READY)
			continue;
		pthread_mutex_lock(&ix->wlock);
		if (svc_catch_up_locked(s, ix, lsn, recs, n) ||
		    ix->ops_since_ckpt >= (uint64_t)c->ops ||
		    ix->recs_since_ckpt >= log_max)
			wake = 1;
		pthread_mutex_unlock(&ix->wlock);
	}
	if (wake)
		svc_tick_wake(s);
}

int osa_ingest(struct osa_db *db, const char *const *docs, const size_t *lens,
	       size_t n, uint64_t *lsn, struct osa_rejects *rejects,
	       struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	struct osa_record **recs = calloc(n ? n : 1, sizeof(*recs));
	const char **srns = calloc(n ? n : 1, sizeof(*srns));
	const char **jdocs = calloc(n ? n : 1, sizeof(*jdocs));
	size_t *jlens = calloc(n ? n : 1, sizeof(*jlens));
	struct svc_sorted *sorted = calloc(n ? n : 1, sizeof(*sorted));
	int any = s->cfg->core.journal.srn_format == OSAI_SRN_ANY;
	size_t i, k, bad = 0;
	uint64_t l = 0;
	int rc = 0;

	if (lsn)
		*lsn = 0;
	if (!recs || !srns || !jdocs || !jlens || !sorted) {
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct osa_error e;
		char why[256];

		if ((int64_t)lens[i] > s->cfg->core.journal.max_record_bytes) {
			svc_reject(
				rejects, i, NULL,
				"record of %zu bytes is over max_record_bytes "
				"(%lld)",
				lens[i],
				(long long)
					s->cfg->core.journal.max_record_bytes);
			bad++;
			continue;
		}
		if (osa_record_parse(docs[i], lens[i], NULL, &recs[i], &e)) {
			svc_reject(rejects, i, NULL, "%s", e.msg);
			bad++;
			continue;
		}
		srns[i] = osa_record_srn(recs[i]);
		if (osai_srn_check(srns[i], any, why, sizeof(why))) {
			svc_reject(rejects, i, srns[i],
				   "invalid srn \"%s\": %s%s", srns[i], why,
				   any ? "" : " (or set srn_format = \"any\")");
			bad++;
			continue;
		}
		/* Declared attributes of every index, before anything is
		 * written: a wrong type refuses the batch. */
		for (k = 0; k < s->n; k++) {
			const struct osa_attrs *a = &s->ix[k].cfg->attrs;

			if (a->n && osa_attrs_check(a, recs[i], &e))
				break;
		}
		if (k < s->n) {
			svc_reject(rejects, i, srns[i], "index %s: %s",
				   s->ix[k].cfg->name, e.msg);
			bad++;
			continue;
		}
		jdocs[i] = osa_record_json(recs[i], &jlens[i]);
		sorted[i].srn = srns[i];
		sorted[i].pos = i;
	}
	if (!bad) {
		qsort(sorted, n, sizeof(*sorted), svc_cmp_srn);
		for (i = 1; i < n; i++)
			if (!strcmp(sorted[i - 1].srn, sorted[i].srn)) {
				svc_reject(rejects, sorted[i].pos,
					   sorted[i].srn,
					   "srn %s appears twice in the batch "
					   "(positions %zu and %zu)",
					   sorted[i].srn, sorted[i - 1].pos,
					   sorted[i].pos);
				bad++;
			}
	}
	if (bad) {
		rc = osa_error_set(err, OSA_EINVAL,
				   "%zu of %zu records refused; nothing of "
				   "this batch was written",
				   bad, n);
		goto out;
	}
	rc = osai_journal_upsert(s->journal, n, srns, jdocs, jlens, &l, err);
	if (rc)
		goto out;
	if (lsn)
		*lsn = l;
	svc_fan_out(s, l, (const struct osa_record *const *)recs, n);
out:
	for (i = 0; recs && i < n; i++)
		osa_record_free(recs[i]);
	free(recs);
	free(srns);
	free(jdocs);
	free(jlens);
	free(sorted);
	return rc;
}

int osa_delete(struct osa_db *db, const char *const *srns, size_t n,
	       size_t *deleted, struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	uint64_t lsn = 0;
	size_t found = 0;
	int rc;

	rc = osai_journal_delete(s->journal, n, srns, &lsn, &found, err);
	if (deleted)
		*deleted = found;
	if (!rc && lsn)
		svc_fan_out(s, lsn, NULL, 0);
	return rc;
}

int osa_get(struct osa_db *db, const char *srn, char **json,
	    struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;

	return osai_journal_get(s->journal, srn, json, NULL, err);
}

/* ---- search ------------------------------------------------------------ */

struct svc_index *osai_service_index(struct osai_service *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->ix[i].cfg->name, name))
			return &s->ix[i];
	return NULL;
}

void osa_results_free(struct osa_results *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->v[i].srn);
		free(r->v[i].metadata);
		free(r->v[i].ranks);
	}
	free(r->v);
	for (i = 0; i < r->nfacets; i++) {
		free(r->facets[i].name);
		for (size_t k = 0; k < r->facets[i].n; k++)
			free(r->facets[i].v[k].value);
		free(r->facets[i].v);
	}
	free(r->facets);
	free(r->totals);
	free(r->totals_exact);
	free(r);
}

static char *svc_metadata(const char *doc, const char *vector_field)
{
	json_t *j;
	char *out;

	if (!doc)
		return strdup("{}");
	if (!vector_field)
		return strdup(doc);
	j = json_loads(doc, 0, NULL);
	if (!j)
		return strdup(doc);
	json_object_del(j, vector_field);
	out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return out;
}

/* Attribute numbers of the facet names of q; OSA_EINVAL naming an unknown
 * one (with a suggestion) or one asked twice. */
static int svc_facet_attrs(const struct svc_index *ix,
			   const struct osa_search *q, size_t *out,
			   struct osa_error *err)
{
	const struct osa_attrs *a = &ix->cfg->attrs;
	const char **names;
	const char *sug;
	size_t i, j;

	for (i = 0; i < q->nfacets; i++) {
		const char *f = q->facets[i] ? q->facets[i] : "";

		for (j = 0; j < a->n && strcmp(a->v[j].name, f); j++)
			;
		if (j < a->n) {
			out[i] = j;
			for (j = 0; j < i; j++)
				if (out[j] == out[i])
					return osa_error_set(
						err, OSA_EINVAL,
						"facets: \"%s\" is asked twice",
						f);
			continue;
		}
		if (!a->n)
			return osa_error_set(
				err, OSA_EINVAL,
				"facets: unknown attribute \"%.200s\": "
				"index %s declares no attributes "
				"(list them under `attributes` in "
				"its configuration)",
				f, ix->cfg->name);
		names = calloc(a->n, sizeof(*names));
		if (!names)
			return osa_error_set(err, OSA_ENOMEM, "out of memory");
		for (j = 0; j < a->n; j++)
			names[j] = a->v[j].name;
		sug = osai_suggest(f, names, a->n);
		osa_error_set(err, OSA_EINVAL,
			      "facets: unknown attribute \"%.200s\"%s%s%s of "
			      "index %s",
			      f, sug ? "; did you mean \"" : "", sug ? sug : "",
			      sug ? "\"?" : "", ix->cfg->name);
		free(names);
		return OSA_EINVAL;
	}
	return 0;
}

/*
 * One index's hits for q, [offset, offset + limit), with q's filter (parsed
 * against this index's attributes) and, when `facets`, its facets.  A
 * filter or facets sent to a backend without the cap are refused.
 */
static int svc_query_index(struct svc_index *ix, const struct osa_search *q,
			   size_t offset, size_t limit, bool facets,
			   struct osa_hits *hits, struct osa_error *err)
{
	const struct osa_backend *b = ix->cfg->backend;
	unsigned caps = osa_backend_caps(b);
	struct osa_query bq = { 0 };
	struct osa_filter *f = NULL;
	size_t *fa = NULL;
	int rc;

	if (q->filter && !(caps & OSA_BACKEND_CAP_FILTER))
		return osa_error_set(err, OSA_EINVAL,
				     "filter: index %s cannot filter: its "
				     "backend \"%s\" does not support filters "
				     "(search without `filter`, or use an "
				     "index of a backend that filters)",
				     ix->cfg->name, b->name);
	if (facets && q->nfacets && !(caps & OSA_BACKEND_CAP_FACETS))
		return osa_error_set(err, OSA_EINVAL,
				     "facets: index %s cannot count facets: "
				     "its backend \"%s\" does not support them",
				     ix->cfg->name, b->name);
	if (q->filter) {
		rc = osa_filter_parse(q->filter, &ix->cfg->attrs, &f, NULL,
				      err);
		if (rc)
			return rc;
	}
	if (facets && q->nfacets) {
		fa = calloc(q->nfacets, sizeof(*fa));
		if (!fa) {
			osa_filter_free(f);
			return osa_error_set(err, OSA_ENOMEM, "out of memory");
		}
		rc = svc_facet_attrs(ix, q, fa, err);
		if (rc) {
			free(fa);
			osa_filter_free(f);
			return rc;
		}
		bq.facets = fa;
		bq.nfacets = q->nfacets;
		bq.facet_limit = q->facet_limit ? q->facet_limit : 10;
	}
	bq.filter = f;
	bq.text = q->text;
	bq.vector = q->vector;
	bq.dim = q->dim;
	bq.limit = limit;
	bq.offset = offset;
	bq.ef_search = q->ef_search;
	pthread_rwlock_rdlock(&ix->life);
	if (!ix->be) {
		pthread_mutex_lock(&ix->mu);
		rc = osa_error_set(err, OSA_EDEGRADED, "index %s is %s%s%s",
				   ix->cfg->name,
				   osai_index_state_name(ix->state),
				   ix->why[0] ? ": " : "", ix->why);
		pthread_mutex_unlock(&ix->mu);
		pthread_rwlock_unlock(&ix->life);
		goto out;
	}
	rc = b->query(ix->be, &bq, hits, err);
	pthread_rwlock_unlock(&ix->life);
	if (rc) {
		if (err && strncmp(err->msg, "index ", 6))
			osa_error_prefix(err, "index %s: ", ix->cfg->name);
		osa_hits_free(hits);
	}
out:
	osa_filter_free(f);
	free(fa);
	return rc;
}

/* Move the facets of `hits` into r, named. */
static int svc_results_facets(const struct svc_index *ix, struct osa_hits *hits,
			      struct osa_results *r, struct osa_error *err)
{
	size_t i;

	if (!hits->facets.n)
		return 0;
	r->facets = calloc(hits->facets.n, sizeof(*r->facets));
	if (!r->facets)
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	r->facets_estimated = hits->facets.estimated;
	for (i = 0; i < hits->facets.n; i++) {
		struct osa_facet *f = &hits->facets.v[i];
		struct osa_result_facet *o = &r->facets[i];

		o->name = strdup(f->attr < ix->cfg->attrs.n
					 ? ix->cfg->attrs.v[f->attr].name
					 : "?");
		if (!o->name)
			return osa_error_set(err, OSA_ENOMEM, "out of memory");
		r->nfacets = i + 1;
		o->n = f->n;
		o->v = f->v;
		o->others = f->others;
		f->v = NULL;
		f->n = 0;
	}
	return 0;
}

/* The records of r->v[0..n) (srns set) as metadata, each without the
 * vector fields of `ixs`. */
static int svc_fill_metadata(struct osai_service *s, struct osa_results *r,
			     struct svc_index *const *ixs, size_t nix,
			     struct osa_error *err)
{
	const char **srns = calloc(r->n ? r->n : 1, sizeof(*srns));
	char **docs = calloc(r->n ? r->n : 1, sizeof(*docs));
	size_t i, k;
	int rc = 0;

	if (!srns || !docs) {
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < r->n; i++)
		srns[i] = r->v[i].srn;
	rc = osai_journal_get_many(s->journal, r->n, srns, docs, err);
	if (rc)
		goto out;
	for (i = 0; i < r->n; i++) {
		char *meta = NULL, *prev;

		for (k = 0; k < nix; k++) {
			if (!ixs[k]->vector_field && meta)
				continue;
			prev = meta;
			meta = svc_metadata(prev ? prev : docs[i],
					    ixs[k]->vector_field);
			free(prev);
			if (!meta)
				break;
		}
		r->v[i].metadata = meta;
		if (!meta) {
			rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
			break;
		}
	}
out:
	for (i = 0; docs && i < r->n; i++)
		free(docs[i]);
	free(srns);
	free(docs);
	return rc;
}

/* Fused search over q->indexes (see osa/osa.h). */
static int svc_hybrid(struct osai_service *s, const struct osa_search *q,
		      struct osa_results **out, struct osa_error *err)
{
	size_t n = q->nindexes, window = q->offset + q->limit, i, j, nf = 0;
	double k = q->rrf_k ? q->rrf_k : 60;
	struct svc_index **ixs = NULL;
	struct osa_hits *hits = NULL;
	struct osai_fused *fused = NULL;
	struct osa_results *r = NULL;
	int rc = 0;

	if (n > OSA_MAX_FUSED_INDEXES)
		return osa_error_set(err, OSA_ERANGE,
				     "indexes: %zu indexes; a hybrid search "
				     "fuses at most %d",
				     n, OSA_MAX_FUSED_INDEXES);
	if (!(k > 0 && k <= 1e6))
		return osa_error_set(err, OSA_ERANGE,
				     "rrf_k must be a number above 0 and at "
				     "most 1000000");
	if (q->nfacets)
		return osa_error_set(err, OSA_EINVAL,
				     "facets: facets count one index; a hybrid "
				     "search over %zu indexes cannot give "
				     "them (ask one index with facets)",
				     n);
	for (i = 0; q->weights && i < n; i++)
		if (!(q->weights[i] >= 0 && q->weights[i] <= 1e6))
			return osa_error_set(err, OSA_ERANGE,
					     "weights: weight %zu must be a "
					     "number from 0 to 1000000",
					     i + 1);
	ixs = calloc(n, sizeof(*ixs));
	hits = calloc(n, sizeof(*hits));
	r = calloc(1, sizeof(*r));
	if (!ixs || !hits || !r) {
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		ixs[i] = q->indexes[i] ? osai_service_index(s, q->indexes[i])
				       : NULL;
		if (!ixs[i]) {
			rc = osa_error_set(
				err, OSA_ENOTFOUND, "no index \"%.200s\"",
				q->indexes[i] ? q->indexes[i] : "(null)");
			goto out;
		}
		for (j = 0; j < i; j++)
			if (ixs[j] == ixs[i]) {
				rc = osa_error_set(err, OSA_EINVAL,
						   "indexes: \"%s\" is listed "
						   "twice",
						   q->indexes[i]);
				goto out;
			}
	}
	for (i = 0; i < n; i++) {
		rc = svc_query_index(ixs[i], q, 0, window, false, &hits[i],
				     err);
		if (rc)
			goto out;
	}
	rc = osai_rrf_fuse(hits, n, q->weights, k, &fused, &nf, err);
	if (rc)
		goto out;
	r->nindexes = n;
	r->totals = calloc(n, sizeof(*r->totals));
	r->totals_exact = calloc(n, sizeof(*r->totals_exact));
	if (!r->totals || !r->totals_exact) {
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		goto out;
	}
	r->total_exact = n == 1;
	for (i = 0; i < n; i++) {
		r->totals[i] = hits[i].total;
		r->totals_exact[i] = !hits[i].total_estimated;
		if (hits[i].total > r->total)
			r->total = hits[i].total;
		if (hits[i].total > window)
			r->has_more = true;
		if (hits[i].total_estimated)
			r->total_exact = false;
	}
	if (nf > window)
		r->has_more = true;
	r->n = nf > q->offset ? nf - q->offset : 0;
	if (r->n > q->limit)
		r->n = q->limit;
	r->v = calloc(r->n ? r->n : 1, sizeof(*r->v));
	if (!r->v) {
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < r->n; i++) {
		struct osai_fused *f = &fused[q->offset + i];

		r->v[i].srn = strdup(f->srn);
		r->v[i].score = f->score;
		r->v[i].ranks = f->ranks;
		f->ranks = NULL;
		if (!r->v[i].srn) {
			r->n = i + 1;
			rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
			goto out;
		}
	}
	rc = svc_fill_metadata(s, r, ixs, n, err);
out:
	osai_fused_free(fused, nf);
	for (i = 0; hits && i < n; i++)
		osa_hits_free(&hits[i]);
	free(hits);
	free(ixs);
	if (rc) {
		osa_results_free(r);
		r = NULL;
	}
	*out = r;
	return rc;
}

int osa_search(struct osa_db *db, const struct osa_search *q,
	       struct osa_results **out, struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	struct svc_index *ix;
	struct osa_hits hits = { 0 };
	struct osa_results *r;
	size_t i;
	int rc;

	*out = NULL;
	if (q->limit < 1 || q->limit > 100)
		return osa_error_set(err, OSA_ERANGE,
				     "limit must be 1 to 100, not %zu",
				     q->limit);
	if (!q->text && !q->vector)
		return osa_error_set(err, OSA_EINVAL,
				     "a search needs a text or a vector");
	if (q->nfacets && (!q->facets || q->nfacets > 64))
		return osa_error_set(err, OSA_ERANGE,
				     "facets: 1 to 64 attribute names");
	if (q->facet_limit > OSA_MAX_FACET_LIMIT)
		return osa_error_set(err, OSA_ERANGE,
				     "facet_limit must be 1 to %d, not %zu",
				     OSA_MAX_FACET_LIMIT, q->facet_limit);
	if (q->nindexes)
		return q->indexes ? svc_hybrid(s, q, out, err)
				  : osa_error_set(err, OSA_EINVAL,
						  "nindexes without indexes");
	ix = q->index ? osai_service_index(s, q->index) : NULL;
	if (!ix)
		return osa_error_set(err, OSA_ENOTFOUND, "no index \"%s\"",
				     q->index ? q->index : "(null)");
	/* One more than asked tells whether there are more. */
	rc = svc_query_index(ix, q, q->offset, q->limit + 1, true, &hits, err);
	if (rc)
		return rc;
	r = calloc(1, sizeof(*r));
	if (r)
		r->v = calloc(hits.n ? hits.n : 1, sizeof(*r->v));
	if (!r || !r->v) {
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		goto fail;
	}
	r->has_more = hits.n > q->limit;
	r->n = hits.n > q->limit ? q->limit : hits.n;
	r->total = hits.total;
	r->total_exact = !hits.total_estimated;
	for (i = 0; i < r->n; i++) {
		r->v[i].srn = hits.v[i].srn;
		hits.v[i].srn = NULL;
		r->v[i].score = hits.v[i].score;
	}
	rc = svc_results_facets(ix, &hits, r, err);
	if (!rc)
		rc = svc_fill_metadata(s, r, &ix, 1, err);
	if (rc)
		goto fail;
	osa_hits_free(&hits);
	*out = r;
	return 0;
fail:
	osa_results_free(r);
	osa_hits_free(&hits);
	return rc;
}

json_t *osai_results_json(const char *query, const char *index,
			  const struct osa_results *r)
{
	json_t *arr = json_array(), *doc;
	size_t i;

	for (i = 0; i < r->n; i++) {
		json_t *meta = json_loads(r->v[i].metadata, 0, NULL);

		json_array_append_new(
			arr, json_pack("{s:s, s:f, s:o}", "srn", r->v[i].srn,
				       "score", r->v[i].score, "metadata",
				       meta ? meta : json_object()));
	}
	doc = json_pack("{s:s, s:s, s:I, s:b, s:o}", "query",
			query ? query : "", "index", index, "total",
			(json_int_t)r->total, "has_more", r->has_more,
			"results", arr);
	if (doc) /* no match at all is an exact count */
		json_object_set_new(doc, "total_exact",
				    json_boolean(r->total_exact || !r->total));
	if (doc && r->nfacets) {
		json_t *fs = json_object();

		for (i = 0; fs && i < r->nfacets; i++) {
			const struct osa_result_facet *f = &r->facets[i];
			json_t *vals = json_array();

			for (size_t k = 0; vals && k < f->n; k++)
				json_array_append_new(
					vals,
					json_pack("{s:s, s:I}", "value",
						  f->v[k].value, "count",
						  (json_int_t)f->v[k].count));
			json_object_set_new(
				fs, f->name,
				json_pack("{s:o, s:I}", "values",
					  vals ? vals : json_array(), "others",
					  (json_int_t)f->others));
		}
		json_object_set_new(doc, "facets", fs ? fs : json_object());
		json_object_set_new(doc, "facets_estimated",
				    json_boolean(r->facets_estimated));
	}
	return doc;
}

json_t *osai_hybrid_json(const struct osa_search *q,
			 const struct osa_results *r)
{
	json_t *doc, *arr, *names = json_array(), *totals = json_object();
	char joined[1200] = "";
	size_t i, k, at = 0;

	for (i = 0; i < q->nindexes && at < sizeof(joined); i++) {
		int w = snprintf(joined + at, sizeof(joined) - at, "%s%s",
				 i ? "," : "", q->indexes[i]);

		if (w > 0)
			at += (size_t)w;
		json_array_append_new(names, json_string(q->indexes[i]));
		if (i < r->nindexes)
			json_object_set_new(totals, q->indexes[i],
					    json_pack("{s:I, s:b}", "total",
						      (json_int_t)r->totals[i],
						      "exact",
						      r->totals_exact[i]));
	}
	doc = osai_results_json(q->text, joined, r);
	if (!doc) {
		json_decref(names);
		json_decref(totals);
		return NULL;
	}
	json_object_set_new(doc, "indexes", names);
	json_object_set_new(doc, "fusion", json_string("rrf"));
	json_object_set_new(doc, "rrf_k", json_real(q->rrf_k ? q->rrf_k : 60));
	json_object_set_new(doc, "totals", totals);
	arr = json_object_get(doc, "results");
	for (i = 0; i < r->n && i < json_array_size(arr); i++) {
		json_t *ranks = json_object();

		for (k = 0; r->v[i].ranks && k < r->nindexes; k++)
			if (r->v[i].ranks[k])
				json_object_set_new(
					ranks, q->indexes[k],
					json_integer(
						(json_int_t)r->v[i].ranks[k]));
		json_object_set_new(json_array_get(arr, i), "ranks", ranks);
	}
	return doc;
}

/* ---- stats, health, maintenance --------------------------------------- */

/* One index's entry of stats and /health; *ready tells whether it is. */
static json_t *svc_index_json(struct svc_index *ix, int health, int *ready)
{
	uint64_t count = 0;
	json_t *o;

	pthread_rwlock_rdlock(&ix->life);
	if (ix->be)
		ix->cfg->backend->count(ix->be, &count);
	pthread_mutex_lock(&ix->mu);
	*ready = ix->state == SVC_READY;
	o = json_pack("{s:s, s:I, s:s, s:I, s:I}", "backend",
		      ix->cfg->backend->name, "count", (json_int_t)count,
		      "state", osai_index_state_name(ix->state), "applied_lsn",
		      (json_int_t)ix->applied, "checkpoint_lsn",
		      (json_int_t)ix->checkpointed);
	if (o && osa_backend_kernel(ix->cfg->backend))
		json_object_set_new(
			o, "kernel",
			json_string(osa_backend_kernel(ix->cfg->backend)));
	if (o && ix->why[0])
		json_object_set_new(o, "reason", json_string(ix->why));
	if (o && ix->skipped)
		json_object_set_new(o, "skipped_records",
				    json_integer((json_int_t)ix->skipped));
	if (o && ix->quarantined[0])
		json_object_set_new(o, "quarantined",
				    json_string(ix->quarantined));
	pthread_mutex_unlock(&ix->mu);
	if (o && health && ix->be && ix->cfg->backend->health) {
		struct osa_error e = { 0 };

		if (ix->cfg->backend->health(ix->be, &e))
			json_object_set_new(o, "problem", json_string(e.msg));
	}
	pthread_rwlock_unlock(&ix->life);
	return o;
}

static int svc_dump(json_t *doc, char **json, struct osa_error *err)
{
	*json = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)
		    : NULL;
	json_decref(doc);
	return *json ? 0 : osa_error_set(err, OSA_ENOMEM, "out of memory");
}

int osa_stats(struct osa_db *db, char **json, struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	uint64_t records = 0, last = 0, nlog = 0;
	json_t *doc, *ixs;
	size_t i;
	int rc, ready;

	rc = osai_journal_stats(s->journal, &records, &last, &nlog, err);
	if (rc)
		return rc;
	ixs = json_object();
	for (i = 0; i < s->n; i++)
		json_object_set_new(ixs, s->ix[i].cfg->name,
				    svc_index_json(&s->ix[i], 0, &ready));
	doc = json_pack("{s:I, s:I, s:I, s:I, s:o}", "records",
			(json_int_t)records, "last_lsn", (json_int_t)last,
			"log_entries", (json_int_t)nlog, "journal_bytes",
			(json_int_t)osai_journal_file_bytes(s->journal),
			"indexes", ixs);
	return svc_dump(doc, json, err);
}

/* nftw callback: add up the bytes of regular files. */
static __thread uint64_t svc_du_total;
static int svc_du_entry(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_F)
		svc_du_total += (uint64_t)st->st_size;
	return 0;
}

int osa_stats_get(struct osa_db *db, struct osa_db_stats **out,
		  struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	struct osa_db_stats *st;
	double now = svc_now();
	size_t i;
	int rc;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st)
		st->v = calloc(s->n ? s->n : 1, sizeof(*st->v));
	if (!st || !st->v) {
		free(st);
		return osa_error_set(err, OSA_ENOMEM, "stats: out of memory");
	}
	rc = osai_journal_stats(s->journal, &st->records, &st->last_lsn, NULL,
				err);
	if (rc) {
		osa_stats_free(st);
		return rc;
	}
	st->journal_bytes = osai_journal_file_bytes(s->journal);
	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];
		struct osa_index_stats *x = &st->v[i];
		uint64_t count = 0;

		x->name = ix->cfg->name;
		x->backend = ix->cfg->backend->name;
		pthread_rwlock_rdlock(&ix->life);
		if (ix->be)
			ix->cfg->backend->count(ix->be, &count);
		pthread_rwlock_unlock(&ix->life);
		x->count = count;
		pthread_mutex_lock(&ix->mu);
		x->state = osai_index_state_name(ix->state);
		x->degraded = ix->state == SVC_DEGRADED;
		x->applied_lsn = ix->applied;
		x->checkpoint_lsn = ix->checkpointed;
		x->skipped = ix->skipped;
		x->checkpoint_age = now - ix->ckpt_seen;
		pthread_mutex_unlock(&ix->mu);
		svc_du_total = 0;
		nftw(ix->dir, svc_du_entry, 16, FTW_PHYS);
		x->bytes = svc_du_total;
	}
	st->n = s->n;
	*out = st;
	return 0;
}

void osa_stats_free(struct osa_db_stats *s)
{
	if (!s)
		return;
	free(s->v);
	free(s);
}

int osa_health(struct osa_db *db, char **json, int *healthy,
	       struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	json_t *ixs = json_object();
	int ok = 1, ready;
	size_t i;

	/* Reports only: retrying a degraded index is the tick's work. */
	for (i = 0; i < s->n; i++) {
		json_object_set_new(ixs, s->ix[i].cfg->name,
				    svc_index_json(&s->ix[i], 1, &ready));
		if (!ready)
			ok = 0;
	}
	if (healthy)
		*healthy = ok;
	return svc_dump(json_pack("{s:s, s:o}", "status",
				  ok ? "ok" : "degraded", "indexes", ixs),
			json, err);
}

int osa_reindex(struct osa_db *db, const char *index, osa_progress_fn progress,
		void *ctx, struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	struct svc_index *ix = osai_service_index(s, index);
	struct osa_error terr;
	int rc;

	if (!ix)
		return osa_error_set(err, OSA_ENOTFOUND, "no index \"%s\"",
				     index);
	pthread_mutex_lock(&ix->wlock);
	rc = svc_rebuild_locked(s, ix, "requested", progress, ctx, err);
	pthread_mutex_unlock(&ix->wlock);
	/* The index is rebuilt either way; a log kept longer costs space. */
	if (!rc && svc_trim(s, &terr))
		osa_log(OSA_LOG_WARN, "log trim failed: %s", terr.msg);
	return rc;
}

/*
 * Catch every index up and checkpoint it, trim the log, then rewrite the
 * journal without free pages.  Any failure is returned, and the journal is
 * then left as it was.  Holds every index's write lock throughout: writes
 * wait, queries go on (the journal part blocks them only while it copies).
 */
int osa_compact(struct osa_db *db, struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	size_t i;
	int rc = 0;

	for (i = 0; i < s->n; i++)
		pthread_mutex_lock(&s->ix[i].wlock);
	for (i = 0; i < s->n && !rc; i++) {
		struct svc_index *ix = &s->ix[i];

		if (ix->state != SVC_READY)
			continue; /* keeps the log it needs; said by health */
		rc = svc_catch_up_locked(s, ix, 0, NULL, 0);
		if (rc)
			osa_error_set(err, rc, "index %s: %s", ix->cfg->name,
				      ix->why);
		else
			rc = svc_checkpoint_locked(s, ix, err);
	}
	if (!rc)
		rc = svc_trim(s, err);
	if (!rc)
		rc = osai_journal_compact(s->journal, err);
	for (i = 0; i < s->n; i++)
		pthread_mutex_unlock(&s->ix[i].wlock);
	return rc;
}

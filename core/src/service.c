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

/* ---- applying changes to an index ------------------------------------- */

static void svc_degrade(struct svc_index *ix, const struct osa_error *e)
{
	ix->state = SVC_DEGRADED;
	snprintf(ix->why, sizeof(ix->why), "%s", e->msg);
	ix->last_retry = svc_now();
	osa_log(OSA_LOG_ERROR, "index=%s state=degraded reason=\"%s\"",
		ix->cfg->name, e->msg);
}

/* Apply parsed records; per record on a record-level failure. */
static int svc_apply_upsert(struct svc_index *ix,
			    const struct osa_record *const *recs, size_t n,
			    struct osa_error *err)
{
	const struct osa_backend *b = ix->cfg->backend;
	size_t i;
	int rc;

	if (!n)
		return 0;
	rc = b->ingest_batch(ix->be, recs, n, err);
	if (!rc || !svc_record_level(rc))
		return rc;
	for (i = 0; i < n; i++) {
		rc = b->ingest_batch(ix->be, &recs[i], 1, err);
		if (!rc)
			continue;
		if (!svc_record_level(rc))
			return rc;
		ix->skipped++;
		osa_log(OSA_LOG_WARN,
			"index=%s srn=%s skipped: %s (the record is stored; "
			"this index leaves it out)",
			ix->cfg->name, osa_record_srn(recs[i]), err->msg);
	}
	osa_error_clear(err);
	return 0;
}

/* Parse journal documents and apply them. */
static int svc_apply_docs(struct svc_index *ix, size_t n,
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
			ix, (const struct osa_record *const *)recs, m, err);
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
		rc = svc_apply_upsert(ix, r->own, r->own_n, r->err);
	else
		rc = svc_apply_docs(ix, n, srns, docs, lens, r->err);
	if (rc)
		return rc;
	ix->applied = lsn;
	ix->ops_since_ckpt++;
	return 0;
}

static void svc_trim(struct osai_service *s);

/* Checkpoint one index (write lock held). */
static int svc_checkpoint_locked(struct osai_service *s, struct svc_index *ix,
				 struct osa_error *err)
{
	const struct osa_backend *b = ix->cfg->backend;
	struct osai_istate st;
	int rc = 0;

	if (!ix->be || ix->state == SVC_DEGRADED)
		return 0;
	if (b->checkpoint && ix->checkpointed != ix->applied) {
		rc = b->checkpoint(ix->be, ix->applied, err);
		if (rc) {
			osa_log(OSA_LOG_ERROR, "index=%s checkpoint failed: %s",
				ix->cfg->name, err->msg);
			return rc;
		}
		ix->checkpointed = ix->applied;
	}
	st.applied_lsn = ix->applied;
	st.checkpoint_lsn = ix->checkpointed;
	st.config_hash = ix->hash;
	st.skipped = ix->skipped;
	rc = osai_journal_put_state(s->journal, ix->cfg->name, &st, err);
	ix->ops_since_ckpt = 0;
	ix->last_ckpt = svc_now();
	return rc;
}

/* Bring one index up to the journal (write lock held). */
static int svc_catch_up_locked(struct osai_service *s, struct svc_index *ix,
			       uint64_t own_lsn,
			       const struct osa_record *const *own,
			       size_t own_n)
{
	struct osa_error err = { 0 };
	struct svc_replay r = { ix, own_lsn, own, own_n, &err, UINT64_MAX };
	uint64_t last = 0;
	int rc;

	if (!ix->be || ix->state == SVC_DEGRADED || ix->state == SVC_LOADING)
		return 0;
	osai_journal_stats(s->journal, NULL, &last, NULL, NULL);
	if (ix->applied >= last)
		return 0;
	r.stop = last;
	rc = osai_journal_scan_log(s->journal, ix->applied, 0, svc_replay_cb,
				   &r, &err);
	if (rc < 0) {
		svc_degrade(ix, &err);
		return rc;
	}
	if (ix->ops_since_ckpt >=
		    (uint64_t)s->cfg->core.journal.checkpoint.ops ||
	    svc_now() - ix->last_ckpt >=
		    s->cfg->core.journal.checkpoint.seconds) {
		svc_checkpoint_locked(s, ix, &err);
		svc_trim(s);
	}
	return 0;
}

/* Smallest LSN any index still needs from the log. */
static void svc_trim(struct osai_service *s)
{
	uint64_t keep = UINT64_MAX;
	struct osa_error err;
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];

		/* Indexes without snapshots rebuild from records at open;
		 * degraded ones need the log from where they stopped. */
		if (!ix->cfg->backend->checkpoint && ix->state == SVC_READY)
			continue;
		if (ix->state == SVC_DEGRADED || ix->state == SVC_LOADING)
			keep = ix->applied < keep ? ix->applied : keep;
		else
			keep = ix->checkpointed < keep ? ix->checkpointed
						       : keep;
	}
	if (keep == UINT64_MAX)
		osai_journal_stats(s->journal, NULL, &keep, NULL, NULL);
	if (keep > 0 && osai_journal_trim(s->journal, keep + 1, &err))
		osa_log(OSA_LOG_WARN, "log trim failed: %s", err.msg);
}

struct svc_rebuild {
	struct svc_index *ix;
	struct osa_error *err;
	uint64_t done, total;
	osa_progress_fn progress;
	void *pctx;
};

static int svc_rebuild_cb(void *ctx, size_t n, const char *const *srns,
			  const char *const *docs, const size_t *lens)
{
	struct svc_rebuild *r = ctx;
	int rc = svc_apply_docs(r->ix, n, srns, docs, lens, r->err);

	r->done += n;
	if (r->progress)
		r->progress(r->pctx, r->ix->cfg->name, r->done, r->total);
	return rc;
}

/* Open the backend fresh (after clearing its directory) and load every
 * record (write lock held). */
static int svc_rebuild_locked(struct osai_service *s, struct svc_index *ix,
			      const char *why, osa_progress_fn progress,
			      void *pctx, struct osa_error *err)
{
	const struct osa_backend *b = ix->cfg->backend;
	struct osa_backend_args args = { ix->cfg->name, ix->cfg->config,
					 ix->dir };
	struct svc_rebuild r = { ix, err, 0, 0, progress, pctx };
	uint64_t start_lsn = 0, lsn, damaged = 0;
	double t0 = svc_now();
	int rc;

	osa_log(OSA_LOG_INFO, "index=%s rebuilding from the journal: %s",
		ix->cfg->name, why);
	pthread_rwlock_wrlock(&ix->life);
	if (ix->be)
		b->close(ix->be);
	ix->be = NULL;
	ix->state = SVC_REBUILDING;
	pthread_rwlock_unlock(&ix->life);
	/* The directory holds only derived data of ours. */
	{
		DIR *d = opendir(ix->dir);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			char path[4400];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", ix->dir,
				 e->d_name);
			unlink(path);
		}
		if (d)
			closedir(d);
	}
	osai_journal_stats(s->journal, &r.total, &start_lsn, NULL, NULL);
	rc = b->open(&args, &ix->be, &lsn, err);
	if (rc) {
		ix->be = NULL;
		svc_degrade(ix, err);
		return rc;
	}
	ix->skipped = 0;
	rc = osai_journal_scan_records(s->journal, 1000, svc_rebuild_cb, &r,
				       &damaged, err);
	if (rc) {
		svc_degrade(ix, err);
		return rc;
	}
	/* Damaged records were reported by the journal, each by name. */
	ix->skipped += damaged;
	ix->applied = start_lsn;
	ix->checkpointed = 0;
	ix->state = SVC_READY;
	ix->why[0] = '\0';
	svc_catch_up_locked(s, ix, 0, NULL, 0);
	rc = svc_checkpoint_locked(s, ix, err);
	osa_log(OSA_LOG_INFO, "index=%s rebuilt records=%llu seconds=%.2f",
		ix->cfg->name, (unsigned long long)r.done, svc_now() - t0);
	return rc;
}

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
	snprintf(ix->quarantined, sizeof(ix->quarantined), "%s", dest);
	osa_log(OSA_LOG_WARN,
		"index=%s unreadable data moved to %s (%s); rebuilding from "
		"the journal",
		ix->cfg->name, dest, why);
	osa_mkdirs(ix->dir, &err);
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
 * Open one index: snapshot + log replay, or a rebuild.  Index data the
 * journal cannot explain (a snapshot ahead of it) fills `fatal` and returns
 * OSA_ECORRUPT when `fatal` is given (at open), and degrades the index
 * otherwise; with OSA_OPEN_REBUILD_FROM_JOURNAL the old files go to
 * quarantine and the index is rebuilt.
 */
static int svc_open_index(struct osai_service *s, struct svc_index *ix,
			  osa_progress_fn progress, void *pctx,
			  struct osa_error *fatal)
{
	const struct osa_backend *b = ix->cfg->backend;
	struct osa_backend_args args = { ix->cfg->name, ix->cfg->config,
					 ix->dir };
	struct osai_istate st = { 0 };
	struct osa_error err = { 0 };
	uint64_t lsn = 0, last = 0, nlog = 0;
	int have_state, rc;

	pthread_mutex_lock(&ix->wlock);
	if (osa_mkdirs(ix->dir, &err)) {
		svc_degrade(ix, &err);
		pthread_mutex_unlock(&ix->wlock);
		return err.code;
	}
	svc_clean_tmp(ix->dir);
	if (s->open_flags & OSA_OPEN_REBUILD_FROM_JOURNAL) {
		if (svc_dir_has_files(ix->dir))
			svc_quarantine(s, ix, "--rebuild-from-journal");
		rc = svc_rebuild_locked(s, ix,
					"requested (--rebuild-from-journal)",
					progress, pctx, &err);
		pthread_mutex_unlock(&ix->wlock);
		return rc;
	}
	rc = osai_journal_get_state(s->journal, ix->cfg->name, &st, &err);
	have_state = !rc;
	if (rc == OSA_ECORRUPT) {
		/* Its config hash and LSNs cannot be trusted: start over. */
		osa_log(OSA_LOG_ERROR, "index=%s %s", ix->cfg->name, err.msg);
		rc = svc_rebuild_locked(s, ix, "its journal state is damaged",
					progress, pctx, &err);
		pthread_mutex_unlock(&ix->wlock);
		return rc;
	}
	if (have_state && st.config_hash != ix->hash) {
		rc = svc_rebuild_locked(s, ix,
					"its configuration changed what it "
					"stores",
					progress, pctx, &err);
		pthread_mutex_unlock(&ix->wlock);
		return rc;
	}
	rc = b->open(&args, &ix->be, &lsn, &err);
	if (rc == OSA_ECORRUPT || rc == OSA_EVERSION) {
		ix->be = NULL;
		svc_quarantine(s, ix, err.msg);
		rc = svc_rebuild_locked(s, ix, "its snapshot was unreadable",
					progress, pctx, &err);
		pthread_mutex_unlock(&ix->wlock);
		return rc;
	}
	if (rc) {
		ix->be = NULL;
		svc_degrade(ix, &err);
		pthread_mutex_unlock(&ix->wlock);
		return rc;
	}
	osai_journal_stats(s->journal, NULL, &last, &nlog, NULL);
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
		b->close(ix->be);
		ix->be = NULL;
		if (fatal)
			*fatal = err;
		else
			svc_degrade(ix, &err);
		pthread_mutex_unlock(&ix->wlock);
		return OSA_ECORRUPT;
	}
	ix->applied = lsn;
	ix->checkpointed = lsn;
	ix->state = SVC_READY;
	if (have_state)
		ix->skipped = st.skipped;
	if (!b->checkpoint && last > 0) {
		rc = svc_rebuild_locked(s, ix, "it keeps no snapshots",
					progress, pctx, &err);
	} else if (lsn < last && last - nlog > lsn) {
		/* The log was trimmed past what the snapshot covers. */
		rc = svc_rebuild_locked(s, ix,
					"the log no longer reaches its "
					"snapshot",
					progress, pctx, &err);
	} else {
		if (lsn < last)
			osa_log(OSA_LOG_INFO,
				"index=%s replaying changes %llu..%llu",
				ix->cfg->name, (unsigned long long)lsn + 1,
				(unsigned long long)last);
		rc = svc_catch_up_locked(s, ix, 0, NULL, 0);
		if (!rc && !have_state)
			rc = svc_checkpoint_locked(s, ix, &err);
	}
	pthread_mutex_unlock(&ix->wlock);
	return rc;
}

/* Retry degraded indexes (at most every 5 s each). */
void osai_service_retry(struct osai_service *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];

		if (ix->state != SVC_DEGRADED || svc_now() - ix->last_retry < 5)
			continue;
		if (pthread_mutex_trylock(&ix->wlock))
			continue;
		ix->last_retry = svc_now();
		osa_log(OSA_LOG_INFO, "index=%s retrying", ix->cfg->name);
		if (ix->be) {
			ix->state = SVC_READY;
			svc_catch_up_locked(s, ix, 0, NULL, 0);
			pthread_mutex_unlock(&ix->wlock);
		} else {
			pthread_mutex_unlock(&ix->wlock);
			ix->state = SVC_LOADING;
			svc_open_index(s, ix, NULL, NULL, NULL);
		}
	}
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

		ix->cfg = ic;
		pthread_mutex_init(&ix->wlock, NULL);
		pthread_rwlock_init(&ix->life, NULL);
		ix->state = SVC_LOADING;
		ix->hash = svc_fnv(0xcbf29ce484222325ull, ic->backend->name,
				   strlen(ic->backend->name) + 1);
		ix->hash = svc_hash_fields(ic->backend->schema, ic->config, 0,
					   ix->hash);
		ix->vector_field =
			svc_find_string(ic->backend->schema, ic->config,
					"embedding", "vector_field");
		ix->last_ckpt = svc_now();
		if (asprintf(&ix->dir, "%s/indexes/%s", s->data_dir, ic->name) <
		    0) {
			ix->dir = NULL;
			osai_service_close(s);
			return osa_error_set(err, OSA_ENOMEM, "out of memory");
		}
	}
	for (i = 0; i < s->n; i++) {
		struct osa_error fatal = { 0 };

		rc = svc_open_index(s, &s->ix[i], opt ? opt->progress : NULL,
				    opt ? opt->progress_ctx : NULL, &fatal);
		if (fatal.code) {
			if (err)
				*err = fatal;
			osai_service_close(s);
			return fatal.code;
		}
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
	for (i = 0; s->ix && i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];

		if (!ix->cfg)
			continue;
		pthread_mutex_lock(&ix->wlock);
		if (ix->be && ix->state == SVC_READY) {
			svc_catch_up_locked(s, ix, 0, NULL, 0);
			svc_checkpoint_locked(s, ix, &err);
		}
		if (ix->be)
			ix->cfg->backend->close(ix->be);
		ix->be = NULL;
		pthread_mutex_unlock(&ix->wlock);
	}
	if (s->journal && s->ix)
		svc_trim(s);
	for (i = 0; s->ix && i < s->n; i++) {
		if (!s->ix[i].cfg)
			continue;
		pthread_mutex_destroy(&s->ix[i].wlock);
		pthread_rwlock_destroy(&s->ix[i].life);
		free(s->ix[i].dir);
	}
	free(s->ix);
	osai_journal_close(s->journal);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
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

/* Apply the committed change at `lsn` (our own parsed records) to every
 * index, then anything else pending. */
static void svc_fan_out(struct osai_service *s, uint64_t lsn,
			const struct osa_record *const *recs, size_t n)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];

		pthread_mutex_lock(&ix->wlock);
		svc_catch_up_locked(s, ix, lsn, recs, n);
		pthread_mutex_unlock(&ix->wlock);
	}
	osai_service_retry(s);
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
	size_t i, bad = 0;
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
	}
	free(r->v);
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

int osa_search(struct osa_db *db, const struct osa_search *q,
	       struct osa_results **out, struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	struct svc_index *ix;
	struct osa_query bq = { 0 };
	struct osa_hits hits = { 0 };
	struct osa_results *r;
	const char **srns = NULL;
	char **docs = NULL;
	size_t i;
	int rc;

	*out = NULL;
	ix = q->index ? osai_service_index(s, q->index) : NULL;
	if (!ix)
		return osa_error_set(err, OSA_ENOTFOUND, "no index \"%s\"",
				     q->index ? q->index : "(null)");
	if (q->limit < 1 || q->limit > 100)
		return osa_error_set(err, OSA_ERANGE,
				     "limit must be 1 to 100, not %zu",
				     q->limit);
	if (!q->text && !q->vector)
		return osa_error_set(err, OSA_EINVAL,
				     "a search needs a text or a vector");
	bq.text = q->text;
	bq.vector = q->vector;
	bq.dim = q->dim;
	/* One more than asked tells whether there are more. */
	bq.limit = q->limit + 1;
	bq.offset = q->offset;
	bq.ef_search = q->ef_search;
	pthread_rwlock_rdlock(&ix->life);
	if (!ix->be) {
		rc = osa_error_set(err, OSA_EDEGRADED, "index %s is %s%s%s",
				   ix->cfg->name,
				   osai_index_state_name(ix->state),
				   ix->why[0] ? ": " : "", ix->why);
		pthread_rwlock_unlock(&ix->life);
		return rc;
	}
	rc = ix->cfg->backend->query(ix->be, &bq, &hits, err);
	pthread_rwlock_unlock(&ix->life);
	if (rc) {
		if (err && strncmp(err->msg, "index ", 6))
			osa_error_prefix(err, "index %s: ", ix->cfg->name);
		osa_hits_free(&hits);
		return rc;
	}
	r = calloc(1, sizeof(*r));
	if (r)
		r->v = calloc(hits.n ? hits.n : 1, sizeof(*r->v));
	srns = calloc(hits.n ? hits.n : 1, sizeof(*srns));
	docs = calloc(hits.n ? hits.n : 1, sizeof(*docs));
	if (!r || !r->v || !srns || !docs) {
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		goto fail;
	}
	r->has_more = hits.n > q->limit;
	r->n = hits.n > q->limit ? q->limit : hits.n;
	r->total = hits.total;
	for (i = 0; i < r->n; i++)
		srns[i] = hits.v[i].srn;
	rc = osai_journal_get_many(s->journal, r->n, srns, docs, err);
	if (rc)
		goto fail;
	for (i = 0; i < r->n; i++) {
		r->v[i].srn = hits.v[i].srn;
		hits.v[i].srn = NULL;
		r->v[i].score = hits.v[i].score;
		r->v[i].metadata = svc_metadata(docs[i], ix->vector_field);
		free(docs[i]);
		if (!r->v[i].metadata) {
			r->n = i + 1;
			rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
			goto fail;
		}
	}
	free(srns);
	free(docs);
	osa_hits_free(&hits);
	*out = r;
	return 0;
fail:
	osa_results_free(r);
	free(srns);
	free(docs);
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
	return doc;
}

/* ---- stats, health, maintenance --------------------------------------- */

static json_t *svc_index_json(struct svc_index *ix, int health)
{
	uint64_t count = 0;
	json_t *o;

	pthread_rwlock_rdlock(&ix->life);
	if (ix->be)
		ix->cfg->backend->count(ix->be, &count);
	o = json_pack("{s:s, s:I, s:s, s:I, s:I}", "backend",
		      ix->cfg->backend->name, "count", (json_int_t)count,
		      "state", osai_index_state_name(ix->state), "applied_lsn",
		      (json_int_t)ix->applied, "checkpoint_lsn",
		      (json_int_t)ix->checkpointed);
	if (o && osa_backend_kernel(ix->cfg->backend))
		json_object_set_new(
			o, "kernel",
			json_string(osa_backend_kernel(ix->cfg->backend)));
	if (o && health && ix->be && ix->cfg->backend->health) {
		struct osa_error e = { 0 };

		if (ix->cfg->backend->health(ix->be, &e))
			json_object_set_new(o, "problem", json_string(e.msg));
	}
	pthread_rwlock_unlock(&ix->life);
	if (o && ix->why[0])
		json_object_set_new(o, "reason", json_string(ix->why));
	if (o && ix->skipped)
		json_object_set_new(o, "skipped_records",
				    json_integer((json_int_t)ix->skipped));
	if (o && ix->quarantined[0])
		json_object_set_new(o, "quarantined",
				    json_string(ix->quarantined));
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
	int rc;

	rc = osai_journal_stats(s->journal, &records, &last, &nlog, err);
	if (rc)
		return rc;
	ixs = json_object();
	for (i = 0; i < s->n; i++)
		json_object_set_new(ixs, s->ix[i].cfg->name,
				    svc_index_json(&s->ix[i], 0));
	doc = json_pack("{s:I, s:I, s:I, s:I, s:o}", "records",
			(json_int_t)records, "last_lsn", (json_int_t)last,
			"log_entries", (json_int_t)nlog, "journal_bytes",
			(json_int_t)osai_journal_file_bytes(s->journal),
			"indexes", ixs);
	return svc_dump(doc, json, err);
}

int osa_health(struct osa_db *db, char **json, int *healthy,
	       struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	json_t *ixs = json_object();
	int ok = 1;
	size_t i;

	osai_service_retry(s);
	for (i = 0; i < s->n; i++) {
		json_object_set_new(ixs, s->ix[i].cfg->name,
				    svc_index_json(&s->ix[i], 1));
		if (s->ix[i].state != SVC_READY)
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
	int rc;

	if (!ix)
		return osa_error_set(err, OSA_ENOTFOUND, "no index \"%s\"",
				     index);
	pthread_mutex_lock(&ix->wlock);
	rc = svc_rebuild_locked(s, ix, "requested", progress, ctx, err);
	pthread_mutex_unlock(&ix->wlock);
	if (!rc)
		svc_trim(s);
	return rc;
}

int osa_compact(struct osa_db *db, struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	size_t i;
	int rc = 0;

	for (i = 0; i < s->n; i++) {
		pthread_mutex_lock(&s->ix[i].wlock);
		svc_catch_up_locked(s, &s->ix[i], 0, NULL, 0);
		svc_checkpoint_locked(s, &s->ix[i], err);
	}
	svc_trim(s);
	rc = osai_journal_compact(s->journal, err);
	for (i = 0; i < s->n; i++)
		pthread_mutex_unlock(&s->ix[i].wlock);
	return rc;
}

void osai_service_tick(struct osai_service *s)
{
	struct osa_error err;
	size_t i;
	int trimmed = 0;

	osai_service_retry(s);
	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];

		if (svc_now() - ix->last_ckpt <
			    s->cfg->core.journal.checkpoint.seconds ||
		    ix->checkpointed == ix->applied ||
		    pthread_mutex_trylock(&ix->wlock))
			continue;
		svc_checkpoint_locked(s, ix, &err);
		pthread_mutex_unlock(&ix->wlock);
		trimmed = 1;
	}
	if (trimmed)
		svc_trim(s);
}

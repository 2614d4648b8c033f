/* SPDX-License-Identifier: MIT */
/*
 * index.c - one index's life: its state, opening its backend, replaying the
 * log into it, rebuilding it from the records and quarantining its files.
 */
#include <xxhash.h>

#include "svc.h"

static const char *const svc_state_names[] = { "loading", "ready", "degraded",
					       "rebuilding" };

const char *osai_index_state_name(int state)
{
	return state >= 0 && state <= SVC_REBUILDING ? svc_state_names[state]
						     : "unknown";
}

static int svc_record_level(int code)
{
	return code == OSA_EINVAL || code == OSA_ERANGE ||
	       code == OSA_ENOFEATURES || code == OSA_ETYPE ||
	       code == OSA_ENOTFOUND || code == OSA_ELIMIT;
}

/* Chain `n` bytes at `p` into the hash `h` (XXH3, seeded with `h`). */
uint64_t osai_svc_hash(uint64_t h, const void *p, size_t n)
{
	return XXH3_64bits_withSeed(p, n, h);
}

uint64_t osai_svc_hash_fields(const struct osa_schema *s, const void *base,
			      int all, uint64_t h)
{
	const struct osa_field *f;

	for (f = s->fields; f && f->name; f++) {
		const char *p = (const char *)base + f->offset;
		int stored = all || (f->flags & OSA_F_STORED);
		size_t i;

		if (f->type == OSA_T_GROUP) {
			h = osai_svc_hash_fields(f->group, p, stored, h);
			continue;
		}
		if (!stored)
			continue;
		h = osai_svc_hash(h, f->name, strlen(f->name) + 1);
		switch (f->type) {
		case OSA_T_BOOL:
			h = osai_svc_hash(h, p, sizeof(bool));
			break;
		case OSA_T_INT:
		case OSA_T_ENUM:
			h = osai_svc_hash(h, p, sizeof(int));
			break;
		case OSA_T_INT64:
			h = osai_svc_hash(h, p, sizeof(int64_t));
			break;
		case OSA_T_DOUBLE:
			h = osai_svc_hash(h, p, sizeof(double));
			break;
		case OSA_T_STRING:
		case OSA_T_PATH: {
			const char *v = *(char *const *)p;

			h = osai_svc_hash(h, v ? v : "\x01",
					  v ? strlen(v) + 1 : 1);
			break;
		}
		case OSA_T_STRLIST: {
			const struct osa_strlist *l = (const void *)p;

			for (i = 0; i < l->n; i++)
				h = osai_svc_hash(h, l->v[i],
						  strlen(l->v[i]) + 1);
			h = osai_svc_hash(h, &l->n, sizeof(l->n));
			break;
		}
		default:
			break;
		}
	}
	return h;
}

/* The string at "group.key" of a filled config, or NULL. */
const char *osai_svc_find_string(const struct osa_schema *s, const void *cfg,
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

/* Set the state (and reason); wlock held. */
void osai_svc_set_state(struct svc_index *ix, int state, const char *why)
{
	pthread_mutex_lock(&ix->mu);
	ix->state = state;
	snprintf(ix->why, sizeof(ix->why), "%s", why ? why : "");
	pthread_mutex_unlock(&ix->mu);
}

/* The state, for a thread that does not hold wlock. */
int osai_svc_get_state(struct svc_index *ix)
{
	int state;

	pthread_mutex_lock(&ix->mu);
	state = ix->state;
	pthread_mutex_unlock(&ix->mu);
	return state;
}

/* Record the LSNs; wlock held. */
void osai_svc_set_lsns(struct svc_index *ix, uint64_t applied,
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
void osai_svc_close_be(struct svc_index *ix)
{
	void *old = svc_swap_be(ix, NULL);

	if (old)
		ix->cfg->backend->close(old);
}

static void svc_degrade(struct svc_index *ix, const struct osa_error *e)
{
	osai_svc_set_state(ix, SVC_DEGRADED, e->msg);
	ix->last_retry = osai_svc_now();
	osa_log(OSA_LOG_ERROR, "index=%s state=degraded reason=\"%s\"",
		ix->cfg->name, e->msg);
}

/*
 * Apply parsed records to `be`; per record on a record-level failure.
 * `lsn`: the change of the log they are (a backend with ingest_batch_at
 * stores it with them), or 0 for records that are not one (a rebuild).
 */
static int svc_apply_upsert(struct svc_index *ix, void *be,
			    const struct osa_record *const *recs, size_t n,
			    uint64_t lsn, struct osa_error *err)
{
	const struct osa_backend *b = ix->cfg->backend;
	int at = lsn && osa_backend_has_lsn_writes(b);
	size_t i;
	int rc;

	if (!n && !at)
		return 0;
	rc = at ? b->ingest_batch_at(be, recs, n, lsn, err)
		: b->ingest_batch(be, recs, n, err);
	if (!rc || !svc_record_level(rc) || !n)
		return rc;
	/* One record at a time: each call is part of the change only, so
	 * none stores its LSN; the change's LSN goes alone at the end. */
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
	return at ? b->ingest_batch_at(be, NULL, 0, lsn, err) : 0;
}

/* Parse journal documents and apply them to `be` (`lsn` as above). */
static int svc_apply_docs(struct svc_index *ix, void *be, size_t n,
			  const char *const *srns, const char *const *docs,
			  const size_t *lens, uint64_t lsn,
			  struct osa_error *err)
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
		rc = svc_apply_upsert(ix, be,
				      (const struct osa_record *const *)recs, m,
				      lsn, err);
	for (i = 0; i < m; i++)
		osa_record_free(recs[i]);
	free(recs);
	return rc;
}

static int svc_replay_cb(void *ctx, uint64_t lsn, int op, size_t n,
			 const char *const *srns, const char *const *docs,
			 const size_t *lens)
{
	struct svc_replay *r = ctx;
	struct svc_index *ix = r->ix;
	const struct osa_backend *b = ix->cfg->backend;
	int rc;

	if (lsn <= ix->applied)
		return 0;
	if (lsn > r->stop)
		return 1; /* caught up to where we were asked */
	if (op == OSAI_OP_DELETE && osa_backend_has_lsn_writes(b))
		rc = b->remove_at(ix->be, srns, n, lsn, r->err);
	else if (op == OSAI_OP_DELETE)
		rc = b->remove(ix->be, srns, n, r->err);
	else if (lsn == r->own_lsn && r->own)
		rc = svc_apply_upsert(ix, ix->be, r->own, r->own_n, lsn,
				      r->err);
	else
		rc = svc_apply_docs(ix, ix->be, n, srns, docs, lens, lsn,
				    r->err);
	if (rc) {
		r->be_code = rc;
		return rc;
	}
	pthread_mutex_lock(&ix->mu);
	ix->applied = lsn;
	pthread_mutex_unlock(&ix->mu);
	ix->ops_since_ckpt++;
	ix->recs_since_ckpt += n;
	return 0;
}

/* Bring one index up to the journal (wlock held).  A failure degrades the
 * index and is returned. */
int osai_svc_catch_up_locked(struct osai_service *s, struct svc_index *ix,
			     uint64_t own_lsn,
			     const struct osa_record *const *own, size_t own_n)
{
	struct osa_error err = { 0 };
	struct svc_replay r = { ix, own_lsn, own, own_n, &err, UINT64_MAX, 0 };
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
		/* The backend's own files are damaged: the tick rebuilds. */
		if (r.be_code == OSA_ECORRUPT)
			ix->damaged = 1;
		svc_degrade(ix, &err);
		return rc;
	}
	return 0;
}

/* Mark the index ready, then catch up with what was committed while it was
 * not (a writer skips an index that is not ready). */
int osai_svc_ready_locked(struct osai_service *s, struct svc_index *ix)
{
	osai_svc_set_state(ix, SVC_READY, NULL);
	return osai_svc_catch_up_locked(s, ix, 0, NULL, 0);
}

static int svc_rebuild_cb(void *ctx, size_t n, const char *const *srns,
			  const char *const *docs, const size_t *lens)
{
	struct svc_rebuild *r = ctx;
	/* The records as they are now: no one change of the log (0). */
	int rc = svc_apply_docs(r->ix, r->be, n, srns, docs, lens, 0, r->err);

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
int osai_svc_rebuild_locked(struct osai_service *s, struct svc_index *ix,
			    const char *why, osa_progress_fn progress,
			    void *pctx, struct osa_error *err)
{
	const struct osa_backend *b = ix->cfg->backend;
	struct osa_backend_args args = { ix->cfg->name, ix->cfg->config,
					 ix->dir, &ix->cfg->attrs };
	struct svc_rebuild r = { ix, NULL, err, 0, 0, progress, pctx };
	uint64_t start_lsn = 0, lsn, damaged = 0;
	double t0 = osai_svc_now();
	int rc;

	osa_log(OSA_LOG_INFO, "index=%s rebuilding from the journal: %s",
		ix->cfg->name, why);
	osai_svc_set_state(ix, SVC_REBUILDING, NULL);
	osai_svc_close_be(ix);
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
	osai_svc_set_lsns(ix, start_lsn, 0);
	ix->ops_since_ckpt = 0;
	ix->recs_since_ckpt = r.done;
	svc_swap_be(ix, r.be);
	rc = osai_svc_ready_locked(s, ix);
	if (!rc)
		rc = osai_svc_checkpoint_locked(s, ix, err);
	else
		osa_error_set(err, rc,
			      "index %s: catching up after the rebuild "
			      "failed: %s",
			      ix->cfg->name, ix->why);
	osa_log(OSA_LOG_INFO, "index=%s rebuilt records=%llu seconds=%.2f",
		ix->cfg->name, (unsigned long long)r.done, osai_svc_now() - t0);
	return rc;
}

/* Move an unreadable index directory aside (wlock held, no instance). */
static void svc_quarantine(struct osai_service *s, struct svc_index *ix,
			   const char *why)
{
	char qdir[4200], dest[4400];
	struct osa_error err;
	int moved = -1, k;
	long now = (long)time(NULL);

	snprintf(qdir, sizeof(qdir), "%s/quarantine", s->data_dir);
	snprintf(dest, sizeof(dest), "%s/%s.%ld", qdir, ix->cfg->name, now);
	if (!osa_mkdirs(qdir, &err)) {
		/* A second quarantine of the index within the same second
		 * gets NAME.TIME.1, .2, ...: never onto an earlier one. */
		moved = rename(ix->dir, dest);
		for (k = 1; moved && (errno == EEXIST || errno == ENOTEMPTY) &&
			    k < 1000;
		     k++) {
			snprintf(dest, sizeof(dest), "%s/%s.%ld.%d", qdir,
				 ix->cfg->name, now, k);
			moved = rename(ix->dir, dest);
		}
	}
	if (moved) {
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

/*
 * The backend found its own files damaged after open (ix->damaged): close
 * it, move the folder to quarantine, rebuild from the journal (wlock held).
 */
void osai_svc_repair_locked(struct osai_service *s, struct svc_index *ix)
{
	struct osa_error err = { 0 };
	char why[OSA_ERROR_MSG_MAX];

	pthread_mutex_lock(&ix->mu);
	snprintf(why, sizeof(why), "%s",
		 ix->why[0] ? ix->why : "the backend found its files damaged");
	pthread_mutex_unlock(&ix->mu);
	ix->damaged = 0;
	osai_svc_close_be(ix);
	svc_quarantine(s, ix, why);
	osai_svc_rebuild_locked(s, ix, "its files were found damaged", NULL,
				NULL, &err);
}

/* Whether an index directory holds anything (its data, not dot files). */
int osai_svc_dir_has_files(const char *dir)
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
int osai_svc_open_index_locked(struct osai_service *s, struct svc_index *ix,
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

	osai_svc_set_state(ix, SVC_LOADING, NULL);
	ix->ops_since_ckpt = ix->recs_since_ckpt = 0;
	if (osa_mkdirs(ix->dir, &err)) {
		svc_degrade(ix, &err);
		return err.code;
	}
	osai_svc_clean_tmp(ix->dir);
	if (s->open_flags & OSA_OPEN_REBUILD_FROM_JOURNAL) {
		if (osai_svc_dir_has_files(ix->dir))
			svc_quarantine(s, ix, "--rebuild-from-journal");
		return osai_svc_rebuild_locked(
			s, ix, "requested (--rebuild-from-journal)", progress,
			pctx, &err);
	}
	rc = osai_journal_get_state(s->journal, ix->cfg->name, &st, &err);
	have_state = !rc;
	if (rc == OSA_ECORRUPT) {
		/* Its config hash and LSNs cannot be trusted: start over. */
		osa_log(OSA_LOG_ERROR, "index=%s %s", ix->cfg->name, err.msg);
		return osai_svc_rebuild_locked(s, ix,
					       "its journal state is damaged",
					       progress, pctx, &err);
	}
	memset(&err, 0, sizeof(err));
	if (have_state && st.config_hash != ix->hash)
		return osai_svc_rebuild_locked(
			s, ix,
			"its configuration changed what it "
			"stores",
			progress, pctx, &err);
	rc = b->open(&args, &be, &lsn, &err);
	if (rc == OSA_ECORRUPT || rc == OSA_EVERSION) {
		svc_quarantine(s, ix, err.msg);
		return osai_svc_rebuild_locked(s, ix,
					       "its snapshot was unreadable",
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
	osai_svc_set_lsns(ix, lsn, lsn);
	svc_swap_be(ix, be);
	if (have_state) {
		pthread_mutex_lock(&ix->mu);
		ix->skipped = st.skipped;
		pthread_mutex_unlock(&ix->mu);
	}
	if (!b->checkpoint && last > 0)
		return osai_svc_rebuild_locked(s, ix, "it keeps no snapshots",
					       progress, pctx, &err);
	if (lsn < last && last - nlog > lsn)
		/* The log was trimmed past what the snapshot covers. */
		return osai_svc_rebuild_locked(s, ix,
					       "the log no longer reaches its "
					       "snapshot",
					       progress, pctx, &err);
	if (lsn < last)
		osa_log(OSA_LOG_INFO, "index=%s replaying changes %llu..%llu",
			ix->cfg->name, (unsigned long long)lsn + 1,
			(unsigned long long)last);
	t0 = osai_svc_now();
	rc = osai_svc_catch_up_locked(s, ix, 0, NULL, 0);
	if (!rc)
		rc = osai_svc_ready_locked(s, ix);
	if (rc)
		return rc;
	if (!have_state || ix->ops_since_ckpt >= (uint64_t)c->replay_ops ||
	    osai_svc_now() - t0 >= SVC_REPLAY_SECONDS)
		rc = osai_svc_checkpoint_locked(s, ix, &err);
	return rc;
}

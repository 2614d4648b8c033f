/* SPDX-License-Identifier: MIT */
/*
 * maintenance.c - maintenance on the service's own thread: retrying degraded
 * indexes, checkpoints, trimming the log; reindex and compact.
 */
#include "svc.h"

/* Wake the maintenance thread: something is due now. */
void osai_svc_tick_wake(struct osai_service *s)
{
	pthread_mutex_lock(&s->tick_mu);
	s->tick_wake = 1;
	pthread_cond_signal(&s->tick_cv);
	pthread_mutex_unlock(&s->tick_mu);
}

/* Checkpoint one index (wlock held).  Nothing to do for an index that is
 * not open or not ready. */
int osai_svc_checkpoint_locked(struct osai_service *s, struct svc_index *ix,
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
			ix->ckpt_after = osai_svc_now() + SVC_CKPT_BACKOFF;
			if (err && strncmp(err->msg, "index ", 6))
				osa_error_prefix(
					err, "index %s: checkpoint failed: ",
					ix->cfg->name);
			osa_log(OSA_LOG_ERROR, "%s", err ? err->msg : "");
			return rc;
		}
		osai_svc_set_lsns(ix, ix->applied, ix->applied);
	}
	st.applied_lsn = ix->applied;
	st.checkpoint_lsn = ix->checkpointed;
	st.config_hash = ix->hash;
	st.skipped = ix->skipped;
	rc = osai_journal_put_state(s->journal, ix->cfg->name, &st, err);
	if (rc) {
		ix->ckpt_after = osai_svc_now() + SVC_CKPT_BACKOFF;
		osa_error_prefix(err, "index %s: cannot save its state: ",
				 ix->cfg->name);
		osa_log(OSA_LOG_ERROR, "%s", err->msg);
		return rc;
	}
	ix->ops_since_ckpt = 0;
	ix->recs_since_ckpt = 0;
	ix->last_ckpt = osai_svc_now();
	pthread_mutex_lock(&ix->mu);
	ix->ckpt_seen = ix->last_ckpt;
	pthread_mutex_unlock(&ix->mu);
	return 0;
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
	double now = osai_svc_now();

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
int osai_svc_trim(struct osai_service *s, struct osa_error *err)
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

/* Retry a degraded index (wlock held): catch the open instance up, or open
 * it again. */
static void svc_retry_locked(struct osai_service *s, struct svc_index *ix)
{
	ix->last_retry = osai_svc_now();
	osa_log(OSA_LOG_INFO, "index=%s retrying", ix->cfg->name);
	if (!ix->be) {
		osai_svc_open_index_locked(s, ix, NULL, NULL, NULL);
		return;
	}
	osai_svc_set_state(ix, SVC_LOADING, NULL);
	if (!osai_svc_catch_up_locked(s, ix, 0, NULL, 0))
		osai_svc_ready_locked(s, ix); /* a failure degrades it again */
}

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
		if (ix->state == SVC_READY && ix->be &&
		    (osa_backend_caps(ix->cfg->backend) &
		     OSA_BACKEND_CAP_SELF_CHECK) &&
		    ix->cfg->backend->health) {
			struct osa_error herr = { 0 };

			if (ix->cfg->backend->health(ix->be, &herr) ==
			    OSA_ECORRUPT) {
				osai_svc_set_state(ix, SVC_DEGRADED, herr.msg);
				ix->damaged = 1;
			}
		}
		if (ix->damaged) {
			osai_svc_repair_locked(s, ix);
		} else if (ix->state == SVC_DEGRADED) {
			if (osai_svc_now() - ix->last_retry >=
			    SVC_RETRY_SECONDS)
				svc_retry_locked(s, ix);
		} else if (ix->state == SVC_READY &&
			   !osai_svc_catch_up_locked(s, ix, 0, NULL, 0) &&
			   svc_ckpt_due(s, ix, records)) {
			if (!osai_svc_checkpoint_locked(s, ix, &err))
				trim = 1;
		}
		pthread_mutex_unlock(&ix->wlock);
	}
	if (trim && osai_svc_trim(s, &err))
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

int osai_svc_tick_start(struct osai_service *s, struct osa_error *err)
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

void osai_svc_tick_stop(struct osai_service *s)
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
	rc = osai_svc_rebuild_locked(s, ix, "requested", progress, ctx, err);
	pthread_mutex_unlock(&ix->wlock);
	/* The index is rebuilt either way; a log kept longer costs space. */
	if (!rc && osai_svc_trim(s, &terr))
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
		rc = osai_svc_catch_up_locked(s, ix, 0, NULL, 0);
		if (rc)
			osa_error_set(err, rc, "index %s: %s", ix->cfg->name,
				      ix->why);
		else
			rc = osai_svc_checkpoint_locked(s, ix, err);
	}
	if (!rc)
		rc = osai_svc_trim(s, err);
	if (!rc)
		rc = osai_journal_compact(s->journal, err);
	for (i = 0; i < s->n; i++)
		pthread_mutex_unlock(&s->ix[i].wlock);
	return rc;
}

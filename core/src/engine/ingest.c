/* SPDX-License-Identifier: MIT */
/*
 * ingest.c - the write path: checking a batch, committing it to the journal
 * and fanning it out to every index; deletes.
 */
#include <stdatomic.h>

#include "svc.h"

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

static int svc_cmp_srn(const void *a, const void *b)
{
	const struct svc_sorted *x = a, *y = b;
	int c = strcmp(x->srn, y->srn);

	return c ? c : (x->pos < y->pos ? -1 : x->pos > y->pos);
}

/* One committed change on its way to the indexes (svc_fan_one). */
struct svc_fan {
	struct osai_service *s;
	uint64_t lsn;
	const struct osa_record *const *recs;
	size_t n;
	uint64_t log_max;
	atomic_int wake;
};

/* Apply the change to index k if it is ready (its wlock orders it with the
 * other writers of that index; the catch-up replays anything older first). */
static void svc_fan_one(void *ctx, size_t k)
{
	struct svc_fan *f = ctx;
	struct svc_index *ix = &f->s->ix[k];
	const struct osai_checkpoint_config *c =
		&f->s->cfg->core.journal.checkpoint;

	/* An index seen not ready here becomes ready after this change was
	 * committed: the catch-up that follows includes it. */
	if (osai_svc_get_state(ix) != SVC_READY)
		return;
	pthread_mutex_lock(&ix->wlock);
	if (osai_svc_catch_up_locked(f->s, ix, f->lsn, f->recs, f->n) ||
	    ix->ops_since_ckpt >= (uint64_t)c->ops ||
	    ix->recs_since_ckpt >= f->log_max)
		atomic_store(&f->wake, 1);
	pthread_mutex_unlock(&ix->wlock);
}

/*
 * Apply the committed change at `lsn` (our own parsed records) to every
 * ready index, then anything else pending, so that a search after the write
 * finds it.  An index that is not ready (loading, rebuilding, degraded) is
 * skipped without waiting: it catches up from the log when it becomes ready.
 * Maintenance that is due is left to the maintenance thread.
 *
 * The indexes take a change of at least SVC_FAN_OUT_MIN records
 * concurrently, on up to one thread per CPU (the caller's among them; a
 * backend may run threads of its own, as `vector`'s `threads`).  The
 * journal already holds the change and is the only order that counts:
 * each index applies it, or later catches up to it, on its own, and the
 * order among indexes never mattered.  Smaller changes and deletes go to
 * one index after the other on the calling thread (a thread would cost
 * more than they do).
 */
static void svc_fan_out(struct osai_service *s, uint64_t lsn,
			const struct osa_record *const *recs, size_t n)
{
	struct svc_fan f = { .s = s, .lsn = lsn, .recs = recs, .n = n };

	f.log_max = s->records_hint / 2;
	if (f.log_max < SVC_LOG_MIN_RECORDS)
		f.log_max = SVC_LOG_MIN_RECORDS;
	atomic_init(&f.wake, 0);
	osa_parallel_for(s->n, n >= SVC_FAN_OUT_MIN ? osa_cpus() : 1,
			 svc_fan_one, &f);
	if (atomic_load(&f.wake))
		osai_svc_tick_wake(s);
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

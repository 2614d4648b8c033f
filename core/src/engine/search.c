/* SPDX-License-Identifier: MIT */
/*
 * search.c - the read path: one record, a search and the hydration of its hits.
 */
#include "svc.h"

int osa_get(struct osa_db *db, const char *srn, char **json,
	    struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;

	return osai_journal_get(s->journal, srn, json, NULL, err);
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
		pthread_mutex_lock(&ix->mu);
		rc = osa_error_set(err, OSA_EDEGRADED, "index %s is %s%s%s",
				   ix->cfg->name,
				   osai_index_state_name(ix->state),
				   ix->why[0] ? ": " : "", ix->why);
		pthread_mutex_unlock(&ix->mu);
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

/* SPDX-License-Identifier: MIT */
/*
 * search.c - the read path: one record, a search and the hydration of its
 * hits.
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

/* The stored record minus its vector member, cut out of the text as
 * written: numbers and member order stay the client's. */
static char *svc_metadata(const char *doc, const char *vector_field)
{
	size_t len, vb, ve, cb, ce;
	char *out;

	if (!doc)
		return strdup("{}");
	len = strlen(doc);
	/* Most records lack the member: say so without a scan of the
	 * structure (a name written with escapes needs the scan). */
	if (vector_field && !strstr(doc, vector_field) && !strchr(doc, '\\'))
		return strdup(doc);
	if (!vector_field ||
	    !osai_jtext_member(doc, len, vector_field, &vb, &ve, &cb, &ce))
		return strdup(doc);
	out = malloc(len - (ce - cb) + 1);
	if (!out)
		return NULL;
	memcpy(out, doc, cb);
	memcpy(out + cb, doc + ce, len - ce + 1);
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
		if (rc) {
			/* The message keeps its `filter:L:C:` start; say
			 * which index of a search (or of a hybrid one). */
			size_t n = strlen(err->msg);

			snprintf(err->msg + n, sizeof(err->msg) - n,
				 " (index %s, backend %s)", ix->cfg->name,
				 b->name);
			return rc;
		}
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

/* osai_search_text(): `q` is the hybrid search, or
 * NULL for one index. */
static int svc_results_text(struct osai_buf *b, const char *query,
			    const char *index, const struct osa_search *q,
			    const struct osa_results *r)
{
	size_t i, k;

	osai_buf_puts(b, "{\"query\":");
	osai_buf_jstr(b, query ? query : "", query ? strlen(query) : 0);
	osai_buf_puts(b, ",\"index\":");
	osai_buf_jstr(b, index, strlen(index));
	/* no match at all is an exact count */
	osai_buf_printf(b,
			",\"total\":%zu,\"total_exact\":%s,\"has_more\":%s,"
			"\"results\":[",
			r->total,
			r->total_exact || !r->total ? "true" : "false",
			r->has_more ? "true" : "false");
	for (i = 0; i < r->n; i++) {
		const char *m = r->v[i].metadata;

		osai_buf_puts(b, i ? ",{\"srn\":" : "{\"srn\":");
		osai_buf_jstr(b, r->v[i].srn, strlen(r->v[i].srn));
		osai_buf_puts(b, ",\"score\":");
		osai_buf_jreal(b, r->v[i].score);
		osai_buf_puts(b, ",\"metadata\":");
		osai_buf_puts(b, m && *m ? m : "{}");
		if (q) {
			int first = 1;

			osai_buf_puts(b, ",\"ranks\":{");
			for (k = 0; r->v[i].ranks && k < r->nindexes &&
				    k < q->nindexes;
			     k++) {
				if (!r->v[i].ranks[k])
					continue;
				if (!first)
					osai_buf_put(b, ",", 1);
				first = 0;
				osai_buf_jstr(b, q->indexes[k],
					      strlen(q->indexes[k]));
				osai_buf_printf(b, ":%zu",
						(size_t)r->v[i].ranks[k]);
			}
			osai_buf_put(b, "}", 1);
		}
		osai_buf_put(b, "}", 1);
	}
	osai_buf_put(b, "]", 1);
	if (r->nfacets) {
		osai_buf_puts(b, ",\"facets\":{");
		for (i = 0; i < r->nfacets; i++) {
			const struct osa_result_facet *f = &r->facets[i];

			if (i)
				osai_buf_put(b, ",", 1);
			osai_buf_jstr(b, f->name, strlen(f->name));
			osai_buf_puts(b, ":{\"values\":[");
			for (k = 0; k < f->n; k++) {
				osai_buf_puts(b, k ? ",{\"value\":"
						   : "{\"value\":");
				osai_buf_jstr(b, f->v[k].value,
					      strlen(f->v[k].value));
				osai_buf_printf(
					b, ",\"count\":%llu}",
					(unsigned long long)f->v[k].count);
			}
			osai_buf_printf(b, "],\"others\":%llu}",
					(unsigned long long)f->others);
		}
		osai_buf_printf(b, "},\"facets_estimated\":%s",
				r->facets_estimated ? "true" : "false");
	}
	if (q) {
		osai_buf_puts(b, ",\"indexes\":[");
		for (i = 0; i < q->nindexes; i++) {
			if (i)
				osai_buf_put(b, ",", 1);
			osai_buf_jstr(b, q->indexes[i], strlen(q->indexes[i]));
		}
		osai_buf_puts(b, "],\"fusion\":\"rrf\",\"rrf_k\":");
		osai_buf_jreal(b, q->rrf_k ? q->rrf_k : 60);
		osai_buf_puts(b, ",\"totals\":{");
		for (i = 0; i < q->nindexes && i < r->nindexes; i++) {
			if (i)
				osai_buf_put(b, ",", 1);
			osai_buf_jstr(b, q->indexes[i], strlen(q->indexes[i]));
			osai_buf_printf(b, ":{\"total\":%llu,\"exact\":%s}",
					(unsigned long long)r->totals[i],
					r->totals_exact[i] ? "true" : "false");
		}
		osai_buf_put(b, "}", 1);
	}
	osai_buf_put(b, "}", 1);
	return b->oom ? -1 : 0;
}

int osai_search_text(struct osai_buf *b, const struct osa_search *q,
		     const struct osa_results *r)
{
	char joined[1200] = "";
	size_t i, at = 0;

	if (!q->nindexes)
		return svc_results_text(b, q->text, q->index, NULL, r);
	for (i = 0; i < q->nindexes && at < sizeof(joined); i++) {
		int w = snprintf(joined + at, sizeof(joined) - at, "%s%s",
				 i ? "," : "", q->indexes[i]);

		if (w > 0)
			at += (size_t)w;
	}
	return svc_results_text(b, q->text, joined, q, r);
}

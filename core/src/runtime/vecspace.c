/* SPDX-License-Identifier: MIT */
/* vecspace.c - the vector preparation and query vectors of osa/vecspace.h. */
#include <math.h>
#include <string.h>

#include <osa/vecspace.h>

const char *const osa_metric_names[] = { "cosine", "l2", "ip", NULL };

/* Why a vector is refused. */
enum vec_fault { VEC_OK, VEC_NONFINITE, VEC_ZERO };

/* The position of the first non-finite number of v, or dim. */
static size_t vec_nonfinite(const float *v, size_t dim)
{
	size_t i;

	for (i = 0; i < dim; i++)
		if (!isfinite(v[i]))
			return i;
	return dim;
}

/* Prepare v; *at gets the position of a non-finite number. */
static enum vec_fault vec_prepare(int metric, float *v, size_t dim, size_t *at)
{
	float norm = 0;
	size_t i;

	if ((*at = vec_nonfinite(v, dim)) < dim)
		return VEC_NONFINITE;
	if (metric != OSA_METRIC_COSINE)
		return VEC_OK;
	for (i = 0; i < dim; i++)
		norm += v[i] * v[i];
	norm = sqrtf(norm);
	/* Finite numbers whose squares overflow: not representable as a
	 * unit vector computed this way either. */
	if (!isfinite(norm))
		return VEC_NONFINITE;
	if (!(norm > 0))
		return VEC_ZERO;
	for (i = 0; i < dim; i++)
		v[i] /= norm;
	return VEC_OK;
}

int osa_vec_prepare(int metric, float *v, size_t dim)
{
	size_t at;

	return vec_prepare(metric, v, dim, &at) == VEC_OK ? 0 : -1;
}

int osa_vec_record(struct osa_embedder_inst *emb, int metric, size_t dim,
		   const char *index, const struct osa_record *rec, float *out,
		   struct osa_error *err)
{
	size_t at;
	int rc;

	rc = osa_embed_record(emb, rec, out, err);
	if (rc)
		return osa_error_prefix(err, "index %s: ", index);
	switch (vec_prepare(metric, out, dim, &at)) {
	case VEC_OK:
		return 0;
	case VEC_NONFINITE:
		if (at < dim)
			return osa_error_set(
				err, OSA_EINVAL,
				"index %s: record %s: its vector (embedder "
				"%s) holds a non-finite number at position "
				"%zu; fix the record",
				index, osa_record_srn(rec), osa_embed_name(emb),
				at);
		return osa_error_set(err, OSA_EINVAL,
				     "index %s: record %s: its vector's length "
				     "overflows a float; scale it down",
				     index, osa_record_srn(rec));
	default:
		return osa_error_set(err, OSA_EINVAL,
				     "index %s: record %s has a zero vector, "
				     "which has no cosine direction; fix the "
				     "record or use metric \"l2\" or \"ip\"",
				     index, osa_record_srn(rec));
	}
}

int osa_vec_query(struct osa_embedder_inst *emb, int metric, size_t dim,
		  const char *index, const struct osa_query *q, float *out,
		  struct osa_error *err)
{
	size_t at;
	int rc;

	if (q->vector) {
		if (q->dim != dim)
			return osa_error_set(err, OSA_ERANGE,
					     "index %s: the query vector has "
					     "%zu numbers but the index's dim "
					     "is %zu",
					     index, q->dim, dim);
		memcpy(out, q->vector, dim * sizeof(float));
	} else if (q->text) {
		rc = osa_embed_text(emb, q->text, strlen(q->text), out, err);
		if (rc)
			return osa_error_prefix(err, "index %s: ", index);
	} else {
		return osa_error_set(err, OSA_EINVAL,
				     "index %s: a query needs a text or a "
				     "vector",
				     index);
	}
	switch (vec_prepare(metric, out, dim, &at)) {
	case VEC_OK:
		return 0;
	case VEC_NONFINITE:
		if (at < dim)
			return osa_error_set(err, OSA_EINVAL,
					     "index %s: the query vector holds "
					     "a non-finite number at position "
					     "%zu",
					     index, at);
		return osa_error_set(err, OSA_EINVAL,
				     "index %s: the query vector's length "
				     "overflows a float; scale it down",
				     index);
	default:
		return osa_error_set(err, OSA_EINVAL,
				     "index %s: the query vector is zero: it "
				     "has no cosine direction",
				     index);
	}
}

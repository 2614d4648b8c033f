/* SPDX-License-Identifier: MIT */
/*
 * field.c - the `field` embedder: every record brings its own vector, an
 * array of exactly `dim` finite numbers in the member `vector_field`
 * ("embedding" by default).  It cannot embed a text: queries to an index
 * using it must send a vector.
 *
 * An instance holds only its dim and a copy of the member name, and is
 * read-only after create(), so any number of threads may use it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osa/embedder.h>

struct field {
	size_t dim;
	char *member;
	char desc[128];
};

static void field_destroy(void *self)
{
	struct field *f = self;

	free(f->member);
	free(f);
}

static int field_create(const struct osa_embedder_args *args, void **self,
			struct osa_error *err)
{
	const char *m = args->cfg->vector_field;
	struct field *f;

	*self = NULL;
	if (args->dim < 1)
		return osa_error_set(err, OSA_EINVAL,
				     "embedder \"field\": dim must be at least "
				     "1, got %d",
				     args->dim);
	if (!m || !*m)
		return osa_error_set(err, OSA_EINVAL,
				     "embedder \"field\" reads each record's "
				     "vector from embedding.vector_field: set "
				     "it (e.g. \"embedding\")");
	f = calloc(1, sizeof(*f));
	if (!f || !(f->member = strdup(m))) {
		free(f);
		return osa_error_set(err, OSA_ENOMEM,
				     "embedder \"field\": out of memory");
	}
	f->dim = (size_t)args->dim;
	snprintf(f->desc, sizeof(f->desc),
		 "field v1 vector_field=%.80s dim=%zu", f->member, f->dim);
	*self = f;
	return 0;
}

static int field_embed_record(void *self, const struct osa_record *rec,
			      float *out, struct osa_error *err)
{
	const struct field *f = self;

	/* The record layer names the srn, the member and both lengths. */
	return osa_record_vector(rec, f->member, out, f->dim, err);
}

static void field_describe(void *self, char *buf, size_t n)
{
	const struct field *f = self;

	snprintf(buf, n, "%s", f->desc);
}

static const struct osa_embedder field_embedder = {
	.abi = OSA_EMBEDDER_ABI,
	.size = sizeof(struct osa_embedder),
	.name = "field",
	.doc = "each record brings its own vector in a member (vector_field); "
	       "queries send vectors",
	.create = field_create,
	.embed_record = field_embed_record,
	.embed_text = NULL,
	.describe = field_describe,
	.destroy = field_destroy,
};

OSA_EMBEDDER_REGISTER(field_embedder);

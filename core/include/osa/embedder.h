/* SPDX-License-Identifier: MIT */
/*
 * osa/embedder.h - embedders: the second plugin kind.
 *
 * An embedder turns a record (and, if it can, a query text) into a vector of
 * `dim` floats.  Backends that store vectors share one configuration group,
 * `embedding`, described by `osa_embedding_schema`; they create an embedder
 * instance from it with osa_embedder_create() and call it through the
 * osa_embed_*() wrappers.
 *
 * Register with OSA_EMBEDDER_REGISTER(desc) at file scope.
 */
#ifndef OSA_EMBEDDER_H
#define OSA_EMBEDDER_H

#include <stddef.h>

#include <osa/error.h>
#include <osa/plugin.h>
#include <osa/record.h>
#include <osa/schema.h>
#include <osa/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI of struct osa_embedder: 1.0. */
#define OSA_EMBEDDER_ABI OSA_ABI(1, 0)

/* The shared `embedding` configuration group (see osa_embedding_schema). */
struct osa_embedding_config {
	char *embedder;		   /* registered embedder name ("hash") */
	struct osa_strlist fields; /* record fields that make the text */
	char *template_;	   /* "{title}. {summary}", or NULL */
	char *vector_field;	   /* member holding a ready vector */
};

/*
 * Schema of the `embedding` group: embedder (default "hash"; must be
 * registered), fields (default ["title", "summary"]), template (optional),
 * vector_field (default "embedding").  An embedder that embeds text needs
 * fields or a template (checked here).  Use it with OSA_FIELD_GROUP.
 */
extern const struct osa_schema osa_embedding_schema;

/* What an embedder instance is created from. */
struct osa_embedder_args {
	const char *index;			/* index name, for messages */
	int dim;				/* output dimension, >= 1 */
	const struct osa_embedding_config *cfg; /* the validated group */
};

/*
 * An embedder plugin.  A const struct nobody writes to.  Instances may be
 * called from many threads at once: embed_* must not modify shared state.
 */
struct osa_embedder {
	unsigned abi;	  /* OSA_EMBEDDER_ABI */
	unsigned size;	  /* sizeof(struct osa_embedder) */
	const char *name; /* [a-z0-9_-]+, unique among embedders */
	const char *doc;  /* one sentence for `osa backends list` */
	/* Required.  Create an instance for `args`; *self is opaque. */
	int (*create)(const struct osa_embedder_args *args, void **self,
		      struct osa_error *err);
	/*
	 * Required.  Write the record's vector to out[0..dim).  Fail with a
	 * message naming the srn when the record cannot be embedded (missing
	 * field, wrong vector length, no features: OSA_ENOFEATURES).
	 */
	int (*embed_record)(void *self, const struct osa_record *rec,
			    float *out, struct osa_error *err);
	/*
	 * Optional (NULL: OSA_ENOTSUP).  Embed a query text of `len` bytes.
	 */
	int (*embed_text)(void *self, const char *text, size_t len, float *out,
			  struct osa_error *err);
	/*
	 * Required.  Write a short description of every parameter that
	 * determines the vectors ("hash v1 seed=0x9e37 ngrams=3-5") into
	 * buf[0..n): it goes into snapshot headers and config hashes, so two
	 * instances that embed differently must describe themselves
	 * differently.
	 */
	void (*describe)(void *self, char *buf, size_t n);
	/* Required.  Free the instance.  NULL is never passed. */
	void (*destroy)(void *self);
	/* --- end of ABI 1.0 --- */
};

#define OSA_EMBEDDER_REGISTER(desc)                                            \
	OSA_SET_ENTRY(osa_embedders, struct osa_embedder, &(desc))

/* The registered embedder named `name`, or NULL. */
const struct osa_embedder *osa_embedder_find(const char *name);

/* An embedder instance: the plugin plus its state. */
struct osa_embedder_inst;

/* Create an instance of the embedder that cfg->embedder names. */
int osa_embedder_create(const struct osa_embedder_args *args,
			struct osa_embedder_inst **out, struct osa_error *err);
/* Free an instance.  NULL is allowed. */
void osa_embedder_destroy(struct osa_embedder_inst *e);
/* Thread-safe wrappers; see the struct's members. */
int osa_embed_record(struct osa_embedder_inst *e, const struct osa_record *rec,
		     float *out, struct osa_error *err);
int osa_embed_text(struct osa_embedder_inst *e, const char *text, size_t len,
		   float *out, struct osa_error *err);
void osa_embed_describe(struct osa_embedder_inst *e, char *buf, size_t n);
/* The instance's plugin name ("hash"). */
const char *osa_embed_name(const struct osa_embedder_inst *e);

/*
 * The text a record is embedded from under `cfg`: the rendered template when
 * one is set, else the string values of cfg->fields that are present, joined
 * by ". ".  *out is malloc'd (free() it); an empty result is not an error.
 */
int osa_embedding_text(const struct osa_embedding_config *cfg,
		       const struct osa_record *rec, char **out, size_t *len,
		       struct osa_error *err);

#ifdef __cplusplus
}
#endif

#endif /* OSA_EMBEDDER_H */

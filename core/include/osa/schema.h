/* SPDX-License-Identifier: MIT */
/*
 * osa/schema.h - typed configuration: how a plugin declares its config.
 *
 * A backend declares its configuration as a C struct plus a const table of
 * field descriptors ending with an entry whose name is NULL.  The core parses
 * the libconfig file, validates each index's `config` group against the
 * table, fills defaults and hands the backend a filled struct.  Every error
 * of the file is reported at once as `FILE:LINE: dotted.path: message`.
 *
 *   struct myb_config { int dim; int metric; char *dir; };
 *   static const char *const myb_metrics[] = {"cosine", "l2", NULL};
 *   static const struct osa_field myb_fields[] = {
 *       OSA_FIELD_INT(struct myb_config, dim, "dim", 384, 1, 4096,
 *                     "Vector dimension."),
 *       OSA_FIELD_ENUM(struct myb_config, metric, "metric", 0, myb_metrics,
 *                      "Distance."),
 *       OSA_FIELD_PATH(struct myb_config, dir, "dir", NULL,
 *                      "Where to keep files."),
 *       OSA_FIELD_END
 *   };
 *   const struct osa_schema myb_schema = {
 *       .name = "myb",
 *       .size = sizeof(struct myb_config),
 *       .fields = myb_fields,
 *   };
 *
 * Storage of each type in the config struct:
 *   OSA_T_BOOL    bool            OSA_T_INT     int (32-bit)
 *   OSA_T_INT64   int64_t         OSA_T_DOUBLE  double
 *   OSA_T_STRING  char * (owned)  OSA_T_PATH    char * (owned; relative paths
 *                                                 resolved against the config
 *                                                 file's directory)
 *   OSA_T_ENUM    int: index into `choices`
 *   OSA_T_STRLIST struct osa_strlist (owned)
 *   OSA_T_GROUP   a nested struct described by `group` (offsets relative to it)
 *
 * A string or path whose default is NULL and that is absent stays NULL.
 * Strings own their memory; osa_schema_free() releases a filled struct.
 */
#ifndef OSA_SCHEMA_H
#define OSA_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <osa/error.h>

#ifdef __cplusplus
extern "C" {
#endif

enum osa_type {
	OSA_T_BOOL = 1,
	OSA_T_INT,
	OSA_T_INT64,
	OSA_T_DOUBLE,
	OSA_T_STRING,
	OSA_T_ENUM,
	OSA_T_PATH,
	OSA_T_STRLIST,
	OSA_T_GROUP
};

/* A list of owned, NUL-terminated strings. */
struct osa_strlist {
	size_t n;
	char **v;
};

/* Field flags. */
#define OSA_F_REQUIRED 0x1u /* the key must be present (no default) */
#define OSA_F_SECRET 0x2u   /* never echoed in messages or schema dumps */
/*
 * The value determines what the index stores (dim, metric, embedder...): the
 * core hashes every OSA_F_STORED field (all fields of an OSA_F_STORED group)
 * and rebuilds the index from the journal when the hash changes.  Fields
 * without it (search breadth, caches) can change without a rebuild.
 */
#define OSA_F_STORED 0x4u

struct osa_schema;

/*
 * One configuration key.  Zero-initialised members mean "none".
 *
 * Bounds: for INT and INT64, [min, max] is the accepted range; min == max == 0
 * means the type's whole range.  For DOUBLE, [dmin, dmax] likewise.  For
 * STRING and PATH, `max` (if not 0) is the maximum length in bytes and `min`
 * the minimum.  For STRLIST, [min, max] bounds the number of elements
 * (max == 0: unbounded).
 */
struct osa_field {
	const char *name;   /* key; NULL ends the table */
	enum osa_type type; /* storage and validation type */
	size_t offset;	    /* offsetof() the member in the config struct */
	unsigned flags;	    /* OSA_F_* */
	const char *doc;    /* one or two sentences for the reference */
	int64_t def_int; /* default of BOOL, INT, INT64, ENUM (choice index) */
	double def_double;   /* default of DOUBLE */
	const char *def_str; /* default of STRING, PATH (NULL: stays NULL) */
	const char *const *def_list; /* default of STRLIST, NULL-terminated */
	int64_t min, max;	     /* see above */
	double dmin, dmax;	     /* see above */
	const char *const *choices;  /* ENUM: NULL-terminated names */
	const struct osa_schema *group; /* GROUP: the nested schema */
};

/* An opaque handle through which check callbacks report errors. */
struct osa_check;

/*
 * A configuration schema: the struct's size, its fields, and an optional
 * cross-field check.
 */
struct osa_schema {
	const char *name;		/* for messages and the reference */
	size_t size;			/* sizeof the config struct */
	const struct osa_field *fields; /* table ending with OSA_FIELD_END */
	/*
	 * Optional.  Called after every field validated and defaults were
	 * filled, with the filled struct (which it may normalise).  Report each
	 * problem with osa_check_error(); the return value is ignored.  Nested
	 * groups' checks run before their parent's.
	 */
	void (*check)(void *cfg, struct osa_check *chk);
};

/*
 * Report a cross-field error from a check callback.  `path` is the dotted key
 * relative to the schema being checked ("embedding.vector_field"); the core
 * prefixes it with the index's path and finds the line of that key in the
 * file (or of the nearest enclosing group when the key is absent).
 */
void osa_check_error(struct osa_check *chk, const char *path, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));

/*
 * Constructors for table entries.  Each OSA_FIELD_<TYPE>_F takes the field's
 * flags (OSA_F_REQUIRED, OSA_F_SECRET, OSA_F_STORED, or 0) after the key;
 * OSA_FIELD_<TYPE> is the same with flags 0.  Bounds are those of struct
 * osa_field above (lo == hi == 0: unbounded); OSA_FIELD_STRING_F/PATH_F and
 * OSA_FIELD_STRLIST_F take them too (length in bytes, number of elements).
 *
 *   static const struct osa_field my_fields[] = {
 *           OSA_FIELD_INT_F(struct my_config, dim, "dim", OSA_F_STORED,
 *                           384, 1, 4096, "Vector dimension."),
 *           OSA_FIELD_STRLIST_F(struct my_config, fields, "fields",
 *                               OSA_F_STORED, my_default_fields, 1, 32,
 *                               "Record fields indexed."),
 *           OSA_FIELD_END
 *   };
 */
#define OSA_FIELD_BOOL_F(T, m, key, fl, dflt, docs)                            \
	{                                                                      \
		.name = (key), .type = OSA_T_BOOL, .offset = offsetof(T, m),   \
		.flags = (fl), .def_int = (dflt), .doc = (docs)                \
	}
#define OSA_FIELD_INT_F(T, m, key, fl, dflt, lo, hi, docs)                     \
	{                                                                      \
		.name = (key), .type = OSA_T_INT, .offset = offsetof(T, m),    \
		.flags = (fl), .def_int = (dflt), .min = (lo), .max = (hi),    \
		.doc = (docs)                                                  \
	}
#define OSA_FIELD_INT64_F(T, m, key, fl, dflt, lo, hi, docs)                   \
	{                                                                      \
		.name = (key), .type = OSA_T_INT64, .offset = offsetof(T, m),  \
		.flags = (fl), .def_int = (dflt), .min = (lo), .max = (hi),    \
		.doc = (docs)                                                  \
	}
#define OSA_FIELD_DOUBLE_F(T, m, key, fl, dflt, lo, hi, docs)                  \
	{                                                                      \
		.name = (key), .type = OSA_T_DOUBLE, .offset = offsetof(T, m), \
		.flags = (fl), .def_double = (dflt), .dmin = (lo),             \
		.dmax = (hi), .doc = (docs)                                    \
	}
#define OSA_FIELD_STRING_F(T, m, key, fl, dflt, lo, hi, docs)                  \
	{                                                                      \
		.name = (key), .type = OSA_T_STRING, .offset = offsetof(T, m), \
		.flags = (fl), .def_str = (dflt), .min = (lo), .max = (hi),    \
		.doc = (docs)                                                  \
	}
#define OSA_FIELD_PATH_F(T, m, key, fl, dflt, docs)                            \
	{                                                                      \
		.name = (key), .type = OSA_T_PATH, .offset = offsetof(T, m),   \
		.flags = (fl), .def_str = (dflt), .doc = (docs)                \
	}
#define OSA_FIELD_ENUM_F(T, m, key, fl, dflt, choice_list, docs)               \
	{                                                                      \
		.name = (key), .type = OSA_T_ENUM, .offset = offsetof(T, m),   \
		.flags = (fl), .def_int = (dflt), .choices = (choice_list),    \
		.doc = (docs)                                                  \
	}
#define OSA_FIELD_STRLIST_F(T, m, key, fl, dflt_list, lo, hi, docs)            \
	{                                                                      \
		.name = (key), .type = OSA_T_STRLIST,                          \
		.offset = offsetof(T, m), .flags = (fl),                       \
		.def_list = (dflt_list), .min = (lo), .max = (hi),             \
		.doc = (docs)                                                  \
	}
#define OSA_FIELD_GROUP_F(T, m, key, fl, sub, docs)                            \
	{                                                                      \
		.name = (key), .type = OSA_T_GROUP, .offset = offsetof(T, m),  \
		.flags = (fl), .group = (sub), .doc = (docs)                   \
	}

#define OSA_FIELD_BOOL(T, m, key, dflt, docs)                                  \
	OSA_FIELD_BOOL_F(T, m, key, 0, dflt, docs)
#define OSA_FIELD_INT(T, m, key, dflt, lo, hi, docs)                           \
	OSA_FIELD_INT_F(T, m, key, 0, dflt, lo, hi, docs)
#define OSA_FIELD_INT64(T, m, key, dflt, lo, hi, docs)                         \
	OSA_FIELD_INT64_F(T, m, key, 0, dflt, lo, hi, docs)
#define OSA_FIELD_DOUBLE(T, m, key, dflt, lo, hi, docs)                        \
	OSA_FIELD_DOUBLE_F(T, m, key, 0, dflt, lo, hi, docs)
#define OSA_FIELD_STRING(T, m, key, dflt, docs)                                \
	OSA_FIELD_STRING_F(T, m, key, 0, dflt, 0, 0, docs)
#define OSA_FIELD_PATH(T, m, key, dflt, docs)                                  \
	OSA_FIELD_PATH_F(T, m, key, 0, dflt, docs)
#define OSA_FIELD_ENUM(T, m, key, dflt, choice_list, docs)                     \
	OSA_FIELD_ENUM_F(T, m, key, 0, dflt, choice_list, docs)
#define OSA_FIELD_STRLIST(T, m, key, dflt_list, docs)                          \
	OSA_FIELD_STRLIST_F(T, m, key, 0, dflt_list, 0, 0, docs)
#define OSA_FIELD_GROUP(T, m, key, sub, docs)                                  \
	OSA_FIELD_GROUP_F(T, m, key, 0, sub, docs)
#define OSA_FIELD_END                                                          \
	{                                                                      \
		.name = NULL                                                   \
	}

/*
 * Validate libconfig text holding the *contents* of a config group (e.g.
 * "dim = 8; metric = \"l2\";") against `schema`, as the core does for an
 * index.  On success *out is a newly allocated, filled struct (free it with
 * osa_schema_free()).  On failure returns OSA_ECONFIG, err->msg holds the
 * first error and, if `report` is not NULL, *report receives every error,
 * one `<string>:LINE: path: message` line each (free() it).  Meant for
 * backend unit tests and embedding products.
 */
int osa_schema_parse(const struct osa_schema *schema, const char *text,
		     void **out, char **report, struct osa_error *err);

/* Release what a filled struct owns, then the struct.  NULL is allowed. */
void osa_schema_free(const struct osa_schema *schema, void *cfg);

/* Release what a filled struct owns, not the struct itself. */
void osa_schema_release(const struct osa_schema *schema, void *cfg);

/* The name of a type as shown in messages and references ("integer"). */
const char *osa_type_name(enum osa_type type);

#ifdef __cplusplus
}
#endif

#endif /* OSA_SCHEMA_H */

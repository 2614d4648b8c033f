/* SPDX-License-Identifier: MIT */
/*
 * osa/record.h - records as backends see them.
 *
 * A record is a JSON object identified by its srn.  Backends receive records
 * as an opaque `struct osa_record` and read them through these accessors; the
 * SDK does not expose the JSON library, so it can change.  A record is
 * immutable once built: any number of threads may read it at once.
 */
#ifndef OSA_RECORD_H
#define OSA_RECORD_H

#include <stddef.h>

#include <osa/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct osa_record;

/*
 * Build a record from JSON text (`len` bytes, need not be NUL-terminated).
 * The text must be one JSON object in valid UTF-8.  `srn` gives the record's
 * id; when NULL, the object's string member "srn" is used.  The srn's form
 * is not checked here (the journal checks it against `srn_format`).
 * Returns 0 and a record to release with osa_record_free(), or OSA_EINVAL
 * with the parse position in the message.
 */
int osa_record_parse(const char *json, size_t len, const char *srn,
		     struct osa_record **out, struct osa_error *err);

/* Release a record.  NULL is allowed. */
void osa_record_free(struct osa_record *rec);

/* The record's srn.  Never NULL; valid while the record lives. */
const char *osa_record_srn(const struct osa_record *rec);

/* The record as compact JSON text (NUL-terminated); *len gets its length if
 * `len` is not NULL.  Valid while the record lives. */
const char *osa_record_json(const struct osa_record *rec, size_t *len);

/*
 * A top-level string member.  Returns 0 and points *s (NUL-terminated, valid
 * while the record lives) and *len (if not NULL) at it; OSA_ENOTFOUND when
 * the member is absent or null; OSA_ETYPE when it is not a string.
 */
int osa_record_string(const struct osa_record *rec, const char *field,
		      const char **s, size_t *len);

/* A top-level number member (integer or real): 0, OSA_ENOTFOUND, OSA_ETYPE. */
int osa_record_number(const struct osa_record *rec, const char *field,
		      double *out);

/*
 * A top-level member holding an array of exactly `dim` finite numbers, copied
 * into out[0..dim).  OSA_ENOTFOUND when absent, OSA_ETYPE when not an array
 * of numbers, OSA_ERANGE when its length is not `dim`; `err` names the srn,
 * the field and both lengths.
 */
int osa_record_vector(const struct osa_record *rec, const char *field,
		      float *out, size_t dim, struct osa_error *err);

/*
 * Render a template: every `{name}` is replaced by the top-level member
 * `name` (strings as they are, numbers and booleans in JSON form, missing or
 * null members and other types as nothing); `{{` and `}}` give literal braces.
 * On success *out is a malloc'd NUL-terminated string (free() it) and *len
 * (if not NULL) its length.  OSA_EINVAL for an unterminated placeholder.
 */
int osa_record_render(const struct osa_record *rec, const char *tmpl,
		      char **out, size_t *len, struct osa_error *err);

#ifdef __cplusplus
}
#endif

#endif /* OSA_RECORD_H */

/* SPDX-License-Identifier: MIT */
/*
 * record.c - records: one JSON object (jansson) plus its srn and its compact
 * text, read through the accessors of osa/record.h.
 *
 * Parsing rejects duplicate member names, invalid UTF-8 (jansson checks it),
 * NUL bytes and "\u0000" escapes, trailing text, and anything that is not an
 * object.  The compact text is the input with the whitespace between tokens
 * removed: numbers keep their exact spelling (json_dumps would print 0.1 as
 * 0.10000000000000001) and members keep their order.  A record is built once
 * in one allocation and never changes, so any number of threads may read it.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jtext.h"
#include "osai.h"

struct osa_record {
	json_t *root; /* the object */
	char *srn;    /* points into the same allocation */
	char *json;   /* compact text, NUL-terminated, same allocation */
	size_t json_len;
};

/* ---- parsing ---------------------------------------------------------- */

/* Name of a JSON value's type for messages ("an array"). */
static const char *rec_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}

/* The token jansson quotes in "... near 'TOKEN'", copied into buf. */
static const char *rec_near(const char *text, char *buf, size_t n)
{
	const char *p = strstr(text, " near '");
	size_t len;

	if (!p)
		return NULL;
	p += strlen(" near '");
	len = strlen(p);
	if (len && p[len - 1] == '\'')
		len--;
	if (len >= n)
		len = n - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return buf;
}

/* Turn jansson's error into ours: what, where (line, column, byte). */
static int rec_parse_error(const json_error_t *je, const char *srn,
			   struct osa_error *err)
{
	char near[96], what[300];
	const char *tok = rec_near(je->text, near, sizeof(near));

	switch (json_error_code(je)) {
	case json_error_duplicate_key:
		snprintf(what, sizeof(what),
			 "duplicate member %s: each member may appear only "
			 "once in a record",
			 tok ? tok : "name");
		break;
	case json_error_null_character:
		snprintf(what, sizeof(what),
			 "a string contains \\u0000 (NUL), which records "
			 "may not hold");
		break;
	case json_error_null_byte_in_key:
		snprintf(what, sizeof(what),
			 "a member name contains \\u0000 (NUL), which records "
			 "may not hold");
		break;
	case json_error_invalid_utf8:
		snprintf(what, sizeof(what),
			 "invalid UTF-8 (%s): records must be UTF-8 text",
			 je->text);
		break;
	case json_error_out_of_memory:
		return osa_error_set(err, OSA_ENOMEM,
				     "record%s%s: out of memory parsing it",
				     srn ? " " : "", srn ? srn : "");
	default:
		snprintf(what, sizeof(what), "%s", je->text);
		break;
	}
	return osa_error_set(err, OSA_EINVAL,
			     "record%s%s: invalid JSON at line %d, column %d "
			     "(byte %d): %s",
			     srn ? " " : "", srn ? srn : "", je->line,
			     je->column, je->position, what);
}

/*
 * Copy the JSON text `in` (already validated by jansson) to `out` without
 * the whitespace between tokens.  Returns the length written.
 */
static size_t rec_compact(const char *in, size_t len, char *out)
{
	size_t i, n = 0;
	int str = 0, esc = 0;

	for (i = 0; i < len; i++) {
		char c = in[i];

		if (str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				str = 0;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			continue;
		} else if (c == '"') {
			str = 1;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return n;
}

int osa_record_parse(const char *json, size_t len, const char *srn,
		     struct osa_record **out, struct osa_error *err)
{
	struct osa_record *rec;
	const char *nul, *id = srn;
	json_error_t je;
	json_t *root, *m;
	size_t idlen, size;

	if (!out)
		return osa_error_set(err, OSA_EINVAL, "record: no output");
	*out = NULL;
	if (!json)
		return osa_error_set(err, OSA_EINVAL, "record: no text");
	if (srn && !*srn)
		return osa_error_set(err, OSA_EINVAL, "record: empty srn");
	/* jansson would call a raw NUL "end of file expected": say it. */
	nul = memchr(json, '\0', len);
	if (nul)
		return osa_error_set(err, OSA_EINVAL,
				     "record%s%s: a NUL byte at byte %zu: a "
				     "record is UTF-8 JSON text without NUL "
				     "bytes",
				     srn ? " " : "", srn ? srn : "",
				     (size_t)(nul - json));
	/* Any valid JSON number is accepted (the text keeps it exactly). */
	root = osai_jtext_load(json, len, OSAI_JSON_IN | JSON_DECODE_ANY, &je);
	if (!root)
		return rec_parse_error(&je, srn, err);
	if (!json_is_object(root)) {
		int rc = osa_error_set(err, OSA_EINVAL,
				       "record%s%s: must be a JSON object, "
				       "got %s",
				       srn ? " " : "", srn ? srn : "",
				       rec_type_name(root));

		json_decref(root);
		return rc;
	}
	if (!id) {
		m = json_object_get(root, "srn");
		if (!m || json_is_null(m)) {
			json_decref(root);
			return osa_error_set(err, OSA_EINVAL,
					     "record has no \"srn\" member: "
					     "give every record its id as a "
					     "string \"srn\"");
		}
		if (!json_is_string(m)) {
			int rc = osa_error_set(err, OSA_EINVAL,
					       "record: \"srn\" must be a "
					       "string, got %s",
					       rec_type_name(m));

			json_decref(root);
			return rc;
		}
		id = json_string_value(m);
		if (!*id) {
			json_decref(root);
			return osa_error_set(err, OSA_EINVAL,
					     "record: \"srn\" is empty");
		}
	}
	idlen = strlen(id);
	/* struct, srn, compact text (never longer than the input). */
	size = sizeof(*rec) + idlen + 1;
	if (len > SIZE_MAX - size - 1) {
		json_decref(root);
		return osa_error_set(err, OSA_ENOMEM, "record %s: too large",
				     id);
	}
	rec = malloc(size + len + 1);
	if (!rec) {
		int rc = osa_error_set(err, OSA_ENOMEM,
				       "record %s: out of memory", id);

		json_decref(root);
		return rc;
	}
	rec->root = root;
	rec->srn = (char *)(rec + 1);
	memcpy(rec->srn, id, idlen + 1);
	rec->json = rec->srn + idlen + 1;
	rec->json_len = rec_compact(json, len, rec->json);
	*out = rec;
	return 0;
}

void osa_record_free(struct osa_record *rec)
{
	if (!rec)
		return;
	json_decref(rec->root);
	free(rec);
}

const char *osa_record_srn(const struct osa_record *rec)
{
	return rec ? rec->srn : "";
}

const char *osa_record_json(const struct osa_record *rec, size_t *len)
{
	if (!rec) {
		if (len)
			*len = 0;
		return "";
	}
	if (len)
		*len = rec->json_len;
	return rec->json;
}

/* ---- accessors -------------------------------------------------------- */

/* The member `field`, or NULL when absent or null. */
static json_t *rec_member(const struct osa_record *rec, const char *field)
{
	json_t *v;

	if (!rec || !field)
		return NULL;
	v = json_object_get(rec->root, field);
	return v && !json_is_null(v) ? v : NULL;
}

int osa_record_string(const struct osa_record *rec, const char *field,
		      const char **s, size_t *len)
{
	json_t *v = rec_member(rec, field);

	if (!v)
		return OSA_ENOTFOUND;
	if (!json_is_string(v))
		return OSA_ETYPE;
	if (s)
		*s = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return 0;
}

int osa_record_number(const struct osa_record *rec, const char *field,
		      double *out)
{
	json_t *v = rec_member(rec, field);

	if (!v)
		return OSA_ENOTFOUND;
	if (!json_is_number(v))
		return OSA_ETYPE;
	if (out)
		*out = json_number_value(v);
	return 0;
}

int osa_record_vector(const struct osa_record *rec, const char *field,
		      float *out, size_t dim, struct osa_error *err)
{
	const char *srn = osa_record_srn(rec);
	json_t *v = rec_member(rec, field);
	size_t i, n;

	if (!field)
		return osa_error_set(err, OSA_EINVAL,
				     "record %s: no vector field named", srn);
	if (!v)
		return osa_error_set(err, OSA_ENOTFOUND,
				     "record %s has no \"%s\" member: expected "
				     "an array of %zu numbers",
				     srn, field, dim);
	if (!json_is_array(v))
		return osa_error_set(err, OSA_ETYPE,
				     "record %s: \"%s\" is %s, expected an "
				     "array of %zu numbers",
				     srn, field, rec_type_name(v), dim);
	n = json_array_size(v);
	if (n != dim)
		return osa_error_set(err, OSA_ERANGE,
				     "record %s: \"%s\" has %zu numbers, "
				     "expected %zu (the index's dim)",
				     srn, field, n, dim);
	for (i = 0; i < n; i++) {
		json_t *x = json_array_get(v, i);
		double d;

		if (!json_is_number(x))
			return osa_error_set(err, OSA_ETYPE,
					     "record %s: \"%s\"[%zu] is %s, "
					     "expected a number",
					     srn, field, i, rec_type_name(x));
		d = json_number_value(x);
		if (!isfinite(d) || d > FLT_MAX || d < -FLT_MAX)
			return osa_error_set(err, OSA_ERANGE,
					     "record %s: \"%s\"[%zu] = %g is "
					     "beyond the range of a float",
					     srn, field, i, d);
		if (out)
			out[i] = (float)d;
	}
	return 0;
}

/* ---- templates -------------------------------------------------------- */

/* A growing output string. */
struct rec_buf {
	char *p;
	size_t n, cap;
	int oom;
};

static void rec_put(struct rec_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (n >= b->cap - b->n) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (n >= cap - b->n) {
			if (cap > SIZE_MAX / 2) {
				b->oom = 1;
				return;
			}
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

/*
 * A number in JSON form: integers as such, reals in the shortest form that
 * reads back to the same double (3.0 -> "3", 0.1 -> "0.1").
 */
static int rec_number(const json_t *v, char *buf, size_t n)
{
	double d;
	int prec;

	if (json_is_integer(v))
		return snprintf(buf, n, "%" JSON_INTEGER_FORMAT,
				json_integer_value(v));
	d = json_real_value(v);
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, n, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return snprintf(buf, n, "%.*g", prec, d);
}

/* Append the member `name` (n bytes) as a template renders it.  An integer
 * beyond int64 (a real in the tree) renders as the record writes it. */
static void rec_put_value(struct rec_buf *b, const struct osa_record *rec,
			  const char *name, size_t n)
{
	const json_t *v = json_object_getn(rec->root, name, n);
	char num[40], key[256];
	size_t vb, ve;
	int len;

	if (!v)
		return;
	switch (json_typeof(v)) {
	case JSON_STRING:
		rec_put(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		if (json_is_real(v) && n < sizeof(key) &&
		    !memchr(name, '\0', n)) {
			memcpy(key, name, n);
			key[n] = '\0';
			if (osai_jtext_member(rec->json, rec->json_len, key,
					      &vb, &ve, NULL, NULL) &&
			    ve - vb > 18 &&
			    strspn(rec->json + vb, "-0123456789") == ve - vb) {
				rec_put(b, rec->json + vb, ve - vb);
				break;
			}
		}
		len = rec_number(v, num, sizeof(num));
		if (len > 0 && (size_t)len < sizeof(num))
			rec_put(b, num, (size_t)len);
		break;
	case JSON_TRUE:
		rec_put(b, "true", 4);
		break;
	case JSON_FALSE:
		rec_put(b, "false", 5);
		break;
	default:
		break; /* null, objects and arrays render as nothing */
	}
}

int osa_record_render(const struct osa_record *rec, const char *tmpl,
		      char **out, size_t *len, struct osa_error *err)
{
	const char *srn = osa_record_srn(rec), *p, *lit;
	struct rec_buf b = { 0 };

	if (!out)
		return osa_error_set(err, OSA_EINVAL, "render: no output");
	*out = NULL;
	if (!rec || !tmpl)
		return osa_error_set(err, OSA_EINVAL,
				     "render: no record or template");
	rec_put(&b, "", 0); /* an empty template gives "" */
	for (p = lit = tmpl; *p;) {
		const char *end;

		if (*p != '{' && *p != '}') {
			p++;
			continue;
		}
		rec_put(&b, lit, (size_t)(p - lit));
		if (p[1] == *p) { /* {{ or }} */
			rec_put(&b, p, 1);
			p += 2;
			lit = p;
			continue;
		}
		if (*p == '}') {
			free(b.p);
			return osa_error_set(err, OSA_EINVAL,
					     "record %s: template: a single "
					     "'}' at byte %zu (write '}}' for "
					     "a literal brace)",
					     srn, (size_t)(p - tmpl));
		}
		end = p + 1 + strcspn(p + 1, "{}");
		if (*end != '}') {
			free(b.p);
			return osa_error_set(err, OSA_EINVAL,
					     "record %s: template: the '{' at "
					     "byte %zu is not closed by '}' "
					     "(write '{{' for a literal brace)",
					     srn, (size_t)(p - tmpl));
		}
		if (end == p + 1) {
			free(b.p);
			return osa_error_set(err, OSA_EINVAL,
					     "record %s: template: empty "
					     "placeholder '{}' at byte %zu "
					     "(name a member: {title})",
					     srn, (size_t)(p - tmpl));
		}
		rec_put_value(&b, rec, p + 1, (size_t)(end - p - 1));
		p = lit = end + 1;
	}
	rec_put(&b, lit, (size_t)(p - lit));
	if (b.oom) {
		free(b.p);
		return osa_error_set(err, OSA_ENOMEM,
				     "record %s: out of memory rendering the "
				     "template",
				     srn);
	}
	*out = b.p;
	if (len)
		*len = b.n;
	return 0;
}

const struct json_t *osai_record_member(const struct osa_record *rec,
					const char *field)
{
	return rec && field ? json_object_get(rec->root, field) : NULL;
}

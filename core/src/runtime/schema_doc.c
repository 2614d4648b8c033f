/* SPDX-License-Identifier: MIT */
/*
 * schema_doc.c - the schema tables as documentation: the Markdown reference
 * and the JSON Schema of the whole configuration file (`osa config schema`),
 * and one backend's keys as a table or JSON (`osa backends show NAME`).
 * Everything is generated from the same tables the validator uses, so the
 * documentation cannot drift from the code.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "osai.h"

#define DOC_MAX_DEPTH 16
#define DOC_JSON_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER)
#define DOC_NAME_PATTERN "^[a-z0-9][a-z0-9_-]{0,62}$"

/* ---- cell texts ------------------------------------------------------- */

static void doc_double(double v, char *buf, size_t n)
{
	snprintf(buf, n, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, n, "%.17g", v);
}

static bool doc_int_bounded(const struct osa_field *f)
{
	return f->min != 0 || f->max != 0;
}

static bool doc_double_bounded(const struct osa_field *f)
{
	return f->dmin != 0 || f->dmax != 0;
}

/* The name of an enum field's default choice, or NULL. */
static const char *doc_choice(const struct osa_field *f)
{
	int64_t i;

	if (!f->choices || f->def_int < 0)
		return NULL;
	for (i = 0; f->choices[i]; i++)
		if (i == f->def_int)
			return f->choices[i];
	return NULL;
}

/* The default as written in a config file; "" for none. */
static void doc_default(const struct osa_field *f, char *buf, size_t n)
{
	size_t o, i;

	*buf = '\0';
	if (f->flags & OSA_F_REQUIRED || f->type == OSA_T_GROUP)
		return;
	if (f->flags & OSA_F_SECRET) {
		snprintf(buf, n, "(secret)");
		return;
	}
	switch (f->type) {
	case OSA_T_BOOL:
		snprintf(buf, n, "%s", f->def_int ? "true" : "false");
		break;
	case OSA_T_INT:
	case OSA_T_INT64:
		snprintf(buf, n, "%lld", (long long)f->def_int);
		break;
	case OSA_T_DOUBLE:
		doc_double(f->def_double, buf, n);
		break;
	case OSA_T_STRING:
	case OSA_T_PATH:
		if (f->def_str)
			osai_quote(f->def_str, buf, n);
		break;
	case OSA_T_ENUM:
		if (doc_choice(f))
			snprintf(buf, n, "\"%s\"", doc_choice(f));
		break;
	case OSA_T_STRLIST:
		o = (size_t)snprintf(buf, n, "[");
		for (i = 0; f->def_list && f->def_list[i] && o < n; i++)
			o += (size_t)snprintf(buf + o, n - o, "%s\"%s\"",
					      i ? ", " : "", f->def_list[i]);
		if (o < n)
			snprintf(buf + o, n - o, "]");
		break;
	case OSA_T_GROUP:
		break;
	}
}

/* Range, length bounds or choices; "" for none. */
static void doc_range(const struct osa_field *f, char *buf, size_t n)
{
	char a[64], b[64];
	size_t o, i;

	*buf = '\0';
	switch (f->type) {
	case OSA_T_INT:
	case OSA_T_INT64:
		if (doc_int_bounded(f))
			snprintf(buf, n, "[%lld, %lld]", (long long)f->min,
				 (long long)f->max);
		break;
	case OSA_T_DOUBLE:
		if (doc_double_bounded(f)) {
			doc_double(f->dmin, a, sizeof(a));
			doc_double(f->dmax, b, sizeof(b));
			snprintf(buf, n, "[%s, %s]", a, b);
		}
		break;
	case OSA_T_STRING:
	case OSA_T_PATH:
		if (f->max > 0)
			snprintf(buf, n, "%lld to %lld bytes",
				 (long long)(f->min > 0 ? f->min : 0),
				 (long long)f->max);
		else if (f->min > 0)
			snprintf(buf, n, "at least %lld bytes",
				 (long long)f->min);
		break;
	case OSA_T_ENUM:
		for (o = 0, i = 0; f->choices && f->choices[i] && o < n; i++)
			o += (size_t)snprintf(buf + o, n - o, "%s%s",
					      i ? ", " : "", f->choices[i]);
		break;
	case OSA_T_STRLIST:
		if (f->max > 0)
			snprintf(buf, n, "%lld to %lld strings",
				 (long long)f->min, (long long)f->max);
		else if (f->min > 0)
			snprintf(buf, n, "at least %lld strings",
				 (long long)f->min);
		break;
	case OSA_T_BOOL:
	case OSA_T_GROUP:
		break;
	}
}

/* ---- walking a schema ------------------------------------------------- */

typedef void (*doc_visit_fn)(void *ctx, const char *key,
			     const struct osa_field *f);

/* Call `fn` for every field, nested ones with a dotted key, in order. */
static void doc_walk(const struct osa_schema *s, const char *prefix, int depth,
		     doc_visit_fn fn, void *ctx)
{
	const struct osa_field *f;
	char key[256];

	if (!s || !s->fields || depth > DOC_MAX_DEPTH)
		return;
	for (f = s->fields; f->name; f++) {
		int n = *prefix ? snprintf(key, sizeof(key), "%s.%s", prefix,
					   f->name)
				: snprintf(key, sizeof(key), "%s", f->name);

		if (n < 0 || (size_t)n >= sizeof(key))
			continue; /* deeper than any real schema; never cut */
		fn(ctx, key, f);
		if (f->type == OSA_T_GROUP)
			doc_walk(f->group, key, depth + 1, fn, ctx);
	}
}

/* ---- Markdown --------------------------------------------------------- */

/* A table cell: '|' escaped, line breaks flattened, and '<' '>' outside
 * `code spans` made entities so "<domain>" is not taken for HTML. */
static void md_cell(FILE *out, const char *s, bool code)
{
	bool in_code = code;

	if (!*s)
		return;
	if (code)
		fputc('`', out);
	for (; *s; s++) {
		if (*s == '`' && !code)
			in_code = !in_code;
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '\n')
			fputc(' ', out);
		else if (*s == '<' && !in_code)
			fputs("&lt;", out);
		else if (*s == '>' && !in_code)
			fputs("&gt;", out);
		else
			fputc(*s, out);
	}
	if (code)
		fputc('`', out);
}

static void md_row(void *ctx, const char *key, const struct osa_field *f)
{
	FILE *out = ctx;
	char def[512], range[512];

	doc_default(f, def, sizeof(def));
	doc_range(f, range, sizeof(range));
	fputs("| ", out);
	md_cell(out, key, true);
	fprintf(out, " | %s | ", osa_type_name(f->type));
	md_cell(out, def, true);
	fputs(" | ", out);
	md_cell(out, range, false);
	fprintf(out, " | %s | ", f->flags & OSA_F_REQUIRED ? "yes" : "no");
	md_cell(out, f->doc ? f->doc : "", false);
	fputs(" |\n", out);
}

static void md_table(FILE *out, const struct osa_schema *s)
{
	if (!s || !s->fields || !s->fields[0].name) {
		fputs("No settings.\n\n", out);
		return;
	}
	fputs("| Key | Type | Default | Range / choices | Required | "
	      "Description |\n"
	      "|---|---|---|---|---|---|\n",
	      out);
	doc_walk(s, "", 0, md_row, out);
	fputc('\n', out);
}

int osai_schema_markdown(FILE *out)
{
	size_t i, nb = osai_backend_count(), ne = osai_embedder_count();

	fputs("# Configuration reference\n\n"
	      "<!-- Generated by `osa config schema`; do not edit. -->\n\n"
	      "`osa` reads a [libconfig](https://hyperrealm.github.io/"
	      "libconfig/) file (`-c FILE`, `$OSA_CONFIG` or `./osa.cfg`). "
	      "Every key is checked before anything starts: unknown keys, "
	      "wrong types, values out of range and missing required keys "
	      "are all reported at once, one line each, as "
	      "`FILE:LINE: path: message`. Relative paths are relative to "
	      "the directory of the configuration file. Integers beyond "
	      "32 bits may be written with or without libconfig's `L` "
	      "suffix.\n\n"
	      "## Top-level settings\n\n",
	      out);
	md_table(out, &osai_core_schema);
	fputs("## `indexes`\n\n"
	      "A list of groups, one per index:\n\n"
	      "```\n"
	      "indexes = (\n"
	      "  { name = \"papers\"; backend = \"vector\"; "
	      "config = { dim = 384; }; }\n"
	      ");\n"
	      "```\n\n"
	      "| Key | Type | Default | Range / choices | Required | "
	      "Description |\n"
	      "|---|---|---|---|---|---|\n"
	      "| `name` | string |  | `[a-z0-9][a-z0-9_-]{0,62}` | yes | "
	      "Unique name of the index; also the name of its directory "
	      "under `data_dir`. |\n"
	      "| `backend` | enum |  | ",
	      out);
	for (i = 0; i < nb; i++)
		fprintf(out, "%s%s", i ? ", " : "", osai_backend_at(i)->name);
	if (!nb)
		fputs("(none built in)", out);
	fputs(" | yes | The storage backend that serves the index (see "
	      "below). |\n"
	      "| `config` | group |  |  | no | The backend's settings; "
	      "absent keys take their defaults. |\n"
	      "| `attributes` | list of groups |  | at most 64 | no | "
	      "Record fields to filter and count on: `( { name = \"year\"; "
	      "type = \"int\"; }, ... )`, type one of `int`, `float`, "
	      "`keyword`, `keywords`, `bool`, `date`. Records are checked at "
	      "ingest; changing them rebuilds the index. |\n\n",
	      out);
	for (i = 0; i < nb; i++) {
		const struct osa_backend *b = osai_backend_at(i);

		fprintf(out, "## Backend `%s`\n\n", b->name);
		if (b->doc && *b->doc)
			fprintf(out, "%s\n\n", b->doc);
		fprintf(out,
			"ABI %u.%u. Keys of `config` for `backend = "
			"\"%s\"`:\n\n",
			OSA_ABI_MAJOR(b->abi), OSA_ABI_MINOR(b->abi), b->name);
		md_table(out, b->schema);
	}
	fputs("## Embedders\n\n"
	      "Names for the `embedding.embedder` key of the backends that "
	      "store vectors:\n\n",
	      out);
	if (!ne)
		fputs("None built in.\n", out);
	else
		fputs("| Name | Description |\n|---|---|\n", out);
	for (i = 0; i < ne; i++) {
		const struct osa_embedder *e = osai_embedder_at(i);

		fprintf(out, "| `%s` | ", e->name);
		md_cell(out, e->doc ? e->doc : "", false);
		fputs(" |\n", out);
	}
	return ferror(out) ? OSA_EIO : 0;
}

/* ---- man page (osa.cfg(5)) -------------------------------------------- */

/* Text for troff: backslashes and hyphens escaped, a leading '.' or '\''
 * neutralised, line breaks flattened. */
static void man_text(FILE *out, const char *s)
{
	bool bol = true;

	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", out);
		bol = false;
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else if (*s == '\n')
			fputc(' ', out);
		else
			fputc(*s, out);
	}
}

static void man_row(void *ctx, const char *key, const struct osa_field *f)
{
	FILE *out = ctx;
	char def[512], range[512];

	doc_default(f, def, sizeof(def));
	doc_range(f, range, sizeof(range));
	fputs(".TP\n.B ", out);
	man_text(out, key);
	fputc('\n', out);
	fprintf(out, "%s%s", osa_type_name(f->type),
		f->flags & OSA_F_REQUIRED ? ", required" : "");
	if (*def) {
		fputs("; default ", out);
		man_text(out, def);
	}
	if (*range) {
		fputs("; ", out);
		man_text(out, range);
	}
	fputs(".\n", out);
	if (f->doc && *f->doc) {
		fputs(".br\n", out);
		man_text(out, f->doc);
		fputc('\n', out);
	}
}

static void man_section(FILE *out, const struct osa_schema *s)
{
	if (!s || !s->fields || !s->fields[0].name) {
		fputs("No settings.\n", out);
		return;
	}
	doc_walk(s, "", 0, man_row, out);
}

int osai_schema_man(FILE *out)
{
	size_t i, nb = osai_backend_count(), ne = osai_embedder_count();

	fprintf(out,
		".\\\" Generated by `osa config schema --format man`; do not "
		"edit.\n"
		".TH OSA.CFG 5 \"\" \"osa %s\" \"File Formats\"\n"
		".SH NAME\n"
		"osa.cfg \\- configuration of the OSA Index server and CLI\n"
		".SH SYNOPSIS\n"
		".I /etc/osa/osa.cfg\n"
		"(the packaged service),\n"
		".BR \\-c \" FILE\", \"\n"
		".BR $OSA_CONFIG \", \"\n"
		".I ./osa.cfg\n"
		"or the built\\-in default.\n"
		".SH DESCRIPTION\n"
		"A libconfig file.  Every key is checked before anything "
		"starts: unknown keys, wrong types, values out of range and "
		"missing required keys are all reported at once, one line "
		"each, as\n"
		".IR FILE : LINE : \" path: message\"\n"
		"(exit status 78).  Relative paths are relative to the "
		"directory of the configuration file.  Integers beyond 32 "
		"bits may be written with or without libconfig's\n"
		".B L\n"
		"suffix.  Check a file with\n"
		".BR \"osa config check\" .\n"
		".SH TOP-LEVEL SETTINGS\n",
		OSA_VERSION_STRING);
	man_section(out, &osai_core_schema);
	fputs(".SH INDEXES\n"
	      ".B indexes\n"
	      "is a list of groups, one per index:\n"
	      ".PP\n.nf\n.RS\n"
	      "indexes = (\n"
	      "  { name = \"papers\"; backend = \"vector\"; config = { dim = "
	      "384; }; }\n"
	      ");\n"
	      ".RE\n.fi\n"
	      ".TP\n.B name\n"
	      "string, required; [a\\-z0\\-9][a\\-z0\\-9_\\-]{0,62}.\n.br\n"
	      "Unique name of the index; also the name of its directory "
	      "under data_dir.\n"
	      ".TP\n.B backend\n"
	      "enum, required; ",
	      out);
	for (i = 0; i < nb; i++) {
		fputs(i ? ", " : "", out);
		man_text(out, osai_backend_at(i)->name);
	}
	if (!nb)
		fputs("(none built in)", out);
	fputs(".\n.br\nThe storage backend that serves the index (see "
	      "below).\n"
	      ".TP\n.B config\n"
	      "group.\n.br\n"
	      "The backend's settings; absent keys take their defaults.\n"
	      ".TP\n.B attributes\n"
	      "list of groups { name; type; }, at most 64.\n.br\n"
	      "Record fields to filter and count on; type is one of int, "
	      "float, keyword, keywords, bool, date.  Records are checked at "
	      "ingest; changing them rebuilds the index.\n",
	      out);
	for (i = 0; i < nb; i++) {
		const struct osa_backend *b = osai_backend_at(i);

		fputs(".SH BACKEND ", out);
		man_text(out, b->name);
		fputc('\n', out);
		if (b->doc && *b->doc) {
			man_text(out, b->doc);
			fputs("\n.PP\n", out);
		}
		fprintf(out,
			"ABI %u.%u.  Keys of\n.B config\nfor\n.BR "
			"backend \" = \\(dq",
			OSA_ABI_MAJOR(b->abi), OSA_ABI_MINOR(b->abi));
		man_text(out, b->name);
		fputs("\\(dq\" :\n", out);
		man_section(out, b->schema);
	}
	fputs(".SH EMBEDDERS\n"
	      "Names for the\n.B embedding.embedder\n"
	      "key of the backends that store vectors:\n",
	      out);
	if (!ne)
		fputs(".PP\nNone built in.\n", out);
	for (i = 0; i < ne; i++) {
		const struct osa_embedder *e = osai_embedder_at(i);

		fputs(".TP\n.B ", out);
		man_text(out, e->name);
		fputc('\n', out);
		man_text(out, e->doc ? e->doc : "");
		fputc('\n', out);
	}
	fputs(".SH FILES\n"
	      ".TP\n.I /etc/osa/osa.cfg\n"
	      "The configuration of the packaged service (a conffile).\n"
	      ".TP\n.I /var/lib/osa\n"
	      "Its data_dir (systemd StateDirectory).\n"
	      ".SH SEE ALSO\n"
	      ".BR osa (1),\n"
	      ".BR systemd.service (5)\n",
	      out);
	return ferror(out) ? OSA_EIO : 0;
}

/* ---- JSON ------------------------------------------------------------- */

/* json_object_set_new() that records a failure (also a NULL value). */
static void jset(json_t *o, const char *key, json_t *v, bool *bad)
{
	if (!o) {
		json_decref(v);
		*bad = true;
	} else if (json_object_set_new(o, key, v)) {
		*bad = true;
	}
}

static void jpush(json_t *a, json_t *v, bool *bad)
{
	if (!a) {
		json_decref(v);
		*bad = true;
	} else if (json_array_append_new(a, v)) {
		*bad = true;
	}
}

static json_t *jchoices(const char *const *list, bool *bad)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; list && list[i]; i++)
		jpush(a, json_string(list[i]), bad);
	if (!a)
		*bad = true;
	return a;
}

static json_t *json_object_schema(const struct osa_schema *s, int depth,
				  bool *bad);

/* The JSON Schema of one field. */
static json_t *json_field_schema(const struct osa_field *f, int depth,
				 bool *bad)
{
	bool secret = f->flags & OSA_F_SECRET;
	json_t *o;

	if (f->type == OSA_T_GROUP) {
		o = json_object_schema(f->group, depth + 1, bad);
		if (o && f->doc)
			jset(o, "description", json_string(f->doc), bad);
		return o;
	}
	o = json_object();
	if (!o) {
		*bad = true;
		return NULL;
	}
	switch (f->type) {
	case OSA_T_BOOL:
		jset(o, "type", json_string("boolean"), bad);
		if (!(f->flags & OSA_F_REQUIRED))
			jset(o, "default", json_boolean(f->def_int), bad);
		break;
	case OSA_T_INT:
	case OSA_T_INT64:
		jset(o, "type", json_string("integer"), bad);
		if (doc_int_bounded(f)) {
			jset(o, "minimum", json_integer(f->min), bad);
			jset(o, "maximum", json_integer(f->max), bad);
		} else if (f->type == OSA_T_INT) {
			jset(o, "minimum", json_integer(INT_MIN), bad);
			jset(o, "maximum", json_integer(INT_MAX), bad);
		}
		if (!(f->flags & OSA_F_REQUIRED) && !secret)
			jset(o, "default", json_integer(f->def_int), bad);
		break;
	case OSA_T_DOUBLE:
		jset(o, "type", json_string("number"), bad);
		if (doc_double_bounded(f)) {
			jset(o, "minimum", json_real(f->dmin), bad);
			jset(o, "maximum", json_real(f->dmax), bad);
		}
		if (!(f->flags & OSA_F_REQUIRED) && !secret)
			jset(o, "default", json_real(f->def_double), bad);
		break;
	case OSA_T_STRING:
	case OSA_T_PATH:
		jset(o, "type", json_string("string"), bad);
		if (f->type == OSA_T_PATH || f->min > 0)
			jset(o, "minLength",
			     json_integer(f->min > 1 ? f->min : 1), bad);
		if (f->max > 0)
			jset(o, "maxLength", json_integer(f->max), bad);
		if (!(f->flags & OSA_F_REQUIRED) && !secret && f->def_str)
			jset(o, "default", json_string(f->def_str), bad);
		break;
	case OSA_T_ENUM:
		jset(o, "type", json_string("string"), bad);
		jset(o, "enum", jchoices(f->choices, bad), bad);
		if (!(f->flags & OSA_F_REQUIRED) && !secret && doc_choice(f))
			jset(o, "default", json_string(doc_choice(f)), bad);
		break;
	case OSA_T_STRLIST:
		jset(o, "type", json_string("array"), bad);
		jset(o, "items", json_pack("{s:s}", "type", "string"), bad);
		if (f->min > 0)
			jset(o, "minItems", json_integer(f->min), bad);
		if (f->max > 0)
			jset(o, "maxItems", json_integer(f->max), bad);
		if (!(f->flags & OSA_F_REQUIRED) && !secret)
			jset(o, "default", jchoices(f->def_list, bad), bad);
		break;
	case OSA_T_GROUP:
		break;
	}
	if (secret)
		jset(o, "writeOnly", json_true(), bad);
	if (f->doc)
		jset(o, "description", json_string(f->doc), bad);
	return o;
}

/* {"type":"object","properties":{...},"required":[...],
 *  "additionalProperties":false} */
static json_t *json_object_schema(const struct osa_schema *s, int depth,
				  bool *bad)
{
	json_t *o = json_object(), *props = json_object(), *req = json_array();
	const struct osa_field *f;

	jset(o, "type", json_string("object"), bad);
	for (f = s && depth <= DOC_MAX_DEPTH ? s->fields : NULL; f && f->name;
	     f++) {
		jset(props, f->name, json_field_schema(f, depth, bad), bad);
		if (f->flags & OSA_F_REQUIRED)
			jpush(req, json_string(f->name), bad);
	}
	jset(o, "properties", props, bad);
	if (req && json_array_size(req))
		jset(o, "required", req, bad);
	else
		json_decref(req);
	jset(o, "additionalProperties", json_false(), bad);
	return o;
}

static json_t *json_indexes_schema(json_t *defs, bool *bad)
{
	json_t *items, *props, *names, *all, *ix;
	size_t i, nb = osai_backend_count();
	char def[160];

	names = json_array();
	all = json_array();
	for (i = 0; i < nb; i++) {
		const struct osa_backend *b = osai_backend_at(i);
		json_t *s = json_object_schema(b->schema, 0, bad);

		jpush(names, json_string(b->name), bad);
		if (s && b->doc)
			jset(s, "description", json_string(b->doc), bad);
		snprintf(def, sizeof(def), "backend-%s", b->name);
		jset(defs, def, s, bad);
		snprintf(def, sizeof(def), "#/$defs/backend-%s", b->name);
		jpush(all,
		      json_pack("{s:{s:{s:{s:s}},s:[s]},s:{s:{s:{s:s}}}}", "if",
				"properties", "backend", "const", b->name,
				"required", "backend", "then", "properties",
				"config", "$ref", def),
		      bad);
	}
	props = json_object();
	jset(props, "name",
	     json_pack("{s:s,s:s,s:s}", "type", "string", "pattern",
		       DOC_NAME_PATTERN, "description",
		       "Unique name of the index; also the name of its "
		       "directory under data_dir."),
	     bad);
	if (nb) {
		jset(props, "backend",
		     json_pack("{s:s,s:o,s:s}", "type", "string", "enum", names,
			       "description",
			       "The storage backend that serves the index."),
		     bad);
	} else {
		jset(props, "backend",
		     json_pack("{s:s,s:o,s:s}", "type", "string", "not",
			       json_object(), "description",
			       "No backend is built in."),
		     bad);
		json_decref(names);
	}
	jset(props, "config",
	     json_pack("{s:s,s:s}", "type", "object", "description",
		       "The backend's settings; absent keys take their "
		       "defaults."),
	     bad);
	jset(props, "attributes",
	     json_pack("{s:s,s:i,s:{s:s,s:{s:{s:s},s:{s:s,s:[s,s,s,s,s,s]}},"
		       "s:[s,s],s:b},s:s}",
		       "type", "array", "maxItems", 64, "items", "type",
		       "object", "properties", "name", "type", "string", "type",
		       "type", "string", "enum", "int", "float", "keyword",
		       "keywords", "bool", "date", "required", "name", "type",
		       "additionalProperties", 0, "description",
		       "Record fields to filter and count on."),
	     bad);
	items = json_pack("{s:s,s:o,s:[s,s],s:b}", "type", "object",
			  "properties", props, "required", "name", "backend",
			  "additionalProperties", 0);
	if (items && nb)
		jset(items, "allOf", all, bad);
	else
		json_decref(all);
	ix = json_pack("{s:s,s:o,s:s}", "type", "array", "items", items,
		       "description",
		       "The indexes, one group each (a libconfig list).");
	if (!ix)
		*bad = true;
	return ix;
}

static int json_emit(json_t *root, bool bad, FILE *out)
{
	int rc = 0;

	if (bad || !root)
		rc = OSA_ENOMEM;
	else if (json_dumpf(root, out, DOC_JSON_FLAGS) || fputc('\n', out) < 0)
		rc = OSA_EIO;
	json_decref(root);
	return rc;
}

int osai_schema_json(FILE *out)
{
	json_t *root, *props, *defs = json_object();
	bool bad = false;

	root = json_object();
	jset(root, "$schema",
	     json_string("https://json-schema.org/draft/2020-12/schema"), &bad);
	jset(root, "title", json_string("OSA Index configuration"), &bad);
	jset(root, "description",
	     json_string("The runtime configuration of osa (a libconfig "
			 "file), as JSON Schema. Generated by `osa config "
			 "schema --format json`."),
	     &bad);
	jset(root, "type", json_string("object"), &bad);
	props = json_object_schema(&osai_core_schema, 0, &bad);
	if (props) {
		json_t *p = json_object_get(props, "properties");

		jset(p, "indexes", json_indexes_schema(defs, &bad), &bad);
		jset(root, "properties", json_incref(p), &bad);
		json_decref(props);
	} else {
		bad = true;
	}
	jset(root, "additionalProperties", json_false(), &bad);
	jset(root, "$defs", defs, &bad);
	return json_emit(root, bad, out);
}

/* ---- osa backends show ------------------------------------------------ */

/* The show-JSON of one field, nested fields under "fields". */
static json_t *show_field(const struct osa_field *f, int depth, bool *bad)
{
	bool secret = f->flags & OSA_F_SECRET;
	bool req = f->flags & OSA_F_REQUIRED;
	const struct osa_field *g;
	json_t *o = json_object(), *a;

	jset(o, "name", json_string(f->name), bad);
	jset(o, "type", json_string(osa_type_name(f->type)), bad);
	jset(o, "required", json_boolean(req), bad);
	switch (f->type) {
	case OSA_T_BOOL:
		if (!req)
			jset(o, "default", json_boolean(f->def_int), bad);
		break;
	case OSA_T_INT:
	case OSA_T_INT64:
		if (!req)
			jset(o, "default",
			     secret ? json_string("(secret)")
				    : json_integer(f->def_int),
			     bad);
		if (doc_int_bounded(f)) {
			jset(o, "minimum", json_integer(f->min), bad);
			jset(o, "maximum", json_integer(f->max), bad);
		}
		break;
	case OSA_T_DOUBLE:
		if (!req)
			jset(o, "default",
			     secret ? json_string("(secret)")
				    : json_real(f->def_double),
			     bad);
		if (doc_double_bounded(f)) {
			jset(o, "minimum", json_real(f->dmin), bad);
			jset(o, "maximum", json_real(f->dmax), bad);
		}
		break;
	case OSA_T_STRING:
	case OSA_T_PATH:
		if (!req)
			jset(o, "default",
			     secret	  ? json_string("(secret)")
			     : f->def_str ? json_string(f->def_str)
					  : json_null(),
			     bad);
		if (f->min > 0)
			jset(o, "min_length", json_integer(f->min), bad);
		if (f->max > 0)
			jset(o, "max_length", json_integer(f->max), bad);
		break;
	case OSA_T_ENUM:
		if (!req && doc_choice(f))
			jset(o, "default",
			     json_string(secret ? "(secret)" : doc_choice(f)),
			     bad);
		jset(o, "choices", jchoices(f->choices, bad), bad);
		break;
	case OSA_T_STRLIST:
		if (!req)
			jset(o, "default",
			     secret ? json_string("(secret)")
				    : jchoices(f->def_list, bad),
			     bad);
		if (f->min > 0)
			jset(o, "min_items", json_integer(f->min), bad);
		if (f->max > 0)
			jset(o, "max_items", json_integer(f->max), bad);
		break;
	case OSA_T_GROUP:
		a = json_array();
		for (g = f->group && depth < DOC_MAX_DEPTH ? f->group->fields
							   : NULL;
		     g && g->name; g++)
			jpush(a, show_field(g, depth + 1, bad), bad);
		jset(o, "fields", a, bad);
		break;
	}
	jset(o, "doc", json_string(f->doc ? f->doc : ""), bad);
	return o;
}

/* Aligned text table: a first pass measures, a second prints. */
struct show_table {
	FILE *out;
	bool print;
	int w[4]; /* key, type, default, range */
};

static void show_cells(const struct osa_field *f, char *def, size_t ndef,
		       char *range, size_t nrange)
{
	if (f->flags & OSA_F_REQUIRED)
		snprintf(def, ndef, "(required)");
	else
		doc_default(f, def, ndef);
	doc_range(f, range, nrange);
}

static void show_row(void *ctx, const char *key, const struct osa_field *f)
{
	struct show_table *t = ctx;
	char def[512], range[512];
	const char *type = osa_type_name(f->type);
	int l[4], i;

	show_cells(f, def, sizeof(def), range, sizeof(range));
	l[0] = (int)strlen(key);
	l[1] = (int)strlen(type);
	l[2] = (int)strlen(def);
	l[3] = (int)strlen(range);
	if (!t->print) {
		for (i = 0; i < 4; i++)
			if (l[i] > t->w[i])
				t->w[i] = l[i];
		return;
	}
	fprintf(t->out, "  %-*s  %-*s  %-*s  %-*s  %s\n", t->w[0], key, t->w[1],
		type, t->w[2], def, t->w[3], range, f->doc ? f->doc : "");
}

int osai_schema_show(const struct osa_backend *b, bool json, FILE *out)
{
	struct show_table t = { .out = out, .w = { 3, 4, 7, 13 } };
	const struct osa_field *f;
	bool bad = false;
	json_t *root, *fields;
	char abi[32];

	if (!b || !out)
		return OSA_EINVAL;
	snprintf(abi, sizeof(abi), "%u.%u", OSA_ABI_MAJOR(b->abi),
		 OSA_ABI_MINOR(b->abi));
	if (json) {
		root = json_object();
		fields = json_array();
		jset(root, "name", json_string(b->name), &bad);
		jset(root, "doc", json_string(b->doc ? b->doc : ""), &bad);
		jset(root, "abi", json_string(abi), &bad);
		if (osa_backend_kernel(b))
			jset(root, "kernel", json_string(osa_backend_kernel(b)),
			     &bad);
		for (f = b->schema && b->schema->fields ? b->schema->fields
							: NULL;
		     f && f->name; f++)
			jpush(fields, show_field(f, 0, &bad), &bad);
		jset(root, "fields", fields, &bad);
		return json_emit(root, bad, out);
	}
	fprintf(out, "%s - %s\nABI %s", b->name, b->doc ? b->doc : "", abi);
	if (osa_backend_kernel(b))
		fprintf(out, "; kernels: %s", osa_backend_kernel(b));
	fprintf(out, "; keys of an index's `config` group:\n\n");
	if (!b->schema || !b->schema->fields || !b->schema->fields[0].name) {
		fputs("  (no settings)\n", out);
		return ferror(out) ? OSA_EIO : 0;
	}
	doc_walk(b->schema, "", 0, show_row, &t);
	fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", t.w[0], "KEY", t.w[1],
		"TYPE", t.w[2], "DEFAULT", t.w[3], "RANGE/CHOICES", "DOC");
	t.print = true;
	doc_walk(b->schema, "", 0, show_row, &t);
	return ferror(out) ? OSA_EIO : 0;
}

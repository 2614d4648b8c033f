/* SPDX-License-Identifier: MIT */
/*
 * schema.c - the typed configuration engine.  Validates a libconfig group
 * against a struct osa_schema table, stores every value in the plugin's
 * struct, fills defaults, runs the check callbacks (nested groups first) and
 * reports every problem as a `FILE:LINE: dotted.path: message` diagnostic.
 * Also: osa_schema_parse() for plugin tests, releasing filled structs, the
 * self-check of schema tables (plugin authors' mistakes) and the edit
 * distance behind "did you mean" suggestions.
 *
 * Bounds (see osa/schema.h): min == max == 0 means "the type's whole range"
 * for INT (int), INT64 (int64_t) and DOUBLE (any finite number), "no limit"
 * for string lengths and list sizes.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libconfig.h>

#include "osai.h"

/* Nesting limit of groups: a schema that includes itself stops here. */
#define SCHEMA_MAX_DEPTH 16
/* Bytes of a string value echoed in a message before it is cut. */
#define SCHEMA_QUOTE_MAX 64

/* What a check callback reports through (see osa_check_error()). */
struct osa_check {
	struct osai_schema_ctx *ctx;
	const char *path;		/* dotted path of the group, or "" */
	const config_setting_t *group;	/* the group, NULL when absent */
	const config_setting_t *parent; /* where an absent group would be */
};

#define FIELD_AT(cfg, f, T) ((T *)(void *)((char *)(cfg) + (f)->offset))

/* ---- small helpers ---------------------------------------------------- */

const char *osa_type_name(enum osa_type type)
{
	switch (type) {
	case OSA_T_BOOL:
		return "boolean";
	case OSA_T_INT:
	case OSA_T_INT64:
		return "integer";
	case OSA_T_DOUBLE:
		return "number";
	case OSA_T_STRING:
		return "string";
	case OSA_T_ENUM:
		return "enum";
	case OSA_T_PATH:
		return "path";
	case OSA_T_STRLIST:
		return "list of strings";
	case OSA_T_GROUP:
		return "group";
	}
	return "unknown";
}

static const char *plural(long long n)
{
	return n == 1 ? "" : "s";
}

/* "prefix.key", or "key" when the prefix is empty.  NULL: out of memory. */
static char *path_join(const char *prefix, const char *key)
{
	char *p;

	if (!prefix || !*prefix)
		return strdup(key ? key : "");
	if (!key || !*key)
		return strdup(prefix);
	if (asprintf(&p, "%s.%s", prefix, key) < 0)
		return NULL;
	return p;
}

void osai_quote(const char *s, char *buf, size_t n)
{
	char tmp[4 * SCHEMA_QUOTE_MAX + 8];
	size_t len, i, o = 0;
	bool cut = false;

	if (!buf || !n)
		return;
	if (!s)
		s = "";
	len = strlen(s);
	if (len > SCHEMA_QUOTE_MAX) {
		len = SCHEMA_QUOTE_MAX;
		/* Do not cut a UTF-8 sequence in two. */
		while (len && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
		cut = true;
	}
	tmp[o++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			tmp[o++] = '\\';
			tmp[o++] = (char)c;
		} else if (c == '\n') {
			tmp[o++] = '\\';
			tmp[o++] = 'n';
		} else if (c == '\t') {
			tmp[o++] = '\\';
			tmp[o++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(tmp + o, sizeof(tmp) - o,
					      "\\x%02x", c);
		} else {
			tmp[o++] = (char)c;
		}
	}
	if (cut) {
		memcpy(tmp + o, "...", 3);
		o += 3;
	}
	tmp[o++] = '"';
	tmp[o] = '\0';
	snprintf(buf, n, "%s", tmp);
}

/* A double the shortest way that reads back the same.  `literal`: make it
 * look like a number with a fraction ("384.0"), as the user would write. */
static void fmt_double(double v, bool literal, char *buf, size_t n)
{
	if (isnan(v)) {
		snprintf(buf, n, "nan");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, n, v > 0 ? "inf" : "-inf");
		return;
	}
	snprintf(buf, n, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, n, "%.17g", v);
	if (literal && !strpbrk(buf, ".eE")) {
		size_t len = strlen(buf);

		if (len + 3 <= n)
			memcpy(buf + len, ".0", 3);
	}
}

static void describe_setting(const config_setting_t *s, bool secret, char *buf,
			     size_t n)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		if (secret)
			snprintf(buf, n, "an integer (hidden)");
		else
			snprintf(buf, n, "%d", config_setting_get_int(s));
		break;
	case CONFIG_TYPE_INT64:
		if (secret)
			snprintf(buf, n, "an integer (hidden)");
		else
			snprintf(buf, n, "%lld", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		if (secret)
			snprintf(buf, n, "a number (hidden)");
		else
			fmt_double(config_setting_get_float(s), true, buf, n);
		break;
	case CONFIG_TYPE_STRING:
		if (secret)
			snprintf(buf, n, "a string (hidden)");
		else /* (NULL only if libconfig ran out of memory) */
			osai_quote(config_setting_get_string(s), buf, n);
		break;
	case CONFIG_TYPE_BOOL:
		if (secret)
			snprintf(buf, n, "a boolean (hidden)");
		else
			snprintf(buf, n, "%s",
				 config_setting_get_bool(s) ? "true" : "false");
		break;
	case CONFIG_TYPE_GROUP:
		snprintf(buf, n, "a group");
		break;
	case CONFIG_TYPE_LIST:
		snprintf(buf, n, "a list");
		break;
	case CONFIG_TYPE_ARRAY:
		snprintf(buf, n, "an array");
		break;
	default:
		snprintf(buf, n, "nothing");
		break;
	}
}

void osai_setting_describe(const struct config_setting_t *s, char *buf,
			   size_t n)
{
	if (buf && n)
		describe_setting(s, false, buf, n);
}

/* The accepted integer range of an INT or INT64 field. */
static bool int_bounds(const struct osa_field *f, int64_t *lo, int64_t *hi)
{
	bool bounded = f->min != 0 || f->max != 0;

	if (bounded) {
		*lo = f->min;
		*hi = f->max;
	} else if (f->type == OSA_T_INT) {
		*lo = INT_MIN;
		*hi = INT_MAX;
	} else {
		*lo = INT64_MIN;
		*hi = INT64_MAX;
	}
	if (f->type == OSA_T_INT) {
		/* A table asking for more than an int holds is refused by the
		 * self-check; never store a truncated value anyway. */
		if (*lo < INT_MIN)
			*lo = INT_MIN;
		if (*hi > INT_MAX)
			*hi = INT_MAX;
	}
	return bounded;
}

static bool double_bounded(const struct osa_field *f)
{
	return f->dmin != 0 || f->dmax != 0;
}

/* "a string of at most 64 bytes" and friends. */
static void describe_length(const char *what, int64_t min, int64_t max,
			    char *buf, size_t n)
{
	if (max > 0 && min > 0 && min == max)
		snprintf(buf, n, "%s of exactly %lld byte%s", what,
			 (long long)min, plural(min));
	else if (max > 0 && min > 0)
		snprintf(buf, n, "%s of %lld to %lld bytes", what,
			 (long long)min, (long long)max);
	else if (max > 0)
		snprintf(buf, n, "%s of at most %lld byte%s", what,
			 (long long)max, plural(max));
	else if (min > 0)
		snprintf(buf, n, "%s of at least %lld byte%s", what,
			 (long long)min, plural(min));
	else
		snprintf(buf, n, "%s", what);
}

/* "1 to 16 strings" and friends (for list sizes). */
static void describe_count(int64_t min, int64_t max, char *buf, size_t n)
{
	if (max > 0 && min == max)
		snprintf(buf, n, "exactly %lld string%s", (long long)min,
			 plural(min));
	else if (max > 0 && min > 0)
		snprintf(buf, n, "%lld to %lld strings", (long long)min,
			 (long long)max);
	else if (max > 0)
		snprintf(buf, n, "at most %lld string%s", (long long)max,
			 plural(max));
	else
		snprintf(buf, n, "at least %lld string%s", (long long)min,
			 plural(min));
}

/* What a field expects, as in "expected <this>, got ...". */
static void describe_expected(const struct osa_field *f, char *buf, size_t n)
{
	char a[64], b[64];
	int64_t lo, hi;
	size_t o, i;

	switch (f->type) {
	case OSA_T_BOOL:
		snprintf(buf, n, "a boolean (true or false)");
		return;
	case OSA_T_INT:
	case OSA_T_INT64:
		if (int_bounds(f, &lo, &hi))
			snprintf(buf, n, "an integer in [%lld, %lld]",
				 (long long)lo, (long long)hi);
		else
			snprintf(buf, n, "an integer");
		return;
	case OSA_T_DOUBLE:
		if (double_bounded(f)) {
			fmt_double(f->dmin, false, a, sizeof(a));
			fmt_double(f->dmax, false, b, sizeof(b));
			snprintf(buf, n, "a number in [%s, %s]", a, b);
		} else {
			snprintf(buf, n, "a number");
		}
		return;
	case OSA_T_STRING:
		describe_length("a string", f->min, f->max, buf, n);
		return;
	case OSA_T_PATH:
		if (f->max > 0)
			describe_length("a path", f->min > 1 ? f->min : 1,
					f->max, buf, n);
		else
			snprintf(buf, n, "a path (a non-empty string)");
		return;
	case OSA_T_ENUM:
		o = (size_t)snprintf(buf, n, "one of ");
		for (i = 0; f->choices && f->choices[i] && o < n; i++)
			o += (size_t)snprintf(buf + o, n - o, "%s\"%s\"",
					      i ? ", " : "", f->choices[i]);
		return;
	case OSA_T_STRLIST:
		snprintf(buf, n, "a list of strings like [\"a\", \"b\"]");
		return;
	case OSA_T_GROUP:
		snprintf(buf, n, "a group");
		return;
	}
	snprintf(buf, n, "a value");
}

/* ---- edit distance and suggestions ------------------------------------ */

size_t osai_edit_distance(const char *a, const char *b)
{
	size_t la, lb, i, j, d, *buf, *p0, *p1, *p2, *t;

	if (!a || !b)
		return SIZE_MAX;
	la = strlen(a);
	lb = strlen(b);
	if (lb >= SIZE_MAX / (3 * sizeof(size_t)) - 1)
		return SIZE_MAX;
	buf = malloc(3 * (lb + 1) * sizeof(size_t));
	if (!buf)
		return SIZE_MAX;
	p2 = buf;		 /* row i - 2 */
	p1 = buf + (lb + 1);	 /* row i - 1 */
	p0 = buf + 2 * (lb + 1); /* row i */
	for (j = 0; j <= lb; j++)
		p1[j] = j;
	for (i = 1; i <= la; i++) {
		int ca = tolower((unsigned char)a[i - 1]);

		p0[0] = i;
		for (j = 1; j <= lb; j++) {
			int cb = tolower((unsigned char)b[j - 1]);
			size_t v = p1[j - 1] + (ca != cb);

			if (p1[j] + 1 < v)
				v = p1[j] + 1;
			if (p0[j - 1] + 1 < v)
				v = p0[j - 1] + 1;
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb &&
			    p2[j - 2] + 1 < v)
				v = p2[j - 2] + 1;
			p0[j] = v;
		}
		t = p2;
		p2 = p1;
		p1 = p0;
		p0 = t;
	}
	d = p1[lb];
	free(buf);
	return d;
}

/* Whether the shorter of a and b (3 characters or more) begins the other,
 * ignoring ASCII case: "warn" for "warning", "info" for "inf". */
static bool is_prefix_pair(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;

	return n >= 3 && !strncasecmp(a, b, n);
}

const char *osai_suggest(const char *typed, const char *const *cands, size_t n)
{
	size_t len, best_d = SIZE_MAX, limit, i, longer;
	const char *best = NULL;

	if (!typed || !*typed || !cands)
		return NULL;
	len = strlen(typed);
	limit = len / 3 > 2 ? len / 3 : 2;
	for (i = 0; i < n; i++) {
		size_t d;

		if (!cands[i])
			continue;
		d = osai_edit_distance(typed, cands[i]);
		if (d > limit && is_prefix_pair(typed, cands[i]))
			d = limit;
		if (d < best_d) {
			best_d = d;
			best = cands[i];
		}
	}
	if (!best || best_d > limit)
		return NULL;
	/* Nothing in common ("ip" vs "l2") is no suggestion. */
	longer = strlen(best) > len ? strlen(best) : len;
	return best_d < longer ? best : NULL;
}

/* ---- libconfig access ------------------------------------------------- */

/* The member of group `g` named name[0..len) (exact, case-sensitive). */
static config_setting_t *member_n(const config_setting_t *g, const char *name,
				  size_t len)
{
	int i, n;

	if (!g || !config_setting_is_group(g))
		return NULL;
	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *mn = config_setting_name(m);

		if (mn && !strncmp(mn, name, len) && !mn[len])
			return m;
	}
	return NULL;
}

static config_setting_t *member(const config_setting_t *g, const char *name)
{
	return member_n(g, name, strlen(name));
}

/* The file to name for setting `s` (see struct osai_schema_ctx). */
static const char *setting_file(const struct osai_schema_ctx *ctx,
				const config_setting_t *s, char *buf, size_t n)
{
	const char *f = s ? config_setting_source_file(s) : NULL;

	if (!f)
		return ctx->file;
	if (f[0] == '/' || !ctx->basedir || !strcmp(ctx->basedir, "."))
		return f;
	snprintf(buf, n, "%s/%s", ctx->basedir, f);
	return buf;
}

static void schema_oom(struct osai_schema_ctx *ctx)
{
	if (!ctx->oom)
		osai_diag_add(ctx->diags, ctx->file, 0, NULL, "out of memory");
	ctx->oom = true;
}

static void schema_vdiag(struct osai_schema_ctx *ctx,
			 const config_setting_t *at, const char *path,
			 const char *fmt, va_list ap)
{
	char fbuf[4096];
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0) {
		schema_oom(ctx);
		return;
	}
	osai_diag_add(ctx->diags, setting_file(ctx, at, fbuf, sizeof(fbuf)),
		      at ? (int)config_setting_source_line(at) : 0, path, "%s",
		      msg);
	free(msg);
}

void osai_schema_diag(struct osai_schema_ctx *ctx,
		      const struct config_setting_t *at, const char *path,
		      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	schema_vdiag(ctx, at, path, fmt, ap);
	va_end(ap);
}

/* ---- storing values --------------------------------------------------- */

/* `v` resolved against `base`: base + "/" + v without leading "./". */
static char *resolve_path(const char *base, const char *v)
{
	size_t blen;
	char *p;

	if (!base || v[0] == '/')
		return strdup(v);
	while (v[0] == '.' && v[1] == '/') {
		v += 2;
		while (*v == '/')
			v++;
	}
	if (!*v || !strcmp(v, "."))
		return strdup(base);
	blen = strlen(base);
	if (asprintf(&p, "%s%s%s", base,
		     blen && base[blen - 1] == '/' ? "" : "/", v) < 0)
		return NULL;
	return p;
}

static void strlist_clear(struct osa_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->n = 0;
	l->v = NULL;
}

static void store_string(const struct osa_field *f, void *cfg, char *s)
{
	char **slot = FIELD_AT(cfg, f, char *);

	free(*slot);
	*slot = s;
}

/* Store the default of a non-group field.  0 or OSA_ENOMEM. */
static int set_default(struct osai_schema_ctx *ctx, const struct osa_field *f,
		       void *cfg)
{
	struct osa_strlist *l;
	size_t n = 0, i;
	char *s;

	switch (f->type) {
	case OSA_T_BOOL:
		*FIELD_AT(cfg, f, bool) = f->def_int != 0;
		break;
	case OSA_T_INT:
	case OSA_T_ENUM:
		*FIELD_AT(cfg, f, int) = (int)f->def_int;
		break;
	case OSA_T_INT64:
		*FIELD_AT(cfg, f, int64_t) = f->def_int;
		break;
	case OSA_T_DOUBLE:
		*FIELD_AT(cfg, f, double) = f->def_double;
		break;
	case OSA_T_STRING:
	case OSA_T_PATH:
		s = NULL;
		if (f->def_str) {
			s = f->type == OSA_T_PATH
				    ? resolve_path(ctx->basedir, f->def_str)
				    : strdup(f->def_str);
			if (!s)
				return OSA_ENOMEM;
		}
		store_string(f, cfg, s);
		break;
	case OSA_T_STRLIST:
		l = FIELD_AT(cfg, f, struct osa_strlist);
		strlist_clear(l);
		while (f->def_list && f->def_list[n])
			n++;
		if (!n)
			break;
		l->v = calloc(n, sizeof(*l->v));
		if (!l->v)
			return OSA_ENOMEM;
		for (i = 0; i < n; i++) {
			l->v[i] = strdup(f->def_list[i]);
			if (!l->v[i]) {
				l->n = i;
				strlist_clear(l);
				return OSA_ENOMEM;
			}
		}
		l->n = n;
		break;
	case OSA_T_GROUP:
		break;
	}
	return 0;
}

static bool take_strlist(struct osai_schema_ctx *ctx, const struct osa_field *f,
			 const config_setting_t *m, const char *path, void *cfg)
{
	bool secret = f->flags & OSA_F_SECRET, ok = true;
	struct osa_strlist *l = FIELD_AT(cfg, f, struct osa_strlist);
	char got[4 * SCHEMA_QUOTE_MAX + 16], want[128];
	int type = config_setting_type(m);
	char **v;
	size_t n, i;

	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) {
		describe_expected(f, want, sizeof(want));
		describe_setting(m, secret, got, sizeof(got));
		osai_schema_diag(ctx, m, path, "expected %s, got %s", want,
				 got);
		return false;
	}
	n = (size_t)config_setting_length(m);
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
		char idx[32], *epath;

		if (config_setting_type(e) == CONFIG_TYPE_STRING)
			continue;
		ok = false;
		snprintf(idx, sizeof(idx), "[%zu]", i);
		epath = path_join(path, idx);
		if (!epath) {
			schema_oom(ctx);
			return false;
		}
		describe_setting(e, secret, got, sizeof(got));
		osai_schema_diag(ctx, e, epath, "expected a string, got %s",
				 got);
		free(epath);
	}
	if ((f->min > 0 && (int64_t)n < f->min) ||
	    (f->max > 0 && (int64_t)n > f->max)) {
		describe_count(f->min, f->max, want, sizeof(want));
		osai_schema_diag(ctx, m, path, "expected %s, got %zu", want, n);
		ok = false;
	}
	if (!ok)
		return false;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		schema_oom(ctx);
		return false;
	}
	for (i = 0; i < n; i++) {
		const char *e = config_setting_get_string_elem(m, (int)i);

		v[i] = e ? strdup(e) : NULL;
		if (!v[i]) {
			while (i--)
				free(v[i]);
			free(v);
			schema_oom(ctx);
			return false;
		}
	}
	strlist_clear(l);
	l->v = v;
	l->n = n;
	return true;
}

/*
 * Check setting `m` against (non-group) field `f` and store it.  On a
 * mistake add a diagnostic and return false (nothing stored).
 */
static bool take_value(struct osai_schema_ctx *ctx, const struct osa_field *f,
		       const config_setting_t *m, const char *path, void *cfg)
{
	bool secret = f->flags & OSA_F_SECRET;
	char want[1024], got[4 * SCHEMA_QUOTE_MAX + 16];
	int type = config_setting_type(m);
	const char *sv, *sug;
	int64_t iv, lo, hi;
	double dv;
	size_t len, i;
	char *copy;

	if (f->type == OSA_T_STRLIST)
		return take_strlist(ctx, f, m, path, cfg);
	describe_expected(f, want, sizeof(want));
	describe_setting(m, secret, got, sizeof(got));
	switch (f->type) {
	case OSA_T_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			break;
		*FIELD_AT(cfg, f, bool) = config_setting_get_bool(m) != 0;
		return true;
	case OSA_T_INT:
	case OSA_T_INT64:
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
			break;
		iv = type == CONFIG_TYPE_INT ? config_setting_get_int(m)
					     : config_setting_get_int64(m);
		if (!int_bounds(f, &lo, &hi) && (iv < lo || iv > hi))
			snprintf(want, sizeof(want),
				 "an integer in [%lld, %lld]", (long long)lo,
				 (long long)hi);
		if (iv < lo || iv > hi)
			break;
		if (f->type == OSA_T_INT)
			*FIELD_AT(cfg, f, int) = (int)iv;
		else
			*FIELD_AT(cfg, f, int64_t) = iv;
		return true;
	case OSA_T_DOUBLE:
		if (type == CONFIG_TYPE_INT)
			dv = config_setting_get_int(m);
		else if (type == CONFIG_TYPE_INT64)
			dv = (double)config_setting_get_int64(m);
		else if (type == CONFIG_TYPE_FLOAT)
			dv = config_setting_get_float(m);
		else
			break;
		if (!isfinite(dv) ||
		    (double_bounded(f) && (dv < f->dmin || dv > f->dmax)))
			break;
		*FIELD_AT(cfg, f, double) = dv;
		return true;
	case OSA_T_STRING:
	case OSA_T_PATH:
		if (type != CONFIG_TYPE_STRING)
			break;
		sv = config_setting_get_string(m);
		if (!sv) /* libconfig ran out of memory while parsing */
			goto oom;
		len = strlen(sv);
		if (f->type == OSA_T_PATH && !len)
			break;
		if ((f->min > 0 && (int64_t)len < f->min) ||
		    (f->max > 0 && (int64_t)len > f->max)) {
			osai_schema_diag(ctx, m, path,
					 "expected %s, got %zu byte%s", want,
					 len, plural((long long)len));
			return false;
		}
		copy = f->type == OSA_T_PATH ? resolve_path(ctx->basedir, sv)
					     : strdup(sv);
		if (!copy)
			goto oom;
		store_string(f, cfg, copy);
		return true;
	case OSA_T_ENUM:
		if (type != CONFIG_TYPE_STRING)
			break;
		sv = config_setting_get_string(m);
		if (!sv)
			goto oom;
		for (i = 0; f->choices && f->choices[i]; i++) {
			if (!strcmp(sv, f->choices[i])) {
				*FIELD_AT(cfg, f, int) = (int)i;
				return true;
			}
		}
		sug = secret ? NULL : osai_suggest(sv, f->choices, i);
		if (sug) {
			osai_schema_diag(ctx, m, path,
					 "expected %s, got %s; did you mean "
					 "\"%s\"?",
					 want, got, sug);
			return false;
		}
		break;
	case OSA_T_STRLIST:
	case OSA_T_GROUP:
		break;
	}
	osai_schema_diag(ctx, m, path, "expected %s, got %s", want, got);
	return false;
oom:
	schema_oom(ctx);
	return false;
}

/* ---- groups ----------------------------------------------------------- */

static const struct osa_field *find_field(const struct osa_schema *s,
					  const char *name)
{
	const struct osa_field *f;

	for (f = s->fields; f->name; f++)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}

static bool in_list(const char *const *list, const char *name)
{
	for (; list && *list; list++)
		if (!strcmp(*list, name))
			return true;
	return false;
}

/* Keys that were removed, with what to do instead: an old configuration
 * gets this rather than "unknown key". */
static const struct {
	const char *key, *hint;
} schema_removed[] = {
	{ "persist_dir",
	  "persist_dir was removed: an index keeps all its files in "
	  "<data_dir>/indexes/<index>/, where rebuild and quarantine find "
	  "them.  Delete this line; the index is rebuilt from the journal at "
	  "the next start (or move its snapshot file into that directory "
	  "first to skip the rebuild)" },
};

static void unknown_key(struct osai_schema_ctx *ctx, const struct osa_schema *s,
			const char *const *extra, const config_setting_t *m,
			const char *path)
{
	const char *name = config_setting_name(m), *sug;
	const char **cands;
	size_t n = 0, i, nf = 0, len = 0;
	char *list, *o;

	for (i = 0; i < sizeof(schema_removed) / sizeof(schema_removed[0]); i++)
		if (!strcmp(name, schema_removed[i].key)) {
			osai_schema_diag(ctx, m, path, "%s",
					 schema_removed[i].hint);
			return;
		}
	while (s->fields[nf].name)
		nf++;
	while (extra && extra[n])
		n++;
	n += nf;
	cands = calloc(n ? n : 1, sizeof(*cands));
	if (!cands) {
		schema_oom(ctx);
		return;
	}
	for (i = 0; i < n; i++) {
		cands[i] = i < nf ? s->fields[i].name : extra[i - nf];
		len += strlen(cands[i]) + 2;
	}
	sug = osai_suggest(name, cands, n);
	if (sug) {
		osai_schema_diag(ctx, m, path,
				 "unknown key \"%s\"; did you mean \"%s\"?",
				 name, sug);
	} else if (!n) {
		osai_schema_diag(ctx, m, path,
				 "unknown key \"%s\"; this group takes no "
				 "keys",
				 name);
	} else {
		list = malloc(len + 1);
		if (!list) {
			free(cands);
			schema_oom(ctx);
			return;
		}
		o = list;
		for (i = 0; i < n; i++)
			o += sprintf(o, "%s%s", i ? ", " : "", cands[i]);
		osai_schema_diag(ctx, m, path,
				 "unknown key \"%s\"; valid keys: %s", name,
				 list);
		free(list);
	}
	free(cands);
}

/*
 * Fill `cfg` from group `grp` (NULL: absent) of schema `s`.  `quiet`: the
 * group had the wrong type and was reported already; fill defaults only.
 * Returns whether every required field (here and below) has a value, which
 * is when the check callbacks can safely run.
 */
static bool fill_group(struct osai_schema_ctx *ctx, const struct osa_schema *s,
		       const config_setting_t *grp,
		       const config_setting_t *parent, const char *path,
		       const char *const *extra, bool quiet, int depth,
		       void *cfg)
{
	const config_setting_t *where = grp ? grp : parent;
	const struct osa_field *f;
	bool intact = true;
	char want[1024];
	char *kpath;
	int i, n;

	if (!s || !s->fields) {
		osai_schema_diag(ctx, where, path,
				 "internal error: the schema of this group "
				 "has no fields table");
		return false;
	}
	if (depth > SCHEMA_MAX_DEPTH) {
		osai_schema_diag(ctx, where, path,
				 "internal error: schema \"%s\" nests deeper "
				 "than %d groups",
				 s->name ? s->name : "?", SCHEMA_MAX_DEPTH);
		return false;
	}
	/* The keys that are there, in the order of the file. */
	n = grp ? config_setting_length(grp) : 0;
	for (i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(m);
		char got[32];

		if (!name)
			continue;
		kpath = path_join(path, name);
		if (!kpath) {
			schema_oom(ctx);
			return false;
		}
		f = find_field(s, name);
		if (!f) {
			if (!in_list(extra, name))
				unknown_key(ctx, s, extra, m, kpath);
		} else if (f->type == OSA_T_GROUP) {
			void *sub = FIELD_AT(cfg, f, char);

			if (config_setting_is_group(m)) {
				if (!fill_group(ctx, f->group, m, m, kpath,
						NULL, quiet, depth + 1, sub))
					intact = false;
			} else {
				describe_setting(m, false, got, sizeof(got));
				osai_schema_diag(ctx, m, kpath,
						 "expected a group, got %s",
						 got);
				if (!fill_group(ctx, f->group, NULL, m, kpath,
						NULL, true, depth + 1, sub))
					intact = false;
			}
		} else if (!take_value(ctx, f, m, kpath, cfg)) {
			/* Keep the default so checks see a sane struct. */
			if (f->flags & OSA_F_REQUIRED)
				intact = false;
			else if (set_default(ctx, f, cfg))
				schema_oom(ctx);
		}
		free(kpath);
	}
	/* The keys that are not. */
	for (f = s->fields; f->name; f++) {
		if (member(grp, f->name))
			continue;
		kpath = path_join(path, f->name);
		if (!kpath) {
			schema_oom(ctx);
			return false;
		}
		if (f->type == OSA_T_GROUP) {
			if (!fill_group(ctx, f->group, NULL, where, kpath, NULL,
					quiet, depth + 1,
					FIELD_AT(cfg, f, char)))
				intact = false;
		} else if (f->flags & OSA_F_REQUIRED) {
			intact = false;
			if (!quiet) {
				describe_expected(f, want, sizeof(want));
				osai_schema_diag(ctx, where, kpath,
						 "missing required key \"%s\" "
						 "(%s)",
						 f->name, want);
			}
		} else if (set_default(ctx, f, cfg)) {
			schema_oom(ctx);
		}
		free(kpath);
	}
	/* Rules across fields, once the struct is whole. */
	if (intact && !quiet && !ctx->oom && s->check) {
		struct osa_check chk = {
			.ctx = ctx, .path = path, .group = grp, .parent = where
		};

		s->check(cfg, &chk);
	}
	return intact;
}

int osai_schema_fill(struct osai_schema_ctx *ctx, const struct osa_schema *s,
		     const struct config_setting_t *group,
		     const struct config_setting_t *parent, const char *path,
		     const char *const *extra, void *cfg)
{
	size_t before = ctx->diags->n;
	bool lost = ctx->diags->oom;

	if (group && !config_setting_is_group(group))
		group = NULL;
	fill_group(ctx, s, group, parent ? parent : group, path ? path : "",
		   extra, false, 0, cfg);
	if (ctx->oom)
		return OSA_ENOMEM;
	if (ctx->diags->n > before || (ctx->diags->oom && !lost))
		return OSA_ECONFIG;
	return 0;
}

void osa_check_error(struct osa_check *chk, const char *path, const char *fmt,
		     ...)
{
	const config_setting_t *at, *cur;
	const char *p = path ? path : "";
	char *full;
	va_list ap;

	if (!chk || !fmt)
		return;
	at = chk->group ? chk->group : chk->parent;
	cur = chk->group;
	/* Walk down to the deepest setting of `path` that exists. */
	while (cur && *p) {
		size_t len = strcspn(p, ".");
		config_setting_t *next = NULL;

		if (p[0] == '[' && len > 2 && p[len - 1] == ']') {
			if (config_setting_is_aggregate(cur))
				next = config_setting_get_elem(
					cur,
					(unsigned)strtoul(p + 1, NULL, 10));
		} else {
			next = member_n(cur, p, len);
		}
		if (!next)
			break;
		cur = at = next;
		p += len;
		if (*p == '.')
			p++;
	}
	full = path_join(chk->path, path);
	if (!full) {
		schema_oom(chk->ctx);
		return;
	}
	va_start(ap, fmt);
	schema_vdiag(chk->ctx, at, *full ? full : NULL, fmt, ap);
	va_end(ap);
	free(full);
}

/* ---- releasing -------------------------------------------------------- */

static void release_group(const struct osa_schema *s, void *cfg, int depth)
{
	const struct osa_field *f;

	if (!s || !cfg || !s->fields || depth > SCHEMA_MAX_DEPTH)
		return;
	for (f = s->fields; f->name; f++) {
		switch (f->type) {
		case OSA_T_STRING:
		case OSA_T_PATH:
			store_string(f, cfg, NULL);
			break;
		case OSA_T_STRLIST:
			strlist_clear(FIELD_AT(cfg, f, struct osa_strlist));
			break;
		case OSA_T_GROUP:
			release_group(f->group, FIELD_AT(cfg, f, char),
				      depth + 1);
			break;
		default:
			break;
		}
	}
}

void osa_schema_release(const struct osa_schema *schema, void *cfg)
{
	release_group(schema, cfg, 0);
}

void osa_schema_free(const struct osa_schema *schema, void *cfg)
{
	if (!cfg)
		return;
	release_group(schema, cfg, 0);
	free(cfg);
}

/* ---- libconfig 1.5 and 64-bit integers -------------------------------- */

/* Whether the integer literal at `s` needs libconfig's `L` suffix. */
static bool literal_is_wide(const char *s, bool hex)
{
	errno = 0;
	if (hex) {
		unsigned long long u = strtoull(s, NULL, 16);

		return errno == ERANGE || u > INT_MAX;
	} else {
		long long v = strtoll(s, NULL, 10);

		return errno == ERANGE || v < INT_MIN || v > INT_MAX;
	}
}

static bool is_name_start(int c)
{
	return isalpha(c) || c == '*';
}

static bool is_name_char(int c)
{
	return isalnum(c) || c == '*' || c == '_' || c == '-';
}

char *osai_config_widen_ints(const char *text)
{
	size_t len = strlen(text);
	const char *p = text;
	char *out, *o;

	/* At most one `L` per literal, and a literal takes a character. */
	if (len > (SIZE_MAX - 1) / 2)
		return NULL;
	out = malloc(2 * len + 1);
	if (!out)
		return NULL;
	o = out;
	while (*p) {
		unsigned char c = (unsigned char)*p;

		if (c == '"') { /* a string, with escapes */
			*o++ = *p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					*o++ = *p++;
				*o++ = *p++;
			}
			if (*p)
				*o++ = *p++;
		} else if (c == '#' || (c == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				*o++ = *p++;
		} else if (c == '/' && p[1] == '*') {
			*o++ = *p++;
			*o++ = *p++;
			while (*p && !(p[0] == '*' && p[1] == '/'))
				*o++ = *p++;
			if (*p) {
				*o++ = *p++;
				*o++ = *p++;
			}
		} else if (is_name_start(c)) {
			while (is_name_char((unsigned char)*p))
				*o++ = *p++;
		} else if (isdigit(c) ||
			   ((c == '-' || c == '+' || c == '.') &&
			    (isdigit((unsigned char)p[1]) ||
			     (p[1] == '.' && isdigit((unsigned char)p[2]))))) {
			const char *start = p;
			bool hex = false, flt = false, sign = false;

			if (*p == '-' || *p == '+') {
				sign = true;
				p++;
			}
			if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
			    isxdigit((unsigned char)p[2])) {
				hex = true;
				p += 2;
				while (isxdigit((unsigned char)*p))
					p++;
			} else {
				while (isdigit((unsigned char)*p))
					p++;
				if (*p == '.') {
					flt = true;
					p++;
					while (isdigit((unsigned char)*p))
						p++;
				}
				if ((*p == 'e' || *p == 'E') &&
				    (isdigit((unsigned char)p[1]) ||
				     ((p[1] == '-' || p[1] == '+') &&
				      isdigit((unsigned char)p[2])))) {
					flt = true;
					p += 2;
					while (isdigit((unsigned char)*p))
						p++;
				}
			}
			memcpy(o, start, (size_t)(p - start));
			o += p - start;
			/* (A signed hex literal is not libconfig: leave it.) */
			if (!flt && !(hex && sign) && *p != 'L' &&
			    literal_is_wide(start, hex))
				*o++ = 'L';
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* ---- osa_schema_parse ------------------------------------------------- */

int osa_schema_parse(const struct osa_schema *schema, const char *text,
		     void **out, char **report, struct osa_error *err)
{
	struct osai_diags d = { 0 };
	struct osai_schema_ctx ctx = { .diags = &d, .file = "<string>" };
	char *wide, *all, *nl;
	void *cfg = NULL;
	config_t lc;
	int rc;

	if (out)
		*out = NULL;
	if (report)
		*report = NULL;
	if (!schema || !out)
		return osa_error_set(err, OSA_EINVAL,
				     "osa_schema_parse: schema and out are "
				     "required");
	wide = osai_config_widen_ints(text ? text : "");
	if (!wide)
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	config_init(&lc);
	config_set_auto_convert(&lc, 0);
	if (!config_read_string(&lc, wide)) {
		osai_diag_add(&d,
			      config_error_file(&lc) ? config_error_file(&lc)
						     : "<string>",
			      config_error_line(&lc), NULL, "%s",
			      config_error_text(&lc));
		rc = OSA_ECONFIG;
	} else {
		cfg = calloc(1, schema->size ? schema->size : 1);
		if (!cfg)
			rc = OSA_ENOMEM;
		else
			rc = osai_schema_fill(&ctx, schema,
					      config_root_setting(&lc), NULL,
					      "", NULL, cfg);
	}
	config_destroy(&lc);
	free(wide);
	if (!rc) {
		*out = cfg;
		osai_diags_free(&d);
		osa_error_clear(err);
		return 0;
	}
	osa_schema_free(schema, cfg);
	all = osai_diags_join(&d); /* sorts d */
	if (!all) {
		osai_diags_free(&d);
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	}
	nl = strchr(all, '\n');
	if (nl)
		osa_error_set(err, rc, "%.*s (and %zu more)", (int)(nl - all),
			      all, d.n ? d.n - 1 : 0);
	else
		osa_error_set(err, rc, "%s", all);
	if (err) {
		snprintf(err->file, sizeof(err->file), "<string>");
		err->line = d.n ? d.v[0].line : 0;
	}
	if (report)
		*report = all;
	else
		free(all);
	osai_diags_free(&d);
	return rc;
}

/* ---- self-check of schema tables -------------------------------------- */

struct selfcheck {
	struct osa_error *err;
	const char *owner;
};

static void sc_problem(struct selfcheck *sc, const char *key, const char *fmt,
		       ...) __attribute__((format(printf, 3, 4)));

/* Append `schema of "OWNER": key "KEY": ...` to err->msg ("; "-separated). */
static void sc_problem(struct selfcheck *sc, const char *key, const char *fmt,
		       ...)
{
	struct osa_error *err = sc->err;
	size_t len = strlen(err->msg);
	va_list ap;

	err->code = OSA_EINVAL;
	if (len && len + 3 < sizeof(err->msg)) {
		memcpy(err->msg + len, "; ", 3);
		len += 2;
	}
	if (len + 1 >= sizeof(err->msg))
		return;
	if (key)
		len += (size_t)snprintf(
			err->msg + len, sizeof(err->msg) - len,
			"schema of \"%s\": key \"%s\": ", sc->owner, key);
	else
		len += (size_t)snprintf(err->msg + len, sizeof(err->msg) - len,
					"schema of \"%s\": ", sc->owner);
	if (len + 1 >= sizeof(err->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg + len, sizeof(err->msg) - len, fmt, ap);
	va_end(ap);
}

static bool sc_valid_key(const char *s)
{
	if (!is_name_start((unsigned char)*s))
		return false;
	for (s++; *s; s++)
		if (!is_name_char((unsigned char)*s))
			return false;
	return true;
}

/* Bytes a field occupies in the struct (0 when unknown). */
static size_t sc_field_size(const struct osa_field *f)
{
	switch (f->type) {
	case OSA_T_BOOL:
		return sizeof(bool);
	case OSA_T_INT:
	case OSA_T_ENUM:
		return sizeof(int);
	case OSA_T_INT64:
		return sizeof(int64_t);
	case OSA_T_DOUBLE:
		return sizeof(double);
	case OSA_T_STRING:
	case OSA_T_PATH:
		return sizeof(char *);
	case OSA_T_STRLIST:
		return sizeof(struct osa_strlist);
	case OSA_T_GROUP:
		return f->group ? f->group->size : 0;
	}
	return 0;
}

static void sc_field(struct selfcheck *sc, const struct osa_schema *s,
		     const struct osa_field *f, const char *key, int depth);

static void sc_schema(struct selfcheck *sc, const struct osa_schema *s,
		      const char *prefix, int depth)
{
	const struct osa_field *f, *g;
	char key[256];

	if (depth > SCHEMA_MAX_DEPTH) {
		sc_problem(sc, prefix,
			   "groups nest deeper than %d levels (does a group "
			   "contain itself?)",
			   SCHEMA_MAX_DEPTH);
		return;
	}
	if (!s->fields) {
		sc_problem(sc, prefix && *prefix ? prefix : NULL,
			   "the fields table is NULL (end an empty table "
			   "with OSA_FIELD_END)");
		return;
	}
	for (f = s->fields; f->name; f++) {
		if (prefix && *prefix)
			snprintf(key, sizeof(key), "%s.%s", prefix, f->name);
		else
			snprintf(key, sizeof(key), "%s", f->name);
		for (g = s->fields; g != f; g++)
			if (!strcmp(g->name, f->name))
				break;
		if (g != f)
			sc_problem(sc, key, "declared twice");
		sc_field(sc, s, f, key, depth);
	}
}

static void sc_field(struct selfcheck *sc, const struct osa_schema *s,
		     const struct osa_field *f, const char *key, int depth)
{
	size_t size = sc_field_size(f), n, j;
	/* A required key has no default to check. */
	bool dflt = !(f->flags & OSA_F_REQUIRED);
	int64_t lo, hi;

	if (!sc_valid_key(f->name))
		sc_problem(sc, key,
			   "not a valid key name (a letter, then letters, "
			   "digits, _ and -)");
	if (f->type < OSA_T_BOOL || f->type > OSA_T_GROUP) {
		sc_problem(sc, key, "unknown type %d", (int)f->type);
		return;
	}
	if (f->offset > s->size || size > s->size - f->offset)
		sc_problem(sc, key,
			   "lies beyond the end of the config struct (offset "
			   "%zu + %zu bytes > size %zu)",
			   f->offset, size, s->size);
	switch (f->type) {
	case OSA_T_BOOL:
		if (dflt && f->def_int != 0 && f->def_int != 1)
			sc_problem(sc, key,
				   "default %lld is not false (0) or true (1)",
				   (long long)f->def_int);
		break;
	case OSA_T_INT:
	case OSA_T_INT64:
		if ((f->min || f->max) && f->min > f->max) {
			sc_problem(sc, key, "range [%lld, %lld] is empty",
				   (long long)f->min, (long long)f->max);
			break;
		}
		if (f->type == OSA_T_INT &&
		    (f->min < INT_MIN || f->max > INT_MAX)) {
			sc_problem(sc, key,
				   "range [%lld, %lld] exceeds an int: use "
				   "OSA_T_INT64",
				   (long long)f->min, (long long)f->max);
			break;
		}
		int_bounds(f, &lo, &hi);
		if (dflt && (f->def_int < lo || f->def_int > hi))
			sc_problem(sc, key,
				   "default %lld is outside [%lld, %lld]",
				   (long long)f->def_int, (long long)lo,
				   (long long)hi);
		break;
	case OSA_T_DOUBLE:
		if (isnan(f->dmin) || isnan(f->dmax) || f->dmin > f->dmax) {
			sc_problem(sc, key, "range [%g, %g] is empty", f->dmin,
				   f->dmax);
			break;
		}
		if (dflt && (!isfinite(f->def_double) ||
			     (double_bounded(f) && (f->def_double < f->dmin ||
						    f->def_double > f->dmax))))
			sc_problem(sc, key, "default %g is outside [%g, %g]",
				   f->def_double, f->dmin, f->dmax);
		break;
	case OSA_T_STRING:
	case OSA_T_PATH:
		if (f->min < 0 || f->max < 0 || (f->max && f->min > f->max)) {
			sc_problem(sc, key,
				   "length bounds [%lld, %lld] are invalid",
				   (long long)f->min, (long long)f->max);
			break;
		}
		if (f->def_str && f->type == OSA_T_PATH && !*f->def_str)
			sc_problem(sc, key,
				   "default path is empty (use NULL for none)");
		if (f->def_str &&
		    ((int64_t)strlen(f->def_str) < f->min ||
		     (f->max && (int64_t)strlen(f->def_str) > f->max)))
			sc_problem(sc, key,
				   "default \"%s\" has %zu bytes, outside "
				   "[%lld, %lld]",
				   f->def_str, strlen(f->def_str),
				   (long long)f->min, (long long)f->max);
		break;
	case OSA_T_ENUM:
		if (!f->choices || !f->choices[0]) {
			sc_problem(sc, key, "enum without choices");
			break;
		}
		for (n = 0; f->choices[n]; n++)
			for (j = 0; j < n; j++)
				if (!strcmp(f->choices[j], f->choices[n]))
					sc_problem(sc, key,
						   "choice \"%s\" listed twice",
						   f->choices[n]);
		if (dflt && (f->def_int < 0 || (uint64_t)f->def_int >= n))
			sc_problem(sc, key,
				   "default %lld is not a choice (0 to %zu)",
				   (long long)f->def_int, n - 1);
		break;
	case OSA_T_STRLIST:
		if (f->min < 0 || f->max < 0 || (f->max && f->min > f->max)) {
			sc_problem(sc, key,
				   "size bounds [%lld, %lld] are invalid",
				   (long long)f->min, (long long)f->max);
			break;
		}
		for (n = 0; f->def_list && f->def_list[n]; n++)
			;
		if (dflt &&
		    ((int64_t)n < f->min || (f->max && (int64_t)n > f->max)))
			sc_problem(sc, key,
				   "default has %zu strings, outside [%lld, "
				   "%lld]",
				   n, (long long)f->min, (long long)f->max);
		break;
	case OSA_T_GROUP:
		if (!f->group) {
			sc_problem(sc, key, "group without a schema");
			break;
		}
		sc_schema(sc, f->group, key, depth + 1);
		break;
	}
}

int osai_schema_selfcheck(const struct osa_schema *s, const char *owner,
			  struct osa_error *err)
{
	struct osa_error local;
	struct selfcheck sc;

	if (!err)
		err = &local;
	osa_error_clear(err);
	sc.err = err;
	sc.owner = owner ? owner : (s && s->name ? s->name : "?");
	if (!s) {
		sc_problem(&sc, NULL, "no schema");
		return err->code;
	}
	sc_schema(&sc, s, "", 0);
	return err->code;
}

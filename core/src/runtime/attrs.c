/* SPDX-License-Identifier: MIT */
/*
 * attrs.c - declared attributes (osa/filter.h): the type check at ingest,
 * ISO 8601 dates, the columnar table (see attrs.h for its layout), its
 * bytes for checkpoints, and the facet counter.
 *
 * Bytes of a table (little-endian throughout):
 *   "OSAATTR1" | u32 ncols | per column: u8 type, u32 len, name |
 *   u32 rows | live bitmap (ceil(rows/64) u64) |
 *   per column: presence bitmap, then
 *     INT, DATE: rows x i64;  FLOAT: rows x f64 bits;  BOOL: value bitmap;
 *     KEYWORD: dictionary, rows x u32 id;
 *     KEYWORDS: dictionary, per row u32 n then n x u32 id
 *   (dictionary: u32 n, n x (u32 len, bytes)) | u64 XXH3 of all before.
 * Values of rows without presence are written as zero.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>

#include "attrs.h"
#include "osai.h"

static const char attr_magic[8] = { 'O', 'S', 'A', 'A', 'T', 'T', 'R', '1' };

const char *osa_attr_type_name(enum osa_attr_type type)
{
	switch (type) {
	case OSA_ATTR_INT:
		return "int";
	case OSA_ATTR_FLOAT:
		return "float";
	case OSA_ATTR_KEYWORD:
		return "keyword";
	case OSA_ATTR_KEYWORDS:
		return "keywords";
	case OSA_ATTR_BOOL:
		return "bool";
	case OSA_ATTR_DATE:
		return "date";
	}
	return NULL;
}

/* ---- dates ------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* `n` digits at s[*i], as a number; false if not all digits. */
static bool date_digits(const char *s, size_t len, size_t *i, int n,
			unsigned *out)
{
	unsigned v = 0;
	int k;

	for (k = 0; k < n; k++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[*i] - '0');
		(*i)++;
	}
	*out = v;
	return true;
}

static bool leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int osai_date_parse(const char *s, size_t len, int64_t *ms, const char **why)
{
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30,
					    31, 31, 30, 31, 30, 31 };
	unsigned y, mo = 1, d = 1, h = 0, mi = 0, sec = 0, frac = 0;
	unsigned zh = 0, zm = 0;
	int zsign = 0;
	size_t i = 0;

	*why = "expected YYYY, YYYY-MM or YYYY-MM-DD, optionally followed by "
	       "THH:MM[:SS[.fff]] and Z or +HH:MM";
	if (!date_digits(s, len, &i, 4, &y))
		return OSA_EINVAL;
	if (i < len && s[i] == '-') {
		i++;
		if (!date_digits(s, len, &i, 2, &mo))
			return OSA_EINVAL;
		if (i < len && s[i] == '-') {
			i++;
			if (!date_digits(s, len, &i, 2, &d))
				return OSA_EINVAL;
		}
	}
	if (mo < 1 || mo > 12) {
		*why = "month out of range 01..12";
		return OSA_EINVAL;
	}
	if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y))) {
		*why = "day out of range for its month";
		return OSA_EINVAL;
	}
	if (i < len && (s[i] == 'T' || s[i] == 't')) {
		i++;
		if (!date_digits(s, len, &i, 2, &h) || i >= len ||
		    s[i++] != ':' || !date_digits(s, len, &i, 2, &mi))
			return OSA_EINVAL;
		if (i < len && s[i] == ':') {
			i++;
			if (!date_digits(s, len, &i, 2, &sec))
				return OSA_EINVAL;
			if (i < len && s[i] == '.') {
				unsigned scale = 100;
				size_t n0;

				i++;
				n0 = i;
				while (i < len && s[i] >= '0' && s[i] <= '9') {
					frac += (unsigned)(s[i] - '0') * scale;
					scale /= 10;
					i++;
				}
				if (i == n0 || i - n0 > 9)
					return OSA_EINVAL;
			}
		}
		if (h > 23 || mi > 59 || sec > 59) {
			*why = "time out of range (00:00:00..23:59:59)";
			return OSA_EINVAL;
		}
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			zsign = s[i] == '+' ? 1 : -1;
			i++;
			if (!date_digits(s, len, &i, 2, &zh) || i >= len ||
			    s[i++] != ':' || !date_digits(s, len, &i, 2, &zm))
				return OSA_EINVAL;
			if (zh > 23 || zm > 59) {
				*why = "time zone offset out of range";
				return OSA_EINVAL;
			}
		}
	}
	if (i != len)
		return OSA_EINVAL;
	*ms = days_from_civil(y, mo, d) * 86400000 +
	      (int64_t)(h * 3600 + mi * 60 + sec) * 1000 + frac -
	      (int64_t)zsign * (int64_t)(zh * 60 + zm) * 60000;
	*why = NULL;
	return 0;
}

void osai_date_format(int64_t ms, char *buf, size_t n)
{
	int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	int64_t rest = ms - days * 86400000, y;
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	if (!rest) {
		snprintf(buf, n, "%04" PRId64 "-%02u-%02u", y, m, d);
	} else if (rest % 1000) {
		snprintf(buf, n, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%03uZ",
			 y, m, d, (unsigned)(rest / 3600000),
			 (unsigned)(rest / 60000 % 60),
			 (unsigned)(rest / 1000 % 60), (unsigned)(rest % 1000));
	} else {
		snprintf(buf, n, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02uZ", y,
			 m, d, (unsigned)(rest / 3600000),
			 (unsigned)(rest / 60000 % 60),
			 (unsigned)(rest / 1000 % 60));
	}
}

void osai_double_format(double v, char *buf, size_t n)
{
	int prec;

	if (v == 0) {
		snprintf(buf, n, "0");
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, n, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, n, "%.17g", v);
}

/* ---- reading values from records -------------------------------------- */

/* One attribute's value in a record, checked. */
struct attr_val {
	bool has;
	int64_t i;
	double f;
	bool b;
	const char *s;
	size_t slen;
	const json_t *arr; /* KEYWORDS */
};

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction or exponent";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}

static const char *type_wants(enum osa_attr_type t)
{
	switch (t) {
	case OSA_ATTR_INT:
		return "a JSON integer";
	case OSA_ATTR_FLOAT:
		return "a finite JSON number";
	case OSA_ATTR_KEYWORD:
		return "a JSON string";
	case OSA_ATTR_KEYWORDS:
		return "a JSON array of strings";
	case OSA_ATTR_BOOL:
		return "true or false";
	case OSA_ATTR_DATE:
		return "an ISO 8601 date string (2015, 2015-06, 2015-06-30, "
		       "2015-06-30T12:00:00Z)";
	}
	return "a value";
}

static int attr_read(const struct osa_attr_decl *decl,
		     const struct osa_record *rec, struct attr_val *out,
		     struct osa_error *err)
{
	const json_t *v = osai_record_member(rec, decl->name);
	const char *found = NULL, *why = NULL;
	size_t k;

	memset(out, 0, sizeof(*out));
	if (!v || json_is_null(v))
		return 0;
	switch (decl->type) {
	case OSA_ATTR_INT:
		if (json_is_integer(v))
			out->i = (int64_t)json_integer_value(v);
		else
			found = json_kind(v);
		break;
	case OSA_ATTR_FLOAT:
		if (json_is_number(v) && isfinite(json_number_value(v)))
			out->f = json_number_value(v);
		else
			found = json_kind(v);
		break;
	case OSA_ATTR_KEYWORD:
		if (json_is_string(v)) {
			out->s = json_string_value(v);
			out->slen = json_string_length(v);
		} else {
			found = json_kind(v);
		}
		break;
	case OSA_ATTR_KEYWORDS:
		if (!json_is_array(v)) {
			found = json_kind(v);
			break;
		}
		for (k = 0; k < json_array_size(v); k++) {
			const json_t *e = json_array_get(v, k);

			if (!json_is_string(e))
				return osa_error_set(
					err, OSA_ETYPE,
					"record %s: attribute \"%s\" is "
					"declared "
					"keywords (%s) but element %zu is %s",
					osa_record_srn(rec), decl->name,
					type_wants(decl->type), k,
					json_kind(e));
		}
		out->arr = v;
		break;
	case OSA_ATTR_BOOL:
		if (json_is_boolean(v))
			out->b = json_is_true(v);
		else
			found = json_kind(v);
		break;
	case OSA_ATTR_DATE:
		if (!json_is_string(v)) {
			found = json_kind(v);
			break;
		}
		if (osai_date_parse(json_string_value(v), json_string_length(v),
				    &out->i, &why)) {
			char q[80];

			osai_quote(json_string_value(v), q, sizeof(q));
			return osa_error_set(
				err, OSA_ETYPE,
				"record %s: attribute \"%s\" is declared date "
				"but %s is not an ISO 8601 date (%s)",
				osa_record_srn(rec), decl->name, q, why);
		}
		break;
	}
	if (found)
		return osa_error_set(err, OSA_ETYPE,
				     "record %s: attribute \"%s\" is declared "
				     "%s (%s) but the record has %s",
				     osa_record_srn(rec), decl->name,
				     osa_attr_type_name(decl->type),
				     type_wants(decl->type), found);
	out->has = true;
	return 0;
}

int osa_attrs_check(const struct osa_attrs *attrs, const struct osa_record *rec,
		    struct osa_error *err)
{
	struct attr_val v;
	size_t i;
	int rc;

	if (!attrs || !rec)
		return osa_error_set(err, OSA_EINVAL,
				     "osa_attrs_check: NULL argument");
	for (i = 0; i < attrs->n; i++) {
		rc = attr_read(&attrs->v[i], rec, &v, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- dictionaries ------------------------------------------------------ */

static uint64_t dict_hash(const char *s, size_t len)
{
	return XXH3_64bits(s, len);
}

int64_t osai_dict_find(const struct osai_dict *d, const char *s, size_t len)
{
	uint32_t mask, i, id;

	if (!d->nslots)
		return -1;
	mask = d->nslots - 1;
	for (i = (uint32_t)dict_hash(s, len) & mask;; i = (i + 1) & mask) {
		id = d->slots[i];
		if (!id)
			return -1;
		id--;
		if (d->len[id] == len && !memcmp(d->s[id], s, len))
			return id;
	}
}

static int dict_rehash(struct osai_dict *d, uint32_t nslots)
{
	uint32_t *slots = calloc(nslots, sizeof(*slots)), id, i;

	if (!slots)
		return OSA_ENOMEM;
	for (id = 0; id < d->n; id++) {
		i = (uint32_t)dict_hash(d->s[id], d->len[id]) & (nslots - 1);
		while (slots[i])
			i = (i + 1) & (nslots - 1);
		slots[i] = id + 1;
	}
	free(d->slots);
	d->slots = slots;
	d->nslots = nslots;
	return 0;
}

static int dict_intern(struct osai_dict *d, const char *s, size_t len,
		       uint32_t *id)
{
	int64_t f = osai_dict_find(d, s, len);
	char *copy;

	if (f >= 0) {
		*id = (uint32_t)f;
		return 0;
	}
	if (len > UINT32_MAX || d->n >= UINT32_MAX / 4)
		return OSA_ENOMEM;
	if (d->n == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 16;
		char **ns = realloc(d->s, cap * sizeof(*ns));
		uint32_t *nl;

		if (!ns)
			return OSA_ENOMEM;
		d->s = ns;
		nl = realloc(d->len, cap * sizeof(*nl));
		if (!nl)
			return OSA_ENOMEM;
		d->len = nl;
		d->cap = cap;
	}
	if ((uint64_t)(d->n + 1) * 2 > d->nslots &&
	    dict_rehash(d, d->nslots ? d->nslots * 2 : 32))
		return OSA_ENOMEM;
	copy = malloc(len + 1);
	if (!copy)
		return OSA_ENOMEM;
	memcpy(copy, s, len);
	copy[len] = '\0';
	d->s[d->n] = copy;
	d->len[d->n] = (uint32_t)len;
	d->n++;
	{
		uint32_t i = (uint32_t)dict_hash(s, len) & (d->nslots - 1);

		while (d->slots[i])
			i = (i + 1) & (d->nslots - 1);
		d->slots[i] = d->n;
	}
	*id = d->n - 1;
	return 0;
}

static void dict_free(struct osai_dict *d)
{
	uint32_t i;

	for (i = 0; i < d->n; i++)
		free(d->s[i]);
	free(d->s);
	free(d->len);
	free(d->slots);
	memset(d, 0, sizeof(*d));
}

/* ---- the table --------------------------------------------------------- */

static size_t words(uint64_t rows)
{
	return (size_t)((rows + 63) / 64);
}

static void bit_set(uint64_t *bits, uint32_t r, bool on)
{
	if (on)
		bits[r >> 6] |= (uint64_t)1 << (r & 63);
	else
		bits[r >> 6] &= ~((uint64_t)1 << (r & 63));
}

int osa_attr_table_new(const struct osa_attrs *attrs,
		       struct osa_attr_table **out, struct osa_error *err)
{
	struct osa_attr_table *t;
	size_t i;

	*out = NULL;
	if (!attrs || (attrs->n && !attrs->v))
		return osa_error_set(err, OSA_EINVAL,
				     "osa_attr_table_new: NULL attributes");
	for (i = 0; i < attrs->n; i++)
		if (!attrs->v[i].name || !osa_attr_type_name(attrs->v[i].type))
			return osa_error_set(
				err, OSA_EINVAL,
				"osa_attr_table_new: attribute %zu "
				"has no name or an unknown type",
				i);
	t = calloc(1, sizeof(*t));
	if (!t)
		goto oom;
	t->ncols = attrs->n;
	t->decls = calloc(attrs->n ? attrs->n : 1, sizeof(*t->decls));
	t->cols = calloc(attrs->n ? attrs->n : 1, sizeof(*t->cols));
	if (!t->decls || !t->cols)
		goto oom;
	for (i = 0; i < attrs->n; i++) {
		t->decls[i].type = attrs->v[i].type;
		t->decls[i].name = strdup(attrs->v[i].name);
		if (!t->decls[i].name)
			goto oom;
		t->cols[i].type = attrs->v[i].type;
	}
	*out = t;
	return 0;
oom:
	osa_attr_table_free(t);
	return osa_error_set(err, OSA_ENOMEM,
			     "out of memory creating an attribute table");
}

void osa_attr_table_free(struct osa_attr_table *t)
{
	size_t i;
	uint32_t r;

	if (!t)
		return;
	for (i = 0; i < t->ncols && t->cols; i++) {
		struct osai_column *c = &t->cols[i];

		free(c->has);
		free(c->i);
		free(c->f);
		free(c->b);
		free(c->k);
		if (c->kw)
			for (r = 0; r < t->cap; r++)
				free(c->kw[r].v);
		free(c->kw);
		dict_free(&c->dict);
	}
	for (i = 0; i < t->ncols && t->decls; i++)
		free((char *)t->decls[i].name);
	free(t->decls);
	free(t->cols);
	free(t->live);
	free(t);
}

/* Grow an array of `old` elements of `size` bytes to `cap`, zeroing. */
static int grow(void *pp, size_t size, size_t old, size_t cap)
{
	void **p = pp, *n;

	if (cap > SIZE_MAX / size)
		return OSA_ENOMEM;
	n = realloc(*p, cap * size);
	if (!n)
		return OSA_ENOMEM;
	memset((char *)n + old * size, 0, (cap - old) * size);
	*p = n;
	return 0;
}

/* Make room for row `row`. */
static int table_reserve(struct osa_attr_table *t, uint32_t row)
{
	uint64_t want;
	size_t cap, i, ow, nw;

	if (row < t->cap)
		return 0;
	if (row == UINT32_MAX)
		return OSA_ENOMEM;
	want = t->cap ? t->cap : 64;
	while (want <= row)
		want *= 2;
	if (want > (uint64_t)UINT32_MAX)
		want = UINT32_MAX;
	cap = (size_t)want;
	ow = words(t->cap);
	nw = words(cap);
	if (grow(&t->live, sizeof(uint64_t), ow, nw))
		return OSA_ENOMEM;
	for (i = 0; i < t->ncols; i++) {
		struct osai_column *c = &t->cols[i];
		int rc = grow(&c->has, sizeof(uint64_t), ow, nw);

		switch (c->type) {
		case OSA_ATTR_INT:
		case OSA_ATTR_DATE:
			rc = rc ? rc
				: grow(&c->i, sizeof(int64_t), t->cap, cap);
			break;
		case OSA_ATTR_FLOAT:
			rc = rc ? rc : grow(&c->f, sizeof(double), t->cap, cap);
			break;
		case OSA_ATTR_BOOL:
			rc = rc ? rc : grow(&c->b, sizeof(uint64_t), ow, nw);
			break;
		case OSA_ATTR_KEYWORD:
			rc = rc ? rc
				: grow(&c->k, sizeof(uint32_t), t->cap, cap);
			break;
		case OSA_ATTR_KEYWORDS:
			rc = rc ? rc
				: grow(&c->kw, sizeof(*c->kw), t->cap, cap);
			break;
		}
		if (rc) /* arrays grown so far keep their larger size */
			return rc;
	}
	t->cap = (uint32_t)cap;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Drop row r's values in column c (presence off, list freed). */
static void col_clear(struct osai_column *c, uint32_t r)
{
	bit_set(c->has, r, false);
	switch (c->type) {
	case OSA_ATTR_INT:
	case OSA_ATTR_DATE:
		c->i[r] = 0;
		break;
	case OSA_ATTR_FLOAT:
		c->f[r] = 0;
		break;
	case OSA_ATTR_BOOL:
		bit_set(c->b, r, false);
		break;
	case OSA_ATTR_KEYWORD:
		c->k[r] = 0;
		break;
	case OSA_ATTR_KEYWORDS:
		free(c->kw[r].v);
		c->kw[r].v = NULL;
		c->kw[r].n = 0;
		break;
	}
}

int osa_attr_table_set(struct osa_attr_table *t, uint32_t row,
		       const struct osa_record *rec, struct osa_error *err)
{
	struct attr_val *vals;
	struct osai_kwlist *lists;
	uint32_t kid;
	size_t i, k;
	int rc = 0;

	if (!t || !rec)
		return osa_error_set(err, OSA_EINVAL,
				     "osa_attr_table_set: NULL argument");
	vals = calloc(t->ncols ? t->ncols : 1, sizeof(*vals));
	lists = calloc(t->ncols ? t->ncols : 1, sizeof(*lists));
	if (!vals || !lists) {
		rc = OSA_ENOMEM;
		goto out;
	}
	for (i = 0; i < t->ncols; i++) {
		rc = attr_read(&t->decls[i], rec, &vals[i], err);
		if (rc)
			goto out;
	}
	rc = table_reserve(t, row);
	if (rc)
		goto out;
	/* Intern strings and build lists before touching the row. */
	for (i = 0; i < t->ncols && !rc; i++) {
		struct osai_column *c = &t->cols[i];
		const json_t *a = vals[i].arr;
		size_t n, m;

		if (!vals[i].has)
			continue;
		if (c->type == OSA_ATTR_KEYWORD) {
			rc = dict_intern(&c->dict, vals[i].s, vals[i].slen,
					 &kid);
			vals[i].i = kid;
		} else if (c->type == OSA_ATTR_KEYWORDS &&
			   (n = json_array_size(a))) {
			lists[i].v = malloc(n * sizeof(uint32_t));
			if (!lists[i].v) {
				rc = OSA_ENOMEM;
				break;
			}
			for (k = 0; k < n && !rc; k++) {
				const json_t *e = json_array_get(a, k);

				rc = dict_intern(&c->dict, json_string_value(e),
						 json_string_length(e),
						 &lists[i].v[k]);
			}
			qsort(lists[i].v, n, sizeof(uint32_t), cmp_u32);
			for (k = m = 0; k < n; k++)
				if (!m || lists[i].v[m - 1] != lists[i].v[k])
					lists[i].v[m++] = lists[i].v[k];
			lists[i].n = (uint32_t)m;
		}
	}
	if (rc)
		goto out;
	for (i = 0; i < t->ncols; i++) {
		struct osai_column *c = &t->cols[i];

		col_clear(c, row);
		if (!vals[i].has)
			continue;
		bit_set(c->has, row, true);
		switch (c->type) {
		case OSA_ATTR_INT:
		case OSA_ATTR_DATE:
			c->i[row] = vals[i].i;
			break;
		case OSA_ATTR_FLOAT:
			c->f[row] = vals[i].f;
			break;
		case OSA_ATTR_BOOL:
			bit_set(c->b, row, vals[i].b);
			break;
		case OSA_ATTR_KEYWORD:
			c->k[row] = (uint32_t)vals[i].i;
			break;
		case OSA_ATTR_KEYWORDS:
			c->kw[row] = lists[i];
			lists[i].v = NULL;
			break;
		}
	}
	if (!osai_bit(t->live, row)) {
		bit_set(t->live, row, true);
		t->nlive++;
	}
	if (row >= t->rows)
		t->rows = row + 1;
out:
	if (lists)
		for (i = 0; i < t->ncols; i++)
			free(lists[i].v);
	free(lists);
	free(vals);
	if (rc == OSA_ENOMEM)
		osa_error_set(err, rc,
			      "out of memory setting attributes of "
			      "record %s",
			      osa_record_srn(rec));
	return rc;
}

void osa_attr_table_clear(struct osa_attr_table *t, uint32_t row)
{
	size_t i;

	if (!t || row >= t->rows)
		return;
	for (i = 0; i < t->ncols; i++)
		col_clear(&t->cols[i], row);
	if (osai_bit(t->live, row)) {
		bit_set(t->live, row, false);
		t->nlive--;
	}
}

int osa_attr_table_copy(struct osa_attr_table *t, uint32_t dst, uint32_t src,
			struct osa_error *err)
{
	size_t i;

	if (!t)
		return osa_error_set(err, OSA_EINVAL,
				     "osa_attr_table_copy: NULL table");
	if (dst == src)
		return 0;
	if (src >= t->rows || !osai_bit(t->live, src)) {
		osa_attr_table_clear(t, dst);
		return 0;
	}
	if (table_reserve(t, dst))
		return osa_error_set(err, OSA_ENOMEM,
				     "out of memory copying attribute row %u "
				     "to %u",
				     src, dst);
	for (i = 0; i < t->ncols; i++) {
		struct osai_column *c = &t->cols[i];
		uint32_t *v = NULL;

		if (c->type == OSA_ATTR_KEYWORDS && c->kw[src].n) {
			v = malloc(c->kw[src].n * sizeof(*v));
			if (!v)
				return osa_error_set(
					err, OSA_ENOMEM,
					"out of memory copying attribute row "
					"%u to %u",
					src, dst);
			memcpy(v, c->kw[src].v, c->kw[src].n * sizeof(*v));
		}
		col_clear(c, dst);
		bit_set(c->has, dst, osai_bit(c->has, src));
		switch (c->type) {
		case OSA_ATTR_INT:
		case OSA_ATTR_DATE:
			c->i[dst] = c->i[src];
			break;
		case OSA_ATTR_FLOAT:
			c->f[dst] = c->f[src];
			break;
		case OSA_ATTR_BOOL:
			bit_set(c->b, dst, osai_bit(c->b, src));
			break;
		case OSA_ATTR_KEYWORD:
			c->k[dst] = c->k[src];
			break;
		case OSA_ATTR_KEYWORDS:
			c->kw[dst].v = v;
			c->kw[dst].n = c->kw[src].n;
			break;
		}
	}
	if (!osai_bit(t->live, dst)) {
		bit_set(t->live, dst, true);
		t->nlive++;
	}
	if (dst >= t->rows)
		t->rows = dst + 1;
	return 0;
}

uint32_t osa_attr_table_rows(const struct osa_attr_table *t)
{
	return t ? t->rows : 0;
}

uint64_t osa_attr_table_live(const struct osa_attr_table *t)
{
	return t ? t->nlive : 0;
}

/* ---- bytes ------------------------------------------------------------- */

struct wbuf {
	unsigned char *p;
	size_t n, cap;
	bool oom;
};

static void put(struct wbuf *w, const void *src, size_t n)
{
	if (w->oom)
		return;
	if (n > w->cap - w->n) {
		size_t cap = w->cap ? w->cap : 256;
		unsigned char *p;

		while (cap - w->n < n) {
			if (cap > SIZE_MAX / 2) {
				w->oom = true;
				return;
			}
			cap *= 2;
		}
		p = realloc(w->p, cap);
		if (!p) {
			w->oom = true;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->n, src, n);
	w->n += n;
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	unsigned char b[4];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(w, b, 4);
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(w, b, 8);
}

static void put_bits(struct wbuf *w, const uint64_t *bits, uint32_t rows)
{
	size_t i;

	for (i = 0; i < words(rows); i++) {
		uint64_t v = bits ? bits[i] : 0;

		if (i == words(rows) - 1 && (rows & 63))
			v &= ((uint64_t)1 << (rows & 63)) - 1;
		put_u64(w, v);
	}
}

static void put_dict(struct wbuf *w, const struct osai_dict *d)
{
	uint32_t i;

	put_u32(w, d->n);
	for (i = 0; i < d->n; i++) {
		put_u32(w, d->len[i]);
		put(w, d->s[i], d->len[i]);
	}
}

int osa_attr_table_encode(const struct osa_attr_table *t, void **buf,
			  size_t *len, struct osa_error *err)
{
	struct wbuf w = { 0 };
	uint32_t r;
	size_t i;

	*buf = NULL;
	*len = 0;
	if (!t)
		return osa_error_set(err, OSA_EINVAL,
				     "osa_attr_table_encode: NULL table");
	put(&w, attr_magic, sizeof(attr_magic));
	put_u32(&w, (uint32_t)t->ncols);
	for (i = 0; i < t->ncols; i++) {
		size_t n = strlen(t->decls[i].name);

		put(&w, &(unsigned char){ (unsigned char)t->decls[i].type }, 1);
		put_u32(&w, (uint32_t)n);
		put(&w, t->decls[i].name, n);
	}
	put_u32(&w, t->rows);
	put_bits(&w, t->live, t->rows);
	for (i = 0; i < t->ncols; i++) {
		const struct osai_column *c = &t->cols[i];

		put_bits(&w, c->has, t->rows);
		switch (c->type) {
		case OSA_ATTR_INT:
		case OSA_ATTR_DATE:
			for (r = 0; r < t->rows; r++)
				put_u64(&w, (uint64_t)c->i[r]);
			break;
		case OSA_ATTR_FLOAT:
			for (r = 0; r < t->rows; r++) {
				uint64_t v;

				memcpy(&v, &c->f[r], sizeof(v));
				put_u64(&w, v);
			}
			break;
		case OSA_ATTR_BOOL:
			put_bits(&w, c->b, t->rows);
			break;
		case OSA_ATTR_KEYWORD:
			put_dict(&w, &c->dict);
			for (r = 0; r < t->rows; r++)
				put_u32(&w, c->k[r]);
			break;
		case OSA_ATTR_KEYWORDS:
			put_dict(&w, &c->dict);
			for (r = 0; r < t->rows; r++) {
				put_u32(&w, c->kw[r].n);
				for (uint32_t k = 0; k < c->kw[r].n; k++)
					put_u32(&w, c->kw[r].v[k]);
			}
			break;
		}
	}
	if (!w.oom)
		put_u64(&w, XXH3_64bits(w.p, w.n));
	if (w.oom) {
		free(w.p);
		return osa_error_set(err, OSA_ENOMEM,
				     "out of memory encoding an attribute "
				     "table");
	}
	*buf = w.p;
	*len = w.n;
	return 0;
}

struct rbuf {
	const unsigned char *p;
	size_t n, at;
	bool bad;
};

static bool get(struct rbuf *r, void *dst, size_t n)
{
	if (r->bad || n > r->n - r->at) {
		r->bad = true;
		return false;
	}
	memcpy(dst, r->p + r->at, n);
	r->at += n;
	return true;
}

static uint32_t get_u32(struct rbuf *r)
{
	unsigned char b[4] = { 0 };

	get(r, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static uint64_t get_u64(struct rbuf *r)
{
	unsigned char b[8] = { 0 };
	uint64_t v = 0;
	int i;

	get(r, b, 8);
	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* Whether `n` more items of `size` bytes can be in the rest of r. */
static bool fits(struct rbuf *r, uint64_t n, size_t size)
{
	if (r->bad || n > (r->n - r->at) / size) {
		r->bad = true;
		return false;
	}
	return true;
}

static void get_bits(struct rbuf *r, uint64_t *bits, uint32_t rows)
{
	size_t i;

	for (i = 0; i < words(rows); i++)
		bits[i] = get_u64(r);
	if (rows & 63)
		bits[words(rows) - 1] &= ((uint64_t)1 << (rows & 63)) - 1;
}

static int get_dict(struct rbuf *r, struct osai_dict *d)
{
	uint32_t n = get_u32(r), i, len, id;
	char *tmp;

	if (!fits(r, n, 4))
		return OSA_ECORRUPT;
	for (i = 0; i < n; i++) {
		len = get_u32(r);
		if (!fits(r, len, 1))
			return OSA_ECORRUPT;
		tmp = (char *)r->p + r->at;
		if (dict_intern(d, tmp, len, &id))
			return OSA_ENOMEM;
		if (id != i) /* a string twice */
			return OSA_ECORRUPT;
		r->at += len;
	}
	return 0;
}

/* "a int, b keyword" of declarations, for messages. */
static void decls_text(const struct osa_attr_decl *v, size_t n, char *buf,
		       size_t cap)
{
	size_t i, at = 0;

	buf[0] = '\0';
	if (!n) {
		snprintf(buf, cap, "none");
		return;
	}
	for (i = 0; i < n && at < cap; i++) {
		int k = snprintf(buf + at, cap - at, "%s%s %s", i ? ", " : "",
				 v[i].name,
				 osa_attr_type_name(v[i].type)
					 ? osa_attr_type_name(v[i].type)
					 : "?");
		if (k < 0)
			break;
		at += (size_t)k;
	}
}

int osa_attr_table_decode(const struct osa_attrs *attrs, const void *buf,
			  size_t len, struct osa_attr_table **out,
			  struct osa_error *err)
{
	struct rbuf r = { buf, len, 0, false };
	struct osa_attr_table *t = NULL;
	struct osa_attr_decl *got = NULL;
	char magic[8], want_s[200], got_s[200];
	uint32_t ncols = 0, rows, i, k, n;
	uint64_t sum = 0;
	bool same;
	int rc;

	*out = NULL;
	if (!attrs || (!buf && len))
		return osa_error_set(err, OSA_EINVAL,
				     "osa_attr_table_decode: NULL argument");
	if (len >= sizeof(magic) + 8) {
		r.at = len - 8;
		sum = get_u64(&r);
	}
	if (len < sizeof(magic) + 8 || XXH3_64bits(buf, len - 8) != sum)
		return osa_error_set(err, OSA_ECORRUPT,
				     "attribute table: %zu bytes with a wrong "
				     "checksum; the index is rebuilt from the "
				     "journal",
				     len);
	r.n = len - 8;
	r.at = 0;
	get(&r, magic, sizeof(magic));
	if (memcmp(magic, attr_magic, sizeof(magic)))
		return osa_error_set(err, OSA_ECORRUPT,
				     "attribute table: not an attribute table "
				     "(magic); the index is rebuilt from the "
				     "journal");
	ncols = get_u32(&r);
	if (!fits(&r, ncols, 5))
		goto corrupt;
	got = calloc(ncols ? ncols : 1, sizeof(*got));
	if (!got)
		goto oom;
	for (i = 0; i < ncols; i++) {
		unsigned char ty = 0;
		char *name;

		get(&r, &ty, 1);
		n = get_u32(&r);
		if (!fits(&r, n, 1))
			goto corrupt;
		name = malloc((size_t)n + 1);
		if (!name)
			goto oom;
		get(&r, name, n);
		name[n] = '\0';
		got[i].name = name;
		got[i].type = (enum osa_attr_type)ty;
	}
	same = ncols == attrs->n;
	for (i = 0; same && i < ncols; i++)
		same = got[i].type == attrs->v[i].type &&
		       !strcmp(got[i].name, attrs->v[i].name);
	if (!same) {
		decls_text(attrs->v, attrs->n, want_s, sizeof(want_s));
		decls_text(got, ncols, got_s, sizeof(got_s));
		rc = osa_error_set(
			err, OSA_ECORRUPT,
			"attribute table was written for attributes "
			"(%s) but the index declares (%s); the index "
			"is rebuilt from the journal",
			got_s, want_s);
		goto fail;
	}
	rc = osa_attr_table_new(attrs, &t, err);
	if (rc)
		goto fail;
	rows = get_u32(&r);
	if (!fits(&r, words(rows), 8))
		goto corrupt;
	if (rows && table_reserve(t, rows - 1))
		goto oom;
	t->rows = rows;
	get_bits(&r, t->live, rows);
	for (i = 0; i < words(rows); i++)
		t->nlive += (uint64_t)__builtin_popcountll(t->live[i]);
	for (i = 0; i < ncols; i++) {
		struct osai_column *c = &t->cols[i];

		if (!fits(&r, words(rows), 8))
			goto corrupt;
		get_bits(&r, c->has, rows);
		for (k = 0; k < words(rows); k++)
			if (c->has[k] & ~t->live[k])
				goto corrupt;
		switch (c->type) {
		case OSA_ATTR_INT:
		case OSA_ATTR_DATE:
			if (!fits(&r, rows, 8))
				goto corrupt;
			for (k = 0; k < rows; k++)
				c->i[k] = (int64_t)get_u64(&r);
			break;
		case OSA_ATTR_FLOAT:
			if (!fits(&r, rows, 8))
				goto corrupt;
			for (k = 0; k < rows; k++) {
				uint64_t v = get_u64(&r);

				memcpy(&c->f[k], &v, sizeof(v));
				if (!isfinite(c->f[k]))
					goto corrupt;
			}
			break;
		case OSA_ATTR_BOOL:
			if (!fits(&r, words(rows), 8))
				goto corrupt;
			get_bits(&r, c->b, rows);
			break;
		case OSA_ATTR_KEYWORD:
			rc = get_dict(&r, &c->dict);
			if (rc == OSA_ENOMEM)
				goto oom;
			if (rc || !fits(&r, rows, 4))
				goto corrupt;
			for (k = 0; k < rows; k++) {
				c->k[k] = get_u32(&r);
				if (osai_bit(c->has, k) && c->k[k] >= c->dict.n)
					goto corrupt;
			}
			break;
		case OSA_ATTR_KEYWORDS:
			rc = get_dict(&r, &c->dict);
			if (rc == OSA_ENOMEM)
				goto oom;
			if (rc)
				goto corrupt;
			for (k = 0; k < rows; k++) {
				uint32_t m = get_u32(&r), j;

				if (!fits(&r, m, 4))
					goto corrupt;
				if (!m)
					continue;
				c->kw[k].v = malloc(m * sizeof(uint32_t));
				if (!c->kw[k].v)
					goto oom;
				c->kw[k].n = m;
				for (j = 0; j < m; j++) {
					c->kw[k].v[j] = get_u32(&r);
					if (c->kw[k].v[j] >= c->dict.n ||
					    (j && c->kw[k].v[j] <=
							  c->kw[k].v[j - 1]))
						goto corrupt;
				}
			}
			break;
		}
	}
	if (r.bad || r.at != r.n)
		goto corrupt;
	for (i = 0; i < ncols; i++)
		free((char *)got[i].name);
	free(got);
	*out = t;
	return 0;
corrupt:
	rc = osa_error_set(err, OSA_ECORRUPT,
			   "attribute table: malformed at byte %zu of %zu; the "
			   "index is rebuilt from the journal",
			   r.at, len);
	goto fail;
oom:
	rc = osa_error_set(err, OSA_ENOMEM,
			   "out of memory decoding an attribute table");
fail:
	if (got)
		for (i = 0; i < ncols; i++)
			free((char *)got[i].name);
	free(got);
	osa_attr_table_free(t);
	return rc;
}

/* ---- facets ------------------------------------------------------------ */

/* Counts of one attribute: by dictionary id, by bool, or by 64-bit key. */
struct fc_attr {
	size_t attr;
	enum osa_attr_type type;
	uint64_t *byid; /* KEYWORD(S): dict.n entries; BOOL: 2 */
	uint32_t nid;
	uint64_t *keys; /* INT, DATE, FLOAT (bits): open addressing */
	uint64_t *counts;
	size_t cap, used;
	bool oom;
};

struct osa_facet_counter {
	const struct osa_attr_table *t;
	size_t n, limit;
	struct fc_attr *v;
};

void osa_facet_counter_free(struct osa_facet_counter *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->v[i].byid);
		free(c->v[i].keys);
		free(c->v[i].counts);
	}
	free(c->v);
	free(c);
}

int osa_facet_counter_new(const struct osa_attr_table *t, const size_t *attrs,
			  size_t n, size_t limit,
			  struct osa_facet_counter **out, struct osa_error *err)
{
	struct osa_facet_counter *c;
	size_t i;

	*out = NULL;
	if (!t || (n && !attrs))
		return osa_error_set(err, OSA_EINVAL,
				     "osa_facet_counter_new: NULL argument");
	for (i = 0; i < n; i++)
		if (attrs[i] >= t->ncols)
			return osa_error_set(err, OSA_EINVAL,
					     "facet on attribute number %zu, "
					     "but the index declares %zu",
					     attrs[i], t->ncols);
	c = calloc(1, sizeof(*c));
	if (!c)
		goto oom;
	c->t = t;
	c->limit = limit;
	c->v = calloc(n ? n : 1, sizeof(*c->v));
	if (!c->v)
		goto oom;
	c->n = n;
	for (i = 0; i < n; i++) {
		struct fc_attr *a = &c->v[i];
		const struct osai_column *col = &t->cols[attrs[i]];

		a->attr = attrs[i];
		a->type = col->type;
		if (a->type == OSA_ATTR_KEYWORD ||
		    a->type == OSA_ATTR_KEYWORDS) {
			a->nid = col->dict.n;
			a->byid = calloc(a->nid ? a->nid : 1, sizeof(uint64_t));
		} else if (a->type == OSA_ATTR_BOOL) {
			a->byid = calloc(2, sizeof(uint64_t));
		} else {
			a->cap = 64;
			a->keys = calloc(a->cap, sizeof(uint64_t));
			a->counts = calloc(a->cap, sizeof(uint64_t));
			if (!a->keys || !a->counts)
				goto oom;
			continue;
		}
		if (!a->byid)
			goto oom;
	}
	*out = c;
	return 0;
oom:
	osa_facet_counter_free(c);
	return osa_error_set(err, OSA_ENOMEM,
			     "out of memory creating a facet counter");
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Count key `k` in a's table; counts[i] == 0 marks an empty slot. */
static void fc_count_key(struct fc_attr *a, uint64_t k)
{
	size_t i, mask;

	if (a->oom)
		return;
	if ((a->used + 1) * 2 > a->cap) {
		size_t cap = a->cap * 2, j;
		uint64_t *keys = calloc(cap, sizeof(uint64_t));
		uint64_t *counts = calloc(cap, sizeof(uint64_t));

		if (!keys || !counts) {
			free(keys);
			free(counts);
			a->oom = true;
			return;
		}
		for (j = 0; j < a->cap; j++) {
			if (!a->counts[j])
				continue;
			i = (size_t)mix64(a->keys[j]) & (cap - 1);
			while (counts[i])
				i = (i + 1) & (cap - 1);
			keys[i] = a->keys[j];
			counts[i] = a->counts[j];
		}
		free(a->keys);
		free(a->counts);
		a->keys = keys;
		a->counts = counts;
		a->cap = cap;
	}
	mask = a->cap - 1;
	for (i = (size_t)mix64(k) & mask; a->counts[i]; i = (i + 1) & mask)
		if (a->keys[i] == k) {
			a->counts[i]++;
			return;
		}
	a->keys[i] = k;
	a->counts[i] = 1;
	a->used++;
}

void osa_facet_counter_add(struct osa_facet_counter *c, uint32_t row)
{
	const struct osa_attr_table *t;
	size_t i;
	uint32_t k;

	if (!c)
		return;
	t = c->t;
	if (row >= t->rows || !osai_bit(t->live, row))
		return;
	for (i = 0; i < c->n; i++) {
		struct fc_attr *a = &c->v[i];
		const struct osai_column *col = &t->cols[a->attr];
		double f;
		uint64_t bits;

		if (!osai_bit(col->has, row))
			continue;
		switch (a->type) {
		case OSA_ATTR_INT:
		case OSA_ATTR_DATE:
			fc_count_key(a, (uint64_t)col->i[row]);
			break;
		case OSA_ATTR_FLOAT:
			f = col->f[row] == 0 ? 0.0 : col->f[row]; /* -0 */
			memcpy(&bits, &f, sizeof(bits));
			fc_count_key(a, bits);
			break;
		case OSA_ATTR_BOOL:
			a->byid[osai_bit(col->b, row)]++;
			break;
		case OSA_ATTR_KEYWORD:
			if (col->k[row] < a->nid)
				a->byid[col->k[row]]++;
			break;
		case OSA_ATTR_KEYWORDS:
			for (k = 0; k < col->kw[row].n; k++)
				if (col->kw[row].v[k] < a->nid)
					a->byid[col->kw[row].v[k]]++;
			break;
		}
	}
}

/* A value before sorting: its count and its sort key. */
struct fc_item {
	uint64_t count;
	int64_t ikey;	  /* INT, DATE, BOOL */
	double fkey;	  /* FLOAT */
	const char *skey; /* KEYWORD(S) */
	uint32_t slen;
};

static int fc_cmp_float(const void *pa, const void *pb)
{
	const struct fc_item *a = pa, *b = pb;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->fkey < b->fkey ? -1 : a->fkey > b->fkey;
}

static int fc_cmp_str(const void *pa, const void *pb)
{
	const struct fc_item *a = pa, *b = pb;
	int c;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	c = memcmp(a->skey, b->skey, a->slen < b->slen ? a->slen : b->slen);
	if (c)
		return c;
	return a->slen < b->slen ? -1 : a->slen > b->slen;
}

static int fc_cmp_int(const void *pa, const void *pb)
{
	const struct fc_item *a = pa, *b = pb;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->ikey < b->ikey ? -1 : a->ikey > b->ikey;
}

static int fc_finish_one(const struct osa_facet_counter *c,
			 const struct fc_attr *a, struct osa_facet *out)
{
	const struct osai_column *col = &c->t->cols[a->attr];
	struct fc_item *items;
	size_t n = 0, i, keep;
	char buf[64];

	out->attr = a->attr;
	if (a->oom)
		return OSA_ENOMEM;
	switch (a->type) {
	case OSA_ATTR_KEYWORD:
	case OSA_ATTR_KEYWORDS:
		items = calloc(a->nid ? a->nid : 1, sizeof(*items));
		if (!items)
			return OSA_ENOMEM;
		for (i = 0; i < a->nid; i++)
			if (a->byid[i]) {
				items[n].count = a->byid[i];
				items[n].skey = col->dict.s[i];
				items[n].slen = col->dict.len[i];
				n++;
			}
		qsort(items, n, sizeof(*items), fc_cmp_str);
		break;
	case OSA_ATTR_BOOL:
		items = calloc(2, sizeof(*items));
		if (!items)
			return OSA_ENOMEM;
		for (i = 0; i < 2; i++)
			if (a->byid[i]) {
				items[n].count = a->byid[i];
				items[n].ikey = (int64_t)i;
				n++;
			}
		qsort(items, n, sizeof(*items), fc_cmp_int);
		break;
	default:
		items = calloc(a->used ? a->used : 1, sizeof(*items));
		if (!items)
			return OSA_ENOMEM;
		for (i = 0; i < a->cap; i++) {
			if (!a->counts[i])
				continue;
			items[n].count = a->counts[i];
			items[n].ikey = (int64_t)a->keys[i];
			memcpy(&items[n].fkey, &a->keys[i], sizeof(double));
			n++;
		}
		qsort(items, n, sizeof(*items),
		      a->type == OSA_ATTR_FLOAT ? fc_cmp_float : fc_cmp_int);
		break;
	}
	keep = c->limit && n > c->limit ? c->limit : n;
	out->v = calloc(keep ? keep : 1, sizeof(*out->v));
	if (!out->v) {
		free(items);
		return OSA_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const char *s = buf;

		if (i >= keep) {
			out->others += items[i].count;
			continue;
		}
		switch (a->type) {
		case OSA_ATTR_KEYWORD:
		case OSA_ATTR_KEYWORDS:
			s = items[i].skey;
			break;
		case OSA_ATTR_BOOL:
			s = items[i].ikey ? "true" : "false";
			break;
		case OSA_ATTR_INT:
			snprintf(buf, sizeof(buf), "%" PRId64, items[i].ikey);
			break;
		case OSA_ATTR_DATE:
			osai_date_format(items[i].ikey, buf, sizeof(buf));
			break;
		case OSA_ATTR_FLOAT:
			osai_double_format(items[i].fkey, buf, sizeof(buf));
			break;
		}
		out->v[out->n].value = strdup(s);
		if (!out->v[out->n].value) {
			free(items);
			return OSA_ENOMEM;
		}
		out->v[out->n].count = items[i].count;
		out->n++;
	}
	free(items);
	return 0;
}

int osa_facet_counter_finish(struct osa_facet_counter *c,
			     struct osa_facets *out, struct osa_error *err)
{
	size_t i;
	int rc = 0;

	if (!c || !out) {
		osa_facet_counter_free(c);
		return osa_error_set(err, OSA_EINVAL,
				     "osa_facet_counter_finish: NULL argument");
	}
	out->v = calloc(c->n ? c->n : 1, sizeof(*out->v));
	if (!out->v)
		rc = OSA_ENOMEM;
	for (i = 0; !rc && i < c->n; i++) {
		rc = fc_finish_one(c, &c->v[i], &out->v[i]);
		out->n = i + 1;
	}
	osa_facet_counter_free(c);
	if (rc) {
		osa_facets_free(out);
		return osa_error_set(err, OSA_ENOMEM,
				     "out of memory counting facets");
	}
	return 0;
}

void osa_facets_free(struct osa_facets *f)
{
	size_t i, k;

	if (!f)
		return;
	for (i = 0; i < f->n; i++) {
		for (k = 0; k < f->v[i].n; k++)
			free(f->v[i].v[k].value);
		free(f->v[i].v);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

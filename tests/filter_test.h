/* SPDX-License-Identifier: MIT */
/*
 * filter_test.h - what the backends' filter tests share: declared
 * attributes of every type, records carrying them (generated from the
 * record number and a version), filters with their brute-force
 * predicates, facet counts by brute force, and opening an index with
 * attributes.
 */
#ifndef OSA_FILTER_TEST_H
#define OSA_FILTER_TEST_H

#include <stdbool.h>

#include <osa/filter.h>

#include "backend_test.h"

static const struct osa_attr_decl ft_decl[] = {
	{ "sel", OSA_ATTR_INT },       { "cat", OSA_ATTR_KEYWORD },
	{ "tags", OSA_ATTR_KEYWORDS }, { "flag", OSA_ATTR_BOOL },
	{ "day", OSA_ATTR_DATE },      { "w", OSA_ATTR_FLOAT },
};
static const struct osa_attrs ft_attrs = { 6, ft_decl };
static const struct osa_attrs ft_none = { 0, NULL };

/* Attribute numbers (into ft_decl). */
enum { FT_SEL, FT_CAT, FT_TAGS, FT_FLAG, FT_DAY, FT_W };

/* One record's attribute values. */
struct ft_row {
	bool has_sel;  /* about 1 in 17 records lacks `sel` */
	long sel;      /* [0, 1000) */
	int cat;       /* "c0".."c4" */
	unsigned tags; /* bits of "t0".."t3" (none: an empty list) */
	bool flag;
	int y, m, d; /* day, YYYY-MM-DD */
	int w;	     /* w = this / 1000 */
};

static inline uint64_t ft_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The values of record i: `sel` depends on i alone (stable across
 * versions); the others on the version too. */
static inline void ft_row_of(size_t i, unsigned version, struct ft_row *r)
{
	uint64_t a = ft_mix((uint64_t)i * 0x9e3779b97f4a7c15ull + 1);
	uint64_t b =
		ft_mix(a ^ ((uint64_t)version + 1) * 0x632be59bd9b4e019ull);

	r->has_sel = a % 17 != 0;
	r->sel = (long)((a >> 8) % 1000);
	r->cat = (int)(b % 5);
	r->tags = (unsigned)(b >> 4) & 15;
	r->flag = (b >> 8) & 1;
	r->y = 2000 + (int)((b >> 9) % 25);
	r->m = 1 + (int)((b >> 14) % 12);
	r->d = 1 + (int)((b >> 18) % 28);
	r->w = (int)((b >> 24) % 1000);
}

/* ,"sel":..,"cat":.. (the attributes as JSON members). */
static inline size_t ft_json(const struct ft_row *r, char *o, size_t cap)
{
	size_t n = 0;
	int t, first = 1;

	if (r->has_sel)
		n += (size_t)snprintf(o + n, cap - n, ",\"sel\":%ld", r->sel);
	n += (size_t)snprintf(o + n, cap - n, ",\"cat\":\"c%d\",\"tags\":[",
			      r->cat);
	for (t = 0; t < 4; t++)
		if (r->tags >> t & 1) {
			n += (size_t)snprintf(o + n, cap - n, "%s\"t%d\"",
					      first ? "" : ",", t);
			first = 0;
		}
	n += (size_t)snprintf(o + n, cap - n,
			      "],\"flag\":%s,\"day\":\"%04d-%02d-%02d\","
			      "\"w\":%d.%03d",
			      r->flag ? "true" : "false", r->y, r->m, r->d,
			      r->w / 1000, r->w % 1000);
	return n;
}

/* A record: srn, optional title and summary, optional vector, attributes
 * (none when r is NULL). */
static inline struct osa_record *ft_rec(const char *srn, const char *title,
					const char *summary, const float *vec,
					size_t dim, const struct ft_row *r)
{
	size_t cap = 512 + strlen(srn) + (title ? strlen(title) : 0) +
		     (summary ? strlen(summary) : 0) + dim * 20;
	char *json = malloc(cap);
	struct osa_record *rec = NULL;
	struct osa_error err = { 0 };
	size_t n, i;

	OSA_REQUIRE(json);
	n = (size_t)snprintf(json, cap, "{\"srn\":\"%s\"", srn);
	if (title)
		n += (size_t)snprintf(json + n, cap - n, ",\"title\":\"%s\"",
				      title);
	if (summary)
		n += (size_t)snprintf(json + n, cap - n, ",\"summary\":\"%s\"",
				      summary);
	if (vec) {
		n += (size_t)snprintf(json + n, cap - n, ",\"embedding\":[");
		for (i = 0; i < dim; i++)
			n += (size_t)snprintf(json + n, cap - n, "%s%.9g",
					      i ? "," : "", vec[i]);
		n += (size_t)snprintf(json + n, cap - n, "]");
	}
	if (r)
		n += ft_json(r, json + n, cap - n);
	n += (size_t)snprintf(json + n, cap - n, "}");
	if (osa_record_parse(json, n, NULL, &rec, &err)) {
		fprintf(stderr, "record: %s\n%s\n", err.msg, json);
		exit(1);
	}
	free(json);
	return rec;
}

/* ---- filters and their predicates ------------------------------------- */

static inline bool ft_p_sel500(const struct ft_row *r)
{
	return r->has_sel && r->sel < 500;
}
static inline bool ft_p_sel100(const struct ft_row *r)
{
	return r->has_sel && r->sel < 100;
}
static inline bool ft_p_sel10(const struct ft_row *r)
{
	return r->has_sel && r->sel < 10;
}
static inline bool ft_p_sel1(const struct ft_row *r)
{
	return r->has_sel && r->sel < 1;
}
static inline bool ft_p_mix(const struct ft_row *r)
{
	return r->cat == 2 && (r->tags & 0xa) && !r->flag;
}
static inline bool ft_p_date(const struct ft_row *r)
{
	return (r->y > 2015 || (r->y == 2015 && r->m >= 6)) && r->w < 500;
}
static inline bool ft_p_in(const struct ft_row *r)
{
	return r->cat == 1 || r->cat == 4 || (r->has_sel && r->sel >= 990);
}
static inline bool ft_p_nott0(const struct ft_row *r)
{
	return !(r->tags & 1);
}
static inline bool ft_p_ne5(const struct ft_row *r)
{
	return !(r->has_sel && r->sel == 5);
}
static inline bool ft_p_old(const struct ft_row *r)
{
	return !r->flag && r->y < 2003;
}

struct ft_case {
	const char *text;
	bool (*pred)(const struct ft_row *);
};

/* The first four select 50 %, 10 %, 1 % and 0.1 % of `sel` (times 16/17:
 * some records lack it). */
static const struct ft_case ft_cases[] = {
	{ "sel < 500", ft_p_sel500 },
	{ "sel < 100", ft_p_sel100 },
	{ "sel < 10", ft_p_sel10 },
	{ "sel < 1", ft_p_sel1 },
	{ "cat = \"c2\" AND (tags = \"t1\" OR tags = \"t3\") AND NOT "
	  "flag = true",
	  ft_p_mix },
	{ "day >= \"2015-06\" AND w < 0.5", ft_p_date },
	{ "cat IN [\"c1\", \"c4\"] OR sel >= 990", ft_p_in },
	{ "tags != \"t0\"", ft_p_nott0 },
	{ "sel != 5", ft_p_ne5 },
	{ "flag = false AND day < \"2003-01-01T00:00:00Z\"", ft_p_old },
};
#define FT_NCASES (sizeof(ft_cases) / sizeof(ft_cases[0]))

static inline struct osa_filter *ft_filter(const char *text)
{
	struct osa_error err = { 0 };
	struct osa_filter *f = NULL;

	if (osa_filter_parse(text, &ft_attrs, &f, NULL, &err)) {
		fprintf(stderr, "filter %s: %s\n", text, err.msg);
		exit(1);
	}
	return f;
}

/* ---- facets ------------------------------------------------------------- */

/* Brute-force counts of cat (5), tags (4), flag (2: false, true) over the
 * rows marked in `sel`. */
struct ft_counts {
	uint64_t cat[5], tags[4], flag[2];
};

static inline void ft_count(struct ft_counts *c, const struct ft_row *r)
{
	int t;

	c->cat[r->cat]++;
	for (t = 0; t < 4; t++)
		c->tags[t] += r->tags >> t & 1;
	c->flag[r->flag]++;
}

/* The facet of attribute `attr` in `f`, or NULL. */
static inline const struct osa_facet *ft_facet(const struct osa_facets *f,
					       size_t attr)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->v[i].attr == attr)
			return &f->v[i];
	return NULL;
}

/* The count of `value` in facet `f` (0 when absent). */
static inline uint64_t ft_facet_count(const struct osa_facet *f,
				      const char *value)
{
	size_t i;

	for (i = 0; f && i < f->n; i++)
		if (!strcmp(f->v[i].value, value))
			return f->v[i].count;
	return 0;
}

/* Do the facets cat, tags, flag equal the counts `c` exactly (every value
 * present with its count, no other value, sorted most frequent first)? */
static inline bool ft_facets_equal(const struct osa_facets *f,
				   const struct ft_counts *c)
{
	const struct osa_facet *fc = ft_facet(f, FT_CAT),
			       *ft = ft_facet(f, FT_TAGS),
			       *ff = ft_facet(f, FT_FLAG);
	size_t nz = 0, i;
	char v[8];
	int k;

	if (!fc || !ft || !ff)
		return false;
	for (k = 0; k < 5; k++) {
		snprintf(v, sizeof(v), "c%d", k);
		nz += c->cat[k] != 0;
		if (ft_facet_count(fc, v) != c->cat[k])
			return false;
	}
	if (fc->n != nz)
		return false;
	for (nz = 0, k = 0; k < 4; k++) {
		snprintf(v, sizeof(v), "t%d", k);
		nz += c->tags[k] != 0;
		if (ft_facet_count(ft, v) != c->tags[k])
			return false;
	}
	if (ft->n != nz)
		return false;
	if (ft_facet_count(ff, "false") != c->flag[0] ||
	    ft_facet_count(ff, "true") != c->flag[1] ||
	    ff->n != (size_t)(c->flag[0] != 0) + (c->flag[1] != 0))
		return false;
	for (i = 0; i < f->n; i++)
		for (size_t j = 1; j < f->v[i].n; j++)
			if (f->v[i].v[j - 1].count < f->v[i].v[j].count ||
			    (f->v[i].v[j - 1].count == f->v[i].v[j].count &&
			     strcmp(f->v[i].v[j - 1].value,
				    f->v[i].v[j].value) >= 0))
				return false;
	return true;
}

static const size_t ft_facet_attrs[] = { FT_CAT, FT_TAGS, FT_FLAG };

/* ---- opening ------------------------------------------------------------ */

/* bt_open() with declared attributes. */
static inline int ft_open(struct bt_index *ix, const char *backend,
			  const char *text, const char *dir,
			  const struct osa_attrs *attrs, struct osa_error *err)
{
	struct osa_backend_args args;
	char *report = NULL;
	int rc;

	memset(ix, 0, sizeof(*ix));
	ix->b = osa_backend_find(backend);
	OSA_REQUIRE(ix->b);
	rc = osa_schema_parse(ix->b->schema, text, &ix->cfg, &report, err);
	if (rc) {
		fprintf(stderr, "config: %s\n", report ? report : err->msg);
		free(report);
		exit(1);
	}
	memset(&args, 0, sizeof(args));
	args.index = "t";
	args.config = ix->cfg;
	args.dir = dir;
	args.attrs = attrs;
	rc = ix->b->open(&args, &ix->self, &ix->lsn, err);
	if (rc) {
		osa_schema_free(ix->b->schema, ix->cfg);
		ix->cfg = NULL;
	}
	return rc;
}

/* The record number of srn "...-<i>" (digits at the end). */
static inline size_t ft_id(const char *srn)
{
	const char *p = srn + strlen(srn);

	while (p > srn && p[-1] >= '0' && p[-1] <= '9')
		p--;
	return (size_t)strtoul(p, NULL, 10);
}

#endif /* OSA_FILTER_TEST_H */

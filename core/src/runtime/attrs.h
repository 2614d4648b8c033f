/* SPDX-License-Identifier: MIT */
/*
 * attrs.h - the inside of osa/filter.h's attribute table, shared by
 * attrs.c (declarations, values, the table, its bytes, facets) and filter.c
 * (the parser and the evaluation).  Internal to the core.
 *
 * A table has one column per declared attribute, each a flat array indexed
 * by row plus a presence bitmap; keyword and keywords columns hold ids into
 * the column's dictionary (strings interned once, never removed, so ids stay
 * valid while the table lives), so `=` and IN compare integers.  A keywords
 * row is a sorted list of distinct ids.  `live` marks rows set and not
 * cleared; a cleared row also loses its presence bits.
 */
#ifndef OSAI_ATTRS_H
#define OSAI_ATTRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <osa/filter.h>

/* Interned strings of a keyword(s) column: id -> bytes, bytes -> id. */
struct osai_dict {
	char **s;	 /* NUL-terminated copies */
	uint32_t *len;	 /* their lengths */
	uint32_t n, cap; /* ids [0, n) */
	uint32_t *slots; /* open addressing: id + 1, 0 empty */
	uint32_t nslots; /* a power of two, or 0 */
};

/* The id of s[0..len) or -1. */
int64_t osai_dict_find(const struct osai_dict *d, const char *s, size_t len);

/* A keywords row: sorted distinct ids. */
struct osai_kwlist {
	uint32_t n;
	uint32_t *v;
};

struct osai_column {
	enum osa_attr_type type;
	uint64_t *has;		/* presence, one bit per row */
	int64_t *i;		/* INT, DATE (ms) */
	double *f;		/* FLOAT */
	uint64_t *b;		/* BOOL: value bits */
	uint32_t *k;		/* KEYWORD: dictionary ids */
	struct osai_kwlist *kw; /* KEYWORDS */
	struct osai_dict dict;	/* KEYWORD, KEYWORDS */
};

struct osa_attr_table {
	size_t ncols;
	struct osa_attr_decl *decls; /* names owned */
	struct osai_column *cols;
	uint32_t rows; /* one past the highest row set */
	uint32_t cap;  /* rows allocated in every array */
	uint64_t *live;
	uint64_t nlive;
};

/* 64-bit words holding `rows` bits. */
static inline size_t osai_words(uint64_t rows)
{
	return (size_t)((rows + 63) / 64);
}

static inline bool osai_bit(const uint64_t *bits, uint32_t r)
{
	return (bits[r >> 6] >> (r & 63)) & 1u;
}

/* Parse an ISO 8601 date (forms in osa/filter.h) of s[0..len) into ms since
 * the epoch.  0 or OSA_EINVAL with *why pointing at a static reason. */
int osai_date_parse(const char *s, size_t len, int64_t *ms, const char **why);

/* Format ms since the epoch as osa/filter.h's facet values do. */
void osai_date_format(int64_t ms, char *buf, size_t n);

/* The shortest "%.*g" of a finite double that reads back the same. */
void osai_double_format(double v, char *buf, size_t n);

#endif /* OSAI_ATTRS_H */

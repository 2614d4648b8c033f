/* SPDX-License-Identifier: MIT */
/*
 * osa/filter.h - declared attributes, filters and facets, for backends.
 *
 * An index may declare `attributes` in its configuration: top-level record
 * fields with a type.  The core checks every record's attributes at ingest (a
 * value of the wrong type refuses the batch before anything is journaled),
 * parses a query's `filter` expression once into a `struct osa_filter`, and
 * hands it to backends that declare OSA_BACKEND_CAP_FILTER (osa/backend.h).
 *
 * A backend keeps attribute values in an `osa_attr_table`: a columnar store
 * addressed by the backend's own dense row numbers (a slot, a doc id), filled
 * from records at ingest, so nothing re-parses JSON at query time.  It
 * evaluates a filter against rows, counts facets over rows, and persists the
 * table with its checkpoint (osa_attr_table_encode/decode).
 *
 * Semantics, the same for every backend:
 *  - A record without the attribute (absent or null) has no value: `=`, `<`,
 *    `<=`, `>`, `>=` and `IN` are false for it; `a != v` is `NOT a = v` and
 *    so true for it.
 *  - `keywords` (a list of strings): `a = v` holds when any element equals
 *    v; `a IN [..]` when any element is in the list; `a != v` when none does.
 *    Order comparisons are refused at parse time.
 *  - `date` values are ISO 8601 strings (YYYY, YYYY-MM, YYYY-MM-DD, optionally
 *    followed by THH:MM[:SS[.fff]] and Z or +HH:MM / -HH:MM; no zone means
 *    UTC) held as milliseconds since 1970-01-01T00:00:00Z; a filter compares
 *    them with date strings in the same forms.
 *  - `int` is a JSON integer (int64), `float` any finite JSON number,
 *    `bool` true/false, `keyword` a string compared byte for byte.
 *
 * Threading: a filter is immutable once parsed; any number of threads may use
 * it.  A table is not locked: readers (match, bitmap, facet counting) may run
 * at once, but a writer (set, clear, copy) needs them excluded, as the
 * backend already does for its own structures.
 */
#ifndef OSA_FILTER_H
#define OSA_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <osa/error.h>
#include <osa/record.h>

#ifdef __cplusplus
extern "C" {
#endif

enum osa_attr_type {
	OSA_ATTR_INT = 1,  /* JSON integer, int64 */
	OSA_ATTR_FLOAT,	   /* finite JSON number, double */
	OSA_ATTR_KEYWORD,  /* JSON string, compared exactly */
	OSA_ATTR_KEYWORDS, /* JSON array of strings */
	OSA_ATTR_BOOL,	   /* JSON true or false */
	OSA_ATTR_DATE,	   /* ISO 8601 string, held as ms since the epoch */
};

/* "int", "float", "keyword", "keywords", "bool", "date"; NULL if unknown. */
const char *osa_attr_type_name(enum osa_attr_type type);

/* One declared attribute: a top-level record field and its type. */
struct osa_attr_decl {
	const char *name;
	enum osa_attr_type type;
};

/* An index's declared attributes, in configuration order.  Attribute
 * numbers used below (facets) index `v`. */
struct osa_attrs {
	size_t n;
	const struct osa_attr_decl *v;
};

/*
 * Check a record's declared attributes: 0 when every present attribute has
 * its declared type (a date parses, a float is finite, an int fits int64),
 * else OSA_ETYPE with a message naming the srn, the field, the declared type
 * and what was found.  The core calls this at ingest; backends need not.
 */
int osa_attrs_check(const struct osa_attrs *attrs, const struct osa_record *rec,
		    struct osa_error *err);

/* ---- filters ---------------------------------------------------------- */

/* A parsed filter expression.  Opaque and immutable. */
struct osa_filter;

/*
 * Parse `text` against the declared attributes:
 *
 *   expr    := or
 *   or      := and ( "OR" and )*
 *   and     := not ( "AND" not )*
 *   not     := "NOT" not | "(" expr ")" | cmp
 *   cmp     := NAME op value | NAME "IN" "[" value ( "," value )* "]"
 *   op      := "=" | "!=" | "<" | "<=" | ">" | ">="
 *   value   := number | "string" | true | false
 *
 * Keywords are case-insensitive; strings are double-quoted with JSON escapes
 * (\" \\ \/ \b \f \n \r \t \uXXXX).  On error returns OSA_EINVAL with a
 * message of the form `filter:1:17: unknown attribute "yaer"; did you mean
 * "year"? declared: year, type, keywords` (line:column of the offending
 * character, 1-based) and, when `pos` is not NULL, *pos = its byte offset.
 * OSA_ELIMIT past 64 levels of nesting or 65 536 bytes of text.
 */
int osa_filter_parse(const char *text, const struct osa_attrs *attrs,
		     struct osa_filter **out, size_t *pos,
		     struct osa_error *err);

/* Release a filter.  NULL is allowed. */
void osa_filter_free(struct osa_filter *f);

/* The filter in canonical form (keywords upper case, minimal
 * parentheses, strings re-escaped).  Valid while the filter lives. */
const char *osa_filter_text(const struct osa_filter *f);

/* ---- the columnar attribute table ------------------------------------- */

struct osa_attr_table;

/* An empty table for `attrs` (copied; the table keeps no pointer into it). */
int osa_attr_table_new(const struct osa_attrs *attrs,
		       struct osa_attr_table **out, struct osa_error *err);

/* Release a table.  NULL is allowed. */
void osa_attr_table_free(struct osa_attr_table *t);

/*
 * Set row `row` (growing the table as needed) to the record's attributes;
 * the row becomes live.  OSA_ETYPE as osa_attrs_check() when a value has
 * the wrong type (the row is then unchanged), OSA_ENOMEM.
 */
int osa_attr_table_set(struct osa_attr_table *t, uint32_t row,
		       const struct osa_record *rec, struct osa_error *err);

/* Make `row` dead: it matches no filter and counts in no facet. */
void osa_attr_table_clear(struct osa_attr_table *t, uint32_t row);

/* Copy row `src` to row `dst` (growing as needed), for backends that move
 * records between rows when they compact.  0 or OSA_ENOMEM. */
int osa_attr_table_copy(struct osa_attr_table *t, uint32_t dst, uint32_t src,
			struct osa_error *err);

/* One past the highest row ever set. */
uint32_t osa_attr_table_rows(const struct osa_attr_table *t);

/* Live rows. */
uint64_t osa_attr_table_live(const struct osa_attr_table *t);

/* Whether live row `row` matches `f`; a NULL filter matches every live row,
 * and a dead or never-set row matches nothing. */
bool osa_filter_match(const struct osa_filter *f,
		      const struct osa_attr_table *t, uint32_t row);

/*
 * Evaluate `f` on rows [0, nrows) at once, column by column: bit r of
 * `bits` (nrows bits, rounded up to whole words, written in full by the
 * call) is set for each matching row.  Returns the number of matches.  This
 * is what a backend uses to measure a filter's selectivity and to scan the
 * matching rows exactly.
 */
size_t osa_filter_bitmap(const struct osa_filter *f,
			 const struct osa_attr_table *t, uint64_t *bits,
			 uint32_t nrows);

/*
 * The table as bytes (little-endian, versioned, carrying the declarations)
 * in a malloc'd buffer to free().  0 or OSA_ENOMEM.
 */
int osa_attr_table_encode(const struct osa_attr_table *t, void **buf,
			  size_t *len, struct osa_error *err);

/*
 * A table from encode()'s bytes.  OSA_ECORRUPT when the bytes are malformed
 * or were written for other declarations than `attrs` (the message names
 * both), so that the core rebuilds the index from the journal.
 */
int osa_attr_table_decode(const struct osa_attrs *attrs, const void *buf,
			  size_t len, struct osa_attr_table **out,
			  struct osa_error *err);

/* ---- facets ------------------------------------------------------------ */

/* One value of a facet and the number of records that have it.  `value` is
 * the value as text: keyword strings as they are, int and float in JSON
 * number form, "true"/"false", dates in ISO 8601 (YYYY-MM-DD when the time
 * is midnight UTC, else YYYY-MM-DDTHH:MM:SS[.fff]Z). */
struct osa_facet_value {
	char *value;
	uint64_t count;
};

/* The counts of one attribute, most frequent first, ties by value. */
struct osa_facet {
	size_t attr; /* attribute number (into struct osa_attrs) */
	size_t n;
	struct osa_facet_value *v;
	uint64_t others; /* values left out past the limit, summed */
};

/* The facets of one query.  Zero-initialised by the core. */
struct osa_facets {
	size_t n;
	struct osa_facet *v;
	bool estimated; /* counted over ranked candidates, not all matches */
};

/* Free every facet and reset.  NULL is allowed. */
void osa_facets_free(struct osa_facets *f);

/* Accumulates facet counts over rows of one table. */
struct osa_facet_counter;

/*
 * A counter for attributes attrs[0..n) (attribute numbers) of `t`, keeping
 * at most `limit` values per attribute when finished (0: no limit).
 * OSA_EINVAL for an attribute number out of range, OSA_ENOMEM.
 */
int osa_facet_counter_new(const struct osa_attr_table *t, const size_t *attrs,
			  size_t n, size_t limit,
			  struct osa_facet_counter **out,
			  struct osa_error *err);

/* Count live row `row` once for each of its values (a `keywords` row counts
 * once per distinct element).  Dead rows are ignored. */
void osa_facet_counter_add(struct osa_facet_counter *c, uint32_t row);

/* Sort and move the counts into `out` (empty on entry) and free the
 * counter, whatever the result.  0 or OSA_ENOMEM. */
int osa_facet_counter_finish(struct osa_facet_counter *c,
			     struct osa_facets *out, struct osa_error *err);

/* Free a counter that will not be finished.  NULL is allowed. */
void osa_facet_counter_free(struct osa_facet_counter *c);

#ifdef __cplusplus
}
#endif

#endif /* OSA_FILTER_H */

/* SPDX-License-Identifier: MIT */
/*
 * test_filter.c - osa/filter.h: the parser (every operator, precedence,
 * escapes, canonical text, malformed filters with their error positions,
 * limits), ISO 8601 dates, the attribute check, and the attribute table
 * (bitmap and row evaluation, encode/decode, facets) against a brute-force
 * model on generated data with sets, clears and copies.
 *
 * One executable, one ctest test per case: test_filter CASE.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <osa/backend.h>
#include <osa/filter.h>
#include <osa/record.h>
#include <xxhash.h>

#include "osa_test.h"
#include "osai.h"

enum { A_YEAR, A_SCORE, A_TYPE, A_TAGS, A_OPEN, A_DATE, NATTR };

static const struct osa_attr_decl decl_v[NATTR] = {
	{ "year", OSA_ATTR_INT },	{ "score", OSA_ATTR_FLOAT },
	{ "type", OSA_ATTR_KEYWORD },	{ "keywords", OSA_ATTR_KEYWORDS },
	{ "retracted", OSA_ATTR_BOOL }, { "published", OSA_ATTR_DATE },
};
static const struct osa_attrs attrs = { NATTR, decl_v };

static struct osa_record *rec(const char *json)
{
	struct osa_error err = { 0 };
	struct osa_record *r = NULL;

	if (osa_record_parse(json, strlen(json), NULL, &r, &err)) {
		fprintf(stderr, "record %s: %s\n", json, err.msg);
		exit(1);
	}
	return r;
}

/* ---- parser ------------------------------------------------------------ */

/* `text` parses and its canonical form is `canon`. */
static void good(const char *text, const char *canon)
{
	struct osa_error err = { 0 };
	struct osa_filter *f = NULL;
	int rc = osa_filter_parse(text, &attrs, &f, NULL, &err);

	OSA_CHECK_MSG(rc == 0, "%s: %s", text, err.msg);
	if (!rc)
		OSA_CHECK_STR(osa_filter_text(f), canon);
	if (f) {
		/* The canonical text parses to itself. */
		struct osa_filter *g = NULL;

		rc = osa_filter_parse(osa_filter_text(f), &attrs, &g, NULL,
				      &err);
		OSA_CHECK_MSG(rc == 0, "%s: %s", osa_filter_text(f), err.msg);
		if (!rc)
			OSA_CHECK_STR(osa_filter_text(g), canon);
		osa_filter_free(g);
	}
	osa_filter_free(f);
}

/* `text` fails with `code` at byte `pos` with `needle` in the message. */
static void bad(const char *text, int code, size_t pos, const char *needle)
{
	struct osa_error err = { 0 };
	struct osa_filter *f = (struct osa_filter *)1;
	size_t at = 12345;
	int rc = osa_filter_parse(text, &attrs, &f, &at, &err);

	OSA_CHECK_MSG(rc == code, "%s: got %d (%s)", text, rc, err.msg);
	OSA_CHECK(f == NULL);
	OSA_CHECK_MSG(at == pos, "%s: error at byte %zu, expected %zu (%s)",
		      text, at, pos, err.msg);
	OSA_CHECK_CONTAINS(err.msg, needle);
	OSA_CHECK(!strncmp(err.msg, "filter:", 7) || code == OSA_ENOMEM);
}

static void test_parse(void)
{
	/* every operator and value type */
	good("year = 2015", "year = 2015");
	good("year != 2015", "year != 2015");
	good("year < 2015", "year < 2015");
	good("year <= 2015", "year <= 2015");
	good("year > 2015", "year > 2015");
	good("year >= 2015", "year >= 2015");
	good("year>=-3", "year >= -3");
	good("year < 2015.5", "year < 2015.5");
	good("score >= 1.25e1", "score >= 12.5");
	good("score = 3", "score = 3");
	good("type = \"dataset\"", "type = \"dataset\"");
	good("type < \"m\"", "type < \"m\"");
	good("keywords = \"sea ice\"", "keywords = \"sea ice\"");
	good("keywords != \"x\"", "keywords != \"x\"");
	good("retracted = true", "retracted = true");
	good("retracted != FALSE", "retracted != false");
	good("published >= \"2015\"", "published >= \"2015-01-01\"");
	good("published < \"2015-06-30T12:30:00+02:00\"",
	     "published < \"2015-06-30T10:30:00Z\"");
	good("year IN [2015, 2016,2017]", "year IN [2015, 2016, 2017]");
	good("type in [\"a\"]", "type IN [\"a\"]");
	good("keywords IN [\"a\", \"b\"]", "keywords IN [\"a\", \"b\"]");
	good("retracted IN [true, false]", "retracted IN [true, false]");
	/* keywords are case-insensitive */
	good("year = 1 and year = 2 Or not year = 3",
	     "year = 1 AND year = 2 OR NOT year = 3");
	/* precedence: NOT > AND > OR; minimal parentheses */
	good("year = 1 OR year = 2 AND year = 3",
	     "year = 1 OR year = 2 AND year = 3");
	good("(year = 1 OR year = 2) AND year = 3",
	     "(year = 1 OR year = 2) AND year = 3");
	good("((year = 1))", "year = 1");
	good("(year = 1 AND year = 2) AND year = 3",
	     "year = 1 AND year = 2 AND year = 3");
	good("NOT (year = 1 AND year = 2)", "NOT (year = 1 AND year = 2)");
	good("NOT NOT year = 1", "NOT NOT year = 1");
	good("NOT (year = 1)", "NOT year = 1");
	/* the example */
	good("year >= 2015 AND type = \"dataset\" AND (keywords = \"sea ice\" "
	     "OR keywords = \"glacier\") AND NOT retracted = true",
	     "year >= 2015 AND type = \"dataset\" AND (keywords = \"sea ice\" "
	     "OR keywords = \"glacier\") AND NOT retracted = true");
	/* escapes */
	good("type = \"a\\\"b\\\\c\\/d\"", "type = \"a\\\"b\\\\c/d\"");
	good("type = \"\\u00e9t\\u00C9\"", "type = \"\xc3\xa9t\xc3\x89\"");
	good("type = \"\\ud83d\\ude00\"", "type = \"\xf0\x9f\x98\x80\"");
	good("type = \"tab\\there\\n\"", "type = \"tab\\u0009here\\u000a\"");
	good("type = \"\xc3\xa9\"", "type = \"\xc3\xa9\"");
	/* whitespace of every kind */
	good("\t year\n>=\r\n2015 ", "year >= 2015");

	/* malformed, each with the byte of its error */
	bad("", OSA_EINVAL, 0, "empty");
	bad("   ", OSA_EINVAL, 3, "empty");
	bad("yaer >= 2015", OSA_EINVAL, 0,
	    "unknown attribute \"yaer\"; did you mean \"year\"? declared: "
	    "year, score, type, keywords, retracted, published");
	bad("year >= 2015 AND tpye = \"x\"", OSA_EINVAL, 17,
	    "filter:1:18: unknown attribute \"tpye\"; did you mean \"type\"");
	bad("zzzzzz = 1", OSA_EINVAL, 0,
	    "unknown attribute \"zzzzzz\"; "
	    "declared:");
	bad("year", OSA_EINVAL, 4, "expected an operator");
	bad("year 2015", OSA_EINVAL, 5, "expected an operator");
	bad("year == 2015", OSA_EINVAL, 5, "'==' is not an operator");
	bad("year <> 2015", OSA_EINVAL, 5, "'<>'");
	bad("year ! 2015", OSA_EINVAL, 5, "'!' alone");
	bad("year =", OSA_EINVAL, 6, "expected a value");
	bad("year = \"2015\"", OSA_EINVAL, 7, "is int");
	bad("year = true", OSA_EINVAL, 7, "is int");
	bad("type = 5", OSA_EINVAL, 7, "is keyword");
	bad("type = dataset", OSA_EINVAL, 7, "strings go in double quotes");
	bad("retracted = 1", OSA_EINVAL, 12, "true or false");
	bad("retracted < true", OSA_EINVAL, 10, "only =, != and IN");
	bad("keywords > \"a\"", OSA_EINVAL, 9, "only =, != and IN");
	bad("published = \"2015-13\"", OSA_EINVAL, 12, "month out of range");
	bad("published = \"2015-02-30\"", OSA_EINVAL, 12, "day out of range");
	bad("published = \"yesterday\"", OSA_EINVAL, 12, "not a date");
	bad("published = 2015", OSA_EINVAL, 12, "is date");
	bad("type = \"abc", OSA_EINVAL, 7, "unterminated string");
	bad("type = \"a\\qb\"", OSA_EINVAL, 9, "invalid escape '\\q'");
	bad("type = \"\\u12\"", OSA_EINVAL, 8, "four hex digits");
	bad("type = \"\\ud800x\"", OSA_EINVAL, 8, "high surrogate");
	bad("type = \"\\udc00\"", OSA_EINVAL, 8, "lone low surrogate");
	bad("type = \"\\u0000\"", OSA_EINVAL, 8, "NUL");
	bad("type = \"a\nb\"", OSA_EINVAL, 9, "control character");
	bad("type = \"\xff\"", OSA_EINVAL, 8, "invalid UTF-8");
	bad("type = 'x'", OSA_EINVAL, 7, "double quotes");
	bad("year = 1 AND", OSA_EINVAL, 12, "expected a condition after AND");
	bad("year = 1 OR", OSA_EINVAL, 11, "expected a condition after OR");
	bad("year = 1 year = 2", OSA_EINVAL, 9, "expected AND, OR");
	bad("year = 1)", OSA_EINVAL, 8, "')' without a matching '('");
	bad("(year = 1", OSA_EINVAL, 9, "expected ')' to close the '(' at 1:1");
	bad("()", OSA_EINVAL, 1, "empty parentheses");
	bad("NOT", OSA_EINVAL, 3, "expected an attribute name");
	bad("AND year = 1", OSA_EINVAL, 0, "expected an attribute name");
	bad("year IN 2015", OSA_EINVAL, 8, "expected '[' after IN");
	bad("year IN []", OSA_EINVAL, 9, "IN [] is empty");
	bad("year IN [1 2]", OSA_EINVAL, 11, "expected ',' or ']'");
	bad("year IN [1,", OSA_EINVAL, 11, "expected a value");
	bad("year IN [1, \"x\"]", OSA_EINVAL, 12, "is int");
	bad("year = 1.", OSA_EINVAL, 9, "digit must follow the decimal");
	bad("year = 1e", OSA_EINVAL, 9, "digit must follow the exponent");
	bad("year = 12abc", OSA_EINVAL, 9, "after a number");
	bad("year = -", OSA_EINVAL, 7, "'-' must start a number");
	bad("year = 99999999999999999999", OSA_EINVAL, 7, "range of int");
	bad("score = 1e999", OSA_EINVAL, 8, "out of range");
	bad("year = 1 & year = 2", OSA_EINVAL, 9, "unexpected character '&'");
	bad("year = 1\n  AND yr = 2", OSA_EINVAL, 15,
	    "filter:2:7: unknown attribute \"yr\"");
	bad("type = \"\xc3\xa9\" AND x = 1", OSA_EINVAL, 16,
	    "filter:1:16: unknown attribute \"x\"");
	bad("year = 1 AND AND year = 2", OSA_EINVAL, 13,
	    "expected an attribute name");

	/* no declarations at all */
	{
		struct osa_attrs none = { 0, NULL };
		struct osa_error err = { 0 };
		struct osa_filter *f = NULL;

		OSA_CHECK(osa_filter_parse("year = 1", &none, &f, NULL, &err) ==
			  OSA_EINVAL);
		OSA_CHECK_CONTAINS(err.msg, "declares no attributes");
	}
}

static void test_limits(void)
{
	struct osa_error err = { 0 };
	struct osa_filter *f = NULL;
	size_t n = 1 << 20, i, pos;
	char *s = malloc(n + 16);

	OSA_REQUIRE(s);
	/* 64 levels of parentheses and of NOT are fine, 65 are not */
	for (int depth = 64; depth <= 65; depth++) {
		size_t k = 0;

		for (i = 0; i < (size_t)depth; i++)
			s[k++] = '(';
		k += (size_t)sprintf(s + k, "year = 1");
		for (i = 0; i < (size_t)depth; i++)
			s[k++] = ')';
		s[k] = '\0';
		OSA_CHECK(osa_filter_parse(s, &attrs, &f, &pos, &err) ==
			  (depth == 64 ? 0 : OSA_ELIMIT));
		if (depth == 65) {
			OSA_CHECK(pos == 64);
			OSA_CHECK_CONTAINS(err.msg, "deeper than 64");
		}
		osa_filter_free(f);
		f = NULL;
		k = 0;
		for (i = 0; i < (size_t)depth; i++)
			k += (size_t)sprintf(s + k, "NOT ");
		sprintf(s + k, "year = 1");
		OSA_CHECK(osa_filter_parse(s, &attrs, &f, NULL, &err) ==
			  (depth == 64 ? 0 : OSA_ELIMIT));
		osa_filter_free(f);
		f = NULL;
	}
	/* a million opening parentheses: the depth limit, no deep stack */
	memset(s, '(', 60000);
	s[60000] = '\0';
	OSA_CHECK(osa_filter_parse(s, &attrs, &f, NULL, &err) == OSA_ELIMIT);
	/* 1 MB of text, a 1 MB string: the size limit */
	memset(s, ' ', n);
	memcpy(s, "type = \"", 8);
	s[n - 1] = '"';
	s[n] = '\0';
	OSA_CHECK(osa_filter_parse(s, &attrs, &f, &pos, &err) == OSA_ELIMIT);
	OSA_CHECK_CONTAINS(err.msg, "longer than 65536 bytes");
	/* exactly 65536 bytes is allowed */
	memset(s, ' ', 65536);
	memcpy(s, "year = 1", 8);
	s[65536] = '\0';
	OSA_CHECK(osa_filter_parse(s, &attrs, &f, NULL, &err) == 0);
	osa_filter_free(f);
	f = NULL;
	/* a long chain of ANDs is one node: no depth */
	{
		size_t k = 0;

		for (i = 0; i < 3000; i++)
			k += (size_t)sprintf(s + k, "%syear != %zu",
					     i ? " AND " : "", i);
		OSA_CHECK(osa_filter_parse(s, &attrs, &f, NULL, &err) == 0);
		osa_filter_free(f);
	}
	free(s);
}

/* ---- dates and the attribute check ------------------------------------- */

/* Whether `s` is a date: set in a table, its facet text and `s` itself
 * compare equal to it in a filter. */
static bool date_parses(const char *s)
{
	struct osa_attr_decl d = { "d", OSA_ATTR_DATE };
	struct osa_attrs a = { 1, &d };
	struct osa_attr_table *t = NULL;
	struct osa_facet_counter *c = NULL;
	struct osa_facets fs = { 0 };
	char json[200];
	struct osa_record *r;
	struct osa_error err = { 0 };
	size_t attr = 0;

	/* through a facet: its value text, parsed back by the filter */
	snprintf(json, sizeof(json), "{\"srn\":\"x\",\"d\":\"%s\"}", s);
	r = rec(json);
	OSA_REQUIRE(osa_attr_table_new(&a, &t, &err) == 0);
	if (osa_attr_table_set(t, 0, r, &err)) {
		osa_record_free(r);
		osa_attr_table_free(t);
		return false;
	}
	OSA_REQUIRE(osa_facet_counter_new(t, &attr, 1, 0, &c, &err) == 0);
	osa_facet_counter_add(c, 0);
	OSA_REQUIRE(osa_facet_counter_finish(c, &fs, &err) == 0);
	OSA_REQUIRE(fs.n == 1 && fs.v[0].n == 1);
	/* compare with a filter to find the instant: = holds */
	{
		char ft[200];
		struct osa_filter *f = NULL;

		snprintf(ft, sizeof(ft), "d = \"%s\"", fs.v[0].v[0].value);
		OSA_CHECK(osa_filter_parse(ft, &a, &f, NULL, &err) == 0);
		OSA_CHECK(osa_filter_match(f, t, 0));
		osa_filter_free(f);
		snprintf(ft, sizeof(ft), "d = \"%s\"", s);
		OSA_CHECK(osa_filter_parse(ft, &a, &f, NULL, &err) == 0);
		OSA_CHECK(osa_filter_match(f, t, 0));
		osa_filter_free(f);
	}
	osa_facets_free(&fs);
	osa_record_free(r);
	osa_attr_table_free(t);
	return true;
}

/* The facet text of date `in`. */
static void date_is(const char *in, const char *want)
{
	struct osa_attr_decl d = { "d", OSA_ATTR_DATE };
	struct osa_attrs a = { 1, &d };
	struct osa_filter *f = NULL;
	struct osa_error err = { 0 };
	char ft[200];

	snprintf(ft, sizeof(ft), "d = \"%s\"", in);
	OSA_CHECK_MSG(osa_filter_parse(ft, &a, &f, NULL, &err) == 0, "%s: %s",
		      in, err.msg);
	snprintf(ft, sizeof(ft), "d = \"%s\"", want);
	if (f)
		OSA_CHECK_STR(osa_filter_text(f), ft);
	osa_filter_free(f);
	OSA_CHECK(date_parses(in));
}

static void test_dates(void)
{
	date_is("2015", "2015-01-01");
	date_is("2015-06", "2015-06-01");
	date_is("2015-06-30", "2015-06-30");
	date_is("2016-02-29", "2016-02-29");
	date_is("2000-02-29", "2000-02-29");
	date_is("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z");
	date_is("1960-01-01T00:00:00.5Z", "1960-01-01T00:00:00.500Z");
	date_is("2015-06-30T12:00", "2015-06-30T12:00:00Z");
	date_is("2015-06-30T12:00:01.123456789Z", "2015-06-30T12:00:01.123Z");
	date_is("2015-06-30T00:30:00+01:00", "2015-06-29T23:30:00Z");
	date_is("2015-06-30T23:30:00-01:00", "2015-07-01T00:30:00Z");
	date_is("2015-06-30T23:00:00-01:00", "2015-07-01");
	date_is("0001-01-01", "0001-01-01");
	date_is("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z");
	/* the ordering of instants */
	{
		struct osa_attr_decl d = { "d", OSA_ATTR_DATE };
		struct osa_attrs a = { 1, &d };
		struct osa_attr_table *t = NULL;
		struct osa_filter *f = NULL;
		struct osa_error err = { 0 };
		struct osa_record *r = rec("{\"srn\":\"x\",\"d\":\"2015-06-30"
					   "T12:00:00+02:00\"}");

		OSA_REQUIRE(osa_attr_table_new(&a, &t, &err) == 0);
		OSA_REQUIRE(osa_attr_table_set(t, 0, r, &err) == 0);
		OSA_REQUIRE(
			osa_filter_parse("d > \"2015-06-30T09:59:59Z\" AND "
					 "d < \"2015-06-30T10:00:01Z\" AND "
					 "d >= \"2015-06\" AND d < \"2016\"",
					 &a, &f, NULL, &err) == 0);
		OSA_CHECK(osa_filter_match(f, t, 0));
		osa_filter_free(f);
		osa_record_free(r);
		osa_attr_table_free(t);
	}
	/* not dates */
	{
		static const char *const no[] = {
			"15",
			"2015-1",
			"2015-00",
			"2015-02-29",
			"2015-06-31",
			"2015/06/30",
			"2015-06-30T",
			"2015-06-30T24:00",
			"2015-06-30T1:00",
			"2015-06-30T12:60",
			"2015-06-30T12:00:00.",
			"2015-06-30T12:00:00Zx",
			"2015-06-30T12:00+0100",
			"2015-06-30 12:00",
			"",
		};
		for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
			OSA_CHECK_MSG(!date_parses(no[i]), "%s", no[i]);
	}
}

static void check_bad(const char *json, const char *n1, const char *n2)
{
	struct osa_record *r = rec(json);
	struct osa_error err = { 0 };
	struct osa_attr_table *t = NULL;

	OSA_CHECK_MSG(osa_attrs_check(&attrs, r, &err) == OSA_ETYPE, "%s",
		      json);
	OSA_CHECK_CONTAINS(err.msg, n1);
	OSA_CHECK_CONTAINS(err.msg, n2);
	OSA_CHECK_CONTAINS(err.msg, "record r1");
	/* the table refuses it too, and the row stays unset */
	OSA_REQUIRE(osa_attr_table_new(&attrs, &t, &err) == 0);
	OSA_CHECK(osa_attr_table_set(t, 3, r, &err) == OSA_ETYPE);
	OSA_CHECK(osa_attr_table_rows(t) == 0);
	OSA_CHECK(osa_attr_table_live(t) == 0);
	osa_attr_table_free(t);
	osa_record_free(r);
}

static void test_check(void)
{
	struct osa_error err = { 0 };
	struct osa_record *r;

	r = rec("{\"srn\":\"r1\",\"year\":2015,\"score\":1.5,\"type\":\"x\","
		"\"keywords\":[\"a\",\"b\"],\"retracted\":false,"
		"\"published\":\"2015-06-30\",\"other\":{}}");
	OSA_CHECK(osa_attrs_check(&attrs, r, &err) == 0);
	osa_record_free(r);
	r = rec("{\"srn\":\"r1\",\"year\":null,\"keywords\":[]}");
	OSA_CHECK(osa_attrs_check(&attrs, r, &err) == 0);
	osa_record_free(r);
	r = rec("{\"srn\":\"r1\",\"score\":3}");
	OSA_CHECK(osa_attrs_check(&attrs, r, &err) == 0);
	osa_record_free(r);
	check_bad("{\"srn\":\"r1\",\"year\":\"2015\"}",
		  "attribute \"year\" is declared int", "has a string");
	check_bad("{\"srn\":\"r1\",\"year\":2015.5}", "\"year\"",
		  "a number with a fraction");
	check_bad("{\"srn\":\"r1\",\"score\":\"1\"}", "\"score\"",
		  "declared float");
	check_bad("{\"srn\":\"r1\",\"type\":5}", "\"type\"", "an integer");
	check_bad("{\"srn\":\"r1\",\"type\":[\"a\"]}", "\"type\"", "an array");
	check_bad("{\"srn\":\"r1\",\"keywords\":\"a\"}", "\"keywords\"",
		  "a string");
	check_bad("{\"srn\":\"r1\",\"keywords\":[\"a\",1]}", "\"keywords\"",
		  "element 1 is an integer");
	check_bad("{\"srn\":\"r1\",\"retracted\":0}", "\"retracted\"",
		  "declared bool");
	check_bad("{\"srn\":\"r1\",\"published\":\"June\"}", "\"published\"",
		  "not an ISO 8601 date");
	check_bad("{\"srn\":\"r1\",\"published\":2015}", "\"published\"",
		  "declared date");
}

/* ---- the table against a model ---------------------------------------- */

#define NROWS 1500
#define NTYPES 7
#define NTAGS 8
#define NDATES 12

static const char *const types[NTYPES] = { "dataset", "article",
					   "Dataset", "report",
					   "a\"q",    "\xc3\xa9t\xc3\xa9",
					   "data" };
static const char *const tags[NTAGS] = { "sea ice", "glacier", "ocean", "snow",
					 "ice",	    "land",    "air",	"sea" };
static const char *const dates[NDATES] = {
	"1999-12-31", "2000-01-01", "2000-02-29", "2005-06-15",
	"2010-01-01", "2015-06-30", "2015-07-01", "2016-02-29",
	"2019-11-11", "2020-01-01", "2021-03-04", "1970-01-01"
};

struct mrow {
	bool live;
	bool has[NATTR];
	int64_t year;
	double score;
	int type;
	unsigned tags; /* bit set */
	bool open;
	int date;
};

static struct mrow model[NROWS];
static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned rn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void json_str(char *out, const char *s)
{
	size_t k = 0;

	out[k++] = '"';
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			out[k++] = '\\';
		out[k++] = *s;
	}
	out[k++] = '"';
	out[k] = '\0';
}

/* A random row of the model and its record. */
static struct osa_record *gen_row(struct mrow *m, unsigned id)
{
	char json[1024], q[64];
	size_t k = 0;
	int a;

	memset(m, 0, sizeof(*m));
	k += (size_t)sprintf(json + k, "{\"srn\":\"r%u\"", id);
	for (a = 0; a < NATTR; a++) {
		unsigned how = rn(10); /* 0: absent, 1: null, else a value */

		if (how == 0)
			continue;
		if (how == 1) {
			k += (size_t)sprintf(json + k, ",\"%s\":null",
					     decl_v[a].name);
			continue;
		}
		m->has[a] = true;
		k += (size_t)sprintf(json + k, ",\"%s\":", decl_v[a].name);
		switch (a) {
		case A_YEAR:
			m->year = 1995 + (int64_t)rn(30);
			k += (size_t)sprintf(json + k, "%" PRId64, m->year);
			break;
		case A_SCORE:
			m->score = (double)((int)rn(41) - 20) / 4.0;
			k += (size_t)sprintf(json + k, "%.17g", m->score);
			break;
		case A_TYPE:
			m->type = (int)rn(NTYPES);
			json_str(q, types[m->type]);
			k += (size_t)sprintf(json + k, "%s", q);
			break;
		case A_TAGS: {
			unsigned n = rn(4), i;

			json[k++] = '[';
			for (i = 0; i < n; i++) {
				unsigned t = rn(NTAGS);

				m->tags |= 1u << t;
				k += (size_t)sprintf(json + k, "%s\"%s\"",
						     i ? "," : "", tags[t]);
			}
			json[k++] = ']';
			break;
		}
		case A_OPEN:
			m->open = rn(2);
			k += (size_t)sprintf(json + k, "%s",
					     m->open ? "true" : "false");
			break;
		case A_DATE:
			m->date = (int)rn(NDATES);
			k += (size_t)sprintf(json + k, "\"%s\"",
					     dates[m->date]);
			break;
		}
	}
	k += (size_t)sprintf(json + k, "}");
	m->live = true;
	return rec(json);
}

/* A generated filter: tree and text. */
enum { G_AND, G_OR, G_NOT, G_LEAF };
enum { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE, C_IN };

struct gnode {
	int kind, attr, cmp, nv;
	int64_t iv[3];
	double fv[3];
	int sv[3]; /* index into types/tags/dates */
	struct gnode *a, *b;
};

static struct gnode *gen_filter(int depth)
{
	struct gnode *g = calloc(1, sizeof(*g));
	int i;

	OSA_REQUIRE(g);
	if (depth > 0 && rn(3)) {
		g->kind = (int)rn(3);
		g->a = gen_filter(depth - 1);
		if (g->kind != G_NOT)
			g->b = gen_filter(depth - 1);
		return g;
	}
	g->kind = G_LEAF;
	g->attr = (int)rn(NATTR);
	if (g->attr == A_TAGS || g->attr == A_OPEN)
		g->cmp = (int[]){ C_EQ, C_NE, C_IN }[rn(3)];
	else
		g->cmp = (int)rn(7);
	g->nv = g->cmp == C_IN ? 1 + (int)rn(3) : 1;
	for (i = 0; i < g->nv; i++) {
		g->iv[i] = 1995 + (int64_t)rn(30);
		g->fv[i] = (double)((int)rn(41) - 20) / 4.0 + (rn(4) ? 0 : 0.1);
		g->sv[i] = (int)rn(g->attr == A_TAGS   ? NTAGS + 1
				   : g->attr == A_TYPE ? NTYPES + 1
				   : g->attr == A_OPEN ? 2
						       : NDATES);
	}
	return g;
}

static void gfree(struct gnode *g)
{
	if (!g)
		return;
	gfree(g->a);
	gfree(g->b);
	free(g);
}

static const char *gstr(int attr, int i)
{
	if (attr == A_TAGS)
		return i < NTAGS ? tags[i] : "absent tag";
	return i < NTYPES ? types[i] : "absent type";
}

static size_t gtext(const struct gnode *g, char *out)
{
	static const char *const ops[] = { "=", "!=", "<", "<=", ">", ">=" };
	size_t k = 0;
	int i;
	char q[64];

	if (g->kind == G_NOT) {
		k += (size_t)sprintf(out + k, "NOT (");
		k += gtext(g->a, out + k);
		return k + (size_t)sprintf(out + k, ")");
	}
	if (g->kind == G_AND || g->kind == G_OR) {
		k += (size_t)sprintf(out + k, "(");
		k += gtext(g->a, out + k);
		k += (size_t)sprintf(out + k,
				     g->kind == G_AND ? ") AND (" : ") or (");
		k += gtext(g->b, out + k);
		return k + (size_t)sprintf(out + k, ")");
	}
	k += (size_t)sprintf(out + k, "%s %s ", decl_v[g->attr].name,
			     g->cmp == C_IN ? "IN [" : ops[g->cmp]);
	for (i = 0; i < g->nv; i++) {
		if (i)
			k += (size_t)sprintf(out + k, ", ");
		switch (g->attr) {
		case A_YEAR:
			k += (size_t)sprintf(out + k, "%" PRId64, g->iv[i]);
			break;
		case A_SCORE:
			k += (size_t)sprintf(out + k, "%.17g", g->fv[i]);
			break;
		case A_TYPE:
		case A_TAGS:
			json_str(q, gstr(g->attr, g->sv[i]));
			k += (size_t)sprintf(out + k, "%s", q);
			break;
		case A_OPEN:
			k += (size_t)sprintf(out + k, "%s",
					     g->sv[i] ? "true" : "false");
			break;
		case A_DATE:
			k += (size_t)sprintf(out + k, "\"%s\"",
					     dates[g->sv[i]]);
			break;
		}
	}
	if (g->cmp == C_IN)
		k += (size_t)sprintf(out + k, "]");
	return k;
}

static bool cmp_holds(int cmp, int c)
{
	switch (cmp) {
	case C_EQ:
	case C_IN:
		return c == 0;
	case C_NE:
		return c != 0;
	case C_LT:
		return c < 0;
	case C_LE:
		return c <= 0;
	case C_GT:
		return c > 0;
	default:
		return c >= 0;
	}
}

static int sgn(double d)
{
	return d < 0 ? -1 : d > 0;
}

static bool geval(const struct gnode *g, const struct mrow *m)
{
	bool hit = false;
	int i, cmp;

	if (!m->live)
		return false;
	switch (g->kind) {
	case G_AND:
		return geval(g->a, m) && geval(g->b, m);
	case G_OR:
		return geval(g->a, m) || geval(g->b, m);
	case G_NOT:
		return !geval(g->a, m);
	}
	cmp = g->cmp == C_NE ? C_EQ : g->cmp;
	for (i = 0; i < g->nv && m->has[g->attr] && !hit; i++) {
		switch (g->attr) {
		case A_YEAR:
			hit = cmp_holds(cmp, sgn((double)(m->year - g->iv[i])));
			break;
		case A_SCORE:
			hit = cmp_holds(cmp, sgn(m->score - g->fv[i]));
			break;
		case A_TYPE:
			hit = cmp_holds(cmp, strcmp(types[m->type],
						    gstr(A_TYPE, g->sv[i])));
			break;
		case A_TAGS:
			hit = g->sv[i] < NTAGS && (m->tags >> g->sv[i] & 1);
			break;
		case A_OPEN:
			hit = m->open == (g->sv[i] != 0);
			break;
		case A_DATE:
			hit = cmp_holds(
				cmp, strcmp(dates[m->date], dates[g->sv[i]]));
			break;
		}
	}
	return g->cmp == C_NE ? !hit : hit;
}

/* Facet value text of the model, for brute-force counting. */
static int facet_model(const struct mrow *m, int attr, char vals[][64])
{
	int n = 0, i;

	if (!m->live || !m->has[attr])
		return 0;
	switch (attr) {
	case A_YEAR:
		sprintf(vals[n++], "%" PRId64, m->year);
		break;
	case A_SCORE:
		/* the shortest form that reads back, as the counter writes */
		for (i = 1; i <= 17; i++) {
			sprintf(vals[0], "%.*g", i, m->score);
			if (strtod(vals[0], NULL) == m->score)
				break;
		}
		n = 1;
		break;
	case A_TYPE:
		sprintf(vals[n++], "%s", types[m->type]);
		break;
	case A_TAGS:
		for (i = 0; i < NTAGS; i++)
			if (m->tags >> i & 1)
				sprintf(vals[n++], "%s", tags[i]);
		break;
	case A_OPEN:
		sprintf(vals[n++], "%s", m->open ? "true" : "false");
		break;
	case A_DATE:
		sprintf(vals[n++], "%s", dates[m->date]);
		break;
	}
	return n;
}

/* Brute-force facet of `attr` over rows matching g, as a sorted list. */
struct bf_val {
	char v[64];
	uint64_t count;
	double num;
};

static int bf_cmp_attr;

static int bf_cmp(const void *pa, const void *pb)
{
	const struct bf_val *a = pa, *b = pb;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (bf_cmp_attr == A_YEAR || bf_cmp_attr == A_SCORE)
		return a->num < b->num ? -1 : a->num > b->num;
	return strcmp(a->v, b->v);
}

static void check_facets(const struct osa_attr_table *t,
			 const struct osa_filter *f, const struct gnode *g,
			 size_t limit)
{
	size_t attrs_v[NATTR], i, a, k, nb;
	struct osa_facet_counter *c = NULL;
	struct osa_facets fs = { 0 };
	struct osa_error err = { 0 };
	static struct bf_val bf[NROWS * 4];
	char vals[NTAGS][64];

	for (i = 0; i < NATTR; i++)
		attrs_v[i] = NATTR - 1 - i;
	OSA_REQUIRE(osa_facet_counter_new(t, attrs_v, NATTR, limit, &c, &err) ==
		    0);
	for (i = 0; i < NROWS; i++)
		if (osa_filter_match(f, t, (uint32_t)i))
			osa_facet_counter_add(c, (uint32_t)i);
	osa_facet_counter_add(c, NROWS + 100); /* beyond: ignored */
	OSA_REQUIRE(osa_facet_counter_finish(c, &fs, &err) == 0);
	OSA_REQUIRE(fs.n == NATTR);
	for (a = 0; a < NATTR; a++) {
		const struct osa_facet *ft = &fs.v[a];
		uint64_t others = 0;

		OSA_CHECK(ft->attr == attrs_v[a]);
		nb = 0;
		for (i = 0; i < NROWS; i++) {
			int n, j;

			if (g && !geval(g, &model[i]))
				continue;
			n = facet_model(&model[i], (int)ft->attr, vals);
			for (j = 0; j < n; j++) {
				for (k = 0; k < nb; k++)
					if (!strcmp(bf[k].v, vals[j]))
						break;
				if (k == nb) {
					strcpy(bf[nb].v, vals[j]);
					bf[nb].num = strtod(vals[j], NULL);
					bf[nb++].count = 0;
				}
				bf[k].count++;
			}
		}
		bf_cmp_attr = (int)ft->attr;
		qsort(bf, nb, sizeof(*bf), bf_cmp);
		OSA_CHECK_MSG(ft->n == (limit && nb > limit ? limit : nb),
			      "attr %zu: %zu values, brute force %zu", ft->attr,
			      ft->n, nb);
		for (k = 0; k < nb; k++) {
			if (k >= ft->n) {
				others += bf[k].count;
				continue;
			}
			OSA_CHECK_STR(ft->v[k].value, bf[k].v);
			OSA_CHECK_MSG(ft->v[k].count == bf[k].count,
				      "%s: %" PRIu64 " vs %" PRIu64, bf[k].v,
				      ft->v[k].count, bf[k].count);
		}
		OSA_CHECK(ft->others == others);
	}
	osa_facets_free(&fs);
	OSA_CHECK(fs.n == 0 && fs.v == NULL);
}

/* Every generated filter: bitmap and row evaluation equal the model. */
static void check_filters(const struct osa_attr_table *t, int nfilters,
			  bool facets)
{
	static uint64_t bits[(NROWS + 200) / 64 + 1];
	struct osa_error err = { 0 };
	char *text = malloc(1 << 16);
	int q;

	OSA_REQUIRE(text);
	for (q = 0; q < nfilters; q++) {
		struct gnode *g = gen_filter((int)rn(5));
		struct osa_filter *f = NULL;
		size_t n, want = 0, i;
		uint32_t nrows = NROWS + 100 - (uint32_t)rn(200);
		bool bad = false;

		gtext(g, text);
		if (osa_filter_parse(text, &attrs, &f, NULL, &err)) {
			OSA_CHECK_MSG(0, "%s: %s", text, err.msg);
			gfree(g);
			continue;
		}
		n = osa_filter_bitmap(f, t, bits, nrows);
		for (i = 0; i < (size_t)nrows; i++) {
			bool m = i < NROWS && geval(g, &model[i]);
			bool b = (bits[i >> 6] >> (i & 63)) & 1;

			want += m;
			if (m != b ||
			    osa_filter_match(f, t, (uint32_t)i) != m) {
				if (!bad)
					fprintf(stderr,
						"row %zu: model %d bitmap %d "
						"match %d for %s\n",
						i, m, b,
						osa_filter_match(f, t,
								 (uint32_t)i),
						text);
				bad = true;
			}
		}
		/* bits past nrows in the last word are zero */
		for (i = nrows; i < (nrows + 63) / 64 * 64; i++)
			bad |= (bits[i >> 6] >> (i & 63)) & 1;
		OSA_CHECK_MSG(!bad && n == want, "%s: %zu vs %zu", text, n,
			      want);
		if (facets && q % 8 == 0)
			check_facets(t, f, g, q % 16 ? 3 : 0);
		osa_filter_free(f);
		gfree(g);
	}
	free(text);
}

static struct osa_attr_table *build_table(void)
{
	struct osa_attr_table *t = NULL;
	struct osa_error err = { 0 };
	unsigned i, op;

	OSA_REQUIRE(osa_attr_table_new(&attrs, &t, &err) == 0);
	memset(model, 0, sizeof(model));
	/* sets in random order, then overwrites, clears and copies */
	for (op = 0; op < NROWS * 3; op++) {
		unsigned r = rn(NROWS), s = rn(NROWS), what = rn(10);

		if (what < 7) {
			struct osa_record *rc = gen_row(&model[r], r);

			OSA_REQUIRE(osa_attr_table_set(t, r, rc, &err) == 0);
			osa_record_free(rc);
		} else if (what < 9) {
			osa_attr_table_clear(t, r);
			memset(&model[r], 0, sizeof(model[r]));
		} else {
			OSA_REQUIRE(osa_attr_table_copy(t, r, s, &err) == 0);
			model[r] = model[s];
		}
	}
	/* the highest row is set, so rows() is NROWS */
	{
		struct osa_record *rc = gen_row(&model[NROWS - 1], NROWS - 1);

		OSA_REQUIRE(osa_attr_table_set(t, NROWS - 1, rc, &err) == 0);
		osa_record_free(rc);
	}
	{
		uint64_t live = 0;

		for (i = 0; i < NROWS; i++)
			live += model[i].live;
		OSA_CHECK(osa_attr_table_live(t) == live);
		OSA_CHECK(osa_attr_table_rows(t) == NROWS);
	}
	return t;
}

static void test_table(void)
{
	struct osa_attr_table *t = build_table();
	static uint64_t bits[NROWS / 64 + 2];

	/* NULL filter: every live row */
	{
		size_t n = osa_filter_bitmap(NULL, t, bits, NROWS), i;

		OSA_CHECK(n == osa_attr_table_live(t));
		for (i = 0; i < NROWS; i++)
			OSA_CHECK(osa_filter_match(NULL, t, (uint32_t)i) ==
				  model[i].live);
	}
	check_filters(t, 600, false);
	/* a dead row matches nothing, also NOT of anything */
	{
		struct osa_filter *f = NULL;
		struct osa_error err = { 0 };
		uint32_t r;

		for (r = 0; r < NROWS && model[r].live; r++)
			;
		OSA_REQUIRE(r < NROWS);
		OSA_REQUIRE(osa_filter_parse("NOT year = 1 AND keywords != "
					     "\"x\"",
					     &attrs, &f, NULL, &err) == 0);
		OSA_CHECK(!osa_filter_match(f, t, r));
		OSA_CHECK(!osa_filter_match(f, t, NROWS + 5));
		osa_filter_free(f);
	}
	osa_attr_table_free(t);
}

static void test_facets(void)
{
	struct osa_attr_table *t = build_table();

	check_facets(t, NULL, NULL, 0);
	check_facets(t, NULL, NULL, 1);
	check_filters(t, 160, true);
	/* attribute number out of range */
	{
		struct osa_facet_counter *c = NULL;
		struct osa_error err = { 0 };
		size_t a = NATTR;

		OSA_CHECK(osa_facet_counter_new(t, &a, 1, 0, &c, &err) ==
			  OSA_EINVAL);
		OSA_CHECK(c == NULL);
	}
	osa_attr_table_free(t);
}

static void test_codec(void)
{
	struct osa_attr_table *t = build_table(), *u = NULL;
	struct osa_error err = { 0 };
	unsigned char *buf = NULL, *bad;
	size_t len = 0, i, ok = 0;
	void *b2 = NULL;
	size_t len2 = 0;

	OSA_REQUIRE(osa_attr_table_encode(t, (void **)&buf, &len, &err) == 0);
	if (osa_attr_table_decode(&attrs, buf, len, &u, &err)) {
		fprintf(stderr, "decode: %s\n", err.msg);
		exit(1);
	}
	OSA_CHECK(osa_attr_table_rows(u) == osa_attr_table_rows(t));
	OSA_CHECK(osa_attr_table_live(u) == osa_attr_table_live(t));
	/* the decoded table answers like the model, facets included */
	check_filters(u, 200, true);
	/* and encodes to the same bytes */
	OSA_REQUIRE(osa_attr_table_encode(u, &b2, &len2, &err) == 0);
	OSA_CHECK(len2 == len && !memcmp(b2, buf, len));
	free(b2);
	/* a decoded table takes writes (its dictionaries are live) */
	{
		struct osa_record *r =
			rec("{\"srn\":\"n\",\"type\":\"dataset\","
			    "\"keywords\":[\"new\",\"ocean\"]}");
		struct osa_filter *f = NULL;

		OSA_REQUIRE(osa_attr_table_set(u, NROWS + 3, r, &err) == 0);
		OSA_REQUIRE(osa_filter_parse("type = \"dataset\" AND keywords "
					     "IN [\"new\"]",
					     &attrs, &f, NULL, &err) == 0);
		OSA_CHECK(osa_filter_match(f, u, NROWS + 3));
		osa_filter_free(f);
		osa_record_free(r);
	}
	osa_attr_table_free(u);
	u = NULL;
	/* every truncation and many single-byte flips: ECORRUPT, no crash */
	bad = malloc(len);
	OSA_REQUIRE(bad);
	for (i = 0; i < len; i += 1 + i / 64) {
		int rc = osa_attr_table_decode(&attrs, buf, i, &u, &err);

		OSA_CHECK_MSG(rc == OSA_ECORRUPT, "truncated at %zu: %d", i,
			      rc);
		OSA_CHECK(u == NULL);
		memcpy(bad, buf, len);
		bad[i] ^= 0x5a;
		rc = osa_attr_table_decode(&attrs, bad, len, &u, &err);
		OSA_CHECK_MSG(rc == OSA_ECORRUPT, "flip at %zu: %d", i, rc);
		ok += rc == OSA_ECORRUPT;
		/* with the checksum made right again: the structure checks
		 * catch it or the table is sound (ASan watches) */
		if (i < len - 8) {
			uint64_t sum = XXH3_64bits(bad, len - 8);

			for (int b = 0; b < 8; b++)
				bad[len - 8 + (size_t)b] =
					(unsigned char)(sum >> (8 * b));
			rc = osa_attr_table_decode(&attrs, bad, len, &u, &err);
			OSA_CHECK(rc == 0 || rc == OSA_ECORRUPT);
			if (!rc) {
				uint64_t *bits = calloc(NROWS / 64 + 2, 8);

				OSA_REQUIRE(bits);
				osa_filter_bitmap(NULL, u, bits, NROWS + 64);
				free(bits);
			}
			osa_attr_table_free(u);
			u = NULL;
		}
	}
	OSA_CHECK(ok > 10);
	free(bad);
	/* other declarations: ECORRUPT naming both */
	{
		struct osa_attr_decl d2[NATTR];
		struct osa_attrs a2 = { NATTR, d2 };

		memcpy(d2, decl_v, sizeof(d2));
		d2[A_YEAR].type = OSA_ATTR_FLOAT;
		OSA_CHECK(osa_attr_table_decode(&a2, buf, len, &u, &err) ==
			  OSA_ECORRUPT);
		OSA_CHECK_CONTAINS(err.msg, "year int");
		OSA_CHECK_CONTAINS(err.msg, "year float");
		a2.n = 2;
		OSA_CHECK(osa_attr_table_decode(&a2, buf, len, &u, &err) ==
			  OSA_ECORRUPT);
	}
	/* an empty table of no attributes round-trips */
	{
		struct osa_attrs none = { 0, NULL };
		struct osa_attr_table *e = NULL;
		void *eb = NULL;
		size_t el = 0;

		OSA_REQUIRE(osa_attr_table_new(&none, &e, &err) == 0);
		OSA_REQUIRE(osa_attr_table_encode(e, &eb, &el, &err) == 0);
		osa_attr_table_free(e);
		e = NULL;
		OSA_CHECK(osa_attr_table_decode(&none, eb, el, &e, &err) == 0);
		OSA_CHECK(e && osa_attr_table_rows(e) == 0);
		osa_attr_table_free(e);
		free(eb);
	}
	free(buf);
	osa_attr_table_free(t);
}

/* Reciprocal rank fusion against a hand-computed example (core/src/fusion.c):
 * A = [x, y, z], B = [y, w, x], k = 60, weights 1 and 2:
 *   y = 1/62 + 2/61 = 0.0489157   x = 1/61 + 2/63 = 0.0481395
 *   w = 2/62 = 0.0322581          z = 1/63 = 0.0158730 */
static void test_rrf(void)
{
	struct osa_hits l[2] = { { 0 }, { 0 } };
	struct osai_fused *f = NULL;
	struct osa_error err = { 0 };
	const double w[2] = { 1, 2 };
	size_t n = 0;

	osa_hits_push(&l[0], "x", 0.9);
	osa_hits_push(&l[0], "y", 0.8);
	osa_hits_push(&l[0], "z", 0.7);
	osa_hits_push(&l[1], "y", 12);
	osa_hits_push(&l[1], "w", 11);
	osa_hits_push(&l[1], "x", 10);
	OSA_REQUIRE(osai_rrf_fuse(l, 2, w, 60, &f, &n, &err) == 0);
	OSA_REQUIRE(n == 4);
	OSA_CHECK_STR(f[0].srn, "y");
	OSA_CHECK(fabs(f[0].score - (1.0 / 62 + 2.0 / 61)) < 1e-12);
	OSA_CHECK(f[0].ranks[0] == 2 && f[0].ranks[1] == 1);
	OSA_CHECK_STR(f[1].srn, "x");
	OSA_CHECK(fabs(f[1].score - (1.0 / 61 + 2.0 / 63)) < 1e-12);
	OSA_CHECK(f[1].ranks[0] == 1 && f[1].ranks[1] == 3);
	OSA_CHECK_STR(f[2].srn, "w");
	OSA_CHECK(fabs(f[2].score - 2.0 / 62) < 1e-12);
	OSA_CHECK(f[2].ranks[0] == 0 && f[2].ranks[1] == 2);
	OSA_CHECK_STR(f[3].srn, "z");
	OSA_CHECK(fabs(f[3].score - 1.0 / 63) < 1e-12);
	OSA_CHECK(f[3].ranks[0] == 3 && f[3].ranks[1] == 0);
	osai_fused_free(f, n);
	/* equal weights: x and y tie in score (ranks 1+2 and 2+1); ties go
	 * by srn */
	OSA_REQUIRE(osai_rrf_fuse(l, 2, NULL, 1, &f, &n, &err) == 0);
	OSA_CHECK_STR(f[0].srn, "y"); /* 1/3 + 1/2 */
	OSA_CHECK_STR(f[1].srn, "x"); /* 1/2 + 1/4 */
	osai_fused_free(f, n);
	osa_hits_free(&l[1]);
	osa_hits_push(&l[1], "q", 1);
	osa_hits_free(&l[0]);
	osa_hits_push(&l[0], "p", 1);
	OSA_REQUIRE(osai_rrf_fuse(l, 2, NULL, 60, &f, &n, &err) == 0);
	OSA_CHECK(n == 2 && !strcmp(f[0].srn, "p") && !strcmp(f[1].srn, "q"));
	osai_fused_free(f, n);
	osa_hits_free(&l[0]);
	osa_hits_free(&l[1]);
}

/* A filter parsed once is used by several threads at once (TSan). */
#include <pthread.h>

struct thr {
	const struct osa_filter *f;
	const struct osa_attr_table *t;
	size_t n;
};

static void *thr_run(void *p)
{
	struct thr *a = p;
	uint64_t *bits = calloc(NROWS / 64 + 1, sizeof(uint64_t));
	int k;

	for (k = 0; k < 20 && bits; k++)
		a->n = osa_filter_bitmap(a->f, a->t, bits, NROWS);
	free(bits);
	return NULL;
}

static void test_threads(void)
{
	struct osa_attr_table *t = build_table();
	struct osa_filter *f = NULL;
	struct osa_error err = { 0 };
	pthread_t th[4];
	struct thr a[4];
	int i;

	OSA_REQUIRE(osa_filter_parse("type IN [\"dataset\", \"report\"] OR "
				     "NOT keywords = \"ice\"",
				     &attrs, &f, NULL, &err) == 0);
	for (i = 0; i < 4; i++) {
		a[i].f = f;
		a[i].t = t;
		OSA_REQUIRE(pthread_create(&th[i], NULL, thr_run, &a[i]) == 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 1; i < 4; i++)
		OSA_CHECK(a[i].n == a[0].n);
	osa_filter_free(f);
	osa_attr_table_free(t);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "parse", test_parse }, { "limits", test_limits },
		{ "dates", test_dates }, { "check", test_check },
		{ "table", test_table }, { "facets", test_facets },
		{ "codec", test_codec }, { "threads", test_threads },
		{ "rrf", test_rrf },
	};
	size_t i;
	int ran = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (argc < 2 || !strcmp(argv[1], cases[i].name)) {
			cases[i].fn();
			ran++;
		}
	OSA_REQUIRE(ran);
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * test_record.c - records: parsing (valid and invalid JSON with positions,
 * non-objects, srn rules, duplicate keys, invalid UTF-8, NUL), the compact
 * text, accessors, template rendering, the vector accessor's errors, and the
 * hit list.
 */
#include <math.h>
#include <string.h>

#include <osa/backend.h>
#include <osa/record.h>

#include "osa_test.h"

#define SRN "urn:osa:example.org:rec:r-1"

static struct osa_record *parse(const char *json, const char *srn)
{
	struct osa_error err = { 0 };
	struct osa_record *rec = NULL;

	if (osa_record_parse(json, strlen(json), srn, &rec, &err)) {
		fprintf(stderr, "parse: %s\n", err.msg);
		exit(1);
	}
	return rec;
}

/* Parsing `json` fails with `code` and a message containing each needle. */
static void bad(const char *json, size_t len, const char *srn, int code,
		const char *n1, const char *n2)
{
	struct osa_error err = { 0 };
	struct osa_record *rec = NULL;
	int rc = osa_record_parse(json, len, srn, &rec, &err);

	OSA_CHECK_MSG(rc == code, "%s: got %d (%s)", json, rc, err.msg);
	OSA_CHECK(rec == NULL);
	OSA_CHECK(err.code == code);
	if (n1)
		OSA_CHECK_CONTAINS(err.msg, n1);
	if (n2)
		OSA_CHECK_CONTAINS(err.msg, n2);
	osa_record_free(rec);
}

static void test_parse(void)
{
	struct osa_record *rec;
	const char *s, *j;
	size_t len;
	char text[] = "{\"srn\": \"" SRN "\",\n  \"title\" : \"Sea ice\" ,"
		      "\"n\": [1, 2.50, 1e3], \"s\": \"a b\\\" c\"}  \n";

	rec = parse(text, NULL);
	OSA_CHECK_STR(osa_record_srn(rec), SRN);
	j = osa_record_json(rec, &len);
	/* Whitespace between tokens goes; numbers keep their spelling. */
	OSA_CHECK_STR(j, "{\"srn\":\"" SRN "\",\"title\":\"Sea ice\","
			 "\"n\":[1,2.50,1e3],\"s\":\"a b\\\" c\"}");
	OSA_CHECK(len == strlen(j));
	OSA_CHECK(osa_record_string(rec, "title", &s, &len) == 0);
	OSA_CHECK_STR(s, "Sea ice");
	OSA_CHECK(len == 7);
	OSA_CHECK(osa_record_string(rec, "s", &s, NULL) == 0);
	OSA_CHECK_STR(s, "a b\" c");
	osa_record_free(rec);

	/* Not NUL-terminated: only `len` bytes count. */
	{
		struct osa_error err = { 0 };
		const char buf[] = "{\"a\":1}GARBAGE";

		OSA_CHECK(osa_record_parse(buf, 7, SRN, &rec, &err) == 0);
		OSA_CHECK_STR(osa_record_json(rec, NULL), "{\"a\":1}");
		osa_record_free(rec);
	}

	/* An srn given beside wins over (and does not need) a member. */
	rec = parse("{\"title\":\"x\"}", "urn:osa:a.org:rec:beside");
	OSA_CHECK_STR(osa_record_srn(rec), "urn:osa:a.org:rec:beside");
	osa_record_free(rec);
	rec = parse("{\"srn\":\"inside\"}", "beside");
	OSA_CHECK_STR(osa_record_srn(rec), "beside");
	osa_record_free(rec);

	/* UTF-8 passes through untouched. */
	rec = parse("{\"srn\":\"x\",\"t\":\"caf\xc3\xa9 \xe2\x9c\x93\"}", NULL);
	OSA_CHECK(osa_record_string(rec, "t", &s, &len) == 0);
	OSA_CHECK_STR(s, "caf\xc3\xa9 \xe2\x9c\x93");
	osa_record_free(rec);
}

static void render_ok(const struct osa_record *rec, const char *tmpl,
		      const char *want);

static void test_parse_errors(void)
{
	const char nul[] = "{\"srn\":\"x\"}\0";
	const char nul2[] = "{\"srn\":\"a\0b\"}";

	/* Syntax errors say where. */
	bad("{\"srn\":\"x\",\n  \"a\": tru}", 23, NULL, OSA_EINVAL,
	    "line 2, column", "invalid JSON");
	bad("{\"srn\":\"x\"", 10, NULL, OSA_EINVAL, "line 1, column 10", NULL);
	bad("{\"a\":1", 6, "urn:osa:a.org:rec:known", OSA_EINVAL,
	    "record urn:osa:a.org:rec:known", "line 1");
	bad("{\"srn\":\"x\"} {}", 14, NULL, OSA_EINVAL, "end of file expected",
	    "column");
	bad("", 0, NULL, OSA_EINVAL, "invalid JSON", NULL);
	/* Not an object. */
	bad("[1,2]", 5, NULL, OSA_EINVAL, "must be a JSON object", "an array");
	bad("\"x\"", 3, NULL, OSA_EINVAL, "must be a JSON object", "a string");
	bad("42", 2, SRN, OSA_EINVAL, "must be a JSON object", SRN);
	/* srn rules. */
	bad("{\"title\":\"x\"}", 13, NULL, OSA_EINVAL, "no \"srn\" member",
	    NULL);
	bad("{\"srn\":null}", 12, NULL, OSA_EINVAL, "no \"srn\" member", NULL);
	bad("{\"srn\":5}", 9, NULL, OSA_EINVAL, "\"srn\" must be a string",
	    "a number");
	bad("{\"srn\":\"\"}", 10, NULL, OSA_EINVAL, "\"srn\" is empty", NULL);
	bad("{\"a\":1}", 7, "", OSA_EINVAL, "empty srn", NULL);
	/* Duplicate members. */
	bad("{\"srn\":\"x\",\"t\":1,\"t\":2}", 23, NULL, OSA_EINVAL,
	    "duplicate member \"t\"", "column 20");
	/* Invalid UTF-8, raw and in strings. */
	bad("{\"srn\":\"x\",\"t\":\"\xff\"}", 19, NULL, OSA_EINVAL,
	    "invalid UTF-8", "line 1");
	bad("{\"srn\":\"x\",\"t\":\"\xc3\x28\"}", 20, NULL, OSA_EINVAL,
	    "invalid UTF-8", NULL);
	bad("{\"srn\":\"x\",\"t\":\"\xed\xa0\x80\"}", 21, NULL, OSA_EINVAL,
	    "invalid UTF-8", NULL);
	/* NUL: raw bytes and \u0000 escapes. */
	bad(nul, sizeof(nul) - 1, NULL, OSA_EINVAL, "NUL byte at byte 11",
	    NULL);
	bad(nul2, sizeof(nul2) - 1, NULL, OSA_EINVAL, "NUL byte at byte 9",
	    NULL);
	bad("{\"srn\":\"x\",\"t\":\"a\\u0000b\"}", 25, NULL, OSA_EINVAL,
	    "\\u0000", "may not");
	bad("{\"srn\":\"x\",\"a\\u0000\":1}", 22, NULL, OSA_EINVAL,
	    "member name contains \\u0000", NULL);
	/* Numbers jansson cannot hold are valid JSON: kept as written, read
	 * as the nearest double. */
	{
		const char t[] = "{\"srn\":\"x\",\"n\":1e999,"
				 "\"i\":-12345678901234567890}";
		struct osa_record *rec = parse(t, NULL);
		double d = 0;

		OSA_CHECK_STR(osa_record_json(rec, NULL), t);
		OSA_CHECK(osa_record_number(rec, "n", &d) == 0 && d > 1e308);
		OSA_CHECK(osa_record_number(rec, "i", &d) == 0 && d < -1.2e19 &&
			  d > -1.3e19);
		render_ok(rec, "{i}", "-12345678901234567890");
		osa_record_free(rec);
	}
	bad("{\"srn\":\"x\",\"n\":01}", 18, NULL, OSA_EINVAL, "invalid", NULL);
	/* No output. */
	{
		struct osa_error err = { 0 };

		OSA_CHECK(osa_record_parse("{}", 2, "x", NULL, &err) ==
			  OSA_EINVAL);
	}
	osa_record_free(NULL);
}

static void test_accessors(void)
{
	struct osa_record *rec = parse(
		"{\"srn\":\"x\",\"s\":\"str\",\"i\":42,\"r\":-2.5,\"b\":true,"
		"\"z\":null,\"o\":{\"k\":1},\"e\":\"\"}",
		NULL);
	const char *s = NULL;
	size_t len = 99;
	double d = 0;

	OSA_CHECK(osa_record_string(rec, "s", &s, &len) == 0 && len == 3);
	OSA_CHECK(osa_record_string(rec, "e", &s, &len) == 0 && len == 0);
	OSA_CHECK(osa_record_string(rec, "i", &s, &len) == OSA_ETYPE);
	OSA_CHECK(osa_record_string(rec, "z", &s, &len) == OSA_ENOTFOUND);
	OSA_CHECK(osa_record_string(rec, "nope", &s, &len) == OSA_ENOTFOUND);
	OSA_CHECK(osa_record_number(rec, "i", &d) == 0 && d == 42);
	OSA_CHECK(osa_record_number(rec, "r", &d) == 0 && d == -2.5);
	OSA_CHECK(osa_record_number(rec, "b", &d) == OSA_ETYPE);
	OSA_CHECK(osa_record_number(rec, "s", &d) == OSA_ETYPE);
	OSA_CHECK(osa_record_number(rec, "z", &d) == OSA_ENOTFOUND);
	OSA_CHECK(osa_record_number(rec, "nope", &d) == OSA_ENOTFOUND);
	/* Nested members are not top-level members. */
	OSA_CHECK(osa_record_number(rec, "k", &d) == OSA_ENOTFOUND);
	osa_record_free(rec);
}

/* Rendering `tmpl` against `rec` gives `want`. */
static void render_ok(const struct osa_record *rec, const char *tmpl,
		      const char *want)
{
	struct osa_error err = { 0 };
	char *out = NULL;
	size_t len = 0;

	OSA_CHECK_MSG(osa_record_render(rec, tmpl, &out, &len, &err) == 0,
		      "%s: %s", tmpl, err.msg);
	OSA_CHECK_STR(out, want);
	OSA_CHECK(out && len == strlen(out));
	free(out);
}

static void render_bad(const struct osa_record *rec, const char *tmpl,
		       const char *needle)
{
	struct osa_error err = { 0 };
	char *out = (char *)"untouched";

	OSA_CHECK_MSG(osa_record_render(rec, tmpl, &out, NULL, &err) ==
			      OSA_EINVAL,
		      "%s accepted", tmpl);
	OSA_CHECK(out == NULL);
	OSA_CHECK_CONTAINS(err.msg, needle);
	OSA_CHECK_CONTAINS(err.msg, SRN);
}

static void test_render(void)
{
	struct osa_record *rec =
		parse("{\"srn\":\"" SRN "\",\"title\":\"Sea ice\","
		      "\"summary\":\"Less of it.\",\"year\":2021,\"big\":"
		      "-9007199254740993,\"r\":3.0,\"f\":0.1,\"g\":1.5e300,"
		      "\"t\":true,\"no\":false,\"z\":null,\"a\":[1],"
		      "\"o\":{},\"u\":\"caf\xc3\xa9\"}",
		      NULL);

	render_ok(rec, "{title}. {summary}", "Sea ice. Less of it.");
	render_ok(rec, "", "");
	render_ok(rec, "no placeholders", "no placeholders");
	render_ok(rec, "{{literal}} {title}}}", "{literal} Sea ice}");
	render_ok(rec, "{{{title}}}", "{Sea ice}");
	render_ok(rec, "[{missing}]", "[]");
	render_ok(rec, "{year}|{big}|{r}|{f}|{g}",
		  "2021|-9007199254740993|3|"
		  "0.1|1.5e+300");
	render_ok(rec, "{t} {no} [{z}{a}{o}]", "true false []");
	render_ok(rec, "{u}!", "caf\xc3\xa9!");
	render_ok(rec, "{ title }", ""); /* names are taken as written */
	render_bad(rec, "{title", "not closed");
	render_bad(rec, "a { b", "byte 2");
	render_bad(rec, "{ti{tle}", "not closed");
	render_bad(rec, "x } y", "single '}'");
	render_bad(rec, "{}", "empty placeholder");
	osa_record_free(rec);
}

static void test_vector(void)
{
	struct osa_record *rec =
		parse("{\"srn\":\"" SRN "\",\"v\":[1,-2.5,3e-3],"
		      "\"w\":[1,\"x\"],"
		      "\"s\":\"no\",\"z\":null,\"big\":[1e39,0,0],"
		      "\"e\":[]}",
		      NULL);
	struct osa_error err = { 0 };
	float v[3] = { 0 };

	OSA_CHECK(osa_record_vector(rec, "v", v, 3, &err) == 0);
	OSA_CHECK(v[0] == 1.0f && v[1] == -2.5f && fabsf(v[2] - 3e-3f) < 1e-9);
	OSA_CHECK(osa_record_vector(rec, "v", v, 4, &err) == OSA_ERANGE);
	OSA_CHECK_CONTAINS(err.msg, SRN);
	OSA_CHECK_CONTAINS(err.msg, "\"v\" has 3 numbers");
	OSA_CHECK_CONTAINS(err.msg, "expected 4");
	OSA_CHECK(osa_record_vector(rec, "e", v, 3, &err) == OSA_ERANGE);
	OSA_CHECK_CONTAINS(err.msg, "has 0 numbers");
	OSA_CHECK(osa_record_vector(rec, "w", v, 2, &err) == OSA_ETYPE);
	OSA_CHECK_CONTAINS(err.msg, "\"w\"[1] is a string");
	OSA_CHECK(osa_record_vector(rec, "s", v, 2, &err) == OSA_ETYPE);
	OSA_CHECK_CONTAINS(err.msg, "is a string, expected an array of 2");
	OSA_CHECK(osa_record_vector(rec, "nope", v, 3, &err) == OSA_ENOTFOUND);
	OSA_CHECK_CONTAINS(err.msg, SRN);
	OSA_CHECK_CONTAINS(err.msg, "\"nope\"");
	OSA_CHECK(osa_record_vector(rec, "z", v, 3, &err) == OSA_ENOTFOUND);
	OSA_CHECK(osa_record_vector(rec, "big", v, 3, &err) == OSA_ERANGE);
	OSA_CHECK_CONTAINS(err.msg, "\"big\"[0]");
	/* Without an error struct the code still comes back. */
	OSA_CHECK(osa_record_vector(rec, "v", v, 2, NULL) == OSA_ERANGE);
	osa_record_free(rec);
}

/* The hit list grows, copies srns and frees everything. */
static void test_hits(void)
{
	struct osa_hits hits = { 0 };
	char srn[32];
	int i, ok = 1;

	for (i = 0; i < 1000; i++) {
		snprintf(srn, sizeof(srn), "s-%d", i);
		OSA_REQUIRE(osa_hits_push(&hits, srn, 1000 - i) == 0);
	}
	OSA_CHECK(hits.n == 1000 && hits.cap >= 1000);
	for (i = 0; i < 1000; i++) {
		snprintf(srn, sizeof(srn), "s-%d", i);
		ok &= !strcmp(hits.v[i].srn, srn) &&
		      hits.v[i].score == 1000 - i;
	}
	OSA_CHECK(ok);
	OSA_CHECK(osa_hits_push(&hits, NULL, 0) == OSA_EINVAL);
	osa_hits_free(&hits);
	OSA_CHECK(hits.n == 0 && hits.v == NULL && hits.cap == 0);
	osa_hits_free(&hits);
	osa_hits_free(NULL);
}

int main(void)
{
	test_parse();
	test_parse_errors();
	test_accessors();
	test_render();
	test_vector();
	test_hits();
	OSA_TEST_END();
}

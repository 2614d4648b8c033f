/* SPDX-License-Identifier: MIT */
/*
 * test_schema.c - the typed configuration engine: defaults, every kind of
 * validation error with its exact message and line, all errors at once,
 * check callbacks (nested first, lines of sub-paths), the self-check of
 * schema tables, osa_schema_parse(), suggestions and diagnostics output.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osa_test.h"
#include "osai.h"

/* ---- a schema with every type ----------------------------------------- */

struct t_inner {
	char *name;
	int level;
	double ratio;
};

struct t_cfg {
	bool flag;
	int ef_construction;
	int64_t big;
	double ratio;
	char *label;
	char *short_name;
	int mode;
	char *dir;
	struct osa_strlist tags;
	char *token;
	int pin;
	int free_int;
	int64_t free64;
	struct t_inner inner;
	int dim;
};

static const char *const t_modes[] = { "cosine", "l2", "ip", NULL };
static const char *const t_tags_def[] = { "title", "summary", NULL };

/* Which check callbacks ran, in order (test-only state; reset by the
 * tests that look at it, bounded for the others). */
static char t_check_log[64];

static void t_log(const char *what)
{
	if (strlen(t_check_log) + strlen(what) < sizeof(t_check_log))
		strcat(t_check_log, what);
}

static void t_inner_check(void *cfg, struct osa_check *chk)
{
	struct t_inner *c = cfg;

	t_log("inner ");
	if (c->level > 5 && c->ratio > 0.5)
		osa_check_error(chk, "ratio",
				"must be at most 0.5 when level is over 5");
}

static void t_check(void *cfg, struct osa_check *chk)
{
	struct t_cfg *c = cfg;

	t_log("outer ");
	if (c->inner.level > c->ef_construction)
		osa_check_error(chk, "inner.level",
				"must not exceed ef_construction (%d)",
				c->ef_construction);
	if (c->flag && !c->inner.name)
		osa_check_error(chk, "inner.name",
				"is needed when flag is set");
}

static const struct osa_field t_inner_fields[] = {
	OSA_FIELD_STRING(struct t_inner, name, "name", NULL, "A name."),
	OSA_FIELD_INT(struct t_inner, level, "level", 1, 0, 10, "A level."),
	OSA_FIELD_DOUBLE(struct t_inner, ratio, "ratio", 0.5, 0, 1, "A ratio."),
	OSA_FIELD_END
};

static const struct osa_schema t_inner_schema = {
	.name = "inner",
	.size = sizeof(struct t_inner),
	.fields = t_inner_fields,
	.check = t_inner_check,
};

static const struct osa_field t_fields[] = {
	OSA_FIELD_BOOL(struct t_cfg, flag, "flag", false, "A flag."),
	OSA_FIELD_INT(struct t_cfg, ef_construction, "ef_construction", 200, 1,
		      65535, "Build breadth."),
	OSA_FIELD_INT64(struct t_cfg, big, "big", 8589934592LL, 0,
			1099511627776LL, "A big number."),
	OSA_FIELD_DOUBLE(struct t_cfg, ratio, "ratio", 0.25, 0, 1, "A share."),
	OSA_FIELD_STRING(struct t_cfg, label, "label", "x", "A label."),
	{ .name = "short_name",
	  .type = OSA_T_STRING,
	  .offset = offsetof(struct t_cfg, short_name),
	  .max = 8,
	  .def_str = "abc",
	  .doc = "At most 8 bytes." },
	OSA_FIELD_ENUM(struct t_cfg, mode, "mode", 0, t_modes, "Distance."),
	OSA_FIELD_PATH(struct t_cfg, dir, "dir", "./data", "A directory."),
	{ .name = "tags",
	  .type = OSA_T_STRLIST,
	  .offset = offsetof(struct t_cfg, tags),
	  .def_list = t_tags_def,
	  .min = 1,
	  .max = 4,
	  .doc = "Tags." },
	{ .name = "token",
	  .type = OSA_T_STRING,
	  .offset = offsetof(struct t_cfg, token),
	  .flags = OSA_F_SECRET,
	  .def_str = "",
	  .doc = "A secret." },
	{ .name = "pin",
	  .type = OSA_T_INT,
	  .offset = offsetof(struct t_cfg, pin),
	  .flags = OSA_F_SECRET,
	  .def_int = 1234,
	  .min = 0,
	  .max = 9999,
	  .doc = "A secret number." },
	OSA_FIELD_INT(struct t_cfg, free_int, "free_int", 0, 0, 0, "Any int."),
	OSA_FIELD_INT64(struct t_cfg, free64, "free64", -5, 0, 0, "Any int64."),
	OSA_FIELD_GROUP(struct t_cfg, inner, "inner", &t_inner_schema,
			"A nested group."),
	{ .name = "dim",
	  .type = OSA_T_INT,
	  .offset = offsetof(struct t_cfg, dim),
	  .flags = OSA_F_REQUIRED,
	  .min = 1,
	  .max = 4096,
	  .doc = "Required." },
	OSA_FIELD_END
};

static const struct osa_schema t_schema = {
	.name = "t",
	.size = sizeof(struct t_cfg),
	.fields = t_fields,
	.check = t_check,
};

/* Parse `text`; return the report (NULL when it validated; then *cfg). */
static char *t_parse(const char *text, struct t_cfg **cfg)
{
	struct osa_error err;
	char *report = NULL;
	void *out = NULL;
	int rc;

	rc = osa_schema_parse(&t_schema, text, &out, &report, &err);
	if (cfg)
		*cfg = out;
	else
		osa_schema_free(&t_schema, out);
	if (rc == 0) {
		OSA_CHECK(report == NULL);
		OSA_CHECK(out != NULL);
		OSA_CHECK(err.code == 0);
		return NULL;
	}
	OSA_CHECK(rc == OSA_ECONFIG);
	OSA_CHECK(out == NULL);
	OSA_CHECK(report != NULL);
	return report;
}

/* `text` must fail with exactly the report `want`. */
#define EXPECT_REPORT(text, want)                                              \
	do {                                                                   \
		char *r_ = t_parse((text), NULL);                              \
		OSA_CHECK_STR(r_, (want));                                     \
		free(r_);                                                      \
	} while (0)

/* ---- tests ------------------------------------------------------------ */

static void test_defaults(void)
{
	struct t_cfg *c = NULL;

	t_check_log[0] = '\0';
	OSA_CHECK(t_parse("dim = 8;", &c) == NULL);
	OSA_REQUIRE(c);
	OSA_CHECK(c->flag == false);
	OSA_CHECK(c->ef_construction == 200);
	OSA_CHECK(c->big == 8589934592LL);
	OSA_CHECK(c->ratio == 0.25);
	OSA_CHECK_STR(c->label, "x");
	OSA_CHECK_STR(c->short_name, "abc");
	OSA_CHECK(c->mode == 0);
	OSA_CHECK_STR(c->dir, "./data");
	OSA_CHECK(c->tags.n == 2);
	OSA_CHECK_STR(c->tags.v[0], "title");
	OSA_CHECK_STR(c->tags.v[1], "summary");
	OSA_CHECK_STR(c->token, "");
	OSA_CHECK(c->pin == 1234);
	OSA_CHECK(c->free_int == 0);
	OSA_CHECK(c->free64 == -5);
	OSA_CHECK(c->inner.name == NULL);
	OSA_CHECK(c->inner.level == 1);
	OSA_CHECK(c->inner.ratio == 0.5);
	OSA_CHECK(c->dim == 8);
	/* Nested checks run before the parent's, also for absent groups. */
	OSA_CHECK_STR(t_check_log, "inner outer ");
	osa_schema_free(&t_schema, c);
}

static void test_values(void)
{
	struct t_cfg *c = NULL;

	OSA_CHECK(
		t_parse("dim = 4096; flag = true; ef_construction = 65535;\n"
			"big = 1099511627776; ratio = 1; label = \"hello\";\n"
			"short_name = \"12345678\"; mode = \"ip\";\n"
			"dir = \"/abs/dir\"; tags = (\"a\", \"b\", \"c\");\n"
			"token = \"s3cret\"; pin = 0; free_int = -2147483648;\n"
			"free64 = -9223372036854775807L;\n"
			"inner = { name = \"n\"; level = 10; ratio = 0.5; };",
			&c) == NULL);
	OSA_REQUIRE(c);
	OSA_CHECK(c->dim == 4096);
	OSA_CHECK(c->flag == true);
	OSA_CHECK(c->ef_construction == 65535);
	OSA_CHECK(c->big == 1099511627776LL);
	OSA_CHECK(c->ratio == 1.0);
	OSA_CHECK_STR(c->label, "hello");
	OSA_CHECK_STR(c->short_name, "12345678");
	OSA_CHECK(c->mode == 2);
	OSA_CHECK_STR(c->dir, "/abs/dir");
	OSA_CHECK(c->tags.n == 3);
	OSA_CHECK_STR(c->tags.v[2], "c");
	OSA_CHECK_STR(c->token, "s3cret");
	OSA_CHECK(c->pin == 0);
	OSA_CHECK(c->free_int == INT_MIN);
	OSA_CHECK(c->free64 == -9223372036854775807LL);
	OSA_CHECK_STR(c->inner.name, "n");
	OSA_CHECK(c->inner.level == 10);
	OSA_CHECK(c->inner.ratio == 0.5);
	osa_schema_free(&t_schema, c);

	/* An array or a list of strings; hex and explicit 64-bit literals. */
	OSA_CHECK(t_parse("dim = 1; tags = [\"x\"]; big = 0x10000000000L;\n"
			  "ratio = 0.0; dir = \"rel/dir\";",
			  &c) == NULL);
	OSA_REQUIRE(c);
	OSA_CHECK(c->tags.n == 1 && !strcmp(c->tags.v[0], "x"));
	OSA_CHECK(c->big == 1099511627776LL);
	OSA_CHECK(c->ratio == 0.0);
	/* osa_schema_parse has no base directory: relative stays relative. */
	OSA_CHECK_STR(c->dir, "rel/dir");
	osa_schema_free(&t_schema, c);
}

static void test_errors(void)
{
	/* unknown keys */
	EXPECT_REPORT("dim = 8;\nef_constrution = 5;",
		      "<string>:2: ef_constrution: unknown key "
		      "\"ef_constrution\"; did you mean \"ef_construction\"?");
	EXPECT_REPORT("dim = 8;\nDim = 5;",
		      "<string>:2: Dim: unknown key \"Dim\"; did you mean "
		      "\"dim\"?");
	EXPECT_REPORT("dim = 8;\nzzz = 1;",
		      "<string>:2: zzz: unknown key \"zzz\"; valid keys: flag, "
		      "ef_construction, big, ratio, label, short_name, mode, "
		      "dir, tags, token, pin, free_int, free64, inner, dim");
	EXPECT_REPORT("dim = 8;\ninner = {\n  nme = \"a\"; };",
		      "<string>:3: inner.nme: unknown key \"nme\"; did you "
		      "mean \"name\"?");
	/* integers */
	EXPECT_REPORT("dim = 8;\nef_construction = \"high\";",
		      "<string>:2: ef_construction: expected an integer in "
		      "[1, 65535], got \"high\"");
	EXPECT_REPORT("dim = 8;\nef_construction = 70000;",
		      "<string>:2: ef_construction: expected an integer in "
		      "[1, 65535], got 70000");
	EXPECT_REPORT("dim = 8;\nef_construction = 0;",
		      "<string>:2: ef_construction: expected an integer in "
		      "[1, 65535], got 0");
	EXPECT_REPORT("dim = 8;\nef_construction = 384.0;",
		      "<string>:2: ef_construction: expected an integer in "
		      "[1, 65535], got 384.0");
	EXPECT_REPORT("dim = 8;\nef_construction = 8589934592;",
		      "<string>:2: ef_construction: expected an integer in "
		      "[1, 65535], got 8589934592");
	EXPECT_REPORT("dim = 8;\nfree_int = \"a\";",
		      "<string>:2: free_int: expected an integer, got \"a\"");
	EXPECT_REPORT("dim = 8;\nfree_int = 3000000000;",
		      "<string>:2: free_int: expected an integer in "
		      "[-2147483648, 2147483647], got 3000000000");
	EXPECT_REPORT("dim = 8;\nfree64 = [1];",
		      "<string>:2: free64: expected an integer, got an array");
	EXPECT_REPORT("dim = 8;\nbig = 2000000000000;",
		      "<string>:2: big: expected an integer in "
		      "[0, 1099511627776], got 2000000000000");
	EXPECT_REPORT("dim = 8;\nbig = -1;",
		      "<string>:2: big: expected an integer in "
		      "[0, 1099511627776], got -1");
	/* numbers */
	EXPECT_REPORT(
		"dim = 8;\nratio = 1.5;",
		"<string>:2: ratio: expected a number in [0, 1], got 1.5");
	EXPECT_REPORT("dim = 8;\nratio = 2;",
		      "<string>:2: ratio: expected a number in [0, 1], got 2");
	EXPECT_REPORT("dim = 8;\nratio = \"half\";",
		      "<string>:2: ratio: expected a number in [0, 1], got "
		      "\"half\"");
	/* booleans */
	EXPECT_REPORT("dim = 8;\nflag = \"yes\";",
		      "<string>:2: flag: expected a boolean (true or false), "
		      "got \"yes\"");
	EXPECT_REPORT("dim = 8;\nflag = 1;",
		      "<string>:2: flag: expected a boolean (true or false), "
		      "got 1");
	/* strings */
	EXPECT_REPORT("dim = 8;\nlabel = 12;",
		      "<string>:2: label: expected a string, got 12");
	EXPECT_REPORT("dim = 8;\nlabel = { a = 1; };",
		      "<string>:2: label: expected a string, got a group");
	EXPECT_REPORT("dim = 8;\nlabel = (1, 2);",
		      "<string>:2: label: expected a string, got a list");
	EXPECT_REPORT("dim = 8;\nshort_name = \"abcdefghij\";",
		      "<string>:2: short_name: expected a string of at most 8 "
		      "bytes, got 10 bytes");
	EXPECT_REPORT(
		"dim = 8;\nlabel = \"a\\\"b\\\\c\"; label2 = 1;",
		"<string>:2: label2: unknown key \"label2\"; did you mean "
		"\"label\"?");
	EXPECT_REPORT("dim = 8;\nmode = \"a\\\"b\";",
		      "<string>:2: mode: expected one of \"cosine\", \"l2\", "
		      "\"ip\", got \"a\\\"b\"");
	/* enums */
	EXPECT_REPORT("dim = 8;\nmode = \"cosin\";",
		      "<string>:2: mode: expected one of \"cosine\", \"l2\", "
		      "\"ip\", got \"cosin\"; did you mean \"cosine\"?");
	EXPECT_REPORT("dim = 8;\nmode = \"COSINE\";",
		      "<string>:2: mode: expected one of \"cosine\", \"l2\", "
		      "\"ip\", got \"COSINE\"; did you mean \"cosine\"?");
	EXPECT_REPORT("dim = 8;\nmode = \"manhattan\";",
		      "<string>:2: mode: expected one of \"cosine\", \"l2\", "
		      "\"ip\", got \"manhattan\"");
	EXPECT_REPORT("dim = 8;\nmode = 2;",
		      "<string>:2: mode: expected one of \"cosine\", \"l2\", "
		      "\"ip\", got 2");
	/* lists of strings */
	EXPECT_REPORT("dim = 8;\ntags = \"title\";",
		      "<string>:2: tags: expected a list of strings like "
		      "[\"a\", \"b\"], got \"title\"");
	EXPECT_REPORT("dim = 8;\ntags = (\"a\",\n  1);",
		      "<string>:3: tags.[1]: expected a string, got 1");
	EXPECT_REPORT("dim = 8;\ntags = [];",
		      "<string>:2: tags: expected 1 to 4 strings, got 0");
	EXPECT_REPORT("dim = 8;\ntags = [\"a\", \"b\", \"c\", \"d\", \"e\"];",
		      "<string>:2: tags: expected 1 to 4 strings, got 5");
	EXPECT_REPORT("dim = 8;\ntags = [1, 2];",
		      "<string>:2: tags.[0]: expected a string, got 1\n"
		      "<string>:2: tags.[1]: expected a string, got 2");
	/* paths */
	EXPECT_REPORT("dim = 8;\ndir = \"\";",
		      "<string>:2: dir: expected a path (a non-empty string), "
		      "got \"\"");
	EXPECT_REPORT("dim = 8;\ndir = 5;",
		      "<string>:2: dir: expected a path (a non-empty string), "
		      "got 5");
	/* secrets are never echoed */
	EXPECT_REPORT("dim = 8;\ntoken = 5;",
		      "<string>:2: token: expected a string, got an integer "
		      "(hidden)");
	EXPECT_REPORT("dim = 8;\npin = \"1234\";",
		      "<string>:2: pin: expected an integer in [0, 9999], got "
		      "a string (hidden)");
	EXPECT_REPORT("dim = 8;\npin = 123456;",
		      "<string>:2: pin: expected an integer in [0, 9999], got "
		      "an integer (hidden)");
	/* groups */
	EXPECT_REPORT("dim = 8;\ninner = 5;",
		      "<string>:2: inner: expected a group, got 5");
	EXPECT_REPORT(
		"dim = 8;\ninner = {\n  level = 11; };",
		"<string>:3: inner.level: expected an integer in [0, 10], "
		"got 11");
	/* missing required: at the enclosing group's line (none at the top) */
	EXPECT_REPORT("flag = false;",
		      "<string>: dim: missing required key \"dim\" (an integer "
		      "in [1, 4096])");
	EXPECT_REPORT("dim = \"8\";",
		      "<string>:1: dim: expected an integer in [1, 4096], got "
		      "\"8\"");
	/* syntax errors */
	EXPECT_REPORT("dim = 8;\nratio = ;", "<string>:2: syntax error");
	EXPECT_REPORT("dim = 8;\ndim = 9;",
		      "<string>:2: duplicate setting name");
}

static void test_checks(void)
{
	/* A check's sub-path finds the line of the key... */
	EXPECT_REPORT("dim = 8;\ninner = {\n  level = 6;\n  ratio = 0.75; };",
		      "<string>:4: inner.ratio: must be at most 0.5 when level "
		      "is over 5");
	/* ... or of the nearest enclosing group when the key is absent. */
	EXPECT_REPORT(
		"dim = 8; ef_construction = 5;\ninner = {\n  level = 6; "
		"ratio = 0.5; };",
		"<string>:3: inner.level: must not exceed ef_construction "
		"(5)");
	EXPECT_REPORT("dim = 8; flag = true;\ninner = {\n  level = 1; };",
		      "<string>:2: inner.name: is needed when flag is set");
	EXPECT_REPORT("dim = 8; flag = true;",
		      "<string>: inner.name: is needed when flag is set");
	/* Checks still run when other keys are wrong (defaults stand in)... */
	EXPECT_REPORT("dim = 8; flag = true;\nratio = 7;",
		      "<string>: inner.name: is needed when flag is set\n"
		      "<string>:2: ratio: expected a number in [0, 1], got 7");
	/* ... but not when a required key has no value. */
	t_check_log[0] = '\0';
	EXPECT_REPORT("flag = true;",
		      "<string>: dim: missing required key \"dim\" (an integer "
		      "in [1, 4096])");
	OSA_CHECK_STR(t_check_log, "inner ");
}

static void test_all_at_once(void)
{
	const char *text = "dim = 5000;\n"
			   "mode = \"cosin\";\n"
			   "ef_constrution = 10;\n"
			   "inner = {\n"
			   "  level = \"high\";\n"
			   "};\n"
			   "tags = [];\n";
	char *r = t_parse(text, NULL);

	OSA_CHECK_STR(
		r, "<string>:1: dim: expected an integer in [1, 4096], got "
		   "5000\n"
		   "<string>:2: mode: expected one of \"cosine\", \"l2\", "
		   "\"ip\", got \"cosin\"; did you mean \"cosine\"?\n"
		   "<string>:3: ef_constrution: unknown key "
		   "\"ef_constrution\"; did you mean \"ef_construction\"?\n"
		   "<string>:5: inner.level: expected an integer in [0, 10], "
		   "got \"high\"\n"
		   "<string>:7: tags: expected 1 to 4 strings, got 0");
	free(r);
}

static void test_parse_api(void)
{
	struct osa_error err;
	char *report = (char *)1;
	void *out = (void *)1;
	struct t_cfg *c;

	/* Without a report, err->msg has the first error and the count. */
	OSA_CHECK(osa_schema_parse(&t_schema, "dim = 0;\nflag = 2;", &out, NULL,
				   &err) == OSA_ECONFIG);
	OSA_CHECK(out == NULL);
	OSA_CHECK(err.code == OSA_ECONFIG);
	OSA_CHECK_STR(err.msg, "<string>:1: dim: expected an integer in "
			       "[1, 4096], got 0 (and 1 more)");
	OSA_CHECK_STR(err.file, "<string>");
	OSA_CHECK(err.line == 1);
	/* Success clears err and the report. */
	OSA_CHECK(osa_schema_parse(&t_schema, "dim = 3;", &out, &report,
				   &err) == 0);
	OSA_CHECK(report == NULL);
	OSA_CHECK(err.code == 0);
	c = out;
	OSA_CHECK(c && c->dim == 3);
	osa_schema_free(&t_schema, out);
	/* Round trip: what is parsed is what was written. */
	OSA_CHECK(osa_schema_parse(&t_schema,
				   "dim = 77; label = \"caf\xc3\xa9\"; "
				   "tags = [\"x y\", \"\"];",
				   &out, NULL, &err) == 0);
	c = out;
	OSA_REQUIRE(c);
	OSA_CHECK(c->dim == 77);
	OSA_CHECK(c->tags.n == 2 && !strcmp(c->tags.v[0], "x y") &&
		  !strcmp(c->tags.v[1], ""));
	/* release keeps the struct, free releases both */
	osa_schema_release(&t_schema, c);
	OSA_CHECK(c->label == NULL && c->tags.n == 0 && c->tags.v == NULL);
	osa_schema_free(&t_schema, c);
	osa_schema_free(&t_schema, NULL);
	OSA_CHECK(osa_schema_parse(NULL, "", &out, NULL, &err) == OSA_EINVAL);
	/* An empty text is all defaults; NULL too. */
	OSA_CHECK(osa_schema_parse(&t_inner_schema, NULL, &out, NULL, &err) ==
		  0);
	osa_schema_free(&t_inner_schema, out);
}

/* A required key inside a nested group that is absent or empty. */
struct r_inner {
	int id;
};
struct r_cfg {
	int a;
	struct r_inner outer;
};
static const struct osa_field r_inner_fields[] = {
	{ .name = "id",
	  .type = OSA_T_INT,
	  .offset = offsetof(struct r_inner, id),
	  .flags = OSA_F_REQUIRED,
	  .doc = "An id." },
	OSA_FIELD_END
};
static const struct osa_schema r_inner_schema = { .name = "r_inner",
						  .size = sizeof(
							  struct r_inner),
						  .fields = r_inner_fields };
static const struct osa_field r_fields[] = {
	OSA_FIELD_INT(struct r_cfg, a, "a", 0, 0, 0, "A."),
	OSA_FIELD_GROUP(struct r_cfg, outer, "outer", &r_inner_schema,
			"Outer."),
	OSA_FIELD_END
};
static const struct osa_schema r_schema = { .name = "r",
					    .size = sizeof(struct r_cfg),
					    .fields = r_fields };

static void test_nested_required(void)
{
	struct osa_error err;
	char *report = NULL;
	void *out = NULL;

	OSA_CHECK(osa_schema_parse(&r_schema, "a = 1;\n\nouter = {\n};", &out,
				   &report, &err) == OSA_ECONFIG);
	OSA_CHECK_STR(report, "<string>:3: outer.id: missing required key "
			      "\"id\" (an integer)");
	free(report);
	OSA_CHECK(osa_schema_parse(&r_schema, "a = 1;", &out, &report, &err) ==
		  OSA_ECONFIG);
	OSA_CHECK_STR(report, "<string>: outer.id: missing required key \"id\" "
			      "(an integer)");
	free(report);
	/* A group of the wrong type is one error, not one per missing key. */
	OSA_CHECK(osa_schema_parse(&r_schema, "outer = 5;", &out, &report,
				   &err) == OSA_ECONFIG);
	OSA_CHECK_STR(report, "<string>:1: outer: expected a group, got 5");
	free(report);
	OSA_CHECK(osa_schema_parse(&r_schema, "outer = { id = 4; };", &out,
				   NULL, &err) == 0);
	OSA_CHECK(out && ((struct r_cfg *)out)->outer.id == 4);
	osa_schema_free(&r_schema, out);
}

/* ---- the self-check --------------------------------------------------- */

struct s_cfg {
	int n;
	int m;
	char *s;
};
static const char *const s_none[] = { NULL };

static void test_selfcheck(void)
{
	struct osa_error err;
	static const struct osa_field dup[] = {
		OSA_FIELD_INT(struct s_cfg, n, "n", 1, 0, 10, "n"),
		OSA_FIELD_INT(struct s_cfg, m, "n", 1, 0, 10, "m"),
		OSA_FIELD_END
	};
	static const struct osa_field range[] = {
		OSA_FIELD_INT(struct s_cfg, n, "n", 50, 0, 10, "n"),
		OSA_FIELD_END
	};
	static const struct osa_field enum_def[] = {
		OSA_FIELD_ENUM(struct s_cfg, n, "metric", 3, t_modes, "n"),
		OSA_FIELD_END
	};
	static const struct osa_field enum_none[] = {
		OSA_FIELD_ENUM(struct s_cfg, n, "metric", 0, s_none, "n"),
		OSA_FIELD_END
	};
	static const struct osa_field group_none[] = {
		OSA_FIELD_GROUP(struct s_cfg, n, "sub", NULL, "n"),
		OSA_FIELD_END
	};
	static const struct osa_field beyond[] = {
		{ .name = "far",
		  .type = OSA_T_INT64,
		  .offset = sizeof(struct s_cfg) - 4,
		  .doc = "past the end" },
		OSA_FIELD_END
	};
	static const struct osa_field dbl[] = {
		OSA_FIELD_DOUBLE(struct t_inner, ratio, "ratio", 2.0, 0, 1,
				 "r"),
		OSA_FIELD_END
	};
	static const struct osa_schema range_schema = {
		.name = "x", .size = sizeof(struct s_cfg), .fields = range
	};
	static const struct osa_field nested_bad[] = {
		OSA_FIELD_GROUP(struct t_cfg, inner, "inner", &range_schema,
				"g"),
		OSA_FIELD_END
	};
	struct osa_schema s = { .name = "s", .size = sizeof(struct s_cfg) };

	OSA_CHECK_MSG(osai_schema_selfcheck(&t_schema, "good", &err) == 0, "%s",
		      err.msg);
	OSA_CHECK(osai_schema_selfcheck(&osai_core_schema, "core", &err) == 0);
	OSA_CHECK(osai_schema_selfcheck(&osa_embedding_schema, "embedding",
					&err) == 0);

	s.fields = NULL;
	OSA_CHECK(osai_schema_selfcheck(&s, "alpha", &err) == OSA_EINVAL);
	OSA_CHECK_CONTAINS(err.msg, "schema of \"alpha\": the fields table is "
				    "NULL");
	s.fields = dup;
	OSA_CHECK(osai_schema_selfcheck(&s, "alpha", &err) == OSA_EINVAL);
	OSA_CHECK_STR(err.msg,
		      "schema of \"alpha\": key \"n\": declared twice");
	s.fields = range;
	OSA_CHECK(osai_schema_selfcheck(&s, "alpha", &err) == OSA_EINVAL);
	OSA_CHECK_STR(err.msg, "schema of \"alpha\": key \"n\": default 50 is "
			       "outside [0, 10]");
	s.fields = enum_def;
	OSA_CHECK(osai_schema_selfcheck(&s, "alpha", &err) == OSA_EINVAL);
	OSA_CHECK_STR(err.msg, "schema of \"alpha\": key \"metric\": default 3 "
			       "is not a choice (0 to 2)");
	s.fields = enum_none;
	OSA_CHECK(osai_schema_selfcheck(&s, "alpha", &err) == OSA_EINVAL);
	OSA_CHECK_STR(err.msg, "schema of \"alpha\": key \"metric\": enum "
			       "without choices");
	s.fields = group_none;
	OSA_CHECK(osai_schema_selfcheck(&s, "alpha", &err) == OSA_EINVAL);
	OSA_CHECK_STR(err.msg,
		      "schema of \"alpha\": key \"sub\": group without "
		      "a schema");
	s.fields = beyond;
	OSA_CHECK(osai_schema_selfcheck(&s, "alpha", &err) == OSA_EINVAL);
	OSA_CHECK_CONTAINS(err.msg, "schema of \"alpha\": key \"far\": lies "
				    "beyond the end of the config struct");
	s.fields = dbl;
	s.size = sizeof(struct t_inner);
	OSA_CHECK(osai_schema_selfcheck(&s, "alpha", &err) == OSA_EINVAL);
	OSA_CHECK_STR(err.msg, "schema of \"alpha\": key \"ratio\": default 2 "
			       "is outside [0, 1]");
	s.fields = nested_bad;
	s.size = sizeof(struct t_cfg);
	OSA_CHECK(osai_schema_selfcheck(&s, "alpha", &err) == OSA_EINVAL);
	OSA_CHECK_STR(err.msg, "schema of \"alpha\": key \"inner.n\": default "
			       "50 is outside [0, 10]");
	OSA_CHECK(osai_schema_selfcheck(NULL, "alpha", &err) == OSA_EINVAL);
}

/* ---- helpers ---------------------------------------------------------- */

static void test_edit_distance(void)
{
	const char *keys[] = { "ef_construction", "ef_search", "m", "dim" };
	const char *backends[] = { "flat", "vector" };

	OSA_CHECK(osai_edit_distance("", "") == 0);
	OSA_CHECK(osai_edit_distance("", "abc") == 3);
	OSA_CHECK(osai_edit_distance("abc", "") == 3);
	OSA_CHECK(osai_edit_distance("kitten", "sitting") == 3);
	OSA_CHECK(osai_edit_distance("metirc", "metric") == 1);
	OSA_CHECK(osai_edit_distance("COSINE", "cosine") == 0);
	OSA_CHECK(osai_edit_distance("ef_constrution", "ef_construction") == 1);
	OSA_CHECK_STR(osai_suggest("ef_constrution", keys, 4),
		      "ef_construction");
	OSA_CHECK_STR(osai_suggest("ef_serach", keys, 4), "ef_search");
	OSA_CHECK_STR(osai_suggest("DIM", keys, 4), "dim");
	OSA_CHECK(osai_suggest("zzz", keys, 4) == NULL);
	OSA_CHECK(osai_suggest("", keys, 4) == NULL);
	OSA_CHECK_STR(osai_suggest("vectr", backends, 2), "vector");
	OSA_CHECK(osai_suggest("text", backends, 2) == NULL);
	OSA_CHECK(osai_suggest("ip", (const char *[]){ "l2" }, 1) == NULL);
	OSA_CHECK_STR(osa_type_name(OSA_T_INT), "integer");
	OSA_CHECK_STR(osa_type_name(OSA_T_BOOL), "boolean");
	OSA_CHECK_STR(osa_type_name(OSA_T_STRLIST), "list of strings");
	OSA_CHECK_STR(osa_type_name((enum osa_type)99), "unknown");
}

static void test_widen_ints(void)
{
	char *w = osai_config_widen_ints(
		"a = 99999999999; b = \"99999999999\"; # 99999999999\n"
		"c = 1.5e10; d = 0x100000000; e = 5000000000L; "
		"f = -3000000000;\n"
		"g = 2147483647; h = -2147483648; i = .99999999999;\n"
		"k9999999999 = 1; /* 99999999999 */ l = [1, 99999999999];");

	OSA_CHECK_STR(w,
		      "a = 99999999999L; b = \"99999999999\"; # 99999999999\n"
		      "c = 1.5e10; d = 0x100000000L; e = 5000000000L; "
		      "f = -3000000000L;\n"
		      "g = 2147483647; h = -2147483648; i = .99999999999;\n"
		      "k9999999999 = 1; /* 99999999999 */ "
		      "l = [1, 99999999999L];");
	free(w);
	/* Found by the fuzzer: signed hex is left alone, and the output may
	 * grow by one character for each literal. */
	w = osai_config_widen_ints("/\001\t0xe-0xe-0xe-0xe-0xe-");
	OSA_CHECK_STR(w, "/\001\t0xe-0xe-0xe-0xe-0xe-");
	free(w);
	w = osai_config_widen_ints("9999999999,9999999999,-9999999999");
	OSA_CHECK_STR(w, "9999999999L,9999999999L,-9999999999L");
	free(w);
}

static void test_diags(void)
{
	struct osai_diags d = { 0 };
	char *all;

	osai_diag_add(&d, "b.cfg", 3, "x.y", "third %d", 3);
	osai_diag_add(&d, "a.cfg", 9, NULL, "second");
	osai_diag_add(&d, "b.cfg", 1, "z", "fourth");
	osai_diag_add(&d, "a.cfg", 0, "p", "first");
	osai_diag_add(&d, "b.cfg", 3, "x.z", "fifth (same line, later)");
	osai_diag_add(&d, NULL, 0, NULL, "no place");
	OSA_CHECK(d.n == 6);
	all = osai_diags_join(&d);
	OSA_CHECK_STR(all, "no place\n"
			   "a.cfg: p: first\n"
			   "a.cfg:9: second\n"
			   "b.cfg:1: z: fourth\n"
			   "b.cfg:3: x.y: third 3\n"
			   "b.cfg:3: x.z: fifth (same line, later)");
	free(all);
	osai_diags_free(&d);
	OSA_CHECK(d.n == 0 && d.v == NULL);
	all = osai_diags_join(&d);
	OSA_CHECK_STR(all, "");
	free(all);
}

int main(void)
{
	test_defaults();
	test_values();
	test_errors();
	test_checks();
	test_all_at_once();
	test_parse_api();
	test_nested_required();
	test_selfcheck();
	test_edit_distance();
	test_widen_ints();
	test_diags();
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - the `vector` config schema: defaults, one error per field
 * with the core's wording, and the cross-field checks.
 */
#include "backend_test.h"

struct vector_config_view {
	int dim;
	int metric;
	int m;
	int ef_construction;
	int ef_search;
	int initial_capacity;
	double compact_deleted_ratio;
	struct osa_embedding_config embedding;
};

static const struct osa_schema *schema(void)
{
	const struct osa_backend *b = osa_backend_find("vector");

	OSA_REQUIRE(b && b->schema);
	return b->schema;
}

/* Parse `text`; expect failure with `want` in the report. */
static void expect_error(const char *text, const char *want)
{
	struct osa_error err = { 0 };
	char *report = NULL;
	void *cfg = NULL;
	int rc = osa_schema_parse(schema(), text, &cfg, &report, &err);

	OSA_CHECK_MSG(rc == OSA_ECONFIG, "%s: accepted", text);
	OSA_CHECK_CONTAINS(report ? report : err.msg, want);
	free(report);
	osa_schema_free(schema(), cfg);
}

static void test_defaults(void)
{
	struct osa_error err = { 0 };
	struct vector_config_view *c = NULL;
	void *cfg = NULL;

	OSA_REQUIRE(osa_schema_parse(schema(), "", &cfg, NULL, &err) == 0);
	c = cfg;
	OSA_CHECK(c->dim == 384);
	OSA_CHECK(c->metric == 0);
	OSA_CHECK(c->m == 16 && c->ef_construction == 200);
	OSA_CHECK(c->ef_search == 64);
	OSA_CHECK(c->initial_capacity == 10000);
	OSA_CHECK(c->compact_deleted_ratio == 0.3);
	OSA_CHECK_STR(c->embedding.embedder, "hash");
	OSA_CHECK(c->embedding.fields.n == 2);
	osa_schema_free(schema(), cfg);
	OSA_REQUIRE(osa_schema_parse(schema(),
				     "dim = 3; metric = \"l2\";"
				     "initial_capacity = 5;",
				     &cfg, NULL, &err) == 0);
	c = cfg;
	OSA_CHECK(c->dim == 3 && c->metric == 1 && c->initial_capacity == 5);
	osa_schema_free(schema(), cfg);
}

static void test_errors(void)
{
	expect_error("dim = 0;",
		     "dim: expected an integer in [1, 4096], got 0");
	expect_error("dim = 4097;", "dim: expected an integer in [1, 4096]");
	expect_error("dim = \"big\";", "dim: expected an integer");
	expect_error("metric = \"manhattan\";",
		     "metric: expected one of \"cosine\", \"l2\", \"ip\"");
	expect_error("initial_capacity = 0;",
		     "initial_capacity: expected an integer in [1, "
		     "1000000000], got 0");
	/* Removed: an index writes only under its own directory. */
	expect_error("persist_dir = \"/tmp/x\";",
		     "persist_dir was removed: an index keeps all its files "
		     "in <data_dir>/indexes/<index>/");
	expect_error("m = 1;", "m: expected an integer in [2, 100], got 1");
	expect_error("m = 101;", "m: expected an integer in [2, 100], got 101");
	expect_error("threads = -1;",
		     "threads: expected an integer in [0, 256], got -1");
	expect_error("threads = 257;",
		     "threads: expected an integer in [0, 256], got 257");
	expect_error("ef_construction = 0;",
		     "ef_construction: expected an integer in [1, 65535], "
		     "got 0");
	expect_error("ef_construction = \"high\";",
		     "ef_construction: expected an integer in [1, 65535], "
		     "got \"high\"");
	expect_error("ef_search = 65536;",
		     "ef_search: expected an integer in [1, 65535], got "
		     "65536");
	expect_error("compact_deleted_ratio = 1.5;",
		     "compact_deleted_ratio: expected a number in [0");
	expect_error("compact_deleted_ratio = -0.1;",
		     "compact_deleted_ratio: expected a number in [0");
	expect_error("ef = 3;", "unknown key \"ef\"");
	expect_error("dimm = 3;", "did you mean \"dim\"");
	expect_error("embedding = { embedder = 3; };", "embedding.embedder");
	expect_error("embedding = { fields = \"title\"; };",
		     "embedding.fields");
	/* Cross-field checks. */
	expect_error("embedding = { embedder = \"field\"; "
		     "vector_field = \"\"; };",
		     "embedding.vector_field");
	expect_error("embedding = { embedder = \"hash\"; fields = []; };",
		     "nothing to embed: set embedding.fields or "
		     "embedding.template");
	/* Every error at once. */
	{
		struct osa_error err = { 0 };
		char *report = NULL;
		void *cfg = NULL;

		OSA_CHECK(osa_schema_parse(schema(),
					   "dim = 0;\nmetric = \"x\";\n", &cfg,
					   &report, &err) == OSA_ECONFIG);
		OSA_CHECK_CONTAINS(report, ":1: dim");
		OSA_CHECK_CONTAINS(report, ":2: metric");
		free(report);
	}
}

static void test_ok_cross(void)
{
	struct osa_error err = { 0 };
	void *cfg = NULL;

	/* A template alone is enough; the field embedder needs no fields. */
	OSA_CHECK(osa_schema_parse(schema(),
				   "embedding = { fields = []; "
				   "template = \"{title}\"; };",
				   &cfg, NULL, &err) == 0);
	osa_schema_free(schema(), cfg);
	cfg = NULL;
	OSA_CHECK(osa_schema_parse(schema(),
				   "embedding = { embedder = \"field\"; "
				   "fields = []; };",
				   &cfg, NULL, &err) == 0);
	osa_schema_free(schema(), cfg);
}

int main(void)
{
	test_defaults();
	test_errors();
	test_ok_cross();
	OSA_TEST_END();
}

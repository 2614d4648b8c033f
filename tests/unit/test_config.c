/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - the runtime configuration file: a good file loads into
 * typed structs; a bad one gives one `FILE:LINE: path: message` line per
 * mistake (syntax, unreadable file, unknown or absent backend, duplicate
 * and invalid index names, unknown keys, server checks); and the schema
 * exports (Markdown, JSON Schema, `backends show`) describe the same tables.
 * Two fixture backends, "alpha" and "beta", live only in this test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "osa_test.h"
#include "osai.h"

#ifdef OSA_TEST_SRCDIR
#define CFG_DIR OSA_TEST_SRCDIR "/unit/configs"
#else
#define CFG_DIR "configs"
#endif

/* ---- fixture backends ------------------------------------------------- */

static int fx_open(const struct osa_backend_args *a, void **s, uint64_t *l,
		   struct osa_error *e)
{
	(void)a, (void)s, (void)l;
	return osa_error_set(e, OSA_ENOTSUP, "fixture");
}
static int fx_ingest(void *s, const struct osa_record *const *r, size_t n,
		     struct osa_error *e)
{
	(void)s, (void)r, (void)n, (void)e;
	return OSA_ENOTSUP;
}
static int fx_remove(void *s, const char *const *r, size_t n,
		     struct osa_error *e)
{
	(void)s, (void)r, (void)n, (void)e;
	return OSA_ENOTSUP;
}
static int fx_query(void *s, const struct osa_query *q, struct osa_hits *h,
		    struct osa_error *e)
{
	(void)s, (void)q, (void)h, (void)e;
	return OSA_ENOTSUP;
}
static int fx_count(void *s, uint64_t *c)
{
	(void)s, (void)c;
	return OSA_ENOTSUP;
}
static void fx_close(void *s)
{
	(void)s;
}

struct alpha_store {
	char *dir;
	bool compress;
};
struct alpha_config {
	int dim;
	int metric;
	int ef_construction;
	struct osa_strlist tags;
	struct alpha_store store;
};
static const char *const alpha_metrics[] = { "cosine", "l2", "ip", NULL };
static const char *const alpha_tags[] = { "title", NULL };

static void alpha_check(void *cfg, struct osa_check *chk)
{
	const struct alpha_config *c = cfg;
	size_t i;

	for (i = 0; i < c->tags.n; i++)
		if (!*c->tags.v[i])
			osa_check_error(chk, "tags", "tags must not be empty");
}

static const struct osa_field alpha_store_fields[] = {
	OSA_FIELD_PATH(struct alpha_store, dir, "dir", "alpha", "Where."),
	OSA_FIELD_BOOL(struct alpha_store, compress, "compress", false,
		       "Compress | shrink."),
	OSA_FIELD_END
};
static const struct osa_schema alpha_store_schema = {
	.name = "alpha.store",
	.size = sizeof(struct alpha_store),
	.fields = alpha_store_fields
};
static const struct osa_field alpha_fields[] = {
	OSA_FIELD_INT(struct alpha_config, dim, "dim", 384, 1, 4096,
		      "Vector dimension."),
	OSA_FIELD_ENUM(struct alpha_config, metric, "metric", 0, alpha_metrics,
		       "Distance."),
	OSA_FIELD_INT(struct alpha_config, ef_construction, "ef_construction",
		      200, 1, 65535, "Build breadth."),
	OSA_FIELD_STRLIST(struct alpha_config, tags, "tags", alpha_tags,
			  "Tags."),
	OSA_FIELD_GROUP(struct alpha_config, store, "store",
			&alpha_store_schema, "Storage."),
	OSA_FIELD_END
};
static const struct osa_schema alpha_schema = { .name = "alpha",
						.size = sizeof(
							struct alpha_config),
						.fields = alpha_fields,
						.check = alpha_check };
static const struct osa_backend alpha_backend = {
	.abi = OSA_BACKEND_ABI,
	.size = sizeof(struct osa_backend),
	.name = "alpha",
	.doc = "Fixture backend alpha.",
	.schema = &alpha_schema,
	.open = fx_open,
	.ingest_batch = fx_ingest,
	.remove = fx_remove,
	.query = fx_query,
	.count = fx_count,
	.close = fx_close
};
OSA_BACKEND_REGISTER(alpha_backend);

struct beta_config {
	int64_t size;
	double ratio;
	char *api_token;
	int mode;
};
static const char *const beta_modes[] = { "fast", "exact", NULL };
static const struct osa_field beta_fields[] = {
	OSA_FIELD_INT64(struct beta_config, size, "size", 1000, 1,
			1099511627776LL, "Capacity."),
	OSA_FIELD_DOUBLE(struct beta_config, ratio, "ratio", 0.5, 0, 1,
			 "A share."),
	{ .name = "api_token",
	  .type = OSA_T_STRING,
	  .offset = offsetof(struct beta_config, api_token),
	  .flags = OSA_F_SECRET,
	  .def_str = "hunter2",
	  .doc = "A secret." },
	{ .name = "mode",
	  .type = OSA_T_ENUM,
	  .offset = offsetof(struct beta_config, mode),
	  .flags = OSA_F_REQUIRED,
	  .choices = beta_modes,
	  .doc = "Required mode." },
	OSA_FIELD_END
};
static const struct osa_schema beta_schema = { .name = "beta",
					       .size = sizeof(
						       struct beta_config),
					       .fields = beta_fields };
static const struct osa_backend beta_backend = { .abi = OSA_BACKEND_ABI,
						 .size = sizeof(
							 struct osa_backend),
						 .name = "beta",
						 .doc = "Fixture backend beta.",
						 .schema = &beta_schema,
						 .open = fx_open,
						 .ingest_batch = fx_ingest,
						 .remove = fx_remove,
						 .query = fx_query,
						 .count = fx_count,
						 .close = fx_close };
OSA_BACKEND_REGISTER(beta_backend);

/* ---- helpers ---------------------------------------------------------- */

/* "alpha, beta, ..." as the config errors list them. */
static char available[1024];

static void init_available(void)
{
	size_t i;

	available[0] = '\0';
	for (i = 0; i < osai_backend_count(); i++) {
		if (i)
			strcat(available, ", ");
		strcat(available, osai_backend_at(i)->name);
	}
}

/* Everything the diagnostics print, as one string (free() it). */
static char *printed(struct osai_diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	OSA_REQUIRE(f);
	osai_diags_print(d, f);
	fclose(f);
	return buf;
}

/* Load `text` as "t.cfg" in base dir "/base"; return the printed errors
 * (NULL when it loaded; then *out unless out is NULL). */
static char *load(const char *text, struct osai_config **out)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg = NULL;
	char *p = NULL;
	int rc;

	rc = osai_config_load_string(text, "t.cfg", "/base", &cfg, &d);
	if (rc) {
		OSA_CHECK(cfg == NULL);
		OSA_CHECK(d.n > 0);
		OSA_CHECK(rc == OSA_ECONFIG);
		p = printed(&d);
	} else {
		OSA_CHECK(d.n == 0);
		OSA_CHECK(cfg != NULL);
	}
	osai_diags_free(&d);
	if (out)
		*out = cfg;
	else
		osai_config_free(cfg);
	return p;
}

#define EXPECT_ERRORS(text, want)                                              \
	do {                                                                   \
		char *p_ = load((text), NULL);                                 \
		OSA_CHECK_STR(p_, (want));                                     \
		free(p_);                                                      \
	} while (0)

#define EXPECT_OK(text)                                                        \
	do {                                                                   \
		char *p_ = load((text), NULL);                                 \
		OSA_CHECK_MSG(p_ == NULL, "%s", p_);                           \
		free(p_);                                                      \
	} while (0)

/* ---- loading files ---------------------------------------------------- */

static void test_good_file(void)
{
	const char *path = CFG_DIR "/good.cfg";
	struct osai_diags d = { 0 };
	struct osai_config *cfg = NULL;
	const struct osai_index_config *ix;
	const struct alpha_config *a;
	const struct beta_config *b;
	char want[4096];
	int rc;

	rc = osai_config_load_file(path, &cfg, &d);
	OSA_CHECK(rc == 0);
	OSA_CHECK(d.n == 0);
	osai_diags_free(&d);
	OSA_REQUIRE(cfg);
	OSA_CHECK_STR(cfg->file, path);
	OSA_CHECK_STR(cfg->basedir, CFG_DIR);
	OSA_CHECK_STR(cfg->core.data_dir, CFG_DIR "/state");
	OSA_CHECK_STR(cfg->core.server.listen, "https://0.0.0.0:9090");
	OSA_CHECK_STR(cfg->core.server.nng, "ipc:///tmp/osa-test.sock");
	OSA_CHECK_STR(cfg->core.server.api_key, "k3y");
	OSA_CHECK(cfg->core.server.max_body == 1073741824);
	OSA_CHECK(cfg->core.server.max_query == 16);
	OSA_CHECK_STR(cfg->core.server.tls.cert, CFG_DIR "/tls/cert.pem");
	OSA_CHECK_STR(cfg->core.server.tls.key, "/etc/osa/key.pem");
	OSA_CHECK(cfg->core.logging.level == OSA_LOG_DEBUG);
	OSA_CHECK(cfg->core.logging.format == OSAI_LOGFMT_JSON);
	OSA_CHECK(cfg->core.journal.srn_format == OSAI_SRN_ANY);
	OSA_CHECK(cfg->core.journal.max_record_bytes == 4096);
	OSA_CHECK(cfg->core.journal.checkpoint.ops == 500);
	OSA_CHECK(cfg->core.journal.checkpoint.seconds == 5);
	OSA_CHECK(cfg->core.journal.map_size == 1099511627776LL);

	OSA_REQUIRE(cfg->n_indexes == 3);
	OSA_CHECK_STR(cfg->indexes[0].name, "papers");
	OSA_CHECK_STR(cfg->indexes[1].name, "exact_1");
	OSA_CHECK_STR(cfg->indexes[2].name, "9-lives");
	OSA_CHECK(cfg->indexes[0].backend == &alpha_backend);
	OSA_CHECK(cfg->indexes[1].backend == &beta_backend);
	OSA_CHECK(cfg->indexes[2].backend == &alpha_backend);
	OSA_CHECK(cfg->indexes[0].line == 19);
	OSA_CHECK(cfg->indexes[1].line == 22);

	ix = osai_config_index(cfg, "papers");
	OSA_REQUIRE(ix && ix->config);
	a = ix->config;
	OSA_CHECK(a->dim == 64);
	OSA_CHECK(a->metric == 1);
	OSA_CHECK(a->ef_construction == 200);
	OSA_CHECK(a->tags.n == 2 && !strcmp(a->tags.v[1], "b"));
	snprintf(want, sizeof(want), "%s/papers-store", CFG_DIR);
	OSA_CHECK_STR(a->store.dir, want);
	OSA_CHECK(a->store.compress == true);

	ix = osai_config_index(cfg, "exact_1");
	OSA_REQUIRE(ix && ix->config);
	b = ix->config;
	OSA_CHECK(b->mode == 1);
	OSA_CHECK(b->size == 1000);
	OSA_CHECK(b->ratio == 0.5);
	OSA_CHECK_STR(b->api_token, "hunter2");

	/* An index without `config` gets every default. */
	ix = osai_config_index(cfg, "9-lives");
	OSA_REQUIRE(ix && ix->config);
	a = ix->config;
	OSA_CHECK(a->dim == 384 && a->metric == 0);
	OSA_CHECK(a->tags.n == 1 && !strcmp(a->tags.v[0], "title"));
	OSA_CHECK_STR(a->store.dir, CFG_DIR "/alpha");

	OSA_CHECK(osai_config_index(cfg, "nope") == NULL);
	OSA_CHECK(osai_config_index(NULL, "papers") == NULL);
	osai_config_free(cfg);
	osai_config_free(NULL);
}

static void test_bad_file(void)
{
	const char *path = CFG_DIR "/bad.cfg";
	struct osai_diags d = { 0 };
	struct osai_config *cfg = (struct osai_config *)1;
	char want[4096], *p;

	OSA_CHECK(osai_config_load_file(path, &cfg, &d) == OSA_ECONFIG);
	OSA_CHECK(cfg == NULL);
	OSA_CHECK(d.n == 6);
	p = printed(&d);
	snprintf(want, sizeof(want),
		 "%1$s:2: server.max_bdy: unknown key \"max_bdy\"; did you "
		 "mean \"max_body\"?\n"
		 "%1$s:5: indexes.papers.config.dim: expected an integer in "
		 "[1, 4096], got 5000\n"
		 "%1$s:6: indexes.papers.config.metric: expected one of "
		 "\"cosine\", \"l2\", \"ip\", got \"cosin\"; did you mean "
		 "\"cosine\"?\n"
		 "%1$s:7: indexes.papers.config.ef_construction: expected an "
		 "integer in [1, 65535], got \"high\"\n"
		 "%1$s:8: indexes.papers.name: duplicate index name "
		 "\"papers\" (first defined at line 4)\n"
		 "%1$s:9: indexes.text.backend: unknown backend \"alphx\"; did "
		 "you mean \"alpha\"? available: %2$s\n",
		 path, available);
	OSA_CHECK_STR(p, want);
	free(p);
	/* join: the same lines, without the last newline */
	p = osai_diags_join(&d);
	want[strlen(want) - 1] = '\0';
	OSA_CHECK_STR(p, want);
	free(p);
	osai_diags_free(&d);
}

static void test_syntax_and_io(void)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg = NULL;
	char *p;

	OSA_CHECK(osai_config_load_file(CFG_DIR "/syntax.cfg", &cfg, &d) ==
		  OSA_ECONFIG);
	p = printed(&d);
	OSA_CHECK_STR(p, CFG_DIR "/syntax.cfg:3: syntax error\n");
	free(p);
	osai_diags_free(&d);

	OSA_CHECK(osai_config_load_file(CFG_DIR "/nope.cfg", &cfg, &d) ==
		  OSA_EIO);
	OSA_CHECK(cfg == NULL);
	p = printed(&d);
	OSA_CHECK_STR(p, CFG_DIR "/nope.cfg: cannot read: No such file or "
				 "directory\n");
	free(p);
	osai_diags_free(&d);

	OSA_CHECK(osai_config_load_file(CFG_DIR, &cfg, &d) == OSA_EIO);
	p = printed(&d);
	OSA_CHECK_STR(p, CFG_DIR ": cannot read: Is a directory\n");
	free(p);
	osai_diags_free(&d);

	EXPECT_ERRORS("data_dir = \"x\";\nindexes = (\n  { name = \"a\" }",
		      "t.cfg:3: syntax error\n");
}

static void test_nul_byte(void)
{
	char path[] = "/tmp/osa-test-config-XXXXXX";
	struct osai_diags d = { 0 };
	struct osai_config *cfg = NULL;
	char want[256], *p;
	int fd = mkstemp(path);

	OSA_REQUIRE(fd >= 0);
	OSA_REQUIRE(write(fd, "a = 1;\nb = \"x\0y\";\n", 18) == 18);
	close(fd);
	OSA_CHECK(osai_config_load_file(path, &cfg, &d) == OSA_ECONFIG);
	p = printed(&d);
	snprintf(want, sizeof(want),
		 "%s:2: a NUL byte: this is not a text file\n", path);
	OSA_CHECK_STR(p, want);
	free(p);
	osai_diags_free(&d);
	unlink(path);
}

static void test_include(void)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg = NULL;
	char *p;

	OSA_CHECK(osai_config_load_file(CFG_DIR "/include.cfg", &cfg, &d) ==
		  OSA_ECONFIG);
	p = printed(&d);
	OSA_CHECK_STR(p, CFG_DIR "/include_part.cfg:3: logging.level: expected "
				 "one of \"debug\", \"info\", \"warn\", "
				 "\"error\", got \"verbose\"\n");
	free(p);
	osai_diags_free(&d);
}

/* ---- top-level settings ----------------------------------------------- */

static void test_defaults(void)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg = NULL;
	char *p;

	p = load("", &cfg);
	OSA_CHECK(p == NULL);
	OSA_REQUIRE(cfg);
	OSA_CHECK_STR(cfg->file, "t.cfg");
	OSA_CHECK_STR(cfg->core.data_dir, "/base/data");
	OSA_CHECK_STR(cfg->core.server.listen, "http://127.0.0.1:8080");
	OSA_CHECK_STR(cfg->core.server.nng, "");
	OSA_CHECK_STR(cfg->core.server.api_key, "");
	OSA_CHECK(cfg->core.server.max_body == 8388608);
	OSA_CHECK(cfg->core.server.max_query == 4096);
	OSA_CHECK(cfg->core.server.tls.cert == NULL);
	OSA_CHECK(cfg->core.server.tls.key == NULL);
	OSA_CHECK(cfg->core.logging.level == OSA_LOG_INFO);
	OSA_CHECK(cfg->core.logging.format == OSAI_LOGFMT_TEXT);
	OSA_CHECK(cfg->core.journal.srn_format == OSAI_SRN_OSA);
	OSA_CHECK(cfg->core.journal.max_record_bytes == 1048576);
	OSA_CHECK(cfg->core.journal.checkpoint.ops == 10000);
	OSA_CHECK(cfg->core.journal.checkpoint.seconds == 60);
	OSA_CHECK(cfg->core.journal.map_size == 67108864);
	OSA_CHECK(cfg->n_indexes == 0 && cfg->indexes == NULL);
	osai_config_free(cfg);

	/* No base directory: relative paths stay relative to the cwd. */
	OSA_CHECK(osai_config_load_string("data_dir = \"d\";", "<built-in>",
					  NULL, &cfg, &d) == 0);
	OSA_REQUIRE(cfg);
	OSA_CHECK_STR(cfg->file, "<built-in>");
	OSA_CHECK_STR(cfg->core.data_dir, "./d");
	osai_config_free(cfg);
	osai_diags_free(&d);

	EXPECT_OK("indexes = ();");
	EXPECT_OK("indexes = [];");
	EXPECT_OK("data_dir = \"/abs\"; map_size = 1048576; "
		  "max_record_bytes = 67108864L;");
}

static void test_top_level_errors(void)
{
	EXPECT_ERRORS("data_dri = \"x\";",
		      "t.cfg:1: data_dri: unknown key \"data_dri\"; did you "
		      "mean \"data_dir\"?\n");
	EXPECT_ERRORS("\nindexs = ();",
		      "t.cfg:2: indexs: unknown key \"indexs\"; did you mean "
		      "\"indexes\"?\n");
	EXPECT_ERRORS("colour = 1;",
		      "t.cfg:1: colour: unknown key \"colour\"; valid keys: "
		      "data_dir, server, logging, srn_format, "
		      "max_record_bytes, checkpoint_interval, map_size, "
		      "indexes\n");
	EXPECT_ERRORS("server = { max_body = 100; max_query = 8; };",
		      "t.cfg:1: server.max_body: expected an integer in [1024, "
		      "1073741824], got 100\n"
		      "t.cfg:1: server.max_query: expected an integer in [16, "
		      "65536], got 8\n");
	EXPECT_ERRORS("map_size = 2199023255552;",
		      "t.cfg:1: map_size: expected an integer in [1048576, "
		      "1099511627776], got 2199023255552\n");
	EXPECT_ERRORS(
		"checkpoint_interval = { ops = 0; seconds = 86401; };",
		"t.cfg:1: checkpoint_interval.ops: expected an integer in "
		"[1, 1000000000], got 0\n"
		"t.cfg:1: checkpoint_interval.seconds: expected an "
		"integer in [1, 86400], got 86401\n");
	EXPECT_ERRORS("logging = { level = \"warning\"; format = \"JSON\"; };",
		      "t.cfg:1: logging.level: expected one of \"debug\", "
		      "\"info\", \"warn\", \"error\", got \"warning\"; did you "
		      "mean \"warn\"?\n"
		      "t.cfg:1: logging.format: expected one of \"text\", "
		      "\"json\", got \"JSON\"; did you mean \"json\"?\n");
	EXPECT_ERRORS("srn_format = 1;",
		      "t.cfg:1: srn_format: expected one of \"osa\", \"any\", "
		      "got 1\n");
	EXPECT_ERRORS(
		"data_dir = \"\";",
		"t.cfg:1: data_dir: expected a path (a non-empty string), "
		"got \"\"\n");
	/* The API key is a secret: never echoed. */
	EXPECT_ERRORS("server = { api_key = 12345; };",
		      "t.cfg:1: server.api_key: expected a string, got an "
		      "integer (hidden)\n");
	EXPECT_ERRORS("server = 5;",
		      "t.cfg:1: server: expected a group, got 5\n");
}

static void test_server_checks(void)
{
	EXPECT_OK(
		"server = { listen = \"\"; nng = \"tcp://127.0.0.1:5555\"; };");
	EXPECT_OK("server = { nng = \"inproc://x\"; };");
	EXPECT_OK("server = { listen = \"https://h:1\"; api_key = \"k\";\n"
		  "  tls = { cert = \"c.pem\"; key = \"k.pem\"; }; };");
	EXPECT_OK("server = { listen = \"http://0.0.0.0:1\";\n"
		  "  allow_open_writes = true; };");
	EXPECT_OK("server = { listen = \"http://[::1]:1\"; nng = "
		  "\"tcp://localhost:2\"; };");
	EXPECT_OK("server = { listen = \"http://127.1.2.3:1\"; };");
	/* Open writes beyond loopback, TLS files with http://, timeouts. */
	EXPECT_ERRORS("server = {\n  listen = \"http://0.0.0.0:80\";\n"
		      "  nng = \"tcp://10.0.0.1:5\"; };",
		      "t.cfg:2: server.listen: \"http://0.0.0.0:80\" reaches "
		      "beyond loopback and no api_key is set, so anyone could "
		      "write: set server.api_key, listen on 127.0.0.1, or set "
		      "server.allow_open_writes = true\n"
		      "t.cfg:3: server.nng: \"tcp://10.0.0.1:5\" reaches "
		      "beyond loopback and no api_key is set, so anyone could "
		      "write: set server.api_key, use ipc:// or "
		      "tcp://127.0.0.1, or set server.allow_open_writes = "
		      "true\n");
	EXPECT_ERRORS("server = { listen = \"http://127.0.0.1:1\";\n"
		      "  tls = { cert = \"c.pem\"; key = \"k.pem\"; }; };",
		      "t.cfg:2: server.tls: tls.cert and tls.key are set but "
		      "listen is \"http://127.0.0.1:1\": use an https:// URL "
		      "to serve TLS, or remove the tls group\n");
	EXPECT_ERRORS("server = { timeouts = {\n  header = 0.01; }; };",
		      "t.cfg:2: server.timeouts.header: expected a number in "
		      "[0.1, 3600], got 0.01\n");
	EXPECT_ERRORS("server = { timeouts = {\n  header = 20; idle = 5; "
		      "}; };",
		      "t.cfg:2: server.timeouts.header: header (20 s) is "
		      "longer than idle (5 s): a kept-alive connection would "
		      "be closed while its next request is still arriving\n");
	EXPECT_ERRORS("server = {\n  max_connections = -1; };",
		      "t.cfg:2: server.max_connections: expected an integer "
		      "in [0, 1000000], got -1\n");
	EXPECT_ERRORS("server = {\n  tls = {\n    cert = \"c.pem\"; }; };",
		      "t.cfg:2: server.tls.key: set both cert and key, or "
		      "neither (only cert is set)\n");
	EXPECT_ERRORS("server = {\n  tls = { key = \"k.pem\"; }; };",
		      "t.cfg:2: server.tls.cert: set both cert and key, or "
		      "neither (only key is set)\n");
	EXPECT_ERRORS("server = {\n  listen = \"https://127.0.0.1:443\"; };",
		      "t.cfg:2: server.listen: an https:// URL needs tls.cert "
		      "and tls.key (PEM files)\n");
	EXPECT_ERRORS(
		"server = {\n  listen = \"ftp://x\";\n  nng = \"http://y\"; "
		"};",
		"t.cfg:2: server.listen: expected \"\" (no HTTP) or a URL "
		"starting with http:// or https://, got \"ftp://x\"\n"
		"t.cfg:3: server.nng: expected \"\" (off) or a URL "
		"starting with ipc://, tcp:// or inproc://, got "
		"\"http://y\"\n");
	/* Relative TLS files resolve against the config file's directory. */
	{
		struct osai_config *cfg = NULL;
		char *p = load("server = { listen = \"https://h:1\"; api_key = "
			       "\"k\"; tls = { "
			       "cert = \"./c.pem\"; key = \"k/k.pem\"; }; };",
			       &cfg);

		OSA_CHECK(p == NULL);
		free(p);
		OSA_REQUIRE(cfg);
		OSA_CHECK_STR(cfg->core.server.tls.cert, "/base/c.pem");
		OSA_CHECK_STR(cfg->core.server.tls.key, "/base/k/k.pem");
		osai_config_free(cfg);
	}
}

/* ---- indexes ---------------------------------------------------------- */

static void test_index_names(void)
{
	static const char *const bad[] = { "Papers!",
					   "-x",
					   "_x",
					   "..",
					   ".",
					   "",
					   "a b",
					   "a/b",
					   "UPPER",
					   ("01234567890123456789012345678901"
					    "23456789012345678901234567890123") };
	static const char *const good[] = { "a", "0", "9-lives", "a_b-c",
					    ("01234567890123456789012345678901"
					     "2345678901234567890123456789012") };
	char text[256], want[512], q[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
			 "indexes = (\n  { name = \"%s\"; backend = \"alpha\"; "
			 "}\n);",
			 bad[i]);
		osai_quote(bad[i], q, sizeof(q));
		snprintf(want, sizeof(want),
			 "t.cfg:2: indexes.[0].name: %s is not a valid index "
			 "name: use 1 to 63 characters of a-z, 0-9, _ and -, "
			 "starting with a letter or digit\n",
			 q);
		EXPECT_ERRORS(text, want);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text),
			 "indexes = ( { name = \"%s\"; backend = \"alpha\"; "
			 "} );",
			 good[i]);
		EXPECT_OK(text);
	}
	/* The path of an index with a bad name is its position. */
	EXPECT_ERRORS(
		"indexes = (\n  { name = \"ok\"; backend = \"alpha\"; },\n"
		"  { name = \"B\"; backend = \"alpha\";\n"
		"    config = { dim = 0; }; }\n);",
		"t.cfg:3: indexes.[1].name: \"B\" is not a valid index "
		"name: use 1 to 63 characters of a-z, 0-9, _ and -, "
		"starting with a letter or digit\n"
		"t.cfg:4: indexes.[1].config.dim: expected an integer in "
		"[1, 4096], got 0\n");
	EXPECT_ERRORS("indexes = (\n  { name = 5; backend = \"alpha\"; }\n);",
		      "t.cfg:2: indexes.[0].name: expected a string, got 5\n");
}

static void test_index_errors(void)
{
	char want[2048];
	const struct osai_absent *a;

	/* duplicates: on the second one, naming the first's line */
	EXPECT_ERRORS("indexes = (\n"
		      "  { name = \"p\"; backend = \"alpha\"; },\n"
		      "  { name = \"q\"; backend = \"alpha\"; },\n"
		      "\n"
		      "  { name = \"p\"; backend = \"beta\"; config = { mode = "
		      "\"fast\"; }; }\n);",
		      "t.cfg:5: indexes.p.name: duplicate index name \"p\" "
		      "(first defined at line 2)\n");
	/* required keys: at the index's line */
	EXPECT_ERRORS(
		"indexes = (\n  { backend = \"alpha\"; },\n"
		"  { name = \"x\"; }\n);",
		"t.cfg:2: indexes.[0].name: missing required key \"name\" "
		"(a string)\n"
		"t.cfg:3: indexes.x.backend: missing required key "
		"\"backend\" (a string)\n");
	/* a required key of the backend's schema, config absent */
	EXPECT_ERRORS(
		"indexes = (\n  { name = \"b\"; backend = \"beta\"; }\n);",
		"t.cfg:2: indexes.b.config.mode: missing required key "
		"\"mode\" (one of \"fast\", \"exact\")\n");
	/* unknown keys of an index */
	EXPECT_ERRORS(
		"indexes = (\n  { name = \"a\"; backend = \"alpha\";\n"
		"    confg = { dim = 3; }; }\n);",
		"t.cfg:3: indexes.a.confg: unknown key \"confg\"; did you "
		"mean \"config\"?\n");
	EXPECT_ERRORS(
		"indexes = ( { name = \"a\"; backend = \"alpha\"; "
		"shards = 3; } );",
		"t.cfg:1: indexes.a.shards: unknown key \"shards\"; valid "
		"keys: name, backend, config, attributes\n");
	/* wrong shapes */
	EXPECT_ERRORS("indexes = ( { name = \"a\"; backend = \"alpha\"; "
		      "config = 5; } );",
		      "t.cfg:1: indexes.a.config: expected a group, got 5\n");
	EXPECT_ERRORS(
		"indexes = 5;",
		"t.cfg:1: indexes: expected a list of index groups like "
		"( { name = \"papers\"; backend = \"vector\"; } ), got 5\n");
	EXPECT_ERRORS(
		"indexes = [\"a\"];",
		"t.cfg:1: indexes: expected a list of index groups like "
		"( { name = \"papers\"; backend = \"vector\"; } ), got an "
		"array\n");
	EXPECT_ERRORS("indexes = (\n  \"papers\" );",
		      "t.cfg:2: indexes.[0]: expected an index group like { "
		      "name = \"papers\"; backend = \"vector\"; }, got "
		      "\"papers\"\n");
	/* the backend's check callback, with the index's path */
	EXPECT_ERRORS(
		"indexes = ( { name = \"a\"; backend = \"alpha\";\n"
		"  config = {\n    tags = [\"x\", \"\"]; }; } );",
		"t.cfg:3: indexes.a.config.tags: tags must not be empty\n");
	/* nested group of a backend */
	EXPECT_ERRORS("indexes = ( { name = \"a\"; backend = \"alpha\";\n"
		      "  config = { store = {\n    compres = true; }; }; } );",
		      "t.cfg:3: indexes.a.config.store.compres: unknown key "
		      "\"compres\"; did you mean \"compress\"?\n");
	/* secrets of a backend are hidden too */
	EXPECT_ERRORS(
		"indexes = ( { name = \"b\"; backend = \"beta\"; config = "
		"{ mode = \"fast\"; api_token = 5; }; } );",
		"t.cfg:1: indexes.b.config.api_token: expected a string, "
		"got an integer (hidden)\n");

	/* unknown backends: suggestion, the available list */
	snprintf(want, sizeof(want),
		 "t.cfg:1: indexes.a.backend: unknown backend \"bta\"; did you "
		 "mean \"beta\"? available: %s\n",
		 available);
	EXPECT_ERRORS("indexes = ( { name = \"a\"; backend = \"bta\"; } );",
		      want);
	snprintf(want, sizeof(want),
		 "t.cfg:1: indexes.a.backend: unknown backend \"zzzzzz\"; "
		 "available: %s\n",
		 available);
	EXPECT_ERRORS("indexes = ( { name = \"a\"; backend = \"zzzzzz\"; "
		      "config = { anything = 1; }; } );",
		      want);
	/* a backend of this tree that the build left out */
	for (a = osai_absent_plugins; a->name; a++)
		if (!strcmp(a->kind, "backend"))
			break;
	if (a->name) {
		char text[256];

		snprintf(text, sizeof(text),
			 "indexes = (\n  { name = \"a\"; backend = \"%s\"; "
			 "}\n);",
			 a->name);
		snprintf(want, sizeof(want),
			 "t.cfg:2: indexes.a.backend: backend \"%s\" (found "
			 "in %s) is not built in: enable %s (make "
			 "menuconfig) and rebuild\n",
			 a->name,
			 a->where[0] ? a->where : "this build's Kconfig",
			 a->symbol);
		EXPECT_ERRORS(text, want);
	} else {
		fprintf(stderr, "note: no absent backend in this build; the "
				"not-built-in hint is not tested\n");
	}
}

/* `attributes`: a list of { name; type; }, all errors at once. */
static void test_attributes(void)
{
	struct osai_config *cfg = NULL;
	char *errs;

	errs = load("indexes = ( { name = \"a\"; backend = \"alpha\";\n"
		    "  attributes = ( { name = \"year\"; type = \"int\"; },\n"
		    "    { name = \"type\"; type = \"keyword\"; },\n"
		    "    { name = \"kw\"; type = \"keywords\"; },\n"
		    "    { name = \"score\"; type = \"float\"; },\n"
		    "    { name = \"open\"; type = \"bool\"; },\n"
		    "    { name = \"published\"; type = \"date\"; } ); } );",
		    &cfg);
	OSA_CHECK_MSG(errs == NULL, "%s", errs ? errs : "");
	free(errs);
	if (cfg) {
		const struct osa_attrs *a = &cfg->indexes[0].attrs;

		OSA_CHECK(a->n == 6);
		OSA_CHECK_STR(a->v[0].name, "year");
		OSA_CHECK(a->v[0].type == OSA_ATTR_INT);
		OSA_CHECK(a->v[1].type == OSA_ATTR_KEYWORD);
		OSA_CHECK(a->v[2].type == OSA_ATTR_KEYWORDS);
		OSA_CHECK(a->v[3].type == OSA_ATTR_FLOAT);
		OSA_CHECK(a->v[4].type == OSA_ATTR_BOOL);
		OSA_CHECK(a->v[5].type == OSA_ATTR_DATE);
		osai_config_free(cfg);
		cfg = NULL;
	}
	/* none: an empty declaration */
	errs = load("indexes = ( { name = \"a\"; backend = \"alpha\"; "
		    "attributes = (); } );",
		    &cfg);
	OSA_CHECK(errs == NULL);
	free(errs);
	OSA_CHECK(cfg && cfg->indexes[0].attrs.n == 0);
	osai_config_free(cfg);
	EXPECT_ERRORS(
		"indexes = ( { name = \"a\"; backend = \"alpha\";\n"
		"  attributes = ( { name = \"year\"; type = \"integer\"; },\n"
		"    { name = \"year\"; type = \"int\"; },\n"
		"    { name = \"not\"; type = \"bool\"; },\n"
		"    { name = \"9x\"; type = \"bool\"; },\n"
		"    { type = \"date\"; },\n"
		"    { name = \"k\"; type = \"keywrds\"; kind = 1; },\n"
		"    5 ); } );",
		"t.cfg:2: indexes.a.attributes.[0].type: expected one of "
		"\"int\", \"float\", \"keyword\", \"keywords\", \"bool\", "
		"\"date\", got \"integer\"; did you mean \"int\"?\n"
		"t.cfg:3: indexes.a.attributes.[1]: attribute \"year\" is "
		"declared twice\n"
		"t.cfg:4: indexes.a.attributes.[2]: attribute name \"not\" "
		"cannot be used in filters: use a letter or _ then letters, "
		"digits, _, . and -, and not AND, OR, NOT, IN, TRUE or FALSE\n"
		"t.cfg:5: indexes.a.attributes.[3]: attribute name \"9x\" "
		"cannot be used in filters: use a letter or _ then letters, "
		"digits, _, . and -, and not AND, OR, NOT, IN, TRUE or FALSE\n"
		"t.cfg:6: indexes.a.attributes.[4].name: missing required key "
		"\"name\" (a string of 1 to 128 bytes)\n"
		"t.cfg:7: indexes.a.attributes.[5].type: expected one of "
		"\"int\", \"float\", \"keyword\", \"keywords\", \"bool\", "
		"\"date\", got \"keywrds\"; did you mean \"keywords\"?\n"
		"t.cfg:7: indexes.a.attributes.[5].kind: unknown key \"kind\"; "
		"valid keys: name, type\n"
		"t.cfg:8: indexes.a.attributes.[6]: expected a group like "
		"{ name = \"year\"; type = \"int\"; }, got 5\n");
	EXPECT_ERRORS("indexes = ( { name = \"a\"; backend = \"alpha\"; "
		      "attributes = 5; } );",
		      "t.cfg:1: indexes.a.attributes: expected a list of "
		      "groups like ( { name = \"year\"; type = \"int\"; } ), "
		      "got 5\n");
}

static void test_all_at_once(void)
{
	char *p =
		load("data_dir = 5;\n"
		     "server = { listen = \"ftp://x\"; };\n"
		     "indexes = (\n"
		     "  { name = \"Bad\"; backend = \"alpha\"; },\n"
		     "  { name = \"b\"; backend = \"beta\"; config = { size = "
		     "0; mode = \"fast\"; }; }\n"
		     ");\n",
		     NULL);

	OSA_CHECK_STR(p,
		      "t.cfg:1: data_dir: expected a path (a non-empty "
		      "string), got 5\n"
		      "t.cfg:2: server.listen: expected \"\" (no HTTP) or a "
		      "URL starting with http:// or https://, got "
		      "\"ftp://x\"\n"
		      "t.cfg:4: indexes.[0].name: \"Bad\" is not a valid index "
		      "name: use 1 to 63 characters of a-z, 0-9, _ and -, "
		      "starting with a letter or digit\n"
		      "t.cfg:5: indexes.b.config.size: expected an integer in "
		      "[1, 1099511627776], got 0\n");
	free(p);
}

/* ---- schema exports --------------------------------------------------- */

static char *capture(int (*fn)(FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	OSA_REQUIRE(f);
	OSA_CHECK(fn(f) == 0);
	fclose(f);
	return buf;
}

static char *capture_show(const struct osa_backend *b, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	OSA_REQUIRE(f);
	OSA_CHECK(osai_schema_show(b, json, f) == 0);
	fclose(f);
	return buf;
}

static void test_markdown(void)
{
	char *md = capture(osai_schema_markdown);

	OSA_CHECK_CONTAINS(md, "## Top-level settings");
	OSA_CHECK_CONTAINS(md, "| `data_dir` | path | `\"./data\"` |  | no |");
	OSA_CHECK_CONTAINS(md, "| `server.max_body` | integer | `8388608` | "
			       "[1024, 1073741824] | no |");
	OSA_CHECK_CONTAINS(md, "| `server.api_key` | string | `(secret)` |");
	OSA_CHECK_CONTAINS(md, "| `logging.level` | enum | `\"info\"` | "
			       "debug, info, warn, error | no |");
	OSA_CHECK_CONTAINS(md, "| `checkpoint_interval.ops` | integer |");
	OSA_CHECK_CONTAINS(md, "## `indexes`");
	OSA_CHECK_CONTAINS(md, "## Backend `alpha`");
	OSA_CHECK_CONTAINS(md, "Fixture backend alpha.");
	OSA_CHECK_CONTAINS(md, "| `dim` | integer | `384` | [1, 4096] | no | "
			       "Vector dimension. |");
	OSA_CHECK_CONTAINS(md, "| `tags` | list of strings | `[\"title\"]` |");
	OSA_CHECK_CONTAINS(md, "| `store.compress` | boolean | `false` |  | "
			       "no | Compress \\| shrink. |");
	OSA_CHECK_CONTAINS(md, "| `mode` | enum |  | fast, exact | yes |");
	OSA_CHECK_CONTAINS(md, "## Embedders");
	OSA_CHECK(strstr(md, "hunter2") == NULL);
	OSA_CHECK(strstr(md, "## Backend `alpha`") <
		  strstr(md, "## Backend `beta`"));
	free(md);
}

/* The value at "a/b/0/c" (object keys, array indexes), or NULL. */
static json_t *jp(json_t *v, const char *path)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); v && tok;
	     tok = strtok_r(NULL, "/", &save))
		v = json_is_array(v) ? json_array_get(v, strtoul(tok, NULL, 10))
				     : json_object_get(v, tok);
	return v;
}

static void test_json_schema(void)
{
	char *js = capture(osai_schema_json);
	json_error_t jerr;
	json_t *root = json_loads(js, 0, &jerr), *names, *rule;
	size_t i, n = osai_backend_count();
	char ref[128];

	OSA_REQUIRE(root);
	OSA_CHECK_STR(json_string_value(jp(root, "$schema")),
		      "https://json-schema.org/draft/2020-12/schema");
	OSA_CHECK_STR(json_string_value(jp(root, "type")), "object");
	OSA_CHECK(json_is_false(jp(root, "additionalProperties")));
	OSA_CHECK_STR(
		json_string_value(jp(root, "properties/data_dir/default")),
		"./data");
	OSA_CHECK(json_integer_value(jp(
			  root,
			  "properties/server/properties/max_body/maximum")) ==
		  1073741824);
	OSA_CHECK(json_is_false(
		jp(root, "properties/server/additionalProperties")));
	/* secrets: no default, write-only */
	OSA_CHECK(jp(root, "properties/server/properties/api_key/default") ==
		  NULL);
	OSA_CHECK(json_is_true(
		jp(root, "properties/server/properties/api_key/writeOnly")));
	OSA_CHECK_STR(
		json_string_value(
			jp(root, "properties/logging/properties/level/enum/2")),
		"warn");
	/* indexes: backend is an enum of the registered backends, and each
	 * backend's config schema applies through if/then. */
	OSA_CHECK_STR(json_string_value(jp(root, "properties/indexes/type")),
		      "array");
	names = jp(root, "properties/indexes/items/properties/backend/enum");
	OSA_REQUIRE(json_array_size(names) == n);
	for (i = 0; i < n; i++) {
		const char *name = osai_backend_at(i)->name;

		OSA_CHECK_STR(json_string_value(json_array_get(names, i)),
			      name);
		rule = json_array_get(
			jp(root, "properties/indexes/items/allOf"), i);
		OSA_CHECK_STR(json_string_value(
				      jp(rule, "if/properties/backend/const")),
			      name);
		snprintf(ref, sizeof(ref), "#/$defs/backend-%s", name);
		OSA_CHECK_STR(json_string_value(
				      jp(rule, "then/properties/config/$ref")),
			      ref);
		OSA_CHECK(json_is_object(jp(root, ref + 2)));
	}
	OSA_CHECK_STR(json_string_value(jp(root, "properties/indexes/items/"
						 "required/1")),
		      "backend");
	OSA_CHECK(json_is_false(jp(root, "$defs/backend-alpha/"
					 "additionalProperties")));
	OSA_CHECK(json_integer_value(jp(root, "$defs/backend-alpha/properties/"
					      "dim/minimum")) == 1);
	OSA_CHECK(json_integer_value(jp(root, "$defs/backend-alpha/properties/"
					      "dim/maximum")) == 4096);
	OSA_CHECK(json_integer_value(jp(root, "$defs/backend-alpha/properties/"
					      "dim/default")) == 384);
	OSA_CHECK_STR(json_string_value(jp(root, "$defs/backend-alpha/"
						 "properties/store/properties/"
						 "dir/type")),
		      "string");
	OSA_CHECK_STR(json_string_value(jp(root, "$defs/backend-beta/"
						 "required/0")),
		      "mode");
	OSA_CHECK(strstr(js, "hunter2") == NULL);
	json_decref(root);
	free(js);
}

static void test_show(void)
{
	char *txt = capture_show(&alpha_backend, false);
	char *js = capture_show(&beta_backend, true);
	json_error_t jerr;
	json_t *root, *f;

	OSA_CHECK_CONTAINS(txt,
			   "alpha - Fixture backend alpha.\nABI 1.3; keys");
	/* No `kernel` method: no kernels shown. */
	OSA_CHECK(strstr(txt, "kernels") == NULL);
	OSA_CHECK_CONTAINS(txt,
			   "\n\n  KEY              TYPE             DEFAULT "
			   "   RANGE/CHOICES   DOC\n"
			   "  dim              integer          384     "
			   "   [1, 4096]       Vector dimension.\n"
			   "  metric           enum             \"cosine\""
			   "   cosine, l2, ip  Distance.\n");
	OSA_CHECK_CONTAINS(txt,
			   "  store            group            "
			   "                           Storage.\n"
			   "  store.dir        path             \"alpha\"    "
			   "                Where.\n");
	free(txt);
	txt = capture_show(&beta_backend, false);
	OSA_CHECK_CONTAINS(txt, "(secret)");
	OSA_CHECK_CONTAINS(txt, "(required)");
	OSA_CHECK(strstr(txt, "hunter2") == NULL);
	free(txt);

	root = json_loads(js, 0, &jerr);
	OSA_REQUIRE(root);
	OSA_CHECK_STR(json_string_value(json_object_get(root, "name")), "beta");
	OSA_CHECK_STR(json_string_value(json_object_get(root, "abi")), "1.3");
	f = json_array_get(json_object_get(root, "fields"), 0);
	OSA_CHECK_STR(json_string_value(json_object_get(f, "name")), "size");
	OSA_CHECK_STR(json_string_value(json_object_get(f, "type")), "integer");
	OSA_CHECK(json_integer_value(json_object_get(f, "default")) == 1000);
	OSA_CHECK(json_integer_value(json_object_get(f, "maximum")) ==
		  1099511627776LL);
	f = json_array_get(json_object_get(root, "fields"), 2);
	OSA_CHECK_STR(json_string_value(json_object_get(f, "default")),
		      "(secret)");
	f = json_array_get(json_object_get(root, "fields"), 3);
	OSA_CHECK(json_is_true(json_object_get(f, "required")));
	OSA_CHECK(json_object_get(f, "default") == NULL);
	OSA_CHECK_STR(json_string_value(
			      json_array_get(json_object_get(f, "choices"), 1)),
		      "exact");
	json_decref(root);
	free(js);

	js = capture_show(&alpha_backend, true);
	root = json_loads(js, 0, &jerr);
	OSA_REQUIRE(root);
	f = json_array_get(json_object_get(root, "fields"), 4);
	OSA_CHECK_STR(json_string_value(json_object_get(f, "name")), "store");
	OSA_CHECK_STR(json_string_value(json_object_get(
			      json_array_get(json_object_get(f, "fields"), 0),
			      "name")),
		      "dir");
	json_decref(root);
	free(js);
}

int main(void)
{
	struct osa_error err;

	OSA_REQUIRE(osai_registry_init(&err) == 0);
	OSA_REQUIRE(osa_backend_find("alpha") == &alpha_backend);
	init_available();
	test_good_file();
	test_bad_file();
	test_syntax_and_io();
	test_nul_byte();
	test_include();
	test_defaults();
	test_top_level_errors();
	test_server_checks();
	test_index_names();
	test_index_errors();
	test_attributes();
	test_all_at_once();
	test_markdown();
	test_json_schema();
	test_show();
	OSA_TEST_END();
}

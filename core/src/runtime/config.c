/* SPDX-License-Identifier: MIT */
/*
 * config.c - the runtime configuration file.  Reads it with libconfig,
 * validates the top-level settings against osai_core_schema and every index
 * (name, backend, config) against its backend's schema, and collects every
 * mistake of the file before refusing it: nothing is returned unless the
 * whole file is right.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libconfig.h>

#include "osa_autoconf.h"
#include "osai.h"

/* A configuration file larger than this is refused unread. */
#define CFG_MAX_FILE (16u << 20)

/* ---- the top-level schema --------------------------------------------- */

_Static_assert(OSA_LOG_DEBUG == 0 && OSA_LOG_INFO == 1 && OSA_LOG_WARN == 2 &&
		       OSA_LOG_ERROR == 3,
	       "logging.level choices are enum osa_log_level in order");
_Static_assert(OSAI_LOGFMT_TEXT == 0 && OSAI_LOGFMT_JSON == 1,
	       "logging.format choices are enum osai_log_format in order");
_Static_assert(OSAI_SRN_OSA == 0 && OSAI_SRN_ANY == 1,
	       "srn_format choices are enum osai_srn_format in order");

static const char *const cfg_levels[] = { "debug", "info", "warn", "error",
					  NULL };
static const char *const cfg_log_formats[] = { "text", "json", NULL };
static const char *const cfg_srn_formats[] = { "osa", "any", NULL };

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void cfg_tls_check(void *cfg, struct osa_check *chk)
{
	const struct osai_tls_config *t = cfg;

	if (!t->cert != !t->key)
		osa_check_error(chk, t->cert ? "key" : "cert",
				"set both cert and key, or neither (only %s "
				"is set)",
				t->cert ? "cert" : "key");
}

bool osai_url_is_loopback(const char *url)
{
	const char *h = strstr(url, "://");
	char host[256];
	size_t n;

	h = h ? h + 3 : url;
	if (*h == '[') {
		/* [v6]:port */
		n = strcspn(h + 1, "]");
		if (n >= sizeof(host))
			return false;
		memcpy(host, h + 1, n);
	} else {
		n = strcspn(h, ":/");
		if (n >= sizeof(host))
			return false;
		memcpy(host, h, n);
	}
	host[n] = '\0';
	return !strcmp(host, "localhost") || !strcmp(host, "::1") ||
	       (has_prefix(host, "127.") &&
		strspn(host, "0123456789.") == strlen(host));
}

static void cfg_server_check(void *cfg, struct osa_check *chk)
{
	const struct osai_server_config *s = cfg;
	bool open = !s->api_key || !*s->api_key;
	char q[300];

	if (*s->listen && !has_prefix(s->listen, "http://") &&
	    !has_prefix(s->listen, "https://")) {
		osai_quote(s->listen, q, sizeof(q));
		osa_check_error(chk, "listen",
				"expected \"\" (no HTTP) or a URL starting "
				"with http:// or https://, got %s",
				q);
	} else if (has_prefix(s->listen, "https://") && !s->tls.cert &&
		   !s->tls.key) {
		osa_check_error(chk, "listen",
				"an https:// URL needs tls.cert and tls.key "
				"(PEM files)");
	} else if (!has_prefix(s->listen, "https://") && s->tls.cert &&
		   s->tls.key) {
		osai_quote(s->listen, q, sizeof(q));
		osa_check_error(chk, "tls",
				"tls.cert and tls.key are set but listen is "
				"%s: use an https:// URL to serve TLS, or "
				"remove the tls group",
				q);
	}
#ifndef CONFIG_OSA_TLS
	if (has_prefix(s->listen, "https://") || s->tls.cert || s->tls.key)
		osa_check_error(chk,
				has_prefix(s->listen, "https://") ? "listen"
								  : "tls",
				"this osa was built without TLS: enable "
				"CONFIG_OSA_TLS (make menuconfig) and rebuild, "
				"or use http://");
#endif
	if (*s->nng && !has_prefix(s->nng, "ipc://") &&
	    !has_prefix(s->nng, "tcp://") && !has_prefix(s->nng, "inproc://")) {
		osai_quote(s->nng, q, sizeof(q));
		osa_check_error(chk, "nng",
				"expected \"\" (off) or a URL starting with "
				"ipc://, tcp:// or inproc://, got %s",
				q);
	}
	/* Writes without a key are for loopback only, unless asked for. */
	if (open && !s->allow_open_writes &&
	    (has_prefix(s->listen, "http://") ||
	     has_prefix(s->listen, "https://")) &&
	    !osai_url_is_loopback(s->listen)) {
		osai_quote(s->listen, q, sizeof(q));
		osa_check_error(chk, "listen",
				"%s reaches beyond loopback and no "
				"api_key is set, so anyone could write: set "
				"server.api_key, listen on 127.0.0.1, or set "
				"server.allow_open_writes = true",
				q);
	}
	if (open && !s->allow_open_writes && has_prefix(s->nng, "tcp://") &&
	    !osai_url_is_loopback(s->nng)) {
		osai_quote(s->nng, q, sizeof(q));
		osa_check_error(
			chk, "nng",
			"%s reaches beyond loopback and no "
			"api_key is set, so anyone could write: set "
			"server.api_key, use ipc:// or tcp://127.0.0.1, "
			"or set server.allow_open_writes = true",
			q);
	}
}

static void cfg_timeouts_check(void *cfg, struct osa_check *chk)
{
	const struct osai_timeouts_config *t = cfg;

	if (t->header > t->idle)
		osa_check_error(chk, "header",
				"header (%g s) is longer than idle (%g s): a "
				"kept-alive connection would be closed while "
				"its next request is still arriving",
				t->header, t->idle);
}

static const struct osa_field cfg_timeouts_fields[] = {
	OSA_FIELD_DOUBLE(struct osai_timeouts_config, header, "header", 10, 0.1,
			 3600,
			 "Seconds from a request's first byte to the end of "
			 "its head (request line and headers); then 408."),
	OSA_FIELD_DOUBLE(struct osai_timeouts_config, idle, "idle", 60, 0.1,
			 86400,
			 "Seconds a connection may wait for its next request "
			 "before it is closed."),
	OSA_FIELD_DOUBLE(struct osai_timeouts_config, body, "body", 60, 0.1,
			 3600,
			 "Seconds to receive a whole request body (then 408), "
			 "and to send a whole reply."),
	OSA_FIELD_END
};

static const struct osa_schema cfg_timeouts_schema = {
	.name = "server.timeouts",
	.size = sizeof(struct osai_timeouts_config),
	.fields = cfg_timeouts_fields,
	.check = cfg_timeouts_check,
};

static const struct osa_field cfg_tls_fields[] = {
	OSA_FIELD_PATH(struct osai_tls_config, cert, "cert", NULL,
		       "Server certificate chain (PEM file) for https://."),
	OSA_FIELD_PATH(struct osai_tls_config, key, "key", NULL,
		       "Private key (PEM file) of the certificate."),
	OSA_FIELD_END
};

static const struct osa_schema cfg_tls_schema = {
	.name = "server.tls",
	.size = sizeof(struct osai_tls_config),
	.fields = cfg_tls_fields,
	.check = cfg_tls_check,
};

static const struct osa_field cfg_server_fields[] = {
	OSA_FIELD_STRING(struct osai_server_config, listen, "listen",
			 "http://127.0.0.1:8080",
			 "HTTP listen URL (http:// or https://); \"\" turns "
			 "HTTP off."),
	OSA_FIELD_STRING(struct osai_server_config, nng, "nng", "",
			 "nng REQ/REP listen URL (ipc://, tcp:// or "
			 "inproc://); \"\" turns it off."),
	{ .name = "api_key",
	  .type = OSA_T_STRING,
	  .offset = offsetof(struct osai_server_config, api_key),
	  .flags = OSA_F_SECRET,
	  .def_str = "",
	  .doc = "Writes need `Authorization: Bearer <api_key>`; \"\" means "
		 "no key (allowed on loopback only, see allow_open_writes)." },
	OSA_FIELD_BOOL(struct osai_server_config, allow_open_writes,
		       "allow_open_writes", false,
		       "Allow listening beyond loopback (HTTP or nng tcp://) "
		       "without an api_key, so that anyone reaching it can "
		       "write."),
	OSA_FIELD_INT64(struct osai_server_config, max_body, "max_body",
			8388608, 1024, 1073741824,
			"Largest request body in bytes."),
	OSA_FIELD_INT(struct osai_server_config, max_query, "max_query", 4096,
		      16, 65536,
		      "Longest query text (q) in bytes, on every route and "
		      "protocol."),
	OSA_FIELD_BOOL(struct osai_server_config, osa_api, "osa_api", true,
		       "Serve the Open Science Archive's search API under "
		       "/api/v1 (docs/http-api.md, \"Coming from OSA\")."),
	OSA_FIELD_INT(struct osai_server_config, max_connections,
		      "max_connections", 0, 0, 1000000,
		      "Open HTTP connections at most; more get 503 with "
		      "Retry-After.  0: the open-file limit minus 1/8 of it "
		      "(at least 64, kept for the data directory), at most "
		      "4096."),
	OSA_FIELD_GROUP(struct osai_server_config, timeouts, "timeouts",
			&cfg_timeouts_schema,
			"How long a connection may take or wait, in seconds."),
	OSA_FIELD_GROUP(struct osai_server_config, tls, "tls", &cfg_tls_schema,
			"TLS for an https:// listen URL: both cert and key, "
			"or neither."),
	OSA_FIELD_END
};

static const struct osa_schema cfg_server_schema = {
	.name = "server",
	.size = sizeof(struct osai_server_config),
	.fields = cfg_server_fields,
	.check = cfg_server_check,
};

static const struct osa_field cfg_logging_fields[] = {
	OSA_FIELD_ENUM(struct osai_logging_config, level, "level", OSA_LOG_INFO,
		       cfg_levels, "Least severe message logged."),
	OSA_FIELD_ENUM(struct osai_logging_config, format, "format",
		       OSAI_LOGFMT_TEXT, cfg_log_formats,
		       "text: key=value lines; json: one JSON object a line."),
	OSA_FIELD_END
};

static const struct osa_schema cfg_logging_schema = {
	.name = "logging",
	.size = sizeof(struct osai_logging_config),
	.fields = cfg_logging_fields,
};

static const struct osa_field cfg_checkpoint_fields[] = {
	OSA_FIELD_INT(struct osai_checkpoint_config, ops, "ops", 10000, 1,
		      1000000000,
		      "Checkpoint an index after this many changes."),
	OSA_FIELD_INT(struct osai_checkpoint_config, seconds, "seconds", 60, 1,
		      86400, "... or after this many seconds with changes."),
	OSA_FIELD_INT(struct osai_checkpoint_config, replay_ops, "replay_ops",
		      100, 1, 1000000000,
		      "... or at once after opening, when replaying the log "
		      "applied this many changes (or took a second): a "
		      "process killed again and again never replays more at "
		      "each start."),
	OSA_FIELD_END
};

static const struct osa_schema cfg_checkpoint_schema = {
	.name = "checkpoint_interval",
	.size = sizeof(struct osai_checkpoint_config),
	.fields = cfg_checkpoint_fields,
};

static const struct osa_field cfg_core_fields[] = {
	OSA_FIELD_PATH(struct osai_core_config, data_dir, "data_dir", "./data",
		       "Directory of the journal and of every index's state; "
		       "relative to the configuration file's directory."),
	OSA_FIELD_GROUP(struct osai_core_config, server, "server",
			&cfg_server_schema, "HTTP and nng serving."),
	OSA_FIELD_GROUP(struct osai_core_config, logging, "logging",
			&cfg_logging_schema, "Log level and format."),
	OSA_FIELD_ENUM(struct osai_core_config, journal.srn_format,
		       "srn_format", OSAI_SRN_OSA, cfg_srn_formats,
		       "osa: srns must look like "
		       "urn:osa:<domain>:rec:<id>@<version>; any: any "
		       "non-empty string."),
	OSA_FIELD_INT64(struct osai_core_config, journal.max_record_bytes,
			"max_record_bytes", 1048576, 64, 67108864,
			"Largest record (JSON bytes) accepted."),
	OSA_FIELD_GROUP(struct osai_core_config, journal.checkpoint,
			"checkpoint_interval", &cfg_checkpoint_schema,
			"When indexes make their state durable."),
	OSA_FIELD_INT64(struct osai_core_config, journal.map_size, "map_size",
			67108864, 1048576, 1099511627776LL,
			"Initial size in bytes of the journal's LMDB map; it "
			"grows by itself."),
	OSA_FIELD_END
};

const struct osa_schema osai_core_schema = {
	.name = "osa",
	.size = sizeof(struct osai_core_config),
	.fields = cfg_core_fields,
};

/* ---- indexes ---------------------------------------------------------- */

/* The keys of an index group other than `config`. */
struct cfg_index {
	char *name;
	char *backend;
};

static const struct osa_field cfg_index_fields[] = {
	{ .name = "name",
	  .type = OSA_T_STRING,
	  .offset = offsetof(struct cfg_index, name),
	  .flags = OSA_F_REQUIRED,
	  .doc = "Index name." },
	{ .name = "backend",
	  .type = OSA_T_STRING,
	  .offset = offsetof(struct cfg_index, backend),
	  .flags = OSA_F_REQUIRED,
	  .doc = "Registered backend." },
	OSA_FIELD_END
};

static const struct osa_schema cfg_index_schema = {
	.name = "index",
	.size = sizeof(struct cfg_index),
	.fields = cfg_index_fields,
};

static const char *const cfg_root_extra[] = { "indexes", NULL };
static const char *const cfg_index_extra[] = { "config", "attributes", NULL };

/* One element of an index's `attributes` list. */
struct cfg_attr {
	char *name;
	int type; /* index into cfg_attr_types: enum osa_attr_type - 1 */
};

static const char *const cfg_attr_types[] = { "int",	  "float", "keyword",
					      "keywords", "bool",  "date",
					      NULL };
_Static_assert(OSA_ATTR_INT == 1 && OSA_ATTR_FLOAT == 2 &&
		       OSA_ATTR_KEYWORD == 3 && OSA_ATTR_KEYWORDS == 4 &&
		       OSA_ATTR_BOOL == 5 && OSA_ATTR_DATE == 6,
	       "cfg_attr_types follows enum osa_attr_type");

static const struct osa_field cfg_attr_fields[] = {
	{ .name = "name",
	  .type = OSA_T_STRING,
	  .offset = offsetof(struct cfg_attr, name),
	  .flags = OSA_F_REQUIRED,
	  .min = 1,
	  .max = 128,
	  .doc = "A top-level field of the records." },
	{ .name = "type",
	  .type = OSA_T_ENUM,
	  .offset = offsetof(struct cfg_attr, type),
	  .flags = OSA_F_REQUIRED,
	  .choices = cfg_attr_types,
	  .doc = "int (JSON integer), float (number), keyword (string), "
		 "keywords (list of strings), bool, date (ISO 8601 string)." },
	OSA_FIELD_END
};

static const struct osa_schema cfg_attr_schema = {
	.name = "attribute",
	.size = sizeof(struct cfg_attr),
	.fields = cfg_attr_fields,
};

/* Most attributes an index may declare. */
#define CFG_MAX_ATTRS 64

/* [a-z0-9][a-z0-9_-]{0,62}: it becomes a directory name. */
static bool cfg_valid_index_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > 63)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '_' || c == '-'))
			continue;
		return false;
	}
	return true;
}

static config_setting_t *cfg_member(const config_setting_t *g, const char *name)
{
	int i, n;

	if (!g || !config_setting_is_group(g))
		return NULL;
	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(g, (unsigned)i);

		if (config_setting_name(m) &&
		    !strcmp(config_setting_name(m), name))
			return m;
	}
	return NULL;
}

static void cfg_oom(struct osai_schema_ctx *ctx)
{
	if (!ctx->oom)
		osai_diag_add(ctx->diags, ctx->file, 0, NULL, "out of memory");
	ctx->oom = true;
}

static void cfg_unknown_backend(struct osai_schema_ctx *ctx,
				const config_setting_t *at, const char *path,
				const char *name)
{
	const struct osai_absent *a = osai_absent_find("backend", name);
	size_t n = osai_backend_count(), i, len = 1;
	const char **names;
	const char *sug;
	char q[300], *list, *o;

	if (a) {
		osai_schema_diag(
			ctx, at, path,
			"backend \"%s\" (found in %s) is not built "
			"in: enable %s (make menuconfig) and rebuild",
			name, a->where[0] ? a->where : "this build's Kconfig",
			a->symbol);
		return;
	}
	names = calloc(n ? n : 1, sizeof(*names));
	if (!names) {
		cfg_oom(ctx);
		return;
	}
	for (i = 0; i < n; i++) {
		names[i] = osai_backend_at(i)->name;
		len += strlen(names[i]) + 2;
	}
	list = malloc(len + sizeof("(none)"));
	if (!list) {
		free(names);
		cfg_oom(ctx);
		return;
	}
	o = list;
	*o = '\0';
	for (i = 0; i < n; i++)
		o += sprintf(o, "%s%s", i ? ", " : "", names[i]);
	if (!n)
		strcpy(list, "(none)");
	sug = osai_suggest(name, names, n);
	osai_quote(name, q, sizeof(q));
	if (sug)
		osai_schema_diag(ctx, at, path,
				 "unknown backend %s; did you mean \"%s\"? "
				 "available: %s",
				 q, sug, list);
	else
		osai_schema_diag(ctx, at, path,
				 "unknown backend %s; available: %s", q, list);
	free(list);
	free(names);
}

/* Whether `s` can be named in a filter: [A-Za-z_][A-Za-z0-9_.-]*, and not
 * one of the filter language's words. */
static bool cfg_valid_attr_name(const char *s)
{
	static const char *const words[] = { "and",  "or",    "not", "in",
					     "true", "false", NULL };
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      s[0] == '_'))
		return false;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '.' || s[i] == '-'))
			return false;
	for (i = 0; words[i]; i++)
		if (!strcasecmp(s, words[i]))
			return false;
	return true;
}

/* Validate an index's `attributes` list into ix->attrs. */
static void cfg_attributes(struct osai_schema_ctx *ctx,
			   struct osai_index_config *ix,
			   const config_setting_t *list, const char *ipath)
{
	struct osa_attr_decl *v;
	unsigned i, n;
	char got[300], path[200], q[300];

	if (!list)
		return;
	n = (unsigned)config_setting_length(list);
	snprintf(path, sizeof(path), "%s.attributes", ipath);
	if (config_setting_type(list) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(list) == CONFIG_TYPE_ARRAY && n == 0)) {
		osai_setting_describe(list, got, sizeof(got));
		osai_schema_diag(ctx, list, path,
				 "expected a list of groups like ( { name = "
				 "\"year\"; type = \"int\"; } ), got %s",
				 got);
		return;
	}
	if (n > CFG_MAX_ATTRS) {
		osai_schema_diag(ctx, list, path,
				 "%u attributes; at most %d may be declared", n,
				 CFG_MAX_ATTRS);
		return;
	}
	if (!n)
		return;
	v = calloc(n, sizeof(*v));
	if (!v) {
		cfg_oom(ctx);
		return;
	}
	ix->attrs.v = v;
	for (i = 0; i < n && !ctx->oom; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		const config_setting_t *nm = cfg_member(e, "name");
		struct cfg_attr a = { 0 };
		size_t j;

		snprintf(path, sizeof(path), "%s.attributes.[%u]", ipath, i);
		if (!config_setting_is_group(e)) {
			osai_setting_describe(e, got, sizeof(got));
			osai_schema_diag(ctx, e, path,
					 "expected a group like { name = "
					 "\"year\"; type = \"int\"; }, got %s",
					 got);
			continue;
		}
		/* A bad type still declares the name (for the checks
		 * below); the config fails anyway. */
		osai_schema_fill(ctx, &cfg_attr_schema, e, e, path, NULL, &a);
		if (!a.name) {
			osa_schema_release(&cfg_attr_schema, &a);
			continue;
		}
		osai_quote(a.name, q, sizeof(q));
		if (!cfg_valid_attr_name(a.name)) {
			osai_schema_diag(ctx, nm, path,
					 "attribute name %s cannot be used in "
					 "filters: use a letter or _ then "
					 "letters, digits, _, . and -, and not "
					 "AND, OR, NOT, IN, TRUE or FALSE",
					 q);
			osa_schema_release(&cfg_attr_schema, &a);
			continue;
		}
		for (j = 0; j < ix->attrs.n; j++)
			if (!strcmp(v[j].name, a.name))
				break;
		if (j < ix->attrs.n) {
			osai_schema_diag(ctx, nm, path,
					 "attribute %s is declared twice", q);
			osa_schema_release(&cfg_attr_schema, &a);
			continue;
		}
		v[ix->attrs.n].name = a.name;
		v[ix->attrs.n].type = (enum osa_attr_type)(a.type + 1);
		ix->attrs.n++;
		a.name = NULL;
		osa_schema_release(&cfg_attr_schema, &a);
	}
}

/* "indexes.<name>.<key>" (or the index's own path when key is NULL). */
static char *cfg_path(const char *ipath, const char *key)
{
	char *p;

	if (!key)
		return strdup(ipath);
	if (asprintf(&p, "%s.%s", ipath, key) < 0)
		return NULL;
	return p;
}

/* Validate index element `e` (number i) into cfg->indexes[cfg->n_indexes]. */
static void cfg_index(struct osai_schema_ctx *ctx, struct osai_config *cfg,
		      const config_setting_t *e, unsigned i)
{
	struct osai_index_config *ix = &cfg->indexes[cfg->n_indexes];
	const config_setting_t *nm = cfg_member(e, "name");
	const config_setting_t *bk = cfg_member(e, "backend");
	const config_setting_t *conf = cfg_member(e, "config");
	const struct osa_backend *b = NULL;
	struct cfg_index ci = { 0 };
	char ipath[96], got[300], q[300];
	char *p = NULL;
	size_t j;

	if (nm && config_setting_type(nm) == CONFIG_TYPE_STRING &&
	    config_setting_get_string(nm) &&
	    cfg_valid_index_name(config_setting_get_string(nm)))
		snprintf(ipath, sizeof(ipath), "indexes.%s",
			 config_setting_get_string(nm));
	else
		snprintf(ipath, sizeof(ipath), "indexes.[%u]", i);
	if (!config_setting_is_group(e)) {
		osai_setting_describe(e, got, sizeof(got));
		osai_schema_diag(ctx, e, ipath,
				 "expected an index group like { name = "
				 "\"papers\"; backend = \"vector\"; }, got %s",
				 got);
		return;
	}
	ix->line = (int)config_setting_source_line(e);
	cfg->n_indexes++;
	osai_schema_fill(ctx, &cfg_index_schema, e, e, ipath, cfg_index_extra,
			 &ci);
	if (ci.name) {
		p = cfg_path(ipath, "name");
		if (!p)
			goto oom;
		if (!cfg_valid_index_name(ci.name)) {
			osai_quote(ci.name, q, sizeof(q));
			osai_schema_diag(ctx, nm, p,
					 "%s is not a valid index name: use 1 "
					 "to 63 characters of a-z, 0-9, _ and "
					 "-, starting with a letter or digit",
					 q);
		} else {
			for (j = 0; j + 1 < cfg->n_indexes; j++)
				if (cfg->indexes[j].name &&
				    !strcmp(cfg->indexes[j].name, ci.name))
					break;
			if (j + 1 < cfg->n_indexes)
				osai_schema_diag(ctx, nm, p,
						 "duplicate index name \"%s\" "
						 "(first defined at line %d)",
						 ci.name, cfg->indexes[j].line);
			ix->name = ci.name;
			ci.name = NULL;
		}
		free(p);
		p = NULL;
	}
	if (ci.backend) {
		b = osa_backend_find(ci.backend);
		if (!b) {
			p = cfg_path(ipath, "backend");
			if (!p)
				goto oom;
			cfg_unknown_backend(ctx, bk, p, ci.backend);
			free(p);
			p = NULL;
		}
	}
	if (conf && !config_setting_is_group(conf)) {
		p = cfg_path(ipath, "config");
		if (!p)
			goto oom;
		osai_setting_describe(conf, got, sizeof(got));
		osai_schema_diag(ctx, conf, p, "expected a group, got %s", got);
		free(p);
		p = NULL;
	} else if (b && b->schema) {
		ix->backend = b;
		ix->config = calloc(1, b->schema->size ? b->schema->size : 1);
		p = cfg_path(ipath, "config");
		if (!ix->config || !p)
			goto oom;
		osai_schema_fill(ctx, b->schema, conf, e, p, NULL, ix->config);
		free(p);
		p = NULL;
	}
	cfg_attributes(ctx, ix, cfg_member(e, "attributes"), ipath);
	osa_schema_release(&cfg_index_schema, &ci);
	return;
oom:
	free(p);
	osa_schema_release(&cfg_index_schema, &ci);
	cfg_oom(ctx);
}

static void cfg_indexes(struct osai_schema_ctx *ctx, struct osai_config *cfg,
			const config_setting_t *list)
{
	unsigned i, n;
	char got[300];

	if (!list)
		return;
	n = (unsigned)config_setting_length(list);
	if (config_setting_type(list) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(list) == CONFIG_TYPE_ARRAY && n == 0)) {
		osai_setting_describe(list, got, sizeof(got));
		osai_schema_diag(
			ctx, list, "indexes",
			"expected a list of index groups like ( { "
			"name = \"papers\"; backend = \"vector\"; } ), "
			"got %s",
			got);
		return;
	}
	if (!n)
		return;
	cfg->indexes = calloc(n, sizeof(*cfg->indexes));
	if (!cfg->indexes) {
		cfg_oom(ctx);
		return;
	}
	for (i = 0; i < n && !ctx->oom; i++)
		cfg_index(ctx, cfg, config_setting_get_elem(list, i), i);
}

/* ---- loading ---------------------------------------------------------- */

void osai_config_free(struct osai_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	osa_schema_release(&osai_core_schema, &cfg->core);
	for (i = 0; i < cfg->n_indexes; i++) {
		struct osai_index_config *ix = &cfg->indexes[i];

		free(ix->name);
		for (size_t k = 0; k < ix->attrs.n; k++)
			free((char *)ix->attrs.v[k].name);
		free((void *)ix->attrs.v);
		if (ix->backend)
			osa_schema_free(ix->backend->schema, ix->config);
		else
			free(ix->config);
	}
	free(cfg->indexes);
	free(cfg->file);
	free(cfg->basedir);
	free(cfg);
}

/* Validate `text` (the whole file); see osai_config_load_string(). */
static int cfg_load(const char *text, const char *name, const char *basedir,
		    struct osai_config **out, struct osai_diags *d)
{
	struct osai_schema_ctx ctx = { .diags = d,
				       .file = name,
				       .basedir = basedir };
	size_t before = d->n;
	bool lost = d->oom;
	struct osai_config *cfg = NULL;
	config_setting_t *root;
	char *wide, fbuf[4096];
	config_t lc;
	int rc = 0;

	wide = osai_config_widen_ints(text);
	if (!wide) {
		cfg_oom(&ctx);
		return OSA_ENOMEM;
	}
	config_init(&lc);
	config_set_auto_convert(&lc, 0);
	config_set_include_dir(&lc, basedir);
	if (!config_read_string(&lc, wide)) {
		const char *ef = config_error_file(&lc);

		if (!ef) {
			ef = name;
		} else if (ef[0] != '/' && strcmp(basedir, ".")) {
			snprintf(fbuf, sizeof(fbuf), "%s/%s", basedir, ef);
			ef = fbuf;
		}
		osai_diag_add(d, ef, config_error_line(&lc), NULL, "%s",
			      config_error_text(&lc));
		rc = OSA_ECONFIG;
		goto out;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->file = strdup(name)) ||
	    !(cfg->basedir = strdup(basedir))) {
		cfg_oom(&ctx);
		rc = OSA_ENOMEM;
		goto out;
	}
	root = config_root_setting(&lc);
	osai_schema_fill(&ctx, &osai_core_schema, root, root, "",
			 cfg_root_extra, &cfg->core);
	if (!ctx.oom)
		cfg_indexes(&ctx, cfg, cfg_member(root, "indexes"));
	if (ctx.oom)
		rc = OSA_ENOMEM;
	else if (d->n > before || (d->oom && !lost))
		rc = OSA_ECONFIG;
out:
	config_destroy(&lc);
	free(wide);
	if (rc) {
		osai_config_free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

int osai_config_load_string(const char *text, const char *name,
			    const char *basedir, struct osai_config **out,
			    struct osai_diags *diags)
{
	if (!out || !diags)
		return OSA_EINVAL;
	*out = NULL;
	return cfg_load(text ? text : "", name ? name : "<string>",
			basedir ? basedir : ".", out, diags);
}

/* The whole file, NUL-terminated; NULL with errno set on failure. */
static char *cfg_read(const char *path, size_t *len)
{
	size_t cap = 0, n = 0, got;
	char *buf = NULL, *nb;
	FILE *f;
	int e;

	f = fopen(path, "r");
	if (!f)
		return NULL;
	for (;;) {
		if (n + 1 >= cap) {
			if (cap >= CFG_MAX_FILE) {
				e = EFBIG;
				goto fail;
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				e = ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (!got) {
			if (ferror(f)) {
				e = errno ? errno : EIO;
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(f);
	errno = e;
	return NULL;
}

int osai_config_load_file(const char *path, struct osai_config **out,
			  struct osai_diags *diags)
{
	char *text, *dir, *slash;
	const char *nul;
	size_t len = 0;
	int rc, line = 1;

	if (!out || !diags || !path)
		return OSA_EINVAL;
	*out = NULL;
	errno = 0;
	text = cfg_read(path, &len);
	if (!text) {
		osai_diag_add(diags, path, 0, NULL, "cannot read: %s",
			      errno == EFBIG ? "larger than 16 MiB"
					     : strerror(errno ? errno : EIO));
		return OSA_EIO;
	}
	nul = memchr(text, '\0', len);
	if (nul) {
		const char *p;

		for (p = text; p < nul; p++)
			line += *p == '\n';
		osai_diag_add(diags, path, line, NULL,
			      "a NUL byte: this is not a text file");
		free(text);
		return OSA_ECONFIG;
	}
	dir = strdup(path);
	if (!dir) {
		free(text);
		osai_diag_add(diags, path, 0, NULL, "out of memory");
		return OSA_ENOMEM;
	}
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	rc = cfg_load(text, path, dir, out, diags);
	free(dir);
	free(text);
	return rc;
}

const struct osai_index_config *osai_config_index(const struct osai_config *cfg,
						  const char *name)
{
	size_t i;

	if (!cfg || !name)
		return NULL;
	for (i = 0; i < cfg->n_indexes; i++)
		if (cfg->indexes[i].name && !strcmp(cfg->indexes[i].name, name))
			return &cfg->indexes[i];
	return NULL;
}

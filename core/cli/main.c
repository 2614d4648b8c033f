/* SPDX-License-Identifier: MIT */
/*
 * main.c - `osa`: global options, the command table and the dispatcher.
 *
 * Global options may stand before or after the command words:
 *   osa -c site.cfg config check   ==   osa config check -c site.cfg
 * Everything after `--` is left to the command.
 *
 * Signals: `osa serve` takes SIGHUP, SIGTERM and SIGINT with sigtimedwait in
 * its main loop (server.c), which works only if no thread leaves them
 * unblocked: the kernel hands a process signal to any thread that does not
 * block it, and the default action of these three kills the process.
 * OpenBLAS starts its threads in a constructor, before main(), so the mask
 * is set earlier still: in .preinit_array, which runs before the
 * initialisers of the executable and of every shared library.  Threads
 * inherit it.  Commands other than serve unblock them again in the main
 * thread, where their default action applies.
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <osa/osa.h>

#include "cli.h"

/* The signals osa serve handles (server.c's sigtimedwait set). */
static void osai_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

static void osai_block_signals(int argc, char **argv, char **envp)
{
	sigset_t set;

	(void)argc, (void)argv, (void)envp;
	osai_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Before any constructor (OpenBLAS starts threads in one). */
__attribute__((section(".preinit_array"),
	       used)) static void (*const osai_preinit)(int, char **, char **) =
	osai_block_signals;

static const struct osai_cmd commands[] = {
	{ "backends list", "[--json]",
	  "list the backends and embedders built in, and those not selected",
	  osai_cmd_backends_list },
	{ "backends show", "NAME [--json]",
	  "a backend's config schema: keys, types, defaults, ranges, docs",
	  osai_cmd_backends_show },
	{ "config check", "",
	  "validate the configuration file; every error at once (exit 78)",
	  osai_cmd_config_check },
	{ "config schema", "[--format markdown|json|man]",
	  "reference of every config key (Markdown), a JSON Schema, or "
	  "osa.cfg(5)",
	  osai_cmd_config_schema },
	{ "serve", "[--listen URL] [--nng URL]",
	  "serve HTTP (server.listen) and nng (server.nng) until SIGTERM",
	  osai_cmd_serve },
	{ "call", "URL JSON [--timeout MS]",
	  "send one request to a running server's nng socket", osai_cmd_call },
	{ "ingest", "[FILE|-] [--batch N] [--acks]",
	  "add or replace records (NDJSON or a JSON array)", osai_cmd_ingest },
	{ "search",
	  "INDEX[,INDEX...] QUERY [--limit N] [--offset N] [--ef N] "
	  "[--filter EXPR] [--facets A,B] [--json]",
	  "search an index (several: hybrid search, fused by RRF)",
	  osai_cmd_search },
	{ "get", "SRN", "print a record", osai_cmd_get },
	{ "delete", "SRN...", "delete records", osai_cmd_delete },
	{ "stats", "[--json]", "records and per-index counts and LSNs",
	  osai_cmd_stats },
	{ "health", "", "each index's state (exit 69 unless all ready)",
	  osai_cmd_health },
	{ "reindex", "NAME", "rebuild an index from the journal",
	  osai_cmd_reindex },
	{ "compact", "", "checkpoint, trim the log, give disk space back",
	  osai_cmd_compact },
	{ NULL, NULL, NULL, NULL }
};

static void usage(FILE *out, const char *prog)
{
	const struct osai_cmd *c;

	fprintf(out,
		"Usage: %s [-c FILE] COMMAND [ARGS...]\n"
		"Keep named search indexes over JSON records and query them.\n"
		"\nCommands:\n",
		prog);
	for (c = commands; c->words; c++) {
		char left[64];

		snprintf(left, sizeof(left), "%s %s", c->words, c->args);
		fprintf(out, "  %-40s %s\n", left, c->help);
	}
	fprintf(out,
		"\nOptions (before or after the command):\n"
		"  -c, --config FILE   runtime configuration (libconfig). "
		"Without it:\n"
		"                      $OSA_CONFIG, then ./osa.cfg, then the "
		"built-in default\n"
		"  --rebuild-from-journal\n"
		"                      rebuild every index from the journal, "
		"moving the old\n"
		"                      index files to data_dir/quarantine/ "
		"(after a lost or\n"
		"                      restored journal)\n"
		"  -h, --help          show this help and exit\n"
		"  -V, --version       show the version and exit\n"
		"\nExit status:\n"
		"   0  success\n"
		"   1  the operation failed (e.g. some records were rejected)\n"
		"  64  usage error (bad command line)\n"
		"  65  bad input data\n"
		"  66  a named file could not be opened\n"
		"  69  service unavailable (server down, index degraded)\n"
		"  70  internal error or a plugin refused at start (ABI, "
		"duplicates)\n"
		"  74  I/O error\n"
		"  75  temporary failure (data directory in use)\n"
		"  78  invalid configuration\n"
		"\nDocumentation: README.md, docs/config-reference.md, "
		"docs/backend-guide.md\n");
}

int osai_cli_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("osa: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'osa --help' for more information.\n", stderr);
	return OSAI_EXIT_USAGE;
}

bool osai_cli_flag(int argc, char **argv, int *i, const char *name)
{
	(void)argc;
	if (strcmp(argv[*i], name))
		return false;
	return true;
}

bool osai_cli_opt(int argc, char **argv, int *i, const char *name,
		  const char **val, bool *bad)
{
	size_t n = strlen(name); /* name ends with '=' */

	if (!strncmp(argv[*i], name, n)) {
		*val = argv[*i] + n;
		return true;
	}
	if (!strncmp(argv[*i], name, n - 1) && argv[*i][n - 1] == '\0') {
		if (*i + 1 >= argc) {
			osai_cli_usage("option %.*s needs a value",
				       (int)(n - 1), name);
			*bad = true;
			return true;
		}
		*val = argv[++*i];
		return true;
	}
	return false;
}

struct osai_config *osai_cli_config(struct osai_cli *cli, int *status)
{
	struct osai_diags diags = { 0 };
	int rc;

	if (cli->cfg)
		return cli->cfg;
	if (cli->config_path)
		rc = osai_config_load_file(cli->config_path, &cli->cfg, &diags);
	else
		rc = osai_config_load_string(osai_default_config, "<built-in>",
					     NULL, &cli->cfg, &diags);
	if (rc) {
		osai_diags_print(&diags, stderr);
		fprintf(stderr, "%s: %zu error%s; nothing was started\n",
			cli->config_path ? cli->config_path : "<built-in>",
			diags.n, diags.n == 1 ? "" : "s");
		*status = rc == OSA_EIO ? OSAI_EXIT_NOINPUT : OSAI_EXIT_CONFIG;
		osai_diags_free(&diags);
		return NULL;
	}
	osai_diags_free(&diags);
	osai_log_setup(cli->cfg->core.logging.level,
		       cli->cfg->core.logging.format);
	return cli->cfg;
}

int main(int argc, char **argv)
{
	struct osai_cli cli = { .prog = "osa" };
	struct osa_error err;
	char **rest;
	int nrest = 0, i, status;
	bool dashdash = false;
	const struct osai_cmd *c, *best = NULL;
	size_t best_words = 0;

	/* A file size limit must fail the write (EFBIG), not kill us. */
	signal(SIGXFSZ, SIG_IGN);
	rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (!rest) {
		fputs("osa: out of memory\n", stderr);
		return OSAI_EXIT_SOFTWARE;
	}
	/* Pull global options out from anywhere on the line. */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (dashdash) {
			rest[nrest++] = argv[i];
		} else if (!strcmp(a, "--")) {
			dashdash = true;
			rest[nrest++] = argv[i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout, cli.prog);
			free(rest);
			return OSAI_EXIT_OK;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("osa %s (plugin ABI: backend %u.%u, embedder "
			       "%u.%u)\n",
			       osa_version(), OSA_ABI_MAJOR(OSA_BACKEND_ABI),
			       OSA_ABI_MINOR(OSA_BACKEND_ABI),
			       OSA_ABI_MAJOR(OSA_EMBEDDER_ABI),
			       OSA_ABI_MINOR(OSA_EMBEDDER_ABI));
			free(rest);
			return OSAI_EXIT_OK;
		} else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
			if (i + 1 >= argc) {
				free(rest);
				return osai_cli_usage("option %s needs a FILE",
						      a);
			}
			cli.config_path = argv[++i];
			cli.config_from = "-c";
		} else if (!strcmp(a, "--rebuild-from-journal")) {
			cli.open_flags |= OSA_OPEN_REBUILD_FROM_JOURNAL;
		} else if (!strncmp(a, "--config=", 9)) {
			cli.config_path = a + 9;
			cli.config_from = "-c";
		} else if (!strncmp(a, "-c", 2)) {
			cli.config_path = a + 2;
			cli.config_from = "-c";
		} else {
			rest[nrest++] = argv[i];
		}
	}
	if (!cli.config_path) {
		const char *env = getenv("OSA_CONFIG");

		if (env && *env) {
			cli.config_path = env;
			cli.config_from = "OSA_CONFIG";
		} else if (access("osa.cfg", F_OK) == 0) {
			cli.config_path = "osa.cfg";
			cli.config_from = "./osa.cfg";
		} else {
			cli.config_from = "built-in";
		}
	}
	if (nrest == 0) {
		usage(stderr, cli.prog);
		free(rest);
		return OSAI_EXIT_USAGE;
	}

	/* The command whose words match the most leading arguments. */
	for (c = commands; c->words; c++) {
		const char *w = c->words;
		size_t k = 0;
		bool ok = true;

		while (*w && ok) {
			size_t len = strcspn(w, " ");

			if ((int)k >= nrest || strlen(rest[k]) != len ||
			    strncmp(rest[k], w, len))
				ok = false;
			k++;
			w += len;
			w += *w == ' ';
		}
		if (ok && k > best_words) {
			best = c;
			best_words = k;
		}
	}
	if (!best) {
		size_t len = strlen(rest[0]);
		bool group = false;

		for (c = commands; c->words; c++)
			if (!strncmp(c->words, rest[0], len) &&
			    c->words[len] == ' ')
				group = true;
		status =
			group ? osai_cli_usage("'%s' needs a subcommand: "
					       "see 'osa --help'",
					       rest[0])
			      : osai_cli_usage("unknown command '%s'", rest[0]);
		free(rest);
		return status;
	}
	if (osai_registry_init(&err)) {
		fprintf(stderr, "osa: %s\n", err.msg);
		free(rest);
		return OSAI_EXIT_SOFTWARE;
	}
	if (best->run != osai_cmd_serve) {
		sigset_t set;

		osai_signals(&set);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	}
	status = best->run(&cli, nrest - (int)best_words, rest + best_words);
	osai_config_free(cli.cfg);
	free(rest);
	return status;
}

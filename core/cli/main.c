/* SPDX-License-Identifier: MIT */
/*
 * main.c - `osa`: global options, the command table and the dispatcher.
 *
 * Global options may stand before or after the command words:
 *   osa -c site.cfg config check   ==   osa config check -c site.cfg
 * Everything after `--` is left to the command.  Options are parsed with
 * getopt_long(3) in its in-order mode: the global pass takes its own
 * options out of the line and keeps everything else in order for the
 * command, whose options are parsed the same way (osai_cli_getopt).
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
#include <getopt.h>
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

int osai_cli_operands(const char *cmd, int *argc, char **argv)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	int o, n = 0;

	while ((o = osai_cli_getopt(cmd, *argc, argv, none)) != -1) {
		if (o != 1)
			return OSAI_EXIT_USAGE;
		argv[n++] = optarg; /* over slots getopt has passed */
	}
	*argc = n;
	return 0;
}

int osai_cli_getopt(const char *cmd, int argc, char **argv,
		    const struct option *opts)
{
	int o;

	/* Operands after "--" come one by one, like the others. */
	if (osai_cli_dashdash) {
		if (optind >= argc)
			return -1;
		optarg = argv[optind++];
		return 1;
	}
	opterr = 0;
	o = getopt_long(argc, argv, "-:", opts, NULL);
	switch (o) {
	case -1:
		if (optind >= argc)
			return -1;
		osai_cli_dashdash = true; /* getopt stopped at "--" */
		return osai_cli_getopt(cmd, argc, argv, opts);
	case ':':
		osai_cli_usage("%s: option %s needs a value", cmd,
			       argv[optind - 1]);
		return OSAI_CLI_BAD;
	case '?':
		osai_cli_usage("%s: unknown option '%s'", cmd,
			       argv[optind - 1]);
		return OSAI_CLI_BAD;
	default:
		return o;
	}
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

/* The options any command takes, before or after its words. */
enum { OPT_REBUILD = 256 };
static const struct option global_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "rebuild-from-journal", no_argument, NULL, OPT_REBUILD },
	{ NULL, 0, NULL, 0 }
};

bool osai_cli_dashdash;

int main(int argc, char **argv)
{
	struct osai_cli cli = { .prog = "osa" };
	struct osa_error err;
	char **rest;
	int nrest = 0, status, o, at;
	const struct osai_cmd *c, *best = NULL;
	size_t best_words = 0;

	/* A file size limit must fail the write (EFBIG), not kill us. */
	signal(SIGXFSZ, SIG_IGN);
	rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (!rest) {
		fputs("osa: out of memory\n", stderr);
		return OSAI_EXIT_SOFTWARE;
	}
	/*
	 * Pull global options out from anywhere on the line; everything else
	 * (operands, the command's options, "--" and what follows it) stays
	 * in order for the command.  rest[0] is left for the command's name.
	 */
	nrest = 1;
	opterr = 0;
	for (;;) {
		at = optind;
		o = getopt_long(argc, argv, "-:c:hV", global_options, NULL);
		if (o == -1)
			break;
		switch (o) {
		case 1:
			rest[nrest++] = optarg;
			break;
		case 'h':
			usage(stdout, cli.prog);
			free(rest);
			return OSAI_EXIT_OK;
		case 'V':
			printf("osa %s (plugin ABI: backend %u.%u, embedder "
			       "%u.%u)\n",
			       osa_version(), OSA_ABI_MAJOR(OSA_BACKEND_ABI),
			       OSA_ABI_MINOR(OSA_BACKEND_ABI),
			       OSA_ABI_MAJOR(OSA_EMBEDDER_ABI),
			       OSA_ABI_MINOR(OSA_EMBEDDER_ABI));
			printf("linked: %s\n", OSAI_LINKAGE);
			free(rest);
			return OSAI_EXIT_OK;
		case 'c':
			cli.config_path = optarg;
			cli.config_from = "-c";
			break;
		case OPT_REBUILD:
			cli.open_flags |= OSA_OPEN_REBUILD_FROM_JOURNAL;
			break;
		case ':':
			free(rest);
			return osai_cli_usage("option %s needs a FILE",
					      argv[optind - 1]);
		default: /* '?': the command's own option, once complete */
			if (optind > at)
				rest[nrest++] = argv[optind - 1];
			break;
		}
	}
	if (optind < argc) { /* stopped at "--": the rest is the command's */
		rest[nrest++] = argv[optind - 1];
		while (optind < argc)
			rest[nrest++] = argv[optind++];
	}
	rest++;
	nrest--;
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
		free(rest - 1);
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
		free(rest - 1);
		return status;
	}
	if (osai_registry_init(&err)) {
		fprintf(stderr, "osa: %s\n", err.msg);
		free(rest - 1);
		return OSAI_EXIT_SOFTWARE;
	}
	if (best->run != osai_cmd_serve) {
		sigset_t set;

		osai_signals(&set);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	}
	/* The command's argv: its last word, then what follows (getopt's
	 * convention), parsed from the start. */
	optind = 0;
	osai_cli_dashdash = false;
	status = best->run(&cli, nrest - (int)best_words + 1,
			   rest + best_words - 1);
	osai_config_free(cli.cfg);
	free(rest - 1);
	return status;
}

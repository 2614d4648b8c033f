/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the `osa` command dispatcher's shared pieces.  Each command lives
 * in a cmd_*.c file and is listed once in main.c's table.
 */
#ifndef OSA_CLI_H
#define OSA_CLI_H

#include <stdbool.h>

#include "osai.h"

struct osai_cli {
	const char *prog;	 /* "osa" */
	const char *config_path; /* -c / $OSA_CONFIG / ./osa.cfg, or NULL */
	const char
		*config_from; /* "-c", "OSA_CONFIG", "./osa.cfg", "built-in" */
	struct osai_config *cfg; /* loaded by osai_cli_config() */
	unsigned open_flags;	 /* OSA_OPEN_*: --rebuild-from-journal */
};

/* A command: the words that name it, its handler and one line of help. */
struct osai_cmd {
	const char *words; /* "backends list" */
	const char *args;  /* "[--json]" */
	const char *help;
	/* argv holds what follows the command words; returns an exit status */
	int (*run)(struct osai_cli *cli, int argc, char **argv);
};

/*
 * Load and validate the configuration (once).  On failure prints every
 * diagnostic to stderr and returns NULL with *status set to the exit status
 * (OSAI_EXIT_CONFIG, OSAI_EXIT_NOINPUT).
 */
struct osai_config *osai_cli_config(struct osai_cli *cli, int *status);

/* The built-in default configuration (configs/examples/default.cfg). */
extern const char osai_default_config[];

/*
 * Tiny option matcher for commands.  Returns true and advances *i when
 * argv[*i] is `name` (a flag) ; for options with a value (`name` ends with
 * '='), accepts "--opt=VAL" and "--opt VAL" and sets *val.  Prints an error
 * and sets *bad when the value is missing.
 */
bool osai_cli_flag(int argc, char **argv, int *i, const char *name);
bool osai_cli_opt(int argc, char **argv, int *i, const char *name,
		  const char **val, bool *bad);

/* Print "osa: <msg>" to stderr (and a hint to run --help) and return
 * OSAI_EXIT_USAGE. */
int osai_cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Commands. */
int osai_cmd_backends_list(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_backends_show(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_config_check(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_config_schema(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_ingest(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_search(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_get(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_delete(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_stats(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_health(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_reindex(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_compact(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_serve(struct osai_cli *cli, int argc, char **argv);
int osai_cmd_call(struct osai_cli *cli, int argc, char **argv);

struct osa_db;
/* Open the data directory of the configuration (cli->cfg moves into the
 * service).  On failure prints why and sets *status. */
struct osa_db *osai_cli_open(struct osai_cli *cli, int *status);

#endif /* OSA_CLI_H */

/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the `osa` command dispatcher's shared pieces.  Each command lives
 * in a cmd_*.c file and is listed once in main.c's table.
 */
#ifndef OSA_CLI_H
#define OSA_CLI_H

#include <getopt.h>
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
	/* argv[0] is the last command word, what follows is argv[1..argc);
	 * returns an exit status */
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
 * The next option of a command, by getopt_long(3) in its in-order mode.
 * `argv[0]` is the command's last word and its arguments follow (as main()
 * hands them over, optind reset); `opts` lists the command's long options
 * (`val` >= 256, or a letter), NULL-terminated.  Returns an option's `val`
 * (its value in `optarg`), 1 for an operand (in `optarg`, in command-line
 * order, also after "--"), -1 at the end, or OSAI_CLI_BAD after printing a
 * usage error naming `cmd` (unknown option, missing value): return
 * OSAI_EXIT_USAGE then.  Long options may be abbreviated, and take their
 * value as --opt=VAL or --opt VAL.
 */
#define OSAI_CLI_BAD (-2)
int osai_cli_getopt(const char *cmd, int argc, char **argv,
		    const struct option *opts);
/*
 * A command without options: its operands, in order, into argv[0..*argc)
 * (over the slots already parsed).  0, or OSAI_EXIT_USAGE after printing a
 * usage error (an option).
 */
int osai_cli_operands(const char *cmd, int *argc, char **argv);
/* A "--" was seen: what follows is operands (osai_cli_getopt's state). */
extern bool osai_cli_dashdash;

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

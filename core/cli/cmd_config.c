/* SPDX-License-Identifier: MIT */
/* cmd_config.c - `osa config check` and `osa config schema`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "httpd.h"

int osai_cmd_config_check(struct osai_cli *cli, int argc, char **argv)
{
	struct osai_config *cfg;
	int status;
	size_t i;

	if (osai_cli_operands("config check", &argc, argv))
		return OSAI_EXIT_USAGE;
	if (argc > 0)
		return osai_cli_usage("config check: unexpected '%s' (the "
				      "file is given with -c FILE)",
				      argv[0]);
	cfg = osai_cli_config(cli, &status);
	if (!cfg)
		return status;
	/* The certificate and key are loaded as `serve` will load them. */
	if (cfg->core.server.tls.cert && cfg->core.server.tls.key) {
		struct osa_error err = { 0 };

		if (osai_tls_check(cfg->core.server.tls.cert,
				   cfg->core.server.tls.key, &err)) {
			fprintf(stderr, "%s: %s\n", cfg->file, err.msg);
			return OSAI_EXIT_CONFIG;
		}
	}
	printf("%s: ok (%s), data_dir %s, %zu index%s", cfg->file,
	       cli->config_from, cfg->core.data_dir, cfg->n_indexes,
	       cfg->n_indexes == 1 ? "" : "es");
	for (i = 0; i < cfg->n_indexes; i++)
		printf("%s%s (%s)", i ? ", " : ": ", cfg->indexes[i].name,
		       cfg->indexes[i].backend->name);
	putchar('\n');
	return OSAI_EXIT_OK;
}

int osai_cmd_config_schema(struct osai_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { NULL, 0, NULL, 0 }
	};
	const char *format = "markdown";
	int o, rc;

	(void)cli;
	while ((o = osai_cli_getopt("config schema", argc, argv, opts)) != -1) {
		if (o == 'f')
			format = optarg;
		else if (o == 1)
			return osai_cli_usage("config schema: unexpected '%s'",
					      optarg);
		else
			return OSAI_EXIT_USAGE;
	}
	if (!strcmp(format, "markdown") || !strcmp(format, "md"))
		rc = osai_schema_markdown(stdout);
	else if (!strcmp(format, "json"))
		rc = osai_schema_json(stdout);
	else if (!strcmp(format, "man"))
		rc = osai_schema_man(stdout);
	else
		return osai_cli_usage("config schema: --format is markdown, "
				      "json or man, not '%s'",
				      format);
	return rc ? OSAI_EXIT_SOFTWARE : OSAI_EXIT_OK;
}

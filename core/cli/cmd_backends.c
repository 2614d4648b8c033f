/* SPDX-License-Identifier: MIT */
/* cmd_backends.c - `osa backends list` and `osa backends show NAME`. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static json_t *abi_json(unsigned abi)
{
	return json_sprintf("%u.%u", OSA_ABI_MAJOR(abi), OSA_ABI_MINOR(abi));
}

static int print_json(json_t *doc)
{
	int rc = 0;

	if (!doc ||
	    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) {
		fputs("osa: out of memory\n", stderr);
		rc = OSAI_EXIT_SOFTWARE;
	} else {
		putchar('\n');
	}
	json_decref(doc);
	return rc;
}

static int list_json(void)
{
	json_t *doc = json_object(), *b = json_array(), *e = json_array(),
	       *a = json_array();
	const struct osai_absent *p;
	size_t i;

	for (i = 0; i < osai_backend_count(); i++) {
		const struct osa_backend *x = osai_backend_at(i);

		json_array_append_new(b, json_pack("{s:s, s:s, s:o}", "name",
						   x->name, "doc",
						   x->doc ? x->doc : "", "abi",
						   abi_json(x->abi)));
	}
	for (i = 0; i < osai_embedder_count(); i++) {
		const struct osa_embedder *x = osai_embedder_at(i);

		json_array_append_new(e, json_pack("{s:s, s:s, s:o}", "name",
						   x->name, "doc",
						   x->doc ? x->doc : "", "abi",
						   abi_json(x->abi)));
	}
	for (p = osai_absent_plugins; p->name; p++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "kind",
						   p->kind, "name", p->name,
						   "kconfig", p->symbol));
	json_object_set_new(doc, "backends", b);
	json_object_set_new(doc, "embedders", e);
	json_object_set_new(doc, "not_built_in", a);
	json_object_set_new(doc, "linked", json_string(OSAI_LINKAGE));
	return print_json(doc);
}

int osai_cmd_backends_list(struct osai_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 }
	};
	const struct osai_absent *p;
	bool json = false;
	size_t i;
	int o;

	(void)cli;
	while ((o = osai_cli_getopt("backends list", argc, argv, opts)) != -1) {
		if (o == 'j')
			json = true;
		else if (o == 1)
			return osai_cli_usage("backends list: unexpected '%s'",
					      optarg);
		else
			return OSAI_EXIT_USAGE;
	}
	if (json)
		return list_json();
	printf("Binary linked: %s\n", OSAI_LINKAGE);
	printf("Backends:\n");
	if (!osai_backend_count())
		printf("  (none built in)\n");
	for (i = 0; i < osai_backend_count(); i++) {
		const struct osa_backend *x = osai_backend_at(i);

		printf("  %-12s %s\n", x->name, x->doc ? x->doc : "");
	}
	printf("Embedders:\n");
	if (!osai_embedder_count())
		printf("  (none built in)\n");
	for (i = 0; i < osai_embedder_count(); i++) {
		const struct osa_embedder *x = osai_embedder_at(i);

		printf("  %-12s %s\n", x->name, x->doc ? x->doc : "");
	}
	if (osai_absent_plugins[0].name) {
		printf("Seen by this build but not built in (make "
		       "menuconfig):\n");
		for (p = osai_absent_plugins; p->name; p++)
			printf("  %-12s %-9s enable %s%s%s%s\n", p->name,
			       p->kind, p->symbol, p->where[0] ? "  (" : "",
			       p->where, p->where[0] ? ")" : "");
	}
	return OSAI_EXIT_OK;
}

int osai_cmd_backends_show(struct osai_cli *cli, int argc, char **argv)
{
	const struct osa_backend *b;
	const struct osai_absent *a;
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 }
	};
	const char *name = NULL;
	bool json = false;
	int o;

	(void)cli;
	while ((o = osai_cli_getopt("backends show", argc, argv, opts)) != -1) {
		if (o == 'j')
			json = true;
		else if (o == 1 && !name)
			name = optarg;
		else if (o == 1)
			return osai_cli_usage("backends show: unexpected '%s'",
					      optarg);
		else
			return OSAI_EXIT_USAGE;
	}
	if (!name)
		return osai_cli_usage("backends show: which backend? "
				      "('osa backends list' lists them)");
	b = osa_backend_find(name);
	if (!b) {
		a = osai_absent_find("backend", name);
		if (a)
			fprintf(stderr,
				"osa: backend \"%s\" (found in %s) is not "
				"built in: enable %s (make menuconfig) and "
				"rebuild\n",
				name,
				a->where[0] ? a->where : "this build's Kconfig",
				a->symbol);
		else
			fprintf(stderr,
				"osa: unknown backend \"%s\"; 'osa backends "
				"list' lists the %zu built in\n",
				name, osai_backend_count());
		return OSAI_EXIT_USAGE;
	}
	if (osai_schema_show(b, json, stdout))
		return OSAI_EXIT_SOFTWARE;
	return OSAI_EXIT_OK;
}

/* SPDX-License-Identifier: MIT */
/*
 * cmd_data.c - the data commands: ingest, search, get, delete, stats,
 * health, reindex, compact.  They open the data directory themselves (and
 * so refuse to run while a server holds it).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "service.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exit_for(int code)
{
	switch (code) {
	case OSA_EBUSY:
		return OSAI_EXIT_TEMPFAIL;
	case OSA_EIO:
	case OSA_ENOSPC:
	case OSA_ECORRUPT: /* stored data failed a check: "journal truncated" */
		return OSAI_EXIT_IOERR;
	case OSA_ECONFIG:
		return OSAI_EXIT_CONFIG;
	case OSA_EDEGRADED:
		return OSAI_EXIT_UNAVAIL;
	case OSA_EINVAL:
	case OSA_ERANGE:
	case OSA_ENOFEATURES:
		return OSAI_EXIT_DATAERR;
	default:
		return OSAI_EXIT_SOFTWARE;
	}
}

static void progress_cb(void *ctx, const char *index, uint64_t done,
			uint64_t total)
{
	static double last;
	double t = now_s();

	(void)ctx;
	if (t - last < 0.5 && done < total)
		return;
	last = t;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\rrebuilding %s: %llu/%llu records%s", index,
			(unsigned long long)done, (unsigned long long)total,
			done >= total ? "\n" : "");
	else
		osa_log(OSA_LOG_INFO, "index=%s rebuilding %llu/%llu", index,
			(unsigned long long)done, (unsigned long long)total);
}

struct osai_service *osai_cli_open(struct osai_cli *cli, int *status)
{
	struct osa_open_options opt = { progress_cb, NULL, cli->open_flags };
	struct osai_service *s;
	struct osai_config *cfg = osai_cli_config(cli, status);
	struct osa_error err;
	int rc;

	if (!cfg)
		return NULL;
	cli->cfg = NULL; /* the service owns it now */
	rc = osai_service_open(cfg, &opt, &s, &err);
	if (rc) {
		fprintf(stderr, "osa: %s\n", err.msg);
		*status = exit_for(rc);
		return NULL;
	}
	return s;
}

/* ---- ingest ------------------------------------------------------------ */

struct ingest {
	struct osai_service *s;
	size_t batch;
	char **docs;
	size_t *lens;
	long *lines;
	size_t n;
	uint64_t ok, bad, batches;
	double t0, last_report;
	int64_t bytes_total, bytes_done;
	int tty;
	bool acks; /* print "ack lsn=L line=N" after each durable batch */
};

static void ingest_report(struct ingest *g, int final)
{
	double t = now_s(), rate = (double)g->ok / (t - g->t0 + 1e-9);

	if (!final && t - g->last_report < (g->tty ? 0.2 : 5.0))
		return;
	g->last_report = t;
	if (g->tty) {
		double frac =
			g->bytes_total > 0
				? (double)g->bytes_done / (double)g->bytes_total
				: 0;
		int w = (int)(frac * 30), i;
		char bar[31];

		for (i = 0; i < 30; i++)
			bar[i] = i < w ? '#' : '.';
		bar[30] = '\0';
		if (g->bytes_total > 0 && frac > 0 && !final)
			fprintf(stderr,
				"\r[%s] %3.0f%% %llu records %.0f/s ETA %.0fs ",
				bar, frac * 100, (unsigned long long)g->ok,
				rate, (t - g->t0) * (1 - frac) / frac);
		else
			fprintf(stderr, "\r%llu records %.0f/s        ",
				(unsigned long long)g->ok, rate);
		if (final)
			fputc('\n', stderr);
	} else if (!final) {
		osa_log(OSA_LOG_INFO,
			"ingest records=%llu rejected=%llu "
			"rate=%.0f/s",
			(unsigned long long)g->ok, (unsigned long long)g->bad,
			rate);
	}
}

static int ingest_flush(struct ingest *g, const char *src)
{
	struct osa_rejects rej = { 0 };
	struct osa_error err;
	uint64_t lsn;
	size_t i, k;
	int rc;

	if (!g->n)
		return 0;
	rc = osa_ingest((struct osa_db *)g->s, (const char *const *)g->docs,
			g->lens, g->n, &lsn, &rej, &err);
	if (rc == OSA_EINVAL && rej.n) {
		/* Name the bad records, commit the good ones. */
		for (i = 0; i < rej.n; i++) {
			long line = g->lines[rej.v[i].position];

			fprintf(stderr, "osa: %s:%ld: rejected%s%s: %s\n", src,
				line, rej.v[i].srn ? " " : "",
				rej.v[i].srn ? rej.v[i].srn : "",
				rej.v[i].message ? rej.v[i].message : "");
			free(g->docs[rej.v[i].position]);
			g->docs[rej.v[i].position] = NULL;
		}
		g->bad += rej.n;
		osa_rejects_free(&rej);
		for (i = k = 0; i < g->n; i++)
			if (g->docs[i]) {
				g->docs[k] = g->docs[i];
				g->lens[k] = g->lens[i];
				g->lines[k++] = g->lines[i];
			}
		g->n = k;
		if (!k)
			return 0;
		rc = osa_ingest((struct osa_db *)g->s,
				(const char *const *)g->docs, g->lens, g->n,
				&lsn, &rej, &err);
	}
	osa_rejects_free(&rej);
	if (rc) {
		fprintf(stderr,
			"osa: %s: batch ending at line %ld not "
			"written: %s\n",
			src, g->lines[g->n - 1], err.msg);
		return rc;
	}
	g->ok += g->n;
	g->batches++;
	if (g->acks) {
		printf("ack lsn=%llu line=%ld\n", (unsigned long long)lsn,
		       g->lines[g->n - 1]);
		fflush(stdout);
	}
	for (i = 0; i < g->n; i++)
		free(g->docs[i]);
	g->n = 0;
	ingest_report(g, 0);
	return 0;
}

static int ingest_add(struct ingest *g, char *doc, size_t len, long line,
		      const char *src)
{
	g->docs[g->n] = doc;
	g->lens[g->n] = len;
	g->lines[g->n++] = line;
	return g->n == g->batch ? ingest_flush(g, src) : 0;
}

int osai_cmd_ingest(struct osai_cli *cli, int argc, char **argv)
{
	struct ingest g = { 0 };
	const char *file = NULL, *bs = NULL;
	FILE *in;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	bool bad = false;
	int k, status = 0, rc = 0, c;

	g.batch = 1000;
	for (k = 0; k < argc; k++) {
		if (osai_cli_opt(argc, argv, &k, "--batch=", &bs, &bad)) {
			char *end;

			if (bad)
				return OSAI_EXIT_USAGE;
			g.batch = strtoul(bs, &end, 10);
			if (*end || g.batch < 1 || g.batch > 1000000)
				return osai_cli_usage("ingest: --batch is 1 to "
						      "1000000, not '%s'",
						      bs);
		} else if (osai_cli_flag(argc, argv, &k, "--acks")) {
			g.acks = true;
		} else if (argv[k][0] == '-' && argv[k][1] && !file) {
			return osai_cli_usage("ingest: unknown option '%s'",
					      argv[k]);
		} else if (!file) {
			file = argv[k];
		} else {
			return osai_cli_usage("ingest: one FILE at a time");
		}
	}
	if (!file)
		file = "-";
	in = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!in) {
		fprintf(stderr, "osa: %s: %s\n", file, strerror(errno));
		return OSAI_EXIT_NOINPUT;
	}
	if (in != stdin) {
		struct stat st;

		if (!fstat(fileno(in), &st))
			g.bytes_total = st.st_size;
	}
	g.s = osai_cli_open(cli, &status);
	if (!g.s) {
		if (in != stdin)
			fclose(in);
		return status;
	}
	g.docs = calloc(g.batch, sizeof(*g.docs));
	g.lens = calloc(g.batch, sizeof(*g.lens));
	g.lines = calloc(g.batch, sizeof(*g.lines));
	if (!g.docs || !g.lens || !g.lines) {
		fputs("osa: out of memory\n", stderr);
		rc = OSA_ENOMEM;
		goto out;
	}
	g.tty = isatty(STDERR_FILENO);
	g.t0 = g.last_report = now_s();
	/* A JSON array, or NDJSON. */
	do
		c = fgetc(in);
	while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
	if (c != EOF)
		ungetc(c, in);
	if (c == '[') {
		json_error_t je;
		json_t *arr = json_loadf(in, OSAI_JSON_IN, &je);
		size_t i;

		if (!arr || !json_is_array(arr)) {
			fprintf(stderr, "osa: %s:%d:%d: %s\n", file,
				arr ? 1 : je.line, arr ? 1 : je.column,
				arr ? "expected a JSON array of records"
				    : je.text);
			json_decref(arr);
			rc = OSA_EINVAL;
			g.bad++;
			goto out;
		}
		for (i = 0; i < json_array_size(arr) && !rc; i++) {
			char *d = json_dumps(json_array_get(arr, i),
					     JSON_COMPACT | JSON_ENCODE_ANY |
						     JSON_PRESERVE_ORDER);

			if (!d) {
				rc = OSA_ENOMEM;
				break;
			}
			g.bytes_done = g.bytes_total * (int64_t)(i + 1) /
				       (int64_t)json_array_size(arr);
			rc = ingest_add(&g, d, strlen(d), (long)i + 1, file);
		}
		json_decref(arr);
	} else {
		while (!rc && (len = getline(&line, &cap, in)) >= 0) {
			char *d;

			lineno++;
			g.bytes_done += len;
			while (len > 0 &&
			       (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = '\0';
			if (len == 0)
				continue;
			d = malloc((size_t)len + 1);
			if (!d) {
				rc = OSA_ENOMEM;
				break;
			}
			memcpy(d, line, (size_t)len + 1);
			rc = ingest_add(&g, d, (size_t)len, lineno, file);
		}
	}
	if (!rc)
		rc = ingest_flush(&g, file);
out:
	ingest_report(&g, 1);
	fprintf(stderr,
		"osa: ingested %llu records in %llu batches, %llu "
		"rejected, %.1fs\n",
		(unsigned long long)g.ok, (unsigned long long)g.batches,
		(unsigned long long)g.bad, now_s() - g.t0);
	while (g.docs && g.n)
		free(g.docs[--g.n]);
	free(g.docs);
	free(g.lens);
	free(g.lines);
	free(line);
	if (in != stdin)
		fclose(in);
	osai_service_close(g.s);
	if (rc)
		return exit_for(rc);
	return g.bad ? OSAI_EXIT_FAIL : OSAI_EXIT_OK;
}

/* ---- search ------------------------------------------------------------ */

static int parse_size(const char *what, const char *v, size_t lo, size_t hi,
		      size_t *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || !*v || v[0] == '-' || x < lo || x > hi) {
		osai_cli_usage("%s must be %zu to %zu, not '%s'", what, lo, hi,
			       v);
		return -1;
	}
	*out = (size_t)x;
	return 0;
}

int osai_cmd_search(struct osai_cli *cli, int argc, char **argv)
{
	struct osa_search q = { .limit = 10 };
	const char *v = NULL, *pos[2] = { NULL, NULL };
	struct osa_results *r = NULL;
	struct osai_service *s;
	struct osa_error err;
	bool json = false, bad = false;
	size_t ef = 0, npos = 0, i;
	int k, status = 0, rc;
	char *names = NULL, *facets = NULL, *tok, *save;
	const char *idx[OSA_MAX_FUSED_INDEXES], *fac[64];

	for (k = 0; k < argc; k++) {
		if (osai_cli_flag(argc, argv, &k, "--json")) {
			json = true;
		} else if (osai_cli_opt(argc, argv, &k, "--limit=", &v, &bad)) {
			if (bad || parse_size("--limit", v, 1, 100, &q.limit))
				return OSAI_EXIT_USAGE;
		} else if (osai_cli_opt(argc, argv, &k, "--offset=", &v,
					&bad)) {
			if (bad ||
			    parse_size("--offset", v, 0, 1000000, &q.offset))
				return OSAI_EXIT_USAGE;
		} else if (osai_cli_opt(argc, argv, &k, "--ef=", &v, &bad)) {
			if (bad || parse_size("--ef", v, 1, 65535, &ef))
				return OSAI_EXIT_USAGE;
		} else if (osai_cli_opt(argc, argv, &k, "--filter=", &v,
					&bad)) {
			if (bad)
				return OSAI_EXIT_USAGE;
			q.filter = v;
		} else if (osai_cli_opt(argc, argv, &k, "--facets=", &v,
					&bad)) {
			if (bad)
				return OSAI_EXIT_USAGE;
			free(facets);
			facets = strdup(v);
			q.nfacets = 0;
			for (tok = strtok_r(facets, ",", &save);
			     tok && q.nfacets < 64;
			     tok = strtok_r(NULL, ",", &save))
				fac[q.nfacets++] = tok;
			q.facets = fac;
		} else if (argv[k][0] == '-' && argv[k][1]) {
			return osai_cli_usage("search: unknown option '%s'",
					      argv[k]);
		} else if (npos < 2) {
			pos[npos++] = argv[k];
		} else {
			return osai_cli_usage("search: INDEX QUERY; quote a "
					      "query of several words");
		}
	}
	if (npos < 2) {
		free(facets);
		return osai_cli_usage("search: INDEX QUERY");
	}
	q.index = pos[0];
	if (strchr(pos[0], ',')) {
		/* INDEX,INDEX: a hybrid search */
		names = strdup(pos[0]);
		for (tok = strtok_r(names, ",", &save);
		     tok && q.nindexes < OSA_MAX_FUSED_INDEXES;
		     tok = strtok_r(NULL, ",", &save))
			idx[q.nindexes++] = tok;
		q.indexes = idx;
		q.index = NULL;
	}
	q.text = pos[1];
	q.ef_search = (int)ef;
	s = osai_cli_open(cli, &status);
	if (!s) {
		free(names);
		free(facets);
		return status;
	}
	rc = osa_search((struct osa_db *)s, &q, &r, &err);
	if (rc) {
		free(names);
		free(facets);
		if (rc == OSA_ENOTFOUND && q.index &&
		    !osai_service_index(s, q.index)) {
			fprintf(stderr,
				"osa: no index \"%s\"; indexes:", q.index);
			for (i = 0; i < s->n; i++)
				fprintf(stderr, " %s", s->ix[i].cfg->name);
			fputc('\n', stderr);
		} else {
			fprintf(stderr, "osa: %s\n", err.msg);
		}
		osai_service_close(s);
		return rc == OSA_ENOTFOUND ? OSAI_EXIT_USAGE : exit_for(rc);
	}
	if (json) {
		json_t *doc = q.nindexes
				      ? osai_hybrid_json(&q, r)
				      : osai_results_json(q.text, q.index, r);

		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(doc);
	} else {
		printf("%4s  %8s  %-44s  %s\n", "rank", "score", "srn",
		       "title");
		for (i = 0; i < r->n; i++) {
			json_t *m = json_loads(r->v[i].metadata, 0, NULL);
			const char *t =
				json_string_value(json_object_get(m, "title"));

			printf("%4zu  %8.4f  %-44s  %.60s\n", q.offset + i + 1,
			       r->v[i].score, r->v[i].srn, t ? t : "");
			json_decref(m);
		}
		printf("(%zu of %zu%s%s)\n", r->n, r->total,
		       r->total_exact ? "" : " estimated",
		       r->has_more ? "; more with --offset" : "");
		for (i = 0; i < r->nfacets; i++) {
			printf("%s:", r->facets[i].name);
			for (size_t j = 0; j < r->facets[i].n; j++)
				printf(" %s (%llu)", r->facets[i].v[j].value,
				       (unsigned long long)r->facets[i]
					       .v[j]
					       .count);
			if (r->facets[i].others)
				printf(" others (%llu)",
				       (unsigned long long)r->facets[i].others);
			putchar('\n');
		}
	}
	free(names);
	free(facets);
	osa_results_free(r);
	osai_service_close(s);
	return OSAI_EXIT_OK;
}

/* ---- get, delete ------------------------------------------------------- */

int osai_cmd_get(struct osai_cli *cli, int argc, char **argv)
{
	struct osai_service *s;
	struct osa_error err;
	char *doc;
	int status = 0, rc;

	if (argc != 1 || argv[0][0] == '-')
		return osai_cli_usage("get: SRN");
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	rc = osa_get((struct osa_db *)s, argv[0], &doc, &err);
	if (rc) {
		fprintf(stderr, "osa: %s\n", err.msg);
	} else {
		puts(doc);
		free(doc);
	}
	osai_service_close(s);
	return rc == OSA_ENOTFOUND ? OSAI_EXIT_FAIL : rc ? exit_for(rc) : 0;
}

int osai_cmd_delete(struct osai_cli *cli, int argc, char **argv)
{
	struct osai_service *s;
	struct osa_error err;
	size_t deleted = 0;
	int status = 0, rc;

	if (argc < 1)
		return osai_cli_usage("delete: SRN...");
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	rc = osa_delete((struct osa_db *)s, (const char *const *)argv,
			(size_t)argc, &deleted, &err);
	if (rc)
		fprintf(stderr, "osa: %s\n", err.msg);
	else
		printf("deleted %zu of %d\n", deleted, argc);
	osai_service_close(s);
	return rc ? exit_for(rc) : 0;
}

/* ---- stats, health, reindex, compact ----------------------------------- */

int osai_cmd_stats(struct osai_cli *cli, int argc, char **argv)
{
	struct osai_service *s;
	struct osa_error err;
	bool json = false;
	char *text;
	int k, status = 0, rc;

	for (k = 0; k < argc; k++) {
		if (osai_cli_flag(argc, argv, &k, "--json"))
			json = true;
		else
			return osai_cli_usage("stats: unexpected '%s'",
					      argv[k]);
	}
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	rc = osa_stats((struct osa_db *)s, &text, &err);
	if (rc) {
		fprintf(stderr, "osa: %s\n", err.msg);
	} else if (json) {
		puts(text);
	} else {
		json_t *d = json_loads(text, 0, NULL), *ix;
		const char *name;

		printf("records: %lld  last_lsn: %lld  journal: %lld bytes\n",
		       (long long)json_integer_value(
			       json_object_get(d, "records")),
		       (long long)json_integer_value(
			       json_object_get(d, "last_lsn")),
		       (long long)json_integer_value(
			       json_object_get(d, "journal_bytes")));
		printf("%-20s %-8s %-10s %10s %12s %14s\n", "index", "backend",
		       "state", "count", "applied_lsn", "checkpoint_lsn");
		json_object_foreach (json_object_get(d, "indexes"), name, ix) {
			printf("%-20s %-8s %-10s %10lld %12lld %14lld\n", name,
			       json_string_value(
				       json_object_get(ix, "backend")),
			       json_string_value(json_object_get(ix, "state")),
			       (long long)json_integer_value(
				       json_object_get(ix, "count")),
			       (long long)json_integer_value(
				       json_object_get(ix, "applied_lsn")),
			       (long long)json_integer_value(
				       json_object_get(ix, "checkpoint_lsn")));
		}
		json_decref(d);
	}
	free(text);
	osai_service_close(s);
	return rc ? exit_for(rc) : 0;
}

int osai_cmd_health(struct osai_cli *cli, int argc, char **argv)
{
	struct osai_service *s;
	struct osa_error err;
	int status = 0, rc, healthy = 0;
	char *text;

	if (argc)
		return osai_cli_usage("health: unexpected '%s'", argv[0]);
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	rc = osa_health((struct osa_db *)s, &text, &healthy, &err);
	if (rc)
		fprintf(stderr, "osa: %s\n", err.msg);
	else
		puts(text);
	free(rc ? NULL : text);
	osai_service_close(s);
	return rc ? exit_for(rc) : healthy ? 0 : OSAI_EXIT_UNAVAIL;
}

int osai_cmd_reindex(struct osai_cli *cli, int argc, char **argv)
{
	struct osai_service *s;
	struct osa_error err;
	int status = 0, rc;

	if (argc != 1 || argv[0][0] == '-')
		return osai_cli_usage("reindex: NAME");
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	rc = osa_reindex((struct osa_db *)s, argv[0], progress_cb, NULL, &err);
	if (rc)
		fprintf(stderr, "osa: %s\n", err.msg);
	else
		printf("reindexed %s\n", argv[0]);
	osai_service_close(s);
	return rc == OSA_ENOTFOUND ? OSAI_EXIT_USAGE : rc ? exit_for(rc) : 0;
}

int osai_cmd_compact(struct osai_cli *cli, int argc, char **argv)
{
	struct osai_service *s;
	struct osa_error err;
	int64_t before, after;
	int status = 0, rc;

	if (argc)
		return osai_cli_usage("compact: unexpected '%s'", argv[0]);
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	before = osai_journal_file_bytes(s->journal);
	rc = osa_compact((struct osa_db *)s, &err);
	after = osai_journal_file_bytes(s->journal);
	if (rc)
		fprintf(stderr, "osa: %s\n", err.msg);
	else
		printf("journal: %lld -> %lld bytes\n", (long long)before,
		       (long long)after);
	osai_service_close(s);
	return rc ? exit_for(rc) : 0;
}

/* ---- serve ------------------------------------------------------------- */

#include "server.h"

static int set_str(char **dst, const char *v)
{
	char *c = strdup(v);

	if (!c)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

int osai_cmd_serve(struct osai_cli *cli, int argc, char **argv)
{
	const char *listen = NULL, *nngurl = NULL;
	struct osai_config *cfg;
	bool bad = false;
	int k, status = 0, rc;

	for (k = 0; k < argc; k++) {
		if (osai_cli_opt(argc, argv, &k, "--listen=", &listen, &bad) ||
		    osai_cli_opt(argc, argv, &k, "--nng=", &nngurl, &bad)) {
			if (bad)
				return OSAI_EXIT_USAGE;
		} else {
			return osai_cli_usage("serve: unexpected '%s'",
					      argv[k]);
		}
	}
	cfg = osai_cli_config(cli, &status);
	if (!cfg)
		return status;
	if ((listen && set_str(&cfg->core.server.listen, listen)) ||
	    (nngurl && set_str(&cfg->core.server.nng, nngurl))) {
		fputs("osa: out of memory\n", stderr);
		return OSAI_EXIT_SOFTWARE;
	}
	cli->cfg = NULL; /* the server owns it now */
	rc = osai_serve(cfg, cli->config_path, cli->open_flags);
	return rc ? exit_for(rc) : OSAI_EXIT_OK;
}

/* ---- call: one request to a running server's nng socket ---------------- */

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

int osai_cmd_call(struct osai_cli *cli, int argc, char **argv)
{
	const char *tmo = NULL;
	nng_socket sock;
	char *reply = NULL;
	size_t len = 0;
	bool bad = false;
	int k, rv, npos = 0, status;
	const char *pos[2] = { NULL, NULL };
	long ms = 10000;
	json_t *doc;

	(void)cli;
	for (k = 0; k < argc; k++) {
		if (osai_cli_opt(argc, argv, &k, "--timeout=", &tmo, &bad)) {
			if (bad)
				return OSAI_EXIT_USAGE;
			ms = strtol(tmo, NULL, 10);
			if (ms < 1 || ms > 3600000)
				return osai_cli_usage("call: --timeout is 1 to "
						      "3600000 ms");
		} else if (npos < 2) {
			pos[npos++] = argv[k];
		} else {
			return osai_cli_usage("call: URL JSON");
		}
	}
	if (npos != 2)
		return osai_cli_usage(
			"call: URL JSON, e.g. osa call "
			"ipc:///tmp/osa.sock '{\"op\":\"stats\"}'");
	rv = nng_req0_open(&sock);
	if (!rv)
		rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO,
				       (nng_duration)ms);
	if (!rv)
		rv = nng_dial(sock, pos[0], NULL, 0);
	if (!rv)
		rv = nng_send(sock, (void *)pos[1], strlen(pos[1]), 0);
	if (!rv)
		rv = nng_recv(sock, &reply, &len, NNG_FLAG_ALLOC);
	if (rv) {
		fprintf(stderr, "osa: %s: %s\n", pos[0], nng_strerror(rv));
		nng_close(sock);
		return OSAI_EXIT_UNAVAIL;
	}
	printf("%.*s\n", (int)len, reply);
	doc = json_loadb(reply, len, 0, NULL);
	status = (int)json_integer_value(json_object_get(doc, "http_status"));
	json_decref(doc);
	nng_free(reply, len);
	nng_close(sock);
	return status >= 200 && status < 300 ? OSAI_EXIT_OK : OSAI_EXIT_FAIL;
}

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
#include "osai_engine.h"

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

struct osa_db *osai_cli_open(struct osai_cli *cli, int *status)
{
	struct osa_open_options opt = { progress_cb, NULL, cli->open_flags };
	struct osa_db *s;
	struct osai_config *cfg = osai_cli_config(cli, status);
	struct osa_error err;
	int rc;

	if (!cfg)
		return NULL;
	cli->cfg = NULL; /* the service owns it now */
	rc = osai_db_open(cfg, &opt, &s, &err);
	if (rc) {
		fprintf(stderr, "osa: %s\n", err.msg);
		*status = exit_for(rc);
		return NULL;
	}
	return s;
}

/* ---- ingest ------------------------------------------------------------ */

struct ingest {
	struct osa_db *s;
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
	rc = osa_ingest(g->s, (const char *const *)g->docs, g->lens, g->n, &lsn,
			&rej, &err);
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
		rc = osa_ingest(g->s, (const char *const *)g->docs, g->lens,
				g->n, &lsn, &rej, &err);
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
	static const struct option opts[] = {
		{ "batch", required_argument, NULL, 'b' },
		{ "acks", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	const char *file = NULL;
	FILE *in;
	char *line = NULL, *end;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	int o, status = 0, rc = 0, c;

	g.batch = 1000;
	while ((o = osai_cli_getopt("ingest", argc, argv, opts)) != -1) {
		switch (o) {
		case 'b':
			g.batch = strtoul(optarg, &end, 10);
			if (*end || g.batch < 1 || g.batch > 1000000)
				return osai_cli_usage("ingest: --batch is 1 to "
						      "1000000, not '%s'",
						      optarg);
			break;
		case 'a':
			g.acks = true;
			break;
		case 1:
			if (file)
				return osai_cli_usage("ingest: one FILE at a "
						      "time");
			file = optarg;
			break;
		default:
			return OSAI_EXIT_USAGE;
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
		/* Read whole, validated, then each record's text as written. */
		struct osai_buf all = { 0 };
		json_error_t je;
		json_t *arr = NULL;
		size_t i, pos = 0, b, e, got;
		char chunk[65536];

		while ((got = fread(chunk, 1, sizeof(chunk), in)) > 0)
			osai_buf_put(&all, chunk, got);
		if (all.oom || ferror(in)) {
			rc = all.oom ? OSA_ENOMEM : OSA_EIO;
			fprintf(stderr, "osa: %s: %s\n", file,
				all.oom ? "out of memory" : strerror(errno));
			osai_buf_free(&all);
			goto out;
		}
		/* all.n > 0: it holds the '[' seen above. */
		arr = osai_jtext_load(all.p, all.n, OSAI_JSON_IN, &je);
		if (!arr || !json_is_array(arr)) {
			osai_buf_free(&all);
			fprintf(stderr, "osa: %s:%d:%d: %s\n", file,
				arr ? 1 : je.line, arr ? 1 : je.column,
				arr ? "expected a JSON array of records"
				    : je.text);
			json_decref(arr);
			rc = OSA_EINVAL;
			g.bad++;
			goto out;
		}
		for (i = 0; i < json_array_size(arr) && !rc &&
			    osai_jtext_item(all.p, all.n, &pos, &b, &e);
		     i++) {
			char *d = strndup(all.p + b, e - b);

			if (!d) {
				rc = OSA_ENOMEM;
				break;
			}
			g.bytes_done = g.bytes_total * (int64_t)(i + 1) /
				       (int64_t)json_array_size(arr);
			rc = ingest_add(&g, d, strlen(d), (long)i + 1, file);
		}
		json_decref(arr);
		osai_buf_free(&all);
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
	osa_close(g.s);
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
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ "offset", required_argument, NULL, 'o' },
		{ "ef", required_argument, NULL, 'e' },
		{ "filter", required_argument, NULL, 'f' },
		{ "facets", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 }
	};
	struct osa_search q = { .limit = 10 };
	const char *pos[2] = { NULL, NULL };
	struct osa_results *r = NULL;
	struct osa_db *s;
	struct osa_error err;
	bool json = false, bad = false;
	size_t ef = 0, npos = 0, i;
	int o, status = 0, rc;
	char *names = NULL, *facets = NULL, *tok, *save;
	const char *idx[OSA_MAX_FUSED_INDEXES], *fac[64];

	while ((o = osai_cli_getopt("search", argc, argv, opts)) != -1) {
		switch (o) {
		case 'j':
			json = true;
			break;
		case 'l':
			bad = parse_size("--limit", optarg, 1, 100, &q.limit);
			break;
		case 'o':
			bad = parse_size("--offset", optarg, 0, 1000000,
					 &q.offset);
			break;
		case 'e':
			bad = parse_size("--ef", optarg, 1, 65535, &ef);
			break;
		case 'f':
			q.filter = optarg;
			break;
		case 'F':
			free(facets);
			facets = strdup(optarg);
			q.nfacets = 0;
			for (tok = strtok_r(facets, ",", &save);
			     tok && q.nfacets < 64;
			     tok = strtok_r(NULL, ",", &save))
				fac[q.nfacets++] = tok;
			q.facets = fac;
			break;
		case 1:
			if (npos == 2)
				return osai_cli_usage("search: INDEX QUERY; "
						      "quote a query of "
						      "several words");
			pos[npos++] = optarg;
			break;
		default:
			bad = true;
		}
		if (bad) {
			free(facets);
			return OSAI_EXIT_USAGE;
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
	rc = osa_search(s, &q, &r, &err);
	if (rc) {
		free(names);
		free(facets);
		if (rc == OSA_ENOTFOUND && q.index &&
		    !osa_index_exists(s, q.index)) {
			fprintf(stderr,
				"osa: no index \"%s\"; indexes:", q.index);
			for (i = 0; i < osa_index_count(s); i++)
				fprintf(stderr, " %s", osa_index_name(s, i));
			fputc('\n', stderr);
		} else {
			fprintf(stderr, "osa: %s\n", err.msg);
		}
		osa_close(s);
		return rc == OSA_ENOTFOUND ? OSAI_EXIT_USAGE : exit_for(rc);
	}
	if (json) {
		/* Compact, with each record as it was written. */
		struct osai_buf b = { 0 };

		if (osai_search_text(&b, &q, r)) {
			fputs("osa: out of memory\n", stderr);
			status = exit_for(OSA_ENOMEM);
		} else {
			fwrite(b.p, 1, b.n, stdout);
			putchar('\n');
		}
		osai_buf_free(&b);
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
	osa_close(s);
	return status;
}

/* ---- get, delete ------------------------------------------------------- */

int osai_cmd_get(struct osai_cli *cli, int argc, char **argv)
{
	struct osa_db *s;
	struct osa_error err;
	char *doc;
	int status = 0, rc;

	if (osai_cli_operands("get", &argc, argv))
		return OSAI_EXIT_USAGE;
	if (argc != 1)
		return osai_cli_usage("get: SRN");
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	rc = osa_get(s, argv[0], &doc, &err);
	if (rc) {
		fprintf(stderr, "osa: %s\n", err.msg);
	} else {
		puts(doc);
		free(doc);
	}
	osa_close(s);
	return rc == OSA_ENOTFOUND ? OSAI_EXIT_FAIL : rc ? exit_for(rc) : 0;
}

int osai_cmd_delete(struct osai_cli *cli, int argc, char **argv)
{
	struct osa_db *s;
	struct osa_error err;
	size_t deleted = 0;
	int status = 0, rc;

	if (osai_cli_operands("delete", &argc, argv))
		return OSAI_EXIT_USAGE;
	if (argc < 1)
		return osai_cli_usage("delete: SRN...");
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	rc = osa_delete(s, (const char *const *)argv, (size_t)argc, &deleted,
			&err);
	if (rc)
		fprintf(stderr, "osa: %s\n", err.msg);
	else
		printf("deleted %zu of %d\n", deleted, argc);
	osa_close(s);
	return rc ? exit_for(rc) : 0;
}

/* ---- stats, health, reindex, compact ----------------------------------- */

int osai_cmd_stats(struct osai_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 }
	};
	struct osa_db *s;
	struct osa_error err;
	bool json = false;
	char *text;
	int o, status = 0, rc;

	while ((o = osai_cli_getopt("stats", argc, argv, opts)) != -1) {
		if (o == 'j')
			json = true;
		else if (o == 1)
			return osai_cli_usage("stats: unexpected '%s'", optarg);
		else
			return OSAI_EXIT_USAGE;
	}
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	rc = osa_stats(s, &text, &err);
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
	osa_close(s);
	return rc ? exit_for(rc) : 0;
}

int osai_cmd_health(struct osai_cli *cli, int argc, char **argv)
{
	struct osa_db *s;
	struct osa_error err;
	int status = 0, rc, healthy = 0;
	char *text;

	if (osai_cli_operands("health", &argc, argv))
		return OSAI_EXIT_USAGE;
	if (argc)
		return osai_cli_usage("health: unexpected '%s'", argv[0]);
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	rc = osa_health(s, &text, &healthy, &err);
	if (rc)
		fprintf(stderr, "osa: %s\n", err.msg);
	else
		puts(text);
	free(rc ? NULL : text);
	osa_close(s);
	return rc ? exit_for(rc) : healthy ? 0 : OSAI_EXIT_UNAVAIL;
}

int osai_cmd_reindex(struct osai_cli *cli, int argc, char **argv)
{
	struct osa_db *s;
	struct osa_error err;
	int status = 0, rc;

	if (osai_cli_operands("reindex", &argc, argv))
		return OSAI_EXIT_USAGE;
	if (argc != 1)
		return osai_cli_usage("reindex: NAME");
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	rc = osa_reindex(s, argv[0], progress_cb, NULL, &err);
	if (rc)
		fprintf(stderr, "osa: %s\n", err.msg);
	else
		printf("reindexed %s\n", argv[0]);
	osa_close(s);
	return rc == OSA_ENOTFOUND ? OSAI_EXIT_USAGE : rc ? exit_for(rc) : 0;
}

/* The journal file's size, or -1. */
static int64_t cli_journal_bytes(struct osa_db *db)
{
	struct osa_db_stats *st;
	struct osa_error err;
	int64_t bytes = -1;

	if (!osa_stats_get(db, &st, &err)) {
		bytes = (int64_t)st->journal_bytes;
		osa_stats_free(st);
	}
	return bytes;
}

int osai_cmd_compact(struct osai_cli *cli, int argc, char **argv)
{
	struct osa_db *s;
	struct osa_error err;
	int64_t before, after;
	int status = 0, rc;

	if (osai_cli_operands("compact", &argc, argv))
		return OSAI_EXIT_USAGE;
	if (argc)
		return osai_cli_usage("compact: unexpected '%s'", argv[0]);
	s = osai_cli_open(cli, &status);
	if (!s)
		return status;
	before = cli_journal_bytes(s);
	rc = osa_compact(s, &err);
	after = cli_journal_bytes(s);
	if (rc)
		fprintf(stderr, "osa: %s\n", err.msg);
	else
		printf("journal: %lld -> %lld bytes\n", (long long)before,
		       (long long)after);
	osa_close(s);
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
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "nng", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const char *listen = NULL, *nngurl = NULL;
	struct osai_config *cfg;
	int o, status = 0, rc;

	while ((o = osai_cli_getopt("serve", argc, argv, opts)) != -1) {
		if (o == 'l')
			listen = optarg;
		else if (o == 'n')
			nngurl = optarg;
		else if (o == 1)
			return osai_cli_usage("serve: unexpected '%s'", optarg);
		else
			return OSAI_EXIT_USAGE;
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
	static const struct option opts[] = { { "timeout", required_argument,
						NULL, 't' },
					      { NULL, 0, NULL, 0 } };
	nng_socket sock;
	char *reply = NULL;
	size_t len = 0;
	int o, rv, npos = 0, status;
	const char *pos[2] = { NULL, NULL };
	long ms = 10000;
	json_t *doc;

	(void)cli;
	while ((o = osai_cli_getopt("call", argc, argv, opts)) != -1) {
		if (o == 't') {
			ms = strtol(optarg, NULL, 10);
			if (ms < 1 || ms > 3600000)
				return osai_cli_usage("call: --timeout is 1 to "
						      "3600000 ms");
		} else if (o == 1 && npos < 2) {
			pos[npos++] = optarg;
		} else if (o == 1) {
			return osai_cli_usage("call: URL JSON");
		} else {
			return OSAI_EXIT_USAGE;
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

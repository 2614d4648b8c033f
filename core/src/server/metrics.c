/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - the numbers behind GET /metrics, in the Prometheus text
 * exposition format (version 0.0.4).
 *
 * Request counts and latencies are recorded by the HTTP front end for every
 * answered request (osai_metrics_observe), lock-free: each route has one
 * counter per status code and one fixed-bucket latency histogram, all
 * relaxed atomics (a scrape may see one request's count before its latency;
 * Prometheus tolerates that).  Everything about the database (records,
 * bytes, LSNs, checkpoint age, degraded indexes) is read at scrape time
 * through the public osa_stats_get(), and the process's resident set from
 * /proc/self/statm.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"

/* Upper bounds of the latency buckets, in seconds (+Inf is implied). */
static const double lat_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001,
				     0.0025, 0.005,   0.01,   0.025,
				     0.05,   0.1,     0.25,   0.5,
				     1,	     2.5,     5,      10 };
#define NB (sizeof(lat_bounds) / sizeof(lat_bounds[0]))

static const char *const route_names[OSAI_ROUTE_N] = {
	[OSAI_ROUTE_HEALTH] = "/health",
	[OSAI_ROUTE_BACKENDS] = "/backends",
	[OSAI_ROUTE_STATS] = "/stats",
	[OSAI_ROUTE_METRICS] = "/metrics",
	[OSAI_ROUTE_SEARCH] = "/search",
	[OSAI_ROUTE_SEARCH_INDEX] = "/search/{index}",
	[OSAI_ROUTE_RECORDS] = "/records",
	[OSAI_ROUTE_RECORD] = "/records/{srn}",
	[OSAI_ROUTE_OSA] = "/api/v1/*",
	[OSAI_ROUTE_OTHER] = "other",
};

/* Status codes 100..599, one counter each. */
#define NSTATUS 500

struct route_stats {
	atomic_uint_fast64_t status[NSTATUS];
	atomic_uint_fast64_t bucket[NB + 1]; /* not cumulative; last: +Inf */
	atomic_uint_fast64_t sum_ns;
	atomic_uint_fast64_t count;
};

/* Process-wide: one HTTP server per process. */
static struct route_stats routes[OSAI_ROUTE_N];

const char *osai_route_name(enum osai_route r)
{
	return (unsigned)r < OSAI_ROUTE_N ? route_names[r] : "other";
}

enum osai_route osai_route_of(const char *path)
{
	static const struct {
		const char *exact, *prefix;
		enum osai_route r;
	} map[] = {
		{ "/health", NULL, OSAI_ROUTE_HEALTH },
		{ "/backends", NULL, OSAI_ROUTE_BACKENDS },
		{ "/stats", NULL, OSAI_ROUTE_STATS },
		{ "/metrics", NULL, OSAI_ROUTE_METRICS },
		{ "/search", NULL, OSAI_ROUTE_SEARCH },
		{ "/search/", NULL, OSAI_ROUTE_SEARCH },
		{ NULL, "/search/", OSAI_ROUTE_SEARCH_INDEX },
		{ "/records", NULL, OSAI_ROUTE_RECORDS },
		{ NULL, "/records/", OSAI_ROUTE_RECORD },
		{ NULL, "/api/v1/", OSAI_ROUTE_OSA },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].exact ? !strcmp(path, map[i].exact)
				 : !strncmp(path, map[i].prefix,
					    strlen(map[i].prefix)))
			return map[i].r;
	return OSAI_ROUTE_OTHER;
}

void osai_metrics_observe(enum osai_route r, int status, double seconds)
{
	struct route_stats *s;
	size_t b;

	if ((unsigned)r >= OSAI_ROUTE_N)
		r = OSAI_ROUTE_OTHER;
	s = &routes[r];
	if (status >= 100 && status < 100 + NSTATUS)
		atomic_fetch_add_explicit(&s->status[status - 100], 1,
					  memory_order_relaxed);
	if (!(seconds >= 0)) /* also NaN */
		seconds = 0;
	for (b = 0; b < NB && seconds > lat_bounds[b]; b++)
		;
	atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_ns, (uint64_t)(seconds * 1e9),
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

/* A label value: backslash, double quote and line feed escaped. */
static void label(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", out);
		else if (*v == '"')
			fputs("\\\"", out);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void family(FILE *out, const char *name, const char *type,
		   const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_requests(FILE *out)
{
	size_t r, i, b;

	family(out, "osa_http_requests_total", "counter",
	       "HTTP requests answered, by route and status code.");
	for (r = 0; r < OSAI_ROUTE_N; r++)
		for (i = 0; i < NSTATUS; i++) {
			uint64_t n = atomic_load_explicit(&routes[r].status[i],
							  memory_order_relaxed);

			if (n)
				fprintf(out,
					"osa_http_requests_total{route=\"%s\","
					"status=\"%zu\"} %llu\n",
					route_names[r], i + 100,
					(unsigned long long)n);
		}
	family(out, "osa_http_request_duration_seconds", "histogram",
	       "Time from a request's first byte to its answer, by route.");
	for (r = 0; r < OSAI_ROUTE_N; r++) {
		uint64_t cum = 0, count;

		count = atomic_load_explicit(&routes[r].count,
					     memory_order_relaxed);
		if (!count)
			continue;
		for (b = 0; b <= NB; b++) {
			cum += atomic_load_explicit(&routes[r].bucket[b],
						    memory_order_relaxed);
			fprintf(out,
				"osa_http_request_duration_seconds_bucket{"
				"route=\"%s\",le=\"",
				route_names[r]);
			if (b < NB)
				fprintf(out, "%g", lat_bounds[b]);
			else
				fputs("+Inf", out);
			fprintf(out, "\"} %llu\n", (unsigned long long)cum);
		}
		/* Buckets were read one by one: keep _count equal to +Inf. */
		fprintf(out,
			"osa_http_request_duration_seconds_sum{route=\"%s\"} "
			"%.9f\n",
			route_names[r],
			(double)atomic_load_explicit(&routes[r].sum_ns,
						     memory_order_relaxed) /
				1e9);
		fprintf(out,
			"osa_http_request_duration_seconds_count{route=\"%s\"} "
			"%llu\n",
			route_names[r], (unsigned long long)cum);
	}
}

/* One gauge family over every index. */
#define INDEX_GAUGE(out, st, metric, help, fmt, expr)                          \
	do {                                                                   \
		size_t i_;                                                     \
		family(out, metric, "gauge", help);                            \
		for (i_ = 0; i_ < (st)->n; i_++) {                             \
			const struct osa_index_stats *x = &(st)->v[i_];        \
			fprintf(out, metric "{index=\"");                      \
			label(out, x->name);                                   \
			fprintf(out, "\",backend=\"");                         \
			label(out, x->backend);                                \
			fprintf(out, "\"} " fmt "\n", expr);                   \
		}                                                              \
	} while (0)

static void render_db(FILE *out, const struct osa_db_stats *st)
{
	family(out, "osa_records", "gauge", "Records in the journal.");
	fprintf(out, "osa_records %llu\n", (unsigned long long)st->records);
	family(out, "osa_journal_lsn", "gauge",
	       "Last log sequence number written to the journal.");
	fprintf(out, "osa_journal_lsn %llu\n",
		(unsigned long long)st->last_lsn);
	family(out, "osa_journal_bytes", "gauge",
	       "Size of the journal file in bytes.");
	fprintf(out, "osa_journal_bytes %llu\n",
		(unsigned long long)st->journal_bytes);
	INDEX_GAUGE(out, st, "osa_index_records", "Records an index holds.",
		    "%llu", (unsigned long long)x->count);
	INDEX_GAUGE(out, st, "osa_index_bytes",
		    "Bytes an index keeps on disk (its folder).", "%llu",
		    (unsigned long long)x->bytes);
	INDEX_GAUGE(out, st, "osa_index_applied_lsn",
		    "Last journal LSN an index has applied.", "%llu",
		    (unsigned long long)x->applied_lsn);
	INDEX_GAUGE(out, st, "osa_index_lag",
		    "Journal LSN minus the index's applied LSN (ingest lag, in "
		    "log entries).",
		    "%llu",
		    (unsigned long long)(st->last_lsn > x->applied_lsn
						 ? st->last_lsn - x->applied_lsn
						 : 0));
	INDEX_GAUGE(out, st, "osa_index_checkpoint_lsn",
		    "LSN the index's last checkpoint covers.", "%llu",
		    (unsigned long long)x->checkpoint_lsn);
	INDEX_GAUGE(out, st, "osa_index_checkpoint_age_seconds",
		    "Seconds since the index's last checkpoint (since open "
		    "when it has none yet).",
		    "%.3f", x->checkpoint_age);
	INDEX_GAUGE(
		out, st, "osa_index_skipped_records",
		"Records the index could not take (skipped with a warning).",
		"%llu", (unsigned long long)x->skipped);
	INDEX_GAUGE(out, st, "osa_index_degraded",
		    "1 when the index is degraded (failing; retried in the "
		    "background), else 0.",
		    "%d", x->degraded ? 1 : 0);
}

static void render_process(FILE *out)
{
	unsigned long long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%llu %llu", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	family(out, "osa_process_resident_memory_bytes", "gauge",
	       "Resident set size of the process.");
	fprintf(out, "osa_process_resident_memory_bytes %llu\n",
		rss * (unsigned long long)sysconf(_SC_PAGESIZE));
}

int osai_metrics_render(struct osa_db *db, char **text, size_t *len,
			struct osa_error *err)
{
	struct osa_db_stats *st = NULL;
	FILE *out;
	int rc;

	*text = NULL;
	*len = 0;
	if (db) {
		rc = osa_stats_get(db, &st, err);
		if (rc)
			return rc;
	}
	out = open_memstream(text, len);
	if (!out) {
		osa_stats_free(st);
		return osa_error_set(err, OSA_ENOMEM, "metrics: out of memory");
	}
	render_requests(out);
	if (st)
		render_db(out, st);
	render_process(out);
	rc = ferror(out);
	if (fclose(out) || rc) {
		osa_stats_free(st);
		free(*text);
		*text = NULL;
		return osa_error_set(err, OSA_ENOMEM, "metrics: out of memory");
	}
	osa_stats_free(st);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - request metrics and the Prometheus text of GET /metrics.
 */
#ifndef OSAI_METRICS_H
#define OSAI_METRICS_H

#include <stddef.h>

#include <osa/osa.h>

/* The routes requests are counted by (a fixed set: labels stay bounded). */
enum osai_route {
	OSAI_ROUTE_HEALTH,
	OSAI_ROUTE_BACKENDS,
	OSAI_ROUTE_STATS,
	OSAI_ROUTE_METRICS,
	OSAI_ROUTE_SEARCH,
	OSAI_ROUTE_SEARCH_INDEX,
	OSAI_ROUTE_RECORDS,
	OSAI_ROUTE_RECORD,
	OSAI_ROUTE_OSA, /* the OSA-compatible surface under /api/v1/ */
	OSAI_ROUTE_OTHER,
	OSAI_ROUTE_N
};

/* The route a request path belongs to. */
enum osai_route osai_route_of(const char *path);

/* The route's label ("/search/{index}", ...). */
const char *osai_route_name(enum osai_route r);

/* Count one answered request: its route, status code and the seconds from
 * its first byte to the answer.  Lock-free; any thread. */
void osai_metrics_observe(enum osai_route r, int status, double seconds);

/*
 * The whole exposition (text/plain; version=0.0.4) into *text (malloc'd,
 * *len bytes): request counters and latency histograms, then, when `db` is
 * not NULL, records, journal and per-index gauges from osa_stats_get(), then
 * the process's resident memory.
 */
int osai_metrics_render(struct osa_db *db, char **text, size_t *len,
			struct osa_error *err);

#endif

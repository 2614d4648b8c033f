/* SPDX-License-Identifier: MIT */
/*
 * bench_query.c - the in-process peer of bench/http: text queries through
 * the C API (osa_search, hydration included) on THREADS threads for SECONDS.
 *   osa-bench-query CONFIG INDEX SECONDS THREADS
 * Prints {"impl":"in-process","qps":...}.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <osa/osa.h>

static const char *const words[] = { "analysis", "survey", "dataset", "review",
				     "model",	 "study",  "glacier", "river" };
static struct osa_db *db;
static const char *index_name;
static double seconds;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
	long *count = arg, k = 0;
	double end = now() + seconds;
	char q[64];

	while (now() < end) {
		struct osa_search s = { .index = index_name,
					.text = q,
					.limit = 20 };
		struct osa_results *r;
		struct osa_error err;

		snprintf(q, sizeof(q), "%s %s", words[k % 8],
			 words[(k * 3 + 1) % 8]);
		k++;
		if (osa_search(db, &s, &r, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			break;
		}
		osa_results_free(r);
		(*count)++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct osa_error err;
	pthread_t t[64];
	long counts[64] = { 0 }, total = 0;
	int n, i;
	double t0;

	if (argc != 5) {
		fprintf(stderr, "usage: %s CONFIG INDEX SECONDS THREADS\n",
			argv[0]);
		return 64;
	}
	index_name = argv[2];
	seconds = atof(argv[3]);
	n = atoi(argv[4]);
	if (n < 1 || n > 64 || seconds <= 0)
		return 64;
	if (osa_open_file(argv[1], NULL, &db, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	t0 = now();
	for (i = 0; i < n; i++)
		pthread_create(&t[i], NULL, run, &counts[i]);
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		total += counts[i];
	}
	printf("{\"impl\":\"in-process\",\"threads\":%d,\"queries\":%ld,"
	       "\"qps\":%.0f}\n",
	       n, total, (double)total / (now() - t0));
	osa_close(db);
	return 0;
}

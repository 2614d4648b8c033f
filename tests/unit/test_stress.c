/* SPDX-License-Identifier: MIT */
/*
 * test_stress.c - everything at once, for ThreadSanitizer (make test-tsan)
 * as much as for the answers.  Bounded in count, not in time.
 *
 * 1. The C API: writers (upserts and deletes), readers (search, get),
 *    health and stats, compaction and a reindex, while the maintenance
 *    thread checkpoints and trims the log after every other change.
 * 2. `osa serve` in this process: writers, readers and /health over HTTP
 *    while SIGHUP reloads the configuration and the maintenance thread
 *    checkpoints; then SIGTERM, and a reopen finds every acknowledged
 *    record in every index.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <osa/osa.h>

#include "osa_test.h"
#include "osai.h"
#include "server.h"

#define WRITERS 2
#define READERS 2
#define ROUNDS 30 /* batches per writer */
#define BATCH 5

static char dir[256];
static atomic_int writers_left;

/* ---- 1. the C API ------------------------------------------------------ */

struct api_worker {
	struct osa_db *db;
	int id;
	int errors;
	int ops;
};

static char *doc_of(int w, int i, const char *word)
{
	char *d;

	OSA_REQUIRE(asprintf(&d,
			     "{\"srn\":\"urn:osa:test.org:rec:w%d-%d\","
			     "\"title\":\"%s %d\",\"summary\":\"stress "
			     "record %d of writer %d\"}",
			     w, i, word, i, i, w) > 0);
	return d;
}

static void *api_writer(void *arg)
{
	struct api_worker *w = arg;
	struct osa_error err;
	char *docs[BATCH];
	size_t lens[BATCH], deleted;
	uint64_t lsn;
	int r, k;

	for (r = 0; r < ROUNDS; r++) {
		for (k = 0; k < BATCH; k++) {
			docs[k] = doc_of(w->id, r * BATCH + k, "tern");
			lens[k] = strlen(docs[k]);
		}
		if (osa_ingest(w->db, (const char *const *)docs, lens, BATCH,
			       &lsn, NULL, &err)) {
			fprintf(stderr, "writer %d: %s\n", w->id, err.msg);
			w->errors++;
		}
		for (k = 0; k < BATCH; k++)
			free(docs[k]);
		/* Every third batch, delete its first record. */
		if (r % 3 == 2) {
			char srn[64];
			const char *p = srn;

			snprintf(srn, sizeof(srn),
				 "urn:osa:test.org:rec:w%d-%d", w->id,
				 r * BATCH);
			if (osa_delete(w->db, &p, 1, &deleted, &err) ||
			    deleted != 1) {
				fprintf(stderr, "writer %d: delete: %s\n",
					w->id, err.msg);
				w->errors++;
			}
		}
		w->ops++;
	}
	atomic_fetch_sub(&writers_left, 1);
	return NULL;
}

static void *api_reader(void *arg)
{
	struct api_worker *w = arg;
	const char *index = w->id % 2 ? "exact" : "papers";
	struct osa_search s = { .index = index, .text = "tern", .limit = 10 };
	struct osa_error err;
	int i;

	for (i = 0; i < 2000 && atomic_load(&writers_left) > 0; i++) {
		struct osa_results *r = NULL;
		char *doc = NULL;
		int rc = osa_search(w->db, &s, &r, &err);

		/* The reindexed index is briefly without an instance. */
		if (rc && rc != OSA_EDEGRADED) {
			fprintf(stderr, "reader %d: %s\n", w->id, err.msg);
			w->errors++;
		}
		osa_results_free(r);
		rc = osa_get(w->db, "urn:osa:test.org:rec:w0-1", &doc, &err);
		if (rc && rc != OSA_ENOTFOUND) {
			fprintf(stderr, "reader %d: get: %s\n", w->id, err.msg);
			w->errors++;
		}
		free(doc);
		w->ops++;
	}
	return NULL;
}

static void *api_health(void *arg)
{
	struct api_worker *w = arg;
	struct osa_error err;
	int i;

	for (i = 0; i < 2000 && atomic_load(&writers_left) > 0; i++) {
		char *text = NULL;

		if (osa_health(w->db, &text, NULL, &err)) {
			w->errors++;
		} else {
			free(text);
			text = NULL;
		}
		if (osa_stats(w->db, &text, &err))
			w->errors++;
		free(text);
		w->ops++;
		usleep(2000);
	}
	return NULL;
}

/* Compaction over and over, and one reindex, while the others work. */
static void *api_maintainer(void *arg)
{
	struct api_worker *w = arg;
	struct osa_error err;
	int i;

	for (i = 0; i < 50 && atomic_load(&writers_left) > 0; i++) {
		if (osa_compact(w->db, &err)) {
			fprintf(stderr, "compact: %s\n", err.msg);
			w->errors++;
		}
		if (i == 2 && osa_reindex(w->db, "exact", NULL, NULL, &err)) {
			fprintf(stderr, "reindex: %s\n", err.msg);
			w->errors++;
		}
		w->ops++;
		usleep(20000);
	}
	return NULL;
}

/* "name":{"backend":"...","count":N: the count of one index in stats. */
static long count_of(const char *stats, const char *index)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":{", index);
	p = strstr(stats, pat);
	p = p ? strstr(p, "\"count\":") : NULL;
	return p ? strtol(p + 8, NULL, 10) : -1;
}

static void check_counts(struct osa_db *db, long want)
{
	struct osa_error err;
	char *stats = NULL, rec[32];

	OSA_REQUIRE(osa_stats(db, &stats, &err) == 0);
	snprintf(rec, sizeof(rec), "\"records\":%ld,", want);
	OSA_CHECK_CONTAINS(stats, rec);
	OSA_CHECK_MSG(count_of(stats, "papers") == want &&
			      count_of(stats, "exact") == want,
		      "%s", stats);
	free(stats);
}

static void test_api(void)
{
	char cfg[1024];
	struct osa_db *db = NULL;
	struct osa_error err;
	struct api_worker w[WRITERS + READERS + 2];
	pthread_t t[WRITERS + READERS + 2];
	int i, n = WRITERS + READERS + 2;

	snprintf(cfg, sizeof(cfg),
		 "data_dir = \"%s/api\";\n"
		 "logging = { level = \"warn\"; };\n"
		 "checkpoint_interval = { ops = 2; seconds = 1; };\n"
		 "indexes = (\n"
		 " { name = \"papers\"; backend = \"vector\"; config = { "
		 "dim = 16; }; },\n"
		 " { name = \"exact\"; backend = \"flat\"; config = { dim = "
		 "16; }; }\n"
		 ");\n",
		 dir);
	OSA_REQUIRE(osa_open_string(cfg, NULL, NULL, &db, &err) == 0);
	atomic_store(&writers_left, WRITERS);
	for (i = 0; i < n; i++) {
		w[i] = (struct api_worker){ db, i, 0, 0 };
		OSA_REQUIRE(pthread_create(&t[i], NULL,
					   i < WRITERS		   ? api_writer
					   : i < WRITERS + READERS ? api_reader
					   : i == n - 2		   ? api_health
							: api_maintainer,
					   &w[i]) == 0);
	}
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		OSA_CHECK_MSG(w[i].errors == 0, "worker %d: %d errors", i,
			      w[i].errors);
	}
	printf("api: %d %d %d %d %d %d operations\n", w[0].ops, w[1].ops,
	       w[2].ops, w[3].ops, w[4].ops, w[5].ops);
	/* Each writer: ROUNDS x BATCH upserts, ROUNDS / 3 deletes. */
	check_counts(db, WRITERS * (ROUNDS * BATCH - ROUNDS / 3));
	osa_close(db);
	OSA_REQUIRE(osa_open_string(cfg, NULL, NULL, &db, &err) == 0);
	check_counts(db, WRITERS * (ROUNDS * BATCH - ROUNDS / 3));
	osa_close(db);
}

/* ---- 2. osa serve ------------------------------------------------------ */

static int port;
static char cfg_path[300];

/* One HTTP request on a new connection; the status, or -1. */
static int http(const char *method, const char *path, const char *body,
		char *out, size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char req[4096], buf[8192];
	size_t got = 0;
	ssize_t n;
	int fd, status = -1;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		     "Authorization: Bearer k3y\r\nConnection: close\r\n"
		     "Content-Length: %zu\r\n\r\n%s",
		     method, path, body ? strlen(body) : 0, body ? body : "");
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	/* Read the whole reply (the server closes the connection). */
	while (got + 1 < sizeof(buf) &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	if (!strncmp(buf, "HTTP/1.1 ", 9))
		status = atoi(buf + 9);
	if (out && cap) {
		const char *b = strstr(buf, "\r\n\r\n");

		snprintf(out, cap, "%s", b ? b + 4 : "");
	}
	return status;
}

struct http_worker {
	int id;
	int errors;
	int ops;
};

static void *http_writer(void *arg)
{
	struct http_worker *w = arg;
	char body[2048], path[128];
	int r, k, st;

	for (r = 0; r < ROUNDS; r++) {
		size_t pos = 0;

		for (k = 0; k < BATCH; k++) {
			char *d = doc_of(10 + w->id, r * BATCH + k, "heron");

			pos += (size_t)snprintf(body + pos, sizeof(body) - pos,
						"%s\n", d);
			free(d);
		}
		st = http("POST", "/records", body, NULL, 0);
		if (st != 200 && st != 201) {
			fprintf(stderr, "http writer %d: status %d\n", w->id,
				st);
			w->errors++;
		}
		if (r % 3 == 2) {
			snprintf(path, sizeof(path),
				 "/records/urn:osa:test.org:rec:w%d-%d",
				 10 + w->id, r * BATCH);
			st = http("DELETE", path, NULL, NULL, 0);
			if (st != 200 && st != 204) {
				fprintf(stderr, "http delete %d: status %d\n",
					w->id, st);
				w->errors++;
			}
		}
		w->ops++;
	}
	atomic_fetch_sub(&writers_left, 1);
	return NULL;
}

static void *http_reader(void *arg)
{
	struct http_worker *w = arg;
	int i, st;

	for (i = 0; i < 1000 && atomic_load(&writers_left) > 0; i++) {
		st = http("GET",
			  w->id % 2 ? "/search/exact?q=heron"
				    : "/search/papers?q=heron+12",
			  NULL, NULL, 0);
		if (st != 200) {
			fprintf(stderr, "http reader %d: status %d\n", w->id,
				st);
			w->errors++;
		}
		st = http("GET", "/health", NULL, NULL, 0);
		if (st != 200) {
			fprintf(stderr, "http health: status %d\n", st);
			w->errors++;
		}
		w->ops++;
	}
	return NULL;
}

static void write_config(int round)
{
	FILE *f = fopen(cfg_path, "w");

	OSA_REQUIRE(f);
	/* Each reload swaps in a new configuration (its own api_key text). */
	fprintf(f,
		"data_dir = \"%s/serve\";\n"
		"logging = { level = \"%s\"; };\n"
		"checkpoint_interval = { ops = 2; seconds = 1; };\n"
		"server = { listen = \"http://127.0.0.1:%d\"; api_key = "
		"\"k3y\"; };\n"
		"indexes = (\n"
		" { name = \"papers\"; backend = \"vector\"; config = { dim = "
		"16; }; },\n"
		" { name = \"exact\"; backend = \"flat\"; config = { dim = 16; "
		"}; }\n"
		");\n",
		dir, round % 2 ? "error" : "warn", port);
	fclose(f);
}

static void *serve_main(void *arg)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg = NULL;
	int *rc = arg;

	*rc = osai_config_load_file(cfg_path, &cfg, &d);
	osai_diags_free(&d);
	if (!*rc)
		*rc = osai_serve(cfg, cfg_path, 0);
	return NULL;
}

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &len))
		p = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

static void test_serve(void)
{
	struct http_worker w[WRITERS + READERS];
	pthread_t t[WRITERS + READERS], server;
	struct osa_db *db = NULL;
	struct osa_error err;
	int i, rc = -1, reloads = 0, up = 0;

	port = free_port();
	OSA_REQUIRE(port > 0);
	snprintf(cfg_path, sizeof(cfg_path), "%s/osa.cfg", dir);
	write_config(0);
	OSA_REQUIRE(pthread_create(&server, NULL, serve_main, &rc) == 0);
	for (i = 0; i < 600 && !up; i++) {
		up = http("GET", "/health", NULL, NULL, 0) == 200;
		if (!up)
			usleep(100000);
	}
	OSA_REQUIRE(up);
	atomic_store(&writers_left, WRITERS);
	for (i = 0; i < WRITERS + READERS; i++) {
		w[i] = (struct http_worker){ i, 0, 0 };
		OSA_REQUIRE(
			pthread_create(&t[i], NULL,
				       i < WRITERS ? http_writer : http_reader,
				       &w[i]) == 0);
	}
	/* SIGHUP while they work (at most 15: the server keeps each), to the
	 * server's thread: a library's own threads may not block it. */
	while (atomic_load(&writers_left) > 0 && reloads < 15) {
		write_config(++reloads);
		pthread_kill(server, SIGHUP);
		usleep(50000);
	}
	for (i = 0; i < WRITERS + READERS; i++) {
		pthread_join(t[i], NULL);
		OSA_CHECK_MSG(w[i].errors == 0, "http worker %d: %d errors", i,
			      w[i].errors);
	}
	printf("serve: %d reloads; %d %d %d %d operations\n", reloads, w[0].ops,
	       w[1].ops, w[2].ops, w[3].ops);
	pthread_kill(server, SIGTERM);
	pthread_join(server, NULL);
	OSA_CHECK_MSG(rc == 0, "osa serve returned %d", rc);
	/* Everything acknowledged is there, in every index. */
	write_config(0);
	OSA_REQUIRE(osa_open_file(cfg_path, NULL, &db, &err) == 0);
	check_counts(db, WRITERS * (ROUNDS * BATCH - ROUNDS / 3));
	osa_close(db);
}

int main(void)
{
	char cmd[400];
	sigset_t set;

	/* As in `osa`: the server's signals go to its sigtimedwait only. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	osai_log_setup(OSA_LOG_WARN, OSAI_LOGFMT_TEXT);
	snprintf(dir, sizeof(dir), "/tmp/osa-test-stress-XXXXXX");
	OSA_REQUIRE(mkdtemp(dir));
	test_api();
	test_serve();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	OSA_REQUIRE(system(cmd) == 0);
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * bench_text.c - osa-bench-text: the `text` backend against SQLite FTS5
 * (tokenize='porter', ranked by bm25()) in the same run, on a real English
 * corpus: the GNU Collaborative International Dictionary of English of
 * Debian's dict-gcide (each distinct definition one record: its first
 * headword as `title`, the entry's text as `summary`).
 *
 * Measures, for both: build rate (records/s, until durable: the text
 * backend's checkpoint, FTS5's COMMIT), index bytes per record (the text
 * index's files; the FTS5 database file, and a contentless FTS5 table for
 * reference), query rate on one thread for 2-word and 4-word OR queries and
 * 2-word phrases, and known-item quality: hit@10 and MRR@10 of queries of
 * 2 to 4 words drawn from a sampled record's own text.  FTS5 gets the same
 * OR queries as `"w1" OR "w2" ...` ORDER BY rank LIMIT 10.  Prints one JSON
 * line per measure with both figures and text/fts5 ratios.
 *
 *   osa-bench-text [--n N] [--queries Q] [--dict FILE.dict.dz]
 *                  [--index FILE.index] [--tmp DIR]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <osa/backend.h>

#include "gcide.h"

struct rec {
	char *title, *summary, *json;
	size_t jlen;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "osa-bench-text: %s\n", what);
	exit(1);
}

static uint64_t rng_s = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void)
{
	rng_s ^= rng_s << 13;
	rng_s ^= rng_s >> 7;
	rng_s ^= rng_s << 17;
	return rng_s;
}

/* ---- queries ------------------------------------------------------------ */

struct query {
	char text[256]; /* for the text backend */
	char fts[320];	/* for FTS5 */
	size_t target;
};

/* ASCII words of 3+ letters of record i, lower-cased, into w[]. */
static size_t words(const struct rec *r, char w[][32], size_t max)
{
	const char *src[2] = { r->title, r->summary };
	size_t n = 0, s;

	for (s = 0; s < 2; s++) {
		const char *p = src[s];

		while (*p && n < max) {
			size_t k = 0;

			while (*p && !((*p >= 'a' && *p <= 'z') ||
				       (*p >= 'A' && *p <= 'Z')))
				p++;
			while (((*p >= 'a' && *p <= 'z') ||
				(*p >= 'A' && *p <= 'Z'))) {
				if (k < 31)
					w[n][k++] = (char)(*p | 0x20);
				p++;
			}
			w[n][k] = '\0';
			if (k >= 3 && k < 31)
				n++;
		}
	}
	return n;
}

/* A query of `k` words of record t: distinct random words, or (phrase)
 * two consecutive ones. */
static int make_query(const struct rec *recs, size_t t, size_t k, int phrase,
		      struct query *q)
{
	static char w[2048][32];
	size_t n = words(&recs[t], w, 2048), pick[4], i, j, tl = 0, fl = 0;

	if (n < k + 1)
		return -1;
	q->target = t;
	if (phrase) {
		i = rng() % (n - 1);
		snprintf(q->text, sizeof(q->text), "\"%s %s\"", w[i], w[i + 1]);
		snprintf(q->fts, sizeof(q->fts), "\"%s %s\"", w[i], w[i + 1]);
		return 0;
	}
	for (i = 0; i < k; i++) {
		int again;
		size_t tries = 0;

		do {
			pick[i] = rng() % n;
			again = 0;
			for (j = 0; j < i; j++)
				if (!strcmp(w[pick[j]], w[pick[i]]))
					again = 1;
		} while (again && ++tries < 50);
		if (again)
			return -1;
		tl += (size_t)snprintf(q->text + tl, sizeof(q->text) - tl,
				       "%s%s", i ? " " : "", w[pick[i]]);
		fl += (size_t)snprintf(q->fts + fl, sizeof(q->fts) - fl,
				       "%s\"%s\"", i ? " OR " : "", w[pick[i]]);
	}
	return 0;
}

static struct query *make_queries(const struct rec *recs, size_t n, size_t nq,
				  int kmin, int kmax, int phrase)
{
	struct query *q = calloc(nq, sizeof(*q));
	size_t i = 0, tries = 0;

	if (!q)
		die("out of memory");
	while (i < nq && tries++ < nq * 20) {
		size_t t = rng() % n;
		size_t k = (size_t)kmin + rng() % (size_t)(kmax - kmin + 1);

		if (!make_query(recs, t, k, phrase, &q[i]))
			i++;
	}
	return q;
}

/* ---- the text backend --------------------------------------------------- */

struct tb {
	const struct osa_backend *b;
	void *cfg, *self;
};

static long long dir_bytes(const char *dir)
{
	char cmd[1100];
	long long s = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "du -sb '%s'", dir);
	if ((p = popen(cmd, "r"))) {
		if (fscanf(p, "%lld", &s) != 1)
			s = 0;
		pclose(p);
	}
	return s;
}

static const char *tb_config = "";

static void tb_open(struct tb *t, const char *dir)
{
	struct osa_error err = { 0 };
	struct osa_backend_args a;
	uint64_t lsn;

	t->b = osa_backend_find("text");
	if (!t->b)
		die("the text backend is not built in");
	if (osa_schema_parse(t->b->schema, tb_config, &t->cfg, NULL, &err))
		die(err.msg);
	a.index = "bench";
	a.config = t->cfg;
	a.dir = dir;
	if (t->b->open(&a, &t->self, &lsn, &err))
		die(err.msg);
}

/* Rank (0-based) of srn "g-<target>" in the top 10, or -1; -2 error. */
static int tb_query(struct tb *t, const struct query *q, size_t *nhits)
{
	struct osa_query oq = { .text = q->text, .limit = 10 };
	struct osa_hits h = { 0 };
	struct osa_error err = { 0 };
	char want[32];
	int rank = -1;
	size_t i;

	if (t->b->query(t->self, &oq, &h, &err))
		return -2;
	snprintf(want, sizeof(want), "g-%06zu", q->target);
	for (i = 0; i < h.n; i++)
		if (!strcmp(h.v[i].srn, want) && rank < 0)
			rank = (int)i;
	*nhits += h.n;
	osa_hits_free(&h);
	return rank;
}

/* ---- SQLite FTS5 -------------------------------------------------------- */

static void sq_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s: %s\n", sql, msg);
		exit(1);
	}
}

static sqlite3 *fts_build(const char *path, const struct rec *r, size_t n,
			  int contentless, double *secs)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	double t0;
	size_t i;

	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("sqlite3_open");
	sq_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
	sq_exec(db,
		contentless
			? "CREATE VIRTUAL TABLE t USING fts5(title, summary, "
			  "tokenize='porter', content='')"
			: "CREATE VIRTUAL TABLE t USING fts5(title, summary, "
			  "tokenize='porter')");
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO t(rowid, title, summary) VALUES "
			       "(?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	t0 = now();
	sq_exec(db, "BEGIN");
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)i);
		sqlite3_bind_text(st, 2, r[i].title, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r[i].summary, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			die(sqlite3_errmsg(db));
		sqlite3_reset(st);
	}
	sq_exec(db, "COMMIT");
	sq_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	*secs = now() - t0;
	sqlite3_finalize(st);
	return db;
}

static int fts_query(sqlite3_stmt *st, const struct query *q, size_t *nhits)
{
	int rank = -1, i = 0;

	sqlite3_bind_text(st, 1, q->fts, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((size_t)sqlite3_column_int64(st, 0) == q->target &&
		    rank < 0)
			rank = i;
		i++;
	}
	sqlite3_reset(st);
	*nhits += (size_t)i;
	return rank;
}

/* ---- main ------------------------------------------------------------------
 */

static void line(const char *metric, double text, double fts, const char *unit,
		 int higher_better)
{
	printf("{\"bench\":\"text\",\"metric\":\"%s\",\"unit\":\"%s\","
	       "\"text\":%.6g,\"fts5\":%.6g,\"ratio\":%.4g,"
	       "\"better\":\"%s\"}\n",
	       metric, unit, text, fts, fts != 0 ? text / fts : 0.0,
	       higher_better ? "higher" : "lower");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *dict = "/usr/share/dictd/gcide.dict.dz";
	const char *idx = "/usr/share/dictd/gcide.index";
	const char *tmp = "/tmp";
	size_t max = 1000000, nq = 2000, n, i;
	struct rec *recs;
	char dir[512], dbpath[600], dbpath2[600];
	struct tb t;
	sqlite3 *db, *db2;
	sqlite3_stmt *st;
	double t0, tsecs, fsecs, f2secs;
	long long tbytes, fbytes, f2bytes;
	struct osa_error err = { 0 };

	for (i = 1; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "--n") && i + 1 < (size_t)argc)
			max = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--queries") && i + 1 < (size_t)argc)
			nq = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--dict") && i + 1 < (size_t)argc)
			dict = argv[++i];
		else if (!strcmp(argv[i], "--index") && i + 1 < (size_t)argc)
			idx = argv[++i];
		else if (!strcmp(argv[i], "--tmp") && i + 1 < (size_t)argc)
			tmp = argv[++i];
		else if (!strcmp(argv[i], "--config") && i + 1 < (size_t)argc)
			tb_config = argv[++i];
		else {
			fprintf(stderr,
				"usage: osa-bench-text [--n N] [--queries Q] "
				"[--dict F.dict.dz] [--index F.index] "
				"[--tmp DIR] [--config TEXT-INDEX-CONFIG]\n");
			return 64;
		}
	}
	{
		struct gcide_rec *g = gcide_load(dict, idx, max, &n);

		recs = calloc(n ? n : 1, sizeof(*recs));
		if (!recs)
			die("out of memory");
		for (i = 0; i < n; i++) {
			recs[i].title = g[i].title;
			recs[i].summary = g[i].summary;
		}
		free(g);
	}
	if (n < 100)
		die("too few records");
	for (i = 0; i < n; i++) {
		size_t cap =
			strlen(recs[i].title) + strlen(recs[i].summary) + 64;
		size_t k = 0;

		recs[i].json = malloc(cap * 2);
		if (!recs[i].json)
			die("out of memory");
		k += (size_t)sprintf(recs[i].json,
				     "{\"srn\":\"g-%06zu\",\"title\":", i);
		k += gcide_json_str(recs[i].json + k, recs[i].title);
		k += (size_t)sprintf(recs[i].json + k, ",\"summary\":");
		k += gcide_json_str(recs[i].json + k, recs[i].summary);
		recs[i].json[k++] = '}';
		recs[i].json[k] = '\0';
		recs[i].jlen = k;
	}
	{
		double bytes = 0;

		for (i = 0; i < n; i++)
			bytes += (double)(strlen(recs[i].title) +
					  strlen(recs[i].summary));
		printf("{\"bench\":\"text\",\"corpus\":\"gcide (dict-gcide)\","
		       "\"records\":%zu,\"text_bytes_per_record\":%.0f,"
		       "\"sqlite\":\"%s\"}\n",
		       n, bytes / (double)n, sqlite3_libversion());
	}

	/* Build: the text backend, batches of 1000, then a checkpoint. */
	snprintf(dir, sizeof(dir), "%s/osa-bench-text-XXXXXX", tmp);
	if (!mkdtemp(dir))
		die("mkdtemp");
	{
		struct osa_record **rv = malloc(n * sizeof(*rv));

		if (!rv)
			die("out of memory");
		for (i = 0; i < n; i++)
			if (osa_record_parse(recs[i].json, recs[i].jlen, NULL,
					     &rv[i], &err))
				die(err.msg);
		tb_open(&t, dir);
		t0 = now();
		for (i = 0; i < n; i += 1000) {
			size_t m = n - i < 1000 ? n - i : 1000;

			if (t.b->ingest_batch(
				    t.self,
				    (const struct osa_record *const *)rv + i, m,
				    &err))
				die(err.msg);
		}
		tsecs = now() - t0;
		if (t.b->checkpoint(t.self, 1, &err))
			die(err.msg);
		printf("{\"bench\":\"text\",\"metric\":\"build_split_s\","
		       "\"ingest\":%.3f,\"checkpoint\":%.3f}\n",
		       tsecs, now() - t0 - tsecs);
		tsecs = now() - t0;
		for (i = 0; i < n; i++)
			osa_record_free(rv[i]);
		free(rv);
	}
	tbytes = dir_bytes(dir);
	snprintf(dbpath, sizeof(dbpath), "%s.fts5.db", dir);
	snprintf(dbpath2, sizeof(dbpath2), "%s.fts5c.db", dir);
	db = fts_build(dbpath, recs, n, 0, &fsecs);
	db2 = fts_build(dbpath2, recs, n, 1, &f2secs);
	{
		struct stat s1, s2;

		fbytes = stat(dbpath, &s1) ? 0 : (long long)s1.st_size;
		f2bytes = stat(dbpath2, &s2) ? 0 : (long long)s2.st_size;
	}
	sqlite3_close(db2);
	unlink(dbpath2);
	line("build_records_per_s", (double)n / tsecs, (double)n / fsecs,
	     "records/s", 1);
	line("bytes_per_record", (double)tbytes / (double)n,
	     (double)fbytes / (double)n, "bytes", 0);
	line("bytes_per_record_vs_contentless_fts5", (double)tbytes / (double)n,
	     (double)f2bytes / (double)n, "bytes", 0);
	(void)f2secs;
	/* Reopen the text index from its files, as a server would. */
	t.b->close(t.self);
	t.self = NULL;
	{
		struct osa_backend_args a = { "bench", t.cfg, dir };
		uint64_t lsn;

		t0 = now();
		if (t.b->open(&a, &t.self, &lsn, &err))
			die(err.msg);
		printf("{\"bench\":\"text\",\"metric\":\"reopen_ms\","
		       "\"text\":%.1f}\n",
		       (now() - t0) * 1000);
	}
	if (sqlite3_prepare_v2(db,
			       "SELECT rowid FROM t WHERE t MATCH ? ORDER BY "
			       "rank LIMIT 10",
			       -1, &st, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));

	/* Quality: known-item queries of 2 to 4 words. */
	{
		struct query *q = make_queries(recs, n, nq, 2, 4, 0);
		double hit[2] = { 0 }, mrr[2] = { 0 };
		size_t nh = 0, errs = 0;

		for (i = 0; i < nq; i++) {
			int a = tb_query(&t, &q[i], &nh);
			int b = fts_query(st, &q[i], &nh);

			errs += a == -2;
			if (a >= 0) {
				hit[0] += 1;
				mrr[0] += 1.0 / (a + 1);
			}
			if (b >= 0) {
				hit[1] += 1;
				mrr[1] += 1.0 / (b + 1);
			}
		}
		line("hit_at_10", hit[0] / (double)nq, hit[1] / (double)nq, "",
		     1);
		line("mrr_at_10", mrr[0] / (double)nq, mrr[1] / (double)nq, "",
		     1);
		if (errs)
			printf("{\"bench\":\"text\",\"note\":\"%zu queries had "
			       "no searchable word for text (stopwords)\"}\n",
			       errs);
		free(q);
	}
	/* Query rate, one thread. */
	{
		static const struct {
			const char *name;
			int kmin, kmax, phrase;
		} kinds[] = { { "qps_2_words", 2, 2, 0 },
			      { "qps_4_words", 4, 4, 0 },
			      { "qps_phrase", 2, 2, 1 } };
		/* FTS5 scores every match: a few hundred queries suffice; the
		 * text backend runs the same set five times over. */
		size_t k, nr = nq < 300 ? nq : 300, rep;

		for (k = 0; k < 3; k++) {
			struct query *q =
				make_queries(recs, n, nr, kinds[k].kmin,
					     kinds[k].kmax, kinds[k].phrase);
			size_t nh1 = 0, nh2 = 0;
			double a, b;

			t0 = now();
			for (rep = 0; rep < 5; rep++)
				for (i = 0; i < nr; i++)
					tb_query(&t, &q[i], &nh1);
			a = (double)(5 * nr) / (now() - t0);
			t0 = now();
			for (i = 0; i < nr; i++)
				fts_query(st, &q[i], &nh2);
			b = (double)nr / (now() - t0);
			line(kinds[k].name, a, b, "queries/s", 1);
			free(q);
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(dbpath);
	{
		char cmd[2500];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s-wal' '%s-shm'", dir,
			 dbpath, dbpath);
		if (system(cmd))
			fprintf(stderr, "osa-bench-text: could not remove %s\n",
				dir);
	}
	t.b->close(t.self);
	osa_schema_free(t.b->schema, t.cfg);
	for (i = 0; i < n; i++) {
		free(recs[i].title);
		free(recs[i].summary);
		free(recs[i].json);
	}
	free(recs);
	return 0;
}

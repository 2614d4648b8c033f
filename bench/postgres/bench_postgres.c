/* SPDX-License-Identifier: MIT */
/*
 * bench_postgres.c - osa-bench-postgres: the `postgres` backend against the
 * built-in keyword backend `text` in the same run, through the backend
 * contract, on the same real text: dict-gcide (bench/text/gcide.c).
 *
 * For both: build rate (records/s in batches of 1000 until durable: text's
 * checkpoint; postgres commits every batch, then its checkpoint), and on
 * one thread the query rate and known-item hit@10 of 2-word queries drawn
 * from a sampled record's own text (two adjacent words), OR-ed (`w1 w2`
 * for text, `w1 or w2` in websearch syntax for postgres), as a phrase
 * (`"w1 w2"`, both) and AND-ed (`+w1 +w2` for text, `w1 w2` for
 * postgres).  One JSON line per measure with both figures and the
 * postgres/text ratio.  Needs a PostgreSQL server: run it through
 * bench/postgres/run.sh, which starts a throwaway cluster.
 *
 *   osa-bench-postgres --conninfo CI [--n N] [--queries Q] [--tmp DIR]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <osa/backend.h>

#include "gcide.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "osa-bench-postgres: %s\n", what);
	exit(1);
}

static uint64_t rng_s = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
	rng_s ^= rng_s << 13;
	rng_s ^= rng_s >> 7;
	rng_s ^= rng_s << 17;
	return rng_s;
}

struct bq {
	char w1[32], w2[32];
	size_t target;
};

/* Two adjacent ASCII words of 4+ letters (lower-cased) of record r, so that
 * the phrase exists; 0 if it has none. */
static int pick(const struct gcide_rec *r, struct bq *q)
{
	char w[64][32];
	size_t n = 0, k, tries;
	const char *s = r->summary;

#define BQ_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
	while (*s && n < 64) {
		size_t len = 0;

		while (*s && !BQ_ALPHA(*s))
			s++;
		while (BQ_ALPHA(*s) && len < 31) {
			w[n][len++] = (char)(*s | 0x20);
			s++;
		}
		while (BQ_ALPHA(*s))
			s++;
		w[n][len] = '\0';
		if (len)
			n++;
	}
	for (tries = 0; n >= 2 && tries < 8; tries++) {
		k = (size_t)(rng() % (n - 1));
		if (strlen(w[k]) < 4 || strlen(w[k + 1]) < 4 ||
		    !strcmp(w[k], w[k + 1]))
			continue;
		memcpy(q->w1, w[k], 32);
		memcpy(q->w2, w[k + 1], 32);
		return 1;
	}
	return 0;
}

struct be {
	const char *name;
	const struct osa_backend *b;
	void *cfg, *self;
	char dir[512];
};

static void be_open(struct be *x, const char *name, const char *config,
		    const char *tmp)
{
	struct osa_backend_args args;
	struct osa_error err = { 0 };
	char *report = NULL;
	uint64_t lsn;

	x->name = name;
	x->b = osa_backend_find(name);
	if (!x->b)
		die("a backend is not built in (text and postgres are needed)");
	if (osa_schema_parse(x->b->schema, config, &x->cfg, &report, &err))
		die(report ? report : err.msg);
	snprintf(x->dir, sizeof(x->dir), "%s/osa-bench-pg-XXXXXX", tmp);
	if (!mkdtemp(x->dir))
		die("mkdtemp");
	args.index = "bench_gcide";
	args.config = x->cfg;
	args.dir = x->dir;
	if (x->b->open(&args, &x->self, &lsn, &err))
		die(err.msg);
}

static double be_build(struct be *x, struct osa_record **rv, size_t n)
{
	struct osa_error err = { 0 };
	double t0 = now();
	size_t i;

	for (i = 0; i < n; i += 1000) {
		size_t m = n - i < 1000 ? n - i : 1000;

		if (x->b->ingest_batch(x->self,
				       (const struct osa_record *const *)rv + i,
				       m, &err))
			die(err.msg);
	}
	if (x->b->checkpoint && x->b->checkpoint(x->self, 1, &err))
		die(err.msg);
	return now() - t0;
}

/* Run every query; returns seconds, sets *hit (hit@10 share). */
static double be_queries(struct be *x, const struct bq *qs, size_t nq,
			 int phrase, char (*srns)[32], double *hit)
{
	struct osa_error err = { 0 };
	double t0 = now();
	size_t i, j, hits = 0;
	char text[128];

	for (i = 0; i < nq; i++) {
		struct osa_query q = { .text = text, .limit = 10 };
		struct osa_hits h = { 0 };

		if (phrase == 2 && !strcmp(x->name, "postgres"))
			snprintf(text, sizeof(text), "%s %s", qs[i].w1,
				 qs[i].w2);
		else if (phrase == 2)
			snprintf(text, sizeof(text), "+%s +%s", qs[i].w1,
				 qs[i].w2);
		else if (phrase)
			snprintf(text, sizeof(text), "\"%s %s\"", qs[i].w1,
				 qs[i].w2);
		else if (!strcmp(x->name, "postgres"))
			snprintf(text, sizeof(text), "%s or %s", qs[i].w1,
				 qs[i].w2);
		else
			snprintf(text, sizeof(text), "%s %s", qs[i].w1,
				 qs[i].w2);
		if (x->b->query(x->self, &q, &h, &err) &&
		    err.code != OSA_ENOFEATURES)
			die(err.msg);
		for (j = 0; j < h.n; j++)
			if (!strcmp(h.v[j].srn, srns[qs[i].target]))
				hits++;
		osa_hits_free(&h);
	}
	*hit = (double)hits / (double)nq;
	return now() - t0;
}

static void line(const char *metric, double pg, double tx, const char *unit)
{
	printf("{\"metric\":\"%s\",\"postgres\":%.4g,\"text\":%.4g,"
	       "\"unit\":\"%s\",\"postgres_over_text\":%.3f}\n",
	       metric, pg, tx, unit, tx ? pg / tx : 0.0);
}

int main(int argc, char **argv)
{
	const char *dict = "/usr/share/dictd/gcide.dict.dz";
	const char *idx = "/usr/share/dictd/gcide.index";
	const char *tmp = "/tmp", *conninfo = getenv("OSA_PG_CONNINFO");
	size_t max = 1000000, nq = 2000, n, i, k;
	struct gcide_rec *g;
	struct osa_record **rv;
	struct osa_error err = { 0 };
	char(*srns)[32];
	struct bq *qs;
	struct be tx, pg;
	char pgcfg[1024], *json, cmd[1200];
	double t_tx, t_pg, h_tx, h_pg;
	int phrase;

	for (i = 1; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "--n") && i + 1 < (size_t)argc)
			max = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--queries") && i + 1 < (size_t)argc)
			nq = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--conninfo") && i + 1 < (size_t)argc)
			conninfo = argv[++i];
		else if (!strcmp(argv[i], "--tmp") && i + 1 < (size_t)argc)
			tmp = argv[++i];
		else {
			fprintf(stderr,
				"usage: osa-bench-postgres --conninfo "
				"CI [--n N] [--queries Q] [--tmp DIR]\n");
			return 64;
		}
	}
	if (!conninfo || !*conninfo)
		die("no PostgreSQL server: --conninfo or $OSA_PG_CONNINFO "
		    "(bench/postgres/run.sh starts a throwaway one)");
	g = gcide_load(dict, idx, max, &n);
	if (n < 100 || !nq)
		die("too few records or queries");
	rv = malloc(n * sizeof(*rv));
	srns = malloc(n * sizeof(*srns));
	qs = malloc(nq * sizeof(*qs));
	if (!rv || !srns || !qs)
		die("out of memory");
	for (i = 0; i < n; i++) {
		size_t cap = 2 * (strlen(g[i].title) + strlen(g[i].summary)) +
			     64,
		       j = 0;

		snprintf(srns[i], sizeof(srns[i]), "g-%07zu", i);
		json = malloc(cap);
		if (!json)
			die("out of memory");
		j += (size_t)sprintf(json,
				     "{\"srn\":\"%s\",\"title\":", srns[i]);
		j += gcide_json_str(json + j, g[i].title);
		j += (size_t)sprintf(json + j, ",\"summary\":");
		j += gcide_json_str(json + j, g[i].summary);
		json[j++] = '}';
		json[j] = '\0';
		if (osa_record_parse(json, j, NULL, &rv[i], &err))
			die(err.msg);
		free(json);
	}
	for (k = 0; k < nq;) {
		i = (size_t)(rng() % n);
		if (pick(&g[i], &qs[k])) {
			qs[k].target = i;
			k++;
		}
	}
	printf("{\"bench\":\"postgres\",\"corpus\":\"gcide (dict-gcide)\","
	       "\"records\":%zu,\"queries\":%zu}\n",
	       n, nq);
	fflush(stdout);

	be_open(&tx, "text", "fields = [\"title\", \"summary\"];", tmp);
	snprintf(pgcfg, sizeof(pgcfg),
		 "conninfo = \"%s\"; fields = [\"title\", \"summary\"];",
		 conninfo);
	be_open(&pg, "postgres", pgcfg, tmp);
	t_tx = be_build(&tx, rv, n);
	t_pg = be_build(&pg, rv, n);
	line("build_records_per_s", (double)n / t_pg, (double)n / t_tx,
	     "records/s");
	fflush(stdout);
	for (phrase = 0; phrase < 3; phrase++) {
		static const char *const qps[] = { "or2_queries_per_s",
						   "phrase2_queries_per_s",
						   "and2_queries_per_s" };
		static const char *const hit[] = { "or2_hit_at_10",
						   "phrase2_hit_at_10",
						   "and2_hit_at_10" };

		t_tx = be_queries(&tx, qs, nq, phrase, srns, &h_tx);
		t_pg = be_queries(&pg, qs, nq, phrase, srns, &h_pg);
		line(qps[phrase], (double)nq / t_pg, (double)nq / t_tx,
		     "queries/s");
		line(hit[phrase], h_pg, h_tx, "share");
		fflush(stdout);
	}
	for (i = 0; i < n; i++)
		osa_record_free(rv[i]);
	tx.b->close(tx.self);
	pg.b->close(pg.self);
	osa_schema_free(tx.b->schema, tx.cfg);
	osa_schema_free(pg.b->schema, pg.cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", tx.dir, pg.dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s, %s\n", tx.dir, pg.dir);
	for (i = 0; i < n; i++) {
		free(g[i].title);
		free(g[i].summary);
	}
	free(g);
	free(rv);
	free(srns);
	free(qs);
	return 0;
}

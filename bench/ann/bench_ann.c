/* SPDX-License-Identifier: MIT */
/*
 * bench_ann.c - osa-bench-ann: builds the `vector` and `flat` backends
 * through the backend API and hnswlib's C++ directly (hnsw_direct.cpp) on
 * the same data with the same parameters, in the same run, and prints one
 * JSON object per implementation and ef, then the ratios vector/hnswlib.
 *
 *   osa-bench-ann [--base B.fvecs --queries Q.fvecs] [--k 10]
 *                 [--ef 16,32,64,128] [--metric cosine|l2|ip] [--m 16]
 *                 [--ef-construction 200] [--threads 1]
 *                 [--n 100000 --dim 128 --nq 1000] [--batch 1000]
 *                 [--repeat 3]
 *
 * Without files a synthetic clustered set is generated (bench_data.c).
 * Recall@k is measured against `flat` (exact).  What is timed is in
 * README.md.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <osa/backend.h>

#include "bench_data.h"
#include "flat.h"
#include "hnsw_direct.h"

#define BENCH_MAX_EF 32
/* Queries per turn: the two implementations alternate every this many
 * queries, so noise from other processes hits both alike. */
#define BENCH_CHUNK 50

struct opts {
	const char *base, *queries;
	size_t k, n, dim, nq, m, efc, batch;
	int ef[BENCH_MAX_EF], nef;
	int metric;
	int threads;
	int repeat;
};

static const char *const metric_names[] = { "cosine", "l2", "ip" };

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "osa-bench-ann: %s\n", why);
	fprintf(stderr,
		"usage: osa-bench-ann [--base B.fvecs --queries Q.fvecs] "
		"[--k 10] [--ef 16,32,64,128]\n"
		"         [--metric cosine|l2|ip] [--m 16] "
		"[--ef-construction 200] [--threads 1]\n"
		"         [--n 100000 --dim 128 --nq 1000] [--batch 1000] "
		"[--repeat 3]\n");
	return 64;
}

static int parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s || *end || v < lo || v > hi)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		size_t x;

		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return usage(NULL);
		if (!v)
			return usage("every option takes a value");
		i++;
		if (!strcmp(a, "--base")) {
			o->base = v;
		} else if (!strcmp(a, "--queries")) {
			o->queries = v;
		} else if (!strcmp(a, "--k")) {
			if (parse_size(v, 1, 1000, &o->k))
				return usage("--k: expected 1..1000");
		} else if (!strcmp(a, "--ef")) {
			o->nef = bench_parse_list(v, o->ef, BENCH_MAX_EF);
			if (o->nef < 1)
				return usage("--ef: expected a list like "
					     "16,32,64 (each 1..65535)");
		} else if (!strcmp(a, "--metric")) {
			for (o->metric = 0; o->metric < 3; o->metric++)
				if (!strcmp(v, metric_names[o->metric]))
					break;
			if (o->metric == 3)
				return usage("--metric: cosine, l2 or ip");
		} else if (!strcmp(a, "--m")) {
			if (parse_size(v, 2, 100, &o->m))
				return usage("--m: expected 2..100");
		} else if (!strcmp(a, "--ef-construction")) {
			if (parse_size(v, 1, 65535, &o->efc))
				return usage("--ef-construction: 1..65535");
		} else if (!strcmp(a, "--threads")) {
			if (parse_size(v, 1, 256, &x))
				return usage("--threads: expected 1..256");
			o->threads = (int)x;
		} else if (!strcmp(a, "--repeat")) {
			if (parse_size(v, 1, 100, &x))
				return usage("--repeat: expected 1..100");
			o->repeat = (int)x;
		} else if (!strcmp(a, "--n")) {
			if (parse_size(v, 1, 100000000, &o->n))
				return usage("--n: expected 1..1e8");
		} else if (!strcmp(a, "--dim")) {
			if (parse_size(v, 1, 4096, &o->dim))
				return usage("--dim: expected 1..4096");
		} else if (!strcmp(a, "--nq")) {
			if (parse_size(v, 1, 10000000, &o->nq))
				return usage("--nq: expected 1..1e7");
		} else if (!strcmp(a, "--batch")) {
			if (parse_size(v, 1, 10000000, &o->batch))
				return usage("--batch: expected 1..1e7");
		} else {
			return usage("unknown option");
		}
	}
	if (!o->base != !o->queries)
		return usage("--base and --queries go together");
	return 0;
}

/* Open `backend` in a fresh directory under `tmp`. */
static void *open_index(const char *backend, const char *cfgtext,
			const char *tmp, void **cfg,
			const struct osa_backend **b)
{
	struct osa_backend_args args;
	struct osa_error err = { 0 };
	char dir[512], *report = NULL;
	uint64_t lsn;
	void *self;

	*b = osa_backend_find(backend);
	if (!*b) {
		fprintf(stderr, "osa-bench-ann: backend %s is not built in\n",
			backend);
		return NULL;
	}
	if (osa_schema_parse((*b)->schema, cfgtext, cfg, &report, &err)) {
		fprintf(stderr, "osa-bench-ann: %s config: %s\n", backend,
			report ? report : err.msg);
		free(report);
		return NULL;
	}
	snprintf(dir, sizeof(dir), "%s/%s", tmp, backend);
	args.index = backend;
	args.config = *cfg;
	args.dir = dir;
	if ((*b)->open(&args, &self, &lsn, &err)) {
		fprintf(stderr, "osa-bench-ann: open %s: %s\n", backend,
			err.msg);
		osa_schema_free((*b)->schema, *cfg);
		return NULL;
	}
	return self;
}

/* Ingest every record in batches; seconds, or -1. */
static double ingest(const struct osa_backend *b, void *self,
		     struct osa_record **recs, size_t n, size_t batch)
{
	struct osa_error err = { 0 };
	double t0 = bench_now();
	size_t i;

	for (i = 0; i < n; i += batch) {
		size_t m = n - i < batch ? n - i : batch;

		if (b->ingest_batch(self,
				    (const struct osa_record *const *)recs + i,
				    m, &err)) {
			fprintf(stderr, "osa-bench-ann: ingest: %s\n", err.msg);
			return -1;
		}
	}
	return bench_now() - t0;
}

static double recall_of(const long *ids, const long *gt, size_t nq, size_t k)
{
	size_t i, j, l, hit = 0;

	for (i = 0; i < nq; i++)
		for (j = 0; j < k; j++)
			for (l = 0; l < k; l++)
				if (ids[i * k + j] >= 0 &&
				    ids[i * k + j] == gt[i * k + l]) {
					hit++;
					break;
				}
	return (double)hit / (double)(nq * k);
}

struct qjob {
	const struct osa_backend *b;
	void *self;
	const float *queries;
	size_t nq, k, dim, from, step;
	int ef;
	struct osa_hits *hits;
	int failed;
};

static void *query_worker(void *arg)
{
	struct qjob *j = arg;
	struct osa_error err;
	size_t i;

	for (i = j->from; i < j->nq; i += j->step) {
		struct osa_query q = { .vector = j->queries + i * j->dim,
				       .dim = j->dim,
				       .limit = j->k,
				       .ef_search = j->ef };

		if (j->b->query(j->self, &q, &j->hits[i], &err)) {
			fprintf(stderr, "osa-bench-ann: query: %s\n", err.msg);
			j->failed = 1;
			return NULL;
		}
	}
	return NULL;
}

/* Run nq queries through the backend API on `threads` threads; seconds,
 * ids filled; -1 on failure. */
static double run_queries(const struct osa_backend *b, void *self,
			  const float *queries, size_t nq, size_t k, size_t dim,
			  int ef, int threads, long *ids)
{
	struct osa_hits *hits = calloc(nq, sizeof(*hits));
	struct qjob jobs[256];
	pthread_t th[256];
	double t0, t;
	size_t i, j;
	int failed = 0, tn;

	if (!hits)
		return -1;
	for (tn = 0; tn < threads; tn++)
		jobs[tn] = (struct qjob){ b,  self, queries,	nq,
					  k,  dim,  (size_t)tn, (size_t)threads,
					  ef, hits, 0 };
	t0 = bench_now();
	if (threads == 1) {
		query_worker(&jobs[0]);
	} else {
		for (tn = 0; tn < threads; tn++)
			pthread_create(&th[tn], NULL, query_worker, &jobs[tn]);
		for (tn = 0; tn < threads; tn++)
			pthread_join(th[tn], NULL);
	}
	t = bench_now() - t0;
	for (tn = 0; tn < threads; tn++)
		failed |= jobs[tn].failed;
	for (i = 0; i < nq; i++) {
		for (j = 0; j < k; j++)
			ids[i * k + j] =
				j < hits[i].n ? bench_srn_id(hits[i].v[j].srn)
					      : -1;
		osa_hits_free(&hits[i]);
	}
	free(hits);
	return failed ? -1 : t;
}

static void print_row(const char *impl, int ef, double recall, double qps,
		      double build_per_s, double bytes)
{
	char efs[16];

	if (ef > 0)
		snprintf(efs, sizeof(efs), "%d", ef);
	else
		snprintf(efs, sizeof(efs), "null");
	printf("{\"impl\": \"%s\", \"ef\": %s, \"recall\": %.4f, \"qps\": "
	       "%.0f, "
	       "\"build_per_s\": %.0f, \"bytes_per_vector\": %.0f}\n",
	       impl, efs, recall, qps, build_per_s, bytes);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct opts o = { .k = 10,
			  .n = 100000,
			  .dim = 128,
			  .nq = 1000,
			  .m = 16,
			  .efc = 200,
			  .batch = 1000,
			  .threads = 1,
			  .repeat = 3,
			  .ef = { 16, 32, 64, 128 },
			  .nef = 4 };
	const struct osa_backend *fb, *vb;
	struct osa_record **recs;
	struct hnsw_direct *hd;
	float *base = NULL, *queries = NULL;
	long *gt, *ids, *gs_ids;
	const char **gs;
	float *gsc;
	void *fcfg, *vcfg, *flat, *vec;
	char tmp[] = "/tmp/osa-bench-ann-XXXXXX", cfg[512], why[512];
	double t, fbuild, vbuild, hbuild, vqps[BENCH_MAX_EF];
	double hqps[BENCH_MAX_EF], vrec[BENCH_MAX_EF], hrec[BENCH_MAX_EF];
	size_t heap0, fbytes, vbytes, hbytes, i, nflat;
	int rc, e;

	if ((rc = parse_args(argc, argv, &o)))
		return rc;
	if (o.base) {
		size_t qd;

		if (bench_read_fvecs(o.base, o.n == 100000 ? 0 : o.n, &base,
				     &o.n, &o.dim, why, sizeof(why)) ||
		    bench_read_fvecs(o.queries, o.nq == 1000 ? 0 : o.nq,
				     &queries, &o.nq, &qd, why, sizeof(why))) {
			fprintf(stderr, "osa-bench-ann: %s\n", why);
			return 66;
		}
		if (qd != o.dim) {
			fprintf(stderr,
				"osa-bench-ann: %s has dim %zu, %s dim %zu\n",
				o.base, o.dim, o.queries, qd);
			return 65;
		}
	} else {
		base = malloc(o.n * o.dim * sizeof(float));
		queries = malloc(o.nq * o.dim * sizeof(float));
		if (!base || !queries) {
			fprintf(stderr, "osa-bench-ann: out of memory\n");
			return 1;
		}
		bench_synthetic(base, o.n, o.dim, 42, 1);
		bench_synthetic(queries, o.nq, o.dim, 42, 2);
	}
	if (o.k > o.n)
		o.k = o.n;
	if (!mkdtemp(tmp)) {
		perror("osa-bench-ann: mkdtemp");
		return 1;
	}
	fprintf(stderr,
		"osa-bench-ann: %zu x %zu base, %zu queries, k %zu, metric %s, "
		"m %zu, ef_construction %zu, threads %d\n",
		o.n, o.dim, o.nq, o.k, metric_names[o.metric], o.m, o.efc,
		o.threads);
	recs = bench_records(base, o.n, o.dim);
	gt = malloc(o.nq * o.k * sizeof(*gt));
	ids = malloc(o.nq * o.k * sizeof(*ids));
	gs_ids = malloc(o.nq * o.k * sizeof(*gs_ids));
	gs = malloc(o.nq * o.k * sizeof(*gs));
	gsc = malloc(o.nq * o.k * sizeof(*gsc));
	if (!gt || !ids || !gs_ids || !gs || !gsc) {
		fprintf(stderr, "osa-bench-ann: out of memory\n");
		return 1;
	}

	/* flat: the exact answers, and its own figures. */
	snprintf(cfg, sizeof(cfg),
		 "dim = %zu; metric = \"%s\"; initial_capacity = %zu;"
		 "embedding = { embedder = \"field\"; };",
		 o.dim, metric_names[o.metric], o.n);
	heap0 = bench_heap_bytes();
	flat = open_index("flat", cfg, tmp, &fcfg, &fb);
	if (!flat)
		return 1;
	fbuild = ingest(fb, flat, recs, o.n, o.batch);
	fbytes = bench_heap_bytes() - heap0;
	if (fbuild < 0)
		return 1;
	{
		struct osa_error err = { 0 };

		if (flat_search_batch(flat, queries, o.nq, o.k, gs, gsc,
				      &err)) {
			fprintf(stderr, "osa-bench-ann: %s\n", err.msg);
			return 1;
		}
		for (i = 0; i < o.nq * o.k; i++)
			gt[i] = gs[i] ? bench_srn_id(gs[i]) : -1;
	}
	nflat = o.nq < 200 ? o.nq : 200; /* exact search is slow: a sample */
	t = run_queries(fb, flat, queries, nflat, o.k, o.dim, 0, o.threads,
			ids);
	if (t < 0)
		return 1;
	print_row("flat", 0, recall_of(ids, gt, nflat, o.k), nflat / t,
		  o.n / fbuild, (double)fbytes / o.n);

	/* hnswlib directly (first: the peer gets the fresher heap). */
	heap0 = bench_heap_bytes();
	hd = hnsw_direct_build(base, o.n, o.dim, o.metric, o.m, o.efc,
			       o.threads, &hbuild, why, sizeof(why));
	hbytes = bench_heap_bytes() - heap0;
	if (!hd) {
		fprintf(stderr, "osa-bench-ann: %s\n", why);
		return 1;
	}
	/* vector through the backend API. */
	snprintf(cfg, sizeof(cfg),
		 "dim = %zu; metric = \"%s\"; m = %zu; ef_construction = %zu;"
		 "initial_capacity = %zu;"
		 "embedding = { embedder = \"field\"; };",
		 o.dim, metric_names[o.metric], o.m, o.efc, o.n);
	heap0 = bench_heap_bytes();
	vec = open_index("vector", cfg, tmp, &vcfg, &vb);
	if (!vec)
		return 1;
	vbuild = ingest(vb, vec, recs, o.n, o.batch);
	vbytes = bench_heap_bytes() - heap0;
	if (vbuild < 0)
		return 1;
	/* Interleaved in chunks, --repeat times over the queries. */
	for (e = 0; e < o.nef; e++) {
		double tv = 0, th = 0;
		size_t off;
		int r;

		for (r = 0; r < o.repeat; r++) {
			for (off = 0; off < o.nq; off += BENCH_CHUNK) {
				size_t m = o.nq - off < BENCH_CHUNK
						   ? o.nq - off
						   : BENCH_CHUNK;

				t = run_queries(vb, vec, queries + off * o.dim,
						m, o.k, o.dim, o.ef[e],
						o.threads, ids + off * o.k);
				if (t < 0)
					return 1;
				tv += t;
				th += hnsw_direct_search(
					hd, queries + off * o.dim, m, o.k,
					o.ef[e], o.threads, gs_ids + off * o.k);
			}
		}
		vqps[e] = o.nq * o.repeat / tv;
		hqps[e] = o.nq * o.repeat / th;
		vrec[e] = recall_of(ids, gt, o.nq, o.k);
		hrec[e] = recall_of(gs_ids, gt, o.nq, o.k);
	}
	for (e = 0; e < o.nef; e++)
		print_row("vector", o.ef[e], vrec[e], vqps[e], o.n / vbuild,
			  (double)vbytes / o.n);
	for (e = 0; e < o.nef; e++)
		print_row("hnswlib", o.ef[e], hrec[e], hqps[e], o.n / hbuild,
			  (double)hbytes / o.n);
	for (e = 0; e < o.nef; e++)
		printf("{\"ratio\": \"vector/hnswlib\", \"ef\": %d, \"qps\": "
		       "%.3f, \"recall\": %.3f}\n",
		       o.ef[e], vqps[e] / hqps[e],
		       hrec[e] > 0 ? vrec[e] / hrec[e] : 0);
	printf("{\"ratio\": \"vector/hnswlib\", \"build_per_s\": %.3f, "
	       "\"bytes_per_vector\": %.3f}\n",
	       hbuild / vbuild, (double)vbytes / (double)hbytes);

	hnsw_direct_free(hd);
	vb->close(vec);
	osa_schema_free(vb->schema, vcfg);
	fb->close(flat);
	osa_schema_free(fb->schema, fcfg);
	bench_records_free(recs, o.n);
	free(gt);
	free(ids);
	free(gs_ids);
	free(gs);
	free(gsc);
	free(base);
	free(queries);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd))
			fprintf(stderr, "osa-bench-ann: cannot remove %s\n",
				tmp);
	}
	return 0;
}

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
 *                 [--n 100000 --dim 128[,384,768] --nq 1000] [--batch 1000]
 *                 [--repeat 3] [--quant none|sq8|both] [--rerank 4]
 *                 [--python-peer auto|off]
 *
 * Without files a synthetic clustered set is generated (bench_data.c), one
 * per --dim.  `vector` runs as float and as sq8 (--quant both, default);
 * Debian's python3-hnswlib (hnswlib_peer.py, /usr/bin/python3) is the
 * second peer when it is installed.  The kernels are those picked for the
 * CPU; HNSWC_KERNEL caps them (bench/ann/run.sh sweeps the levels).
 * Recall@k is measured against `flat` (exact).  What is timed is in
 * README.md.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hnswc_kernels.h>
#include <osa/backend.h>

#include "bench_data.h"
#include "flat.h"
#include "hnsw_direct.h"

#define BENCH_MAX_EF 32
/* Queries per turn: the two implementations alternate every this many
 * queries, so noise from other processes hits both alike. */
#define BENCH_CHUNK 50

#define BENCH_MAX_DIMS 8

struct opts {
	const char *base, *queries;
	size_t k, n, nq, m, efc, batch;
	int dims[BENCH_MAX_DIMS], ndims;
	int ef[BENCH_MAX_EF], nef;
	int metric;
	int threads;
	int repeat;
	int quants; /* bit 0: none, bit 1: sq8 */
	int rerank;
	int pypeer; /* run python3-hnswlib when installed */
	char why[512];
};

/* No declared attributes (osa_backend_args.attrs is never NULL). */
static const struct osa_attrs ba_no_attrs = { 0, NULL };

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
		"         [--n 100000 --dim 128[,384,..] --nq 1000] "
		"[--batch 1000] [--repeat 3]\n"
		"         [--quant none|sq8|both] [--rerank 4] "
		"[--python-peer auto|off]\n"
		"Kernels: the best the CPU has; HNSWC_KERNEL=scalar|sse2|avx2|"
		"avx512 caps them.\n");
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
			o->ndims = bench_parse_list(v, o->dims, BENCH_MAX_DIMS);
			if (o->ndims < 1)
				return usage("--dim: expected a list like "
					     "128,384,768 (each 1..4096)");
			for (x = 0; x < (size_t)o->ndims; x++)
				if (o->dims[x] > 4096)
					return usage("--dim: at most 4096");
		} else if (!strcmp(a, "--quant")) {
			o->quants = !strcmp(v, "none")	 ? 1
				    : !strcmp(v, "sq8")	 ? 2
				    : !strcmp(v, "both") ? 3
							 : 0;
			if (!o->quants)
				return usage("--quant: none, sq8 or both");
		} else if (!strcmp(a, "--rerank")) {
			if (parse_size(v, 1, 100, &x))
				return usage("--rerank: expected 1..100");
			o->rerank = (int)x;
		} else if (!strcmp(a, "--python-peer")) {
			if (strcmp(v, "auto") && strcmp(v, "off"))
				return usage("--python-peer: auto or off");
			o->pypeer = !strcmp(v, "auto");
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
static void *open_index(const char *backend, const char *sub,
			const char *cfgtext, const char *tmp, void **cfg,
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
	snprintf(dir, sizeof(dir), "%s/%s", tmp, sub);
	args.index = backend;
	args.config = *cfg;
	args.dir = dir;
	args.attrs = &ba_no_attrs;
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
	/* One thread: its CPU time (a shared machine's other processes are
	 * not counted), except for flat, whose BLAS may use threads of its
	 * own; several threads: wall-clock time. */
	int cpu = threads == 1 && strcmp(b->name, "flat") != 0;
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
	t0 = cpu ? bench_cpu_now() : bench_now();
	if (threads == 1) {
		query_worker(&jobs[0]);
	} else {
		for (tn = 0; tn < threads; tn++)
			pthread_create(&th[tn], NULL, query_worker, &jobs[tn]);
		for (tn = 0; tn < threads; tn++)
			pthread_join(th[tn], NULL);
	}
	t = (cpu ? bench_cpu_now() : bench_now()) - t0;
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

static void print_row(const char *impl, size_t dim, int ef, double recall,
		      double qps, double build_per_s, double bytes,
		      double search_bytes)
{
	char efs[16];

	if (ef > 0)
		snprintf(efs, sizeof(efs), "%d", ef);
	else
		snprintf(efs, sizeof(efs), "null");
	printf("{\"impl\": \"%s\", \"kernel\": \"%s\", \"dim\": %zu, \"ef\": "
	       "%s, \"recall\": %.4f, \"qps\": %.0f, \"build_per_s\": %.0f, "
	       "\"bytes_per_vector\": %.0f, \"search_bytes_per_vector\": "
	       "%.0f}\n",
	       impl, hnswc_kernels()->name, dim, efs, recall, qps, build_per_s,
	       bytes, search_bytes);
	fflush(stdout);
}

/* The python3-hnswlib peer's figures for one dim. */
struct pypeer {
	int ok;
	double build_s, qps[BENCH_MAX_EF], recall[BENCH_MAX_EF];
};

/*
 * Run hnswlib_peer.py with /usr/bin/python3 on the same data (written as
 * fvecs under tmp); fills *p (p->ok 0 when python3-hnswlib or numpy is
 * missing, or the run failed: a note goes to stderr).
 */
static void run_pypeer(const struct opts *o, const float *base,
		       const float *queries, size_t n, size_t nq, size_t dim,
		       const long *gt, const char *tmp, struct pypeer *p)
{
	char bpath[600], qpath[600], ipath[600], efs[256], cmd[4096];
	char line[1024];
	size_t i, e, off = 0;
	long *ids = NULL;
	int64_t *raw = NULL;
	FILE *f;

	memset(p, 0, sizeof(*p));
	if (system("/usr/bin/python3 -c 'import hnswlib, numpy' "
		   ">/dev/null 2>&1")) {
		fprintf(stderr, "osa-bench-ann: python3-hnswlib or "
				"python3-numpy is not installed for "
				"/usr/bin/python3: no second peer\n");
		return;
	}
	snprintf(bpath, sizeof(bpath), "%s/base.fvecs", tmp);
	snprintf(qpath, sizeof(qpath), "%s/queries.fvecs", tmp);
	snprintf(ipath, sizeof(ipath), "%s/py.ids", tmp);
	if (bench_write_fvecs(bpath, base, n, dim) ||
	    bench_write_fvecs(qpath, queries, nq, dim)) {
		fprintf(stderr, "osa-bench-ann: cannot write %s\n", bpath);
		return;
	}
	for (e = 0; e < (size_t)o->nef; e++)
		off += (size_t)snprintf(efs + off, sizeof(efs) - off, "%s%d",
					e ? "," : "", o->ef[e]);
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 '%s' '%s' '%s' %s %zu %zu %zu %s %d %d "
		 "'%s'",
		 OSA_BENCH_ANN_PEER, bpath, qpath, metric_names[o->metric],
		 o->m, o->efc, o->k, efs, o->repeat, o->threads, ipath);
	f = popen(cmd, "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			pclose(f);
		fprintf(stderr, "osa-bench-ann: %s: no output\n",
			OSA_BENCH_ANN_PEER);
		return;
	}
	if (pclose(f)) {
		fprintf(stderr, "osa-bench-ann: %s failed\n",
			OSA_BENCH_ANN_PEER);
		return;
	}
	/* {"build_s": X, "qps": [a, b, ...], ...} */
	{
		char *q = strstr(line, "\"build_s\":");
		char *a = strstr(line, "\"qps\": [");

		if (!q || !a) {
			fprintf(stderr, "osa-bench-ann: peer said: %s", line);
			return;
		}
		p->build_s = strtod(q + 10, NULL);
		a += 8;
		for (e = 0; e < (size_t)o->nef; e++) {
			p->qps[e] = strtod(a, &a);
			if (*a == ',')
				a++;
		}
	}
	raw = malloc((size_t)o->nef * nq * o->k * sizeof(*raw));
	ids = malloc(nq * o->k * sizeof(*ids));
	f = fopen(ipath, "rb");
	if (!raw || !ids || !f ||
	    fread(raw, sizeof(*raw), (size_t)o->nef * nq * o->k, f) !=
		    (size_t)o->nef * nq * o->k) {
		fprintf(stderr, "osa-bench-ann: cannot read %s\n", ipath);
	} else {
		for (e = 0; e < (size_t)o->nef; e++) {
			for (i = 0; i < nq * o->k; i++)
				ids[i] = (long)raw[e * nq * o->k + i];
			p->recall[e] = recall_of(ids, gt, nq, o->k);
		}
		p->ok = 1;
	}
	if (f)
		fclose(f);
	free(raw);
	free(ids);
}

/* One vector index (quant "none" or "sq8") under test. */
struct vrun {
	const char *quant;
	const struct osa_backend *b;
	void *self, *cfg;
	double build, bytes, qps[BENCH_MAX_EF], rec[BENCH_MAX_EF], tq;
	long *ids;
};

/* Everything for one dimension; 0 or an exit code. */
static int run_dim(const struct opts *o, size_t dim, const float *base,
		   const float *queries, size_t n, size_t nq)
{
	const struct osa_backend *fb;
	struct osa_record **recs;
	struct hnsw_direct *hd;
	struct vrun vr[2];
	struct pypeer py;
	long *gt, *ids, *gs_ids;
	const char **gs;
	float *gsc;
	void *fcfg, *flat;
	char tmp[] = "/tmp/osa-bench-ann-XXXXXX", cfg[512], why[512];
	double t, fbuild, hbuild, hqps[BENCH_MAX_EF], hrec[BENCH_MAX_EF];
	size_t heap0, fbytes, hbytes, i, nflat, k = o->k < n ? o->k : n;
	size_t links = 2 * o->m * 4 + 4 + 8; /* bottom links + label */
	int e, nv = 0, v;
	struct opts oo = *o;

	oo.k = k;
	if (!mkdtemp(tmp)) {
		perror("osa-bench-ann: mkdtemp");
		return 1;
	}
	fprintf(stderr,
		"osa-bench-ann: %zu x %zu base, %zu queries, k %zu, metric %s, "
		"m %zu, ef_construction %zu, threads %d, kernels %s\n",
		n, dim, nq, k, metric_names[o->metric], o->m, o->efc,
		o->threads, hnswc_kernels()->name);
	recs = bench_records(base, n, dim);
	gt = malloc(nq * k * sizeof(*gt));
	ids = malloc(nq * k * sizeof(*ids));
	gs_ids = malloc(nq * k * sizeof(*gs_ids));
	gs = malloc(nq * k * sizeof(*gs));
	gsc = malloc(nq * k * sizeof(*gsc));
	if (!recs || !gt || !ids || !gs_ids || !gs || !gsc) {
		fprintf(stderr, "osa-bench-ann: out of memory\n");
		return 1;
	}

	/* flat: the exact answers, and its own figures. */
	snprintf(cfg, sizeof(cfg),
		 "dim = %zu; metric = \"%s\"; initial_capacity = %zu;"
		 "embedding = { embedder = \"field\"; };",
		 dim, metric_names[o->metric], n);
	heap0 = bench_heap_bytes();
	flat = open_index("flat", "flat", cfg, tmp, &fcfg, &fb);
	if (!flat)
		return 1;
	fbuild = ingest(fb, flat, recs, n, o->batch);
	fbytes = bench_heap_bytes() - heap0;
	if (fbuild < 0)
		return 1;
	{
		struct osa_error err = { 0 };

		if (flat_search_batch(flat, queries, nq, k, gs, gsc, &err)) {
			fprintf(stderr, "osa-bench-ann: %s\n", err.msg);
			return 1;
		}
		for (i = 0; i < nq * k; i++)
			gt[i] = gs[i] ? bench_srn_id(gs[i]) : -1;
	}
	nflat = nq < 200 ? nq : 200; /* exact search is slow: a sample */
	t = run_queries(fb, flat, queries, nflat, k, dim, 0, o->threads, ids);
	if (t < 0)
		return 1;
	print_row("flat", dim, 0, recall_of(ids, gt, nflat, k), nflat / t,
		  n / fbuild, (double)fbytes / n, dim * sizeof(float));

	/* hnswlib directly (first: the peer gets the fresher heap). */
	heap0 = bench_heap_bytes();
	hd = hnsw_direct_build(base, n, dim, o->metric, o->m, o->efc,
			       o->threads, &hbuild, why, sizeof(why));
	hbytes = bench_heap_bytes() - heap0;
	if (!hd) {
		fprintf(stderr, "osa-bench-ann: %s\n", why);
		return 1;
	}
	/* vector through the backend API, once per --quant. */
	for (v = 0; v < 2; v++) {
		const char *q = v ? "sq8" : "none";
		char name[32];

		if (!(o->quants & (1 << v)))
			continue;
		memset(&vr[nv], 0, sizeof(vr[nv]));
		vr[nv].quant = q;
		snprintf(cfg, sizeof(cfg),
			 "dim = %zu; metric = \"%s\"; m = %zu; "
			 "ef_construction = %zu; initial_capacity = %zu;"
			 "quantization = \"%s\"; rerank = %d; threads = %d;"
			 "embedding = { embedder = \"field\"; };",
			 dim, metric_names[o->metric], o->m, o->efc, n, q,
			 o->rerank, o->threads);
		snprintf(name, sizeof(name), "vector-%s", q);
		heap0 = bench_heap_bytes();
		vr[nv].self = open_index("vector", name, cfg, tmp, &vr[nv].cfg,
					 &vr[nv].b);
		if (!vr[nv].self)
			return 1;
		vr[nv].build = ingest(vr[nv].b, vr[nv].self, recs, n, o->batch);
		vr[nv].bytes = (double)(bench_heap_bytes() - heap0) / n;
		if (vr[nv].build < 0 ||
		    !(vr[nv].ids = malloc(nq * k * sizeof(long))))
			return 1;
		nv++;
	}
	/* Interleaved in chunks, --repeat times over the queries. */
	for (e = 0; e < o->nef; e++) {
		double th = 0;
		size_t off;
		int r;

		for (v = 0; v < nv; v++)
			vr[v].tq = 0;
		for (r = 0; r < o->repeat; r++) {
			for (off = 0; off < nq; off += BENCH_CHUNK) {
				size_t m = nq - off < BENCH_CHUNK ? nq - off
								  : BENCH_CHUNK;

				for (v = 0; v < nv; v++) {
					t = run_queries(vr[v].b, vr[v].self,
							queries + off * dim, m,
							k, dim, o->ef[e],
							o->threads,
							vr[v].ids + off * k);
					if (t < 0)
						return 1;
					vr[v].tq += t;
				}
				th += hnsw_direct_search(
					hd, queries + off * dim, m, k, o->ef[e],
					o->threads, gs_ids + off * k);
			}
		}
		for (v = 0; v < nv; v++) {
			vr[v].qps[e] = nq * o->repeat / vr[v].tq;
			vr[v].rec[e] = recall_of(vr[v].ids, gt, nq, k);
		}
		hqps[e] = nq * o->repeat / th;
		hrec[e] = recall_of(gs_ids, gt, nq, k);
	}
	if (o->pypeer)
		run_pypeer(&oo, base, queries, n, nq, dim, gt, tmp, &py);
	else
		py.ok = 0;

	for (v = 0; v < nv; v++) {
		const char *impl =
			strcmp(vr[v].quant, "sq8") ? "vector" : "vector-sq8";
		double sb = strcmp(vr[v].quant, "sq8")
				    ? (double)dim * sizeof(float)
				    : (double)dim;

		for (e = 0; e < o->nef; e++)
			print_row(impl, dim, o->ef[e], vr[v].rec[e],
				  vr[v].qps[e], n / vr[v].build, vr[v].bytes,
				  sb + links);
	}
	for (e = 0; e < o->nef; e++)
		print_row("hnswlib", dim, o->ef[e], hrec[e], hqps[e],
			  n / hbuild, (double)hbytes / n,
			  dim * sizeof(float) + links);
	if (py.ok)
		for (e = 0; e < o->nef; e++)
			print_row("python3-hnswlib", dim, o->ef[e],
				  py.recall[e], py.qps[e], n / py.build_s, 0,
				  dim * sizeof(float) + links);
	for (v = 0; v < nv; v++) {
		const char *impl =
			strcmp(vr[v].quant, "sq8") ? "vector" : "vector-sq8";

		for (e = 0; e < o->nef; e++) {
			printf("{\"ratio\": \"%s/hnswlib\", \"kernel\": "
			       "\"%s\", \"dim\": %zu, \"ef\": %d, \"qps\": "
			       "%.3f, \"recall\": %.3f}\n",
			       impl, hnswc_kernels()->name, dim, o->ef[e],
			       vr[v].qps[e] / hqps[e],
			       hrec[e] > 0 ? vr[v].rec[e] / hrec[e] : 0);
			if (py.ok)
				printf("{\"ratio\": \"%s/python3-hnswlib\", "
				       "\"kernel\": \"%s\", \"dim\": %zu, "
				       "\"ef\": %d, \"qps\": %.3f, \"recall\": "
				       "%.3f}\n",
				       impl, hnswc_kernels()->name, dim,
				       o->ef[e], vr[v].qps[e] / py.qps[e],
				       py.recall[e] > 0
					       ? vr[v].rec[e] / py.recall[e]
					       : 0);
		}
		printf("{\"ratio\": \"%s/hnswlib\", \"dim\": %zu, "
		       "\"build_per_s\": %.3f, \"bytes_per_vector\": %.3f, "
		       "\"search_bytes_per_vector\": %.3f}\n",
		       impl, dim, hbuild / vr[v].build,
		       vr[v].bytes / ((double)hbytes / n),
		       (strcmp(vr[v].quant, "sq8") ? dim * 4.0 : (double)dim) /
			       (dim * 4.0));
	}
	fflush(stdout);

	hnsw_direct_free(hd);
	for (v = 0; v < nv; v++) {
		vr[v].b->close(vr[v].self);
		osa_schema_free(vr[v].b->schema, vr[v].cfg);
		free(vr[v].ids);
	}
	fb->close(flat);
	osa_schema_free(fb->schema, fcfg);
	bench_records_free(recs, n);
	free(gt);
	free(ids);
	free(gs_ids);
	free(gs);
	free(gsc);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd))
			fprintf(stderr, "osa-bench-ann: cannot remove %s\n",
				tmp);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .k = 10,
			  .n = 100000,
			  .dims = { 128 },
			  .ndims = 1,
			  .nq = 1000,
			  .m = 16,
			  .efc = 200,
			  .batch = 1000,
			  .threads = 1,
			  .repeat = 3,
			  .ef = { 16, 32, 64, 128 },
			  .nef = 4,
			  .quants = 3,
			  .rerank = 4,
			  .pypeer = 1 };
	float *base = NULL, *queries = NULL;
	int rc, d;

	if ((rc = parse_args(argc, argv, &o)))
		return rc;
	if (o.base) {
		size_t qd, dim;

		if (bench_read_fvecs(o.base, o.n == 100000 ? 0 : o.n, &base,
				     &o.n, &dim, o.why, sizeof(o.why)) ||
		    bench_read_fvecs(o.queries, o.nq == 1000 ? 0 : o.nq,
				     &queries, &o.nq, &qd, o.why,
				     sizeof(o.why))) {
			fprintf(stderr, "osa-bench-ann: %s\n", o.why);
			return 66;
		}
		if (qd != dim) {
			fprintf(stderr,
				"osa-bench-ann: %s has dim %zu, %s dim %zu\n",
				o.base, dim, o.queries, qd);
			return 65;
		}
		rc = run_dim(&o, dim, base, queries, o.n, o.nq);
		free(base);
		free(queries);
		return rc;
	}
	for (d = 0; d < o.ndims; d++) {
		size_t dim = (size_t)o.dims[d];

		base = malloc(o.n * dim * sizeof(float));
		queries = malloc(o.nq * dim * sizeof(float));
		if (!base || !queries) {
			fprintf(stderr, "osa-bench-ann: out of memory\n");
			return 1;
		}
		bench_synthetic(base, o.n, dim, 42, 1);
		bench_synthetic(queries, o.nq, dim, 42, 2);
		rc = run_dim(&o, dim, base, queries, o.n, o.nq);
		free(base);
		free(queries);
		if (rc)
			return rc;
	}
	return 0;
}

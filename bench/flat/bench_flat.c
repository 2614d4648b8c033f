/* SPDX-License-Identifier: MIT */
/*
 * bench_flat.c - osa-bench-flat: exact inner-product search with the `flat`
 * backend, batched (cblas_sgemm through flat_search_batch) and one query at
 * a time (cblas_sgemv through the backend's query), against a plain C loop
 * and, when python3 can import faiss, FAISS IndexFlatIP (faiss_peer.py, on
 * the same data through temporary .fvecs files), in the same run; and the
 * same index with quantization = "sq8" (the scan reads 8-bit codes, then an
 * exact rerank), one query at a time (a batch stays exact: sgemm).  Prints one JSON object
 * per implementation, then the ratios.
 *
 *   osa-bench-flat [--base B.fvecs --queries Q.fvecs] [--n 100000]
 *                  [--dim 128] [--nq 1000] [--k 10] [--single 200]
 *                  [--rerank 4] [--no-faiss] [--no-sq8]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <osa/backend.h>

#include "bench_data.h"
#include "flat.h"

#ifndef OSA_BENCH_FLAT_DIR
#define OSA_BENCH_FLAT_DIR "."
#endif

struct cand {
	float s;
	long id;
};

/* No declared attributes (osa_backend_args.attrs is never NULL). */
static const struct osa_attrs bf_no_attrs = { 0, NULL };

/* The plain loop: scalar dot products, a sorted insertion top-k. */

static void plain_search(const float *base, size_t n, size_t dim,
			 const float *q, size_t k, long *ids)
{
	struct cand *top = malloc(k * sizeof(*top));
	size_t i, j, m = 0;

	if (!top)
		abort();
	for (i = 0; i < n; i++) {
		const float *x = base + i * dim;
		float s = 0;

		for (j = 0; j < dim; j++)
			s += x[j] * q[j];
		if (m == k && s <= top[k - 1].s)
			continue;
		j = m < k ? m++ : k - 1;
		while (j > 0 && top[j - 1].s < s) {
			top[j] = top[j - 1];
			j--;
		}
		top[j].s = s;
		top[j].id = (long)i;
	}
	for (j = 0; j < k; j++)
		ids[j] = j < m ? top[j].id : -1;
	free(top);
}

static double agree(const long *a, const long *b, size_t nq, size_t k)
{
	size_t i, j, l, hit = 0;

	for (i = 0; i < nq; i++)
		for (j = 0; j < k; j++)
			for (l = 0; l < k; l++)
				if (a[i * k + j] >= 0 &&
				    a[i * k + j] == b[i * k + l]) {
					hit++;
					break;
				}
	return (double)hit / (double)(nq * k);
}

/* Open a flat index of `cfgt` in `dir` and ingest base[0..n). */
static void *open_flat(const struct osa_backend *b, const char *cfgt,
		       const char *dir, const float *base, size_t n, size_t dim,
		       void **cfg)
{
	struct osa_backend_args args;
	struct osa_error err = { 0 };
	struct osa_record **recs;
	uint64_t lsn;
	void *self;
	size_t i;

	if (osa_schema_parse(b->schema, cfgt, cfg, NULL, &err))
		return fprintf(stderr, "osa-bench-flat: %s\n", err.msg), NULL;
	args.index = "bench";
	args.config = *cfg;
	args.dir = dir;
	args.attrs = &bf_no_attrs;
	if (b->open(&args, &self, &lsn, &err))
		return fprintf(stderr, "osa-bench-flat: %s\n", err.msg), NULL;
	recs = bench_records(base, n, dim);
	for (i = 0; i < n; i += 1000)
		if (b->ingest_batch(self,
				    (const struct osa_record *const *)recs + i,
				    n - i < 1000 ? n - i : 1000, &err)) {
			fprintf(stderr, "osa-bench-flat: %s\n", err.msg);
			b->close(self);
			self = NULL;
			break;
		}
	bench_records_free(recs, n);
	return self;
}

/* `single` queries one at a time through query(); ids into ids[]. */
static double run_single(const struct osa_backend *b, void *self,
			 const float *queries, size_t single, size_t dim,
			 size_t k, long *ids)
{
	struct osa_error err = { 0 };
	double t = bench_now();
	size_t i, j;

	for (i = 0; i < single; i++) {
		struct osa_query q = { .vector = queries + i * dim,
				       .dim = dim,
				       .limit = k };
		struct osa_hits hits = { 0 };

		if (b->query(self, &q, &hits, &err)) {
			fprintf(stderr, "osa-bench-flat: %s\n", err.msg);
			exit(1);
		}
		for (j = 0; j < k; j++)
			ids[i * k + j] =
				j < hits.n ? bench_srn_id(hits.v[j].srn) : -1;
		osa_hits_free(&hits);
	}
	return single / (bench_now() - t);
}

static void row(const char *impl, const char *mode, double qps, double recall)
{
	printf("{\"impl\": \"%s\", \"mode\": \"%s\", \"qps\": %.1f, "
	       "\"recall\": %.4f}\n",
	       impl, mode, qps, recall);
	fflush(stdout);
}

/* Run faiss_peer.py; its JSON, or NULL when FAISS is not there. */
static json_t *run_faiss(const char *base, const char *queries, size_t k,
			 size_t single)
{
	static const char *const pythons[] = { "python3", "/usr/bin/python3",
					       NULL };
	char cmd[2048], *out = NULL;
	size_t len = 0, cap = 0;
	json_t *j = NULL;
	int i;

	for (i = 0; pythons[i] && !j; i++) {
		FILE *p;
		char buf[65536];
		size_t r;

		snprintf(cmd, sizeof(cmd),
			 "%s -c 'import faiss' >/dev/null 2>&1", pythons[i]);
		if (system(cmd))
			continue;
		snprintf(cmd, sizeof(cmd),
			 "%s '%s/faiss_peer.py' '%s' '%s' %zu %zu", pythons[i],
			 OSA_BENCH_FLAT_DIR, base, queries, k, single);
		p = popen(cmd, "r");
		if (!p)
			continue;
		len = 0;
		while ((r = fread(buf, 1, sizeof(buf), p)) > 0) {
			if (len + r + 1 > cap) {
				char *g;

				cap = (len + r + 1) * 2;
				g = realloc(out, cap);
				if (!g)
					break;
				out = g;
			}
			memcpy(out + len, buf, r);
			len += r;
		}
		pclose(p);
		if (out) {
			json_error_t je;

			out[len] = '\0';
			j = json_loads(out, 0, &je);
			if (j && json_object_get(j, "error")) {
				json_decref(j);
				j = NULL;
			}
		}
	}
	free(out);
	return j;
}

int main(int argc, char **argv)
{
	size_t n = 100000, dim = 128, nq = 1000, k = 10, single = 200, i, j;
	const char *basef = NULL, *queryf = NULL;
	const struct osa_backend *b = osa_backend_find("flat");
	struct osa_error err = { 0 };
	int use_faiss = 1, use_sq8 = 1;
	size_t rerank = 4;
	struct flat_stats fst, sst;
	double qps_sq8 = 0, sq8_recall = 0;
	float *base = NULL, *queries = NULL, *scores;
	long *ids, *ref;
	const char **srns;
	char tmp[] = "/tmp/osa-bench-flat-XXXXXX", cfgt[256], dir[300],
	     why[512];
	void *cfg, *self;
	double t, qps_batch, qps_single, qps_plain, ok;
	json_t *fj = NULL;

	for (i = 1; i < (size_t)argc; i++) {
		const char *a = argv[i],
			   *v = i + 1 < (size_t)argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--no-faiss")) {
			use_faiss = 0;
			continue;
		}
		if (!strcmp(a, "--no-sq8")) {
			use_sq8 = 0;
			continue;
		}
		if (!v || (strcmp(a, "--base") && strcmp(a, "--queries") &&
			   atol(v) < 1)) {
			fprintf(stderr, "usage: osa-bench-flat [--base B.fvecs "
					"--queries Q.fvecs] [--n N] [--dim D] "
					"[--nq Q] [--k K] [--single S] "
					"[--rerank R] [--no-faiss] "
					"[--no-sq8]\n");
			return 64;
		}
		i++;
		if (!strcmp(a, "--base"))
			basef = v;
		else if (!strcmp(a, "--queries"))
			queryf = v;
		else if (!strcmp(a, "--n"))
			n = (size_t)atol(v);
		else if (!strcmp(a, "--dim"))
			dim = (size_t)atol(v) > 4096 ? 4096 : (size_t)atol(v);
		else if (!strcmp(a, "--nq"))
			nq = (size_t)atol(v);
		else if (!strcmp(a, "--k"))
			k = (size_t)atol(v);
		else if (!strcmp(a, "--single"))
			single = (size_t)atol(v);
		else if (!strcmp(a, "--rerank"))
			rerank = (size_t)atol(v) > 100 ? 100 : (size_t)atol(v);
		else {
			fprintf(stderr, "osa-bench-flat: unknown option %s\n",
				a);
			return 64;
		}
	}
	if (!b) {
		fprintf(stderr, "osa-bench-flat: the flat backend is not "
				"built in\n");
		return 69;
	}
	if (basef && queryf) {
		size_t qd = 0;

		if (bench_read_fvecs(basef, 0, &base, &n, &dim, why,
				     sizeof(why)) ||
		    bench_read_fvecs(queryf, 0, &queries, &nq, &qd, why,
				     sizeof(why))) {
			fprintf(stderr, "osa-bench-flat: %s\n", why);
			return 66;
		}
		if (qd != dim) {
			fprintf(stderr,
				"osa-bench-flat: %s has dim %zu, %s has %zu\n",
				queryf, qd, basef, dim);
			return 66;
		}
	} else {
		base = malloc(n * dim * sizeof(float));
		queries = malloc(nq * dim * sizeof(float));
		if (!base || !queries)
			return 1;
		bench_synthetic(base, n, dim, 42, 1);
		bench_synthetic(queries, nq, dim, 42, 2);
	}
	if (k > n)
		k = n;
	if (single > nq)
		single = nq;
	if (!mkdtemp(tmp)) {
		perror("osa-bench-flat: mkdtemp");
		return 1;
	}
	fprintf(stderr,
		"osa-bench-flat: %zu x %zu base, %zu queries (%zu one at a "
		"time), k %zu, inner product\n",
		n, dim, nq, single, k);
	snprintf(cfgt, sizeof(cfgt),
		 "dim = %zu; metric = \"ip\"; initial_capacity = %zu;"
		 "embedding = { embedder = \"field\"; };",
		 dim, n);
	snprintf(dir, sizeof(dir), "%s/flat", tmp);
	if (!(self = open_flat(b, cfgt, dir, base, n, dim, &cfg)))
		return 1;
	ids = malloc(nq * k * sizeof(*ids));
	ref = malloc(nq * k * sizeof(*ref));
	srns = malloc(nq * k * sizeof(*srns));
	scores = malloc(nq * k * sizeof(*scores));
	if (!ids || !ref || !srns || !scores)
		return 1;

	/* Batched: one sgemm per block of queries. */
	flat_search_batch(self, queries, nq < 8 ? nq : 8, k, srns, scores,
			  &err); /* warm up */
	t = bench_now();
	if (flat_search_batch(self, queries, nq, k, srns, scores, &err))
		return fprintf(stderr, "osa-bench-flat: %s\n", err.msg), 1;
	qps_batch = nq / (bench_now() - t);
	for (i = 0; i < nq * k; i++)
		ref[i] = srns[i] ? bench_srn_id(srns[i]) : -1;

	/* One at a time through the backend API: sgemv. */
	qps_single = run_single(b, self, queries, single, dim, k, ids);
	ok = agree(ids, ref, single, k);
	flat_get_stats(self, &fst);

	/* The plain C loop, one query at a time. */
	t = bench_now();
	for (i = 0; i < single; i++)
		plain_search(base, n, dim, queries + i * dim, k, ids + i * k);
	qps_plain = single / (bench_now() - t);

	row("flat", "batched", qps_batch, 1.0);
	row("flat", "single", qps_single, ok);
	row("plain_c", "single", qps_plain, agree(ids, ref, single, k));

	/* The same data with quantization = "sq8" (--rerank, default 4). */
	if (use_sq8) {
		char sdir[320];
		void *scfg, *sq;

		snprintf(cfgt, sizeof(cfgt),
			 "dim = %zu; metric = \"ip\"; initial_capacity = %zu;"
			 "quantization = \"sq8\"; rerank = %zu;"
			 "embedding = { embedder = \"field\"; };",
			 dim, n, rerank);
		snprintf(sdir, sizeof(sdir), "%s/flat-sq8", tmp);
		if (!(sq = open_flat(b, cfgt, sdir, base, n, dim, &scfg)))
			return 1;
		flat_get_stats(sq, &sst);
		qps_sq8 = run_single(b, sq, queries, single, dim, k, ids);
		sq8_recall = agree(ref, ids, single, k);
		printf("{\"impl\": \"flat_sq8\", \"mode\": \"single\", "
		       "\"qps\": %.1f, \"recall\": %.4f, \"rerank\": %zu, "
		       "\"scan_bytes_per_vector\": %zu, "
		       "\"memory_bytes_per_vector\": %.1f, \"rows_allocated\": "
		       "%zu}\n",
		       qps_sq8, sq8_recall, rerank, sst.search_bytes,
		       (double)sst.memory_bytes / (double)n, sst.capacity);
		printf("{\"impl\": \"flat\", \"scan_bytes_per_vector\": %zu, "
		       "\"memory_bytes_per_vector\": %.1f, \"rows_allocated\": "
		       "%zu}\n",
		       fst.search_bytes, (double)fst.memory_bytes / (double)n,
		       fst.capacity);
		printf("{\"ratio\": \"flat_sq8/flat\", \"single_qps\": %.3f, "
		       "\"scan_bytes\": %.3f, \"recall_delta\": %.4f}\n",
		       qps_sq8 / qps_single,
		       (double)sst.search_bytes / (double)fst.search_bytes,
		       sq8_recall - ok);
		fflush(stdout);
		b->close(sq);
		osa_schema_free(b->schema, scfg);
	}

	if (use_faiss) {
		char bp[400], qp[400];

		snprintf(bp, sizeof(bp), "%s/base.fvecs", tmp);
		snprintf(qp, sizeof(qp), "%s/queries.fvecs", tmp);
		if (bench_write_fvecs(bp, base, n, dim) ||
		    bench_write_fvecs(qp, queries, nq, dim))
			fprintf(stderr, "osa-bench-flat: cannot write %s\n",
				bp);
		else
			fj = run_faiss(bp, qp, k, single);
		if (!fj)
			fprintf(stderr, "osa-bench-flat: FAISS skipped "
					"(python3 cannot import faiss; "
					"apt-get install python3-faiss)\n");
	}
	if (fj) {
		json_t *fi = json_object_get(fj, "ids");
		double fb = json_real_value(json_object_get(fj, "batched_qps"));
		double fs = json_real_value(json_object_get(fj, "single_qps"));

		for (i = 0; i < nq; i++)
			for (j = 0; j < k; j++)
				ids[i * k + j] =
					(long)json_integer_value(json_array_get(
						json_array_get(fi, i), j));
		row("faiss", "batched", fb, agree(ids, ref, nq, k));
		row("faiss", "single", fs, agree(ids, ref, nq, k));
		printf("{\"ratio\": \"flat/faiss\", \"batched\": %.3f, "
		       "\"single\": %.3f, \"faiss_threads\": %lld}\n",
		       qps_batch / fb, qps_single / fs,
		       (long long)json_integer_value(
			       json_object_get(fj, "threads")));
		json_decref(fj);
	}
	printf("{\"ratio\": \"flat/plain_c\", \"batched\": %.3f, \"single\": "
	       "%.3f}\n",
	       qps_batch / qps_plain, qps_single / qps_plain);
	b->close(self);
	osa_schema_free(b->schema, cfg);
	free(ids);
	free(ref);
	free(srns);
	free(scores);
	free(base);
	free(queries);
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd))
			fprintf(stderr, "osa-bench-flat: cannot remove %s\n",
				tmp);
	}
	return 0;
}

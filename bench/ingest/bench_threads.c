/* SPDX-License-Identifier: MIT */
/*
 * bench_threads.c - bench/ingest's thread mode: the build rate of a
 * `vector` index (dim 384, the hash embedder, m 16, ef_construction 200,
 * cosine) through the backend API with threads = 1 and threads = 2 (the
 * batch's embedding and its graph insertions in parallel), against
 * hnswlib 0.6.2's C++ building the same vectors on one thread and, when
 * Debian's python3-hnswlib is installed for /usr/bin/python3, its
 * add_items(num_threads=1), in the same run.
 *   osa-bench-ingest-threads FILE.ndjson DIR [--repeat R] [--threads 1,2]
 *                            [--python-peer auto|off]
 * Every build runs R times (default 3), the implementations interleaved
 * (the order rotates from one pass to the next), and the fastest of each
 * is kept: on a shared machine the others' load comes and goes.  Prints one JSON
 * line per implementation, then the ratios (target: threads 2 at >= 1.5x
 * hnswlib on one thread), with the CPU seconds the process used during
 * each build kept (cores_used = CPU / wall: below the thread count, the
 * machine's other load took the rest).  The peers get the vectors the hash embedder
 * made, already normalised; `vector` embeds the records itself, inside its
 * timing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <hnswc_kernels.h>
#include <osa/backend.h>
#include <osa/embedder.h>
#include <osa/sys.h>
#include <osa/vecspace.h>

#include "bench_data.h"
#include "hnsw_direct.h"
#include "osai.h"

#define DIM 384
#define M 16
#define EFC 200
#define BATCH 1000
#define MAX_T 8

static struct osa_record **recs;
static size_t n;
/* CPU seconds of the process during the fastest build of each job. */
static double cpu_of[MAX_T + 2];

static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int usage(void)
{
	fprintf(stderr, "usage: osa-bench-ingest-threads FILE.ndjson DIR "
			"[--repeat R] [--threads 1,2] "
			"[--python-peer auto|off]\n");
	return 64;
}

static int load(const char *path)
{
	size_t cap = 0, len = 0;
	struct osa_error err;
	char *line = NULL;
	ssize_t got;
	FILE *in = fopen(path, "r");

	if (!in)
		return -1;
	while ((got = getline(&line, &len, in)) > 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			recs = realloc(recs, cap * sizeof(*recs));
			if (!recs)
				return -1;
		}
		if (osa_record_parse(line, (size_t)got, NULL, &recs[n], &err)) {
			fprintf(stderr, "%s: %s\n", path, err.msg);
			return -1;
		}
		n++;
	}
	fclose(in);
	free(line);
	return n ? 0 : -1;
}

/* The vectors `vector` builds from the records (the peers' input). */
static float *embed_all(void)
{
	struct osa_embedding_config *ecfg = NULL;
	struct osa_embedder_inst *emb = NULL;
	struct osa_embedder_args ea;
	struct osa_error err;
	float *v = malloc(n * DIM * sizeof(float));
	size_t i;

	if (!v || osa_schema_parse(&osa_embedding_schema, "", (void **)&ecfg,
				   NULL, &err))
		return NULL;
	ea.index = "papers";
	ea.dim = DIM;
	ea.cfg = ecfg;
	if (osa_embedder_create(&ea, &emb, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (osa_vec_record(emb, OSA_METRIC_COSINE, DIM, "papers",
				   recs[i], v + i * DIM, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return NULL;
		}
	osa_embedder_destroy(emb);
	osa_schema_free(&osa_embedding_schema, ecfg);
	return v;
}

/* Seconds to build `vector` with `threads` workers (batches of BATCH);
 * the process's CPU seconds meanwhile into *cpu. */
static double build_vector(const char *dir, int threads, double *cpu)
{
	static const struct osa_attrs none = { 0, NULL };
	const struct osa_backend *b = osa_backend_find("vector");
	struct osa_backend_args args = { .index = "papers", .attrs = &none };
	struct osa_error err;
	char cfgtext[256];
	uint64_t lsn;
	void *cfg, *self;
	double t0, t;
	size_t i;

	snprintf(cfgtext, sizeof(cfgtext),
		 "dim = %d; m = %d; ef_construction = %d; "
		 "initial_capacity = %zu; threads = %d;",
		 DIM, M, EFC, n, threads);
	if (!b || osa_schema_parse(b->schema, cfgtext, &cfg, NULL, &err))
		return -1;
	args.config = cfg;
	args.dir = dir;
	if (b->open(&args, &self, &lsn, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	*cpu = cpu_now();
	t0 = bench_now();
	for (i = 0; i < n; i += BATCH) {
		size_t k = n - i < BATCH ? n - i : BATCH;

		if (b->ingest_batch(self,
				    (const struct osa_record *const *)recs + i,
				    k, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return -1;
		}
	}
	t = bench_now() - t0;
	*cpu = cpu_now() - *cpu;
	b->close(self);
	osa_schema_free(b->schema, cfg);
	return t;
}

/* Seconds python3-hnswlib takes to build (one thread); < 0 if absent. */
static double build_python(const char *dir, const char *base)
{
	char cmd[2048], line[1024], qpath[600], ipath[600];
	const char *at;
	FILE *f;

	snprintf(qpath, sizeof(qpath), "%s/query.fvecs", dir);
	snprintf(ipath, sizeof(ipath), "%s/py.ids", dir);
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 '%s' '%s' '%s' cosine %d %d 1 10 1 1 '%s'",
		 OSA_BENCH_ANN_PEER, base, qpath, M, EFC, ipath);
	if (!(f = popen(cmd, "r")))
		return -1;
	if (!fgets(line, sizeof(line), f)) {
		pclose(f);
		return -1;
	}
	if (pclose(f) || !(at = strstr(line, "\"build_s\":")))
		return -1;
	return strtod(at + 10, NULL);
}

/* One implementation's line; cpu < 0: not measured (python). */
static void row(const char *impl, int threads, double s, double cpu)
{
	printf("{\"impl\": \"%s\", \"threads\": %d, \"records\": %zu, "
	       "\"seconds\": %.2f, \"records_per_s\": %.0f",
	       impl, threads, n, s, (double)n / s);
	if (cpu >= 0)
		printf(", \"cpu_s\": %.2f, \"cores_used\": %.2f", cpu, cpu / s);
	printf("}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int threads[MAX_T] = { 1, 2 }, nt = 2, repeat = 3, py = 1, r, t, a, k;
	double best[MAX_T], hbest = -1, pbest = -1, s, load1 = -1;
	char base[600], sub[700], why[256];
	float *vecs;
	FILE *f;

	if (argc < 3)
		return usage();
	for (a = 3; a < argc; a++) {
		if (!strcmp(argv[a], "--repeat") && a + 1 < argc) {
			repeat = atoi(argv[++a]);
			if (repeat < 1)
				return usage();
		} else if (!strcmp(argv[a], "--threads") && a + 1 < argc) {
			nt = bench_parse_list(argv[++a], threads, MAX_T);
			if (nt < 1)
				return usage();
		} else if (!strcmp(argv[a], "--python-peer") && a + 1 < argc) {
			py = strcmp(argv[++a], "off") != 0;
		} else {
			return usage();
		}
	}
	if (osai_registry_init(NULL) || load(argv[1]) || !(vecs = embed_all()))
		return 1;
	snprintf(base, sizeof(base), "%s/base.fvecs", argv[2]);
	snprintf(sub, sizeof(sub), "%s/query.fvecs", argv[2]);
	if (bench_write_fvecs(base, vecs, n, DIM) ||
	    bench_write_fvecs(sub, vecs, 1, DIM))
		return 1;
	if (py && system("/usr/bin/python3 -c 'import hnswlib, numpy' "
			 ">/dev/null 2>&1")) {
		fprintf(stderr, "python3-hnswlib or python3-numpy is not "
				"installed for /usr/bin/python3: no second "
				"peer\n");
		py = 0;
	}
	if ((f = fopen("/proc/loadavg", "r"))) {
		if (fscanf(f, "%lf", &load1) != 1)
			load1 = -1;
		fclose(f);
	}
	fprintf(stderr,
		"osa-bench-ingest-threads: %zu records, dim %d, m %d, "
		"ef_construction %d, kernels %s, %zu CPUs, load %.1f\n",
		n, DIM, M, EFC, hnswc_kernels()->name, osa_cpus(), load1);
	for (t = 0; t < nt; t++)
		best[t] = -1;
	/* Pass r runs job (r + k) % jobs for k = 0, 1, ...: jobs 0..nt-1
	 * are `vector` with threads[job], then hnswlib, then python. */
	for (r = 0; r < repeat; r++) {
		for (k = 0; k < nt + 2; k++) {
			int job = (r + k) % (nt + 2);

			if (job < nt) {
				snprintf(sub, sizeof(sub), "%s/v%d-%d", argv[2],
					 threads[job], r);
				double c;

				if ((s = build_vector(sub, threads[job], &c)) <
				    0)
					return 1;
				if (best[job] < 0 || s < best[job]) {
					best[job] = s;
					cpu_of[job] = c;
				}
			} else if (job == nt) {
				double c = cpu_now();
				struct hnsw_direct *h = hnsw_direct_build(
					vecs, n, DIM, 0, M, EFC, 1, &s, why,
					sizeof(why));

				c = cpu_now() - c;
				if (!h) {
					fprintf(stderr, "%s\n", why);
					return 1;
				}
				hnsw_direct_free(h);
				if (hbest < 0 || s < hbest) {
					hbest = s;
					cpu_of[nt] = c;
				}
			} else if (py) {
				s = build_python(argv[2], base);
				if (s < 0) {
					fprintf(stderr, "%s failed\n",
						OSA_BENCH_ANN_PEER);
					py = 0;
				} else if (pbest < 0 || s < pbest) {
					pbest = s;
				}
			}
		}
	}
	for (t = 0; t < nt; t++)
		row("vector", threads[t], best[t], cpu_of[t]);
	row("hnswlib", 1, hbest, cpu_of[nt]);
	if (pbest > 0)
		row("python3-hnswlib", 1, pbest, -1);
	for (t = 0; t < nt; t++) {
		printf("{\"bench\": \"ingest-threads\", \"threads\": %d, "
		       "\"speedup_over_threads_%d\": %.3f, "
		       "\"ratio_over_hnswlib_1_thread\": %.3f",
		       threads[t], threads[0], best[0] / best[t],
		       hbest / best[t]);
		if (pbest > 0)
			printf(", \"ratio_over_python3_hnswlib_1_thread\": "
			       "%.3f",
			       pbest / best[t]);
		printf(", \"target\": %s, \"cpus\": %zu, \"load\": %.1f}\n",
		       threads[t] == 2 ? "1.5" : "null", osa_cpus(), load1);
	}
	free(vecs);
	for (size_t i = 0; i < n; i++)
		osa_record_free(recs[i]);
	free(recs);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * bench_filter.c - osa-bench-filter: filtered search against the unfiltered
 * query in the same run, through the backend API.
 *
 * Every record has an int attribute `sel`, a hash of its number uniform in
 * [0, 1000000), and the filters `sel < t` select 50 %, 10 %, 1 % and
 * 0.1 % of the records.
 *
 * vector: bench/ann's synthetic clustered set (--n x --dim, cosine, m 16,
 * ef_construction 200, the query's ef --ef).  Recall@10 against exact
 * filtered search (brute force over the matching records, here), and the
 * latency (CPU time of the querying thread) of each filtered query next to
 * the unfiltered query on the same query vectors: the configurations take
 * turns every 50 queries, so noise from other processes hits all alike.
 *
 * text: real English text, dict-gcide (bench/text/gcide.c; --text-n
 * records), 2-word OR queries drawn from records' own words.  The filtered
 * results are compared with exact filtering of the complete unfiltered
 * ranking (recall 1 and the same total expected), and the latency with the
 * unfiltered query's.
 *
 * --sweep: on the same vectors, through the hnswlib shim directly, the
 * graph's filtered search and an exact scan of the matching labels at
 * selectivities from 0.2 % to 20 %: the figures the vector backend's
 * switch-over threshold (VECTOR_EXACT_*) is chosen from.
 *
 * One JSON line per measure.
 *
 *   osa-bench-filter [--n 100000] [--dim 128] [--nq 300] [--ef 64]
 *                    [--text-n 100000] [--only vector|text] [--sweep]
 *                    [--repeat 3] [--tmp DIR]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hnswc_kernels.h>
#include <hnswlib_c.h>
#include <osa/backend.h>
#include <osa/filter.h>

#include "bench_data.h"
#include "gcide.h"

#define K 10
#define CHUNK 50
#define SEL_RANGE 1000000u
#define NF 5 /* the unfiltered query and four filters */

static const unsigned sel_below[NF] = { SEL_RANGE, 500000, 100000, 10000,
					1000 };

static const struct osa_attr_decl decl[] = { { "sel", OSA_ATTR_INT } };
static const struct osa_attrs attrs = { 1, decl };

struct opts {
	size_t n, dim, nq, ef, text_n;
	int repeat;
	int vector, text, sweep;
	const char *tmp;
};

static void die(const char *what)
{
	fprintf(stderr, "osa-bench-filter: %s\n", what);
	exit(1);
}

static unsigned sel_of(size_t i)
{
	uint64_t z =
		(uint64_t)i * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (unsigned)((z ^ (z >> 31)) % SEL_RANGE);
}

static struct osa_filter *filter_of(int f)
{
	struct osa_error err = { 0 };
	struct osa_filter *flt = NULL;
	char text[64];

	if (!f)
		return NULL;
	snprintf(text, sizeof(text), "sel < %u", sel_below[f]);
	if (osa_filter_parse(text, &attrs, &flt, NULL, &err))
		die(err.msg);
	return flt;
}

struct index {
	const struct osa_backend *b;
	void *cfg, *self;
};

static void open_index(struct index *ix, const char *backend,
		       const char *cfgtext, const char *dir)
{
	struct osa_backend_args a;
	struct osa_error err = { 0 };
	char *report = NULL;
	uint64_t lsn;

	memset(ix, 0, sizeof(*ix));
	if (!(ix->b = osa_backend_find(backend)))
		die("a backend is not built in");
	if (osa_schema_parse(ix->b->schema, cfgtext, &ix->cfg, &report, &err))
		die(report ? report : err.msg);
	memset(&a, 0, sizeof(a));
	a.index = "bench";
	a.config = ix->cfg;
	a.dir = dir;
	a.attrs = &attrs;
	if (ix->b->open(&a, &ix->self, &lsn, &err))
		die(err.msg);
}

static void close_index(struct index *ix)
{
	ix->b->close(ix->self);
	osa_schema_free(ix->b->schema, ix->cfg);
}

static void ingest(struct index *ix, char **json, size_t n)
{
	struct osa_record **rv = malloc(n * sizeof(*rv));
	struct osa_error err = { 0 };
	size_t i;

	if (!rv)
		die("out of memory");
	for (i = 0; i < n; i++)
		if (osa_record_parse(json[i], strlen(json[i]), NULL, &rv[i],
				     &err))
			die(err.msg);
	if (ix->b->ingest_batch(ix->self, (const struct osa_record *const *)rv,
				n, &err))
		die(err.msg);
	for (i = 0; i < n; i++)
		osa_record_free(rv[i]);
	free(rv);
}

/* The record number in a srn ending in digits. */
static size_t srn_id(const char *srn)
{
	const char *p = srn + strlen(srn);

	while (p > srn && p[-1] >= '0' && p[-1] <= '9')
		p--;
	return (size_t)strtoul(p, NULL, 10);
}

/* Top K of `sims` among the records with sel < below, best first. */
static size_t topk(const float *sims, size_t n, unsigned below, size_t *out)
{
	float best[K];
	size_t m = 0, i, j;

	for (i = 0; i < n; i++) {
		if (sel_of(i) >= below)
			continue;
		if (m == K && !(sims[i] > best[K - 1]))
			continue;
		j = m < K ? m++ : K - 1;
		while (j > 0 && best[j - 1] < sims[i]) {
			best[j] = best[j - 1];
			out[j] = out[j - 1];
			j--;
		}
		best[j] = sims[i];
		out[j] = i;
	}
	return m;
}

static double overlap(const size_t *truth, size_t nt, const size_t *got,
		      size_t ng)
{
	size_t i, j, hit = 0;

	for (i = 0; i < nt; i++)
		for (j = 0; j < ng; j++)
			if (got[j] == truth[i]) {
				hit++;
				break;
			}
	return nt ? (double)hit / (double)nt : 1.0;
}

static void normalise(float *x, size_t dim)
{
	double s = 0;
	size_t d;

	for (d = 0; d < dim; d++)
		s += (double)x[d] * x[d];
	s = sqrt(s);
	for (d = 0; d < dim; d++)
		x[d] = (float)(x[d] / s);
}

static size_t matches(size_t n, unsigned below)
{
	size_t i, m = 0;

	for (i = 0; i < n; i++)
		m += sel_of(i) < below;
	return m;
}

static void report(const char *backend, int f, size_t n, double recall,
		   double secs, double base_secs, size_t nq, double total)
{
	printf("{\"bench\":\"filter\",\"backend\":\"%s\",\"filter\":", backend);
	if (f)
		printf("\"sel < %u\",\"selectivity\":%.4f,", sel_below[f],
		       (double)sel_below[f] / SEL_RANGE);
	else
		printf("null,\"selectivity\":1,");
	printf("\"records\":%zu,\"total\":%.0f,\"recall\":%.4f,"
	       "\"latency_us\":%.1f,\"qps\":%.0f,\"latency_vs_unfiltered\":%."
	       "2f}"
	       "\n",
	       n, total, recall, secs / (double)nq * 1e6, (double)nq / secs,
	       secs / base_secs);
	fflush(stdout);
}

/* ---- vector ------------------------------------------------------------- */

/* Exact filtered top K of every query, for selectivities `below[0..nb)`:
 * truth[(b * nq + q) * K ...], counts in ntruth[b * nq + q]. */
static void vector_truth(const float *base, const float *qs, size_t n,
			 size_t dim, size_t nq, const unsigned *below,
			 size_t nb, size_t *truth, size_t *ntruth)
{
	const struct hnswc_kernels *kern = hnswc_kernels();
	float *sims = malloc(n * sizeof(*sims));
	size_t q, i, b;

	if (!sims)
		die("out of memory");
	for (q = 0; q < nq; q++) {
		for (i = 0; i < n; i++)
			sims[i] = kern->dot(qs + q * dim, base + i * dim, dim);
		for (b = 0; b < nb; b++)
			ntruth[b * nq + q] = topk(sims, n, below[b],
						  truth + (b * nq + q) * K);
	}
	free(sims);
}

static char *vector_json(const float *x, size_t dim, size_t i)
{
	size_t cap = 96 + dim * 18, k, d;
	char *j = malloc(cap);

	if (!j)
		die("out of memory");
	k = (size_t)snprintf(j, cap,
			     "{\"srn\":\"urn:osa:bench:rec:%zu\",\"sel\":%u,"
			     "\"embedding\":[",
			     i, sel_of(i));
	for (d = 0; d < dim; d++)
		k += (size_t)snprintf(j + k, cap - k, "%s%.8g", d ? "," : "",
				      (double)x[d]);
	snprintf(j + k, cap - k, "]}");
	return j;
}

struct sweep_ctx {
	const uint64_t *bits;
};

static int sweep_accept(uint64_t label, void *ctx)
{
	const struct sweep_ctx *c = ctx;

	return (c->bits[label >> 6] >> (label & 63)) & 1;
}

/*
 * The graph's filtered search against an exact scan of the matching
 * labels, straight on the shim (the vector backend's two paths).
 */
static void vector_sweep(const struct opts *o, const float *base,
			 const float *qs)
{
	static const unsigned below[] = { 2000,	 5000,	10000,	20000,
					  30000, 50000, 100000, 200000 };
	const size_t nb = sizeof(below) / sizeof(below[0]);
	size_t *truth = malloc(nb * o->nq * K * sizeof(*truth));
	size_t *ntruth = malloc(nb * o->nq * sizeof(*ntruth));
	uint64_t *bits = calloc((o->n + 63) / 64, sizeof(*bits));
	uint64_t *labels = malloc(o->n * sizeof(*labels)), lab[1024];
	float *d = malloc(o->n * sizeof(*d)), dis[1024];
	hnswc_index *h = NULL;
	hnswc_error herr;
	size_t i, b, q;

	if (!truth || !ntruth || !bits || !labels || !d)
		die("out of memory");
	vector_truth(base, qs, o->n, o->dim, o->nq, below, nb, truth, ntruth);
	if (hnswc_create(HNSWC_IP, o->dim, o->n, 16, 200, 100, &h, &herr))
		die(herr.msg);
	for (i = 0; i < o->n; i++)
		if (hnswc_add(h, base + i * o->dim, i, &herr))
			die(herr.msg);
	for (b = 0; b < nb; b++) {
		struct sweep_ctx c = { bits };
		double tg = 0, te = 0, rg = 0, re = 0, t0;
		size_t m = 0;

		memset(bits, 0, (o->n + 63) / 64 * sizeof(*bits));
		for (i = 0; i < o->n; i++)
			if (sel_of(i) < below[b]) {
				bits[i >> 6] |= 1ull << (i & 63);
				m++;
			}
		for (q = 0; q < o->nq; q++) {
			const float *x = qs + q * o->dim;
			size_t got[K], ng = 0, nl = 0, j, w;
			int n;

			/* The graph, asked for ef results as the backend. */
			t0 = bench_cpu_now();
			n = hnswc_search(h, x, o->ef, o->ef, sweep_accept, &c,
					 lab, dis, &herr);
			tg += bench_cpu_now() - t0;
			for (j = 0; j < (size_t)n && ng < K; j++)
				got[ng++] = (size_t)lab[j];
			rg += overlap(truth + (b * o->nq + q) * K,
				      ntruth[b * o->nq + q], got, ng);
			/* Exact: collect, score, keep the best K. */
			t0 = bench_cpu_now();
			for (w = 0; w < (o->n + 63) / 64; w++)
				for (uint64_t y = bits[w]; y; y &= y - 1)
					labels[nl++] =
						w * 64 +
						(size_t)__builtin_ctzll(y);
			hnswc_distances(h, x, labels, nl, d, &herr);
			{
				float best[K];
				size_t mm = 0;

				for (j = 0; j < nl; j++) {
					size_t p;

					if (mm == K && !(d[j] < best[K - 1]))
						continue;
					p = mm < K ? mm++ : K - 1;
					while (p > 0 && best[p - 1] > d[j]) {
						best[p] = best[p - 1];
						got[p] = got[p - 1];
						p--;
					}
					best[p] = d[j];
					got[p] = (size_t)labels[j];
				}
				ng = mm;
			}
			te += bench_cpu_now() - t0;
			re += overlap(truth + (b * o->nq + q) * K,
				      ntruth[b * o->nq + q], got, ng);
		}
		printf("{\"bench\":\"filter\",\"sweep\":\"shim\","
		       "\"selectivity\":%.4f,\"matches\":%zu,\"ef\":%zu,"
		       "\"graph_us\":%.1f,\"graph_recall\":%.4f,"
		       "\"exact_us\":%.1f,\"exact_recall\":%.4f}\n",
		       (double)below[b] / SEL_RANGE, m, o->ef,
		       tg / (double)o->nq * 1e6, rg / (double)o->nq,
		       te / (double)o->nq * 1e6, re / (double)o->nq);
		fflush(stdout);
	}
	hnswc_free(h);
	free(truth);
	free(ntruth);
	free(bits);
	free(labels);
	free(d);
}

static void vector_bench(const struct opts *o)
{
	float *base = malloc(o->n * o->dim * sizeof(float));
	float *qs = malloc(o->nq * o->dim * sizeof(float));
	size_t *truth = malloc(NF * o->nq * K * sizeof(*truth));
	size_t *ntruth = malloc(NF * o->nq * sizeof(*ntruth));
	struct osa_filter *flt[NF];
	double secs[NF] = { 0 }, rec[NF] = { 0 }, tot[NF] = { 0 }, t0;
	char dir[512], cfg[512];
	struct index ix;
	size_t i, q, c, f;
	int pass;

	if (!base || !qs || !truth || !ntruth)
		die("out of memory");
	bench_synthetic(base, o->n, o->dim, 42, 0);
	bench_synthetic(qs, o->nq, o->dim, 42, 1);
	for (i = 0; i < o->n; i++)
		normalise(base + i * o->dim, o->dim);
	for (q = 0; q < o->nq; q++)
		normalise(qs + q * o->dim, o->dim);
	printf("{\"bench\":\"filter\",\"backend\":\"vector\",\"records\":%zu,"
	       "\"dim\":%zu,\"queries\":%zu,\"ef\":%zu,\"kernel\":\"%s\"}\n",
	       o->n, o->dim, o->nq, o->ef, hnswc_kernels()->name);
	vector_truth(base, qs, o->n, o->dim, o->nq, sel_below, NF, truth,
		     ntruth);

	snprintf(dir, sizeof(dir), "%s/osa-bench-filter-XXXXXX", o->tmp);
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(cfg, sizeof(cfg),
		 "dim = %zu; metric = \"cosine\"; m = 16; ef_construction = "
		 "200; ef_search = %zu; initial_capacity = %zu; embedding = "
		 "{ embedder = \"field\"; };",
		 o->dim, o->ef, o->n);
	open_index(&ix, "vector", cfg, dir);
	t0 = bench_now();
	for (i = 0; i < o->n; i += 1000) {
		size_t m = o->n - i < 1000 ? o->n - i : 1000, j;
		char *json[1000];

		for (j = 0; j < m; j++)
			json[j] = vector_json(base + (i + j) * o->dim, o->dim,
					      i + j);
		ingest(&ix, json, m);
		for (j = 0; j < m; j++)
			free(json[j]);
	}
	printf("{\"bench\":\"filter\",\"backend\":\"vector\","
	       "\"build_records_per_s\":%.0f}\n",
	       (double)o->n / (bench_now() - t0));
	for (f = 0; f < NF; f++)
		flt[f] = filter_of((int)f);

	for (pass = 0; pass < o->repeat; pass++)
		for (c = 0; c < o->nq; c += CHUNK)
			for (f = 0; f < NF; f++)
				for (q = c; q < c + CHUNK && q < o->nq; q++) {
					struct osa_query qq = {
						.vector = qs + q * o->dim,
						.dim = o->dim,
						.limit = K,
						.filter = flt[f],
					};
					struct osa_hits h;
					struct osa_error err = { 0 };
					size_t got[K], j;

					memset(&h, 0, sizeof(h));
					t0 = bench_cpu_now();
					if (ix.b->query(ix.self, &qq, &h, &err))
						die(err.msg);
					secs[f] += bench_cpu_now() - t0;
					if (!pass) {
						for (j = 0; j < h.n && j < K;
						     j++)
							got[j] = srn_id(
								h.v[j].srn);
						rec[f] += overlap(
							truth + (f * o->nq +
								 q) * K,
							ntruth[f * o->nq + q],
							got, j);
						tot[f] = (double)h.total;
					}
					osa_hits_free(&h);
				}
	for (f = 0; f < NF; f++) {
		if (f && (size_t)tot[f] != matches(o->n, sel_below[f]))
			die("a filtered total is not the number of matches");
		report("vector", (int)f, o->n, rec[f] / (double)o->nq, secs[f],
		       secs[0], o->nq * (size_t)o->repeat, tot[f]);
		osa_filter_free(flt[f]);
	}
	close_index(&ix);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "osa-bench-filter: cannot remove %s\n",
				dir);
	}
	if (o->sweep)
		vector_sweep(o, base, qs);
	free(base);
	free(qs);
	free(truth);
	free(ntruth);
}

/* ---- text --------------------------------------------------------------- */

/* Two words of 4+ ASCII letters from record r's text, as a query. */
static int text_query_of(const struct gcide_rec *r, uint64_t *s, char *out,
			 size_t cap)
{
	char w[64][32];
	size_t nw = 0, k;
	const char *p = r->summary;

	while (*p && nw < 64) {
		k = 0;
		while (*p &&
		       !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			p++;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
			if (k < 31)
				w[nw][k++] = (char)(*p | 0x20);
			p++;
		}
		w[nw][k] = '\0';
		if (k >= 4)
			nw++;
	}
	if (nw < 2)
		return -1;
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	snprintf(out, cap, "%s %s", w[*s % nw], w[(*s >> 20) % nw]);
	return 0;
}

static void text_bench(const struct opts *o)
{
	struct gcide_rec *recs;
	struct osa_filter *flt[NF];
	double secs[NF] = { 0 }, rec[NF] = { 0 }, tot[NF] = { 0 }, t0;
	char dir[512], (*qs)[128];
	struct index ix;
	size_t n, i, q, nq = 0, c, f;
	uint64_t s = 0x2545F4914F6CDD1Dull;
	struct osa_error err = { 0 };
	int pass;

	recs = gcide_load(GCIDE_DICT, GCIDE_INDEX, o->text_n, &n);
	if (n < 1000)
		die("too few records in dict-gcide");
	if (!(qs = malloc(o->nq * sizeof(*qs))))
		die("out of memory");
	for (i = 0; nq < o->nq && i < 100 * o->nq; i++)
		nq += !text_query_of(&recs[(s >> 11) % n], &s, qs[nq],
				     sizeof(qs[nq]));
	snprintf(dir, sizeof(dir), "%s/osa-bench-filter-XXXXXX", o->tmp);
	if (!mkdtemp(dir))
		die("mkdtemp");
	open_index(&ix, "text", "fields = [\"title\", \"summary\"];", dir);
	t0 = bench_now();
	for (i = 0; i < n; i += 1000) {
		size_t m = n - i < 1000 ? n - i : 1000, j;
		char *json[1000];

		for (j = 0; j < m; j++) {
			const struct gcide_rec *r = &recs[i + j];
			size_t cap = 2 * (strlen(r->title) +
					  strlen(r->summary)) +
				     96,
			       k;

			if (!(json[j] = malloc(cap)))
				die("out of memory");
			k = (size_t)sprintf(json[j],
					    "{\"srn\":\"g-%06zu\",\"sel\":%u,"
					    "\"title\":",
					    i + j, sel_of(i + j));
			k += gcide_json_str(json[j] + k, r->title);
			k += (size_t)sprintf(json[j] + k, ",\"summary\":");
			k += gcide_json_str(json[j] + k, r->summary);
			json[j][k++] = '}';
			json[j][k] = '\0';
		}
		ingest(&ix, json, m);
		for (j = 0; j < m; j++)
			free(json[j]);
	}
	if (ix.b->checkpoint(ix.self, 1, &err))
		die(err.msg);
	printf("{\"bench\":\"filter\",\"backend\":\"text\",\"corpus\":"
	       "\"gcide (dict-gcide)\",\"records\":%zu,\"queries\":%zu,"
	       "\"build_records_per_s\":%.0f}\n",
	       n, nq, (double)n / (bench_now() - t0));
	for (f = 0; f < NF; f++)
		flt[f] = filter_of((int)f);

	for (pass = 0; pass < o->repeat; pass++)
		for (c = 0; c < nq; c += CHUNK)
			for (f = 0; f < NF; f++)
				for (q = c; q < c + CHUNK && q < nq; q++) {
					struct osa_query qq = {
						.text = qs[q],
						.limit = K,
						.filter = flt[f],
					};
					struct osa_hits h;

					memset(&h, 0, sizeof(h));
					t0 = bench_cpu_now();
					if (ix.b->query(ix.self, &qq, &h, &err))
						die(err.msg);
					secs[f] += bench_cpu_now() - t0;
					tot[f] += pass ? 0 : (double)h.total;
					osa_hits_free(&h);
				}
	/* Exactness: the filtered top K and total against exact filtering of
	 * the complete unfiltered ranking. */
	for (q = 0; q < nq; q++) {
		struct osa_query all = { .text = qs[q], .limit = n };
		struct osa_hits ha;

		memset(&ha, 0, sizeof(ha));
		if (ix.b->query(ix.self, &all, &ha, &err))
			die(err.msg);
		for (f = 0; f < NF; f++) {
			struct osa_query qq = { .text = qs[q],
						.limit = K,
						.filter = flt[f] };
			struct osa_hits h;
			size_t m = 0, same = 0, j;

			memset(&h, 0, sizeof(h));
			if (ix.b->query(ix.self, &qq, &h, &err))
				die(err.msg);
			for (j = 0; j < ha.n; j++) {
				if (sel_of(srn_id(ha.v[j].srn)) >= sel_below[f])
					continue;
				if (m < h.n && !strcmp(h.v[m].srn, ha.v[j].srn))
					same++;
				m++;
			}
			if (m != h.total)
				die("a filtered text total differs from exact "
				    "filtering");
			if (m > K)
				m = K;
			rec[f] += m ? (double)same / (double)m : 1.0;
			osa_hits_free(&h);
		}
		osa_hits_free(&ha);
	}
	for (f = 0; f < NF; f++) {
		report("text", (int)f, n, rec[f] / (double)nq, secs[f], secs[0],
		       nq * (size_t)o->repeat, tot[f] / (double)nq);
		osa_filter_free(flt[f]);
	}
	close_index(&ix);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "osa-bench-filter: cannot remove %s\n",
				dir);
	}
	for (i = 0; i < n; i++) {
		free(recs[i].title);
		free(recs[i].summary);
	}
	free(recs);
	free(qs);
}

int main(int argc, char **argv)
{
	struct opts o = { 100000, 128, 300, 64, 100000, 3, 1, 1, 0, "/tmp" };
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--n") && v)
			o.n = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(a, "--dim") && v)
			o.dim = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(a, "--nq") && v)
			o.nq = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(a, "--ef") && v)
			o.ef = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(a, "--text-n") && v)
			o.text_n = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(a, "--repeat") && v)
			o.repeat = atoi(argv[++i]);
		else if (!strcmp(a, "--tmp") && v)
			o.tmp = argv[++i];
		else if (!strcmp(a, "--only") && v) {
			o.vector = !strcmp(v, "vector");
			o.text = !strcmp(v, "text");
			i++;
		} else if (!strcmp(a, "--sweep"))
			o.sweep = 1;
		else {
			fprintf(stderr,
				"usage: osa-bench-filter [--n N] [--dim D] "
				"[--nq Q] [--ef EF] [--text-n N] "
				"[--only vector|text] [--sweep] [--repeat R] "
				"[--tmp DIR]\n");
			return 64;
		}
	}
	if (o.n < 1000 || !o.dim || o.dim > 4096 || !o.nq || !o.ef ||
	    o.ef > 1024 || o.repeat < 1)
		die("--n must be >= 1000, --dim in [1, 4096], --ef in [1, "
		    "1024], --nq and --repeat >= 1");
	if (o.vector)
		vector_bench(&o);
	if (o.text)
		text_bench(&o);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * bench_embed.c - throughput of the `hash` embedder on one thread, against a
 * peer measured in the same run: a plain loop that only lowercases and
 * splits the same texts into words.
 *
 *   osa-bench-embed [--n N] [--dim D] [--seconds S]
 *
 * Generates N short synthetic records (a title of 5-10 words and a summary
 * of 18-26 words drawn from a built-in list, fixed PRNG seed), then for S
 * seconds each: embeds the records (osa_embed_record: the text is built from
 * the fields, then hashed), embeds their texts (osa_embed_text), and
 * tokenizes the texts.  Prints one JSON line per measurement and one with
 * the ratios (peer time / hash time: how many tokenizer passes one
 * embedding costs).  Times are the thread's CPU time, so a busy machine
 * slows neither side; on an idle one they equal wall time.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <osa/embedder.h>
#include <osa/record.h>
#include <osa/schema.h>

static const char *const bench_words[] = {
	"the",
	"of",
	"and",
	"in",
	"a",
	"for",
	"with",
	"on",
	"from",
	"by",
	"analysis",
	"survey",
	"dataset",
	"review",
	"model",
	"study",
	"glacier",
	"river",
	"ocean",
	"ice",
	"sheet",
	"climate",
	"temperature",
	"rainfall",
	"drought",
	"flood",
	"soil",
	"carbon",
	"nitrogen",
	"methane",
	"aerosol",
	"cloud",
	"satellite",
	"radar",
	"lidar",
	"spectral",
	"imaging",
	"resolution",
	"sensor",
	"network",
	"station",
	"observation",
	"measurement",
	"uncertainty",
	"calibration",
	"validation",
	"bias",
	"trend",
	"variability",
	"seasonal",
	"annual",
	"decadal",
	"regional",
	"global",
	"coastal",
	"marine",
	"freshwater",
	"estuary",
	"wetland",
	"forest",
	"grassland",
	"tundra",
	"permafrost",
	"snow",
	"albedo",
	"radiation",
	"flux",
	"energy",
	"balance",
	"budget",
	"cycle",
	"storage",
	"transport",
	"circulation",
	"current",
	"wave",
	"tide",
	"sediment",
	"erosion",
	"deposition",
	"landslide",
	"earthquake",
	"volcanic",
	"eruption",
	"ash",
	"plume",
	"magma",
	"tectonic",
	"fault",
	"seismic",
	"tomography",
	"mantle",
	"crust",
	"mineral",
	"isotope",
	"geochemistry",
	"protein",
	"folding",
	"genome",
	"sequencing",
	"gene",
	"expression",
	"cell",
	"tissue",
	"neuron",
	"brain",
	"cortex",
	"synapse",
	"receptor",
	"enzyme",
	"pathway",
	"metabolism",
	"microbial",
	"bacteria",
	"virus",
	"infection",
	"immune",
	"response",
	"vaccine",
	"clinical",
	"trial",
	"patient",
	"cohort",
	"mortality",
	"risk",
	"factor",
	"exposure",
	"population",
	"species",
	"biodiversity",
	"habitat",
	"migration",
	"predator",
	"prey",
	"coral",
	"reef",
	"bleaching",
	"fishery",
	"plankton",
	"algae",
	"bloom",
	"nutrient",
	"phosphorus",
	"oxygen",
	"hypoxia",
	"acidification",
	"salinity",
	"density",
	"pressure",
	"velocity",
	"turbulence",
	"mixing",
	"layer",
	"boundary",
	"surface",
	"subsurface",
	"deep",
	"learning",
	"neural",
	"machine",
	"algorithm",
	"optimization",
	"inference",
	"bayesian",
	"statistical",
	"regression",
	"classification",
	"clustering",
	"prediction",
	"forecast",
	"simulation",
	"numerical",
	"scheme",
	"solver",
	"mesh",
	"grid",
	"parallel",
	"performance",
	"scalable",
	"efficient",
	"robust",
	"novel",
	"improved",
	"new",
	"approach",
	"method",
	"framework",
	"system",
	"tool",
	"software",
	"library",
	"benchmark",
	"comparison",
	"evaluation",
	"assessment",
	"estimate",
	"reconstruction",
	"record",
	"archive",
	"history",
	"past",
	"future",
	"scenario",
	"projection",
	"emission",
	"policy",
	"impact",
	"adaptation",
	"mitigation",
	"vulnerability",
	"resilience",
	"urban",
	"rural",
	"agriculture",
	"crop",
	"yield",
	"irrigation",
	"water",
	"quality",
	"pollution",
	"air",
	"particulate",
	"ozone",
	"health",
	"economic",
	"social",
	"data",
	"open",
	"science",
	"sharing",
	"metadata",
	"standard",
	"interoperability",
	"repository",
	"index",
	"search",
	"retrieval",
	"semantic",
	"ontology",
	"vocabulary",
	"annotation",
	"quantum",
	"photon",
	"electron",
	"laser",
	"optical",
	"fiber",
	"material",
	"polymer",
	"crystal",
	"alloy",
	"catalyst",
	"battery",
	"solar",
	"wind",
	"turbine",
	"grid",
	"storage",
	"hydrogen",
	"fuel",
	"combustion",
	"engine",
	"vehicle",
	"traffic",
	"mobility",
	"transport",
	"galaxy",
	"star",
	"planet",
	"exoplanet",
	"telescope",
	"spectrum",
	"cosmic",
	"dark",
	"matter",
	"gravitational",
	"lensing",
	"supernova",
	"arctic",
	"antarctic",
	"tropical",
	"monsoon",
	"hurricane",
	"cyclone",
	"storm",
	"heatwave",
	"wildfire",
	"smoke",
	"vegetation",
	"phenology",
	"leaf",
	"root",
	"canopy",
	"photosynthesis",
	"respiration",
	"growth",
	"decline",
	"loss",
	"gain",
	"change",
	"shift",
	"extent",
	"thickness",
	"melt",
	"discharge",
	"runoff",
	"groundwater",
	"aquifer",
	"recharge",
	"lake",
	"reservoir",
	"dam",
	"hydropower",
	"basin",
	"catchment",
	"watershed",
	"delta",
	"Arctic",
	"Pacific",
	"Atlantic",
	"Europe",
	"Africa",
	"Asia",
	"Amazon",
	"Himalaya",
	"Greenland",
	"Sahara",
};

#define BENCH_NWORDS (sizeof(bench_words) / sizeof(bench_words[0]))

static uint64_t bench_rng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/*
 * CPU time of this thread: on a shared or loaded machine, time spent
 * waiting for a core does not count against either side.
 */
static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* `k` random words, the first capitalised, into buf at *n. */
static void bench_words_into(uint64_t *s, int k, char *buf, size_t cap,
			     size_t *n, int period)
{
	int i;

	for (i = 0; i < k; i++) {
		const char *w = bench_words[bench_rng(s) % BENCH_NWORDS];
		size_t start = *n;

		*n += (size_t)snprintf(buf + *n, cap - *n, "%s%s", i ? " " : "",
				       w);
		if (!i)
			buf[start] = (char)toupper((unsigned char)buf[start]);
	}
	if (period)
		*n += (size_t)snprintf(buf + *n, cap - *n, ".");
}

/* The peer: lowercase and split into words, nothing else. */
static size_t bench_tokenize(const char *s, size_t len, uint64_t *sink)
{
	char word[64];
	size_t i, n = 0, words = 0;

	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : ' ';

		if (isalnum(c)) {
			if (n < sizeof(word))
				word[n++] = (char)tolower(c);
		} else if (n) {
			*sink += (unsigned char)word[0] * n;
			words++;
			n = 0;
		}
	}
	return words;
}

static int bench_usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--n N] [--dim D] [--seconds S]\n", argv0);
	return 64;
}

int main(int argc, char **argv)
{
	long n = 10000, dim = 384, i;
	double seconds = 2.0, t0, t, rate_rec, rate_txt, rate_tok;
	struct osa_embedding_config *cfg = NULL;
	struct osa_embedder_args args;
	struct osa_embedder_inst *emb = NULL;
	struct osa_record **recs;
	struct osa_error err = { 0 };
	char **texts, *report = NULL, buf[2048];
	size_t *lens, words = 0;
	uint64_t s = 0x0123456789abcdefull, sink = 0, done;
	float *out;
	void *c;
	int a, rc = 1;

	for (a = 1; a < argc; a++) {
		if (a + 1 >= argc)
			return bench_usage(argv[0]);
		if (!strcmp(argv[a], "--n"))
			n = atol(argv[++a]);
		else if (!strcmp(argv[a], "--dim"))
			dim = atol(argv[++a]);
		else if (!strcmp(argv[a], "--seconds"))
			seconds = atof(argv[++a]);
		else
			return bench_usage(argv[0]);
	}
	if (n < 1 || n > 10000000 || dim < 1 || dim > 65536 || seconds <= 0)
		return bench_usage(argv[0]);

	if (osa_schema_parse(&osa_embedding_schema, "embedder = \"hash\";", &c,
			     &report, &err)) {
		fprintf(stderr, "config: %s\n", report ? report : err.msg);
		free(report);
		return 1;
	}
	cfg = c;
	args = (struct osa_embedder_args){ "bench", (int)dim, cfg };
	if (osa_embedder_create(&args, &emb, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		osa_schema_free(&osa_embedding_schema, cfg);
		return 1;
	}
	recs = calloc((size_t)n, sizeof(*recs));
	texts = calloc((size_t)n, sizeof(*texts));
	lens = calloc((size_t)n, sizeof(*lens));
	out = malloc((size_t)dim * sizeof(*out));
	if (!recs || !texts || !lens || !out) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	for (i = 0; i < n; i++) {
		char title[512], summary[1024];
		size_t tn = 0, sn = 0, len;

		bench_words_into(&s, 5 + (int)(bench_rng(&s) % 6), title,
				 sizeof(title), &tn, 0);
		bench_words_into(&s, 18 + (int)(bench_rng(&s) % 9), summary,
				 sizeof(summary), &sn, 1);
		len = (size_t)snprintf(buf, sizeof(buf),
				       "{\"srn\":\"urn:osa:bench.org:rec:"
				       "r-%ld\",\"title\":\"%s\","
				       "\"summary\":\"%s\"}",
				       i, title, summary);
		if (osa_record_parse(buf, len, NULL, &recs[i], &err) ||
		    osa_embedding_text(cfg, recs[i], &texts[i], &lens[i],
				       &err)) {
			fprintf(stderr, "%s\n", err.msg);
			goto out;
		}
		words += bench_tokenize(texts[i], lens[i], &sink);
	}

	/* Records: text from the fields, then the hash. */
	done = 0;
	t0 = bench_now();
	do {
		for (i = 0; i < n; i++)
			if (osa_embed_record(emb, recs[i], out, &err)) {
				fprintf(stderr, "%s\n", err.msg);
				goto out;
			}
		done += (uint64_t)n;
	} while ((t = bench_now() - t0) < seconds);
	rate_rec = (double)done / t;
	sink += (uint64_t)(out[0] * 1e6f);

	/* Texts only. */
	done = 0;
	t0 = bench_now();
	do {
		for (i = 0; i < n; i++)
			if (osa_embed_text(emb, texts[i], lens[i], out, &err)) {
				fprintf(stderr, "%s\n", err.msg);
				goto out;
			}
		done += (uint64_t)n;
	} while ((t = bench_now() - t0) < seconds);
	rate_txt = (double)done / t;
	sink += (uint64_t)(out[0] * 1e6f);

	/* The peer. */
	done = 0;
	t0 = bench_now();
	do {
		for (i = 0; i < n; i++)
			bench_tokenize(texts[i], lens[i], &sink);
		done += (uint64_t)n;
	} while ((t = bench_now() - t0) < seconds);
	rate_tok = (double)done / t;

	printf("{\"impl\":\"hash\",\"path\":\"record\",\"dim\":%ld,"
	       "\"texts\":%ld,\"words_per_text\":%.1f,\"texts_per_s\":%.0f,"
	       "\"ns_per_text\":%.0f,\"clock\":\"thread_cpu\"}\n",
	       dim, n, (double)words / (double)n, rate_rec, 1e9 / rate_rec);
	printf("{\"impl\":\"hash\",\"path\":\"text\",\"dim\":%ld,"
	       "\"texts\":%ld,\"texts_per_s\":%.0f,\"ns_per_text\":%.0f}\n",
	       dim, n, rate_txt, 1e9 / rate_txt);
	printf("{\"impl\":\"tokenize\",\"dim\":0,\"texts\":%ld,"
	       "\"texts_per_s\":%.0f,\"ns_per_text\":%.0f}\n",
	       n, rate_tok, 1e9 / rate_tok);
	printf("{\"ratio\":{\"hash_record_vs_tokenize\":%.2f,"
	       "\"hash_text_vs_tokenize\":%.2f},\"target_texts_per_s\":200000,"
	       "\"sink\":%llu}\n",
	       rate_tok / rate_rec, rate_tok / rate_txt,
	       (unsigned long long)(sink & 0xff));
	rc = 0;
out:
	for (i = 0; recs && texts && i < n; i++) {
		osa_record_free(recs[i]);
		free(texts[i]);
	}
	free(recs);
	free(texts);
	free(lens);
	free(out);
	osa_embedder_destroy(emb);
	osa_schema_free(&osa_embedding_schema, cfg);
	return rc;
}

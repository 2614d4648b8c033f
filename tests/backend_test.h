/* SPDX-License-Identifier: MIT */
/*
 * backend_test.h - helpers the backend tests (flat, vector) share:
 * temporary directories,
 * records with vectors, opening an index from config text.
 */
#ifndef OSA_BACKEND_TEST_H
#define OSA_BACKEND_TEST_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <osa/backend.h>

#include "osa_test.h"

static inline int bt_rm_one(const char *p, const struct stat *st, int flag,
			    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* A fresh temporary directory in buf (at least 64 bytes). */
static inline void bt_tmpdir(char *buf)
{
	strcpy(buf, "/tmp/osa-backend-test-XXXXXX");
	OSA_REQUIRE(mkdtemp(buf) != NULL);
}

static inline void bt_rmdir(const char *dir)
{
	nftw(dir, bt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A record {"srn", "title", "summary", "embedding": vec} (vec optional). */
static inline struct osa_record *bt_rec(const char *srn, const char *title,
					const char *summary, const float *vec,
					size_t dim)
{
	size_t cap = 256 + strlen(srn) + (title ? strlen(title) : 0) +
		     (summary ? strlen(summary) : 0) + dim * 20;
	char *json = malloc(cap);
	struct osa_record *rec = NULL;
	struct osa_error err = { 0 };
	size_t n, i;

	OSA_REQUIRE(json);
	n = (size_t)snprintf(json, cap, "{\"srn\":\"%s\"", srn);
	if (title)
		n += (size_t)snprintf(json + n, cap - n, ",\"title\":\"%s\"",
				      title);
	if (summary)
		n += (size_t)snprintf(json + n, cap - n, ",\"summary\":\"%s\"",
				      summary);
	if (vec) {
		n += (size_t)snprintf(json + n, cap - n, ",\"embedding\":[");
		for (i = 0; i < dim; i++)
			n += (size_t)snprintf(json + n, cap - n, "%s%.9g",
					      i ? "," : "", vec[i]);
		n += (size_t)snprintf(json + n, cap - n, "]");
	}
	n += (size_t)snprintf(json + n, cap - n, "}");
	if (osa_record_parse(json, n, NULL, &rec, &err)) {
		fprintf(stderr, "record: %s\n", err.msg);
		exit(1);
	}
	free(json);
	return rec;
}

/* An index of backend `name` from config text; NULL (err filled) when open
 * fails.  *cfg must be freed with osa_schema_free after close. */
struct bt_index {
	const struct osa_backend *b;
	void *cfg;
	void *self;
	uint64_t lsn;
};

/* bt_open() for an index declaring `attrs` (NULL: none). */
static inline int bt_open_attrs(struct bt_index *ix, const char *backend,
				const char *text, const char *dir,
				const struct osa_attrs *attrs,
				struct osa_error *err)
{
	static const struct osa_attrs none = { 0, NULL };
	struct osa_backend_args args;
	char *report = NULL;
	int rc;

	memset(ix, 0, sizeof(*ix));
	ix->b = osa_backend_find(backend);
	OSA_REQUIRE(ix->b);
	rc = osa_schema_parse(ix->b->schema, text, &ix->cfg, &report, err);
	if (rc) {
		fprintf(stderr, "config: %s\n", report ? report : err->msg);
		free(report);
		exit(1);
	}
	args.index = "t";
	args.config = ix->cfg;
	args.dir = dir;
	args.attrs = attrs ? attrs : &none;
	rc = ix->b->open(&args, &ix->self, &ix->lsn, err);
	if (rc) {
		osa_schema_free(ix->b->schema, ix->cfg);
		ix->cfg = NULL;
	}
	return rc;
}

static inline int bt_open(struct bt_index *ix, const char *backend,
			  const char *text, const char *dir,
			  struct osa_error *err)
{
	return bt_open_attrs(ix, backend, text, dir, NULL, err);
}

static inline void bt_close(struct bt_index *ix)
{
	if (ix->self)
		ix->b->close(ix->self);
	if (ix->cfg)
		osa_schema_free(ix->b->schema, ix->cfg);
	memset(ix, 0, sizeof(*ix));
}

static inline int bt_ingest1(struct bt_index *ix, struct osa_record *rec,
			     struct osa_error *err)
{
	const struct osa_record *const v[1] = { rec };
	int rc = ix->b->ingest_batch(ix->self, v, 1, err);

	osa_record_free(rec);
	return rc;
}

static inline uint64_t bt_count(struct bt_index *ix)
{
	uint64_t c = 0;

	OSA_CHECK(ix->b->count(ix->self, &c) == 0);
	return c;
}

static inline int bt_qvec(struct bt_index *ix, const float *v, size_t dim,
			  size_t limit, size_t offset, struct osa_hits *hits,
			  struct osa_error *err)
{
	struct osa_query q = {
		.vector = v, .dim = dim, .limit = limit, .offset = offset
	};

	memset(hits, 0, sizeof(*hits));
	return ix->b->query(ix->self, &q, hits, err);
}

/* A small deterministic generator. */
static inline uint64_t bt_rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline float bt_unif(uint64_t *s)
{
	return (float)((bt_rng(s) >> 11) * (1.0 / 9007199254740992.0)) * 2 - 1;
}

/* Clustered unit-scale data: `nc` centres, points spread around them. */
static inline void bt_clustered(float *out, size_t n, size_t dim, size_t nc,
				uint64_t seed)
{
	float *centres = malloc(nc * dim * sizeof(float));
	uint64_t s = seed | 1;
	size_t i, j;

	OSA_REQUIRE(centres);
	for (i = 0; i < nc * dim; i++)
		centres[i] = bt_unif(&s);
	for (i = 0; i < n; i++) {
		size_t c = (size_t)(bt_rng(&s) % nc);

		for (j = 0; j < dim; j++)
			out[i * dim + j] =
				centres[c * dim + j] + 0.35f * bt_unif(&s);
	}
	free(centres);
}

#endif /* OSA_BACKEND_TEST_H */

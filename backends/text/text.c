/* SPDX-License-Identifier: MIT */
/*
 * text.c - the `text` backend: BM25 keyword search (see search.c for the
 * query language and the ranking, segment.c for the file format).
 *
 * State: a *view*, an immutable list of segments with their deletion
 * bitmaps, swapped whole.  Slots [0, nfile) are segment files
 * (seg-<gen>.tix, mapped read-only), then the in-memory segments of the
 * writes since the last checkpoint.  Readers take a reference to the current
 * view under `vlock` (a pointer copy and an atomic increment) and never wait
 * for a writer longer than that.
 *
 * Writes (serialised by the core): ingest_batch analyses the records, builds
 * a new memory segment from them, marks the older copies of their srns
 * deleted (copy-on-write bitmaps) and publishes a new view.  Memory segments
 * merge in tiers (sixteen of about the same size become one), so there are
 * O(log n) of them and a record is rewritten O(log n) times.  checkpoint
 * merges the memory segments, and the file segments with more than a fifth
 * deleted (or all when there would be more than `max_segments`), into one
 * new segment file, then commits the list in text.manifest (osa/snapshot.h:
 * checksummed, atomic rename, directory fsync, the LSN it covers) with the
 * deletion bitmaps; files no longer listed are removed.  So re-upserting the
 * same records keeps disk and memory bounded.
 *
 * Record ids: every live record has a dense id (`rid`, reused after a
 * delete), kept in the segments' doc tables, so a per-record predicate can
 * be applied during search later.  The writer alone keeps srn -> rid
 * (osa/srnmap.h) and rid -> (segment, doc).
 *
 * Attributes (osa/filter.h), when the index declares some: an
 * osa_attr_table whose rows are the rids, set when a batch is published and
 * cleared when a record is removed (merges keep rids, so rows never move),
 * written at the end of text.manifest (u64 length, osa_attr_table_encode).
 * A manifest without it loads as an index without attributes; one without
 * it for an index that declares some (and has records) is refused as
 * corrupt, so the core rebuilds it.  A filter is evaluated on every row at
 * once (osa_filter_bitmap) and search passes over the documents whose rid
 * it rejects as over deleted ones; `total` and facets count every match
 * exactly.
 *
 * Locking: `vlock` guards `view`; `plock` the analyzer pool; `alock` (a
 * writer-preferring rwlock) the attribute table: a query that filters or
 * counts facets holds it shared from taking the view to its last read of
 * the table, and the writer holds it exclusively while it changes rows and
 * publishes the view that goes with them, so a query sees rows and
 * documents of the same state.  Everything else belongs to the writer.
 * Order: alock, then vlock.  Segments and bitmaps are reference-counted.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libstemmer.h>
#include <utf8proc.h>

#include <osa/filter.h>
#include <osa/snapshot.h>
#include <osa/srnmap.h>
#include <osa/sys.h>

#include "text.h"

#define TEXT_MANIFEST "text.manifest"
/* Memory segments: TEXT_MERGE_FACTOR of a tier (live documents in
 * [F^k, F^(k+1))) merge into one; never more than TEXT_MAX_MEM. */
#define TEXT_MERGE_FACTOR 16
#define TEXT_MAX_MEM 64
#define TEXT_STR2(x) #x
#define TEXT_STR(x) TEXT_STR2(x)
#define TEXT_UTF8PROC_VERSION                                                  \
	TEXT_STR(UTF8PROC_VERSION_MAJOR)                                       \
	"." TEXT_STR(UTF8PROC_VERSION_MINOR) "." TEXT_STR(                     \
		UTF8PROC_VERSION_PATCH)

/* ---- configuration ------------------------------------------------------ */

struct text_config {
	struct osa_strlist fields;
	char *language;
	struct osa_strlist stopwords;
	double k1, b;
	int min_token, max_token;
	int max_segments;
};

static const char *const text_def_fields[] = { "title", "summary", NULL };
static const char *const text_def_stop[] = { "none", NULL };

/* "name" or "name^boost": 0 and the parts, or -1. */
static int text_field_parse(const char *f, size_t *namelen, double *boost)
{
	const char *c = strchr(f, '^');
	char *end;

	*boost = 1;
	*namelen = c ? (size_t)(c - f) : strlen(f);
	if (!*namelen)
		return -1;
	if (!c)
		return 0;
	errno = 0;
	*boost = strtod(c + 1, &end);
	if (errno || *end || end == c + 1 || !(*boost > 0) || *boost > 1000)
		return -1;
	return 0;
}

static void text_cfg_check(void *cfgp, struct osa_check *chk)
{
	struct text_config *cfg = cfgp;
	size_t i;

	for (i = 0; i < cfg->fields.n; i++) {
		size_t nl;
		double bo;

		if (text_field_parse(cfg->fields.v[i], &nl, &bo))
			osa_check_error(chk, "fields",
					"\"%s\" is not a field name or "
					"name^boost with a boost in (0, 1000] "
					"(e.g. \"title^2\")",
					cfg->fields.v[i]);
	}
	if (!text_language_known(cfg->language)) {
		char list[1024];
		size_t n = 0;
		const char **l;

		list[0] = '\0';
		for (l = sb_stemmer_list(); l && *l && n + 40 < sizeof(list);
		     l++)
			n += (size_t)snprintf(list + n, sizeof(list) - n,
					      "%s, ", *l);
		osa_check_error(chk, "language",
				"\"%s\" is not a Snowball stemmer; choose "
				"one of: %snone",
				cfg->language, list);
	}
	for (i = 0; i < cfg->stopwords.n; i++)
		if (!strcmp(cfg->stopwords.v[i], "none") &&
		    cfg->stopwords.n > 1)
			osa_check_error(chk, "stopwords",
					"\"none\" must be alone in the list");
	if (cfg->min_token > cfg->max_token)
		osa_check_error(chk, "min_token",
				"min_token (%d) is larger than max_token (%d)",
				cfg->min_token, cfg->max_token);
}

static const struct osa_field text_fields[] = {
	{ .name = "fields",
	  .type = OSA_T_STRLIST,
	  .offset = offsetof(struct text_config, fields),
	  .flags = OSA_F_STORED,
	  .def_list = text_def_fields,
	  .min = 1,
	  .max = 64,
	  .doc = "Top-level string members of a record to index, each "
		 "\"name\" or \"name^boost\" (e.g. \"title^2\": its words "
		 "count twice in BM25; boosts have a resolution of 1/8)." },
	{ .name = "language",
	  .type = OSA_T_STRING,
	  .offset = offsetof(struct text_config, language),
	  .flags = OSA_F_STORED,
	  .def_str = "english",
	  .doc = "Snowball stemmer (libstemmer's names: arabic, armenian, "
		 "basque, catalan, danish, dutch, english, finnish, french, "
		 "german, greek, hindi, hungarian, indonesian, irish, "
		 "italian, lithuanian, nepali, norwegian, porter, portuguese, "
		 "romanian, russian, serbian, spanish, swedish, tamil, "
		 "turkish, yiddish) or \"none\" (no stemming)." },
	{ .name = "stopwords",
	  .type = OSA_T_STRLIST,
	  .offset = offsetof(struct text_config, stopwords),
	  .flags = OSA_F_STORED,
	  .def_list = text_def_stop,
	  .doc = "Words left out: [\"none\"] or [] (the default: BM25's idf "
		 "already weighs common words down, and queries keep them), "
		 "[\"default\"] the language's Snowball list (as packaged in "
		 "liblingua-stopwords-perl; empty for languages it lacks), or "
		 "words of your own (\"default\" may be one of them)." },
	OSA_FIELD_DOUBLE(struct text_config, k1, "k1", 1.2, 0, 10,
			 "BM25 term-frequency saturation."),
	OSA_FIELD_DOUBLE(struct text_config, b, "b", 0.75, 0, 1,
			 "BM25 length normalisation (0: none, 1: full)."),
	{ .name = "min_token",
	  .type = OSA_T_INT,
	  .offset = offsetof(struct text_config, min_token),
	  .flags = OSA_F_STORED,
	  .def_int = 1,
	  .min = 1,
	  .max = 256,
	  .doc = "Shortest word indexed, in code points." },
	{ .name = "max_token",
	  .type = OSA_T_INT,
	  .offset = offsetof(struct text_config, max_token),
	  .flags = OSA_F_STORED,
	  .def_int = 64,
	  .min = 1,
	  .max = 256,
	  .doc = "Longest word indexed, in code points (longer ones are "
		 "left out)." },
	OSA_FIELD_INT(struct text_config, max_segments, "max_segments", 8, 1,
		      64,
		      "Segment files before a checkpoint merges them all "
		      "(1: always one file)."),
	OSA_FIELD_END
};

static const struct osa_schema text_schema = {
	.name = "text",
	.size = sizeof(struct text_config),
	.fields = text_fields,
	.check = text_cfg_check,
};

/* ---- the instance ----------------------------------------------------- */

struct text_loc {
	struct text_seg *seg;
	uint32_t doc;
};

struct text {
	char *index;
	char *dir;
	char *manifest;
	char desc[OSA_SNAP_EMBEDDER_MAX];
	struct text_analysis an;
	struct text_params params;
	char **field;	 /* names */
	uint32_t *boost; /* times TEXT_TF_SCALE */
	size_t nfield;
	int max_segments;

	pthread_mutex_t plock; /* guards pool */
	struct text_analyzer **pool;
	size_t npool, cappool;

	pthread_mutex_t vlock; /* guards view (the pointer) */
	struct text_view *view;

	/* Declared attributes (args->attrs, valid until close) and their
	 * values by rid, NULL when none are declared; rows change under
	 * `alock` held exclusively. */
	const struct osa_attrs *decl;
	struct osa_attr_table *attrs;
	pthread_rwlock_t alock;
	size_t attrs_lost; /* rows cleared for lack of memory */
	char attrs_why[OSA_ERROR_MSG_MAX];

	/* The writer's own. */
	const char **srns; /* rid -> srn (in a segment), NULL: free */
	uint64_t *hash;
	struct text_loc *loc;
	size_t nrid, caprid;
	uint32_t *freel;
	size_t nfree, capfree;
	struct osa_srnmap map;
	uint64_t gen_next;
	bool dirty;		 /* file bitmaps changed since the manifest */
	struct text_analyzer wa; /* the writer's analyzer */
};

/* ---- analyzers, views ------------------------------------------------- */

static struct text_analyzer *text_pool_get(struct text *t,
					   struct osa_error *err)
{
	struct text_analyzer *a = NULL;

	pthread_mutex_lock(&t->plock);
	if (t->npool)
		a = t->pool[--t->npool];
	pthread_mutex_unlock(&t->plock);
	if (a)
		return a;
	if (!(a = malloc(sizeof(*a)))) {
		osa_error_set(err, OSA_ENOMEM, "out of memory");
		return NULL;
	}
	if (text_analyzer_init(a, &t->an, err)) {
		free(a);
		return NULL;
	}
	return a;
}

static void text_pool_put(struct text *t, struct text_analyzer *a)
{
	pthread_mutex_lock(&t->plock);
	if (t->npool == t->cappool) {
		size_t c = t->cappool ? t->cappool * 2 : 8;
		struct text_analyzer **p = realloc(t->pool, c * sizeof(*p));

		if (!p) {
			pthread_mutex_unlock(&t->plock);
			text_analyzer_free(a);
			free(a);
			return;
		}
		t->pool = p;
		t->cappool = c;
	}
	t->pool[t->npool++] = a;
	pthread_mutex_unlock(&t->plock);
}

static void text_bits_unref(struct text_bits *b)
{
	if (b &&
	    atomic_fetch_sub_explicit(&b->ref, 1, memory_order_acq_rel) == 1)
		free(b);
}

static struct text_bits *text_bits_new(uint32_t ndocs,
				       const struct text_bits *from)
{
	size_t nw = ((size_t)ndocs + 63) / 64;
	struct text_bits *b =
		calloc(1, sizeof(*b) + (nw ? nw : 1) * sizeof(uint64_t));

	if (!b)
		return NULL;
	atomic_init(&b->ref, 1);
	if (from) {
		b->ndel = from->ndel;
		b->del_dl = from->del_dl;
		memcpy(b->w, from->w, nw * sizeof(uint64_t));
	}
	return b;
}

static void text_view_put(struct text_view *v)
{
	size_t i;

	if (!v ||
	    atomic_fetch_sub_explicit(&v->ref, 1, memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < v->nseg; i++) {
		text_seg_unref(v->slot[i].seg);
		text_bits_unref(v->slot[i].del);
	}
	free(v->slot);
	free(v);
}

static struct text_view *text_view_get(struct text *t)
{
	struct text_view *v;

	pthread_mutex_lock(&t->vlock);
	v = t->view;
	atomic_fetch_add_explicit(&v->ref, 1, memory_order_relaxed);
	pthread_mutex_unlock(&t->vlock);
	return v;
}

/* A new view of `n` slots (owning nothing yet). */
static struct text_view *text_view_new(size_t n)
{
	struct text_view *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	atomic_init(&v->ref, 1);
	if (!(v->slot = calloc(n ? n : 1, sizeof(*v->slot)))) {
		free(v);
		return NULL;
	}
	return v;
}

/* Recount live documents and lengths. */
static void text_view_stats(struct text_view *v)
{
	size_t i;

	v->live = 0;
	v->sum_dl = 0;
	for (i = 0; i < v->nseg; i++) {
		const struct text_slot *s = &v->slot[i];

		v->live += s->seg->ndocs - (s->del ? s->del->ndel : 0);
		v->sum_dl += s->seg->sum_dl - (s->del ? s->del->del_dl : 0);
	}
}

/* Swap in `nv`, drop the writer's reference to the old view. */
static void text_publish(struct text *t, struct text_view *nv)
{
	struct text_view *old;

	text_view_stats(nv);
	pthread_mutex_lock(&t->vlock);
	old = t->view;
	t->view = nv;
	pthread_mutex_unlock(&t->vlock);
	text_view_put(old);
}

/* ---- writer maps ------------------------------------------------------ */

static int text_reserve_rids(struct text *t, size_t want)
{
	size_t c = t->caprid ? t->caprid : 64;
	void *p;

	if (want <= t->caprid)
		return 0;
	if (want > (size_t)INT32_MAX)
		return OSA_ELIMIT;
	while (c < want)
		c *= 2;
	if (!(p = realloc(t->srns, c * sizeof(*t->srns))))
		return OSA_ENOMEM;
	t->srns = p;
	memset(t->srns + t->caprid, 0, (c - t->caprid) * sizeof(*t->srns));
	if (!(p = realloc(t->hash, c * sizeof(*t->hash))))
		return OSA_ENOMEM;
	t->hash = p;
	if (!(p = realloc(t->loc, c * sizeof(*t->loc))))
		return OSA_ENOMEM;
	t->loc = p;
	if (!(p = realloc(t->freel, c * sizeof(*t->freel))))
		return OSA_ENOMEM;
	t->freel = p;
	t->capfree = c;
	t->caprid = c;
	return 0;
}

static long text_find_rid(const struct text *t, const char *srn, uint64_t h)
{
	return osa_srnmap_find(&t->map, t->srns, t->hash, srn, h);
}

/* Point the live documents of `seg` (slot bits `del`) at it. */
static void text_adopt(struct text *t, struct text_seg *seg,
		       const struct text_bits *del)
{
	uint32_t d;

	for (d = 0; d < seg->ndocs; d++) {
		uint32_t rid = seg->docs[d].rid;

		if (text_bit(del ? del->w : NULL, d))
			continue;
		t->srns[rid] = seg->srns + seg->docs[d].srn_off;
		t->loc[rid].seg = seg;
		t->loc[rid].doc = d;
	}
}

/* ---- files ------------------------------------------------------------- */

static char *text_seg_path(const struct text *t, uint64_t gen)
{
	char *p;

	if (asprintf(&p, "%s/seg-%016llx.tix", t->dir,
		     (unsigned long long)gen) < 0)
		return NULL;
	return p;
}

static void text_expect(const struct text *t, struct osa_snap_info *in)
{
	memset(in, 0, sizeof(*in));
	snprintf(in->kind, sizeof(in->kind), "text");
	in->body_version = 1;
	/* The analysis description (< 128 bytes): always fits. */
	osa_snap_set_blob(in, NULL, "%s", t->desc);
}

struct text_body {
	const unsigned char *p;
	size_t n;
};

static int text_write_body(void *ctx, struct osa_snap_writer *w,
			   struct osa_error *err)
{
	const struct text_body *b = ctx;

	return osa_snap_write(w, b->p, b->n, err);
}

/* Write `body` as segment file `gen`, then map it. */
static int text_write_seg(struct text *t, uint64_t gen,
			  const unsigned char *body, size_t len, uint32_t ndocs,
			  uint64_t lsn, struct text_seg **out,
			  struct osa_error *err)
{
	struct osa_snap_info info;
	struct text_body b = { body, len };
	char *path = text_seg_path(t, gen);
	int rc;

	if (!path)
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	text_expect(t, &info);
	info.count = ndocs;
	info.lsn = lsn;
	rc = osa_snap_save(path, &info, text_write_body, &b, err);
	if (!rc) {
		rc = text_seg_open(path, gen, t->desc, out, err);
		if (rc)
			unlink(path);
	}
	free(path);
	return rc;
}

struct text_mctx {
	const struct text_view *v;
	const void *attrs; /* the encoded attribute table, or NULL */
	size_t alen;
};

static int text_write_manifest(void *ctx, struct osa_snap_writer *w,
			       struct osa_error *err)
{
	const struct text_view *v = ((struct text_mctx *)ctx)->v;
	uint32_t n = (uint32_t)v->nfile;
	size_t i;
	int rc;

	rc = osa_snap_write(w, &n, 4, err);
	for (i = 0; i < v->nfile && !rc; i++) {
		const struct text_slot *s = &v->slot[i];
		uint64_t hdr[2] = { s->seg->gen, s->seg->ndocs };
		size_t nw = ((size_t)s->seg->ndocs + 63) / 64;
		uint64_t zero = 0;

		rc = osa_snap_write(w, hdr, sizeof(hdr), err);
		if (s->del)
			rc = rc ? rc
				: osa_snap_write(w, s->del->w,
						 nw * sizeof(uint64_t), err);
		else
			for (size_t k = 0; k < nw && !rc; k++)
				rc = osa_snap_write(w, &zero, 8, err);
	}
	if (!rc && ((struct text_mctx *)ctx)->attrs) {
		const struct text_mctx *mc = ctx;
		uint64_t len = mc->alen;

		rc = osa_snap_write(w, &len, 8, err);
		if (!rc)
			rc = osa_snap_write(w, mc->attrs, mc->alen, err);
	}
	return rc;
}

/* Remove seg-*.tix files that `v` does not list. */
static void text_sweep(const struct text *t, const struct text_view *v)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		unsigned long long gen;
		char tail[8];
		size_t i;
		bool keep = false;

		if (sscanf(e->d_name, "seg-%16llx.%7s", &gen, tail) != 2 ||
		    strcmp(tail, "tix"))
			continue;
		for (i = 0; i < v->nfile; i++)
			keep |= v->slot[i].seg->gen == gen;
		if (!keep) {
			char *p = text_seg_path(t, gen);

			if (p) {
				unlink(p);
				free(p);
			}
		}
	}
	closedir(d);
}

/* ---- open --------------------------------------------------------------- */

/* For a caller older than ABI 1.2 (no args->attrs). */
static const struct osa_attrs text_no_attrs = { 0, NULL };

static void text_free(struct text *t)
{
	size_t i;

	if (!t)
		return;
	text_view_put(t->view);
	for (i = 0; i < t->npool; i++) {
		text_analyzer_free(t->pool[i]);
		free(t->pool[i]);
	}
	free(t->pool);
	text_analyzer_free(&t->wa);
	text_analysis_free(&t->an);
	for (i = 0; i < t->nfield; i++)
		free(t->field[i]);
	free(t->field);
	free(t->boost);
	free(t->srns);
	free(t->hash);
	free(t->loc);
	free(t->freel);
	osa_srnmap_free(&t->map);
	osa_attr_table_free(t->attrs);
	pthread_rwlock_destroy(&t->alock);
	pthread_mutex_destroy(&t->plock);
	pthread_mutex_destroy(&t->vlock);
	free(t->index);
	free(t->dir);
	free(t->manifest);
	free(t);
}

/* The attribute table at the end of the manifest, if any. */
static int text_load_attrs(struct text *t, struct osa_snap_reader *r,
			   struct osa_error *err)
{
	struct osa_error de = { 0 };
	uint64_t len;
	void *buf;
	int rc;

	if (!osa_snap_remaining(r))
		return 0; /* checked against the records by text_check_attrs */
	if (!t->decl->n)
		return osa_snap_corrupt(r, err,
					"holds attributes but the index "
					"declares none");
	if ((rc = osa_snap_read(r, &len, 8, err)))
		return rc;
	if (len > osa_snap_remaining(r))
		return osa_snap_corrupt(r, err,
					"attribute table of %llu bytes is "
					"truncated",
					(unsigned long long)len);
	if (!(buf = malloc(len ? (size_t)len : 1)))
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	rc = osa_snap_read(r, buf, (size_t)len, err);
	if (!rc) {
		rc = osa_attr_table_decode(t->decl, buf, (size_t)len, &t->attrs,
					   &de);
		if (rc == OSA_ECORRUPT)
			rc = osa_snap_corrupt(r, err, "attribute table: %s",
					      de.msg);
		else if (rc)
			rc = osa_error_set(err, rc, "%s", de.msg);
	}
	free(buf);
	return rc;
}

/*
 * After text_index_rids: the loaded table (or a new one) agrees with the
 * records: a row is live exactly when its rid is.
 */
static int text_check_attrs(struct text *t, struct osa_error *err)
{
	size_t r;

	if (!t->decl->n)
		return 0;
	if (!t->attrs) {
		if (t->view->live)
			return osa_error_set(err, OSA_ECORRUPT,
					     "%s has no attribute table but "
					     "the index declares attributes; "
					     "the index will be rebuilt",
					     t->manifest);
		return osa_attr_table_new(t->decl, &t->attrs, err);
	}
	/* Rows past the ids (freed, merged away) are dead: the live count
	 * and the rows of the ids cover them. */
	if (osa_attr_table_live(t->attrs) != t->view->live)
		return osa_error_set(
			err, OSA_ECORRUPT,
			"%s: the attribute table has %llu live "
			"rows, the segments %llu live records; "
			"the index will be rebuilt",
			t->manifest,
			(unsigned long long)osa_attr_table_live(t->attrs),
			(unsigned long long)t->view->live);
	for (r = 0; r < t->nrid; r++)
		if (osa_filter_match(NULL, t->attrs, (uint32_t)r) !=
		    (t->srns[r] != NULL))
			return osa_error_set(err, OSA_ECORRUPT,
					     "%s: record id %zu is %s in the "
					     "segments but not in the "
					     "attribute table; the index will "
					     "be rebuilt",
					     t->manifest, r,
					     t->srns[r] ? "live" : "free");
	return 0;
}

/* Read text.manifest and map its segments into t->view. */
static int text_load(struct text *t, uint64_t *lsn, struct osa_error *err)
{
	struct osa_snap_reader *r;
	struct osa_snap_info exp, got;
	struct text_view *v = NULL;
	uint32_t n, i;
	int rc;

	*lsn = 0;
	text_expect(t, &exp);
	rc = osa_snap_open(t->manifest, &exp, &r, &got, err);
	if (rc == OSA_ENOTFOUND) {
		osa_error_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	if ((rc = osa_snap_read(r, &n, 4, err)))
		goto out;
	if (n > osa_snap_remaining(r) / 16) {
		rc = osa_snap_corrupt(r, err, "%u segments do not fit", n);
		goto out;
	}
	if (!(v = text_view_new(n))) {
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		uint64_t hdr[2];
		size_t nw, k;
		struct text_bits *b;
		char *path;

		if ((rc = osa_snap_read(r, hdr, sizeof(hdr), err)))
			goto out;
		nw = (size_t)((hdr[1] + 63) / 64);
		if (hdr[1] > UINT32_MAX || nw > osa_snap_remaining(r) / 8) {
			rc = osa_snap_corrupt(r, err,
					      "segment %u has a bad size", i);
			goto out;
		}
		if (!(b = text_bits_new((uint32_t)hdr[1], NULL))) {
			rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
			goto out;
		}
		v->slot[i].del = b;
		if ((rc = osa_snap_read(r, b->w, nw * 8, err)))
			goto out;
		if (!(path = text_seg_path(t, hdr[0]))) {
			rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
			goto out;
		}
		rc = text_seg_open(path, hdr[0], t->desc, &v->slot[i].seg, err);
		free(path);
		if (rc)
			goto out;
		v->nseg = v->nfile = i + 1;
		if (v->slot[i].seg->ndocs != hdr[1] ||
		    (hdr[1] % 64 && b->w[nw - 1] >> (hdr[1] % 64))) {
			rc = osa_snap_corrupt(r, err,
					      "segment %s disagrees with the "
					      "manifest",
					      v->slot[i].seg->path);
			goto out;
		}
		for (k = 0; k < hdr[1]; k++)
			if (text_bit(b->w, (uint32_t)k)) {
				b->ndel++;
				b->del_dl += v->slot[i].seg->docs[k].dl;
			}
		if (!b->ndel) {
			text_bits_unref(b);
			v->slot[i].del = NULL;
		}
		if (hdr[0] >= t->gen_next)
			t->gen_next = hdr[0] + 1;
	}
	if ((rc = text_load_attrs(t, r, err)))
		goto out;
	rc = osa_snap_close(r, err);
	r = NULL;
	if (rc)
		goto out;
	*lsn = got.lsn;
	text_publish(t, v);
	v = NULL;
out:
	osa_snap_close(r, NULL);
	if (v) {
		/* Slots past nseg own only their bitmap. */
		for (i = (uint32_t)v->nseg; i < n; i++)
			text_bits_unref(v->slot[i].del);
		text_view_put(v);
	}
	return rc;
}

/* Build srn -> rid -> (segment, doc) from the view. */
static int text_index_rids(struct text *t, struct osa_error *err)
{
	const struct text_view *v = t->view;
	uint64_t total = 0, maxrid = 0;
	size_t i;
	uint32_t d;

	for (i = 0; i < v->nseg; i++) {
		const struct text_seg *s = v->slot[i].seg;

		total += s->ndocs;
		for (d = 0; d < s->ndocs; d++)
			if (s->docs[d].rid >= maxrid)
				maxrid = s->docs[d].rid + 1ull;
	}
	if (maxrid > 2 * total + (1u << 20))
		return osa_error_set(err, OSA_ECORRUPT,
				     "index %s: record ids in %s run past the "
				     "documents; the index will be rebuilt",
				     t->index, t->dir);
	if (text_reserve_rids(t, (size_t)maxrid + 1) ||
	    osa_srnmap_reserve(&t->map, t->srns, t->hash, 0,
			       (size_t)v->live + 16, true))
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	t->nrid = (size_t)maxrid;
	for (i = 0; i < v->nseg; i++) {
		struct text_seg *s = v->slot[i].seg;
		const uint64_t *del = v->slot[i].del ? v->slot[i].del->w : NULL;

		for (d = 0; d < s->ndocs; d++) {
			uint32_t rid = s->docs[d].rid;
			const char *srn = s->srns + s->docs[d].srn_off;
			uint64_t h;
			size_t at;

			if (text_bit(del, d))
				continue;
			h = osa_srn_hash(srn);
			if (t->srns[rid])
				return osa_error_set(
					err, OSA_ECORRUPT,
					"index %s: segment %s: record id %u "
					"is used twice; the index will be "
					"rebuilt",
					t->index, s->path, rid);
			t->srns[rid] = srn;
			t->hash[rid] = h;
			at = osa_srnmap_slot(&t->map, t->srns, t->hash, srn, h);
			if (t->map.slot[at])
				return osa_error_set(
					err, OSA_ECORRUPT,
					"index %s: segment %s: srn %s is live "
					"twice; the index will be rebuilt",
					t->index, s->path, srn);
			t->map.slot[at] = rid + 1;
			t->loc[rid].seg = s;
			t->loc[rid].doc = d;
		}
	}
	for (i = t->nrid; i-- > 0;)
		if (!t->srns[i])
			t->freel[t->nfree++] = (uint32_t)i;
	return 0;
}

static int text_open(const struct osa_backend_args *args, void **self,
		     uint64_t *lsn, struct osa_error *err)
{
	const struct text_config *cfg = args->config;
	struct text *t = calloc(1, sizeof(*t));
	size_t i, n = 0;
	uint32_t stophash = 2166136261u;
	int rc;

	*self = NULL;
	if (!t)
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     args->index);
	pthread_mutex_init(&t->plock, NULL);
	pthread_mutex_init(&t->vlock, NULL);
	if (osa_rwlock_init(&t->alock)) {
		pthread_mutex_destroy(&t->plock);
		pthread_mutex_destroy(&t->vlock);
		free(t);
		return osa_error_set(err, OSA_ENOMEM,
				     "index %s: cannot create a lock",
				     args->index);
	}
	t->decl = args->attrs ? args->attrs : &text_no_attrs;
	t->gen_next = 1;
	t->params.k1 = cfg->k1;
	t->params.b = cfg->b;
	t->max_segments = cfg->max_segments;
	t->index = strdup(args->index);
	t->dir = strdup(args->dir);
	t->nfield = cfg->fields.n;
	t->field = calloc(t->nfield ? t->nfield : 1, sizeof(char *));
	t->boost = calloc(t->nfield ? t->nfield : 1, sizeof(uint32_t));
	t->view = text_view_new(0);
	if (!t->index || !t->dir || !t->field || !t->boost || !t->view ||
	    asprintf(&t->manifest, "%s/" TEXT_MANIFEST, args->dir) < 0 ||
	    osa_srnmap_init(&t->map, 16)) {
		t->manifest = NULL;
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < t->nfield; i++) {
		size_t nl;
		double bo;

		if (text_field_parse(cfg->fields.v[i], &nl, &bo)) {
			rc = osa_error_set(err, OSA_EINVAL, "bad field \"%s\"",
					   cfg->fields.v[i]);
			goto fail;
		}
		if (!(t->field[i] = strndup(cfg->fields.v[i], nl))) {
			rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
			goto fail;
		}
		t->boost[i] = (uint32_t)lround(bo * TEXT_TF_SCALE);
		if (!t->boost[i])
			t->boost[i] = 1;
	}
	rc = text_analysis_init(
		&t->an, cfg->language, (const char *const *)cfg->stopwords.v,
		cfg->stopwords.n, cfg->min_token, cfg->max_token, err);
	if (!rc)
		rc = text_analyzer_init(&t->wa, &t->an, err);
	if (rc)
		goto fail;
	/* What the files were written for: a mismatch rebuilds. */
	for (i = 0; i < t->an.nstop; i++)
		for (const char *c = t->an.stop[i]; *c; c++)
			stophash = (stophash ^ (unsigned char)*c) * 16777619u;
	n = (size_t)snprintf(
		t->desc, sizeof(t->desc),
		"bm25 %s min=%d max=%d stop=%zu/%08x f=", cfg->language,
		cfg->min_token, cfg->max_token, t->an.nstop, stophash);
	for (i = 0; i < cfg->fields.n && n < sizeof(t->desc); i++)
		n += (size_t)snprintf(t->desc + n, sizeof(t->desc) - n, "%s%s",
				      i ? "," : "", cfg->fields.v[i]);
	if ((rc = osa_mkdirs(t->dir, err)))
		goto fail;
	if ((rc = text_load(t, lsn, err)))
		goto fail;
	if ((rc = text_index_rids(t, err)))
		goto fail;
	if ((rc = text_check_attrs(t, err)))
		goto fail;
	text_sweep(t, t->view);
	if (t->view->nseg)
		osa_log(OSA_LOG_INFO,
			"index=%s backend=text mapped %zu segment(s), %llu "
			"records (lsn %llu)",
			t->index, t->view->nseg,
			(unsigned long long)t->view->live,
			(unsigned long long)*lsn);
	*self = t;
	return 0;
fail:
	if (err && !err->index[0])
		snprintf(err->index, sizeof(err->index), "%s", args->index);
	osa_error_prefix(err, "index %s: ", args->index);
	text_free(t);
	return rc;
}

/* ---- building a segment from records ----------------------------------- */

struct text_bent {
	uint32_t term, doc, pos, w;
};

struct text_bterm {
	uint32_t off, len, count, start;
};

struct text_batch {
	struct text_dbuf bytes; /* term bytes */
	struct text_bterm *term;
	size_t nterm, capterm;
	uint32_t *slot; /* term id + 1 */
	size_t mask;
	struct text_bent *ent;
	size_t nent, capent;
};

static uint32_t text_fnv(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static int text_batch_grow_table(struct text_batch *b)
{
	size_t size = b->mask ? (b->mask + 1) * 2 : 1024, i;
	uint32_t *s = calloc(size, sizeof(*s));

	if (!s)
		return -1;
	for (i = 0; i < b->nterm; i++) {
		const struct text_bterm *t = &b->term[i];
		size_t at =
			text_fnv((const char *)b->bytes.p + t->off, t->len) &
			(size - 1);

		while (s[at])
			at = (at + 1) & (size - 1);
		s[at] = (uint32_t)i + 1;
	}
	free(b->slot);
	b->slot = s;
	b->mask = size - 1;
	return 0;
}

static long text_batch_term(struct text_batch *b, const char *s, size_t n)
{
	size_t at;

	if ((b->nterm + 1) * 2 > b->mask + 1 && text_batch_grow_table(b))
		return -1;
	at = text_fnv(s, n) & b->mask;
	while (b->slot[at]) {
		const struct text_bterm *t = &b->term[b->slot[at] - 1];

		if (t->len == n && !memcmp(b->bytes.p + t->off, s, n))
			return b->slot[at] - 1;
		at = (at + 1) & b->mask;
	}
	if (b->nterm == b->capterm) {
		size_t c = b->capterm ? b->capterm * 2 : 1024;
		struct text_bterm *nt = realloc(b->term, c * sizeof(*nt));

		if (!nt)
			return -1;
		b->term = nt;
		b->capterm = c;
	}
	b->term[b->nterm].off = (uint32_t)b->bytes.n;
	b->term[b->nterm].len = (uint32_t)n;
	b->term[b->nterm].count = 0;
	{
		struct text_dbuf *d = &b->bytes;

		if (d->n + n > d->cap) {
			size_t c = d->cap ? d->cap : 4096;
			unsigned char *p;

			while (c < d->n + n)
				c *= 2;
			if (!(p = realloc(d->p, c)))
				return -1;
			d->p = p;
			d->cap = c;
		}
		memcpy(d->p + d->n, s, n);
		d->n += n;
	}
	b->slot[at] = (uint32_t)b->nterm + 1;
	return (long)b->nterm++;
}

static void text_batch_free(struct text_batch *b)
{
	free(b->bytes.p);
	free(b->term);
	free(b->slot);
	free(b->ent);
}

struct text_sorted {
	const unsigned char *p;
	uint32_t len, id;
};

static int text_sorted_cmp(const void *x, const void *y)
{
	const struct text_sorted *a = x, *b = y;
	int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);

	return c ? c : (a->len > b->len) - (a->len < b->len);
}

/*
 * Analyse records recs[i] for i in keep[0..n) as docs 0..n-1 with rids
 * rids[], into a segment body.
 */
static int text_build_records(struct text *t,
			      const struct osa_record *const *recs,
			      const size_t *keep, const uint32_t *rids,
			      size_t n, unsigned char **body, size_t *len,
			      struct osa_error *err)
{
	struct text_batch bt;
	struct text_builder b;
	struct text_analyzer *a = &t->wa;
	struct text_bent *sorted = NULL;
	struct text_sorted *order = NULL;
	uint32_t *dl = calloc(n ? n : 1, sizeof(uint32_t)), *pos = NULL;
	size_t i, f, k, cappos = 0;
	int rc = 0;

	memset(&bt, 0, sizeof(bt));
	text_build_init(&b);
	if (!dl)
		goto nomem;
	for (i = 0; i < n; i++) {
		const struct osa_record *rec = recs[keep[i]];

		for (f = 0; f < t->nfield; f++) {
			const char *s;
			size_t sl;
			uint32_t pos0 =
				(uint32_t)f * (TEXT_MAX_POS + TEXT_FIELD_GAP);

			if (osa_record_string(rec, t->field[f], &s, &sl))
				continue; /* absent, null or not a string */
			text_analyzer_reset(a);
			rc = text_analyze(a, s, sl, true, pos0, NULL, err);
			if (rc) {
				osa_error_prefix(err, "record %s, field %s: ",
						 osa_record_srn(rec),
						 t->field[f]);
				goto out;
			}
			for (k = 0; k < a->ntok; k++) {
				const struct text_token *tk = &a->tok[k];
				long id;

				if (tk->pos - pos0 >= TEXT_MAX_POS)
					break;
				id = text_batch_term(&bt, a->buf + tk->off,
						     tk->len);
				if (id < 0)
					goto nomem;
				if (bt.nent == bt.capent) {
					size_t c = bt.capent ? bt.capent * 2
							     : 4096;
					struct text_bent *e =
						realloc(bt.ent, c * sizeof(*e));

					if (!e)
						goto nomem;
					bt.ent = e;
					bt.capent = c;
				}
				bt.ent[bt.nent++] = (struct text_bent){
					(uint32_t)id, (uint32_t)i, tk->pos,
					t->boost[f]
				};
				bt.term[id].count++;
				dl[i] += t->boost[f];
			}
		}
	}
	/* Group the tokens by term (stable: docs, then positions). */
	if (!(sorted = malloc((bt.nent ? bt.nent : 1) * sizeof(*sorted))) ||
	    !(order = malloc((bt.nterm ? bt.nterm : 1) * sizeof(*order))))
		goto nomem;
	for (i = 0, k = 0; i < bt.nterm; i++) {
		bt.term[i].start = (uint32_t)k;
		k += bt.term[i].count;
		bt.term[i].count = 0;
		order[i].p = bt.bytes.p + bt.term[i].off;
		order[i].len = bt.term[i].len;
		order[i].id = (uint32_t)i;
	}
	for (i = 0; i < bt.nent; i++) {
		struct text_bterm *tm = &bt.term[bt.ent[i].term];

		sorted[tm->start + tm->count++] = bt.ent[i];
	}
	if (bt.nterm)
		qsort(order, bt.nterm, sizeof(*order), text_sorted_cmp);
	for (i = 0; i < n; i++)
		text_build_doc(&b, dl[i], rids[i],
			       osa_record_srn(recs[keep[i]]));
	for (i = 0; i < bt.nterm; i++) {
		const struct text_bterm *tm = &bt.term[order[i].id];
		const struct text_bent *e = sorted + tm->start;
		size_t m = tm->count, j = 0;

		text_build_term(&b, (const char *)order[i].p, order[i].len);
		while (j < m) {
			uint32_t doc = e[j].doc, tf = 0;
			size_t np = 0;

			for (; j < m && e[j].doc == doc; j++) {
				if (np == cappos) {
					size_t c = cappos ? cappos * 2 : 64;
					uint32_t *p =
						realloc(pos, c * sizeof(*p));

					if (!p)
						goto nomem;
					pos = p;
					cappos = c;
				}
				pos[np++] = e[j].pos;
				tf += e[j].w;
			}
			text_build_posting(&b, doc, tf, pos, np);
		}
		text_build_term_end(&b);
	}
	rc = text_build_finish(&b, body, len, err);
	goto out;
nomem:
	rc = osa_error_set(err, OSA_ENOMEM,
			   "out of memory indexing a batch of %zu records", n);
out:
	text_build_free(&b);
	text_batch_free(&bt);
	free(sorted);
	free(order);
	free(dl);
	free(pos);
	return rc;
}

/* ---- writes -------------------------------------------------------------- */

/*
 * Set the rows of a published batch (alock held exclusively).  A row that
 * cannot be stored (out of memory: the types were checked before) is
 * cleared, so its record matches no filter, and health reports it until a
 * rebuild.
 */
static void text_attrs_set(struct text *t, const struct osa_record *const *recs,
			   const size_t *keep, const uint32_t *rids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct osa_error e = { 0 };

		if (!osa_attr_table_set(t->attrs, rids[i], recs[keep[i]], &e))
			continue;
		osa_attr_table_clear(t->attrs, rids[i]);
		t->attrs_lost++;
		snprintf(t->attrs_why, sizeof(t->attrs_why),
			 "the attributes of %zu record(s) could not be "
			 "stored (last: %.120s: %.120s); they match no filter "
			 "until the index is rebuilt (osa reindex %.64s)",
			 t->attrs_lost, osa_record_srn(recs[keep[i]]), e.msg,
			 t->index);
		osa_log(OSA_LOG_WARN, "index=%s backend=text %s", t->index,
			t->attrs_why);
	}
}

/* The slot of `v` holding segment `seg`. */
static size_t text_slot_of(const struct text_view *v,
			   const struct text_seg *seg)
{
	size_t i;

	for (i = 0; i < v->nseg; i++)
		if (v->slot[i].seg == seg)
			break;
	return i;
}

/*
 * A copy of the writer's view with room for `extra` more slots, sharing its
 * segments and bitmaps (references taken).
 */
static struct text_view *text_view_copy(const struct text_view *v, size_t extra)
{
	struct text_view *n = text_view_new(v->nseg + extra);
	size_t i;

	if (!n)
		return NULL;
	for (i = 0; i < v->nseg; i++) {
		n->slot[i] = v->slot[i];
		text_seg_ref(n->slot[i].seg);
		if (n->slot[i].del)
			atomic_fetch_add_explicit(&n->slot[i].del->ref, 1,
						  memory_order_relaxed);
	}
	n->nseg = v->nseg;
	n->nfile = v->nfile;
	return n;
}

/*
 * Mark document `doc` of slot `i` deleted in view `n`, copying the slot's
 * bitmap once (`own[i]` says it was already copied).  0 or OSA_ENOMEM.
 */
static int text_mark(struct text_view *n, bool *own, size_t i, uint32_t doc)
{
	struct text_slot *s = &n->slot[i];

	if (!own[i]) {
		struct text_bits *b = text_bits_new(s->seg->ndocs, s->del);

		if (!b)
			return OSA_ENOMEM;
		text_bits_unref(s->del);
		s->del = b;
		own[i] = true;
	}
	if (!text_bit(s->del->w, doc)) {
		s->del->w[doc >> 6] |= (uint64_t)1 << (doc & 63);
		s->del->ndel++;
		s->del->del_dl += s->seg->docs[doc].dl;
	}
	return 0;
}

/* Merge the memory slots [from, nseg) of `n` into one (dropping deleted
 * documents).  The result replaces them; 0 or an error. */
static int text_merge_mem(struct text_view *n, size_t from,
			  struct osa_error *err)
{
	size_t m = n->nseg - from, i;
	struct text_seg **segs = malloc(m * sizeof(*segs));
	const uint64_t **del = malloc(m * sizeof(*del));
	struct text_seg *out = NULL;
	unsigned char *body = NULL;
	size_t len;
	int rc;

	if (!segs || !del) {
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < m; i++) {
		segs[i] = n->slot[from + i].seg;
		del[i] =
			n->slot[from + i].del ? n->slot[from + i].del->w : NULL;
	}
	rc = text_merge(segs, del, m, &body, &len, err);
	if (!rc) {
		rc = text_seg_attach(body, len, 0, NULL, 0, &out, err);
		if (rc)
			free(body);
	}
	if (rc)
		goto done;
	for (i = from; i < n->nseg; i++) {
		text_seg_unref(n->slot[i].seg);
		text_bits_unref(n->slot[i].del);
	}
	n->nseg = from;
	if (out->ndocs) {
		n->slot[n->nseg].seg = out;
		n->slot[n->nseg].del = NULL;
		n->nseg++;
	} else {
		text_seg_unref(out);
	}
done:
	free(segs);
	free(del);
	return rc;
}

static unsigned text_tier(const struct text_slot *s)
{
	uint64_t live = s->seg->ndocs - (s->del ? s->del->ndel : 0);
	unsigned k = 0;

	while (live >= TEXT_MERGE_FACTOR) {
		live /= TEXT_MERGE_FACTOR;
		k++;
	}
	return k;
}

static bool text_is_new(struct text_seg *const *olds, size_t nold,
			const struct text_seg *s)
{
	size_t i;

	for (i = 0; i < nold; i++)
		if (olds[i] == s)
			return false;
	return true;
}

/* Take over view `n`: point rids at segments it has that `old` lacks. */
static void text_adopt_new(struct text *t, const struct text_view *old,
			   const struct text_view *n)
{
	struct text_seg *stack[64], **olds = stack;
	size_t i;

	if (old->nseg > 64 && !(olds = malloc(old->nseg * sizeof(*olds)))) {
		/* No memory for the fast path: adopt every segment (the
		 * result is the same, only slower). */
		for (i = 0; i < n->nseg; i++)
			text_adopt(t, n->slot[i].seg, n->slot[i].del);
		return;
	}
	for (i = 0; i < old->nseg; i++)
		olds[i] = old->slot[i].seg;
	for (i = 0; i < n->nseg; i++)
		if (text_is_new(olds, old->nseg, n->slot[i].seg))
			text_adopt(t, n->slot[i].seg, n->slot[i].del);
	if (olds != stack)
		free(olds);
}

static int text_ingest(void *self, const struct osa_record *const *recs,
		       size_t n, struct osa_error *err)
{
	struct text *t = self;
	struct text_view *old = t->view, *nv = NULL;
	struct osa_srnmap dup = { 0 };
	const char **bsrn = NULL;
	uint64_t *bh = NULL;
	size_t *keep = NULL, nkeep = 0, nfresh = 0, i, fi, nexti;
	uint32_t *rids = NULL;
	bool *own = NULL;
	unsigned char *body = NULL;
	size_t len;
	struct text_seg *seg = NULL;
	int rc = 0;

	if (!n)
		return 0;
	/* The last copy of an srn in the batch wins. */
	bsrn = malloc(n * sizeof(*bsrn));
	bh = malloc(n * sizeof(*bh));
	keep = malloc(n * sizeof(*keep));
	rids = malloc(n * sizeof(*rids));
	if (!bsrn || !bh || !keep || !rids || osa_srnmap_init(&dup, 2 * n))
		goto nomem;
	for (i = 0; i < n; i++) {
		size_t at;

		bsrn[i] = osa_record_srn(recs[i]);
		bh[i] = osa_srn_hash(bsrn[i]);
		at = osa_srnmap_slot(&dup, bsrn, bh, bsrn[i], bh[i]);
		if (dup.slot[at])
			bsrn[dup.slot[at] - 1] = NULL; /* superseded */
		dup.slot[at] = (uint32_t)i + 1;
	}
	/* Rids: the old one for a known srn, else a free or a new one. */
	fi = t->nfree;
	nexti = t->nrid;
	for (i = 0; i < n; i++) {
		long r;

		if (!bsrn[i])
			continue;
		keep[nkeep] = i;
		r = text_find_rid(t, bsrn[i], bh[i]);
		if (r < 0) {
			r = fi ? (long)t->freel[--fi] : (long)nexti++;
			nfresh++;
		}
		rids[nkeep++] = (uint32_t)r;
	}
	for (i = 0; i < nkeep && t->attrs; i++)
		if ((rc = osa_attrs_check(t->decl, recs[keep[i]], err))) {
			osa_error_prefix(err, "index %s: ", t->index);
			goto out;
		}
	if ((rc = text_reserve_rids(t, nexti + 1)) ||
	    (rc = osa_srnmap_reserve(&t->map, t->srns, t->hash, t->nrid,
				     (size_t)old->live + nfresh, false))) {
		rc = osa_error_set(err, rc,
				   rc == OSA_ELIMIT
					   ? "index %s: more than 2^31 records"
					   : "index %s: out of memory",
				   t->index);
		goto out;
	}
	rc = text_build_records(t, recs, keep, rids, nkeep, &body, &len, err);
	if (rc) {
		osa_error_prefix(err, "index %s: ", t->index);
		goto out;
	}
	rc = text_seg_attach(body, len, 0, NULL, 0, &seg, err);
	if (rc) {
		free(body);
		goto out;
	}
	/* The new view: old copies deleted, the new segment appended. */
	if (!(nv = text_view_copy(old, 1)) ||
	    !(own = calloc(old->nseg + 1, sizeof(*own))))
		goto nomem;
	for (i = 0; i < nkeep; i++) {
		uint32_t r = rids[i];

		if (r < t->nrid && t->srns[r] &&
		    (rc = text_mark(nv, own, text_slot_of(old, t->loc[r].seg),
				    t->loc[r].doc)))
			goto nomem;
	}
	nv->slot[nv->nseg].seg = seg;
	nv->slot[nv->nseg].del = NULL;
	nv->nseg++;
	seg = NULL;
	/* Memory segments merge in tiers. */
	while (nv->nseg - nv->nfile >= TEXT_MERGE_FACTOR) {
		size_t j = nv->nseg - 1, lim = text_tier(&nv->slot[j]);

		if (nv->nseg - nv->nfile > TEXT_MAX_MEM) {
			rc = text_merge_mem(nv, nv->nfile, err);
			break;
		}
		while (j > nv->nfile && text_tier(&nv->slot[j - 1]) <= lim)
			j--;
		if (nv->nseg - j < TEXT_MERGE_FACTOR)
			break;
		if ((rc = text_merge_mem(nv, j, err)))
			break;
	}
	if (rc) {
		osa_error_prefix(err, "index %s: ", t->index);
		goto out;
	}
	/* Nothing below fails.  Queries that read attributes wait for the
	 * rows and the view together. */
	if (t->attrs) {
		pthread_rwlock_wrlock(&t->alock);
		text_attrs_set(t, recs, keep, rids, nkeep);
	}
	text_adopt_new(t, old, nv);
	for (i = 0; i < nkeep; i++) {
		uint32_t r = rids[i];
		size_t at = osa_srnmap_slot(&t->map, t->srns, t->hash,
					    bsrn[keep[i]], bh[keep[i]]);

		t->hash[r] = bh[keep[i]];
		if (!t->map.slot[at]) {
			t->map.slot[at] = r + 1;
		}
	}
	t->nfree = fi;
	t->nrid = nexti;
	for (i = 0; i < nv->nfile; i++)
		if (own[i])
			t->dirty = true;
	text_publish(t, nv);
	if (t->attrs)
		pthread_rwlock_unlock(&t->alock);
	nv = NULL;
	goto out;
nomem:
	rc = osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
			   t->index);
out:
	text_seg_unref(seg);
	text_view_put(nv);
	osa_srnmap_free(&dup);
	free(bsrn);
	free(bh);
	free(keep);
	free(rids);
	free(own);
	return rc;
}

static int text_remove(void *self, const char *const *srns, size_t n,
		       struct osa_error *err)
{
	struct text *t = self;
	struct text_view *old = t->view, *nv = NULL;
	bool *own = NULL;
	size_t i;
	long *rid = malloc((n ? n : 1) * sizeof(*rid));

	if (!rid || !(nv = text_view_copy(old, 0)) ||
	    !(own = calloc(old->nseg + 1, sizeof(*own)))) {
		text_view_put(nv);
		free(rid);
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     t->index);
	}
	for (i = 0; i < n; i++) {
		rid[i] = text_find_rid(t, srns[i], osa_srn_hash(srns[i]));
		if (rid[i] >= 0 &&
		    text_mark(nv, own, text_slot_of(old, t->loc[rid[i]].seg),
			      t->loc[rid[i]].doc)) {
			text_view_put(nv);
			free(own);
			free(rid);
			return osa_error_set(err, OSA_ENOMEM,
					     "index %s: out of memory",
					     t->index);
		}
	}
	/* Nothing below fails: free the rids (duplicates only once). */
	if (t->attrs)
		pthread_rwlock_wrlock(&t->alock);
	for (i = 0; i < n; i++) {
		uint64_t h;
		size_t at;

		if (rid[i] < 0)
			continue;
		h = osa_srn_hash(srns[i]);
		at = osa_srnmap_slot(&t->map, t->srns, t->hash, srns[i], h);
		if (!t->map.slot[at])
			continue;
		osa_srnmap_delete(&t->map, t->hash, at);
		if (t->attrs)
			osa_attr_table_clear(t->attrs, (uint32_t)rid[i]);
		t->srns[rid[i]] = NULL;
		t->freel[t->nfree++] = (uint32_t)rid[i];
	}
	for (i = 0; i < nv->nfile; i++)
		if (own[i])
			t->dirty = true;
	text_publish(t, nv);
	if (t->attrs)
		pthread_rwlock_unlock(&t->alock);
	free(own);
	free(rid);
	return 0;
}

/* ---- reads -------------------------------------------------------------- */

/* A query with a filter or facets: the rows and the view of one state
 * (alock shared throughout).  Returns `a` to the pool. */
static int text_query_where(struct text *t, struct text_analyzer *a,
			    const struct osa_query *q, struct osa_hits *hits,
			    struct osa_error *err)
{
	struct text_where w = { NULL, 0, NULL };
	uint64_t *bits = NULL;
	struct text_view *v;
	int rc = 0;

	pthread_rwlock_rdlock(&t->alock);
	v = text_view_get(t);
	if (q->filter) {
		w.nallow = osa_attr_table_rows(t->attrs);
		if (!(bits = malloc(((w.nallow + 63) / 64 + 1) *
				    sizeof(*bits)))) {
			rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
			goto out;
		}
		osa_filter_bitmap(q->filter, t->attrs, bits,
				  (uint32_t)w.nallow);
		w.allow = bits;
	}
	if (q->nfacets &&
	    (rc = osa_facet_counter_new(t->attrs, q->facets, q->nfacets,
					q->facet_limit, &w.fc, err)))
		goto out;
	rc = text_search(v, a, &t->params, q->text, q->limit, q->offset, &w,
			 hits, err);
	if (!rc && w.fc) {
		rc = osa_facet_counter_finish(w.fc, &hits->facets, err);
		w.fc = NULL;
		hits->facets.estimated = false;
	}
out:
	text_view_put(v);
	pthread_rwlock_unlock(&t->alock);
	osa_facet_counter_free(w.fc);
	free(bits);
	text_pool_put(t, a);
	if (rc)
		osa_error_prefix(err, "index %s: ", t->index);
	return rc;
}

static int text_query(void *self, const struct osa_query *q,
		      struct osa_hits *hits, struct osa_error *err)
{
	struct text *t = self;
	struct text_analyzer *a;
	struct text_view *v;
	int rc;

	if (q->vector)
		return osa_error_set(err, OSA_ENOTSUP,
				     "index %s: backend \"text\" cannot answer "
				     "a vector query; send words in \"q\" "
				     "(or query a vector or flat index)",
				     t->index);
	if (!q->text)
		return osa_error_set(err, OSA_EINVAL,
				     "index %s: a text query needs words in "
				     "\"q\"",
				     t->index);
	if ((q->filter || q->nfacets) && !t->attrs)
		return osa_error_set(err, OSA_EINVAL,
				     "index %s: a filter or facets need "
				     "declared attributes; add `attributes` "
				     "to the index's configuration",
				     t->index);
	if (!(a = text_pool_get(t, err)))
		return osa_error_prefix(err, "index %s: ", t->index);
	if (q->filter || q->nfacets)
		return text_query_where(t, a, q, hits, err);
	v = text_view_get(t);
	rc = text_search(v, a, &t->params, q->text, q->limit, q->offset, NULL,
			 hits, err);
	text_view_put(v);
	text_pool_put(t, a);
	if (rc)
		osa_error_prefix(err, "index %s: ", t->index);
	return rc;
}

static int text_count(void *self, uint64_t *count)
{
	struct text *t = self;
	struct text_view *v = text_view_get(t);

	*count = v->live;
	text_view_put(v);
	return 0;
}

static int text_health(void *self, struct osa_error *err)
{
	struct text *t = self;
	int rc = 0;

	if (!t->attrs)
		return 0;
	pthread_rwlock_rdlock(&t->alock);
	if (t->attrs_lost)
		rc = osa_error_set(err, OSA_EDEGRADED, "index %s: %s", t->index,
				   t->attrs_why);
	pthread_rwlock_unlock(&t->alock);
	return rc;
}

/* ---- checkpoint ------------------------------------------------------- */

static int text_checkpoint(void *self, uint64_t lsn, struct osa_error *err)
{
	struct text *t = self;
	struct text_view *old = t->view, *nv = NULL;
	struct text_seg **in = NULL, *out = NULL;
	const uint64_t **del = NULL;
	size_t nin = 0, keep = 0, i;
	bool *merge = NULL, all;
	unsigned char *body = NULL;
	const unsigned char *wb = NULL;
	size_t len = 0;
	struct osa_snap_info info;
	struct text_mctx mc;
	void *abuf = NULL;
	uint64_t gen = 0;
	int rc = 0;

	merge = calloc(old->nseg + 1, sizeof(*merge));
	in = malloc((old->nseg + 1) * sizeof(*in));
	del = malloc((old->nseg + 1) * sizeof(*del));
	if (!merge || !in || !del)
		goto nomem;
	/* What merges: memory segments, files a fifth deleted, and every
	 * file when there would be too many. */
	for (i = 0; i < old->nseg; i++) {
		const struct text_slot *s = &old->slot[i];
		uint32_t nd = s->del ? s->del->ndel : 0;

		merge[i] = i >= old->nfile || (uint64_t)nd * 5 > s->seg->ndocs;
		keep += !merge[i];
	}
	all = keep + (old->nseg > old->nfile) > (size_t)t->max_segments;
	for (i = 0; i < old->nseg; i++) {
		if (all)
			merge[i] = true;
		if (!merge[i])
			continue;
		in[nin] = old->slot[i].seg;
		del[nin++] = old->slot[i].del ? old->slot[i].del->w : NULL;
	}
	if (nin == 1 && !del[0] && !in[0]->path) {
		/* One memory segment without deletes: written as it is. */
		wb = in[0]->body;
		len = in[0]->len;
	} else if (nin) {
		rc = text_merge(in, del, nin, &body, &len, err);
		if (rc)
			goto fail;
		wb = body;
	}
	if (nin) {
		if (((const uint32_t *)wb)[2]) { /* ndocs */
			gen = t->gen_next++;
			rc = text_write_seg(t, gen, wb, len,
					    ((const uint32_t *)wb)[2], lsn,
					    &out, err);
			if (rc)
				goto fail;
		}
	}
	if (!(nv = text_view_new(old->nseg + 1)))
		goto nomem;
	for (i = 0; i < old->nseg; i++) {
		if (merge[i])
			continue;
		nv->slot[nv->nseg] = old->slot[i];
		text_seg_ref(old->slot[i].seg);
		if (old->slot[i].del)
			atomic_fetch_add_explicit(&old->slot[i].del->ref, 1,
						  memory_order_relaxed);
		nv->nseg++;
	}
	if (out) {
		nv->slot[nv->nseg].seg = out;
		nv->slot[nv->nseg].del = NULL;
		nv->nseg++;
		out = NULL;
	}
	nv->nfile = nv->nseg;
	text_expect(t, &info);
	text_view_stats(nv);
	info.count = nv->live;
	info.lsn = lsn;
	mc.v = nv;
	mc.attrs = NULL;
	mc.alen = 0;
	/* The writer is the only one to change rows: no lock to read. */
	if (t->attrs &&
	    (rc = osa_attr_table_encode(t->attrs, &abuf, &mc.alen, err)))
		goto fail;
	mc.attrs = abuf;
	rc = osa_snap_save(t->manifest, &info, text_write_manifest, &mc, err);
	if (rc)
		goto fail;
	/* Committed.  Nothing below fails. */
	text_adopt_new(t, old, nv);
	t->dirty = false;
	text_publish(t, nv);
	nv = NULL;
	text_sweep(t, t->view);
	goto out;
nomem:
	rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
fail:
	if (nv && gen) {
		/* The new file is not listed: remove it. */
		char *p = text_seg_path(t, gen);

		if (p) {
			unlink(p);
			free(p);
		}
	}
	osa_error_prefix(err, "index %s: checkpoint failed: ", t->index);
out:
	if (out && out->path)
		unlink(out->path);
	text_seg_unref(out);
	text_view_put(nv);
	free(abuf);
	free(body);
	free(merge);
	free(in);
	free(del);
	return rc;
}

static void text_close(void *self)
{
	text_free(self);
}

static const struct osa_backend text_backend = {
	.abi = OSA_BACKEND_ABI,
	.size = sizeof(struct osa_backend),
	.name = "text",
	.doc = "BM25 keyword search: \"phrases\", prefix*, +required, "
	       "-excluded (utf8proc " TEXT_UTF8PROC_VERSION
	       ", Snowball libstemmer " TEXT_STEMMER_VERSION ")",
	.schema = &text_schema,
	.open = text_open,
	.ingest_batch = text_ingest,
	.remove = text_remove,
	.query = text_query,
	.count = text_count,
	.health = text_health,
	.checkpoint = text_checkpoint,
	.close = text_close,
	.caps = OSA_BACKEND_CAP_FILTER | OSA_BACKEND_CAP_FACETS,
};
OSA_BACKEND_REGISTER(text_backend);

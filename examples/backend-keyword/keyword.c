/* SPDX-License-Identifier: MIT */
/*
 * keyword.c - the `keyword` backend: an exact keyword index, the worked
 * example of docs/backend-guide.md.  Written only against <osa/...> headers
 * and the guide, and built out of tree against an installed SDK.
 *
 * What it does.  Each record's configured `fields` (top-level strings) are
 * cut into tokens: runs of ASCII letters and digits and of bytes >= 0x80
 * (so UTF-8 words stay whole), ASCII lower-cased, at most KEYWORD_TERM_MAX
 * bytes (longer runs are cut).  A query is cut the same way.  `match = "any"`
 * finds the records holding at least `min_terms` distinct query terms,
 * `match = "all"` those holding every one.  `score = "terms"` ranks by the
 * number of distinct query terms a record holds, `score = "tf"` by the sum
 * of their counts in the record; equal scores are ordered by srn.
 *
 * Memory layout (all guarded by `lock`, a writer-preferring rwlock: many
 * queries at once, one writer; the core already serialises writers):
 *   docs    position = document id; srns[id] NULL for a free id (kept in
 *           `free_ids` for reuse); each doc keeps its sorted (term id, tf)
 *           pairs so that removing it can take it out of the postings.
 *   terms   position = term id; each term has an unordered postings list
 *           of (doc id, tf).  Terms whose postings empty stay in the
 *           dictionary until the next open (checkpoint drops them).
 * Two osa_srnmap tables (osa/srnmap.h) find an srn's doc id and a term's id.
 *
 * All or nothing: ingest_batch tokenises and allocates everything it can
 * outside the lock, then reserves every array it will grow; only then does
 * it change the index, with steps that cannot fail.
 *
 * On disk: one file, `keyword.snap`, written at checkpoint through
 * osa/snapshot.h (temporary file, fsync, rename, directory fsync; checked
 * header and XXH3 checksums).  Its blob is "fields=<f1>,<f2>,...": a
 * snapshot built from other fields is refused with OSA_ECORRUPT (the core
 * quarantines the folder and rebuilds from the journal).  Body, version 1,
 * little-endian, one entry per live record:
 *   u32 srn length, srn bytes, u32 term count n,
 *   n x (u32 term length, term bytes, u32 tf)
 * Every length is checked against the bytes left before anything is
 * allocated.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osa/backend.h>
#include <osa/snapshot.h>
#include <osa/srnmap.h>
#include <osa/sys.h>

#define KEYWORD_TERM_MAX 64	    /* bytes of a token */
#define KEYWORD_SRN_MAX 4096	    /* longest srn read from a snapshot */
#define KEYWORD_BODY_VERSION 1u	    /* of keyword.snap's body */
#define KEYWORD_BLOB_FIELDS_MAX 160 /* "fields=" + names fit in the blob */

/* ---- configuration --------------------------------------------------- */

enum { KEYWORD_ANY, KEYWORD_ALL };
enum { KEYWORD_BY_TERMS, KEYWORD_BY_TF };

struct keyword_config {
	struct osa_strlist fields;
	int match;
	int score;
	int min_terms;
	int max_query_terms;
};

static const char *const keyword_default_fields[] = { "title", "summary",
						      NULL };
static const char *const keyword_matches[] = { "any", "all", NULL };
static const char *const keyword_scores[] = { "terms", "tf", NULL };

/* Rules across keys, after the table's own checks. */
static void keyword_check(void *cfg, struct osa_check *chk)
{
	struct keyword_config *c = cfg;
	size_t i, len = 0;

	for (i = 0; i < c->fields.n; i++)
		len += strlen(c->fields.v[i]) + 1;
	if (len > KEYWORD_BLOB_FIELDS_MAX)
		osa_check_error(chk, "fields",
				"the field names take %zu bytes together, at "
				"most %d: use fewer or shorter fields",
				len, KEYWORD_BLOB_FIELDS_MAX);
	if (c->min_terms > c->max_query_terms)
		osa_check_error(chk, "min_terms",
				"min_terms (%d) is more than max_query_terms "
				"(%d): no query could match",
				c->min_terms, c->max_query_terms);
}

static const struct osa_field keyword_fields[] = {
	OSA_FIELD_STRLIST_F(struct keyword_config, fields, "fields",
			    OSA_F_STORED, keyword_default_fields, 1, 16,
			    "Top-level string members of a record to index "
			    "(changing them rebuilds the index)."),
	OSA_FIELD_ENUM(struct keyword_config, match, "match", KEYWORD_ANY,
		       keyword_matches,
		       "any: records holding at least min_terms of the query's "
		       "terms; all: records holding every term."),
	OSA_FIELD_ENUM(struct keyword_config, score, "score", KEYWORD_BY_TERMS,
		       keyword_scores,
		       "terms: rank by distinct query terms found; tf: by how "
		       "often they occur."),
	OSA_FIELD_INT(struct keyword_config, min_terms, "min_terms", 1, 1, 64,
		      "With match = \"any\": query terms a hit must hold."),
	OSA_FIELD_INT(struct keyword_config, max_query_terms, "max_query_terms",
		      32, 1, 256,
		      "Refuse queries with more distinct terms than this."),
	OSA_FIELD_END
};

static const struct osa_schema keyword_schema = {
	.name = "keyword",
	.size = sizeof(struct keyword_config),
	.fields = keyword_fields,
	.check = keyword_check,
};

/* ---- small helpers --------------------------------------------------- */

/* Resize array `a` to `n` elements; on failure `a` is unchanged and `rc`
 * becomes OSA_ENOMEM.  Skipped when `rc` is already set. */
#define KEYWORD_RESIZE(a, n, rc)                                               \
	do {                                                                   \
		void *q_ = (rc) ? NULL : realloc((a), (n) * sizeof(*(a)));     \
		if (q_)                                                        \
			(a) = q_;                                              \
		else                                                           \
			(rc) = OSA_ENOMEM;                                     \
	} while (0)

/* A capacity of at least `want`, doubling from `cap`. */
static size_t keyword_cap(size_t cap, size_t want)
{
	size_t c = cap ? cap : 16;

	while (c < want)
		c *= 2;
	return c;
}

static void keyword_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t keyword_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* ---- tokens ---------------------------------------------------------- */

static int keyword_is_word(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* The next token of [*p, end) into `out` (lower-cased, NUL-terminated);
 * advances *p past it.  Its length, 0 at the end of the text. */
static size_t keyword_next(const char **p, const char *end, char *out)
{
	const unsigned char *s = (const unsigned char *)*p;
	const unsigned char *e = (const unsigned char *)end;
	size_t n = 0;

	while (s < e && !keyword_is_word(*s))
		s++;
	for (; s < e && keyword_is_word(*s); s++)
		if (n < KEYWORD_TERM_MAX)
			out[n++] =
				(char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
	out[n] = '\0';
	*p = (const char *)s;
	return n;
}

/* The distinct terms of some text with their counts, sorted by term. */
struct keyword_bag {
	char **t;
	uint64_t *h;  /* osa_srn_hash() of each term */
	uint32_t *tf; /* occurrences */
	uint32_t *id; /* term ids, set under the lock */
	size_t n, cap;
};

static void keyword_bag_free(struct keyword_bag *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->t[i]);
	free(b->t);
	free(b->h);
	free(b->tf);
	free(b->id);
	memset(b, 0, sizeof(*b));
}

/* Append the tokens of text[0..len) (duplicates kept until _seal). */
static int keyword_bag_text(struct keyword_bag *b, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	char tok[KEYWORD_TERM_MAX + 1];
	int rc = 0;

	while (!rc && keyword_next(&p, end, tok)) {
		if (b->n == b->cap) {
			size_t cap = keyword_cap(b->cap, b->n + 1);

			KEYWORD_RESIZE(b->t, cap, rc);
			if (rc)
				break;
			b->cap = cap;
		}
		if (!(b->t[b->n] = strdup(tok)))
			rc = OSA_ENOMEM;
		else
			b->n++;
	}
	return rc;
}

static int keyword_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort, merge duplicates into counts, hash.  0 or OSA_ENOMEM. */
static int keyword_bag_seal(struct keyword_bag *b)
{
	size_t i, out = 0, n = b->n ? b->n : 1;

	b->h = malloc(n * sizeof(*b->h));
	b->tf = malloc(n * sizeof(*b->tf));
	b->id = malloc(n * sizeof(*b->id));
	if (!b->h || !b->tf || !b->id)
		return OSA_ENOMEM;
	if (b->n)
		qsort(b->t, b->n, sizeof(*b->t), keyword_strcmp);
	for (i = 0; i < b->n; i++) {
		if (out && !strcmp(b->t[out - 1], b->t[i])) {
			b->tf[out - 1]++;
			free(b->t[i]);
			continue;
		}
		b->t[out] = b->t[i];
		b->tf[out] = 1;
		b->h[out++] = osa_srn_hash(b->t[i]);
	}
	b->n = out;
	return 0;
}

/* ---- the instance ---------------------------------------------------- */

struct keyword_doc {
	uint32_t *term; /* its distinct term ids */
	uint32_t *tf;	/* and their counts */
	uint32_t n;
};

struct keyword_postings {
	uint32_t *doc; /* doc ids holding the term, unordered */
	uint32_t *tf;
	size_t n, cap;
	size_t pend; /* scratch of keyword_reserve() */
};

struct keyword {
	char *index;
	char *snap_path;
	const struct keyword_config *cfg;
	struct osa_snap_info info; /* kind, body version, blob of our files */
	pthread_rwlock_t lock;	   /* guards everything below but hmu/why */

	/* documents: position = doc id */
	char **srns;	 /* NULL: a free id */
	uint64_t *shash; /* osa_srn_hash(srns[id]) */
	struct keyword_doc *docs;
	uint32_t *free_ids;
	size_t ndocs, dcap; /* ids used (live or free), allocated */
	size_t nfree, live;
	struct osa_srnmap docmap; /* srn -> doc id */

	/* terms: position = term id */
	char **terms;
	uint64_t *thash;
	struct keyword_postings *post;
	size_t nterms, tcap;
	struct osa_srnmap termmap; /* term -> term id */

	/* The last checkpoint's failure for health ("" when fine); its own
	 * lock, as health runs beside a checkpoint. */
	pthread_mutex_t hmu;
	char why[OSA_ERROR_MSG_MAX];
};

/* One record on its way in. */
struct keyword_prep {
	char *srn;
	uint64_t h;
	struct keyword_bag bag;
	struct keyword_doc doc; /* arrays allocated before the lock */
};

static void keyword_prep_free(struct keyword_prep *p)
{
	free(p->srn);
	keyword_bag_free(&p->bag);
	free(p->doc.term);
	free(p->doc.tf);
	memset(p, 0, sizeof(*p));
}

/* A prep's arrays, once its bag is sealed.  0 or OSA_ENOMEM. */
static int keyword_prep_arrays(struct keyword_prep *p)
{
	size_t n = p->bag.n ? p->bag.n : 1;

	p->h = osa_srn_hash(p->srn);
	p->doc.term = malloc(n * sizeof(*p->doc.term));
	p->doc.tf = malloc(n * sizeof(*p->doc.tf));
	if (!p->doc.term || !p->doc.tf)
		return OSA_ENOMEM;
	memcpy(p->doc.tf, p->bag.tf, p->bag.n * sizeof(*p->doc.tf));
	p->doc.n = (uint32_t)p->bag.n;
	return 0;
}

static long keyword_term_id(const struct keyword *k, const char *t, uint64_t h)
{
	return osa_srnmap_find(&k->termmap, (const char *const *)k->terms,
			       k->thash, t, h);
}

/*
 * Make room for `n` preps: doc ids, table slots, their new terms (added to
 * the dictionary with empty postings, which no reader can tell from
 * absent ones) and postings entries.  Fills each prep's term ids.  Write
 * lock held.  0 or OSA_ENOMEM, with the index unchanged as far as a query
 * can see.
 */
static int keyword_reserve(struct keyword *k, struct keyword_prep *pr, size_t n)
{
	size_t i, j, nt = 0;
	int rc = 0;

	if (k->ndocs + n > k->dcap) {
		size_t cap = keyword_cap(k->dcap, k->ndocs + n);

		KEYWORD_RESIZE(k->srns, cap, rc);
		KEYWORD_RESIZE(k->shash, cap, rc);
		KEYWORD_RESIZE(k->docs, cap, rc);
		KEYWORD_RESIZE(k->free_ids, cap, rc);
		if (rc)
			return rc;
		k->dcap = cap;
	}
	if (osa_srnmap_reserve(&k->docmap, (const char *const *)k->srns,
			       k->shash, k->ndocs, k->live + n, false))
		return OSA_ENOMEM;
	for (i = 0; i < n; i++)
		nt += pr[i].bag.n;
	if (k->nterms + nt > k->tcap) {
		size_t cap = keyword_cap(k->tcap, k->nterms + nt);

		KEYWORD_RESIZE(k->terms, cap, rc);
		KEYWORD_RESIZE(k->thash, cap, rc);
		KEYWORD_RESIZE(k->post, cap, rc);
		if (rc)
			return rc;
		k->tcap = cap;
	}
	if (osa_srnmap_reserve(&k->termmap, (const char *const *)k->terms,
			       k->thash, k->nterms, k->nterms + nt, false))
		return OSA_ENOMEM;
	for (i = 0; i < n && !rc; i++)
		for (j = 0; j < pr[i].bag.n && !rc; j++) {
			const char *t = pr[i].bag.t[j];
			uint64_t h = pr[i].bag.h[j];
			long id = keyword_term_id(k, t, h);

			if (id < 0) {
				size_t at = osa_srnmap_slot(
					&k->termmap,
					(const char *const *)k->terms, k->thash,
					t, h);
				char *copy = strdup(t);

				if (!copy) {
					rc = OSA_ENOMEM;
					break;
				}
				id = (long)k->nterms++;
				k->terms[id] = copy;
				k->thash[id] = h;
				memset(&k->post[id], 0, sizeof(k->post[id]));
				k->termmap.slot[at] = (uint32_t)id + 1;
			}
			pr[i].doc.term[j] = (uint32_t)id;
			k->post[id].pend++;
		}
	if (rc) {
		for (j = 0; j < k->nterms; j++)
			k->post[j].pend = 0;
		return rc;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < pr[i].bag.n; j++) {
			struct keyword_postings *p =
				&k->post[pr[i].doc.term[j]];

			if (!rc && p->pend && p->n + p->pend > p->cap) {
				size_t cap =
					keyword_cap(p->cap, p->n + p->pend);

				KEYWORD_RESIZE(p->doc, cap, rc);
				KEYWORD_RESIZE(p->tf, cap, rc);
				if (!rc)
					p->cap = cap;
			}
			p->pend = 0;
		}
	return rc;
}

/* Take doc `id` out of the index.  Cannot fail.  Write lock held. */
static void keyword_drop(struct keyword *k, uint32_t id)
{
	struct keyword_doc *d = &k->docs[id];
	uint32_t i;
	size_t j;

	for (i = 0; i < d->n; i++) {
		struct keyword_postings *p = &k->post[d->term[i]];

		for (j = 0; j < p->n; j++)
			if (p->doc[j] == id) {
				p->doc[j] = p->doc[p->n - 1];
				p->tf[j] = p->tf[p->n - 1];
				p->n--;
				break;
			}
	}
	free(d->term);
	free(d->tf);
	memset(d, 0, sizeof(*d));
	osa_srnmap_delete(&k->docmap, k->shash,
			  osa_srnmap_slot(&k->docmap,
					  (const char *const *)k->srns,
					  k->shash, k->srns[id], k->shash[id]));
	free(k->srns[id]);
	k->srns[id] = NULL;
	k->free_ids[k->nfree++] = id;
	k->live--;
}

/*
 * Put `n` reserved preps in (the later of two equal srns wins).  Cannot
 * fail; takes ownership of each prep's srn and doc arrays.  Write lock.
 */
static void keyword_apply(struct keyword *k, struct keyword_prep *pr, size_t n)
{
	size_t i, at;
	uint32_t j, id;

	for (i = 0; i < n; i++) {
		long old = osa_srnmap_find(&k->docmap,
					   (const char *const *)k->srns,
					   k->shash, pr[i].srn, pr[i].h);

		if (old >= 0)
			keyword_drop(k, (uint32_t)old);
		id = k->nfree ? k->free_ids[--k->nfree] : (uint32_t)k->ndocs++;
		k->srns[id] = pr[i].srn;
		k->shash[id] = pr[i].h;
		k->docs[id] = pr[i].doc;
		for (j = 0; j < pr[i].doc.n; j++) {
			struct keyword_postings *p =
				&k->post[pr[i].doc.term[j]];

			p->doc[p->n] = id;
			p->tf[p->n++] = pr[i].doc.tf[j];
		}
		at = osa_srnmap_slot(&k->docmap, (const char *const *)k->srns,
				     k->shash, pr[i].srn, pr[i].h);
		k->docmap.slot[at] = id + 1;
		k->live++;
		pr[i].srn = NULL;
		memset(&pr[i].doc, 0, sizeof(pr[i].doc));
	}
}

/* Reserve then apply, under the write lock.  0 or OSA_ENOMEM. */
static int keyword_insert(struct keyword *k, struct keyword_prep *pr, size_t n)
{
	int rc;

	pthread_rwlock_wrlock(&k->lock);
	rc = keyword_reserve(k, pr, n);
	if (!rc)
		keyword_apply(k, pr, n);
	pthread_rwlock_unlock(&k->lock);
	return rc;
}

/* ---- methods --------------------------------------------------------- */

static int keyword_ingest(void *self, const struct osa_record *const *recs,
			  size_t n, struct osa_error *err)
{
	struct keyword *k = self;
	struct keyword_prep *pr = calloc(n ? n : 1, sizeof(*pr));
	size_t i, f;
	int rc = 0;

	if (!pr)
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     k->index);
	/* Everything that can fail about a record, before the lock. */
	for (i = 0; i < n && !rc; i++) {
		const char *srn = osa_record_srn(recs[i]);

		for (f = 0; f < k->cfg->fields.n && !rc; f++) {
			const char *name = k->cfg->fields.v[f], *s;
			size_t len;
			int got = osa_record_string(recs[i], name, &s, &len);

			if (got == OSA_ETYPE)
				rc = osa_error_set(
					err, OSA_ETYPE,
					"index %s: record %s: field \"%s\" is "
					"not a string; the keyword backend "
					"indexes string fields only (fix the "
					"record or the index's fields)",
					k->index, srn, name);
			else if (!got)
				rc = keyword_bag_text(&pr[i].bag, s, len);
		}
		if (!rc && (!(pr[i].srn = strdup(srn)) ||
			    keyword_bag_seal(&pr[i].bag) ||
			    keyword_prep_arrays(&pr[i])))
			rc = OSA_ENOMEM;
	}
	if (!rc)
		rc = keyword_insert(k, pr, n);
	if (rc == OSA_ENOMEM)
		osa_error_set(err, rc,
			      "index %s: out of memory ingesting %zu records",
			      k->index, n);
	for (i = 0; i < n; i++)
		keyword_prep_free(&pr[i]);
	free(pr);
	return rc;
}

static int keyword_remove(void *self, const char *const *srns, size_t n,
			  struct osa_error *err)
{
	struct keyword *k = self;
	size_t i;

	(void)err;
	pthread_rwlock_wrlock(&k->lock);
	for (i = 0; i < n; i++) {
		long id = osa_srnmap_find(
			&k->docmap, (const char *const *)k->srns, k->shash,
			srns[i], osa_srn_hash(srns[i]));

		if (id >= 0)
			keyword_drop(k, (uint32_t)id);
	}
	pthread_rwlock_unlock(&k->lock);
	return 0;
}

struct keyword_hit {
	uint32_t doc;
	uint32_t terms; /* distinct query terms found */
	uint64_t tf;	/* their total count */
	double score;
	const char *srn;
};

static int keyword_hit_cmp(const void *a, const void *b)
{
	const struct keyword_hit *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return strcmp(x->srn, y->srn);
}

static int keyword_query(void *self, const struct osa_query *q,
			 struct osa_hits *hits, struct osa_error *err)
{
	struct keyword *k = self;
	struct keyword_bag bag = { 0 };
	struct keyword_hit *acc = NULL;
	uint32_t *slot = NULL; /* doc id -> 1 + index in acc, 0: none */
	size_t nacc = 0, ntotal = 0, i, j, need;
	int rc;

	if (!q->text)
		return osa_error_set(err, OSA_ENOTSUP,
				     "index %s: backend \"keyword\" answers "
				     "text queries; this query brings only a "
				     "vector",
				     k->index);
	if ((rc = keyword_bag_text(&bag, q->text, strlen(q->text))) ||
	    (rc = keyword_bag_seal(&bag))) {
		keyword_bag_free(&bag);
		return osa_error_set(err, rc, "index %s: out of memory",
				     k->index);
	}
	if (!bag.n) {
		keyword_bag_free(&bag);
		return osa_error_set(err, OSA_ENOFEATURES,
				     "index %s: the query has no words to "
				     "look up",
				     k->index);
	}
	if (bag.n > (size_t)k->cfg->max_query_terms) {
		rc = osa_error_set(err, OSA_EINVAL,
				   "index %s: the query has %zu distinct "
				   "terms, more than max_query_terms (%d); "
				   "shorten it or raise max_query_terms",
				   k->index, bag.n, k->cfg->max_query_terms);
		keyword_bag_free(&bag);
		return rc;
	}
	need = k->cfg->match == KEYWORD_ALL ? bag.n : (size_t)k->cfg->min_terms;
	pthread_rwlock_rdlock(&k->lock);
	slot = calloc(k->ndocs ? k->ndocs : 1, sizeof(*slot));
	acc = malloc((k->live ? k->live : 1) * sizeof(*acc));
	rc = slot && acc ? 0 : OSA_ENOMEM;
	for (i = 0; i < bag.n && !rc; i++) {
		long t = keyword_term_id(k, bag.t[i], bag.h[i]);
		const struct keyword_postings *p;

		if (t < 0)
			continue;
		p = &k->post[t];
		for (j = 0; j < p->n; j++) {
			uint32_t d = p->doc[j];

			if (!slot[d]) {
				acc[nacc] = (struct keyword_hit){
					.doc = d, .srn = k->srns[d]
				};
				slot[d] = (uint32_t)++nacc;
			}
			acc[slot[d] - 1].terms++;
			acc[slot[d] - 1].tf += p->tf[j];
		}
	}
	for (i = 0; i < nacc && !rc; i++) {
		if (acc[i].terms < need)
			continue;
		acc[ntotal] = acc[i];
		acc[ntotal].score = k->cfg->score == KEYWORD_BY_TF
					    ? (double)acc[i].tf
					    : (double)acc[i].terms;
		ntotal++;
	}
	if (!rc) {
		qsort(acc, ntotal, sizeof(*acc), keyword_hit_cmp);
		for (i = q->offset;
		     i < ntotal && i - q->offset < q->limit && !rc; i++)
			rc = osa_hits_push(hits, acc[i].srn, acc[i].score);
		hits->total = ntotal;
	}
	pthread_rwlock_unlock(&k->lock);
	free(slot);
	free(acc);
	keyword_bag_free(&bag);
	return rc ? osa_error_set(err, rc, "index %s: out of memory", k->index)
		  : 0;
}

static int keyword_count(void *self, uint64_t *count)
{
	struct keyword *k = self;

	pthread_rwlock_rdlock(&k->lock);
	*count = k->live;
	pthread_rwlock_unlock(&k->lock);
	return 0;
}

static int keyword_health(void *self, struct osa_error *err)
{
	struct keyword *k = self;
	int rc = 0;

	pthread_mutex_lock(&k->hmu);
	if (k->why[0])
		rc = osa_error_set(err, OSA_EIO, "%s", k->why);
	pthread_mutex_unlock(&k->hmu);
	return rc;
}

/* ---- checkpoint and load --------------------------------------------- */

/* Write a u32 length and the bytes of `s`. */
static int keyword_write_str(struct osa_snap_writer *w, const char *s,
			     struct osa_error *err)
{
	unsigned char lb[4];
	size_t len = strlen(s);
	int rc;

	keyword_put32(lb, (uint32_t)len);
	rc = osa_snap_write(w, lb, 4, err);
	return rc ? rc : osa_snap_write(w, s, len, err);
}

static int keyword_body(void *ctx, struct osa_snap_writer *w,
			struct osa_error *err)
{
	struct keyword *k = ctx;
	unsigned char b[4];
	size_t id;
	uint32_t i;
	int rc = 0;

	for (id = 0; id < k->ndocs && !rc; id++) {
		const struct keyword_doc *d = &k->docs[id];

		if (!k->srns[id])
			continue;
		rc = keyword_write_str(w, k->srns[id], err);
		keyword_put32(b, d->n);
		if (!rc)
			rc = osa_snap_write(w, b, 4, err);
		for (i = 0; i < d->n && !rc; i++) {
			rc = keyword_write_str(w, k->terms[d->term[i]], err);
			keyword_put32(b, d->tf[i]);
			if (!rc)
				rc = osa_snap_write(w, b, 4, err);
		}
	}
	return rc;
}

static int keyword_checkpoint(void *self, uint64_t lsn, struct osa_error *err)
{
	struct keyword *k = self;
	struct osa_snap_info info = k->info;
	int rc;

	/* Shared: queries go on; the core runs no writer meanwhile. */
	pthread_rwlock_rdlock(&k->lock);
	info.count = k->live;
	info.lsn = lsn;
	rc = osa_snap_save(k->snap_path, &info, keyword_body, k, err);
	pthread_rwlock_unlock(&k->lock);
	if (rc)
		osa_error_prefix(err,
				 "index %s: checkpoint failed: ", k->index);
	pthread_mutex_lock(&k->hmu);
	snprintf(k->why, sizeof(k->why), "%s",
		 !rc   ? ""
		 : err ? err->msg
		       : "checkpoint failed");
	pthread_mutex_unlock(&k->hmu);
	return rc;
}

/* Read a u32 length and that many bytes (1..max) as a new string. */
static int keyword_read_str(struct osa_snap_reader *r, size_t max, char **out,
			    const char *what, struct osa_error *err)
{
	unsigned char lb[4];
	uint32_t len;
	int rc;

	*out = NULL;
	if ((rc = osa_snap_read(r, lb, 4, err)))
		return rc;
	len = keyword_get32(lb);
	if (!len || len > max || len > osa_snap_remaining(r))
		return osa_snap_corrupt(r, err, "bad %s length %u", what, len);
	if (!(*out = malloc((size_t)len + 1)))
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	if ((rc = osa_snap_read(r, *out, len, err))) {
		free(*out);
		*out = NULL;
		return rc;
	}
	(*out)[len] = '\0';
	if (strlen(*out) != len) {
		free(*out);
		*out = NULL;
		return osa_snap_corrupt(r, err, "a %s holds a NUL byte", what);
	}
	return 0;
}

/* One record of the body into `p`, as keyword_ingest prepares one. */
static int keyword_read_doc(struct osa_snap_reader *r, struct keyword_prep *p,
			    struct osa_error *err)
{
	struct keyword_bag *b = &p->bag;
	unsigned char lb[4];
	uint32_t n, i;
	int rc;

	if ((rc = keyword_read_str(r, KEYWORD_SRN_MAX, &p->srn, "srn", err)) ||
	    (rc = osa_snap_read(r, lb, 4, err)))
		return rc;
	n = keyword_get32(lb);
	/* A term takes at least 9 bytes: check before allocating. */
	if (n > osa_snap_remaining(r) / 9)
		return osa_snap_corrupt(
			r, err, "record %s: %u terms do not fit", p->srn, n);
	b->cap = n ? n : 1;
	b->t = calloc(b->cap, sizeof(*b->t));
	b->h = malloc(b->cap * sizeof(*b->h));
	b->tf = malloc(b->cap * sizeof(*b->tf));
	b->id = malloc(b->cap * sizeof(*b->id));
	if (!b->t || !b->h || !b->tf || !b->id)
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if ((rc = keyword_read_str(r, KEYWORD_TERM_MAX, &b->t[i],
					   "term", err)))
			return rc;
		b->n = i + 1;
		if ((rc = osa_snap_read(r, lb, 4, err)))
			return rc;
		b->tf[i] = keyword_get32(lb);
		b->h[i] = osa_srn_hash(b->t[i]);
		if (!b->tf[i])
			return osa_snap_corrupt(r, err,
						"record %s: a term counted 0 "
						"times",
						p->srn);
		/* Sorted and distinct, as keyword_bag_seal() leaves them. */
		if (i && strcmp(b->t[i - 1], b->t[i]) >= 0)
			return osa_snap_corrupt(r, err,
						"record %s: terms out of order",
						p->srn);
	}
	if (keyword_prep_arrays(p))
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	return 0;
}

/* Load keyword.snap, if any.  *lsn: what it covers (0 without one). */
static int keyword_load(struct keyword *k, uint64_t *lsn, struct osa_error *err)
{
	struct osa_snap_reader *r;
	struct osa_snap_info got;
	struct keyword_prep p;
	uint64_t i;
	int rc;

	*lsn = 0;
	rc = osa_snap_open(k->snap_path, &k->info, &r, &got, err);
	if (rc == OSA_ENOTFOUND) {
		osa_error_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	for (i = 0; i < got.count && !rc; i++) {
		memset(&p, 0, sizeof(p));
		rc = keyword_read_doc(r, &p, err);
		if (!rc) {
			pthread_rwlock_wrlock(&k->lock);
			if (osa_srnmap_find(&k->docmap,
					    (const char *const *)k->srns,
					    k->shash, p.srn, p.h) >= 0)
				rc = osa_snap_corrupt(
					r, err, "srn %s appears twice", p.srn);
			pthread_rwlock_unlock(&k->lock);
		}
		if (!rc && keyword_insert(k, &p, 1))
			rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		keyword_prep_free(&p);
	}
	if (rc) {
		osa_snap_close(r, NULL);
		return rc;
	}
	if ((rc = osa_snap_close(r, err))) /* bytes left over */
		return rc;
	*lsn = got.lsn;
	return 0;
}

/* ---- open and close -------------------------------------------------- */

static void keyword_close(void *self)
{
	struct keyword *k = self;
	size_t i;

	for (i = 0; i < k->ndocs; i++) {
		free(k->srns[i]);
		free(k->docs[i].term);
		free(k->docs[i].tf);
	}
	for (i = 0; i < k->nterms; i++) {
		free(k->terms[i]);
		free(k->post[i].doc);
		free(k->post[i].tf);
	}
	free(k->srns);
	free(k->shash);
	free(k->docs);
	free(k->free_ids);
	free(k->terms);
	free(k->thash);
	free(k->post);
	osa_srnmap_free(&k->docmap);
	osa_srnmap_free(&k->termmap);
	pthread_rwlock_destroy(&k->lock);
	pthread_mutex_destroy(&k->hmu);
	free(k->index);
	free(k->snap_path);
	free(k);
}

static int keyword_open(const struct osa_backend_args *args, void **self,
			uint64_t *lsn, struct osa_error *err)
{
	struct keyword *k = calloc(1, sizeof(*k));
	char blob[OSA_SNAP_BLOB_MAX + 1];
	size_t i, n;
	int rc;

	*self = NULL;
	if (!k)
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     args->index);
	k->cfg = args->config;
	osa_rwlock_init(&k->lock);
	pthread_mutex_init(&k->hmu, NULL);
	k->index = strdup(args->index);
	if (!k->index ||
	    asprintf(&k->snap_path, "%s/keyword.snap", args->dir) < 0) {
		k->snap_path = NULL;
		keyword_close(k);
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     args->index);
	}
	if (osa_srnmap_init(&k->docmap, 16) ||
	    osa_srnmap_init(&k->termmap, 16)) {
		keyword_close(k);
		return osa_error_set(err, OSA_ENOMEM, "index %s: out of memory",
				     args->index);
	}
	/* The header of our snapshots: the blob names the fields indexed
	 * (keyword_check keeps it short enough). */
	n = 0;
	blob[0] = '\0';
	for (i = 0; i < k->cfg->fields.n; i++)
		n += (size_t)snprintf(blob + n, sizeof(blob) - n, "%s%s",
				      i ? "," : "", k->cfg->fields.v[i]);
	snprintf(k->info.kind, sizeof(k->info.kind), "keyword");
	k->info.body_version = KEYWORD_BODY_VERSION;
	if ((rc = osa_snap_set_blob(&k->info, err, "fields=%s", blob))) {
		keyword_close(k);
		return rc;
	}
	if ((rc = keyword_load(k, lsn, err))) {
		osa_error_prefix(err, "index %s: ", args->index);
		keyword_close(k);
		return rc;
	}
	*self = k;
	return 0;
}

static const struct osa_backend keyword_backend = {
	.abi = OSA_BACKEND_ABI,
	.size = sizeof(struct osa_backend),
	.name = "keyword",
	.doc = "exact keyword index: records holding the query's terms, "
	       "ranked by terms found or their counts",
	.schema = &keyword_schema,
	.open = keyword_open,
	.ingest_batch = keyword_ingest,
	.remove = keyword_remove,
	.query = keyword_query,
	.count = keyword_count,
	.health = keyword_health,
	.checkpoint = keyword_checkpoint,
	.close = keyword_close,
};
OSA_BACKEND_REGISTER(keyword_backend);

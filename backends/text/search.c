/* SPDX-License-Identifier: MIT */
/*
 * search.c - queries of the `text` backend.
 *
 * Syntax (`q` of a text index): words separated by white space are OR-ed;
 * "a phrase" matches its words in order (positions, stopwords keep their
 * place); word* matches every term starting with word (unstemmed; the
 * TEXT_MAX_EXPANSIONS most frequent such terms); +word or +"phrase" is
 * required, -word or -"phrase" excluded.  A word that analysis splits in
 * several tokens (e-mail) is a phrase.
 *
 * Ranking: BM25 with the index's k1 and b,
 *   score(d) = sum over query terms t in d of
 *              idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
 *   idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))
 * N and avgdl over the live documents, df summed over the segments (a
 * deleted document still counts in df until its segment is merged, as in
 * Lucene).  Field boosts scale tf and dl (stored times TEXT_TF_SCALE).  A
 * document's score is summed in query-term order, so it does not depend on
 * how documents are spread over segments.  Ties: smaller srn first.
 *
 * Evaluation: a pure OR of words (the common case) runs MaxScore with
 * block-max bounds: lists sorted by their upper bound, the lists whose
 * bounds together cannot reach the current k-th score are only probed,
 * with each probed list's bound tightened to the block that holds the
 * candidate.  `total` is still exact: a separate pass marks the matching
 * documents in a bitmap from the doc ids alone (no scoring).  Queries with
 * phrases, + or - are evaluated document at a time (a phrase's lists
 * leapfrog to the documents holding all its words before positions are
 * compared).
 *
 * Filters (struct text_where): a document the filter rejects is passed
 * over exactly like a deleted one, wherever deletions are checked: it
 * never enters the heap, so the MaxScore threshold only rises on documents
 * that may match and pruning stays exact; it is not counted in `total`.
 * Facets count the record id of every match where `total` counts it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define TEXT_MAX_EXPANSIONS 64
#define TEXT_MAX_CLAUSES 256

enum { CL_SHOULD, CL_MUST, CL_NOT };

struct qterm {
	char *s;
	size_t len;
	uint64_t df;
	double w;
};

struct cref {
	uint32_t qt;
	uint32_t off; /* position within a phrase */
};

struct clause {
	int mod;
	bool phrase;
	size_t r0, nr; /* refs */
};

struct query {
	struct qterm *qt;
	size_t nqt, capqt;
	struct cref *ref;
	size_t nref, capref;
	struct clause cl[TEXT_MAX_CLAUSES];
	size_t ncl;
};

struct cand {
	double score;
	uint32_t seg, doc;
};

struct heap {
	const struct text_view *v;
	struct cand *h;
	size_t n, k;
};

struct ctx {
	const struct text_view *v;
	const struct text_params *p;
	struct query *q;
	struct heap heap;
	double avgdl;
	uint64_t total;
	double *contrib;
	uint32_t *touched;
	size_t ntouched;
	uint32_t *pbuf[3];
	size_t pcap[3];
	struct text_cur scratch;
	const struct text_where *where; /* NULL: no filter, no facets */
};

/* Does the filter let document d of segment s through? */
static inline bool w_allow(const struct ctx *x, const struct text_seg *s,
			   uint32_t d)
{
	const struct text_where *w = x->where;
	uint32_t rid;

	if (!w || !w->allow)
		return true;
	rid = s->docs[d].rid;
	return rid < w->nallow && text_bit(w->allow, rid);
}

/* A match counted in `total`: count it in the facets too. */
static inline void w_count(const struct ctx *x, const struct text_seg *s,
			   uint32_t d)
{
	if (x->where && x->where->fc)
		osa_facet_counter_add(x->where->fc, s->docs[d].rid);
}

/* ---- parsing ---------------------------------------------------------------
 */

static long q_term(struct query *q, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < q->nqt; i++)
		if (q->qt[i].len == len && !memcmp(q->qt[i].s, s, len))
			return (long)i;
	if (q->nqt == q->capqt) {
		size_t c = q->capqt ? q->capqt * 2 : 16;
		struct qterm *n = realloc(q->qt, c * sizeof(*n));

		if (!n)
			return -1;
		q->qt = n;
		q->capqt = c;
	}
	if (!(q->qt[q->nqt].s = strndup(s, len)))
		return -1;
	q->qt[q->nqt].len = len;
	q->qt[q->nqt].df = 0;
	q->qt[q->nqt].w = 0;
	return (long)q->nqt++;
}

static int q_ref(struct query *q, uint32_t qt, uint32_t off)
{
	if (q->nref == q->capref) {
		size_t c = q->capref ? q->capref * 2 : 16;
		struct cref *n = realloc(q->ref, c * sizeof(*n));

		if (!n)
			return -1;
		q->ref = n;
		q->capref = c;
	}
	q->ref[q->nref].qt = qt;
	q->ref[q->nref].off = off;
	q->nref++;
	return 0;
}

static void q_free(struct query *q)
{
	size_t i;

	for (i = 0; i < q->nqt; i++)
		free(q->qt[i].s);
	free(q->qt);
	free(q->ref);
}

struct exp {
	const char *s;
	size_t len;
	uint64_t df;
};

static int exp_cmp(const void *a, const void *b)
{
	const struct exp *x = a, *y = b;
	int c;

	if (x->df != y->df)
		return x->df > y->df ? -1 : 1;
	c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The refs of a prefix clause: the most frequent terms starting with p. */
static int q_prefix(struct query *q, const struct text_view *v, const char *p,
		    size_t len)
{
	struct exp *e = NULL;
	size_t n = 0, cap = 0, i, j, s;
	int rc = 0;

	for (s = 0; s < v->nseg; s++) {
		const struct text_seg *seg = v->slot[s].seg;

		for (i = text_seg_lower(seg, p, len); i < seg->nterms; i++) {
			size_t tl;
			const char *t = text_seg_term(seg, i, &tl);

			if (tl < len || memcmp(t, p, len))
				break;
			for (j = 0; j < n; j++)
				if (e[j].len == tl && !memcmp(e[j].s, t, tl))
					break;
			if (j < n) {
				e[j].df += seg->terms[i].df;
				continue;
			}
			if (n == cap) {
				size_t c = cap ? cap * 2 : 64;
				struct exp *ne = realloc(e, c * sizeof(*ne));

				if (!ne) {
					free(e);
					return -1;
				}
				e = ne;
				cap = c;
			}
			e[n].s = t;
			e[n].len = tl;
			e[n].df = seg->terms[i].df;
			n++;
			if (n > 4096) /* enough to pick the most frequent */
				goto done;
		}
	}
done:
	if (n)
		qsort(e, n, sizeof(*e), exp_cmp);
	for (i = 0; i < n && i < TEXT_MAX_EXPANSIONS && !rc; i++) {
		long t = q_term(q, e[i].s, e[i].len);

		rc = t < 0 || q_ref(q, (uint32_t)t, 0) ? -1 : 0;
	}
	free(e);
	return rc;
}

/* Add the clause of one word or phrase q[0..len). */
static int q_clause(struct query *q, const struct text_view *v,
		    struct text_analyzer *a, const char *s, size_t len, int mod,
		    bool phrase, struct osa_error *err)
{
	bool prefix = false;
	struct clause *cl;
	size_t i;
	int rc;

	if (!phrase && len > 1 && s[len - 1] == '*') {
		prefix = true;
		while (len && s[len - 1] == '*')
			len--;
	}
	text_analyzer_reset(a);
	if ((rc = text_analyze(a, s, len, !prefix, 0, NULL, err)))
		return osa_error_prefix(err, "query: ");
	if (!a->ntok)
		return 0;
	if (q->ncl + a->ntok > TEXT_MAX_CLAUSES)
		return osa_error_set(err, OSA_ELIMIT,
				     "query: more than %d words; shorten it",
				     TEXT_MAX_CLAUSES);
	if (prefix) {
		/* The words before the last one are plain words. */
		for (i = 0; i + 1 < a->ntok; i++) {
			long t = q_term(q, a->buf + a->tok[i].off,
					a->tok[i].len);

			cl = &q->cl[q->ncl++];
			cl->mod = mod;
			cl->phrase = false;
			cl->r0 = q->nref;
			cl->nr = 1;
			if (t < 0 || q_ref(q, (uint32_t)t, 0))
				return OSA_ENOMEM;
		}
		cl = &q->cl[q->ncl];
		cl->mod = mod;
		cl->phrase = false;
		cl->r0 = q->nref;
		i = a->ntok - 1;
		if (q_prefix(q, v, a->buf + a->tok[i].off, a->tok[i].len))
			return OSA_ENOMEM;
		cl->nr = q->nref - cl->r0;
		/* A prefix matching nothing still counts as a clause: it
		 * can make a required clause fail. */
		q->ncl++;
		return 0;
	}
	cl = &q->cl[q->ncl++];
	cl->mod = mod;
	cl->phrase = a->ntok > 1;
	cl->r0 = q->nref;
	cl->nr = a->ntok;
	for (i = 0; i < a->ntok; i++) {
		long t = q_term(q, a->buf + a->tok[i].off, a->tok[i].len);

		if (t < 0 ||
		    q_ref(q, (uint32_t)t, a->tok[i].pos - a->tok[0].pos))
			return OSA_ENOMEM;
	}
	return 0;
}

static bool q_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static int q_parse(struct query *q, const struct text_view *v,
		   struct text_analyzer *a, const char *text,
		   struct osa_error *err)
{
	const char *p = text;
	int rc;

	while (*p) {
		int mod = CL_SHOULD;
		const char *s;
		bool phrase = false;

		while (q_space(*p))
			p++;
		if (!*p)
			break;
		if (*p == '+' || *p == '-') {
			mod = *p == '+' ? CL_MUST : CL_NOT;
			p++;
		}
		if (*p == '"') {
			s = ++p;
			while (*p && *p != '"')
				p++;
			phrase = true;
			rc = q_clause(q, v, a, s, (size_t)(p - s), mod, true,
				      err);
			if (*p)
				p++;
		} else {
			s = p;
			while (*p && !q_space(*p))
				p++;
			rc = q_clause(q, v, a, s, (size_t)(p - s), mod, phrase,
				      err);
		}
		if (rc == OSA_ENOMEM)
			return osa_error_set(err, rc, "out of memory");
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the heap of the best k ------------------------------------------------
 */

static const char *c_srn(const struct heap *h, const struct cand *c)
{
	const struct text_seg *s = h->v->slot[c->seg].seg;

	return s->srns + s->docs[c->doc].srn_off;
}

/* Is a worse than b? */
static bool c_worse(const struct heap *h, const struct cand *a,
		    const struct cand *b)
{
	if (a->score != b->score)
		return a->score < b->score;
	return strcmp(c_srn(h, a), c_srn(h, b)) > 0;
}

static void h_down(struct heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, w = i;
		struct cand t;

		if (l < h->n && c_worse(h, &h->h[l], &h->h[w]))
			w = l;
		if (l + 1 < h->n && c_worse(h, &h->h[l + 1], &h->h[w]))
			w = l + 1;
		if (w == i)
			return;
		t = h->h[i];
		h->h[i] = h->h[w];
		h->h[w] = t;
		i = w;
	}
}

static void h_push(struct heap *h, double score, uint32_t seg, uint32_t doc)
{
	struct cand c = { score, seg, doc };

	if (h->n < h->k) {
		size_t j = h->n++;

		h->h[j] = c;
		while (j) {
			size_t p = (j - 1) / 2;
			struct cand t;

			if (!c_worse(h, &h->h[j], &h->h[p]))
				break;
			t = h->h[j];
			h->h[j] = h->h[p];
			h->h[p] = t;
			j = p;
		}
		return;
	}
	if (!c_worse(h, &h->h[0], &c))
		return;
	h->h[0] = c;
	h_down(h, 0);
}

/* The score a candidate must reach (strictly below it cannot enter). */
static double h_threshold(const struct heap *h)
{
	return h->n < h->k ? -INFINITY : h->h[0].score;
}

/* ---- scoring
 * ----------------------------------------------------------------- */

static double bm25(const struct ctx *x, double w, uint32_t tf, uint32_t dl)
{
	double t = (double)tf / TEXT_TF_SCALE, l = (double)dl / TEXT_TF_SCALE;

	return w * t / (t + x->p->k1 * (1 - x->p->b + x->p->b * l / x->avgdl));
}

/* A query term counts once per document, however many clauses hold it. */
static void contrib_add(struct ctx *x, uint32_t qt, double s)
{
	if (x->contrib[qt] == 0) {
		x->touched[x->ntouched++] = qt;
		x->contrib[qt] = s;
	}
}

/* The sum in query-term order; clears the contributions. */
static double contrib_sum(struct ctx *x)
{
	double s = 0;
	size_t i, j;

	for (i = 1; i < x->ntouched; i++) {
		uint32_t t = x->touched[i];

		for (j = i; j && x->touched[j - 1] > t; j--)
			x->touched[j] = x->touched[j - 1];
		x->touched[j] = t;
	}
	for (i = 0; i < x->ntouched; i++) {
		s += x->contrib[x->touched[i]];
		x->contrib[x->touched[i]] = 0;
	}
	x->ntouched = 0;
	return s;
}

static void contrib_clear(struct ctx *x)
{
	size_t i;

	for (i = 0; i < x->ntouched; i++)
		x->contrib[x->touched[i]] = 0;
	x->ntouched = 0;
}

/* ---- pure OR: block-max MaxScore ----------------------------------------- */

static int ub_cmp(const void *a, const void *b)
{
	const struct text_cur *x = *(struct text_cur *const *)a;
	const struct text_cur *y = *(struct text_cur *const *)b;

	if (x->ub != y->ub)
		return x->ub < y->ub ? -1 : 1;
	return (x->qt > y->qt) - (x->qt < y->qt);
}

static double blk_bound(const struct ctx *x, const struct text_cur *c,
			uint32_t b)
{
	const struct text_blk *k = &c->seg->blks[b];

	return bm25(x, c->w, k->max_tf, k->min_dl);
}

/* Exact count of live documents holding any of the lists' terms. */
static int or_count(struct ctx *x, uint32_t si, struct text_cur **cs, size_t m,
		    uint64_t *bits)
{
	const struct text_slot *sl = &x->v->slot[si];
	const struct text_seg *s = sl->seg;
	size_t nw = ((size_t)s->ndocs + 63) / 64, i;
	uint64_t n = 0;

	if (m == 1 && !sl->del && !x->where) {
		x->total += cs[0]->df;
		return 0;
	}
	memset(bits, 0, nw * sizeof(*bits));
	for (i = 0; i < m; i++) {
		/* A copy at the list's start: doc ids only, no scoring. */
		struct text_cur *c = &x->scratch;

		*c = *cs[i];
		for (; c->doc != TEXT_NO_DOC; text_cur_next(c))
			bits[c->doc >> 6] |= (uint64_t)1 << (c->doc & 63);
		if (c->bad)
			return OSA_ECORRUPT;
	}
	for (i = 0; i < nw; i++) {
		uint64_t b =
			bits[i] & (sl->del ? ~sl->del->w[i] : ~(uint64_t)0);

		if (!x->where) {
			n += (uint64_t)__builtin_popcountll(b);
			continue;
		}
		for (; b; b &= b - 1) {
			uint32_t d = (uint32_t)(i * 64) +
				     (uint32_t)__builtin_ctzll(b);

			if (w_allow(x, s, d)) {
				w_count(x, s, d);
				n++;
			}
		}
	}
	x->total += n;
	return 0;
}

static int or_segment(struct ctx *x, uint32_t si, struct text_cur **cs,
		      size_t m)
{
	const struct text_slot *sl = &x->v->slot[si];
	const struct text_seg *s = sl->seg;
	const uint64_t *del = sl->del ? sl->del->w : NULL;
	double *pre = malloc((m + 1) * sizeof(double));
	double *bm = malloc((m + 1) * sizeof(double));
	double th;
	size_t ness, i;

	if (!pre || !bm) {
		free(pre);
		free(bm);
		return OSA_ENOMEM;
	}
	qsort(cs, m, sizeof(*cs), ub_cmp);
	for (i = 0; i < m; i++)
		pre[i] = (i ? pre[i - 1] : 0) + cs[i]->ub;
#define TEXT_SLACK 1e-9
#define RECOMPUTE()                                                            \
	do {                                                                   \
		th = h_threshold(&x->heap) - TEXT_SLACK;                       \
		for (ness = 0; ness < m && pre[ness] < th; ness++)             \
			;                                                      \
	} while (0)
	RECOMPUTE();
	while (ness < m) {
		uint32_t d = TEXT_NO_DOC;
		double score = 0, rem = 0;
		bool skip = false;

		for (i = ness; i < m; i++)
			if (cs[i]->doc < d)
				d = cs[i]->doc;
		if (d == TEXT_NO_DOC)
			break;
		if (text_bit(del, d) || !w_allow(x, s, d)) {
			for (i = ness; i < m; i++)
				if (cs[i]->doc == d)
					text_cur_next(cs[i]);
			continue;
		}
		for (i = ness; i < m; i++) {
			if (cs[i]->doc != d)
				continue;
			{
				double c = bm25(x, cs[i]->w, text_cur_tf(cs[i]),
						s->docs[d].dl);

				contrib_add(x, cs[i]->qt, c);
				score += c;
			}
			text_cur_next(cs[i]);
		}
		for (i = 0; i < ness; i++) {
			uint32_t b = text_cur_shallow(cs[i], d);

			bm[i] = b == UINT32_MAX ? 0 : blk_bound(x, cs[i], b);
			rem += bm[i];
		}
		if (score + rem < th)
			skip = true;
		for (i = ness; i-- > 0 && !skip;) {
			rem -= bm[i];
			if (bm[i] > 0) {
				text_cur_advance(cs[i], d);
				if (cs[i]->doc == d) {
					double c = bm25(x, cs[i]->w,
							text_cur_tf(cs[i]),
							s->docs[d].dl);

					contrib_add(x, cs[i]->qt, c);
					score += c;
				}
			}
			if (score + rem < th)
				skip = true;
		}
		if (skip) {
			contrib_clear(x);
			continue;
		}
		h_push(&x->heap, contrib_sum(x), si, d);
		if (h_threshold(&x->heap) - TEXT_SLACK > th)
			RECOMPUTE();
	}
#undef RECOMPUTE
	free(pre);
	free(bm);
	for (i = 0; i < m; i++)
		if (cs[i]->bad)
			return OSA_ECORRUPT;
	(void)s;
	return 0;
}

/* ---- general: document at a time ------------------------------------------
 */

/* Does phrase clause `cl` (cursors cs[0..n), all at d) match? */
static int phrase_match(struct ctx *x, struct text_cur *const *cs,
			const struct cref *r, size_t n)
{
	size_t nc, k, i, j;
	long np;

	np = text_cur_positions(cs[0], &x->pbuf[0], &x->pcap[0]);
	if (np < 0)
		return (int)np;
	nc = 0;
	for (i = 0; i < (size_t)np; i++)
		if (x->pbuf[0][i] >= r[0].off)
			x->pbuf[0][nc++] = x->pbuf[0][i] - r[0].off;
	for (k = 1; k < n && nc; k++) {
		size_t keep = 0;

		np = text_cur_positions(cs[k], &x->pbuf[1], &x->pcap[1]);
		if (np < 0)
			return (int)np;
		for (i = 0, j = 0; i < nc; i++) {
			uint32_t want = x->pbuf[0][i] + r[k].off;

			while (j < (size_t)np && x->pbuf[1][j] < want)
				j++;
			if (j < (size_t)np && x->pbuf[1][j] == want)
				x->pbuf[0][keep++] = x->pbuf[0][i];
		}
		nc = keep;
	}
	return nc > 0;
}

/* Is clause c satisfied at d?  Its cursors are already at >= d. */
static int clause_sat(struct ctx *x, const struct clause *c,
		      struct text_cur *const *cs, uint32_t d)
{
	size_t i;

	if (!c->nr)
		return 0;
	if (!c->phrase) {
		for (i = 0; i < c->nr; i++)
			if (cs[i] && cs[i]->doc == d)
				return 1;
		return 0;
	}
	for (i = 0; i < c->nr; i++)
		if (!cs[i] || cs[i]->doc != d)
			return 0;
	return phrase_match(x, cs, x->q->ref + c->r0, c->nr);
}

/* Move a phrase's cursors to the next document holding all of its words:
 * that document, or TEXT_NO_DOC. */
static uint32_t phrase_align(struct text_cur *const *cs, size_t n)
{
	uint32_t m;
	size_t i;
	bool moved;

	for (i = 0; i < n; i++)
		if (!cs[i])
			return TEXT_NO_DOC;
	do {
		m = 0;
		for (i = 0; i < n; i++)
			if (cs[i]->doc > m)
				m = cs[i]->doc;
		if (m == TEXT_NO_DOC)
			return m;
		moved = false;
		for (i = 0; i < n; i++)
			if (cs[i]->doc < m) {
				text_cur_advance(cs[i], m);
				moved = true;
			}
	} while (moved);
	return m;
}

static int dat_segment(struct ctx *x, uint32_t si, struct text_cur **cs)
{
	const struct text_slot *sl = &x->v->slot[si];
	const struct text_seg *s = sl->seg;
	const uint64_t *del = sl->del ? sl->del->w : NULL;
	const struct query *q = x->q;
	size_t c, i;
	int sat;

	/* A required clause that cannot match in this segment. */
	for (c = 0; c < q->ncl; c++) {
		const struct clause *cl = &q->cl[c];
		size_t have = 0;

		if (cl->mod != CL_MUST)
			continue;
		for (i = 0; i < cl->nr; i++)
			have += cs[cl->r0 + i] != NULL;
		if (!have || (cl->phrase && have < cl->nr))
			return 0;
	}
	for (;;) {
		uint32_t d = TEXT_NO_DOC;
		bool ok = true, any = false;

		for (c = 0; c < q->ncl; c++) {
			if (q->cl[c].mod == CL_NOT)
				continue;
			if (q->cl[c].phrase) {
				/* Only documents holding every word. */
				uint32_t a = phrase_align(cs + q->cl[c].r0,
							  q->cl[c].nr);

				if (a < d)
					d = a;
				continue;
			}
			for (i = 0; i < q->cl[c].nr; i++) {
				struct text_cur *k = cs[q->cl[c].r0 + i];

				if (k && k->doc < d)
					d = k->doc;
			}
		}
		if (d == TEXT_NO_DOC)
			break;
		if (text_bit(del, d) || !w_allow(x, s, d))
			ok = false;
		for (c = 0; c < q->ncl && ok; c++) {
			const struct clause *cl = &q->cl[c];

			if (cl->mod == CL_NOT)
				for (i = 0; i < cl->nr; i++)
					if (cs[cl->r0 + i])
						text_cur_advance(cs[cl->r0 + i],
								 d);
			sat = clause_sat(x, cl, cs + cl->r0, d);
			if (sat < 0)
				return sat == -2 ? OSA_ENOMEM : OSA_ECORRUPT;
			if (cl->mod == CL_MUST && !sat)
				ok = false;
			else if (cl->mod == CL_NOT && sat)
				ok = false;
			else if (cl->mod != CL_NOT && sat) {
				any = true;
				for (i = 0; i < cl->nr; i++) {
					struct text_cur *k = cs[cl->r0 + i];

					if (k && k->doc == d)
						contrib_add(
							x, k->qt,
							bm25(x, k->w,
							     text_cur_tf(k),
							     s->docs[d].dl));
				}
			}
		}
		if (ok && any) {
			x->total++;
			w_count(x, s, d);
			h_push(&x->heap, contrib_sum(x), si, d);
		} else {
			contrib_clear(x);
		}
		for (c = 0; c < q->ncl; c++) {
			if (q->cl[c].mod == CL_NOT)
				continue;
			for (i = 0; i < q->cl[c].nr; i++) {
				struct text_cur *k = cs[q->cl[c].r0 + i];

				if (k && k->doc == d)
					text_cur_next(k);
			}
		}
	}
	for (i = 0; i < q->nref; i++)
		if (cs[i] && cs[i]->bad)
			return OSA_ECORRUPT;
	return 0;
}

/* ---- driver
 * ------------------------------------------------------------------ */

/* Upper bound of a whole list. */
static double list_bound(const struct ctx *x, const struct text_cur *c)
{
	uint32_t b, tf = 0, dl = UINT32_MAX;

	for (b = c->blk0; b < c->blk_end; b++) {
		if (c->seg->blks[b].max_tf > tf)
			tf = c->seg->blks[b].max_tf;
		if (c->seg->blks[b].min_dl < dl)
			dl = c->seg->blks[b].min_dl;
	}
	return bm25(x, c->w, tf, dl);
}

int text_search(const struct text_view *v, struct text_analyzer *a,
		const struct text_params *p, const char *text, size_t limit,
		size_t offset, const struct text_where *w,
		struct osa_hits *hits, struct osa_error *err)
{
	struct query q;
	struct ctx x;
	struct text_cur *curs = NULL, **cs = NULL;
	uint64_t *bits = NULL;
	size_t i, s, maxdocs = 0, npos = 0;
	bool simple = true;
	int rc;

	memset(&q, 0, sizeof(q));
	memset(&x, 0, sizeof(x));
	rc = q_parse(&q, v, a, text, err);
	if (rc)
		goto out;
	for (i = 0; i < q.ncl; i++) {
		if (q.cl[i].mod != CL_SHOULD || q.cl[i].phrase)
			simple = false;
		npos += q.cl[i].mod != CL_NOT;
	}
	if (!npos) {
		rc = osa_error_set(err, OSA_ENOFEATURES,
				   "query \"%.80s\" has no word to search: "
				   "every word is a stopword, too short or "
				   "too long, or excluded with -",
				   text);
		goto out;
	}
	hits->total = 0;
	if (!v->live)
		goto out;
	x.v = v;
	x.p = p;
	x.q = &q;
	x.where = w && (w->allow || w->fc) ? w : NULL;
	x.avgdl = (double)v->sum_dl / TEXT_TF_SCALE / (double)v->live;
	if (!(x.avgdl > 0))
		x.avgdl = 1;
	/* Global statistics of each query term. */
	for (s = 0; s < v->nseg; s++) {
		const struct text_seg *seg = v->slot[s].seg;

		if (seg->ndocs > maxdocs)
			maxdocs = seg->ndocs;
		for (i = 0; i < q.nqt; i++) {
			long t = text_seg_find(seg, q.qt[i].s, q.qt[i].len);

			if (t >= 0)
				q.qt[i].df += seg->terms[t].df;
		}
	}
	for (i = 0; i < q.nqt; i++) {
		double N = (double)v->live;
		double df = q.qt[i].df > v->live ? N : (double)q.qt[i].df;

		q.qt[i].w = log(1 + (N - df + 0.5) / (df + 0.5)) * (p->k1 + 1);
	}
	x.heap.v = v;
	x.heap.k = offset + limit;
	x.heap.h = malloc(x.heap.k * sizeof(*x.heap.h));
	curs = malloc((q.nref + q.nqt + 1) * sizeof(*curs));
	cs = malloc((q.nref + q.nqt + 1) * sizeof(*cs));
	x.contrib = calloc(q.nref + q.nqt + 1, sizeof(double));
	x.touched = malloc((q.nref + q.nqt + 1) * sizeof(uint32_t));
	bits = malloc(((maxdocs + 63) / 64 + 1) * sizeof(*bits));
	if (!x.heap.h || !curs || !cs || !x.contrib || !x.touched || !bits) {
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory");
		goto out;
	}
	for (s = 0; s < v->nseg && !rc; s++) {
		const struct text_seg *seg = v->slot[s].seg;
		size_t m = 0;

		if (simple) {
			for (i = 0; i < q.nqt; i++) {
				long t = text_seg_find(seg, q.qt[i].s,
						       q.qt[i].len);

				if (t < 0)
					continue;
				text_cur_init(&curs[m], seg, (size_t)t);
				curs[m].w = q.qt[i].w;
				curs[m].qt = (uint32_t)i;
				curs[m].ub = list_bound(&x, &curs[m]);
				cs[m] = &curs[m];
				m++;
			}
			if (!m)
				continue;
			rc = or_count(&x, (uint32_t)s, cs, m, bits);
			if (!rc)
				rc = or_segment(&x, (uint32_t)s, cs, m);
		} else {
			for (i = 0; i < q.nref; i++) {
				const struct qterm *qt = &q.qt[q.ref[i].qt];
				long t = text_seg_find(seg, qt->s, qt->len);

				cs[i] = NULL;
				if (t < 0)
					continue;
				text_cur_init(&curs[i], seg, (size_t)t);
				curs[i].w = qt->w;
				curs[i].qt = q.ref[i].qt;
				cs[i] = &curs[i];
			}
			rc = dat_segment(&x, (uint32_t)s, cs);
		}
		if (rc == OSA_ECORRUPT)
			osa_error_set(err, rc,
				      "text segment %s has malformed postings; "
				      "the index must be rebuilt (osa reindex)",
				      seg->path ? seg->path : "(memory)");
		else if (rc)
			osa_error_set(err, rc, "out of memory");
	}
	if (rc)
		goto out;
	hits->total = (size_t)x.total;
	/* Best first: pop the worst to the end. */
	{
		struct heap *h = &x.heap;
		size_t n = h->n;

		while (h->n > 1) {
			struct cand t = h->h[0];

			h->h[0] = h->h[--h->n];
			h->h[h->n] = t;
			h_down(h, 0);
		}
		for (i = offset; i < n && !rc; i++)
			rc = osa_hits_push(hits, c_srn(h, &h->h[i]),
					   h->h[i].score);
		if (rc)
			osa_error_set(err, rc, "out of memory");
	}
out:
	free(bits);
	free(x.heap.h);
	free(curs);
	free(cs);
	free(x.contrib);
	free(x.touched);
	for (i = 0; i < 3; i++)
		free(x.pbuf[i]);
	q_free(&q);
	return rc;
}

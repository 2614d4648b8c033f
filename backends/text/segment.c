/* SPDX-License-Identifier: MIT */
/*
 * segment.c - the `text` backend's immutable segments.
 *
 * A segment is read in place: from a file mapped read-only (the body of an
 * osa/snapshot.h file, kind "text", body version 1) or from a malloc'd
 * buffer (the in-memory segments of writes since the last checkpoint).
 * Nothing is parsed or copied at open beyond checking the fixed-size tables.
 *
 * Body layout (little-endian; every section starts 8-aligned):
 *
 *   header (TEXT_HDR bytes)
 *     u32 magic "TXS1", u32 version (1), u32 ndocs, u32 nterms,
 *     u32 nblocks, u32 0, u64 sum_dl, then u64 offset and u64 length of
 *     each of the 7 sections below, in order
 *   docs    ndocs x struct text_doc {dl, rid, srn_off}
 *   srns    NUL-terminated srns
 *   terms   nterms x struct text_term {off, df, blk, nblk}, sorted by bytes
 *   tbytes  term bytes, term i in [terms[i].off, terms[i+1].off)
 *   blks    nblocks x struct text_blk {last, max_tf, min_dl, doc_off,
 *           pos_off}; each term's blocks are consecutive, in term order
 *   post    per block, per posting: varint(doc - previous doc) (the first
 *           doc of a term counts from -1), varint(tf)
 *   pos     per block, per posting: varint(n), then n positions, the first
 *           as is, the others as varint(gap >= 1)
 *
 * Every table entry is checked at attach (offsets, counts, order), and
 * the variable-length postings are checked as they are decoded: a crafted
 * segment gives OSA_ECORRUPT naming the file, never a read out of bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <osa/snapshot.h>

#include "text.h"

#define TEXT_MAGIC 0x31535854u /* "TXS1" */
#define TEXT_SEG_VERSION 1u
#define TEXT_NSEC 7
#define TEXT_HDR (32u + 16u * TEXT_NSEC)

enum { SEC_DOCS, SEC_SRNS, SEC_TERMS, SEC_TBYTES, SEC_BLKS, SEC_POST, SEC_POS };

/* ---- small helpers ------------------------------------------------------ */

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* A varint at *p (before end): 0 and *v, or -1 when malformed. */
static inline int text_varint(const unsigned char **p, const unsigned char *end,
			      uint32_t *v)
{
	const unsigned char *q = *p;
	uint32_t r = 0;
	int sh;

	for (sh = 0; sh < 35 && q < end; sh += 7) {
		unsigned char c = *q++;

		r |= (uint32_t)(c & 0x7f) << sh;
		if (!(c & 0x80)) {
			*p = q;
			*v = r;
			return 0;
		}
	}
	return -1;
}

static int dbuf_put(struct text_dbuf *d, const void *p, size_t n)
{
	if (d->n + n > d->cap) {
		size_t c = d->cap ? d->cap : 256;
		unsigned char *q;

		while (c < d->n + n)
			c *= 2;
		if (!(q = realloc(d->p, c)))
			return -1;
		d->p = q;
		d->cap = c;
	}
	if (n)
		memcpy(d->p + d->n, p, n);
	d->n += n;
	return 0;
}

/* Room for `n` more bytes. */
static inline int dbuf_room(struct text_dbuf *d, size_t n)
{
	size_t c;
	unsigned char *q;

	if (d->n + n <= d->cap)
		return 0;
	c = d->cap ? d->cap : 256;
	while (c < d->n + n)
		c *= 2;
	if (!(q = realloc(d->p, c)))
		return -1;
	d->p = q;
	d->cap = c;
	return 0;
}

/* Append a varint; room for 5 bytes must exist. */
static inline void dbuf_varint_raw(struct text_dbuf *d, uint32_t v)
{
	while (v >= 0x80) {
		d->p[d->n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	d->p[d->n++] = (unsigned char)v;
}

/* ---- attach and check -------------------------------------------------- */

static int text_bad(const char *path, struct osa_error *err, const char *what)
{
	osa_error_set(err, OSA_ECORRUPT,
		      "text segment %s is damaged (%s); the index will be "
		      "rebuilt from the journal",
		      path, what);
	if (err)
		snprintf(err->file, sizeof(err->file), "%s", path);
	return OSA_ECORRUPT;
}

static int text_check(struct text_seg *s, struct osa_error *err)
{
	const unsigned char *h = s->body;
	const char *path = s->path ? s->path : "(memory)";
	uint64_t off[TEXT_NSEC], len[TEXT_NSEC];
	static const size_t esz[TEXT_NSEC] = { sizeof(struct text_doc),
					       1,
					       sizeof(struct text_term),
					       1,
					       sizeof(struct text_blk),
					       1,
					       1 };
	uint32_t i, nblk = 0;
	int k;

	if (s->len < TEXT_HDR)
		return text_bad(path, err, "shorter than its header");
	if (rd32(h) != TEXT_MAGIC || rd32(h + 4) != TEXT_SEG_VERSION)
		return text_bad(path, err, "bad magic or version");
	s->ndocs = rd32(h + 8);
	s->nterms = rd32(h + 12);
	s->nblocks = rd32(h + 16);
	s->sum_dl = rd64(h + 24);
	for (k = 0; k < TEXT_NSEC; k++) {
		off[k] = rd64(h + 32 + 16 * k);
		len[k] = rd64(h + 40 + 16 * k);
		if (off[k] < TEXT_HDR || off[k] % 8 || off[k] > s->len ||
		    len[k] > s->len - off[k] || len[k] % esz[k])
			return text_bad(path, err,
					"a section is out of bounds");
	}
	if (len[SEC_DOCS] / sizeof(struct text_doc) != s->ndocs ||
	    len[SEC_TERMS] / sizeof(struct text_term) != s->nterms ||
	    len[SEC_BLKS] / sizeof(struct text_blk) != s->nblocks ||
	    len[SEC_POST] > UINT32_MAX || len[SEC_POS] > UINT32_MAX ||
	    len[SEC_TBYTES] > UINT32_MAX || len[SEC_SRNS] > UINT32_MAX)
		return text_bad(path, err, "table sizes disagree with counts");
	s->docs = (const struct text_doc *)(h + off[SEC_DOCS]);
	s->srns = (const char *)(h + off[SEC_SRNS]);
	s->srns_len = len[SEC_SRNS];
	s->terms = (const struct text_term *)(h + off[SEC_TERMS]);
	s->tbytes = (const char *)(h + off[SEC_TBYTES]);
	s->tbytes_len = len[SEC_TBYTES];
	s->blks = (const struct text_blk *)(h + off[SEC_BLKS]);
	s->post = h + off[SEC_POST];
	s->post_len = len[SEC_POST];
	s->pos = h + off[SEC_POS];
	s->pos_len = len[SEC_POS];
	if (s->ndocs && (!s->srns_len || s->srns[s->srns_len - 1]))
		return text_bad(path, err, "srns are not NUL-terminated");
	for (i = 0; i < s->ndocs; i++)
		if (s->docs[i].srn_off >= s->srns_len ||
		    s->docs[i].rid > INT32_MAX)
			return text_bad(path, err,
					"a document is out of range");
	for (i = 0; i < s->nterms; i++) {
		const struct text_term *t = &s->terms[i];
		uint32_t end = i + 1 < s->nterms ? s->terms[i + 1].off
						 : (uint32_t)s->tbytes_len;
		uint32_t want = (t->df + TEXT_BLOCK - 1) / TEXT_BLOCK;

		if (t->off >= end || end > s->tbytes_len || !t->df ||
		    t->df > s->ndocs || t->blk != nblk || t->nblk != want)
			return text_bad(path, err, "a term is out of range");
		if (i && i + 1 <= s->nterms) {
			const struct text_term *p = &s->terms[i - 1];
			size_t pl = t->off - p->off, l = end - t->off;
			int c = memcmp(s->tbytes + p->off, s->tbytes + t->off,
				       pl < l ? pl : l);

			if (c > 0 || (!c && pl >= l))
				return text_bad(path, err,
						"terms are not sorted");
		}
		nblk += t->nblk;
	}
	if (nblk != s->nblocks || (s->nterms && s->terms[0].off))
		return text_bad(path, err, "blocks do not match the terms");
	for (i = 0; i < s->nblocks; i++) {
		const struct text_blk *b = &s->blks[i];

		if (b->last >= s->ndocs || b->doc_off > s->post_len ||
		    b->pos_off > s->pos_len ||
		    (i && (b->doc_off < s->blks[i - 1].doc_off ||
			   b->pos_off < s->blks[i - 1].pos_off)))
			return text_bad(path, err, "a block is out of range");
	}
	return 0;
}

int text_seg_attach(void *map, size_t maplen, size_t body_off, const char *path,
		    uint64_t gen, struct text_seg **out, struct osa_error *err)
{
	struct text_seg *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s || (path && !(s->path = strdup(path)))) {
		free(s);
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	}
	atomic_init(&s->ref, 1);
	s->gen = gen;
	s->map = map;
	s->maplen = maplen;
	s->body = (const unsigned char *)map + body_off;
	s->len = maplen - body_off;
	if ((rc = text_check(s, err))) {
		/* The caller still owns `map`. */
		free(s->path);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int text_seg_open(const char *path, uint64_t gen, const char *desc,
		  struct text_seg **out, struct osa_error *err)
{
	struct osa_snap_reader *r;
	struct osa_snap_info exp, got;
	struct stat st;
	void *map;
	int fd, rc;

	*out = NULL;
	memset(&exp, 0, sizeof(exp));
	snprintf(exp.kind, sizeof(exp.kind), "text");
	exp.body_version = 1;
	osa_snap_set_blob(&exp, NULL, "%s", desc); /* < 128 bytes: fits */
	/* Header, checksum and configuration checks; the body is then
	 * mapped, not read. */
	rc = osa_snap_open(path, &exp, &r, &got, err);
	if (rc == OSA_ENOTFOUND)
		return text_bad(path, err, "the file is missing");
	if (rc)
		return rc;
	osa_snap_close(r, NULL); /* unread body: expected here */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		rc = osa_error_set(err, OSA_EIO, "text segment %s: %s", path,
				   strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if ((uint64_t)st.st_size != OSA_SNAP_HEADER_SIZE + got.body_len) {
		close(fd);
		return text_bad(path, err, "its size changed while opening");
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return osa_error_set(err, OSA_EIO, "text segment %s: mmap: %s",
				     path, strerror(errno));
	rc = text_seg_attach(map, (size_t)st.st_size, OSA_SNAP_HEADER_SIZE,
			     path, gen, out, err);
	if (rc) {
		munmap(map, (size_t)st.st_size);
		return rc;
	}
	if ((*out)->ndocs != got.count) {
		text_seg_unref(*out);
		*out = NULL;
		return text_bad(path, err, "header and body disagree");
	}
	return 0;
}

void text_seg_ref(struct text_seg *s)
{
	atomic_fetch_add_explicit(&s->ref, 1, memory_order_relaxed);
}

void text_seg_unref(struct text_seg *s)
{
	if (!s ||
	    atomic_fetch_sub_explicit(&s->ref, 1, memory_order_acq_rel) != 1)
		return;
	if (s->path)
		munmap(s->map, s->maplen);
	else
		free(s->map);
	free(s->path);
	free(s);
}

const char *text_seg_term(const struct text_seg *s, size_t i, size_t *len)
{
	uint32_t end = i + 1 < s->nterms ? s->terms[i + 1].off
					 : (uint32_t)s->tbytes_len;

	*len = end - s->terms[i].off;
	return s->tbytes + s->terms[i].off;
}

static int text_tcmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

size_t text_seg_lower(const struct text_seg *s, const char *t, size_t len)
{
	size_t lo = 0, hi = s->nterms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, ml;
		const char *m = text_seg_term(s, mid, &ml);

		if (text_tcmp(m, ml, t, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long text_seg_find(const struct text_seg *s, const char *t, size_t len)
{
	size_t i = text_seg_lower(s, t, len), ml;
	const char *m;

	if (i >= s->nterms)
		return -1;
	m = text_seg_term(s, i, &ml);
	return text_tcmp(m, ml, t, len) ? -1 : (long)i;
}

/* ---- cursors --------------------------------------------------------------
 */

static void text_cur_end(struct text_cur *c)
{
	c->doc = TEXT_NO_DOC;
	c->n = c->j = 0;
}

static void text_cur_fail(struct text_cur *c)
{
	c->bad = true;
	text_cur_end(c);
}

/* Decode block b (docs and tfs). */
static void text_cur_load(struct text_cur *c, uint32_t b)
{
	const struct text_seg *s = c->seg;
	const struct text_blk *blk = &s->blks[b];
	const unsigned char *p = s->post + blk->doc_off;
	const unsigned char *end =
		s->post +
		(b + 1 < s->nblocks ? s->blks[b + 1].doc_off : s->post_len);
	int64_t prev = b == c->blk0 ? -1 : (int64_t)s->blks[b - 1].last;
	uint32_t n = b + 1 == c->blk_end ? c->df - (b - c->blk0) * TEXT_BLOCK
					 : TEXT_BLOCK;
	uint32_t i, d, tf;

	c->b = b;
	if (!n || n > TEXT_BLOCK) {
		text_cur_fail(c);
		return;
	}
	for (i = 0; i < n; i++) {
		if (text_varint(&p, end, &d) || text_varint(&p, end, &tf) ||
		    !d || !tf || prev + d >= s->ndocs) {
			text_cur_fail(c);
			return;
		}
		prev += d;
		c->docs[i] = (uint32_t)prev;
		c->tfs[i] = tf;
	}
	if ((uint32_t)prev != blk->last) {
		text_cur_fail(c);
		return;
	}
	c->n = n;
	c->j = 0;
	c->doc = c->docs[0];
	c->pp = s->pos + blk->pos_off;
	c->pend = s->pos +
		  (b + 1 < s->nblocks ? s->blks[b + 1].pos_off : s->pos_len);
	c->pj = 0;
}

void text_cur_init(struct text_cur *c, const struct text_seg *s, size_t term)
{
	const struct text_term *t = &s->terms[term];

	c->seg = s;
	c->blk0 = t->blk;
	c->blk_end = t->blk + t->nblk;
	c->df = t->df;
	c->bad = false;
	text_cur_load(c, c->blk0);
}

void text_cur_next(struct text_cur *c)
{
	if (c->doc == TEXT_NO_DOC)
		return;
	if (++c->j < c->n) {
		c->doc = c->docs[c->j];
		return;
	}
	if (c->b + 1 < c->blk_end)
		text_cur_load(c, c->b + 1);
	else
		text_cur_end(c);
}

void text_cur_advance(struct text_cur *c, uint32_t target)
{
	uint32_t b;

	if (c->doc == TEXT_NO_DOC || c->doc >= target)
		return;
	b = c->b;
	if (c->seg->blks[b].last < target) {
		while (b < c->blk_end && c->seg->blks[b].last < target)
			b++;
		if (b == c->blk_end) {
			text_cur_end(c);
			return;
		}
		text_cur_load(c, b);
		if (c->doc == TEXT_NO_DOC)
			return;
	}
	while (c->docs[c->j] < target)
		c->j++; /* the block's last is >= target */
	c->doc = c->docs[c->j];
}

uint32_t text_cur_shallow(const struct text_cur *c, uint32_t target)
{
	uint32_t b = c->doc == TEXT_NO_DOC ? c->blk_end : c->b;

	while (b < c->blk_end && c->seg->blks[b].last < target)
		b++;
	return b < c->blk_end ? b : UINT32_MAX;
}

long text_cur_positions(struct text_cur *c, uint32_t **out, size_t *cap)
{
	uint32_t n, v, k, p = 0;

	if (c->doc == TEXT_NO_DOC)
		return -1;
	/* Skip the postings before the current one. */
	while (c->pj < c->j) {
		if (text_varint(&c->pp, c->pend, &n))
			return -1;
		for (k = 0; k < n; k++)
			if (text_varint(&c->pp, c->pend, &v))
				return -1;
		c->pj++;
	}
	if (c->pj != c->j) /* already consumed: decode again */
		return -1;
	{
		const unsigned char *q = c->pp;

		if (text_varint(&q, c->pend, &n) || n > TEXT_MAX_POS * 64u)
			return -1;
		if (n > *cap) {
			uint32_t *o = realloc(*out, n * sizeof(*o));

			if (!o)
				return -2;
			*out = o;
			*cap = n;
		}
		for (k = 0; k < n; k++) {
			if (text_varint(&q, c->pend, &v) || (k && !v))
				return -1;
			p = k ? p + v : v;
			(*out)[k] = p;
		}
		/* Leave pp at this posting: it may be asked again. */
	}
	return (long)n;
}

/* The current posting's positions as stored (after their count): *raw,
 * *len bytes; returns their number, or -1 when malformed. */
static long text_cur_pos_raw(struct text_cur *c, const unsigned char **raw,
			     size_t *len)
{
	const unsigned char *q;
	uint32_t n, v, k;

	if (c->doc == TEXT_NO_DOC)
		return -1;
	while (c->pj < c->j) {
		if (text_varint(&c->pp, c->pend, &n))
			return -1;
		for (k = 0; k < n; k++)
			if (text_varint(&c->pp, c->pend, &v))
				return -1;
		c->pj++;
	}
	q = c->pp;
	if (text_varint(&q, c->pend, &n) || n > TEXT_MAX_POS * 64u)
		return -1;
	*raw = q;
	for (k = 0; k < n; k++)
		if (text_varint(&q, c->pend, &v) || (k && !v))
			return -1;
	*len = (size_t)(q - *raw);
	return (long)n;
}

/* ---- building -------------------------------------------------------------
 */

void text_build_init(struct text_builder *b)
{
	memset(b, 0, sizeof(*b));
}

void text_build_free(struct text_builder *b)
{
	free(b->docs.p);
	free(b->srns.p);
	free(b->terms.p);
	free(b->tbytes.p);
	free(b->blks.p);
	free(b->post.p);
	free(b->pos.p);
	memset(b, 0, sizeof(*b));
}

uint32_t text_build_doc(struct text_builder *b, uint32_t dl, uint32_t rid,
			const char *srn)
{
	struct text_doc d = { dl, rid, (uint32_t)b->srns.n };

	if (b->srns.n > UINT32_MAX - 65536) {
		b->bad = true;
		return 0;
	}
	if (dbuf_put(&b->docs, &d, sizeof(d)) ||
	    dbuf_put(&b->srns, srn, strlen(srn) + 1))
		b->nomem = true;
	b->sum_dl += dl;
	return b->ndocs++;
}

void text_build_term(struct text_builder *b, const char *t, size_t len)
{
	b->t_tbytes = b->tbytes.n;
	b->t_df = 0;
	b->t_inblk = 0;
	b->t_blk0 = (uint32_t)(b->blks.n / sizeof(struct text_blk));
	b->t_prev = -1;
	if (dbuf_put(&b->tbytes, t, len))
		b->nomem = true;
}

static void text_build_close_blk(struct text_builder *b)
{
	if (!b->t_inblk)
		return;
	if (dbuf_put(&b->blks, &b->blk, sizeof(b->blk)))
		b->nomem = true;
	b->t_inblk = 0;
}

static void text_build_after(struct text_builder *b, uint32_t doc, uint32_t tf);

/* The doc and tf of a posting; room for `posbytes` position bytes. */
static int text_build_before(struct text_builder *b, uint32_t doc, uint32_t tf,
			     size_t npos, size_t posbytes)
{
	if (b->post.n > UINT32_MAX - 64 ||
	    b->pos.n > UINT32_MAX - 64 - posbytes) {
		b->bad = true;
		return -1;
	}
	if (!b->t_inblk) {
		b->blk.max_tf = 0;
		b->blk.min_dl = UINT32_MAX;
		b->blk.doc_off = (uint32_t)b->post.n;
		b->blk.pos_off = (uint32_t)b->pos.n;
	}
	if (dbuf_room(&b->post, 10) || dbuf_room(&b->pos, 5 + posbytes)) {
		b->nomem = true;
		return -1;
	}
	dbuf_varint_raw(&b->post, (uint32_t)((int64_t)doc - b->t_prev));
	dbuf_varint_raw(&b->post, tf ? tf : 1);
	dbuf_varint_raw(&b->pos, (uint32_t)npos);
	return 0;
}

static void text_build_posting_raw(struct text_builder *b, uint32_t doc,
				   uint32_t tf, const unsigned char *raw,
				   size_t len, size_t npos)
{
	if (text_build_before(b, doc, tf, npos, len))
		return;
	memcpy(b->pos.p + b->pos.n, raw, len);
	b->pos.n += len;
	text_build_after(b, doc, tf);
}

void text_build_posting(struct text_builder *b, uint32_t doc, uint32_t tf,
			const uint32_t *pos, size_t npos)
{
	size_t k;

	if (text_build_before(b, doc, tf, npos, 5 * npos))
		return;
	for (k = 0; k < npos; k++)
		dbuf_varint_raw(&b->pos, k ? pos[k] - pos[k - 1] : pos[0]);
	text_build_after(b, doc, tf);
}

static void text_build_after(struct text_builder *b, uint32_t doc, uint32_t tf)
{
	b->t_prev = doc;
	b->blk.last = doc;
	if (tf > b->blk.max_tf)
		b->blk.max_tf = tf;
	{
		uint32_t dl = ((const struct text_doc *)b->docs.p)[doc].dl;

		if (dl < b->blk.min_dl)
			b->blk.min_dl = dl;
	}
	b->t_df++;
	if (++b->t_inblk == TEXT_BLOCK)
		text_build_close_blk(b);
}

void text_build_term_end(struct text_builder *b)
{
	struct text_term t;

	text_build_close_blk(b);
	if (!b->t_df) { /* every posting was dropped */
		b->tbytes.n = b->t_tbytes;
		return;
	}
	t.off = (uint32_t)b->t_tbytes;
	t.df = b->t_df;
	t.blk = b->t_blk0;
	t.nblk = (uint32_t)(b->blks.n / sizeof(struct text_blk)) - b->t_blk0;
	if (dbuf_put(&b->terms, &t, sizeof(t)))
		b->nomem = true;
}

int text_build_finish(struct text_builder *b, unsigned char **body, size_t *len,
		      struct osa_error *err)
{
	struct text_dbuf *sec[TEXT_NSEC] = { &b->docs,	 &b->srns, &b->terms,
					     &b->tbytes, &b->blks, &b->post,
					     &b->pos };
	unsigned char hdr[TEXT_HDR], *out;
	uint32_t v32;
	uint64_t off = TEXT_HDR, v64;
	int k, rc = 0;

	*body = NULL;
	*len = 0;
	if (b->nomem) {
		rc = osa_error_set(err, OSA_ENOMEM,
				   "out of memory building a segment");
		goto out;
	}
	if (b->bad || b->tbytes.n > UINT32_MAX) {
		rc = osa_error_set(err, OSA_ELIMIT,
				   "a text segment section would pass 4 GiB; "
				   "split the collection over several indexes");
		goto out;
	}
	memset(hdr, 0, sizeof(hdr));
	v32 = TEXT_MAGIC;
	memcpy(hdr, &v32, 4);
	v32 = TEXT_SEG_VERSION;
	memcpy(hdr + 4, &v32, 4);
	memcpy(hdr + 8, &b->ndocs, 4);
	v32 = (uint32_t)(b->terms.n / sizeof(struct text_term));
	memcpy(hdr + 12, &v32, 4);
	v32 = (uint32_t)(b->blks.n / sizeof(struct text_blk));
	memcpy(hdr + 16, &v32, 4);
	memcpy(hdr + 24, &b->sum_dl, 8);
	for (k = 0; k < TEXT_NSEC; k++) {
		memcpy(hdr + 32 + 16 * k, &off, 8);
		v64 = sec[k]->n;
		memcpy(hdr + 40 + 16 * k, &v64, 8);
		off += (sec[k]->n + 7) & ~(uint64_t)7;
	}
	if (!(out = calloc(1, (size_t)off))) {
		rc = osa_error_set(err, OSA_ENOMEM,
				   "out of memory building a segment");
		goto out;
	}
	memcpy(out, hdr, TEXT_HDR);
	off = TEXT_HDR;
	for (k = 0; k < TEXT_NSEC; k++) {
		if (sec[k]->n)
			memcpy(out + off, sec[k]->p, sec[k]->n);
		off += (sec[k]->n + 7) & ~(uint64_t)7;
	}
	*body = out;
	*len = (size_t)off;
out:
	text_build_free(b);
	return rc;
}

/* ---- merging --------------------------------------------------------------
 */

int text_merge(struct text_seg *const *segs, const uint64_t *const *del,
	       size_t n, unsigned char **body, size_t *len,
	       struct osa_error *err)
{
	struct text_builder b;
	uint32_t **map = calloc(n ? n : 1, sizeof(*map));
	size_t *ti = calloc(n ? n : 1, sizeof(*ti));
	size_t i;
	struct text_cur *cur = malloc(sizeof(*cur));
	int rc = 0;

	text_build_init(&b);
	if (!map || !ti || !cur) {
		rc = osa_error_set(err, OSA_ENOMEM, "out of memory merging");
		goto out;
	}
	/* Documents: the live ones, in segment order. */
	for (i = 0; i < n; i++) {
		const struct text_seg *s = segs[i];
		uint32_t d;

		if (!(map[i] = malloc((s->ndocs ? s->ndocs : 1) *
				      sizeof(uint32_t)))) {
			rc = osa_error_set(err, OSA_ENOMEM,
					   "out of memory merging");
			goto out;
		}
		for (d = 0; d < s->ndocs; d++)
			map[i][d] =
				text_bit(del[i], d)
					? TEXT_NO_DOC
					: text_build_doc(
						  &b, s->docs[d].dl,
						  s->docs[d].rid,
						  s->srns + s->docs[d].srn_off);
	}
	/* Terms: a k-way merge of the sorted dictionaries. */
	for (;;) {
		const char *best = NULL;
		size_t bl = 0;

		for (i = 0; i < n; i++) {
			size_t l;
			const char *t;

			if (ti[i] >= segs[i]->nterms)
				continue;
			t = text_seg_term(segs[i], ti[i], &l);
			if (!best || text_tcmp(t, l, best, bl) < 0) {
				best = t;
				bl = l;
			}
		}
		if (!best)
			break;
		text_build_term(&b, best, bl);
		for (i = 0; i < n; i++) {
			size_t l;
			const char *t;

			if (ti[i] >= segs[i]->nterms)
				continue;
			t = text_seg_term(segs[i], ti[i], &l);
			if (text_tcmp(t, l, best, bl))
				continue;
			for (text_cur_init(cur, segs[i], ti[i]);
			     cur->doc != TEXT_NO_DOC; text_cur_next(cur)) {
				uint32_t nd = map[i][cur->doc];
				const unsigned char *raw;
				size_t rawlen;
				long np;

				if (nd == TEXT_NO_DOC)
					continue;
				np = text_cur_pos_raw(cur, &raw, &rawlen);
				if (np < 0) {
					cur->bad = true;
					break;
				}
				text_build_posting_raw(&b, nd, text_cur_tf(cur),
						       raw, rawlen, (size_t)np);
			}
			if (cur->bad) {
				rc = text_bad(segs[i]->path ? segs[i]->path
							    : "(memory)",
					      err, "malformed postings");
				goto out;
			}
			ti[i]++;
		}
		text_build_term_end(&b);
	}
	rc = text_build_finish(&b, body, len, err);
out:
	text_build_free(&b);
	if (map)
		for (i = 0; i < n; i++)
			free(map[i]);
	free(map);
	free(ti);
	free(cur);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * text.h - the insides of the `text` backend shared by its files, its tests
 * and bench/text.  Not part of the SDK.
 *
 *   analyze.c  one analysis function for index and query time: utf8proc
 *              NFKC + casefold, words by Unicode category, stopwords,
 *              Snowball stemming, token length bounds
 *   segment.c  the immutable segment format: build, check, read (cursors
 *              over block-compressed postings), merge
 *   search.c   query parsing and evaluation (BM25, block-max MaxScore)
 *   text.c     the backend: config, views, ingest, remove, checkpoint
 */
#ifndef OSA_BACKEND_TEXT_H
#define OSA_BACKEND_TEXT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <osa/backend.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "text segments are read in place as little-endian integers"
#endif

/* ---- analysis (analyze.c) --------------------------------------------- */

/* A stopword table of the generated text_stopwords.c. */
struct text_stoplist {
	const char *language; /* Snowball algorithm name */
	const char *const *words;
};
extern const struct text_stoplist text_stoplists[];

/* What analysis does; shared, read-only once built. */
struct text_analysis {
	char *language; /* Snowball algorithm, or NULL for none */
	char **stop;	/* sorted, normalised stopwords */
	size_t nstop;
	int min_token; /* in code points */
	int max_token;
};

/* One token: term bytes at buf[off..off+len), its position. */
struct text_token {
	uint32_t off, len, pos;
};

/* A cache of recent stems (direct-mapped; words up to 23 bytes). */
#define TEXT_STEM_CACHE 8192
#define TEXT_STEM_MAX 23
struct text_stem {
	uint8_t wlen, slen;
	char word[TEXT_STEM_MAX], stem[TEXT_STEM_MAX];
};

/* A reusable analyzer: one thread at a time (the stemmer keeps state). */
struct text_analyzer {
	const struct text_analysis *an;
	struct sb_stemmer *stemmer;
	struct text_stem *cache; /* TEXT_STEM_CACHE entries, lazily */
	char *buf;		 /* term bytes */
	size_t nbuf, capbuf;
	struct text_token *tok;
	size_t ntok, captok;
	char *word; /* scratch */
	size_t capword;
};

/*
 * Build the shared analysis: `language` a Snowball name or "none",
 * `stopwords` ["default"] (the language's list, plus any other words given),
 * ["none"] or [] (none) or a list of words.  0, OSA_EINVAL, OSA_ENOMEM.
 */
int text_analysis_init(struct text_analysis *an, const char *language,
		       const char *const *stopwords, size_t nstop,
		       int min_token, int max_token, struct osa_error *err);
void text_analysis_free(struct text_analysis *an);
/* Is `language` a libstemmer algorithm (or "none")? */
bool text_language_known(const char *language);

int text_analyzer_init(struct text_analyzer *a, const struct text_analysis *an,
		       struct osa_error *err);
void text_analyzer_free(struct text_analyzer *a);
/* Forget the tokens of earlier calls. */
void text_analyzer_reset(struct text_analyzer *a);

/*
 * The analysis, at index and query time: append to a->tok the tokens of
 * s[0..len) with positions from `pos0` (a stopword takes a position but
 * gives no token); *next_pos (optional) gets the position after the last
 * word.  `stem` false keeps words unstemmed (prefix queries).  Invalid UTF-8
 * is OSA_EINVAL saying where; OSA_ENOMEM.
 */
int text_analyze(struct text_analyzer *a, const char *s, size_t len, bool stem,
		 uint32_t pos0, uint32_t *next_pos, struct osa_error *err);

/* ---- segments (segment.c) --------------------------------------------- */

#define TEXT_BLOCK 128u	 /* postings per compressed block */
#define TEXT_TF_SCALE 8u /* tf and lengths are stored times this */
#define TEXT_NO_DOC UINT32_MAX
#define TEXT_FIELD_GAP 1024u	/* positions between fields (no phrase spans) */
#define TEXT_MAX_POS (1u << 20) /* words indexed per field */

/* One document of a segment's doc table. */
struct text_doc {
	uint32_t dl;	  /* length in tokens, times TEXT_TF_SCALE (boosts) */
	uint32_t rid;	  /* the backend's dense record id */
	uint32_t srn_off; /* NUL-terminated srn in the srn section */
};

/* One term of the sorted dictionary. */
struct text_term {
	uint32_t off; /* bytes in the term section; ends at the next's */
	uint32_t df;  /* documents (deleted ones included) */
	uint32_t blk; /* first block */
	uint32_t nblk;
};

/* One block of at most TEXT_BLOCK postings. */
struct text_blk {
	uint32_t last;	  /* its last doc */
	uint32_t max_tf;  /* its highest tf (scaled) */
	uint32_t min_dl;  /* its shortest document (scaled) */
	uint32_t doc_off; /* docs + tfs in the postings section */
	uint32_t pos_off; /* positions in the positions section */
};

/* A segment: a checked body, from a file (mmap) or from memory. */
struct text_seg {
	atomic_long ref;
	uint64_t gen; /* file name number; 0 for a memory segment */
	char *path;   /* the file, or NULL */
	void *map;    /* mmap of the whole file, or the malloc'd body */
	size_t maplen;
	const unsigned char *body;
	size_t len;
	uint32_t ndocs, nterms, nblocks;
	uint64_t sum_dl;
	const struct text_doc *docs;
	const char *srns;
	size_t srns_len;
	const struct text_term *terms;
	const char *tbytes;
	size_t tbytes_len;
	const struct text_blk *blks;
	const unsigned char *post, *pos;
	size_t post_len, pos_len;
};

/* Check a body and make a segment over it.  `path` names it in errors.
 * For memory segments `map` is the malloc'd body (freed with the segment).
 * OSA_ECORRUPT naming the file, OSA_ENOMEM. */
int text_seg_attach(void *map, size_t maplen, size_t body_off, const char *path,
		    uint64_t gen, struct text_seg **out, struct osa_error *err);
/* Map and check file `path` (an osa/snapshot.h file of kind "text"). */
int text_seg_open(const char *path, uint64_t gen, const char *desc,
		  struct text_seg **out, struct osa_error *err);
void text_seg_ref(struct text_seg *s);
void text_seg_unref(struct text_seg *s);

/* The term's index in the dictionary, or -1.  lower_bound variant. */
long text_seg_find(const struct text_seg *s, const char *t, size_t len);
size_t text_seg_lower(const struct text_seg *s, const char *t, size_t len);
/* Term i's bytes. */
const char *text_seg_term(const struct text_seg *s, size_t i, size_t *len);

/* A cursor over one term's postings. */
struct text_cur {
	const struct text_seg *seg;
	uint32_t blk0, blk_end, df;
	uint32_t b;    /* current block */
	uint32_t n, j; /* postings in it, current index */
	uint32_t doc;  /* current doc or TEXT_NO_DOC */
	bool bad;      /* malformed data met */
	/* positions of the current block, decoded lazily */
	const unsigned char *pp, *pend;
	uint32_t pj;
	uint32_t docs[TEXT_BLOCK], tfs[TEXT_BLOCK];
	/* scoring, set by search.c */
	double w;    /* idf * (k1 + 1) */
	uint32_t qt; /* query term number */
	double ub;   /* upper bound over the list */
};

void text_cur_init(struct text_cur *c, const struct text_seg *s, size_t term);
void text_cur_next(struct text_cur *c);
void text_cur_advance(struct text_cur *c, uint32_t target);
/* The block holding `target` or after it (no decoding), or UINT32_MAX. */
uint32_t text_cur_shallow(const struct text_cur *c, uint32_t target);
static inline uint32_t text_cur_tf(const struct text_cur *c)
{
	return c->tfs[c->j];
}
/* Positions of the current posting into *out (grown); their number, or -1
 * (malformed) / -2 (out of memory). */
long text_cur_positions(struct text_cur *c, uint32_t **out, size_t *cap);

/* Build a segment, terms in byte order. */
struct text_dbuf {
	unsigned char *p;
	size_t n, cap;
};
struct text_builder {
	struct text_dbuf docs, srns, terms, tbytes, blks, post, pos;
	uint32_t ndocs;
	uint64_t sum_dl;
	bool nomem, bad;
	/* the open term */
	size_t t_tbytes; /* tbytes length when it began */
	uint32_t t_df, t_blk0, t_inblk;
	int64_t t_prev;
	struct text_blk blk;
};
void text_build_init(struct text_builder *b);
void text_build_free(struct text_builder *b);
uint32_t text_build_doc(struct text_builder *b, uint32_t dl, uint32_t rid,
			const char *srn);
void text_build_term(struct text_builder *b, const char *t, size_t len);
void text_build_posting(struct text_builder *b, uint32_t doc, uint32_t tf,
			const uint32_t *pos, size_t npos);
void text_build_term_end(struct text_builder *b);
/* The body (malloc'd) and its length; frees the builder.  OSA_ENOMEM or
 * OSA_ELIMIT (a section passed 4 GiB). */
int text_build_finish(struct text_builder *b, unsigned char **body, size_t *len,
		      struct osa_error *err);

/* Merge segments, dropping the documents marked in `del` (bitmaps, NULL:
 * none) into a new body.  OSA_ECORRUPT (malformed postings), OSA_ENOMEM. */
int text_merge(struct text_seg *const *segs, const uint64_t *const *del,
	       size_t n, unsigned char **body, size_t *len,
	       struct osa_error *err);

static inline bool text_bit(const uint64_t *bits, uint32_t i)
{
	return bits && (bits[i >> 6] >> (i & 63)) & 1;
}

/* ---- views and search (text.c, search.c) ------------------------------ */

/* A deletion bitmap, immutable once published. */
struct text_bits {
	atomic_long ref;
	uint32_t ndel;	 /* bits set */
	uint64_t del_dl; /* sum of the deleted documents' dl */
	uint64_t w[];
};

struct text_slot {
	struct text_seg *seg;
	struct text_bits *del; /* or NULL */
};

/* What readers see: an immutable list of segments, swapped whole. */
struct text_view {
	atomic_long ref;
	size_t nseg, nfile; /* slots [0, nfile) are files, then memory */
	struct text_slot *slot;
	uint64_t live;	 /* live documents */
	uint64_t sum_dl; /* of live documents */
};

struct text_params {
	double k1, b;
};

/* What a filtered or faceted query adds to text_search(). */
struct text_where {
	/* Bit per record id: set when the record passes the filter; NULL:
	 * every record does.  Ids at or past `nallow` do not. */
	const uint64_t *allow;
	size_t nallow;
	/* Counts the record id of every match (not only the hits), or NULL. */
	struct osa_facet_counter *fc;
};

/*
 * Run query `text` over view `v`: hits best first (ties by srn), total
 * exact.  `w` (NULL: none) restricts the matches to the allowed records
 * and counts facets over all of them.  Takes an analyzer from the caller.
 * OSA_EINVAL (syntax, invalid UTF-8), OSA_ENOFEATURES (nothing to search),
 * OSA_ECORRUPT, OSA_ENOMEM.
 */
int text_search(const struct text_view *v, struct text_analyzer *a,
		const struct text_params *p, const char *text, size_t limit,
		size_t offset, const struct text_where *w,
		struct osa_hits *hits, struct osa_error *err);

#endif /* OSA_BACKEND_TEXT_H */

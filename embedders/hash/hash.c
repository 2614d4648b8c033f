/* SPDX-License-Identifier: MIT */
/*
 * hash.c - the `hash` embedder: feature hashing of normalised words, word
 * pairs and character n-grams into `dim` signed buckets, L2-normalised.  No
 * model files; the same text gives the same vector on every run, machine and
 * byte order.
 *
 * Normalisation.  The text is decoded as UTF-8; a byte that does not start a
 * valid sequence (overlong forms, surrogates and values beyond U+10FFFF
 * included) is a separator and decoding goes on at the next byte.  Letters
 * and digits make words, everything else separates them: ASCII punctuation
 * and controls, the Latin-1 punctuation and symbols (U+0080-U+00BF except
 * ª µ º, and × ÷), General Punctuation (U+2000-U+206F), currency, arrows,
 * mathematical and technical symbols, box drawing, dingbats (U+20A0-U+20FF,
 * U+2190-U+2BFF), Supplemental and CJK punctuation, fullwidth punctuation,
 * variation selectors, specials, emoji and pictographs (U+1F000-U+1FAFF) and
 * a few common Greek, Armenian, Hebrew, Arabic and Indic punctuation marks.
 * The soft hyphen, zero-width (non-)joiner and word joiner are dropped
 * without splitting the word they sit in.
 * Case is folded for ASCII, Latin-1 (À-Þ -> à-þ), Latin Extended-A
 * (Ā -> ā ..., İ -> i, Ÿ -> ÿ), basic Greek (with ς -> σ) and Cyrillic;
 * fullwidth Latin letters and digits become ASCII.  There is no Unicode
 * normalisation (send NFC, as JSON producers do) and accents are kept:
 * "café" and "cafe" are different words that share most of their n-grams.
 *
 * Features of a text, each hashed and added to one bucket with a sign:
 *   word        1.0    every word (a stop word: 0.2)
 *   pair        0.5    consecutive words, stop words skipped ("sea of ice"
 *                      gives "sea ice")
 *   n-gram      1.0 / sqrt(count)
 *                      every 3-, 4- and 5-code-point window of the word
 *                      padded as "<word>", where count is the word's number
 *                      of such windows: the n-grams of any word weigh 1.0 in
 *                      L2 norm (barring collisions), as much as the word
 *                      itself, so short and long words count alike.  Stop
 *                      words and all-digit words (years, counts) have no
 *                      n-grams; words longer than HASH_WORD_MAX bytes take
 *                      them from their first HASH_WORD_MAX bytes.
 * Stop words are ~60 frequent English function words (hash_stop_words).
 * The weights were picked on the sample records (samples/records.ndjson,
 * 3000 records, dim 384): for 2-word phrase queries the source record is
 * the best hit 50% and in the top 10 85% of the time; n-grams at 1.0 rather
 * than 0.7 double recall for truncated words ("volcan") at no cost for
 * exact words; pairs at 0.5 add ~8 points for phrases over no pairs.
 *
 * Hash: XXH3-64 (libxxhash, inlined) of the UTF-8 bytes of the folded
 * word or n-gram, with a per-kind seed; a pair is the XXH3 of its two words'
 * hashes (16 little-endian bytes) under a third seed.  The bucket is the
 * high half of (low 32 bits of h) * dim (Lemire's multiply-shift range
 * reduction, no division), the sign is bit 63.  The vector is then divided
 * by its L2 norm.  Anything here that changes a vector must change
 * HASH_VERSION, so describe() changes and snapshots and config hashes
 * notice (version 1 hashed with FNV-1a 64 and the murmur3 finaliser).
 *
 * Cost: one pass over the bytes, a bounded stack buffer per word (a word
 * longer than it streams through an XXH3 state), no allocation per
 * feature; an instance is read-only after create(), so any number of
 * threads may embed with it at once.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osa/embedder.h>

/* Header-only use of libxxhash: every call inlined, nothing to link. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#define HASH_VERSION 2
#define HASH_SEED 0x6f73616861736831ull /* "osahash1" */
#define HASH_SEED_CHARS (HASH_SEED ^ 0x9e3779b97f4a7c15ull)
#define HASH_SEED_PAIR 0xc2b2ae3d27d4eb4full

#define HASH_W_WORD 1.0f
#define HASH_W_STOP 0.2f
#define HASH_W_PAIR 0.5f
#define HASH_W_CHARS 1.0f
#define HASH_NMIN 3
#define HASH_NMAX 5

/* Bytes of a word its n-grams are taken from. */
#define HASH_WORD_MAX 128
/* Stop-word table slots (a power of two, over twice the list). */
#define HASH_STOP_SLOTS 128
/* Longest stop word, in bytes: longer words skip the lookup. */
#define HASH_STOP_MAXLEN 7

static const char *const hash_stop_words[] = {
	"a",	 "about", "after", "all",  "also",  "an",    "and",  "any",
	"are",	 "as",	  "at",	   "be",   "been",  "but",   "by",   "can",
	"could", "do",	  "for",   "from", "had",   "has",   "have", "how",
	"if",	 "in",	  "into",  "is",   "it",    "its",   "may",  "more",
	"no",	 "not",	  "of",	   "on",   "or",    "our",   "such", "than",
	"that",	 "the",	  "their", "then", "there", "these", "they", "this",
	"those", "to",	  "was",   "we",   "were",  "what",  "when", "which",
	"while", "who",	  "will",  "with", "would", NULL
};

struct hash {
	uint32_t dim;
	struct osa_embedding_config cfg; /* private copy */
	uint64_t stop[HASH_STOP_SLOTS];	 /* stop words' states; 0: free slot */
	char desc[128];
};

/*
 * One word being collected: "<", its folded bytes (the first HASH_WORD_MAX
 * of them, whole code points only), then ">" once it ends.  The word's hash
 * covers all its bytes: once buf is full, they stream through `st`.
 */
struct hash_word {
	unsigned char buf[HASH_WORD_MAX + 2];
	size_t nb;  /* bytes in buf (the leading "<" included) */
	size_t ncp; /* code points in buf (the leading "<" included) */
	size_t len; /* bytes of the whole word, however long */
	uint64_t h; /* hash of the whole word, set by hash_word_finish() */
	int full;   /* buf stopped taking code points; st holds the word */
	int digits; /* only ASCII digits so far */
	XXH3_state_t st;
};

/* What one embedding call accumulates. */
struct hash_acc {
	float *out;
	uint32_t dim;
	size_t words;
	uint64_t prev; /* state of the previous non-stop word */
	int have_prev;
};

/* ---- hashing ---------------------------------------------------------- */

/*
 * Add +-w to the bucket of hash `h` (XXH3 output: every input bit already
 * reaches every output bit).  The sign is applied to the float's bits (no
 * branch: it is a coin toss the branch predictor would lose half the time).
 */
static inline void hash_emit(float *out, uint32_t dim, uint64_t h,
			     uint32_t wbits)
{
	uint32_t b = (uint32_t)(((uint64_t)(uint32_t)h * dim) >> 32);
	uint32_t bits = wbits ^ ((uint32_t)(h >> 63) << 31);
	float w;

	memcpy(&w, &bits, sizeof(w));
	out[b] += w;
}

static inline uint32_t hash_fbits(float w)
{
	uint32_t bits;

	memcpy(&bits, &w, sizeof(bits));
	return bits;
}

/* The hash of the word pair (a, b): order matters. */
static inline uint64_t hash_pair(uint64_t a, uint64_t b)
{
	unsigned char p[16];
	int i;

	for (i = 0; i < 8; i++) {
		p[i] = (unsigned char)(a >> 8 * i);
		p[8 + i] = (unsigned char)(b >> 8 * i);
	}
	return XXH3_64bits_withSeed(p, sizeof(p), HASH_SEED_PAIR);
}

/* ---- UTF-8 and folding ------------------------------------------------ */

#define HASH_BAD 0xffffffffu  /* not valid UTF-8: a separator */
#define HASH_SKIP 0xfffffffeu /* invisible inside a word: dropped */

/* Decode the sequence at s[0..n) (n >= 1, s[0] >= 0x80); *adv its bytes. */
static uint32_t hash_decode(const unsigned char *s, size_t n, size_t *adv)
{
	unsigned c = s[0];
	uint32_t cp;
	size_t need, i;
	unsigned lo = 0x80, hi = 0xbf;

	*adv = 1;
	if (c < 0xc2 || c > 0xf4)
		return HASH_BAD;
	if (c < 0xe0) {
		need = 1;
		cp = c & 0x1f;
	} else if (c < 0xf0) {
		need = 2;
		cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f; /* no surrogates */
	} else {
		need = 3;
		cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f; /* nothing beyond U+10FFFF */
	}
	if (n <= need)
		return HASH_BAD;
	for (i = 1; i <= need; i++) {
		unsigned b = s[i];

		if (b < lo || b > hi)
			return HASH_BAD;
		lo = 0x80;
		hi = 0xbf;
		cp = cp << 6 | (b & 0x3f);
	}
	*adv = need + 1;
	return cp;
}

/* Non-Latin punctuation that separates words. */
static int hash_is_punct(uint32_t c)
{
	switch (c) {
	case 0x037e: /* Greek question mark */
	case 0x0387: /* Greek ano teleia */
	case 0x0589: /* Armenian full stop */
	case 0x05be: /* Hebrew maqaf */
	case 0x05c0:
	case 0x05c3: /* Hebrew sof pasuq */
	case 0x05f3:
	case 0x05f4:
	case 0x060c: /* Arabic comma */
	case 0x061b: /* Arabic semicolon */
	case 0x061f: /* Arabic question mark */
	case 0x066a:
	case 0x066b:
	case 0x066c:
	case 0x066d:
	case 0x06d4: /* Arabic full stop */
	case 0x0964: /* Devanagari danda */
	case 0x0965:
	case 0x0e4f:
	case 0x0e5a:
	case 0x0e5b:
	case 0x10fb:
	case 0x1361: /* Ethiopic wordspace */
	case 0x1362:
	case 0x1680: /* Ogham space */
	case 0x3000:
	case 0xfeff: /* byte order mark */
		return 1;
	}
	return 0;
}

/*
 * A code point >= 0x80 folded to lower case (or to ASCII for fullwidth
 * forms); 0 when it separates words; HASH_SKIP for the invisible marks that
 * sit inside words (soft hyphen, zero-width (non-)joiner, word joiner).
 */
static uint32_t hash_fold(uint32_t c)
{
	if (c < 0x100) {
		if (c == 0xad)
			return HASH_SKIP;
		if (c < 0xc0)
			return c == 0xaa || c == 0xb5 || c == 0xba ? c : 0;
		if (c == 0xd7 || c == 0xf7)
			return 0;
		return c <= 0xde ? c + 0x20 : c;
	}
	if (c < 0x180) { /* Latin Extended-A */
		if (c == 0x130)
			return 'i';
		if (c == 0x178)
			return 0xff;
		if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17f)
			return c;
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
			return c & 1 ? c + 1 : c;
		return c & 1 ? c : c + 1;
	}
	if (c < 0x370)
		return c;
	if (c < 0x400) { /* Greek */
		if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2)
			return c + 0x20;
		if (c == 0x3c2)
			return 0x3c3;
		if (c == 0x386)
			return 0x3ac;
		if (c >= 0x388 && c <= 0x38a)
			return c + 0x25;
		if (c == 0x38c)
			return 0x3cc;
		if (c == 0x38e || c == 0x38f)
			return c + 0x3f;
		return hash_is_punct(c) ? 0 : c;
	}
	if (c < 0x430) { /* Cyrillic capitals */
		return c < 0x410 ? c + 0x50 : c + 0x20;
	}
	if (c < 0x2000)
		return hash_is_punct(c) ? 0 : c;
	if (c < 0x2c00) {
		if (c == 0x200c || c == 0x200d || c == 0x2060)
			return HASH_SKIP;
		if (c < 0x2070 || (c >= 0x20a0 && c < 0x2100) || c >= 0x2190)
			return 0;
		return c;
	}
	if (c >= 0x2e00 && c < 0x2e80)
		return 0;
	if (c >= 0x3000 && c < 0x3040)
		return 0;
	if (c >= 0xe000 && c < 0xf900) /* private use */
		return 0;
	if (c >= 0xfe00 && c < 0xfe20) /* variation selectors, vertical */
		return 0;
	if (c >= 0xfe30 && c < 0xfe70)
		return 0;
	if (c >= 0xff00 && c < 0xff66) { /* fullwidth ASCII */
		if (c >= 0xff10 && c <= 0xff19)
			return '0' + (c - 0xff10);
		if (c >= 0xff21 && c <= 0xff3a)
			return 'a' + (c - 0xff21);
		if (c >= 0xff41 && c <= 0xff5a)
			return 'a' + (c - 0xff41);
		return 0;
	}
	if (c >= 0xfff0 && c <= 0xffff)
		return 0;
	if (c >= 0x1f000 && c < 0x1fb00) /* emoji, pictographs, cards */
		return 0;
	if (c >= 0xe0000 && c < 0xe0080) /* tags */
		return 0;
	if (c >= 0xf0000) /* supplementary private use */
		return 0;
	return hash_is_punct(c) ? 0 : c;
}

/* UTF-8 of `c` (valid, not a surrogate) into p; its length. */
static inline size_t hash_utf8(uint32_t c, unsigned char *p)
{
	if (c < 0x80) {
		p[0] = (unsigned char)c;
		return 1;
	}
	if (c < 0x800) {
		p[0] = (unsigned char)(0xc0 | c >> 6);
		p[1] = (unsigned char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		p[0] = (unsigned char)(0xe0 | c >> 12);
		p[1] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		p[2] = (unsigned char)(0x80 | (c & 0x3f));
		return 3;
	}
	p[0] = (unsigned char)(0xf0 | c >> 18);
	p[1] = (unsigned char)(0x80 | (c >> 12 & 0x3f));
	p[2] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
	p[3] = (unsigned char)(0x80 | (c & 0x3f));
	return 4;
}

/* ---- words ------------------------------------------------------------ */

static inline void hash_word_reset(struct hash_word *w)
{
	w->buf[0] = '<';
	w->nb = 1;
	w->ncp = 1;
	w->len = 0;
	w->h = 0;
	w->full = 0;
	w->digits = 1;
}

/* buf is full: from now on the word's bytes stream through w->st. */
static void hash_word_overflow(struct hash_word *w)
{
	w->full = 1;
	XXH3_INITSTATE(&w->st); /* the seeded reset reads the old seed */
	XXH3_64bits_reset_withSeed(&w->st, HASH_SEED);
	XXH3_64bits_update(&w->st, w->buf + 1, w->nb - 1);
}

/* Append the folded ASCII letter or digit `c`. */
static inline void hash_word_byte(struct hash_word *w, unsigned char c)
{
	w->len++;
	w->digits &= (unsigned)(c - '0') < 10;
	if (!w->full && w->nb >= HASH_WORD_MAX)
		hash_word_overflow(w);
	if (w->full) {
		XXH3_64bits_update(&w->st, &c, 1);
		return;
	}
	w->buf[w->nb++] = c;
	w->ncp++;
}

/* Append the folded code point whose UTF-8 is u[0..n). */
static void hash_word_add(struct hash_word *w, const unsigned char *u, size_t n)
{
	w->len += n;
	if (n > 1 || (unsigned)(u[0] - '0') >= 10)
		w->digits = 0;
	if (!w->full && w->nb + n > HASH_WORD_MAX)
		hash_word_overflow(w);
	if (w->full) {
		XXH3_64bits_update(&w->st, u, n);
		return;
	}
	memcpy(w->buf + w->nb, u, n);
	w->nb += n;
	w->ncp++;
}

/* The word is complete: its hash into w->h. */
static void hash_word_finish(struct hash_word *w)
{
	w->h = w->full ? XXH3_64bits_digest(&w->st)
		       : XXH3_64bits_withSeed(w->buf + 1, w->nb - 1, HASH_SEED);
}

static int hash_is_stop(const struct hash *hs, const struct hash_word *w)
{
	size_t i, k;

	if (w->len > HASH_STOP_MAXLEN)
		return 0;
	for (i = 0, k = w->h >> 57; i < HASH_STOP_SLOTS; i++, k++) {
		uint64_t s = hs->stop[k & (HASH_STOP_SLOTS - 1)];

		if (s == w->h)
			return 1;
		if (!s)
			return 0;
	}
	return 0;
}

/* Hash of every 3..5 window of the ASCII bytes p[0..np), into hv. */
static size_t hash_grams_ascii(const unsigned char *p, size_t np, uint64_t *hv)
{
	size_t i, k, m = 0;

	for (i = 0; i + HASH_NMIN <= np; i++) {
		size_t end = i + HASH_NMAX < np ? i + HASH_NMAX : np;

		for (k = i + HASH_NMIN; k <= end; k++)
			hv[m++] = XXH3_64bits_withSeed(p + i, k - i,
						       HASH_SEED_CHARS);
	}
	return m;
}

/* The same over np code points of UTF-8 in p (whole sequences). */
static size_t hash_grams_utf8(const unsigned char *p, size_t nb, size_t np,
			      uint64_t *hv)
{
	uint16_t off[HASH_WORD_MAX + 3];
	size_t i, k, m = 0, c = 0;

	for (i = 0; i < nb; i++)
		if ((p[i] & 0xc0) != 0x80)
			off[c++] = (uint16_t)i;
	off[c] = (uint16_t)nb;
	for (i = 0; i + HASH_NMIN <= np; i++) {
		size_t end = i + HASH_NMAX < np ? i + HASH_NMAX : np;

		for (k = i + HASH_NMIN; k <= end; k++)
			hv[m++] = XXH3_64bits_withSeed(
				p + off[i], off[k] - off[i], HASH_SEED_CHARS);
	}
	return m;
}

/* The features of the finished word `w`. */
static void hash_word_end(const struct hash *hs, struct hash_word *w,
			  struct hash_acc *a)
{
	uint64_t hv[3 * (HASH_WORD_MAX + 2)];
	float *out = a->out;
	uint32_t dim = a->dim, wb;
	int stop;
	size_t np, m, i;

	hash_word_finish(w);
	stop = hash_is_stop(hs, w);
	a->words++;
	hash_emit(out, dim, w->h, hash_fbits(stop ? HASH_W_STOP : HASH_W_WORD));
	if (stop)
		return;
	if (a->have_prev)
		hash_emit(out, dim, hash_pair(a->prev, w->h),
			  hash_fbits(HASH_W_PAIR));
	a->prev = w->h;
	a->have_prev = 1;
	if (w->digits)
		return;
	/* "<" word ">": windows of HASH_NMIN..HASH_NMAX code points. */
	w->buf[w->nb++] = '>';
	np = ++w->ncp;
	/*
	 * Hash every window first, then scatter: the multiply chains and the
	 * bucket updates pipeline better apart than interleaved.
	 */
	if (w->nb == np)
		m = hash_grams_ascii(w->buf, np, hv);
	else
		m = hash_grams_utf8(w->buf, w->nb, np, hv);
	if (!m)
		return;
	wb = hash_fbits(HASH_W_CHARS / sqrtf((float)m));
	for (i = 0; i < m; i++)
		hash_emit(out, dim, hv[i], wb);
}

/*
 * Hash the features of text[0..len) into out[0..dim) and L2-normalise.
 * 0, or 1 when the text has no features (out is then all zero).
 */
static int hash_text(const struct hash *hs, const char *text, size_t len,
		     float *out)
{
	const unsigned char *s = (const unsigned char *)text;
	struct hash_acc a = { .out = out, .dim = hs->dim };
	struct hash_word w;
	int in_word = 0;
	size_t i = 0;
	double sum = 0;
	float inv;

	memset(out, 0, hs->dim * sizeof(*out));
	while (i < len) {
		unsigned c = s[i];
		unsigned char u[4];
		size_t adv;
		uint32_t f;

		if (c < 0x80) { /* the common case, inline */
			if ((unsigned)((c | 0x20) - 'a') < 26)
				c |= 0x20;
			else if ((unsigned)(c - '0') >= 10)
				goto sep;
			if (!in_word) {
				hash_word_reset(&w);
				in_word = 1;
			}
			hash_word_byte(&w, (unsigned char)c);
			i++;
			continue;
		}
		f = hash_decode(s + i, len - i, &adv);
		if (f != HASH_BAD)
			f = hash_fold(f);
		if (f == HASH_SKIP) {
			i += adv;
			continue;
		}
		if (f && f != HASH_BAD) {
			if (!in_word) {
				hash_word_reset(&w);
				in_word = 1;
			}
			hash_word_add(&w, u, hash_utf8(f, u));
			i += adv;
			continue;
		}
		i += adv - 1;
	sep:
		if (in_word) {
			hash_word_end(hs, &w, &a);
			in_word = 0;
		}
		i++;
	}
	if (in_word)
		hash_word_end(hs, &w, &a);
	if (!a.words)
		return 1;
	for (i = 0; i < hs->dim; i++)
		sum += (double)out[i] * out[i];
	if (!(sum > 0))
		return 1; /* every feature cancelled another: nothing left */
	inv = (float)(1.0 / sqrt(sum));
	for (i = 0; i < hs->dim; i++)
		out[i] *= inv;
	return 0;
}

/* ---- the plugin ------------------------------------------------------- */

static void hash_cfg_free(struct osa_embedding_config *c)
{
	size_t i;

	for (i = 0; i < c->fields.n; i++)
		free(c->fields.v[i]);
	free(c->fields.v);
	free(c->embedder);
	free(c->template_);
	free(c->vector_field);
	memset(c, 0, sizeof(*c));
}

static int hash_strdup(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

static int hash_cfg_copy(struct osa_embedding_config *d,
			 const struct osa_embedding_config *s)
{
	size_t i;

	memset(d, 0, sizeof(*d));
	if (hash_strdup(&d->embedder, s->embedder) ||
	    hash_strdup(&d->template_, s->template_) ||
	    hash_strdup(&d->vector_field, s->vector_field))
		return -1;
	if (!s->fields.n)
		return 0;
	d->fields.v = calloc(s->fields.n, sizeof(*d->fields.v));
	if (!d->fields.v)
		return -1;
	for (i = 0; i < s->fields.n; i++, d->fields.n++)
		if (hash_strdup(&d->fields.v[i], s->fields.v[i]))
			return -1;
	return 0;
}

/* A short digest of what makes the text (fields or template). */
static uint32_t hash_text_digest(const struct osa_embedding_config *c)
{
	XXH3_state_t st;
	size_t i;

	XXH3_INITSTATE(&st); /* the seeded reset reads the old seed */
	XXH3_64bits_reset_withSeed(&st, HASH_SEED);
	if (c->template_ && c->template_[0]) {
		XXH3_64bits_update(&st, "T", 1);
		XXH3_64bits_update(&st, c->template_, strlen(c->template_) + 1);
	} else {
		XXH3_64bits_update(&st, "F", 1);
		for (i = 0; i < c->fields.n; i++)
			XXH3_64bits_update(&st, c->fields.v[i],
					   strlen(c->fields.v[i]) + 1);
	}
	return (uint32_t)(XXH3_64bits_digest(&st) >> 32);
}

static void hash_destroy(void *self)
{
	struct hash *hs = self;

	hash_cfg_free(&hs->cfg);
	free(hs);
}

static int hash_create(const struct osa_embedder_args *args, void **self,
		       struct osa_error *err)
{
	struct hash *hs;
	size_t i;

	*self = NULL;
	if (args->dim < 1)
		return osa_error_set(err, OSA_EINVAL,
				     "embedder \"hash\": dim must be at least "
				     "1, got %d",
				     args->dim);
	hs = calloc(1, sizeof(*hs));
	if (!hs)
		return osa_error_set(err, OSA_ENOMEM,
				     "embedder \"hash\": out of memory");
	hs->dim = (uint32_t)args->dim;
	if (hash_cfg_copy(&hs->cfg, args->cfg)) {
		hash_destroy(hs);
		return osa_error_set(err, OSA_ENOMEM,
				     "embedder \"hash\": out of memory");
	}
	for (i = 0; hash_stop_words[i]; i++) {
		struct hash_word w;
		const char *p;
		size_t k;

		hash_word_reset(&w);
		for (p = hash_stop_words[i]; *p; p++)
			hash_word_add(&w, (const unsigned char *)p, 1);
		hash_word_finish(&w);
		for (k = w.h >> 57; hs->stop[k & (HASH_STOP_SLOTS - 1)]; k++)
			;
		hs->stop[k & (HASH_STOP_SLOTS - 1)] = w.h;
	}
	snprintf(hs->desc, sizeof(hs->desc),
		 "hash v%d xxh3 seed=0x%016llx words=1-2 "
		 "chars=%d-%d w=1/.5/1 stop=.2 dim=%u text=%08x",
		 HASH_VERSION, (unsigned long long)HASH_SEED, HASH_NMIN,
		 HASH_NMAX, hs->dim, (unsigned)hash_text_digest(&hs->cfg));
	*self = hs;
	return 0;
}

/* "title, summary" or the template, for messages. */
static void hash_source(const struct hash *hs, char *buf, size_t n)
{
	size_t i, len = 0;

	if (hs->cfg.template_ && hs->cfg.template_[0]) {
		snprintf(buf, n, "its template \"%s\"", hs->cfg.template_);
		return;
	}
	len = (size_t)snprintf(buf, n, "its field%s ",
			       hs->cfg.fields.n == 1 ? "" : "s");
	for (i = 0; i < hs->cfg.fields.n && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%s",
					i ? ", " : "", hs->cfg.fields.v[i]);
	if (!hs->cfg.fields.n)
		snprintf(buf, n, "no fields (embedding.fields is empty)");
}

static int hash_embed_record(void *self, const struct osa_record *rec,
			     float *out, struct osa_error *err)
{
	const struct hash *hs = self;
	char *text, src[200];
	size_t len;
	int rc;

	rc = osa_embedding_text(&hs->cfg, rec, &text, &len, err);
	if (rc)
		return rc;
	rc = hash_text(hs, text, len, out);
	free(text);
	if (rc) {
		hash_source(hs, src, sizeof(src));
		return osa_error_set(err, OSA_ENOFEATURES,
				     "record %s has no words to embed in %s",
				     osa_record_srn(rec), src);
	}
	return 0;
}

static int hash_embed_text(void *self, const char *text, size_t len, float *out,
			   struct osa_error *err)
{
	if (hash_text(self, text, len, out))
		return osa_error_set(err, OSA_ENOFEATURES,
				     "query has no words to search for");
	return 0;
}

static void hash_describe(void *self, char *buf, size_t n)
{
	const struct hash *hs = self;

	snprintf(buf, n, "%s", hs->desc);
}

static const struct osa_embedder hash_embedder = {
	.abi = OSA_EMBEDDER_ABI,
	.size = sizeof(struct osa_embedder),
	.name = "hash",
	.doc = "feature hashing of words, word pairs and character n-grams "
	       "(no model files, deterministic)",
	.create = hash_create,
	.embed_record = hash_embed_record,
	.embed_text = hash_embed_text,
	.describe = hash_describe,
	.destroy = hash_destroy,
};

OSA_EMBEDDER_REGISTER(hash_embedder);

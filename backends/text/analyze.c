/* SPDX-License-Identifier: MIT */
/*
 * analyze.c - the `text` backend's analysis, the same at index and query
 * time:
 *
 *   1. Unicode NFKC + case folding with utf8proc (utf8proc_map with
 *      COMPAT | COMPOSE | CASEFOLD | STABLE).  Invalid UTF-8 is an error.
 *      Pure ASCII input skips the call: NFKC leaves ASCII as it is and its
 *      case fold is tolower, so the result is the same.
 *   2. Words: maximal runs of code points of the categories L* (letters),
 *      M* (marks) and N* (numbers), as utf8proc_category() says; anything
 *      else separates words.
 *   3. Each word takes a position.  Words shorter than min_token or longer
 *      than max_token code points, and stopwords, give no token.
 *   4. The Snowball stemmer of the language (sb_stemmer_new(lang, "UTF_8")),
 *      behind a small direct-mapped cache of recent words (word frequencies
 *      are skewed: most words were stemmed a moment ago).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>
#include <utf8proc.h>

#include "text.h"

static int text_cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool text_language_known(const char *language)
{
	const char **l;

	if (!language)
		return false;
	if (!strcmp(language, "none"))
		return true;
	for (l = sb_stemmer_list(); l && *l; l++)
		if (!strcmp(*l, language))
			return true;
	return false;
}

static int text_grow(void **p, size_t *cap, size_t want, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *q;

	if (want <= *cap)
		return 0;
	while (c < want)
		c *= 2;
	if (!(q = realloc(*p, c * size)))
		return OSA_ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/* Add one normalised word to the stop list (growing by one). */
static int text_stop_add(struct text_analysis *an, size_t *cap, const char *w,
			 size_t len)
{
	char *s;

	if (text_grow((void **)&an->stop, cap, an->nstop + 1, sizeof(char *)))
		return OSA_ENOMEM;
	if (!(s = strndup(w, len)))
		return OSA_ENOMEM;
	an->stop[an->nstop++] = s;
	return 0;
}

/* Normalise `word` as the analysis does (without stopwords or stemming) and
 * add its tokens to the stop list. */
static int text_stop_word(struct text_analysis *an, size_t *cap,
			  const char *word, struct osa_error *err)
{
	struct text_analysis plain = { .min_token = 1, .max_token = 1 << 20 };
	struct text_analyzer a;
	size_t i;
	int rc;

	if ((rc = text_analyzer_init(&a, &plain, err)))
		return rc;
	rc = text_analyze(&a, word, strlen(word), false, 0, NULL, err);
	for (i = 0; !rc && i < a.ntok; i++)
		rc = text_stop_add(an, cap, a.buf + a.tok[i].off, a.tok[i].len);
	text_analyzer_free(&a);
	if (rc == OSA_ENOMEM)
		osa_error_set(err, rc, "out of memory");
	return rc;
}

int text_analysis_init(struct text_analysis *an, const char *language,
		       const char *const *stopwords, size_t nstop,
		       int min_token, int max_token, struct osa_error *err)
{
	size_t cap = 0, i, j;
	int rc = 0;

	memset(an, 0, sizeof(*an));
	an->min_token = min_token;
	an->max_token = max_token;
	if (!text_language_known(language))
		return osa_error_set(err, OSA_EINVAL,
				     "language \"%s\" is not a Snowball "
				     "algorithm of this libstemmer",
				     language ? language : "(null)");
	if (strcmp(language, "none") && !(an->language = strdup(language)))
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	for (i = 0; i < nstop && !rc; i++) {
		const struct text_stoplist *l;

		if (!strcmp(stopwords[i], "none"))
			continue;
		if (strcmp(stopwords[i], "default")) {
			rc = text_stop_word(an, &cap, stopwords[i], err);
			continue;
		}
		for (l = text_stoplists; l->language && !rc; l++) {
			const char *const *w;

			if (strcmp(l->language, language))
				continue;
			for (w = l->words; *w && !rc; w++)
				rc = text_stop_word(an, &cap, *w, err);
		}
	}
	if (rc) {
		text_analysis_free(an);
		return rc;
	}
	/* Sorted and unique, for bsearch. */
	if (an->nstop)
		qsort(an->stop, an->nstop, sizeof(char *), text_cmpstr);
	for (i = j = 0; i < an->nstop; i++) {
		if (j && !strcmp(an->stop[j - 1], an->stop[i])) {
			free(an->stop[i]);
			continue;
		}
		an->stop[j++] = an->stop[i];
	}
	an->nstop = j;
	return 0;
}

void text_analysis_free(struct text_analysis *an)
{
	size_t i;

	if (!an)
		return;
	for (i = 0; i < an->nstop; i++)
		free(an->stop[i]);
	free(an->stop);
	free(an->language);
	memset(an, 0, sizeof(*an));
}

int text_analyzer_init(struct text_analyzer *a, const struct text_analysis *an,
		       struct osa_error *err)
{
	memset(a, 0, sizeof(*a));
	a->an = an;
	if (an->language &&
	    !(a->stemmer = sb_stemmer_new(an->language, "UTF_8")))
		return osa_error_set(err, OSA_ENOMEM,
				     "cannot create the Snowball stemmer "
				     "\"%s\" (out of memory?)",
				     an->language);
	return 0;
}

void text_analyzer_free(struct text_analyzer *a)
{
	if (!a)
		return;
	sb_stemmer_delete(a->stemmer);
	free(a->cache);
	free(a->buf);
	free(a->tok);
	free(a->word);
	memset(a, 0, sizeof(*a));
}

void text_analyzer_reset(struct text_analyzer *a)
{
	a->nbuf = 0;
	a->ntok = 0;
}

static bool text_is_stop(const struct text_analysis *an, const char *w,
			 size_t len)
{
	size_t lo = 0, hi = an->nstop;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(an->stop[mid], w, len);

		if (!c)
			c = an->stop[mid][len] ? 1 : 0;
		if (!c)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* One word w[0..len) of `ncp` code points at position `pos`. */
static int text_word(struct text_analyzer *a, const char *w, size_t len,
		     size_t ncp, bool stem, uint32_t pos)
{
	const struct text_analysis *an = a->an;
	struct text_token *t;

	if ((int)ncp < an->min_token || ncp > (size_t)an->max_token)
		return 0;
	if (an->nstop && text_is_stop(an, w, len))
		return 0;
	if (stem && a->stemmer) {
		struct text_stem *c = NULL;
		const sb_symbol *s;

		if (len <= TEXT_STEM_MAX &&
		    (a->cache ||
		     (a->cache = calloc(TEXT_STEM_CACHE, sizeof(*a->cache))))) {
			uint32_t h = 2166136261u;

			for (size_t i = 0; i < len; i++)
				h = (h ^ (unsigned char)w[i]) * 16777619u;
			c = &a->cache[h & (TEXT_STEM_CACHE - 1)];
			if (c->wlen == len && !memcmp(c->word, w, len)) {
				w = c->stem;
				len = c->slen;
				goto stemmed;
			}
		}
		s = sb_stemmer_stem(a->stemmer, (const sb_symbol *)w, (int)len);
		if (!s)
			return OSA_ENOMEM;
		if (c && sb_stemmer_length(a->stemmer) <= TEXT_STEM_MAX) {
			c->wlen = (uint8_t)len;
			memcpy(c->word, w, len);
			c->slen = (uint8_t)sb_stemmer_length(a->stemmer);
			memcpy(c->stem, s, c->slen);
		}
		w = (const char *)s;
		len = (size_t)sb_stemmer_length(a->stemmer);
	}
stemmed:
	if (!len)
		return 0;
	if (text_grow((void **)&a->buf, &a->capbuf, a->nbuf + len, 1) ||
	    text_grow((void **)&a->tok, &a->captok, a->ntok + 1,
		      sizeof(*a->tok)))
		return OSA_ENOMEM;
	memcpy(a->buf + a->nbuf, w, len);
	t = &a->tok[a->ntok++];
	t->off = (uint32_t)a->nbuf;
	t->len = (uint32_t)len;
	t->pos = pos;
	a->nbuf += len;
	return 0;
}

static bool text_word_cat(utf8proc_int32_t cp)
{
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return true;
	default:
		return false;
	}
}

/* ASCII: fold and split in one pass, no allocation. */
static int text_ascii(struct text_analyzer *a, const char *s, size_t len,
		      bool stem, uint32_t *pos)
{
	size_t i = 0, n;
	int rc;

	while (i < len) {
		while (i < len && !isalnum((unsigned char)s[i]))
			i++;
		if (i == len)
			break;
		for (n = 0; i + n < len && isalnum((unsigned char)s[i + n]);
		     n++)
			;
		if (text_grow((void **)&a->word, &a->capword, n + 1, 1))
			return OSA_ENOMEM;
		for (size_t k = 0; k < n; k++)
			a->word[k] = (char)tolower((unsigned char)s[i + k]);
		if ((rc = text_word(a, a->word, n, n, stem, (*pos)++)))
			return rc;
		i += n;
	}
	return 0;
}

int text_analyze(struct text_analyzer *a, const char *s, size_t len, bool stem,
		 uint32_t pos0, uint32_t *next_pos, struct osa_error *err)
{
	utf8proc_uint8_t *norm = NULL;
	utf8proc_ssize_t nlen, i = 0;
	uint32_t pos = pos0;
	bool ascii = true;
	size_t k;
	int rc = 0;

	for (k = 0; k < len && ascii; k++)
		ascii = !((unsigned char)s[k] & 0x80);
	if (ascii) {
		rc = text_ascii(a, s, len, stem, &pos);
		goto out;
	}
	nlen = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len,
			    &norm,
			    UTF8PROC_STABLE | UTF8PROC_COMPAT |
				    UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
	if (nlen < 0) {
		/* Find the first bad byte for the message. */
		utf8proc_ssize_t at = 0, step;
		utf8proc_int32_t cp;

		while (at < (utf8proc_ssize_t)len &&
		       (step = utf8proc_iterate(
				(const utf8proc_uint8_t *)s + at,
				(utf8proc_ssize_t)len - at, &cp)) > 0)
			at += step;
		if (nlen == UTF8PROC_ERROR_NOMEM)
			return osa_error_set(err, OSA_ENOMEM, "out of memory");
		return osa_error_set(err, OSA_EINVAL,
				     "invalid UTF-8 at byte %zd of the text "
				     "(%s); send UTF-8",
				     at, utf8proc_errmsg(nlen));
	}
	while (i < nlen && !rc) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t step, start, ncp = 0;

		step = utf8proc_iterate(norm + i, nlen - i, &cp);
		if (step <= 0)
			break; /* utf8proc's own output: cannot happen */
		if (!text_word_cat(cp)) {
			i += step;
			continue;
		}
		start = i;
		while (i < nlen) {
			step = utf8proc_iterate(norm + i, nlen - i, &cp);
			if (step <= 0 || !text_word_cat(cp))
				break;
			i += step;
			ncp++;
		}
		rc = text_word(a, (const char *)norm + start,
			       (size_t)(i - start), (size_t)ncp, stem, pos++);
	}
	free(norm);
out:
	if (rc)
		return osa_error_set(err, rc, "out of memory analysing text");
	if (next_pos)
		*next_pos = pos;
	return 0;
}

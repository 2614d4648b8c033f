/* SPDX-License-Identifier: MIT */
/*
 * jtext.h - JSON kept as the client wrote it.
 *
 * Records are stored and answered as their original text (DESIGN.md,
 * "Records are kept as written"): jansson validates them and gives the
 * accessors their values, but nothing is re-serialised, so numbers (0.1,
 * 12345678901234567890) and member order come back byte for byte.  These
 * helpers find values and members inside text that is already valid JSON,
 * and build replies in a reusable buffer.  They keep no state: any number
 * of threads may call them.
 */
#ifndef OSAI_JTEXT_H
#define OSAI_JTEXT_H

#include <stddef.h>

#include <jansson.h>

/*
 * json_loadb() that accepts every number JSON allows: an integer beyond
 * int64 becomes a real in the tree and a real beyond double becomes
 * +-DBL_MAX, where jansson alone refuses both ("too big integer", "real
 * number overflow").  The text itself is not changed: keep it for output.
 * NULL with `je` filled on invalid JSON; its position is in `text`, except
 * that each such number before the error moves it on a little (jansson
 * reads a copy in which they are rewritten).
 */
json_t *osai_jtext_load(const char *text, size_t len, size_t flags,
			json_error_t *je);

/* Skip JSON whitespace from `pos`; returns the first other position. */
size_t osai_jtext_ws(const char *t, size_t len, size_t pos);

/*
 * The end of the JSON value that starts at t[pos] (no whitespace before it)
 * in valid JSON text: one past its last byte.
 */
size_t osai_jtext_skip(const char *t, size_t len, size_t pos);

/*
 * Walk the items of the array whose text is t[0..len) (valid JSON, with
 * whitespace allowed around it).  Start with *pos = 0; each call returns 1
 * and the item's bytes [*b, *e), or 0 after the last one.
 */
int osai_jtext_item(const char *t, size_t len, size_t *pos, size_t *b,
		    size_t *e);

/*
 * The top-level member `name` of the object t[0..len) (valid JSON): 1 and
 * its value's bytes [*vb, *ve) and, when `cut_b` and `cut_e` are given, the
 * bytes [*cut_b, *cut_e) whose removal leaves a valid object without the
 * member (the member with one neighbouring comma).  0 when absent.  Names
 * written with escapes are compared decoded.
 */
int osai_jtext_member(const char *t, size_t len, const char *name, size_t *vb,
		      size_t *ve, size_t *cut_b, size_t *cut_e);

/* A growing output buffer; keep it between requests to reuse its memory. */
struct osai_buf {
	char *p; /* NUL-terminated when n > 0 */
	size_t n, cap;
	int oom; /* an append failed; the content is incomplete */
};

void osai_buf_reset(struct osai_buf *b); /* n = 0, oom = 0, memory kept */
void osai_buf_free(struct osai_buf *b);
void osai_buf_put(struct osai_buf *b, const char *s, size_t n);
void osai_buf_puts(struct osai_buf *b, const char *s);
/* printf-style append. */
void osai_buf_printf(struct osai_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A JSON string literal of s[0..n) (UTF-8), escaped as jansson does. */
void osai_buf_jstr(struct osai_buf *b, const char *s, size_t n);
/* A JSON number for a double, as jansson's json_dumps writes a real. */
void osai_buf_jreal(struct osai_buf *b, double d);

#endif /* OSAI_JTEXT_H */

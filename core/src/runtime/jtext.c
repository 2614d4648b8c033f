/* SPDX-License-Identifier: MIT */
/*
 * jtext.c - JSON kept as text (see jtext.h).
 *
 * Validation is jansson's.  The scanners below run only over text jansson
 * accepted, so they track just what the grammar needs to find a value's
 * end: strings (with their escapes) and bracket depth.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jtext.h"

/* ---- loading ------------------------------------------------------------ */

static int jt_numchar(char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
	       c == 'e' || c == 'E';
}

/*
 * What jansson would refuse in the number t[0..n): 1 an integer beyond
 * int64, 2 (-1 when negative) a real beyond double, 0 otherwise (including
 * bad syntax, which jansson reports itself).
 */
static int jt_number_kind(const char *t, size_t n)
{
	static const char max[] = "9223372036854775807";
	const char *d = t;
	size_t nd, i;
	char buf[512];
	double v;

	if (*d == '-')
		d++;
	nd = n - (size_t)(d - t);
	for (i = 0; i < nd; i++)
		if (d[i] < '0' || d[i] > '9')
			break;
	if (i == nd) { /* an integer */
		if (!nd || (d[0] == '0' && nd > 1))
			return 0;
		if (nd < 19)
			return 0;
		if (nd > 19)
			return 1;
		/* 19 digits: compare; -9223372036854775808 still fits. */
		if (memcmp(d, max, 19) <= 0)
			return 0;
		if (t[0] == '-' && !memcmp(d, "9223372036854775808", 19))
			return 0;
		return 1;
	}
	if (n >= sizeof(buf))
		return 0; /* such a long real: let jansson judge it */
	memcpy(buf, t, n);
	buf[n] = '\0';
	errno = 0;
	v = strtod(buf, NULL);
	if (errno == ERANGE && isinf(v))
		return v < 0 ? -1 : 2;
	return 0;
}

/*
 * Walk JSON text for the numbers jansson would refuse (jt_number_kind).
 * Without `out`: return how many there are and add to *extra the bytes
 * their rewriting needs.  With `out` (len + extra + 1 bytes): write the
 * text there with each one made acceptable and return its length.
 */
static size_t jt_rewrite(const char *text, size_t len, char *out, size_t *extra)
{
	size_t i, o = 0, nrw = 0;
	int str = 0, esc = 0;

	for (i = 0; i < len; i++) {
		char c = text[i];

		if (str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				str = 0;
		} else if (c == '"') {
			str = 1;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t b = i;
			int k;

			while (i < len && jt_numchar(text[i]))
				i++;
			k = jt_number_kind(text + b, i - b);
			nrw += k != 0;
			if (!out) {
				/* "...0" + ".0", or a rewritten real */
				*extra += k == 1 ? 2 : k ? 32 : 0;
			} else if (k == 1 || !k) {
				memcpy(out + o, text + b, i - b);
				o += i - b;
				if (k == 1) {
					memcpy(out + o, ".0", 2);
					o += 2;
				}
			} else {
				o += (size_t)sprintf(out + o, "%s%.17g",
						     k < 0 ? "-" : "", DBL_MAX);
			}
			i--;
			continue;
		}
		if (out)
			out[o++] = c;
	}
	return out ? o : nrw;
}

json_t *osai_jtext_load(const char *text, size_t len, size_t flags,
			json_error_t *je)
{
	size_t extra = 0, o;
	char *copy;
	json_t *root;

	if (!jt_rewrite(text, len, NULL, &extra))
		return json_loadb(text, len, flags, je);
	/* A copy for jansson only, with those numbers made acceptable; the
	 * caller keeps the original text. */
	copy = malloc(len + extra + 1);
	if (!copy) {
		if (je) {
			memset(je, 0, sizeof(*je));
			snprintf(je->text, sizeof(je->text), "out of memory");
		}
		return NULL;
	}
	o = jt_rewrite(text, len, copy, NULL);
	root = json_loadb(copy, o, flags, je);
	free(copy);
	return root;
}

/* ---- scanning ----------------------------------------------------------- */

size_t osai_jtext_ws(const char *t, size_t len, size_t pos)
{
	while (pos < len && (t[pos] == ' ' || t[pos] == '\t' ||
			     t[pos] == '\n' || t[pos] == '\r'))
		pos++;
	return pos;
}

/* One past the closing quote of the string starting at t[pos]. */
static size_t jt_string_end(const char *t, size_t len, size_t pos)
{
	for (pos++; pos < len; pos++) {
		if (t[pos] == '\\')
			pos++;
		else if (t[pos] == '"')
			return pos + 1;
	}
	return len;
}

size_t osai_jtext_skip(const char *t, size_t len, size_t pos)
{
	size_t depth = 0;

	if (pos >= len)
		return len;
	if (t[pos] == '"')
		return jt_string_end(t, len, pos);
	if (t[pos] != '{' && t[pos] != '[') {
		while (pos < len && t[pos] != ',' && t[pos] != ']' &&
		       t[pos] != '}' && t[pos] != ' ' && t[pos] != '\t' &&
		       t[pos] != '\n' && t[pos] != '\r')
			pos++;
		return pos;
	}
	while (pos < len) {
		char c = t[pos];

		if (c == '"') {
			pos = jt_string_end(t, len, pos);
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				return pos + 1;
		}
		pos++;
	}
	return len;
}

int osai_jtext_item(const char *t, size_t len, size_t *pos, size_t *b,
		    size_t *e)
{
	size_t p = *pos;

	if (p == 0) {
		p = osai_jtext_ws(t, len, 0);
		if (p >= len || t[p] != '[')
			return 0;
		p++;
	}
	p = osai_jtext_ws(t, len, p);
	if (p < len && t[p] == ',')
		p = osai_jtext_ws(t, len, p + 1);
	if (p >= len || t[p] == ']') {
		*pos = len;
		return 0;
	}
	*b = p;
	*e = osai_jtext_skip(t, len, p);
	*pos = *e;
	return 1;
}

/* Is the member name t[kb..ke) (with its quotes) equal to `name`? */
static int jt_name_is(const char *t, size_t kb, size_t ke, const char *name)
{
	size_t n = ke - kb - 2;
	json_t *s;
	int eq;

	if (!memchr(t + kb + 1, '\\', n))
		return n == strlen(name) && !memcmp(t + kb + 1, name, n);
	s = json_loadb(t + kb, ke - kb, JSON_DECODE_ANY, NULL);
	eq = json_is_string(s) && json_string_length(s) == strlen(name) &&
	     !memcmp(json_string_value(s), name, strlen(name));
	json_decref(s);
	return eq;
}

int osai_jtext_member(const char *t, size_t len, const char *name, size_t *vb,
		      size_t *ve, size_t *cut_b, size_t *cut_e)
{
	size_t p = osai_jtext_ws(t, len, 0), prev_end = 0;
	int first = 1;

	if (p >= len || t[p] != '{')
		return 0;
	prev_end = p + 1; /* just after '{' */
	p = osai_jtext_ws(t, len, p + 1);
	while (p < len && t[p] == '"') {
		size_t kb = p, ke = jt_string_end(t, len, p), b, e, next;

		p = osai_jtext_ws(t, len, ke);
		if (p >= len || t[p] != ':')
			return 0;
		b = osai_jtext_ws(t, len, p + 1);
		e = osai_jtext_skip(t, len, b);
		next = osai_jtext_ws(t, len, e);
		if (jt_name_is(t, kb, ke, name)) {
			*vb = b;
			*ve = e;
			if (cut_b && cut_e) {
				if (next < len && t[next] == ',') {
					/* Not the last: the member and the
					 * comma after it. */
					*cut_b = kb;
					*cut_e =
						osai_jtext_ws(t, len, next + 1);
				} else if (!first) {
					/* The last of several: the comma
					 * before it and the member. */
					*cut_b = prev_end;
					*cut_e = e;
				} else {
					*cut_b = kb;
					*cut_e = e;
				}
			}
			return 1;
		}
		first = 0;
		prev_end = e;
		if (next >= len || t[next] != ',')
			return 0;
		p = osai_jtext_ws(t, len, next + 1);
	}
	return 0;
}

/* ---- output buffer ------------------------------------------------------ */

void osai_buf_reset(struct osai_buf *b)
{
	b->n = 0;
	b->oom = 0;
	if (b->p)
		b->p[0] = '\0';
}

void osai_buf_free(struct osai_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
	b->oom = 0;
}

/* Room for n more bytes and a NUL: 0, or -1 (oom set). */
static int jt_reserve(struct osai_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -1;
	if (n < b->cap - b->n)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (n >= cap - b->n) {
		if (cap > ((size_t)-1) / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void osai_buf_put(struct osai_buf *b, const char *s, size_t n)
{
	if (jt_reserve(b, n))
		return;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void osai_buf_puts(struct osai_buf *b, const char *s)
{
	osai_buf_put(b, s, strlen(s));
}

void osai_buf_printf(struct osai_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (jt_reserve(b, 64))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if ((size_t)n >= b->cap - b->n) {
		if (jt_reserve(b, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
	}
	b->n += (size_t)n;
}

void osai_buf_jstr(struct osai_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	/* Worst case: every byte becomes \u00XX. */
	if (jt_reserve(b, n * 6 + 2))
		return;
	b->p[b->n++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char *o;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		memcpy(b->p + b->n, s + run, i - run);
		b->n += i - run;
		run = i + 1;
		o = b->p + b->n;
		o[0] = '\\';
		switch (c) {
		case '"':
		case '\\':
			o[1] = (char)c;
			b->n += 2;
			break;
		case '\b':
			o[1] = 'b';
			b->n += 2;
			break;
		case '\f':
			o[1] = 'f';
			b->n += 2;
			break;
		case '\n':
			o[1] = 'n';
			b->n += 2;
			break;
		case '\r':
			o[1] = 'r';
			b->n += 2;
			break;
		case '\t':
			o[1] = 't';
			b->n += 2;
			break;
		default:
			memcpy(o + 1, "u00", 3);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			b->n += 6;
			break;
		}
	}
	memcpy(b->p + b->n, s + run, n - run);
	b->n += n - run;
	b->p[b->n++] = '"';
	b->p[b->n] = '\0';
}

void osai_buf_jreal(struct osai_buf *b, double d)
{
	char buf[64], *e;
	int n;

	if (!isfinite(d)) {
		osai_buf_put(b, "null", 4);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%.17g", d);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		b->oom = 1;
		return;
	}
	if (!strpbrk(buf, ".eE")) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	/* jansson drops the exponent's '+' and leading zeros: 1e-05 -> 1e-5 */
	e = strchr(buf, 'e');
	if (e) {
		char *start = e + 1, *end = e + 2;

		if (*start == '-')
			start++;
		while (*end == '0' && end[1])
			end++;
		if (end != start) {
			memmove(start, end, strlen(end) + 1);
			n = (int)strlen(buf);
		}
	}
	osai_buf_put(b, buf, (size_t)n);
}

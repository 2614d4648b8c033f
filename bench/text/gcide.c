/* SPDX-License-Identifier: MIT */
/*
 * gcide.c - the benchmarks' real English corpus: the GNU Collaborative
 * International Dictionary of English of Debian's dict-gcide, each distinct
 * definition one record (its first headword as `title`, the entry's text,
 * cleaned to valid UTF-8 with collapsed white space, as `summary`).  Shared
 * by osa-bench-text and osa-bench-postgres.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcide.h"

static void gcide_die(const char *what)
{
	fprintf(stderr, "gcide: %s\n", what);
	exit(1);
}

/* dictd's base64 numbers. */
static long gcide_b64(const char *s)
{
	static const char *al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
				"uvwxyz0123456789+/";
	long v = 0;

	for (; *s; s++) {
		const char *p = strchr(al, *s);

		if (!p)
			return -1;
		v = v * 64 + (p - al);
	}
	return v;
}

/* Replace invalid UTF-8 by '?' and collapse white space. */
static char *gcide_clean(const char *s, size_t n)
{
	char *o = malloc(n + 1);
	size_t i = 0, k = 0;
	int sp = 1;

	if (!o)
		gcide_die("out of memory");
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80		  ? 1
			     : (c & 0xe0) == 0xc0 ? 2
			     : (c & 0xf0) == 0xe0 ? 3
			     : (c & 0xf8) == 0xf0 ? 4
						  : 0;
		size_t j;

		if (c < 0x80) {
			if (c <= ' ' || c == 0x7f) {
				if (!sp)
					o[k++] = ' ';
				sp = 1;
			} else {
				o[k++] = (char)c;
				sp = 0;
			}
			i++;
			continue;
		}
		for (j = 1; len && j < len; j++)
			if (i + j >= n ||
			    ((unsigned char)s[i + j] & 0xc0) != 0x80)
				len = 0;
		if (len == 2 && c < 0xc2)
			len = 0;
		if (!len) {
			o[k++] = '?';
			i++;
		} else {
			memcpy(o + k, s + i, len);
			k += len;
			i += len;
		}
		sp = 0;
	}
	while (k && o[k - 1] == ' ')
		k--;
	o[k] = '\0';
	return o;
}

size_t gcide_json_str(char *o, const char *s)
{
	size_t k = 0;

	o[k++] = '"';
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			o[k++] = '\\';
			o[k++] = *s;
		} else {
			o[k++] = *s;
		}
	}
	o[k++] = '"';
	return k;
}

struct gcide_ent {
	char *hw;
	long off, len;
};

static int gcide_ent_cmp(const void *a, const void *b)
{
	const struct gcide_ent *x = a, *y = b;

	if (x->off != y->off)
		return (x->off > y->off) - (x->off < y->off);
	return strcmp(x->hw, y->hw);
}

/* Load up to `max` records: one per distinct definition, in file order. */
struct gcide_rec *gcide_load(const char *dict, const char *index, size_t max,
			     size_t *n)
{
	char cmd[1024], line[4096];
	FILE *p;
	char *text = NULL;
	size_t tlen = 0, cap = 0, got, ne = 0, cape = 0, i;
	struct gcide_ent *e = NULL;
	struct gcide_rec *r;
	size_t nr = 0;

	snprintf(cmd, sizeof(cmd), "zcat '%s'", dict);
	if (!(p = popen(cmd, "r")))
		gcide_die("cannot run zcat");
	for (;;) {
		if (tlen + 65536 > cap) {
			cap = cap ? cap * 2 : 1 << 24;
			if (!(text = realloc(text, cap)))
				gcide_die("out of memory");
		}
		got = fread(text + tlen, 1, cap - tlen, p);
		if (!got)
			break;
		tlen += got;
	}
	if (pclose(p) || !tlen)
		gcide_die("cannot read the dictionary (install dict-gcide)");
	if (!(p = fopen(index, "r")))
		gcide_die("cannot open the dictionary index (install "
			  "dict-gcide)");
	while (fgets(line, sizeof(line), p)) {
		char *hw = line, *o, *l;
		long off, len;

		if (!(o = strchr(hw, '\t')) || !(l = strchr(o + 1, '\t')))
			continue;
		*o++ = '\0';
		*l++ = '\0';
		l[strcspn(l, "\r\n")] = '\0';
		off = gcide_b64(o);
		len = gcide_b64(l);
		if (!strncmp(hw, "00-", 3) || off < 0 || len <= 0 ||
		    (size_t)(off + len) > tlen)
			continue;
		if (ne == cape) {
			cape = cape ? cape * 2 : 4096;
			if (!(e = realloc(e, cape * sizeof(*e))))
				gcide_die("out of memory");
		}
		if (!(e[ne].hw = strdup(hw)))
			gcide_die("out of memory");
		e[ne].off = off;
		e[ne].len = len;
		ne++;
	}
	fclose(p);
	qsort(e, ne, sizeof(*e), gcide_ent_cmp);
	if (!(r = calloc(ne ? ne : 1, sizeof(*r))))
		gcide_die("out of memory");
	for (i = 0; i < ne; i++) {
		if ((i && e[i].off == e[i - 1].off) || nr >= max)
			continue;
		r[nr].title = gcide_clean(e[i].hw, strlen(e[i].hw));
		r[nr].summary = gcide_clean(text + e[i].off, (size_t)e[i].len);
		nr++;
	}
	for (i = 0; i < ne; i++)
		free(e[i].hw);
	free(e);
	free(text);
	*n = nr;
	return r;
}

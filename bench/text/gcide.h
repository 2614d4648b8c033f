/* SPDX-License-Identifier: MIT */
/* gcide.h - dict-gcide as benchmark records (see gcide.c). */
#ifndef OSA_BENCH_GCIDE_H
#define OSA_BENCH_GCIDE_H

#include <stddef.h>

struct gcide_rec {
	char *title, *summary; /* malloc'd */
};

/* Up to `max` records, one per distinct definition, in file order; exits
 * with a message when the dictionary cannot be read (install dict-gcide). */
struct gcide_rec *gcide_load(const char *dict, const char *index, size_t max,
			     size_t *n);

/* Write `s` as a JSON string (quotes, \" and \\ escaped; the text is
 * already clean) at `o`, which has room for 2 * strlen(s) + 2; returns the
 * bytes written (no NUL). */
size_t gcide_json_str(char *o, const char *s);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * gcide.h - records from Debian's dict-gcide for the benchmarks (bench/text,
 * bench/filter).
 */
#ifndef OSA_BENCH_GCIDE_H
#define OSA_BENCH_GCIDE_H

#include <stddef.h>

#define GCIDE_DICT "/usr/share/dictd/gcide.dict.dz"
#define GCIDE_INDEX "/usr/share/dictd/gcide.index"

/* One definition: its first headword and its text, valid UTF-8 with white
 * space collapsed (no control characters). */
struct gcide_rec {
	char *title, *summary;
};

/*
 * Load up to `max` records, one per distinct definition, in file order
 * (zcat reads the .dict.dz).  Exits with a message when the files cannot
 * be read (install dict-gcide).  Free each title and summary, then the
 * array.
 */
struct gcide_rec *gcide_load(const char *dict, const char *index, size_t max,
			     size_t *n);

/* s as a JSON string (quotes included) at o, which has room for
 * 2 * strlen(s) + 2 bytes; the bytes written.  s has no control
 * characters (gcide_load removes them). */
size_t gcide_json_str(char *o, const char *s);

#endif /* OSA_BENCH_GCIDE_H */

/* SPDX-License-Identifier: MIT */
/*
 * osa/srnmap.h - an srn -> position index for backends.
 *
 * Backends keep their records in arrays (a row, a graph label) and need to
 * find an srn's position fast.  struct osa_srnmap is an open-addressing hash
 * table (linear probing, load at most 1/2, backward-shift deletion) over the
 * caller's own arrays: `srns[pos]` (NULL for a free position) and
 * `hash[pos]` = osa_srn_hash(srns[pos]).  It stores only positions + 1, so it
 * adds 8 bytes or less per record.  Not thread-safe: the caller locks.
 */
#ifndef OSA_SRNMAP_H
#define OSA_SRNMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct osa_srnmap {
	uint32_t *slot; /* position + 1, 0 = empty; mask + 1 entries */
	size_t mask;	/* size - 1, size a power of two */
};

/* A fixed, well-mixed 64-bit hash of an srn (XXH3-64).  Kept in memory
 * only: never store it, it may change between versions. */
uint64_t osa_srn_hash(const char *srn);

/* Allocate an empty table of at least `size` slots.  0 or OSA_ENOMEM. */
int osa_srnmap_init(struct osa_srnmap *m, size_t size);
void osa_srnmap_free(struct osa_srnmap *m);

/* The slot holding `srn` (hash `h`), or the empty slot where it would go. */
size_t osa_srnmap_slot(const struct osa_srnmap *m, const char *const *srns,
		       const uint64_t *hash, const char *srn, uint64_t h);

/* The position of `srn`, or -1. */
long osa_srnmap_find(const struct osa_srnmap *m, const char *const *srns,
		     const uint64_t *hash, const char *srn, uint64_t h);

/*
 * Make room for `want` entries (rebuilding from positions 0..npos-1 whose
 * srn is not NULL) when the load would pass 1/2, or always when `force`.
 * 0 or OSA_ENOMEM (the table is unchanged then).
 */
int osa_srnmap_reserve(struct osa_srnmap *m, const char *const *srns,
		       const uint64_t *hash, size_t npos, size_t want,
		       bool force);

/* Rebuild the table in place, at its current size (no allocation; the
 * table must be large enough for every non-NULL srn). */
void osa_srnmap_rebuild(struct osa_srnmap *m, const char *const *srns,
			const uint64_t *hash, size_t npos);

/* Empty slot `i` (backward-shift deletion keeps probing correct). */
void osa_srnmap_delete(struct osa_srnmap *m, const uint64_t *hash, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* OSA_SRNMAP_H */

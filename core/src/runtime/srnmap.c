/* SPDX-License-Identifier: MIT */
/* srnmap.c - the srn -> position index of osa/srnmap.h. */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <osa/error.h>
#include <osa/srnmap.h>

uint64_t osa_srn_hash(const char *s)
{
	return XXH3_64bits(s, strlen(s));
}

int osa_srnmap_init(struct osa_srnmap *m, size_t size)
{
	size_t n = 16;

	while (n < size)
		n *= 2;
	m->slot = calloc(n, sizeof(*m->slot));
	m->mask = m->slot ? n - 1 : 0;
	return m->slot ? 0 : OSA_ENOMEM;
}

void osa_srnmap_free(struct osa_srnmap *m)
{
	free(m->slot);
	m->slot = NULL;
	m->mask = 0;
}

size_t osa_srnmap_slot(const struct osa_srnmap *m, const char *const *srns,
		       const uint64_t *hash, const char *srn, uint64_t h)
{
	size_t i = (size_t)h & m->mask;

	for (;;) {
		uint32_t v = m->slot[i];

		if (!v)
			return i;
		if (hash[v - 1] == h && !strcmp(srns[v - 1], srn))
			return i;
		i = (i + 1) & m->mask;
	}
}

long osa_srnmap_find(const struct osa_srnmap *m, const char *const *srns,
		     const uint64_t *hash, const char *srn, uint64_t h)
{
	uint32_t v = m->slot[osa_srnmap_slot(m, srns, hash, srn, h)];

	return v ? (long)v - 1 : -1;
}

/* Place every position's entry into `slot` (size mask + 1, zeroed). */
static void srnmap_fill(uint32_t *slot, size_t mask, const char *const *srns,
			const uint64_t *hash, size_t npos)
{
	size_t i, p;

	for (p = 0; p < npos; p++) {
		if (!srns[p])
			continue;
		i = (size_t)hash[p] & mask;
		while (slot[i])
			i = (i + 1) & mask;
		slot[i] = (uint32_t)(p + 1);
	}
}

void osa_srnmap_rebuild(struct osa_srnmap *m, const char *const *srns,
			const uint64_t *hash, size_t npos)
{
	memset(m->slot, 0, (m->mask + 1) * sizeof(*m->slot));
	srnmap_fill(m->slot, m->mask, srns, hash, npos);
}

int osa_srnmap_reserve(struct osa_srnmap *m, const char *const *srns,
		       const uint64_t *hash, size_t npos, size_t want,
		       bool force)
{
	size_t size = m->mask + 1;
	uint32_t *slot;

	if (want * 2 <= size && !force)
		return 0;
	while (size < want * 2)
		size *= 2;
	slot = calloc(size, sizeof(*slot));
	if (!slot)
		return OSA_ENOMEM;
	srnmap_fill(slot, size - 1, srns, hash, npos);
	free(m->slot);
	m->slot = slot;
	m->mask = size - 1;
	return 0;
}

void osa_srnmap_delete(struct osa_srnmap *m, const uint64_t *hash, size_t i)
{
	size_t j = i;

	for (;;) {
		size_t k;

		j = (j + 1) & m->mask;
		if (!m->slot[j])
			break;
		k = (size_t)hash[m->slot[j] - 1] & m->mask;
		/* Move j into the hole unless its home lies in (i, j]. */
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && (k <= i && k > j))) {
			m->slot[i] = m->slot[j];
			i = j;
		}
	}
	m->slot[i] = 0;
}

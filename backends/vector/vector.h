/* SPDX-License-Identifier: MIT */
/*
 * vector.h - what the `vector` backend offers beyond the backend contract,
 * for its tests and bench/ann, which link the backend library.  Not part of
 * the SDK.
 */
#ifndef OSA_BACKEND_VECTOR_H
#define OSA_BACKEND_VECTOR_H

#include <stddef.h>

struct vector_stats {
	size_t live;	       /* records that queries can find */
	size_t slots;	       /* labels in the graph, deleted ones included */
	size_t deleted;	       /* deleted slots waiting for reuse */
	size_t capacity;       /* slots before the graph must grow */
	size_t compactions;    /* graph rebuilds since open */
	size_t memory_bytes;   /* graph + maps, approximate */
	size_t search_bytes;   /* vector bytes one graph distance reads */
	size_t sq8_trained_on; /* sq8: vectors the quantiser was fit on */
};

/* Fill `st` for an instance opened through the `vector` backend. */
void vector_get_stats(void *self, struct vector_stats *st);

#endif /* OSA_BACKEND_VECTOR_H */

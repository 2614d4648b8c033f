/* SPDX-License-Identifier: MIT */
/*
 * osa/vecspace.h - what every backend that stores vectors shares, so that
 * `flat`, `vector` and a third party's vector backend agree on it:
 *
 *   - the metrics (cosine, l2, ip) and their names;
 *   - the config keys `dim`, `metric` and `embedding`, as schema rows with
 *     the same names, bounds, defaults and docs in every backend;
 *   - the preparation of a vector for storage or search: every number
 *     finite, and unit length under cosine (a zero vector is refused);
 *   - a record's vector (embedded, then prepared) and a query's vector
 *     (given, or embedded from the query text, then prepared), with errors
 *     that name the index and the record;
 *   - little-endian integer helpers for snapshot bodies.
 *
 * Scores are the backend's business, but both built-in backends follow one
 * rule, higher is better: cosine similarity (the dot product of unit
 * vectors), the inner product, or minus the squared Euclidean distance.
 *
 * Every function here is thread-safe (no state of its own).
 */
#ifndef OSA_VECSPACE_H
#define OSA_VECSPACE_H

#include <stddef.h>
#include <stdint.h>

#include <osa/backend.h>
#include <osa/embedder.h>
#include <osa/error.h>
#include <osa/record.h>
#include <osa/schema.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The metrics, in the order of osa_metric_names (the `metric` key's enum). */
enum osa_metric { OSA_METRIC_COSINE, OSA_METRIC_L2, OSA_METRIC_IP };

/* "cosine", "l2", "ip", NULL: the choices of the `metric` key, and the
 * names osa_snap_open() checks a snapshot's metric against. */
extern const char *const osa_metric_names[];

/* Largest `dim` the shared key accepts. */
#define OSA_VECSPACE_DIM_MAX 4096

/*
 * Schema rows (osa/schema.h) for the shared keys, for a config struct `T`
 * whose member `m` holds the value.  All three are OSA_F_STORED: changing
 * them changes what the index stores, so the core rebuilds it.
 *   OSA_VECSPACE_FIELD_DIM        dim: int in [1, OSA_VECSPACE_DIM_MAX],
 *                                 default 384
 *   OSA_VECSPACE_FIELD_METRIC     metric: enum osa_metric, default cosine
 *   OSA_VECSPACE_FIELD_EMBEDDING  embedding: the osa_embedding_schema group
 *                                 (member of type struct
 *                                 osa_embedding_config)
 */
#define OSA_VECSPACE_FIELD_DIM(T, m)                                           \
	OSA_FIELD_INT_F(T, m, "dim", OSA_F_STORED, 384, 1,                     \
			OSA_VECSPACE_DIM_MAX,                                  \
			"Vector dimension; must match what the embedder "      \
			"produces.")
#define OSA_VECSPACE_FIELD_METRIC(T, m)                                        \
	OSA_FIELD_ENUM_F(T, m, "metric", OSA_F_STORED, OSA_METRIC_COSINE,      \
			 osa_metric_names,                                     \
			 "cosine (similarity), l2 (score = minus the squared " \
			 "Euclidean distance) or ip (inner product).")
#define OSA_VECSPACE_FIELD_EMBEDDING(T, m)                                     \
	OSA_FIELD_GROUP_F(T, m, "embedding", OSA_F_STORED,                     \
			  &osa_embedding_schema,                               \
			  "How records and query texts become vectors.")

/*
 * Prepare v[0..dim) for storage or search under `metric` (enum osa_metric):
 * every number must be finite; cosine then scales the vector to unit
 * length, and refuses a zero vector (it has no direction).  0, or -1 when
 * refused (v may then be partly scaled).
 */
int osa_vec_prepare(int metric, float *v, size_t dim);

/*
 * The vector of `rec` through the embedder `emb` into out[0..dim),
 * prepared for `metric`.  0, the embedder's error (prefixed with "index
 * INDEX: "), or OSA_EINVAL when the vector is refused (the message names the
 * index and the record's srn and says what to do).
 */
int osa_vec_record(struct osa_embedder_inst *emb, int metric, size_t dim,
		   const char *index, const struct osa_record *rec, float *out,
		   struct osa_error *err);

/*
 * The vector of query `q` into out[0..dim), prepared for `metric`:
 * q->vector when set (OSA_ERANGE when q->dim is not `dim`, OSA_EINVAL when
 * a number is not finite, naming its position), else q->text through `emb`
 * (its errors prefixed with "index INDEX: "); OSA_EINVAL when the query has
 * neither, or when the vector is zero under cosine.
 */
int osa_vec_query(struct osa_embedder_inst *emb, int metric, size_t dim,
		  const char *index, const struct osa_query *q, float *out,
		  struct osa_error *err);

/* Little-endian integers in byte buffers (snapshot bodies), whatever the
 * host's byte order. */
static inline uint32_t osa_le32_get(const void *p)
{
	const unsigned char *b = (const unsigned char *)p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static inline uint64_t osa_le64_get(const void *p)
{
	return (uint64_t)osa_le32_get(p) |
	       (uint64_t)osa_le32_get((const unsigned char *)p + 4) << 32;
}

static inline void osa_le32_put(void *p, uint32_t x)
{
	unsigned char *b = (unsigned char *)p;

	b[0] = (unsigned char)x;
	b[1] = (unsigned char)(x >> 8);
	b[2] = (unsigned char)(x >> 16);
	b[3] = (unsigned char)(x >> 24);
}

static inline void osa_le64_put(void *p, uint64_t x)
{
	osa_le32_put(p, (uint32_t)x);
	osa_le32_put((unsigned char *)p + 4, (uint32_t)(x >> 32));
}

#ifdef __cplusplus
}
#endif

#endif /* OSA_VECSPACE_H */

/* SPDX-License-Identifier: MIT */
/*
 * test_concurrency.c - four threads query `vector` while one writes:
 * inserts that grow the graph, upserts, removes that trigger compactions,
 * checkpoints.  Queries must never fail, return unsorted or vanished hits,
 * or miss the records the writer never touches.  Meant for the sanitizer
 * builds too (ASan+UBSan; TSan where available).
 */
#include <math.h>
#include <pthread.h>

#include "../vector.h"
#include "backend_test.h"

#define DIM 16
#define STABLE 200
#define CHURN 600
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ROUNDS 600 /* sanitizers slow the writer ~10x */
#else
#define ROUNDS 2000
#endif
#define READERS 4

static char dir[64];
static float stable[STABLE][DIM];

struct shared {
	struct bt_index *ix;
	int stop;
	pthread_mutex_t mu;
	long queries, errors, unsorted, self_found, self_total;
};

static void *reader(void *arg)
{
	struct shared *sh = arg;
	uint64_t s = (uint64_t)(uintptr_t)&s | 1;
	long q = 0, errors = 0, unsorted = 0, found = 0, total = 0;
	struct osa_error err;
	struct osa_hits hits;

	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		int id = (int)(bt_rng(&s) % STABLE);
		char want[64];
		size_t i;

		snprintf(want, sizeof(want), "urn:osa:x:rec:stable-%d", id);
		if (bt_qvec(sh->ix, stable[id], DIM, 10, q % 3, &hits, &err)) {
			errors++;
			continue;
		}
		for (i = 1; i < hits.n; i++)
			unsorted += hits.v[i - 1].score < hits.v[i].score;
		if (q % 3 == 0) {
			total++;
			found += hits.n && !strcmp(hits.v[0].srn, want);
		}
		for (i = 0; i < hits.n; i++)
			if (!hits.v[i].srn || !hits.v[i].srn[0])
				errors++;
		osa_hits_free(&hits);
		q++;
	}
	pthread_mutex_lock(&sh->mu);
	sh->queries += q;
	sh->errors += errors;
	sh->unsorted += unsorted;
	sh->self_found += found;
	sh->self_total += total;
	pthread_mutex_unlock(&sh->mu);
	return NULL;
}

int main(void)
{
	struct osa_error err = { 0 };
	struct bt_index ix;
	struct shared sh = { .ix = &ix };
	struct vector_stats st;
	pthread_t th[READERS];
	uint64_t s = 99;
	char srn[64];
	float v[DIM];
	int i, j;

	bt_tmpdir(dir);
	pthread_mutex_init(&sh.mu, NULL);
	OSA_REQUIRE(bt_open(&ix, "vector",
			    "dim = 16; metric = \"cosine\"; initial_capacity = "
			    "32; compact_deleted_ratio = 0.2;"
			    "embedding = { embedder = \"field\"; };",
			    dir, &err) == 0);
	for (i = 0; i < STABLE; i++) {
		for (j = 0; j < DIM; j++)
			stable[i][j] = bt_unif(&s);
		snprintf(srn, sizeof(srn), "urn:osa:x:rec:stable-%d", i);
		OSA_REQUIRE(bt_ingest1(&ix,
				       bt_rec(srn, "t", NULL, stable[i], DIM),
				       &err) == 0);
	}
	for (i = 0; i < READERS; i++)
		OSA_REQUIRE(pthread_create(&th[i], NULL, reader, &sh) == 0);
	for (i = 0; i < ROUNDS; i++) {
		struct osa_record *batch[4];
		int nb = 1 + i % 4;

		for (j = 0; j < nb; j++) {
			int k;

			for (k = 0; k < DIM; k++)
				v[k] = bt_unif(&s);
			snprintf(srn, sizeof(srn), "urn:osa:x:rec:churn-%d",
				 (int)(bt_rng(&s) % CHURN));
			batch[j] = bt_rec(srn, "t", NULL, v, DIM);
		}
		OSA_CHECK(ix.b->ingest_batch(
				  ix.self,
				  (const struct osa_record *const *)batch,
				  (size_t)nb, &err) == 0);
		for (j = 0; j < nb; j++)
			osa_record_free(batch[j]);
		if (i % 3 == 2) {
			const char *r[3];
			char b[3][64];

			for (j = 0; j < 3; j++) {
				snprintf(b[j], sizeof(b[j]),
					 "urn:osa:x:rec:churn-%d",
					 (int)(bt_rng(&s) % CHURN));
				r[j] = b[j];
			}
			OSA_CHECK(ix.b->remove(ix.self, r, 3, &err) == 0);
		}
		if (i % 500 == 499)
			OSA_CHECK(ix.b->checkpoint(ix.self, (uint64_t)i,
						   &err) == 0);
	}
	/* Delete-heavy end: compactions happen while readers search. */
	for (i = 0; i < CHURN; i += 20) {
		const char *r[20];
		char b[20][64];

		for (j = 0; j < 20; j++) {
			snprintf(b[j], sizeof(b[j]), "urn:osa:x:rec:churn-%d",
				 i + j);
			r[j] = b[j];
		}
		OSA_CHECK(ix.b->remove(ix.self, r, 20, &err) == 0);
	}
	OSA_CHECK(bt_count(&ix) == STABLE);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	vector_get_stats(ix.self, &st);
	fprintf(stderr,
		"queries %ld, self-found %ld/%ld, live %zu, slots %zu, "
		"compactions %zu, capacity %zu\n",
		sh.queries, sh.self_found, sh.self_total, st.live, st.slots,
		st.compactions, st.capacity);
	OSA_CHECK(sh.errors == 0);
	OSA_CHECK(sh.unsorted == 0);
	OSA_CHECK(sh.queries > 0);
	OSA_CHECK(sh.self_found >= sh.self_total * 95 / 100);
	OSA_CHECK(st.compactions >= 1);
	OSA_CHECK(st.capacity > 32);
	/* Everything the writer left is consistent after a reopen. */
	OSA_REQUIRE(ix.b->checkpoint(ix.self, 1, &err) == 0);
	{
		uint64_t before = bt_count(&ix);

		bt_close(&ix);
		OSA_REQUIRE(bt_open(&ix, "vector",
				    "dim = 16; metric = \"cosine\"; "
				    "initial_capacity = 32; "
				    "compact_deleted_ratio = 0.2;"
				    "embedding = { embedder = \"field\"; };",
				    dir, &err) == 0);
		OSA_CHECK(bt_count(&ix) == before);
	}
	bt_close(&ix);
	pthread_mutex_destroy(&sh.mu);
	bt_rmdir(dir);
	OSA_TEST_END();
}

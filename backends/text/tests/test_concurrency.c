/* SPDX-License-Identifier: MIT */
/*
 * test_concurrency.c - queries on several threads while one writer
 * upserts, deletes and checkpoints (merging segments, removing files): no
 * error, every answer consistent with itself (total >= hits, best first),
 * and the final state right.  Meant for the sanitizer builds (ASan, TSan).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "text_test.h"

#define READERS 4

static struct bt_index ix;
static atomic_int stop;
static atomic_long answered;

static void *reader(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg * 7919 + 1;

	while (!atomic_load(&stop)) {
		char q[256];
		struct osa_hits h;
		struct osa_error err;
		size_t i;
		int rc;

		tt_text(&s, q, sizeof(q), 1 + bt_rng(&s) % 3);
		if (bt_rng(&s) % 4 == 0) {
			char p[300];

			snprintf(p, sizeof(p), "\"%s\" -%s", q,
				 tt_vocab[bt_rng(&s) % TT_NVOCAB]);
			rc = tt_q(&ix, p, 10, 0, &h, &err);
		} else {
			rc = tt_q(&ix, q, 10, 0, &h, &err);
		}
		OSA_CHECK_MSG(rc == 0, "%s", err.msg);
		OSA_CHECK(h.total >= h.n);
		for (i = 1; i < h.n; i++)
			OSA_CHECK(h.v[i - 1].score >= h.v[i].score);
		osa_hits_free(&h);
		atomic_fetch_add(&answered, 1);
	}
	return NULL;
}

int main(void)
{
	pthread_t th[READERS];
	struct osa_error err = { 0 };
	char dir[64];
	size_t i, r;

	bt_tmpdir(dir);
	OSA_REQUIRE(bt_open(&ix, "text", "max_segments = 2;", dir, &err) == 0);
	tt_corpus(&ix, 11, 0, 500);
	for (i = 0; i < READERS; i++)
		OSA_REQUIRE(pthread_create(&th[i], NULL, reader,
					   (void *)(uintptr_t)(i + 1)) == 0);
	for (r = 0; r < 30; r++) {
		char srn[16];

		tt_corpus(&ix, 11 + r, (r * 37) % 400, (r * 37) % 400 + 100);
		for (i = 0; i < 20; i++) {
			snprintf(srn, sizeof(srn), "d-%05zu",
				 (r * 13 + i) % 500);
			tt_del(&ix, srn);
		}
		if (r % 3 == 2)
			OSA_CHECK(ix.b->checkpoint(ix.self, r + 1, &err) == 0);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	OSA_CHECK(atomic_load(&answered) > 0);
	/* Everything deleted last is gone, everything else answers. */
	{
		uint64_t n = bt_count(&ix);
		struct osa_hits h;

		OSA_CHECK(n > 0 && n <= 500);
		OSA_CHECK(tt_q(&ix,
			       "ice sea ocean glacier survey arctic "
			       "climate model data warming",
			       1, 0, &h, &err) == 0);
		OSA_CHECK(h.total <= n);
		osa_hits_free(&h);
	}
	OSA_CHECK(ix.b->checkpoint(ix.self, 99, &err) == 0);
	bt_close(&ix);
	bt_rmdir(dir);
	OSA_TEST_END();
}

/* SPDX-License-Identifier: MIT */
/*
 * test_abi_refusal.c - a plugin built for another ABI major, linked into a
 * binary, makes the registry refuse to start and name it; the correct
 * plugins are then not served.
 */
#include "osa_test.h"
#include "osai.h"

static int x_open(const struct osa_backend_args *a, void **s, uint64_t *l,
		  struct osa_error *e)
{
	(void)a, (void)s, (void)l;
	return osa_error_set(e, OSA_ENOTSUP, "never opened");
}

/* Looks like a backend of a future ABI 2.0 (only the header matters). */
static const struct osa_backend future = {
	.abi = OSA_ABI(OSA_ABI_MAJOR(OSA_BACKEND_ABI) + 1, 0),
	.size = sizeof(struct osa_backend),
	.name = "from-the-future",
	.open = x_open,
};
OSA_BACKEND_REGISTER(future);

int main(void)
{
	struct osa_error err;

	OSA_CHECK(osai_registry_init(&err) == OSA_EABI);
	OSA_CHECK_CONTAINS(err.msg, "refusing to start");
	OSA_CHECK_CONTAINS(err.msg, "backend \"from-the-future\" was built "
				    "for ABI 2.0");
	OSA_CHECK_CONTAINS(err.msg, "rebuild the plugin");
	/* Nothing is served from a refused registry. */
	OSA_CHECK(osai_backend_count() == 0);
	/* The answer is stable. */
	OSA_CHECK(osai_registry_init(NULL) == OSA_EABI);
	OSA_TEST_END();
}

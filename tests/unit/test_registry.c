/* SPDX-License-Identifier: MIT */
/*
 * test_registry.c - the plugin registry: the linked plugins equal the
 * Kconfig selection, order is by name whatever the link order, and bad
 * descriptors (ABI, size, methods, duplicates, names) are refused by name.
 */
#include <string.h>

#include "osa_test.h"
#include "osai.h"

static int t_open(const struct osa_backend_args *a, void **s, uint64_t *l,
		  struct osa_error *e)
{
	(void)a, (void)s, (void)l;
	return osa_error_set(e, OSA_ENOTSUP, "test");
}
static int t_ingest(void *s, const struct osa_record *const *r, size_t n,
		    struct osa_error *e)
{
	(void)s, (void)r, (void)n, (void)e;
	return OSA_ENOTSUP;
}
static int t_remove(void *s, const char *const *r, size_t n,
		    struct osa_error *e)
{
	(void)s, (void)r, (void)n, (void)e;
	return OSA_ENOTSUP;
}
static int t_query(void *s, const struct osa_query *q, struct osa_hits *h,
		   struct osa_error *e)
{
	(void)s, (void)q, (void)h, (void)e;
	return OSA_ENOTSUP;
}
static int t_count(void *s, uint64_t *c)
{
	(void)s;
	*c = 0;
	return 0;
}
static void t_close(void *s)
{
	(void)s;
}

struct t_cfg {
	int n;
};
static const struct osa_field t_fields[] = {
	OSA_FIELD_INT(struct t_cfg, n, "n", 1, 0, 10, "a number"), OSA_FIELD_END
};
static const struct osa_schema t_schema = { .name = "t",
					    .size = sizeof(struct t_cfg),
					    .fields = t_fields };
/* A schema whose default lies outside its own range. */
static const struct osa_field bad_fields[] = {
	OSA_FIELD_INT(struct t_cfg, n, "n", 50, 0, 10, "a number"),
	OSA_FIELD_END
};
static const struct osa_schema bad_schema = { .name = "bad",
					      .size = sizeof(struct t_cfg),
					      .fields = bad_fields };

#define T_BACKEND(nm, abi_)                                                    \
	{                                                                      \
		.abi = (abi_), .size = sizeof(struct osa_backend),             \
		.name = (nm), .schema = &t_schema, .open = t_open,             \
		.ingest_batch = t_ingest, .remove = t_remove,                  \
		.query = t_query, .count = t_count, .close = t_close           \
	}

static void test_linked_equals_selection(void)
{
	char got[1024] = "";
	struct osa_error err;
	size_t i;

	OSA_REQUIRE(osai_registry_init(&err) == 0);
	for (i = 0; i < osai_backend_count(); i++) {
		if (*got)
			strcat(got, " ");
		strcat(got, "backend:");
		strcat(got, osai_backend_at(i)->name);
		if (i)
			OSA_CHECK(strcmp(osai_backend_at(i - 1)->name,
					 osai_backend_at(i)->name) < 0);
		OSA_CHECK(osa_backend_find(osai_backend_at(i)->name) ==
			  osai_backend_at(i));
	}
	for (i = 0; i < osai_embedder_count(); i++) {
		if (*got)
			strcat(got, " ");
		strcat(got, "embedder:");
		strcat(got, osai_embedder_at(i)->name);
		OSA_CHECK(osa_embedder_find(osai_embedder_at(i)->name) ==
			  osai_embedder_at(i));
	}
	/* CMake's list of registered packages, sorted: the same words. */
	OSA_CHECK_STR(got, OSA_EXPECTED_PLUGINS);
	OSA_CHECK(osa_backend_find("no-such-backend") == NULL);
	OSA_CHECK(osa_backend_find(NULL) == NULL);
}

static void test_order_by_name(void)
{
	static const struct osa_backend b2 = T_BACKEND("b2", OSA_BACKEND_ABI);
	static const struct osa_backend b10 = T_BACKEND("b10", OSA_BACKEND_ABI);
	static const struct osa_backend a = T_BACKEND("a", OSA_BACKEND_ABI);
	const struct osa_backend *v[] = { &b2, &b10, &a };
	struct osa_error err;

	OSA_CHECK(osai_registry_check(v, 3, NULL, 0, &err) == 0);
	/* By name, not by number text or link order. */
	OSA_CHECK(v[0] == &a && v[1] == &b10 && v[2] == &b2);
}

static void test_refusals(void)
{
	static const struct osa_backend ok = T_BACKEND("good", OSA_BACKEND_ABI);
	static const struct osa_backend dup =
		T_BACKEND("good", OSA_BACKEND_ABI);
	static const struct osa_backend old =
		T_BACKEND("ancient", OSA_ABI(0, 9));
	static const struct osa_backend newer =
		T_BACKEND("newer", OSA_ABI(OSA_ABI_MAJOR(OSA_BACKEND_ABI), 7));
	static const struct osa_backend badname =
		T_BACKEND("Bad Name", OSA_BACKEND_ABI);
	struct osa_backend small = T_BACKEND("small", OSA_BACKEND_ABI);
	struct osa_backend nomethod = T_BACKEND("lazy", OSA_BACKEND_ABI);
	struct osa_backend badschema = T_BACKEND("badschema", OSA_BACKEND_ABI);
	const struct osa_backend *v[2];
	struct osa_error err;

	small.size = 16;
	nomethod.query = NULL;
	badschema.schema = &bad_schema;

	v[0] = &ok, v[1] = &dup;
	OSA_CHECK(osai_registry_check(v, 2, NULL, 0, &err) == OSA_EEXIST);
	OSA_CHECK_CONTAINS(err.msg, "backend \"good\" is registered twice");

	v[0] = &ok, v[1] = &old;
	OSA_CHECK(osai_registry_check(v, 2, NULL, 0, &err) == OSA_EABI);
	OSA_CHECK_CONTAINS(err.msg,
			   "backend \"ancient\" was built for ABI 0.9");
	OSA_CHECK(strstr(err.msg, "\"good\"") == NULL);

	/* A newer minor of the same major is accepted. */
	v[0] = &newer;
	OSA_CHECK(osai_registry_check(v, 1, NULL, 0, &err) == 0);

	v[0] = &small;
	OSA_CHECK(osai_registry_check(v, 1, NULL, 0, &err) == OSA_EABI);
	OSA_CHECK_CONTAINS(err.msg,
			   "backend \"small\": descriptor is 16 bytes");

	/* Descriptors of ABI 1.0 and 1.1 (shorter) are accepted; their
	 * caps read as none. */
	{
		struct osa_backend v10 = T_BACKEND("v10", OSA_ABI(1, 0));
		struct osa_backend v11 = T_BACKEND("v11", OSA_ABI(1, 1));
		struct osa_backend v12 = T_BACKEND("v12", OSA_BACKEND_ABI);

		v10.size = (unsigned)offsetof(struct osa_backend, kernel);
		v11.size = (unsigned)offsetof(struct osa_backend, caps);
		v11.caps = v10.caps = OSA_BACKEND_CAP_FILTER;
		v12.caps = OSA_BACKEND_CAP_FILTER | OSA_BACKEND_CAP_FACETS;
		v[0] = &v10, v[1] = &v11;
		OSA_CHECK(osai_registry_check(v, 2, NULL, 0, &err) == 0);
		OSA_CHECK(osa_backend_caps(&v10) == 0);
		OSA_CHECK(osa_backend_caps(&v11) == 0);
		OSA_CHECK(osa_backend_caps(&v12) ==
			  (OSA_BACKEND_CAP_FILTER | OSA_BACKEND_CAP_FACETS));
		v10.size--;
		v[0] = &v10;
		OSA_CHECK(osai_registry_check(v, 1, NULL, 0, &err) == OSA_EABI);
	}

	v[0] = &nomethod;
	OSA_CHECK(osai_registry_check(v, 1, NULL, 0, &err) == OSA_EINVAL);
	OSA_CHECK_CONTAINS(err.msg, "backend \"lazy\" has no `query` method");

	v[0] = &badname;
	OSA_CHECK(osai_registry_check(v, 1, NULL, 0, &err) == OSA_EINVAL);
	OSA_CHECK_CONTAINS(err.msg, "invalid name \"Bad Name\"");

	v[0] = &badschema;
	OSA_CHECK(osai_registry_check(v, 1, NULL, 0, &err) != 0);
	OSA_CHECK_CONTAINS(err.msg, "badschema");

	/* Every culprit is named, not just the first. */
	v[0] = &old, v[1] = &nomethod;
	OSA_CHECK(osai_registry_check(v, 2, NULL, 0, &err) != 0);
	OSA_CHECK_CONTAINS(err.msg, "ancient");
	OSA_CHECK_CONTAINS(err.msg, "lazy");
}

static void test_absent(void)
{
	const struct osai_absent *a;

	/* Whatever is absent is not registered, and vice versa. */
	for (a = osai_absent_plugins; a->name; a++) {
		OSA_CHECK(strncmp(a->symbol, "CONFIG_OSA_", 11) == 0);
		if (!strcmp(a->kind, "backend"))
			OSA_CHECK(osa_backend_find(a->name) == NULL);
		else
			OSA_CHECK(osa_embedder_find(a->name) == NULL);
		OSA_CHECK(osai_absent_find(a->kind, a->name) == a);
	}
	OSA_CHECK(osai_absent_find("backend", "surely-not-here") == NULL);
}

int main(void)
{
	test_linked_equals_selection();
	test_order_by_name();
	test_refusals();
	test_absent();
	OSA_TEST_END();
}

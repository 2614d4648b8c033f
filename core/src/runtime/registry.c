/* SPDX-License-Identifier: MIT */
/*
 * registry.c - the plugin registry: walks the linker sets `osa_backends` and
 * `osa_embedders` once, copies the pointers, sorts them by name and refuses
 * duplicates, ABI major mismatches, short descriptors, missing required
 * methods and broken schema tables, naming each culprit.
 *
 * This is the one piece of global state of the core: written once under
 * pthread_once, read-only afterwards.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "osai.h"

/* Linker-provided bounds of the sets; weak so an empty set links. */
extern const struct osa_backend *const __start_osa_backends[]
	__attribute__((weak, visibility("hidden")));
extern const struct osa_backend *const __stop_osa_backends[]
	__attribute__((weak, visibility("hidden")));
extern const struct osa_embedder *const __start_osa_embedders[]
	__attribute__((weak, visibility("hidden")));
extern const struct osa_embedder *const __stop_osa_embedders[]
	__attribute__((weak, visibility("hidden")));

static struct {
	pthread_once_t once;
	int rc;
	struct osa_error err;
	const struct osa_backend **backends;
	size_t n_backends;
	const struct osa_embedder **embedders;
	size_t n_embedders;
} reg = { .once = PTHREAD_ONCE_INIT };

/* Append a formatted problem to err->msg ("; "-separated). */
static void reg_problem(struct osa_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reg_problem(struct osa_error *err, int code, const char *fmt, ...)
{
	size_t len = strlen(err->msg);
	va_list ap;

	if (!err->code)
		err->code = code;
	if (len && len + 3 < sizeof(err->msg)) {
		memcpy(err->msg + len, "; ", 3);
		len += 2;
	}
	if (len + 1 >= sizeof(err->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg + len, sizeof(err->msg) - len, fmt, ap);
	va_end(ap);
}

static int reg_valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 63)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int cmp_backend(const void *a, const void *b)
{
	const struct osa_backend *x = *(const struct osa_backend *const *)a;
	const struct osa_backend *y = *(const struct osa_backend *const *)b;

	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static int cmp_embedder(const void *a, const void *b)
{
	const struct osa_embedder *x = *(const struct osa_embedder *const *)a;
	const struct osa_embedder *y = *(const struct osa_embedder *const *)b;

	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

/* Common header checks of a plugin descriptor; 0 if it may be used. */
static int reg_check_header(const char *kind, const char *name, unsigned abi,
			    unsigned want_abi, unsigned size, size_t min_size,
			    struct osa_error *err)
{
	if (!reg_valid_name(name)) {
		reg_problem(err, OSA_EINVAL,
			    "%s with invalid name \"%s\": use 1 to 63 of "
			    "[a-z0-9_-]",
			    kind, name ? name : "(null)");
		return -1;
	}
	if (OSA_ABI_MAJOR(abi) != OSA_ABI_MAJOR(want_abi)) {
		reg_problem(err, OSA_EABI,
			    "%s \"%s\" was built for ABI %u.%u but this core "
			    "speaks %u.%u: rebuild the plugin against this SDK",
			    kind, name, OSA_ABI_MAJOR(abi), OSA_ABI_MINOR(abi),
			    OSA_ABI_MAJOR(want_abi), OSA_ABI_MINOR(want_abi));
		return -1;
	}
	if (size < min_size) {
		reg_problem(err, OSA_EABI,
			    "%s \"%s\": descriptor is %u bytes, ABI %u.0 needs "
			    "at least %zu: rebuild the plugin against this SDK",
			    kind, name, size, OSA_ABI_MAJOR(want_abi),
			    min_size);
		return -1;
	}
	return 0;
}

int osai_registry_check(const struct osa_backend **b, size_t nb,
			const struct osa_embedder **e, size_t ne,
			struct osa_error *err)
{
	struct osa_error local;
	const char *missing;
	size_t i;

	if (!err)
		err = &local;
	osa_error_clear(err);
	for (i = 0; i < nb; i++) {
		const struct osa_backend *p = b[i];
		struct osa_error serr;

		if (reg_check_header("backend", p->name, p->abi,
				     OSA_BACKEND_ABI, p->size,
				     offsetof(struct osa_backend, kernel), err))
			continue;
		missing = !p->open	     ? "open"
			  : !p->ingest_batch ? "ingest_batch"
			  : !p->remove	     ? "remove"
			  : !p->query	     ? "query"
			  : !p->count	     ? "count"
			  : !p->close	     ? "close"
					     : NULL;
		if (missing) {
			reg_problem(err, OSA_EINVAL,
				    "backend \"%s\" has no `%s` method: set "
				    "it in the descriptor (open, ingest_batch, "
				    "remove, query, count and close are "
				    "required)",
				    p->name, missing);
			continue;
		}
		if (!p->schema) {
			reg_problem(err, OSA_EINVAL,
				    "backend \"%s\" has no config schema",
				    p->name);
			continue;
		}
		if (p->size >= offsetof(struct osa_backend, remove_at) +
				       sizeof(p->remove_at) &&
		    !p->ingest_batch_at != !p->remove_at) {
			reg_problem(err, OSA_EINVAL,
				    "backend \"%s\" sets `%s` without `%s`: "
				    "set both (the core then stores the LSN "
				    "with every change through them) or "
				    "neither",
				    p->name,
				    p->ingest_batch_at ? "ingest_batch_at"
						       : "remove_at",
				    p->ingest_batch_at ? "remove_at"
						       : "ingest_batch_at");
			continue;
		}
		if (osai_schema_selfcheck(p->schema, p->name, &serr))
			reg_problem(err, serr.code, "%s", serr.msg);
	}
	for (i = 0; i < ne; i++) {
		const struct osa_embedder *p = e[i];

		if (reg_check_header("embedder", p->name, p->abi,
				     OSA_EMBEDDER_ABI, p->size,
				     sizeof(struct osa_embedder), err))
			continue;
		missing = !p->create	     ? "create"
			  : !p->embed_record ? "embed_record"
			  : !p->describe     ? "describe"
			  : !p->destroy	     ? "destroy"
					     : NULL;
		if (missing)
			reg_problem(err, OSA_EINVAL,
				    "embedder \"%s\" has no `%s` method: set "
				    "it in the descriptor (create, "
				    "embed_record, describe and destroy are "
				    "required)",
				    p->name, missing);
	}
	if (err->code)
		return err->code;
	if (nb > 1)
		qsort(b, nb, sizeof(*b), cmp_backend);
	if (ne > 1)
		qsort(e, ne, sizeof(*e), cmp_embedder);
	for (i = 1; i < nb; i++)
		if (!strcmp(b[i - 1]->name, b[i]->name))
			reg_problem(
				err, OSA_EEXIST,
				"backend \"%s\" is registered twice: remove "
				"one of the two packages from the build",
				b[i]->name);
	for (i = 1; i < ne; i++)
		if (!strcmp(e[i - 1]->name, e[i]->name))
			reg_problem(
				err, OSA_EEXIST,
				"embedder \"%s\" is registered twice: remove "
				"one of the two packages from the build",
				e[i]->name);
	return err->code;
}

static void reg_init_once(void)
{
	size_t nb = 0, ne = 0, i;

	if (__start_osa_backends && __stop_osa_backends)
		nb = (size_t)(__stop_osa_backends - __start_osa_backends);
	if (__start_osa_embedders && __stop_osa_embedders)
		ne = (size_t)(__stop_osa_embedders - __start_osa_embedders);
	reg.backends = calloc(nb ? nb : 1, sizeof(*reg.backends));
	reg.embedders = calloc(ne ? ne : 1, sizeof(*reg.embedders));
	if (!reg.backends || !reg.embedders) {
		reg.rc = osa_error_set(&reg.err, OSA_ENOMEM,
				       "plugin registry: out of memory");
		return;
	}
	/* A NULL slot can only come from a foreign object in the section. */
	for (i = 0; i < nb; i++)
		if (__start_osa_backends[i])
			reg.backends[reg.n_backends++] =
				__start_osa_backends[i];
	for (i = 0; i < ne; i++)
		if (__start_osa_embedders[i])
			reg.embedders[reg.n_embedders++] =
				__start_osa_embedders[i];
	reg.rc = osai_registry_check(reg.backends, reg.n_backends,
				     reg.embedders, reg.n_embedders, &reg.err);
	if (reg.rc)
		osa_error_prefix(&reg.err, "refusing to start: ");
}

int osai_registry_init(struct osa_error *err)
{
	pthread_once(&reg.once, reg_init_once);
	if (reg.rc && err)
		*err = reg.err;
	return reg.rc;
}

size_t osai_backend_count(void)
{
	osai_registry_init(NULL);
	return reg.rc ? 0 : reg.n_backends;
}

const struct osa_backend *osai_backend_at(size_t i)
{
	return i < osai_backend_count() ? reg.backends[i] : NULL;
}

size_t osai_embedder_count(void)
{
	osai_registry_init(NULL);
	return reg.rc ? 0 : reg.n_embedders;
}

const struct osa_embedder *osai_embedder_at(size_t i)
{
	return i < osai_embedder_count() ? reg.embedders[i] : NULL;
}

const struct osa_backend *osa_backend_find(const char *name)
{
	size_t lo = 0, hi = osai_backend_count();

	while (name && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, reg.backends[mid]->name);

		if (!c)
			return reg.backends[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct osa_embedder *osa_embedder_find(const char *name)
{
	size_t lo = 0, hi = osai_embedder_count();

	while (name && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, reg.embedders[mid]->name);

		if (!c)
			return reg.embedders[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct osai_absent *osai_absent_find(const char *kind, const char *name)
{
	const struct osai_absent *a;

	for (a = osai_absent_plugins; a->name; a++)
		if (!strcmp(a->kind, kind) && !strcmp(a->name, name))
			return a;
	return NULL;
}

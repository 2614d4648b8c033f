/* SPDX-License-Identifier: MIT */
/* sys.c - osa/sys.h: mkdir -p, a writer-preferring rwlock, a parallel
 * loop. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <osa/sys.h>

int osa_mkdirs(const char *path, struct osa_error *err)
{
	char buf[4096];
	size_t i, n = strlen(path);

	if (!n || n >= sizeof(buf))
		return osa_error_set(err, OSA_EINVAL,
				     "cannot create \"%s\": empty or too long",
				     path);
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return osa_error_set(
				err, errno == ENOSPC ? OSA_ENOSPC : OSA_EIO,
				"cannot create %s: %s%s", buf, strerror(errno),
				errno == EACCES || errno == EROFS
					? " (check the data directory's "
					  "owner and permissions)"
					: "");
		buf[i] = path[i];
	}
	return 0;
}

int osa_rwlock_init(pthread_rwlock_t *lock)
{
	pthread_rwlockattr_t a;
	int rc = pthread_rwlockattr_init(&a);

	if (rc)
		return rc;
	pthread_rwlockattr_setkind_np(
		&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	rc = pthread_rwlock_init(lock, &a);
	pthread_rwlockattr_destroy(&a);
	return rc;
}

size_t osa_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (size_t)n : 1;
}

struct osa_pfor {
	size_t n;
	void (*fn)(void *ctx, size_t i);
	void *ctx;
	atomic_size_t next;
};

static void *osa_pfor_run(void *arg)
{
	struct osa_pfor *p = arg;
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n)
		p->fn(p->ctx, i);
	return NULL;
}

void osa_parallel_for(size_t n, size_t threads, void (*fn)(void *ctx, size_t i),
		      void *ctx)
{
	struct osa_pfor p = { n, fn, ctx, 0 };
	pthread_t stack[16], *tid = stack;
	size_t t, started = 0;

	if (!threads)
		threads = osa_cpus();
	if (threads > n)
		threads = n;
	if (!threads)
		return;
	/* threads - 1 are created: the caller is the last one. */
	if (threads - 1 > sizeof(stack) / sizeof(stack[0])) {
		tid = malloc((threads - 1) * sizeof(*tid));
		if (!tid) {
			tid = stack;
			threads = sizeof(stack) / sizeof(stack[0]) + 1;
		}
	}
	for (t = 1; t < threads; t++) {
		if (pthread_create(&tid[started], NULL, osa_pfor_run, &p))
			break;
		started++;
	}
	osa_pfor_run(&p);
	for (t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	if (tid != stack)
		free(tid);
}

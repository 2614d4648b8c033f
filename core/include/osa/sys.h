/* SPDX-License-Identifier: MIT */
/*
 * osa/sys.h - small system helpers every backend needs, so none copies them.
 */
#ifndef OSA_SYS_H
#define OSA_SYS_H

#include <pthread.h>
#include <stddef.h>

#include <osa/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * mkdir -p: create `path` and its missing parents (mode 0755).  0, or
 * OSA_ENOSPC / OSA_EIO / OSA_EINVAL with the directory that failed and why
 * in `err` (a permission problem says to check owner and permissions).
 */
int osa_mkdirs(const char *path, struct osa_error *err);

/*
 * Initialise a reader-writer lock that prefers writers: with readers
 * querying back to back, glibc's default (reader preference) can starve a
 * writer forever.  0 or an errno value.
 */
int osa_rwlock_init(pthread_rwlock_t *lock);

/* The online CPUs (sysconf(_SC_NPROCESSORS_ONLN)), at least 1. */
size_t osa_cpus(void);

/*
 * Call fn(ctx, i) once for every i in [0, n), from up to `threads` threads
 * (0: osa_cpus(); never more than n), the calling thread being one of
 * them, and return when every call has returned.  Items are handed out in
 * increasing order, one at a time, to whichever thread is free: fn must be
 * safe to run concurrently with itself, and a caller that wants to stop
 * early makes fn return at once (e.g. past a failed item, in ctx).  A
 * thread that cannot be created is done without (fewer threads, never an
 * error); with threads = 1 or n = 1 nothing is created.  The return of
 * osa_parallel_for happens after every call (what fn wrote is visible).
 */
void osa_parallel_for(size_t n, size_t threads, void (*fn)(void *ctx, size_t i),
		      void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* OSA_SYS_H */

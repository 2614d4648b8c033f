/* SPDX-License-Identifier: MIT */
/*
 * osa/sys.h - small system helpers every backend needs, so none copies them.
 */
#ifndef OSA_SYS_H
#define OSA_SYS_H

#include <pthread.h>

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

#ifdef __cplusplus
}
#endif

#endif /* OSA_SYS_H */

/* SPDX-License-Identifier: MIT */
/* sys.c - osa/sys.h: mkdir -p and a writer-preferring rwlock. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

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

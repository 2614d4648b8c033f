/* SPDX-License-Identifier: MIT */
/*
 * osa/error.h - error codes and the error detail that travels beside them.
 *
 * Every fallible function of the SDK returns an int: 0 on success, a negative
 * OSA_E* code on failure.  Functions that can say more take a
 * `struct osa_error *` (which may be NULL) and fill it with the code, a
 * human-readable message and, where known, the index, file and line the error
 * is about.  Messages say what went wrong, where, and what to do.
 */
#ifndef OSA_ERROR_H
#define OSA_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

enum osa_errcode {
	OSA_OK = 0,
	OSA_EINVAL = -1,    /* invalid argument or input */
	OSA_ENOMEM = -2,    /* out of memory */
	OSA_EIO = -3,	    /* I/O error (errno in the message) */
	OSA_ENOTFOUND = -4, /* no such record, index, field or plugin */
	OSA_EEXIST = -5,    /* already exists */
	OSA_ENOTSUP = -6,   /* the plugin does not implement this */
	OSA_ECONFIG = -7,   /* the configuration is invalid */
	OSA_ECORRUPT = -8,  /* stored data failed a check (checksum, size) */
	OSA_ENOSPC = -9,    /* the disk or a map is full */
	OSA_EBUSY = -10,    /* resource in use (e.g. a locked data directory) */
	OSA_EABI = -11,	    /* plugin ABI mismatch */
	OSA_ERANGE = -12,   /* value out of range (e.g. vector length) */
	OSA_EINTERNAL = -13,   /* a bug: an invariant does not hold */
	OSA_ENOFEATURES = -14, /* a text produced no features to embed */
	OSA_EDEGRADED = -15,   /* the index is degraded and cannot serve */
	OSA_EVERSION = -16,    /* data written by a newer format version */
	OSA_ETYPE = -17,       /* a value has the wrong type */
	OSA_ELIMIT = -18       /* a size limit was exceeded */
};

/* Size of the message buffer in struct osa_error, NUL included. */
#define OSA_ERROR_MSG_MAX 512

/*
 * Detail of a failure.  Plain data, no heap: it can live on the stack and be
 * copied.  `index`, `file` and `line` are optional context (empty / 0 when
 * unknown); the core fills `index` when a backend leaves it empty.
 */
struct osa_error {
	int code;		     /* an OSA_E* code, 0 if no error */
	char msg[OSA_ERROR_MSG_MAX]; /* what, where, what to do */
	char index[64];		     /* index name, or "" */
	char file[256];		     /* file the error is about, or "" */
	int line;		     /* line in `file`, or 0 */
};

/*
 * Fill `err` (if not NULL) with `code` and a printf-style message, clearing
 * its context fields.  Returns `code`, so `return osa_error_set(err, ...)`
 * reads naturally.
 */
int osa_error_set(struct osa_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* va_list variant of osa_error_set(). */
int osa_error_setv(struct osa_error *err, int code, const char *fmt,
		   va_list ap);

/* Prefix the message of `err` with a printf-style context ("index papers: ").
 * Does nothing when `err` is NULL.  Returns err->code (or OSA_EINVAL). */
int osa_error_prefix(struct osa_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Reset `err` to "no error".  NULL is allowed. */
void osa_error_clear(struct osa_error *err);

/* A short, static description of `code`.  Never NULL, also for unknown codes.
 */
const char *osa_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* OSA_ERROR_H */

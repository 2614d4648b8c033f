/* SPDX-License-Identifier: MIT */
/* error.c - osa_error_* and osa_strerror. */
#include <stdio.h>
#include <string.h>

#include "osai.h"

int osa_error_setv(struct osa_error *err, int code, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	memset(err, 0, sizeof(*err));
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int osa_error_set(struct osa_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	osa_error_setv(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int osa_error_prefix(struct osa_error *err, const char *fmt, ...)
{
	char prefix[OSA_ERROR_MSG_MAX];
	char old[OSA_ERROR_MSG_MAX];
	size_t plen, olen;
	va_list ap;

	if (!err)
		return OSA_EINVAL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	plen = strlen(prefix);
	olen = strnlen(old, sizeof(old) - 1);
	if (plen + olen >= sizeof(err->msg))
		olen = sizeof(err->msg) - 1 - plen;
	memcpy(err->msg, prefix, plen);
	memcpy(err->msg + plen, old, olen);
	err->msg[plen + olen] = '\0';
	return err->code ? err->code : OSA_EINVAL;
}

void osa_error_clear(struct osa_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

const char *osa_strerror(int code)
{
	switch (code) {
	case OSA_OK:
		return "success";
	case OSA_EINVAL:
		return "invalid argument";
	case OSA_ENOMEM:
		return "out of memory";
	case OSA_EIO:
		return "input/output error";
	case OSA_ENOTFOUND:
		return "not found";
	case OSA_EEXIST:
		return "already exists";
	case OSA_ENOTSUP:
		return "not supported";
	case OSA_ECONFIG:
		return "invalid configuration";
	case OSA_ECORRUPT:
		return "corrupt data";
	case OSA_ENOSPC:
		return "no space left";
	case OSA_EBUSY:
		return "resource busy";
	case OSA_EABI:
		return "plugin ABI mismatch";
	case OSA_ERANGE:
		return "value out of range";
	case OSA_EINTERNAL:
		return "internal error";
	case OSA_ENOFEATURES:
		return "nothing to embed";
	case OSA_EDEGRADED:
		return "index degraded";
	case OSA_EVERSION:
		return "unsupported format version";
	case OSA_ETYPE:
		return "wrong type";
	case OSA_ELIMIT:
		return "size limit exceeded";
	default:
		return "unknown error";
	}
}

const char *osa_version(void)
{
	return OSA_VERSION_STRING;
}

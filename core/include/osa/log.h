/* SPDX-License-Identifier: MIT */
/*
 * osa/log.h - the one logger plugins and the core write to.
 *
 * Lines go to stderr in the format the runtime config's `logging.format`
 * picks (text `key=value` or JSON), below `logging.level` they are dropped.
 * Thread-safe; a line is written with one write(2).
 */
#ifndef OSA_LOG_H
#define OSA_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum osa_log_level {
	OSA_LOG_DEBUG = 0,
	OSA_LOG_INFO = 1,
	OSA_LOG_WARN = 2,
	OSA_LOG_ERROR = 3
};

/* Log a printf-style message at `level`. */
void osa_log(enum osa_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Whether a message at `level` would be written (to skip costly formatting). */
int osa_log_enabled(enum osa_log_level level);

#ifdef __cplusplus
}
#endif

#endif /* OSA_LOG_H */

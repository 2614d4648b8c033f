/* SPDX-License-Identifier: MIT */
/*
 * log.c - the process logger: text (key=value) or JSON lines on stderr, one
 * write(2) per line so concurrent lines never interleave.
 *
 * The level and format are process settings written once at start (before
 * any thread) by osai_log_setup(); reads are relaxed atomics.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "osai.h"

static atomic_int log_level = OSA_LOG_INFO;
static atomic_int log_format = OSAI_LOGFMT_TEXT;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void osai_log_setup(int level, int format)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
	atomic_store_explicit(&log_format, format, memory_order_relaxed);
}

int osa_log_enabled(enum osa_log_level level)
{
	return (int)level >=
	       atomic_load_explicit(&log_level, memory_order_relaxed);
}

/* Append `s` to buf as a JSON string body (no quotes). */
static size_t log_json_escape(char *buf, size_t pos, size_t cap, const char *s)
{
	for (; *s && pos + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[pos++] = '\\';
			buf[pos++] = (char)c;
		} else if (c < 0x20) {
			pos += (size_t)snprintf(buf + pos, cap - pos, "\\u%04x",
						c);
		} else {
			buf[pos++] = (char)c;
		}
	}
	return pos;
}

void osa_log(enum osa_log_level level, const char *fmt, ...)
{
	char msg[2048], line[4400], ts[96];
	struct timespec now;
	struct tm tm;
	size_t pos;
	va_list ap;

	if (!osa_log_enabled(level))
		return;
	if ((unsigned)level > OSA_LOG_ERROR)
		level = OSA_LOG_ERROR;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
	if (atomic_load_explicit(&log_format, memory_order_relaxed) ==
	    OSAI_LOGFMT_JSON) {
		pos = (size_t)snprintf(
			line, sizeof(line),
			"{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
			level_names[level]);
		pos = log_json_escape(line, pos, sizeof(line) - 3, msg);
		memcpy(line + pos, "\"}\n", 3);
		pos += 3;
	} else {
		int n = snprintf(line, sizeof(line), "ts=%s level=%s %s\n", ts,
				 level_names[level], msg);
		pos = n < 0 ? 0 : (size_t)n;
		if (pos >= sizeof(line)) {
			pos = sizeof(line) - 1;
			line[pos - 1] = '\n';
		}
	}
	if (write(STDERR_FILENO, line, pos) < 0)
		return;
}

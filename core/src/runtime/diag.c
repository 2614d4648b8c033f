/* SPDX-License-Identifier: MIT */
/*
 * diag.c - configuration diagnostics: a growing list of
 * `FILE:LINE: dotted.path: message` entries, sorted by file and line (stably,
 * so several errors on one line keep the order they were found in) and
 * printed or joined at the end.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osai.h"

/* Printed (once) when a diagnostic could not be recorded. */
#define DIAG_OOM_LINE "out of memory: some errors were not recorded"

static char *diag_strdup(const char *s, bool *failed)
{
	char *p;

	if (!s)
		return NULL;
	p = strdup(s);
	if (!p)
		*failed = true;
	return p;
}

void osai_diag_add(struct osai_diags *d, const char *file, int line,
		   const char *path, const char *fmt, ...)
{
	struct osai_diag *e;
	bool failed = false;
	va_list ap;
	int rc;

	if (!d)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct osai_diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v) {
			d->oom = true;
			return;
		}
		d->v = v;
		d->cap = cap;
	}
	e = &d->v[d->n];
	memset(e, 0, sizeof(*e));
	e->line = line > 0 ? line : 0;
	e->file = diag_strdup(file, &failed);
	e->path = diag_strdup(path, &failed);
	va_start(ap, fmt);
	rc = vasprintf(&e->msg, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		e->msg = NULL;
		failed = true;
	}
	if (failed) {
		free(e->file);
		free(e->path);
		free(e->msg);
		d->oom = true;
		return;
	}
	d->n++;
}

/* Order by file name (entries without a file first), then by line. */
static int diag_cmp(const struct osai_diag *a, const struct osai_diag *b)
{
	int c;

	if (a->file != b->file) {
		if (!a->file)
			return -1;
		if (!b->file)
			return 1;
		c = strcmp(a->file, b->file);
		if (c)
			return c;
	}
	return (a->line > b->line) - (a->line < b->line);
}

/* Insertion sort: stable, in place, and the lists are short. */
static void diag_sort(struct osai_diags *d)
{
	size_t i, j;

	for (i = 1; i < d->n; i++) {
		struct osai_diag tmp = d->v[i];

		for (j = i; j > 0 && diag_cmp(&d->v[j - 1], &tmp) > 0; j--)
			d->v[j] = d->v[j - 1];
		d->v[j] = tmp;
	}
}

static void diag_print_one(const struct osai_diag *e, FILE *out)
{
	if (e->file && e->line)
		fprintf(out, "%s:%d: ", e->file, e->line);
	else if (e->file)
		fprintf(out, "%s: ", e->file);
	else if (e->line)
		fprintf(out, "line %d: ", e->line);
	if (e->path && *e->path)
		fprintf(out, "%s: ", e->path);
	fprintf(out, "%s\n", e->msg);
}

void osai_diags_print(struct osai_diags *d, FILE *out)
{
	size_t i;

	if (!d || !out)
		return;
	diag_sort(d);
	for (i = 0; i < d->n; i++)
		diag_print_one(&d->v[i], out);
	if (d->oom)
		fprintf(out, "%s\n", DIAG_OOM_LINE);
}

char *osai_diags_join(struct osai_diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!d)
		return NULL;
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	osai_diags_print(d, f);
	if (ferror(f) | fclose(f)) {
		free(buf);
		return NULL;
	}
	/* No trailing newline: the lines are '\n'-separated. */
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return buf;
}

void osai_diags_free(struct osai_diags *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].path);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

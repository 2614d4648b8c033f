/* SPDX-License-Identifier: MIT */
/*
 * fuzz_snapshot.c - the snapshot loaders of `vector` and `flat`: arbitrary
 * bytes as a snapshot file must give an error, never a crash or a huge
 * allocation.  Input byte 0 picks the backend (bit 0) and the mode (bit 1):
 * the rest is either the whole file, or a body wrapped in a valid header
 * (copied from a real snapshot of the same backend, checksums right) so the
 * fuzzer reaches the body parsers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <osa/backend.h>
#include <osa/snapshot.h>

#include "osai.h"

struct fz {
	const struct osa_backend *b;
	void *cfg;
	char dir[128];
	char snap[192];
	struct osa_snap_info info; /* header of a real snapshot */
};

static struct fz fz[2];

static void fz_setup(struct fz *f, const char *name, const char *file)
{
	const char *doc = "{\"srn\":\"urn:osa:f.org:rec:abc\",\"title\":\"sea "
			  "ice\",\"summary\":\"cold water\"}";
	static const struct osa_attrs none = { 0, NULL };
	struct osa_backend_args args = { .attrs = &none };
	struct osa_record *rec;
	struct osa_error err;
	uint64_t lsn;
	void *self;

	osai_registry_init(NULL);
	f->b = osa_backend_find(name);
	if (!f->b ||
	    osa_schema_parse(f->b->schema, "dim = 16;", &f->cfg, NULL, &err))
		abort();
	snprintf(f->dir, sizeof(f->dir), "/dev/shm/osa-fuzz-snap-%s-%ld", name,
		 (long)getpid());
	mkdir(f->dir, 0755);
	snprintf(f->snap, sizeof(f->snap), "%s/%s", f->dir, file);
	args.index = name;
	args.config = f->cfg;
	args.dir = f->dir;
	if (f->b->open(&args, &self, &lsn, &err) ||
	    osa_record_parse(doc, strlen(doc), NULL, &rec, &err) ||
	    f->b->ingest_batch(self, (const struct osa_record *const *)&rec, 1,
			       &err) ||
	    f->b->checkpoint(self, 7, &err))
		abort();
	osa_record_free(rec);
	f->b->close(self);
	/* The header layout of osa/snapshot.h: take the real values. */
	{
		unsigned char h[256];
		FILE *fp = fopen(f->snap, "rb");

		if (!fp || fread(h, 1, sizeof(h), fp) != sizeof(h))
			abort();
		fclose(fp);
		memcpy(f->info.kind, h + 16, 16);
		memcpy(&f->info.body_version, h + 32, 4);
		memcpy(&f->info.blob_len, h + 36, 4);
		if (f->info.blob_len > OSA_SNAP_BLOB_MAX)
			abort();
		memcpy(f->info.blob, h + 72, f->info.blob_len);
		memcpy(&f->info.lsn, h + 48, 8);
	}
}

struct body {
	const uint8_t *p;
	size_t n;
};

static int fz_body(void *ctx, struct osa_snap_writer *w, struct osa_error *err)
{
	struct body *b = ctx;

	return osa_snap_write(w, b->p, b->n, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct osa_attrs none = { 0, NULL };
	struct osa_backend_args args = { .attrs = &none };
	struct osa_error err;
	struct fz *f;
	uint64_t lsn;
	void *self;

	if (!fz[0].b) {
		fz_setup(&fz[0], "vector", "vector.snap");
		fz_setup(&fz[1], "flat", "flat.snap");
	}
	if (size < 1)
		return 0;
	f = &fz[data[0] & 1];
	if (data[0] & 2) {
		struct osa_snap_info info = f->info;
		struct body b = { data + 1, size - 1 };

		if (size >= 9)
			memcpy(&info.count, data + 1, 8);
		if (osa_snap_save(f->snap, &info, fz_body, &b, &err))
			return 0;
	} else {
		FILE *fp = fopen(f->snap, "wb");

		if (!fp)
			return 0;
		fwrite(data + 1, 1, size - 1, fp);
		fclose(fp);
	}
	args.index = f->b->name;
	args.config = f->cfg;
	args.dir = f->dir;
	if (!f->b->open(&args, &self, &lsn, &err))
		f->b->close(self);
	return 0;
}

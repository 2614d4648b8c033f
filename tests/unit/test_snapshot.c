/* SPDX-License-Identifier: MIT */
/*
 * test_snapshot.c - the snapshot helper (osa/snapshot.h) on its own: the
 * XXH3-64 checksums, the backend's blob, a streamed multi-megabyte body, the descriptor path, atomic
 * replacement, and every check of the reader.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include <osa/snapshot.h>
#include <xxhash.h>

#include "backend_test.h"

static char dir[64];

static struct osa_snap_info base_info(void)
{
	struct osa_snap_info in = {
		.kind = "test", .body_version = 2, .count = 3, .lsn = 99
	};

	OSA_REQUIRE(osa_snap_set_blob(&in, NULL, "dim=%d metric=%s", 128,
				      "l2") == 0);
	return in;
}

/* Body: `len` bytes of a known pattern, written in odd-sized pieces. */
static int body_fn(void *ctx, struct osa_snap_writer *w, struct osa_error *err)
{
	size_t len = *(size_t *)ctx, done = 0, piece = 1;
	static unsigned char buf[3 << 20];
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	while (done < len && !rc) {
		size_t n = len - done < piece ? len - done : piece;

		if (n > sizeof(buf))
			n = sizeof(buf);
		rc = osa_snap_write(w, buf, n, err);
		done += n;
		piece = piece * 3 + 1; /* 1, 4, 13, ... up to > 1 MiB */
	}
	return rc;
}

static int read_all(const char *path, size_t len, struct osa_error *err)
{
	struct osa_snap_info exp = base_info(), got;
	struct osa_snap_reader *r;
	unsigned char *buf;
	size_t i;
	int rc;

	rc = osa_snap_open(path, &exp, &r, &got, err);
	if (rc)
		return rc;
	OSA_CHECK(got.lsn == 99 && got.count == 3 && got.body_len == len);
	OSA_CHECK(osa_snap_remaining(r) == len);
	buf = malloc(len + 1);
	OSA_REQUIRE(buf);
	rc = osa_snap_read(r, buf, len, err);
	OSA_CHECK(rc == 0);
	for (i = 0; i < len && !rc; i++)
		if (buf[i] != (unsigned char)((i % (3 << 20)) * 131 + 7))
			break;
	(void)i;
	/* One byte more than there is: truncated, naming the file. */
	OSA_CHECK(osa_snap_read(r, buf, 1, err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err->msg, path);
	free(buf);
	return osa_snap_close(r, err);
}

/* The header as written: offsets of osa/snapshot.h, XXH3-64 sums. */
static void test_layout(void)
{
	struct osa_snap_info in = base_info(), got;
	struct osa_error err = { 0 };
	struct osa_snap_reader *r;
	unsigned char h[256];
	uint64_t sum;
	uint32_t v;
	char path[128];
	size_t len = 1000;
	int fd;

	snprintf(path, sizeof(path), "%s/layout.snap", dir);
	OSA_REQUIRE(osa_snap_save(path, &in, body_fn, &len, &err) == 0);
	fd = open(path, O_RDONLY);
	OSA_REQUIRE(fd >= 0 && pread(fd, h, 256, 0) == 256);
	OSA_CHECK(!memcmp(h, "OSASNAP1", 8));
	memcpy(&v, h + 8, 4);
	OSA_CHECK(v == 2 && OSA_SNAP_FORMAT == 2);
	memcpy(&v, h + 36, 4);
	OSA_CHECK(v == in.blob_len && v == strlen("dim=128 metric=l2"));
	OSA_CHECK(!memcmp(h + 72, "dim=128 metric=l2", v));
	OSA_CHECK(h[72 + v] == 0);
	memcpy(&sum, h + 248, 8);
	OSA_CHECK(sum == XXH3_64bits(h, 248));
	{
		unsigned char *body = malloc(len);

		OSA_REQUIRE(body && pread(fd, body, len, 256) == (ssize_t)len);
		memcpy(&sum, h + 64, 8);
		OSA_CHECK(sum == XXH3_64bits(body, len));
		free(body);
	}
	close(fd);
	/* NULL expectations read any header. */
	OSA_REQUIRE(osa_snap_open(path, NULL, &r, &got, &err) == 0);
	OSA_CHECK_STR(got.kind, "test");
	OSA_CHECK(got.blob_len == in.blob_len &&
		  !memcmp(got.blob, in.blob, in.blob_len));
	osa_snap_close(r, NULL);
	/* A blob that does not fit is refused, not cut. */
	OSA_CHECK(osa_snap_set_blob(&in, &err, "%0200d", 1) == OSA_ERANGE);
	OSA_CHECK(in.blob_len == 0);
	OSA_CHECK_CONTAINS(err.msg, "176");
}

static void test_roundtrip(void)
{
	struct osa_snap_info in = base_info();
	struct osa_error err = { 0 };
	char path[128], tmpl[160];
	size_t len = (5u << 20) + 17; /* several buffers, odd end */

	snprintf(path, sizeof(path), "%s/a.snap", dir);
	OSA_REQUIRE(osa_snap_save(path, &in, body_fn, &len, &err) == 0);
	OSA_CHECK(read_all(path, len, &err) == 0);
	/* An empty body. */
	len = 0;
	OSA_REQUIRE(osa_snap_save(path, &in, body_fn, &len, &err) == 0);
	OSA_CHECK(read_all(path, 0, &err) == 0);
	/* No temporary file is left behind. */
	snprintf(tmpl, sizeof(tmpl), "%s.tmp.%ld", path, (long)getpid());
	OSA_CHECK(access(tmpl, F_OK) != 0);
}

/* A body half through the buffer, half through the descriptor. */
static void test_fd(void)
{
	struct osa_snap_info in = base_info(), got;
	struct osa_error err = { 0 };
	struct osa_snap_writer *w;
	struct osa_snap_reader *r;
	char path[128], back[12];
	int fd;

	snprintf(path, sizeof(path), "%s/fd.snap", dir);
	OSA_REQUIRE(osa_snap_create(path, &in, &w, &err) == 0);
	OSA_REQUIRE(osa_snap_write(w, "hello ", 6, &err) == 0);
	OSA_REQUIRE(osa_snap_flush(w, &fd, &err) == 0);
	OSA_REQUIRE(write(fd, "world", 5) == 5);
	OSA_REQUIRE(osa_snap_wrote_fd(w, 5, &err) == 0);
	OSA_REQUIRE(osa_snap_write(w, "!", 1, &err) == 0);
	osa_snap_set_count(w, 12);
	OSA_REQUIRE(osa_snap_commit(w, &err) == 0);
	in.count = 0;
	OSA_REQUIRE(osa_snap_open(path, &in, &r, &got, &err) == 0);
	OSA_CHECK(got.count == 12);
	OSA_REQUIRE(osa_snap_read(r, back, 12, &err) == 0);
	OSA_CHECK(!memcmp(back, "hello world!", 12));
	OSA_CHECK(osa_snap_close(r, &err) == 0);
	/* A descriptor write that does not match what is reported fails. */
	OSA_REQUIRE(osa_snap_create(path, &in, &w, &err) == 0);
	OSA_REQUIRE(osa_snap_flush(w, &fd, &err) == 0);
	OSA_REQUIRE(write(fd, "abc", 3) == 3);
	OSA_CHECK(osa_snap_wrote_fd(w, 4, &err) != 0);
	OSA_CHECK(osa_snap_commit(w, &err) != 0);
	/* ... and the old snapshot is still there, intact. */
	OSA_REQUIRE(osa_snap_open(path, &in, &r, &got, &err) == 0);
	OSA_CHECK(got.count == 12);
	osa_snap_close(r, NULL);
}

static void put_bytes(const char *path, long off, const void *b, size_t n)
{
	int fd = open(path, O_WRONLY);

	OSA_REQUIRE(fd >= 0);
	OSA_REQUIRE(pwrite(fd, b, n, off) == (ssize_t)n);
	close(fd);
}

/* Every damage and every mismatch is an error naming the file. */
static void test_checks(void)
{
	struct osa_snap_info in = base_info(), exp;
	struct osa_error err = { 0 };
	struct osa_snap_reader *r;
	char path[128];
	size_t len = 1000;
	long off;

	snprintf(path, sizeof(path), "%s/c.snap", dir);
	OSA_CHECK(osa_snap_open(path, &in, &r, NULL, &err) == OSA_ENOTFOUND);
	/* Any single flipped byte, header or body, is caught. */
	for (off = 0; off < 256 + 1000; off += off < 256 ? 1 : 37) {
		unsigned char x = 0x5a;

		OSA_REQUIRE(osa_snap_save(path, &in, body_fn, &len, &err) == 0);
		{
			int fd = open(path, O_RDONLY);
			unsigned char c;

			OSA_REQUIRE(pread(fd, &c, 1, off) == 1);
			close(fd);
			x ^= c;
			if (x == c)
				x ^= 1;
		}
		put_bytes(path, off, &x, 1);
		OSA_CHECK_MSG(osa_snap_open(path, &in, &r, NULL, &err) < 0,
			      "offset %ld accepted", off);
		OSA_CHECK_CONTAINS(err.msg, path);
	}
	/* Extended by one byte. */
	OSA_REQUIRE(osa_snap_save(path, &in, body_fn, &len, &err) == 0);
	OSA_REQUIRE(truncate(path, 256 + 1001) == 0);
	OSA_CHECK(osa_snap_open(path, &in, &r, NULL, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "1000-byte body");
	/* A newer format version (with a valid header checksum). */
	{
		unsigned char h[256];
		uint64_t c;
		int fd;

		OSA_REQUIRE(osa_snap_save(path, &in, body_fn, &len, &err) == 0);
		fd = open(path, O_RDWR);
		OSA_REQUIRE(pread(fd, h, 256, 0) == 256);
		h[8] = 9;
		c = XXH3_64bits(h, 248);
		memcpy(h + 248, &c, 8);
		OSA_REQUIRE(pwrite(fd, h, 256, 0) == 256);
		close(fd);
		OSA_CHECK(osa_snap_open(path, &in, &r, NULL, &err) ==
			  OSA_EVERSION);
		OSA_CHECK_CONTAINS(err.msg, "format version 9");
	}
	/* A format-1 file (osa before 0.4): refused as corrupt, so that the
	 * core quarantines it and rebuilds, with a message that says so. */
	{
		unsigned char h[256];
		int fd;

		OSA_REQUIRE(osa_snap_save(path, &in, body_fn, &len, &err) == 0);
		fd = open(path, O_RDWR);
		OSA_REQUIRE(pread(fd, h, 256, 0) == 256);
		h[8] = 1;
		OSA_REQUIRE(pwrite(fd, h, 256, 0) == 256);
		close(fd);
		OSA_CHECK(osa_snap_open(path, &in, &r, NULL, &err) ==
			  OSA_ECORRUPT);
		OSA_CHECK_CONTAINS(err.msg, path);
		OSA_CHECK_CONTAINS(err.msg, "format 1");
		OSA_CHECK_CONTAINS(err.msg, "rebuilt from the journal");
		OSA_CHECK_STR(err.file, path);
	}
	/* A newer body version. */
	OSA_REQUIRE(osa_snap_save(path, &in, body_fn, &len, &err) == 0);
	exp = in;
	exp.body_version = 1;
	OSA_CHECK(osa_snap_open(path, &exp, &r, NULL, &err) == OSA_EVERSION);
	/* Mismatches: kind, then the blob (text, then binary). */
	exp = in;
	snprintf(exp.kind, sizeof(exp.kind), "other");
	OSA_CHECK(osa_snap_open(path, &exp, &r, NULL, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "\"test\"");
	exp = in;
	OSA_REQUIRE(osa_snap_set_blob(&exp, NULL, "dim=64 metric=cosine") == 0);
	OSA_CHECK(osa_snap_open(path, &exp, &r, NULL, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, path);
	OSA_CHECK_CONTAINS(err.msg, "written for \"dim=128 metric=l2\" but "
				    "this index expects \"dim=64 "
				    "metric=cosine\"");
	OSA_CHECK_STR(err.file, path);
	exp.blob_len = 3;
	memcpy(exp.blob, "\x01\x02\xff", 3);
	OSA_CHECK(osa_snap_open(path, &exp, &r, NULL, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "expects 3 bytes 0x0102ff");
	exp.blob_len = 0;
	OSA_CHECK(osa_snap_open(path, &exp, &r, NULL, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "expects nothing (no blob)");
	/* Unread trailing bytes are an error at close. */
	OSA_REQUIRE(osa_snap_open(path, &in, &r, NULL, &err) == 0);
	OSA_CHECK(osa_snap_close(r, &err) == OSA_ECORRUPT);
	OSA_CHECK_CONTAINS(err.msg, "1000 unexpected bytes");
	/* A directory is not a snapshot. */
	OSA_CHECK(osa_snap_open(dir, &in, &r, NULL, &err) == OSA_ECORRUPT);
	/* A writer in a missing directory fails cleanly. */
	{
		struct osa_snap_writer *w;
		char bad[160];

		snprintf(bad, sizeof(bad), "%s/missing/x.snap", dir);
		OSA_CHECK(osa_snap_create(bad, &in, &w, &err) == OSA_EIO);
		OSA_CHECK_CONTAINS(err.msg, bad);
	}
}

int main(void)
{
	bt_tmpdir(dir);
	test_layout();
	test_roundtrip();
	test_fd();
	test_checks();
	bt_rmdir(dir);
	OSA_TEST_END();
}

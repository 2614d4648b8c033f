/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - snapshot files (osa/snapshot.h): the header codec (XXH3-64
 * checksums), the atomic writer and the checking reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <osa/snapshot.h>

#include <xxhash.h>

/* Buffer of the writer and of the checksum pass. */
#define SNAP_BUF (1u << 20)

/* Offsets in the header (format 2). */
#define SNAP_OFF_FORMAT 8
#define SNAP_OFF_HSIZE 12
#define SNAP_OFF_KIND 16
#define SNAP_OFF_BODYV 32
#define SNAP_OFF_BLOBLEN 36
#define SNAP_OFF_COUNT 40
#define SNAP_OFF_LSN 48
#define SNAP_OFF_BODYLEN 56
#define SNAP_OFF_BODYSUM 64
#define SNAP_OFF_BLOB 72
#define SNAP_OFF_HSUM 248

_Static_assert(SNAP_OFF_BLOB + OSA_SNAP_BLOB_MAX == SNAP_OFF_HSUM,
	       "the blob ends where the header checksum starts");
_Static_assert(SNAP_OFF_HSUM + 8 == OSA_SNAP_HEADER_SIZE,
	       "the header checksum ends the header");

/* ---- header codec ---------------------------------------------------- */

static void snap_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void snap_put64(unsigned char *p, uint64_t v)
{
	snap_put32(p, (uint32_t)v);
	snap_put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t snap_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t snap_get64(const unsigned char *p)
{
	return (uint64_t)snap_get32(p) | (uint64_t)snap_get32(p + 4) << 32;
}

/* Copy a string into a NUL-padded field of `n` bytes (cut if longer). */
static void snap_put_str(unsigned char *p, size_t n, const char *s)
{
	size_t l = strnlen(s, n);

	memset(p, 0, n);
	memcpy(p, s, l);
}

/* A NUL-padded field of `n` bytes as a string of at most `max - 1` chars. */
static void snap_get_str(char *out, size_t max, const unsigned char *p,
			 size_t n)
{
	size_t l = strnlen((const char *)p, n);

	if (l >= max)
		l = max - 1;
	memcpy(out, p, l);
	out[l] = '\0';
}

static void snap_encode(unsigned char *h, const struct osa_snap_info *in,
			uint64_t body_len, uint64_t body_sum)
{
	uint32_t bl = in->blob_len < OSA_SNAP_BLOB_MAX ? in->blob_len
						       : OSA_SNAP_BLOB_MAX;

	memset(h, 0, OSA_SNAP_HEADER_SIZE);
	memcpy(h, OSA_SNAP_MAGIC, 8);
	snap_put32(h + SNAP_OFF_FORMAT, OSA_SNAP_FORMAT);
	snap_put32(h + SNAP_OFF_HSIZE, OSA_SNAP_HEADER_SIZE);
	snap_put_str(h + SNAP_OFF_KIND, OSA_SNAP_KIND_MAX, in->kind);
	snap_put32(h + SNAP_OFF_BODYV, in->body_version);
	snap_put32(h + SNAP_OFF_BLOBLEN, bl);
	snap_put64(h + SNAP_OFF_COUNT, in->count);
	snap_put64(h + SNAP_OFF_LSN, in->lsn);
	snap_put64(h + SNAP_OFF_BODYLEN, body_len);
	snap_put64(h + SNAP_OFF_BODYSUM, body_sum);
	memcpy(h + SNAP_OFF_BLOB, in->blob, bl);
	snap_put64(h + SNAP_OFF_HSUM, XXH3_64bits(h, SNAP_OFF_HSUM));
}

static void snap_decode(const unsigned char *h, struct osa_snap_info *out)
{
	memset(out, 0, sizeof(*out));
	snap_get_str(out->kind, sizeof(out->kind), h + SNAP_OFF_KIND,
		     OSA_SNAP_KIND_MAX);
	out->body_version = snap_get32(h + SNAP_OFF_BODYV);
	out->blob_len = snap_get32(h + SNAP_OFF_BLOBLEN);
	if (out->blob_len <= OSA_SNAP_BLOB_MAX)
		memcpy(out->blob, h + SNAP_OFF_BLOB, out->blob_len);
	out->count = snap_get64(h + SNAP_OFF_COUNT);
	out->lsn = snap_get64(h + SNAP_OFF_LSN);
	out->body_len = snap_get64(h + SNAP_OFF_BODYLEN);
}

/* Set `err` with the file named in message and context. */
static int snap_err(struct osa_error *err, int code, const char *path,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int snap_err(struct osa_error *err, int code, const char *path,
		    const char *fmt, ...)
{
	char what[OSA_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	osa_error_set(err, code, "snapshot %s: %s", path, what);
	if (err)
		snprintf(err->file, sizeof(err->file), "%s", path);
	return code;
}

/* Write all of buf, retrying short writes and EINTR. */
static int snap_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read up to len bytes at `off`; returns bytes read (short only at EOF),
 * or -1. */
static ssize_t snap_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, (off_t)(off + got));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* fsync the directory holding `path`. */
static int snap_sync_dir(const char *path)
{
	char *dir = strdup(path);
	char *slash;
	int fd, rc;

	if (!dir)
		return -1;
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* ---- writer ---------------------------------------------------------- */

struct osa_snap_writer {
	char *path;
	char *tmp;
	int fd;
	struct osa_snap_info info;
	uint64_t body_len;
	XXH3_state_t *sum; /* of the body so far */
	unsigned char *buf;
	size_t nbuf;
	bool failed;
	char why[160]; /* the first failure */
};

static int snap_io_code(int e)
{
	return e == ENOSPC || e == EDQUOT ? OSA_ENOSPC : OSA_EIO;
}

int osa_snap_create(const char *path, const struct osa_snap_info *info,
		    struct osa_snap_writer **out, struct osa_error *err)
{
	struct osa_snap_writer *w = calloc(1, sizeof(*w));
	unsigned char hdr[OSA_SNAP_HEADER_SIZE];
	size_t tl;

	*out = NULL;
	if (!w)
		return snap_err(err, OSA_ENOMEM, path, "out of memory");
	tl = strlen(path) + 32;
	w->path = strdup(path);
	w->tmp = malloc(tl);
	w->buf = malloc(SNAP_BUF);
	w->sum = XXH3_createState();
	w->fd = -1;
	if (!w->path || !w->tmp || !w->buf || !w->sum ||
	    XXH3_64bits_reset(w->sum) != XXH_OK) {
		osa_snap_abort(w);
		return snap_err(err, OSA_ENOMEM, path, "out of memory");
	}
	snprintf(w->tmp, tl, "%s.tmp.%ld", path, (long)getpid());
	w->info = *info;
	w->fd = open(w->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int e = errno;

		osa_snap_abort(w);
		return snap_err(err, snap_io_code(e), path,
				"cannot create %s.tmp.*: %s; check that the "
				"directory exists and is writable",
				path, strerror(e));
	}
	/* A placeholder header: a crash before commit leaves an invalid
	 * temporary file, never a valid-looking one. */
	memset(hdr, 0, sizeof(hdr));
	if (snap_write_all(w->fd, hdr, sizeof(hdr))) {
		int e = errno;

		osa_snap_abort(w);
		return snap_err(err, snap_io_code(e), path, "write failed: %s",
				strerror(e));
	}
	*out = w;
	return 0;
}

static int snap_drain(struct osa_snap_writer *w, struct osa_error *err)
{
	if (!w->nbuf)
		return 0;
	if (snap_write_all(w->fd, w->buf, w->nbuf)) {
		int e = errno;

		w->failed = true;
		snprintf(w->why, sizeof(w->why), "%s", strerror(e));
		return snap_err(err, snap_io_code(e), w->path,
				"write failed: %s", strerror(e));
	}
	w->nbuf = 0;
	return 0;
}

int osa_snap_write(struct osa_snap_writer *w, const void *buf, size_t len,
		   struct osa_error *err)
{
	const unsigned char *p = buf;

	if (w->failed)
		return snap_err(err, OSA_EIO, w->path,
				"write after a failed write");
	XXH3_64bits_update(w->sum, buf, len);
	w->body_len += len;
	if (len >= SNAP_BUF) {
		if (snap_drain(w, err))
			return err ? err->code : OSA_EIO;
		if (snap_write_all(w->fd, p, len)) {
			int e = errno;

			w->failed = true;
			snprintf(w->why, sizeof(w->why), "%s", strerror(e));
			return snap_err(err, snap_io_code(e), w->path,
					"write failed: %s", strerror(e));
		}
		return 0;
	}
	while (len) {
		size_t n = SNAP_BUF - w->nbuf;

		if (n > len)
			n = len;
		memcpy(w->buf + w->nbuf, p, n);
		w->nbuf += n;
		p += n;
		len -= n;
		if (w->nbuf == SNAP_BUF && snap_drain(w, err))
			return err ? err->code : OSA_EIO;
	}
	return 0;
}

uint64_t osa_snap_writer_offset(const struct osa_snap_writer *w)
{
	return OSA_SNAP_HEADER_SIZE + w->body_len;
}

void osa_snap_set_count(struct osa_snap_writer *w, uint64_t count)
{
	w->info.count = count;
}

int osa_snap_flush(struct osa_snap_writer *w, int *fd, struct osa_error *err)
{
	int rc;

	if (w->failed)
		return snap_err(err, OSA_EIO, w->path,
				"write after a failed write");
	rc = snap_drain(w, err);
	if (!rc)
		*fd = w->fd;
	return rc;
}

int osa_snap_wrote_fd(struct osa_snap_writer *w, uint64_t len,
		      struct osa_error *err)
{
	uint64_t off = OSA_SNAP_HEADER_SIZE + w->body_len, done = 0;
	struct stat st;

	/* The bytes must really be there: checksum them from the file. */
	if (fstat(w->fd, &st) || (uint64_t)st.st_size != off + len) {
		w->failed = true;
		return snap_err(err, OSA_EIO, w->path,
				"the body written through the descriptor is "
				"not %llu bytes long",
				(unsigned long long)len);
	}
	while (done < len) {
		size_t n =
			len - done > SNAP_BUF ? SNAP_BUF : (size_t)(len - done);
		ssize_t got = snap_pread_all(w->fd, w->buf, n, off + done);

		if (got != (ssize_t)n) {
			w->failed = true;
			return snap_err(err, OSA_EIO, w->path,
					"cannot read back the body: %s",
					got < 0 ? strerror(errno) : "short");
		}
		XXH3_64bits_update(w->sum, w->buf, n);
		done += n;
	}
	w->body_len += len;
	if (lseek(w->fd, 0, SEEK_END) < 0) {
		w->failed = true;
		return snap_err(err, OSA_EIO, w->path, "seek failed: %s",
				strerror(errno));
	}
	return 0;
}

static ssize_t snap_cookie_write(void *c, const char *buf, size_t size)
{
	struct osa_snap_writer *w = c;

	if (osa_snap_write(w, buf, size, NULL)) {
		w->failed = true;
		if (!w->why[0])
			snprintf(w->why, sizeof(w->why), "stream write failed");
		errno = EIO;
		return -1;
	}
	return (ssize_t)size;
}

FILE *osa_snap_writer_file(struct osa_snap_writer *w, struct osa_error *err)
{
	cookie_io_functions_t io = { .write = snap_cookie_write };
	FILE *fp = fopencookie(w, "w", io);

	if (!fp)
		snap_err(err, OSA_ENOMEM, w->path, "cannot open a stream: %s",
			 strerror(errno));
	return fp;
}

int osa_snap_commit(struct osa_snap_writer *w, struct osa_error *err)
{
	unsigned char hdr[OSA_SNAP_HEADER_SIZE];
	int rc = 0, e;

	if (w->failed) {
		rc = snap_err(err, OSA_EIO, w->path,
			      "not committed after a failed write (%s)",
			      w->why[0] ? w->why : "unknown");
		goto out;
	}
	if ((rc = snap_drain(w, err)))
		goto out;
	snap_encode(hdr, &w->info, w->body_len, XXH3_64bits_digest(w->sum));
	if (pwrite(w->fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    fsync(w->fd)) {
		e = errno;
		rc = snap_err(err, snap_io_code(e), w->path,
			      "cannot write and sync %s: %s", w->tmp,
			      strerror(e));
		goto out;
	}
	e = close(w->fd);
	w->fd = -1;
	if (e) {
		e = errno;
		rc = snap_err(err, snap_io_code(e), w->path,
			      "closing %s failed: %s", w->tmp, strerror(e));
		goto out;
	}
	if (rename(w->tmp, w->path)) {
		e = errno;
		rc = snap_err(err, OSA_EIO, w->path,
			      "cannot rename %s over it: %s", w->tmp,
			      strerror(e));
		goto out;
	}
	free(w->tmp);
	w->tmp = NULL; /* nothing to remove any more */
	if (snap_sync_dir(w->path)) {
		e = errno;
		rc = snap_err(err, OSA_EIO, w->path,
			      "cannot sync its directory: %s", strerror(e));
	}
out:
	osa_snap_abort(w);
	return rc;
}

void osa_snap_abort(struct osa_snap_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp)
		unlink(w->tmp);
	free(w->tmp);
	free(w->path);
	free(w->buf);
	XXH3_freeState(w->sum);
	free(w);
}

int osa_snap_save(const char *path, const struct osa_snap_info *info,
		  osa_snap_body_fn fn, void *ctx, struct osa_error *err)
{
	struct osa_snap_writer *w;
	int rc = osa_snap_create(path, info, &w, err);

	if (rc)
		return rc;
	rc = fn(ctx, w, err);
	if (rc) {
		osa_snap_abort(w);
		return rc;
	}
	return osa_snap_commit(w, err);
}

/* ---- reader ---------------------------------------------------------- */

struct osa_snap_reader {
	char *path;
	int fd;
	uint64_t off; /* next body byte to read, from the body's start */
	uint64_t len; /* body length */
	const unsigned char *map; /* the whole file, read-only, or NULL */
	size_t maplen;
	uint64_t sum; /* the body's checksum from the header */
};

/* A blob for messages: quoted text when it is printable, else hex. */
static void snap_blob_str(char *buf, size_t n, const unsigned char *b,
			  uint32_t len)
{
	size_t o = 0;
	uint32_t i;
	bool text = true;

	if (!len) {
		snprintf(buf, n, "nothing (no blob)");
		return;
	}
	for (i = 0; i < len; i++)
		if (b[i] < 0x20 || b[i] > 0x7e)
			text = false;
	if (text) {
		snprintf(buf, n, "\"%.*s\"", (int)len, (const char *)b);
		return;
	}
	o = (size_t)snprintf(buf, n, "%u bytes 0x", len);
	for (i = 0; i < len && o + 3 < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%02x", b[i]);
}

/* Compare the header with what the caller expects. */
static int snap_check_expect(const char *path, const struct osa_snap_info *got,
			     const struct osa_snap_info *exp,
			     struct osa_error *err)
{
	char was[2 * OSA_SNAP_BLOB_MAX + 24], want[2 * OSA_SNAP_BLOB_MAX + 24];

	if (strncmp(got->kind, exp->kind, OSA_SNAP_KIND_MAX))
		return snap_err(err, OSA_ECORRUPT, path,
				"written by backend \"%s\", not \"%s\"; it "
				"does not belong in this index's directory",
				got->kind, exp->kind);
	if (got->body_version > exp->body_version)
		return snap_err(err, OSA_EVERSION, path,
				"body format %u is newer than the %u this "
				"build reads; upgrade osa or rebuild the "
				"index (osa reindex)",
				got->body_version, exp->body_version);
	if (got->blob_len != exp->blob_len ||
	    memcmp(got->blob, exp->blob, got->blob_len)) {
		snap_blob_str(was, sizeof(was), got->blob, got->blob_len);
		snap_blob_str(want, sizeof(want), exp->blob, exp->blob_len);
		return snap_err(err, OSA_ECORRUPT, path,
				"was written for %s but this index expects "
				"%s; the index must be rebuilt (osa reindex)",
				was, want);
	}
	return 0;
}

int osa_snap_set_blob(struct osa_snap_info *info, struct osa_error *err,
		      const char *fmt, ...)
{
	char buf[OSA_SNAP_BLOB_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	info->blob_len = 0;
	if (n < 0 || (size_t)n > OSA_SNAP_BLOB_MAX)
		return osa_error_set(err, OSA_ERANGE,
				     "snapshot blob of backend \"%s\" is %d "
				     "bytes, more than the %u a header holds: "
				     "%.40s...",
				     info->kind, n, OSA_SNAP_BLOB_MAX, buf);
	memcpy(info->blob, buf, (size_t)n);
	info->blob_len = (uint32_t)n;
	return 0;
}

int osa_snap_open(const char *path, const struct osa_snap_info *expect,
		  struct osa_snap_reader **out, struct osa_snap_info *got,
		  struct osa_error *err)
{
	return osa_snap_open_flags(path, expect, 0, out, got, err);
}

/* XXH3-64 of the body, polling `stop` every 16 MiB; 1 when stopped. */
static int snap_body_sum(const struct osa_snap_reader *r, int (*stop)(void *),
			 void *ctx, uint64_t *sum)
{
	const size_t step = (size_t)16 << 20;
	const unsigned char *p = r->map + OSA_SNAP_HEADER_SIZE;
	XXH3_state_t *st;
	size_t done = 0;

	if (!stop) {
		*sum = XXH3_64bits(p, (size_t)r->len);
		return 0;
	}
	if (!(st = XXH3_createState()) || XXH3_64bits_reset(st) != XXH_OK) {
		XXH3_freeState(st);
		return -1;
	}
	while (done < r->len) {
		size_t n =
			r->len - done > step ? step : (size_t)(r->len - done);

		if (stop(ctx)) {
			XXH3_freeState(st);
			return 1;
		}
		XXH3_64bits_update(st, p + done, n);
		done += n;
	}
	*sum = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return 0;
}

int osa_snap_verify(struct osa_snap_reader *r, int (*stop)(void *), void *ctx,
		    struct osa_error *err)
{
	uint64_t sum = 0;
	int rc = snap_body_sum(r, stop, ctx, &sum);

	if (rc < 0)
		return snap_err(err, OSA_ENOMEM, r->path, "out of memory");
	if (rc)
		return 1;
	if (sum != r->sum)
		return snap_err(err, OSA_ECORRUPT, r->path,
				"body checksum mismatch (damaged file)");
	return 0;
}

int osa_snap_open_flags(const char *path, const struct osa_snap_info *expect,
			unsigned flags, struct osa_snap_reader **out,
			struct osa_snap_info *got, struct osa_error *err)
{
	unsigned char hdr[OSA_SNAP_HEADER_SIZE];
	struct osa_snap_reader *r = NULL;
	struct osa_snap_info info;
	const unsigned char *map = NULL;
	struct stat st;
	uint64_t size;
	uint32_t fmt, hsize;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return snap_err(err, OSA_ENOTFOUND, path,
					"does not exist");
		return snap_err(err, OSA_EIO, path, "cannot open: %s",
				strerror(e));
	}
	if (fstat(fd, &st)) {
		rc = snap_err(err, OSA_EIO, path, "cannot stat: %s",
			      strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = snap_err(err, OSA_ECORRUPT, path, "not a regular file");
		goto fail;
	}
	size = (uint64_t)st.st_size;
	if (size < OSA_SNAP_HEADER_SIZE) {
		rc = snap_err(err, OSA_ECORRUPT, path,
			      "truncated: %llu bytes, shorter than the "
			      "%u-byte header",
			      (unsigned long long)size, OSA_SNAP_HEADER_SIZE);
		goto fail;
	}
	n = snap_pread_all(fd, hdr, sizeof(hdr), 0);
	if (n != (ssize_t)sizeof(hdr)) {
		rc = snap_err(err, n < 0 ? OSA_EIO : OSA_ECORRUPT, path,
			      "cannot read the header: %s",
			      n < 0 ? strerror(errno) : "short read");
		goto fail;
	}
	if (memcmp(hdr, OSA_SNAP_MAGIC, 8)) {
		rc = snap_err(err, OSA_ECORRUPT, path,
			      "not an OSA snapshot (bad magic)");
		goto fail;
	}
	fmt = snap_get32(hdr + SNAP_OFF_FORMAT);
	hsize = snap_get32(hdr + SNAP_OFF_HSIZE);
	/*
	 * Format 1 (CRC-32C, vector-shaped fields) is refused before its
	 * checksum is even looked at: its index is rebuilt from the journal.
	 */
	if (fmt == 1) {
		rc = snap_err(err, OSA_ECORRUPT, path,
			      "format 1 (written by osa before 0.4) is no "
			      "longer read; the index is rebuilt from the "
			      "journal (the old folder is kept in quarantine)");
		goto fail;
	}
	/*
	 * A damaged header is corrupt, whatever its version field says; a
	 * newer format may change the header size (it keeps the magic, the
	 * version and the size in bytes 0..15).
	 */
	if (hsize == OSA_SNAP_HEADER_SIZE &&
	    snap_get64(hdr + SNAP_OFF_HSUM) !=
		    XXH3_64bits(hdr, SNAP_OFF_HSUM)) {
		rc = snap_err(err, OSA_ECORRUPT, path,
			      "header checksum mismatch (torn or damaged "
			      "file)");
		goto fail;
	}
	if (fmt > OSA_SNAP_FORMAT) {
		rc = snap_err(err, OSA_EVERSION, path,
			      "format version %u is newer than the %u this "
			      "build reads; upgrade osa or rebuild the index "
			      "(osa reindex)",
			      fmt, OSA_SNAP_FORMAT);
		goto fail;
	}
	if (fmt == 0 || hsize != OSA_SNAP_HEADER_SIZE) {
		rc = snap_err(err, OSA_ECORRUPT, path,
			      "bad header (format %u, size %u)", fmt, hsize);
		goto fail;
	}
	snap_decode(hdr, &info);
	if (info.blob_len > OSA_SNAP_BLOB_MAX) {
		rc = snap_err(err, OSA_ECORRUPT, path,
			      "bad header (blob length %u, at most %u)",
			      info.blob_len, OSA_SNAP_BLOB_MAX);
		goto fail;
	}
	if (info.body_len != size - OSA_SNAP_HEADER_SIZE) {
		rc = snap_err(
			err, OSA_ECORRUPT, path,
			"the header announces a %llu-byte body but the "
			"file holds %llu bytes after the header "
			"(truncated or extended)",
			(unsigned long long)info.body_len,
			(unsigned long long)(size - OSA_SNAP_HEADER_SIZE));
		goto fail;
	}
	if (expect && (rc = snap_check_expect(path, &info, expect, err)))
		goto fail;
	/*
	 * Map the whole file (read-only; snapshots are replaced by rename,
	 * never rewritten in place) and checksum the body on the mapping before
	 * anyone parses it: no copy, and the body reads below are memcpy()s
	 * from it, or pointers into it (osa_snap_view()).  MAP_POPULATE sets up
	 * the page tables in one go instead of a fault per page.
	 */
	if (size > SIZE_MAX) {
		rc = snap_err(err, OSA_ENOMEM, path, "too large to map");
		goto fail;
	}
	if (flags & ~OSA_SNAP_DEFER_CHECKSUM) {
		rc = snap_err(err, OSA_EINVAL, path,
			      "osa_snap_open_flags: unknown flags 0x%x", flags);
		goto fail;
	}
	map = mmap(NULL, (size_t)size, PROT_READ,
		   MAP_SHARED |
			   (flags & OSA_SNAP_DEFER_CHECKSUM ? 0 : MAP_POPULATE),
		   fd, 0);
	if (map == MAP_FAILED) {
		map = NULL;
		rc = snap_err(err, errno == ENOMEM ? OSA_ENOMEM : OSA_EIO, path,
			      "cannot map %llu bytes: %s",
			      (unsigned long long)size, strerror(errno));
		goto fail;
	}
	if (!(flags & OSA_SNAP_DEFER_CHECKSUM) &&
	    XXH3_64bits(map + OSA_SNAP_HEADER_SIZE, (size_t)info.body_len) !=
		    snap_get64(hdr + SNAP_OFF_BODYSUM)) {
		rc = snap_err(err, OSA_ECORRUPT, path,
			      "body checksum mismatch (damaged file)");
		goto fail;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->path = strdup(path))) {
		free(r);
		rc = snap_err(err, OSA_ENOMEM, path, "out of memory");
		goto fail;
	}
	r->fd = fd;
	r->len = info.body_len;
	r->map = map;
	r->maplen = (size_t)size;
	r->sum = snap_get64(hdr + SNAP_OFF_BODYSUM);
	if (got)
		*got = info;
	*out = r;
	return 0;
fail:
	if (map)
		munmap((void *)map, (size_t)size);
	close(fd);
	return rc;
}

uint64_t osa_snap_remaining(const struct osa_snap_reader *r)
{
	return r->len - r->off;
}

/* Check that `len` body bytes remain; OSA_ECORRUPT naming the file. */
static int snap_want(const struct osa_snap_reader *r, uint64_t len,
		     struct osa_error *err)
{
	if (len <= r->len - r->off)
		return 0;
	return snap_err(err, OSA_ECORRUPT, r->path,
			"truncated body: %llu bytes wanted at offset %llu, "
			"%llu left",
			(unsigned long long)len, (unsigned long long)r->off,
			(unsigned long long)(r->len - r->off));
}

int osa_snap_read(struct osa_snap_reader *r, void *buf, size_t len,
		  struct osa_error *err)
{
	int rc = snap_want(r, len, err);

	if (rc)
		return rc;
	if (len)
		memcpy(buf, r->map + OSA_SNAP_HEADER_SIZE + r->off, len);
	r->off += len;
	return 0;
}

const void *osa_snap_view(struct osa_snap_reader *r, size_t len,
			  struct osa_error *err)
{
	const void *p;

	if (snap_want(r, len, err))
		return NULL;
	p = r->map + OSA_SNAP_HEADER_SIZE + r->off;
	r->off += len;
	return p;
}

uint64_t osa_snap_file_offset(const struct osa_snap_reader *r)
{
	return OSA_SNAP_HEADER_SIZE + r->off;
}

int osa_snap_fd(const struct osa_snap_reader *r)
{
	return r->fd;
}

/* A bounded read stream over a reader. */
struct snap_rcookie {
	struct osa_snap_reader *r;
	uint64_t left;
};

static ssize_t snap_cookie_read(void *c, char *buf, size_t size)
{
	struct snap_rcookie *k = c;

	if (size > k->left)
		size = (size_t)k->left;
	if (size && osa_snap_read(k->r, buf, size, NULL)) {
		errno = EIO;
		return -1;
	}
	k->left -= size;
	return (ssize_t)size;
}

static int snap_cookie_close(void *c)
{
	free(c);
	return 0;
}

FILE *osa_snap_reader_file(struct osa_snap_reader *r, uint64_t len,
			   struct osa_error *err)
{
	cookie_io_functions_t io = { .read = snap_cookie_read,
				     .close = snap_cookie_close };
	struct snap_rcookie *k;
	FILE *fp;

	if (snap_want(r, len, err))
		return NULL;
	k = malloc(sizeof(*k));
	if (!k) {
		snap_err(err, OSA_ENOMEM, r->path, "out of memory");
		return NULL;
	}
	k->r = r;
	k->left = len;
	fp = fopencookie(k, "r", io);
	if (!fp) {
		free(k);
		snap_err(err, OSA_ENOMEM, r->path, "cannot open a stream: %s",
			 strerror(errno));
	}
	return fp;
}

int osa_snap_corrupt(const struct osa_snap_reader *r, struct osa_error *err,
		     const char *fmt, ...)
{
	char what[OSA_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return snap_err(err, OSA_ECORRUPT, r->path,
			"%s; the index must be rebuilt (osa reindex)", what);
}

const char *osa_snap_path(const struct osa_snap_reader *r)
{
	return r->path;
}

int osa_snap_close(struct osa_snap_reader *r, struct osa_error *err)
{
	int rc = 0;

	if (!r)
		return 0;
	if (r->off != r->len)
		rc = snap_err(err, OSA_ECORRUPT, r->path,
			      "%llu unexpected bytes after the body",
			      (unsigned long long)(r->len - r->off));
	if (r->map)
		munmap((void *)r->map, r->maplen);
	close(r->fd);
	free(r->path);
	free(r);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - snapshot files (osa/snapshot.h): the CRC-32C, the header
 * codec, the atomic writer and the checking reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <osa/snapshot.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define SNAP_HAVE_SSE42 1
#endif

/* Buffer of the writer and of the checksum pass. */
#define SNAP_BUF (1u << 20)

/* Offsets in the header. */
#define SNAP_OFF_FORMAT 8
#define SNAP_OFF_HSIZE 12
#define SNAP_OFF_KIND 16
#define SNAP_OFF_BODYV 32
#define SNAP_OFF_DIM 36
#define SNAP_OFF_METRIC 40
#define SNAP_OFF_EMBEDDER 48
#define SNAP_OFF_COUNT 176
#define SNAP_OFF_LSN 184
#define SNAP_OFF_BODYLEN 192
#define SNAP_OFF_BODYCRC 200
#define SNAP_OFF_HCRC 252

/* ---- CRC-32C --------------------------------------------------------- */

/* Table of the reflected polynomial 0x82f63b78, one byte at a time. */
static const uint32_t snap_crc_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static uint32_t snap_crc_soft(uint32_t c, const unsigned char *p, size_t len)
{
	while (len--)
		c = snap_crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

#ifdef SNAP_HAVE_SSE42
__attribute__((target("sse4.2"))) static uint32_t
snap_crc_hw(uint32_t c, const unsigned char *p, size_t len)
{
	uint64_t c64 = c;

	while (len && ((uintptr_t)p & 7)) {
		c64 = _mm_crc32_u8((uint32_t)c64, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c64 = _mm_crc32_u64(c64, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c64 = _mm_crc32_u8((uint32_t)c64, *p++);
	return (uint32_t)c64;
}
#endif

uint32_t osa_crc32c(uint32_t crc, const void *buf, size_t len)
{
	uint32_t c = ~crc;

#ifdef SNAP_HAVE_SSE42
	if (__builtin_cpu_supports("sse4.2"))
		return ~snap_crc_hw(c, buf, len);
#endif
	return ~snap_crc_soft(c, buf, len);
}

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
			uint64_t body_len, uint32_t body_crc)
{
	char emb[OSA_SNAP_EMBEDDER_MAX];

	memset(h, 0, OSA_SNAP_HEADER_SIZE);
	memcpy(h, OSA_SNAP_MAGIC, 8);
	snap_put32(h + SNAP_OFF_FORMAT, OSA_SNAP_FORMAT);
	snap_put32(h + SNAP_OFF_HSIZE, OSA_SNAP_HEADER_SIZE);
	snap_put_str(h + SNAP_OFF_KIND, OSA_SNAP_KIND_MAX, in->kind);
	snap_put32(h + SNAP_OFF_BODYV, in->body_version);
	snap_put32(h + SNAP_OFF_DIM, in->dim);
	snap_put32(h + SNAP_OFF_METRIC, in->metric);
	/* At most 127 bytes, so the field always ends with a NUL. */
	snprintf(emb, sizeof(emb), "%s", in->embedder);
	snap_put_str(h + SNAP_OFF_EMBEDDER, OSA_SNAP_EMBEDDER_MAX, emb);
	snap_put64(h + SNAP_OFF_COUNT, in->count);
	snap_put64(h + SNAP_OFF_LSN, in->lsn);
	snap_put64(h + SNAP_OFF_BODYLEN, body_len);
	snap_put32(h + SNAP_OFF_BODYCRC, body_crc);
	snap_put32(h + SNAP_OFF_HCRC, osa_crc32c(0, h, SNAP_OFF_HCRC));
}

static void snap_decode(const unsigned char *h, struct osa_snap_info *out)
{
	memset(out, 0, sizeof(*out));
	snap_get_str(out->kind, sizeof(out->kind), h + SNAP_OFF_KIND,
		     OSA_SNAP_KIND_MAX);
	out->body_version = snap_get32(h + SNAP_OFF_BODYV);
	out->dim = snap_get32(h + SNAP_OFF_DIM);
	out->metric = snap_get32(h + SNAP_OFF_METRIC);
	snap_get_str(out->embedder, sizeof(out->embedder),
		     h + SNAP_OFF_EMBEDDER, OSA_SNAP_EMBEDDER_MAX);
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
	uint32_t crc;
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
	w->fd = -1;
	if (!w->path || !w->tmp || !w->buf) {
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
	w->crc = osa_crc32c(w->crc, buf, len);
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
		w->crc = osa_crc32c(w->crc, w->buf, n);
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
	snap_encode(hdr, &w->info, w->body_len, w->crc);
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
};

/* Describe a metric value for messages. */
static void snap_metric_name(char *buf, size_t n, uint32_t m,
			     const char *const *names)
{
	uint32_t i;

	for (i = 0; names && names[i]; i++)
		if (i == m) {
			snprintf(buf, n, "metric \"%s\"", names[i]);
			return;
		}
	snprintf(buf, n, "metric %u", m);
}

/* Compare the header with what the caller expects. */
static int snap_check_expect(const char *path, const struct osa_snap_info *got,
			     const struct osa_snap_info *exp,
			     const char *const *metric_names,
			     struct osa_error *err)
{
	char was[OSA_ERROR_MSG_MAX], want[OSA_ERROR_MSG_MAX];
	char cut[OSA_SNAP_EMBEDDER_MAX], m1[64], m2[64];
	size_t nw = 0, nx = 0;

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
	snprintf(cut, sizeof(cut), "%s", exp->embedder);
	was[0] = want[0] = '\0';
#define SNAP_ADD(buf, n, ...)                                                  \
	do {                                                                   \
		int k_ = snprintf(buf + n, sizeof(buf) - n, "%s",              \
				  n ? ", " : "");                              \
		if (k_ > 0 && (size_t)k_ < sizeof(buf) - n)                    \
			n += (size_t)k_;                                       \
		k_ = snprintf(buf + n, sizeof(buf) - n, __VA_ARGS__);          \
		if (k_ > 0)                                                    \
			n = n + (size_t)k_ < sizeof(buf) ? n + (size_t)k_      \
							 : sizeof(buf) - 1;    \
	} while (0)
	if (got->dim != exp->dim) {
		SNAP_ADD(was, nw, "dim %u", got->dim);
		SNAP_ADD(want, nx, "dim %u", exp->dim);
	}
	if (got->metric != exp->metric) {
		snap_metric_name(m1, sizeof(m1), got->metric, metric_names);
		snap_metric_name(m2, sizeof(m2), exp->metric, metric_names);
		SNAP_ADD(was, nw, "%s", m1);
		SNAP_ADD(want, nx, "%s", m2);
	}
	if (strcmp(got->embedder, cut)) {
		SNAP_ADD(was, nw, "embedder \"%s\"", got->embedder);
		SNAP_ADD(want, nx, "embedder \"%s\"", cut);
	}
#undef SNAP_ADD
	if (nw)
		return snap_err(err, OSA_ECORRUPT, path,
				"was written for %s but the config says %s; "
				"the index must be rebuilt (osa reindex)",
				was, want);
	return 0;
}

int osa_snap_open(const char *path, const struct osa_snap_info *expect,
		  const char *const *metric_names, struct osa_snap_reader **out,
		  struct osa_snap_info *got, struct osa_error *err)
{
	unsigned char hdr[OSA_SNAP_HEADER_SIZE];
	struct osa_snap_reader *r = NULL;
	struct osa_snap_info info;
	unsigned char *buf = NULL;
	struct stat st;
	uint64_t size, done;
	uint32_t crc = 0;
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
	 * A damaged header is corrupt, whatever its version field says; a
	 * newer format may change the header size (it keeps the magic, the
	 * version and the size in bytes 0..15).
	 */
	if (hsize == OSA_SNAP_HEADER_SIZE &&
	    snap_get32(hdr + SNAP_OFF_HCRC) !=
		    osa_crc32c(0, hdr, SNAP_OFF_HCRC)) {
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
	if ((rc = snap_check_expect(path, &info, expect, metric_names, err)))
		goto fail;
	/* Checksum the body in one streaming pass before anyone parses it. */
	buf = malloc(SNAP_BUF);
	if (!buf) {
		rc = snap_err(err, OSA_ENOMEM, path, "out of memory");
		goto fail;
	}
	for (done = 0; done < info.body_len;) {
		size_t want = info.body_len - done > SNAP_BUF
				      ? SNAP_BUF
				      : (size_t)(info.body_len - done);

		n = snap_pread_all(fd, buf, want, OSA_SNAP_HEADER_SIZE + done);
		if (n != (ssize_t)want) {
			rc = snap_err(err, n < 0 ? OSA_EIO : OSA_ECORRUPT, path,
				      "cannot read the body: %s",
				      n < 0 ? strerror(errno)
					    : "the file shrank");
			goto fail;
		}
		crc = osa_crc32c(crc, buf, want);
		done += want;
	}
	free(buf);
	buf = NULL;
	if (crc != snap_get32(hdr + SNAP_OFF_BODYCRC)) {
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
	if (got)
		*got = info;
	*out = r;
	return 0;
fail:
	free(buf);
	close(fd);
	return rc;
}

uint64_t osa_snap_remaining(const struct osa_snap_reader *r)
{
	return r->len - r->off;
}

int osa_snap_read(struct osa_snap_reader *r, void *buf, size_t len,
		  struct osa_error *err)
{
	ssize_t n;

	if (len > r->len - r->off)
		return snap_err(err, OSA_ECORRUPT, r->path,
				"truncated body: %zu bytes wanted at offset "
				"%llu, %llu left",
				len, (unsigned long long)r->off,
				(unsigned long long)(r->len - r->off));
	n = snap_pread_all(r->fd, buf, len, OSA_SNAP_HEADER_SIZE + r->off);
	if (n != (ssize_t)len)
		return snap_err(err, n < 0 ? OSA_EIO : OSA_ECORRUPT, r->path,
				"read failed: %s",
				n < 0 ? strerror(errno) : "the file shrank");
	r->off += len;
	return 0;
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

	if (len > r->len - r->off) {
		snap_err(err, OSA_ECORRUPT, r->path,
			 "truncated body: %llu bytes wanted at offset %llu, "
			 "%llu left",
			 (unsigned long long)len, (unsigned long long)r->off,
			 (unsigned long long)(r->len - r->off));
		return NULL;
	}
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
	close(r->fd);
	free(r->path);
	free(r);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * osa/snapshot.h - snapshot files that cannot hurt: a checked header, a
 * checksummed body, atomic replacement.
 *
 * Backends that persist state at `checkpoint` write one file through this
 * helper and read it back at `open`, so none of them hand-rolls headers,
 * checksums, fsync or size checks.
 *
 * File layout (format 2; all integers little-endian, header 256 bytes):
 *
 *   off size  field
 *     0    8  magic "OSASNAP1"
 *     8    4  format version of this header (OSA_SNAP_FORMAT, 2)
 *    12    4  header size (256)
 *    16   16  kind: the backend name, NUL-padded
 *    32    4  body version: the backend's own body format
 *    36    4  blob length (0..OSA_SNAP_BLOB_MAX)
 *    40    8  count of items (records) in the body
 *    48    8  LSN the snapshot covers
 *    56    8  body length in bytes (the file is exactly 256 + this long)
 *    64    8  XXH3-64 of the body
 *    72  176  blob: the backend's own description of what the body was
 *             built from (e.g. "dim=384 metric=cosine embedder=..."),
 *             opaque to the core, zero-padded after its length
 *   248    8  XXH3-64 of bytes 0..247 (so the blob is checksummed too)
 *   256    .  body (the backend's bytes)
 *
 * The blob is how a backend records the parameters its body depends on
 * without the core knowing their shape: the reader compares it byte for
 * byte with the blob the caller expects and refuses a snapshot built from
 * other parameters.  Text blobs make the best messages (they are quoted in
 * them); binary blobs are shown in hex.
 *
 * Format 1 (before osa 0.4: dim, metric and embedder slots in the header,
 * CRC-32C checksums) is not read any more: osa_snap_open() refuses it with
 * OSA_ECORRUPT naming the file, and the core then quarantines the index
 * folder and rebuilds the index from the journal.
 *
 * Writing: osa_snap_create() opens `<path>.tmp.<pid>` (the core removes stale
 * `.tmp.` files at open), osa_snap_write() streams body bytes through a
 * buffer while the checksum is computed, osa_snap_commit() writes the final
 * header, fsyncs the file, renames it over `<path>` and fsyncs the directory.
 * Until commit the old snapshot stays intact; osa_snap_abort() discards.
 * The body never has to be in memory at once.
 *
 * Reading: osa_snap_open() checks, before anything is allocated beyond a
 * fixed buffer: magic, format version (newer: OSA_EVERSION), header size and
 * checksum, that the body length equals the file's real length minus the
 * header, the body checksum (one streaming pass), then kind, body version
 * and blob against what the caller expects.  The backend
 * then reads the body with osa_snap_read(), which refuses to read past the
 * body; osa_snap_remaining() lets it check a size it read from the body
 * before it allocates.  Every error is OSA_ECORRUPT (or OSA_EIO, OSA_EVERSION)
 * with a message naming the file, and err->file set to it.
 *
 * Thread-safety: a reader or writer is used by one thread at a time.
 */
#ifndef OSA_SNAPSHOT_H
#define OSA_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <osa/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OSA_SNAP_MAGIC "OSASNAP1" /* 8 bytes, no NUL in the file */
#define OSA_SNAP_FORMAT 2u	  /* version of the header layout */
#define OSA_SNAP_HEADER_SIZE 256u
#define OSA_SNAP_KIND_MAX 16   /* bytes of `kind` in the file */
#define OSA_SNAP_BLOB_MAX 176u /* bytes of `blob` in the file */
/*
 * Size of a buffer for osa_embed_describe() (a format-1 header field); kept
 * so that backends sizing their descriptions with it still compile.
 */
#define OSA_SNAP_EMBEDDER_MAX 128

/*
 * What a snapshot header says.  `kind` is NUL-terminated here (cut to 16
 * bytes in the file); `blob` holds `blob_len` bytes of the backend's own
 * (see osa_snap_set_blob()).
 */
struct osa_snap_info {
	char kind[OSA_SNAP_KIND_MAX + 1];      /* backend name ("vector") */
	uint32_t body_version;		       /* the backend's body format */
	uint32_t blob_len;		       /* bytes used in `blob` */
	unsigned char blob[OSA_SNAP_BLOB_MAX]; /* backend-specific, opaque */
	uint64_t count;			       /* items in the body */
	uint64_t lsn;			       /* LSN the snapshot covers */
	uint64_t body_len;		       /* set by the reader/commit */
};

/*
 * Set info->blob from a printf format (a text blob, the usual kind:
 * "dim=%u metric=%s embedder=%s").  OSA_ERANGE (err filled, blob left
 * empty) when the text does not fit in OSA_SNAP_BLOB_MAX bytes, else 0.
 */
int osa_snap_set_blob(struct osa_snap_info *info, struct osa_error *err,
		      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct osa_snap_writer;

/*
 * Start writing the snapshot `path` described by `info` (count and lsn may
 * still be changed with osa_snap_set_count() before commit; body_len is
 * ignored).  Creates `<path>.tmp.<pid>`.  0, or OSA_EIO naming the file.
 */
int osa_snap_create(const char *path, const struct osa_snap_info *info,
		    struct osa_snap_writer **out, struct osa_error *err);

/* Append `len` body bytes.  0 or OSA_EIO; after a failure only
 * osa_snap_abort() is allowed. */
int osa_snap_write(struct osa_snap_writer *w, const void *buf, size_t len,
		   struct osa_error *err);

/*
 * The offset in the file at which the next body byte will be written, so
 * that a backend can pad its body to put a block on a page boundary for a
 * reader that maps it (osa_snap_file_offset(), osa_snap_fd()).
 */
uint64_t osa_snap_writer_offset(const struct osa_snap_writer *w);

/* Change the item count written in the header (e.g. known only at the end). */
void osa_snap_set_count(struct osa_snap_writer *w, uint64_t count);

/*
 * The temporary file's descriptor, positioned at the end of what was written
 * so far, for code that can only write to a file descriptor: flush first with
 * osa_snap_flush(), write, then report the bytes with osa_snap_wrote_fd(),
 * which reads them back to checksum them.
 */
int osa_snap_flush(struct osa_snap_writer *w, int *fd, struct osa_error *err);
int osa_snap_wrote_fd(struct osa_snap_writer *w, uint64_t len,
		      struct osa_error *err);

/*
 * A write-only stdio stream appending to the body through osa_snap_write(),
 * for code that serialises to a FILE* (e.g. hnswlib_c's hnswc_save_fp()).
 * fclose() it before osa_snap_commit(); a failed write through it makes the
 * commit fail.  NULL (err filled) when out of memory.
 */
FILE *osa_snap_writer_file(struct osa_snap_writer *w, struct osa_error *err);

/*
 * Finish: write the header, fsync, rename over `path`, fsync the directory.
 * Frees `w` whatever the outcome (on failure the temporary file is removed
 * and the old snapshot is untouched).  0 or OSA_EIO / OSA_ENOSPC.
 */
int osa_snap_commit(struct osa_snap_writer *w, struct osa_error *err);

/* Discard: remove the temporary file, free `w`.  NULL is allowed. */
void osa_snap_abort(struct osa_snap_writer *w);

/*
 * Write a whole snapshot whose body `fn` produces by calling osa_snap_write()
 * (or the fd functions) on the writer it is given; `fn` returns 0 or an
 * OSA_E* code with `err` filled.  Commit on success, abort otherwise.
 */
typedef int (*osa_snap_body_fn)(void *ctx, struct osa_snap_writer *w,
				struct osa_error *err);
int osa_snap_save(const char *path, const struct osa_snap_info *info,
		  osa_snap_body_fn fn, void *ctx, struct osa_error *err);

struct osa_snap_reader;

/*
 * Open and check the snapshot `path` (see the top of this file).  `expect`
 * gives kind, the highest body_version the caller reads and the blob the
 * body must have been built with (blob_len 0: none); NULL accepts any
 * (for tools and tests reading a header).  On success *out reads
 * the body and `got` (optional) receives the header.  OSA_ENOTFOUND (err
 * filled, nothing logged) when the file does not exist; OSA_ECORRUPT for
 * any damage, a format-1 file, or a blob mismatch ("snapshot F was written
 * for "dim=128 ..." but this index expects "dim=64 ..."; ..."); OSA_EVERSION
 * for a newer format or body version; OSA_EIO.
 */
int osa_snap_open(const char *path, const struct osa_snap_info *expect,
		  struct osa_snap_reader **out, struct osa_snap_info *got,
		  struct osa_error *err);

/*
 * osa_snap_open_flags() flag: check the header (magic, format, header
 * checksum, sizes, kind, body version, blob) but not yet the body's
 * checksum, and read nothing of the body: for a backend that serves from
 * the mapped file at once (osa_snap_view(), osa_snap_fd()) and checks the
 * body with osa_snap_verify() later, e.g. on a thread of its own, before it
 * trusts what it has not checked itself and before its first write.  A
 * backend using it must tolerate any bytes until then (bound every offset
 * and id it follows).
 */
#define OSA_SNAP_DEFER_CHECKSUM 1u

/* osa_snap_open() with flags (0 or OSA_SNAP_DEFER_CHECKSUM). */
int osa_snap_open_flags(const char *path, const struct osa_snap_info *expect,
			unsigned flags, struct osa_snap_reader **out,
			struct osa_snap_info *got, struct osa_error *err);

/*
 * Check the body's checksum (what osa_snap_open() does at once): 0, or
 * OSA_ECORRUPT naming the file.  `stop` (may be NULL) is polled every 16 MiB;
 * when it returns non-zero the check ends unfinished and 1 is returned.  It
 * reads only the mapping: it may run on another thread while the reader's
 * owner takes views, but not concurrently with osa_snap_close().
 */
int osa_snap_verify(struct osa_snap_reader *r, int (*stop)(void *), void *ctx,
		    struct osa_error *err);

/* Body bytes not read yet. */
uint64_t osa_snap_remaining(const struct osa_snap_reader *r);

/*
 * Read exactly `len` body bytes into `buf`.  OSA_ECORRUPT ("truncated") when
 * fewer remain, OSA_EIO on a read error; both name the file.
 */
int osa_snap_read(struct osa_snap_reader *r, void *buf, size_t len,
		  struct osa_error *err);

/*
 * The next `len` body bytes in place, without a copy: a pointer into the
 * reader's read-only mapping of the file, valid until osa_snap_close().  The
 * reader advances past them.  NULL with OSA_ECORRUPT ("truncated") when
 * fewer remain.  The file is mapped whole when it is opened (after the
 * checksum pass reads it once, its pages are in the page cache), so views
 * and reads cost no system call.  Snapshot files must therefore never be
 * shortened in place while a reader is open: osa_snap_commit() replaces them
 * by rename, which leaves open mappings on the old file.
 */
const void *osa_snap_view(struct osa_snap_reader *r, size_t len,
			  struct osa_error *err);

/*
 * The offset in the file of the next body byte, and the file's descriptor
 * (read-only; owned by the reader, closed by osa_snap_close()), for a
 * backend that maps part of the body itself, e.g. privately and writable
 * (copy-on-write) so that it serves from the file without loading it.  A
 * mapping made from it stays valid after osa_snap_close().
 */
uint64_t osa_snap_file_offset(const struct osa_snap_reader *r);
int osa_snap_fd(const struct osa_snap_reader *r);

/*
 * A read-only stdio stream over the next `len` body bytes (it ends there, so
 * stdio's read-ahead never goes past them), for code that parses from a
 * FILE* (e.g. hnswlib_c's hnswc_load_fp()).  Bytes the stream reads advance
 * the reader: consume all `len` of them, then fclose() it before reading on.
 * NULL with OSA_ECORRUPT when fewer than `len` bytes remain, OSA_ENOMEM.
 */
FILE *osa_snap_reader_file(struct osa_snap_reader *r, uint64_t len,
			   struct osa_error *err);

/*
 * Report corruption found by the backend inside the body: sets `err` to
 * OSA_ECORRUPT with "snapshot PATH: <message>; ..." and err->file.  Returns
 * OSA_ECORRUPT.
 */
int osa_snap_corrupt(const struct osa_snap_reader *r, struct osa_error *err,
		     const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The file's path (for messages). */
const char *osa_snap_path(const struct osa_snap_reader *r);

/*
 * Finish reading: OSA_ECORRUPT if body bytes were left unread (trailing
 * garbage), else 0.  Frees `r` either way.  NULL is allowed.
 */
int osa_snap_close(struct osa_snap_reader *r, struct osa_error *err);

#ifdef __cplusplus
}
#endif

#endif /* OSA_SNAPSHOT_H */

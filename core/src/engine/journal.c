/* SPDX-License-Identifier: MIT */
/*
 * journal.c - the LMDB journal (see journal.h): records, change log, index
 * state; group commit; map growth; compaction.
 *
 * Group commit: a writer queues its change and, if no commit is running,
 * becomes the leader: it takes every queued change, writes them all in one
 * transaction, commits (one fsync), and wakes the writers whose changes it
 * carried.  Writers that arrive meanwhile queue behind and the next leader
 * carries them.
 *
 * Map growth: LMDB may change the map size only when no transaction of this
 * process is active, so every transaction holds `maplock` shared and the
 * grower takes it exclusive.
 *
 * Record values are [u64 sum][u16 srn length][srn][document]; keys are the
 * srn, or, for srns longer than LMDB's 511-byte key limit, their first 494
 * bytes, a 0x01 byte (never in an srn) and 16 hex digits of a 64-bit hash.
 * Log values are [u64 sum][u8 op][u32 n] then n x [u16 len][srn]; index
 * states are [struct osai_istate][u64 sum].  Each sum is XXH3-64 of the
 * bytes after it, seeded with the XXH3 of the key (records, states) or the
 * LSN (log), so a value moved under another key fails too.  Format 1 had no
 * sums (and a 24-byte state); it is upgraded on open.
 *
 * Reads check that a value lies inside the pages the last commit uses before
 * hashing it, so a damaged node size cannot send us past the file's end.
 *
 * Before mdb_env_open maps data.mdb, j_check_file reads its two meta pages
 * with read(): magic, version, page size, and the last page of the newest
 * commit against the file size.  LMDB itself would map a truncated file and
 * die of SIGBUS on the first access past its end.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

#include <osa/log.h>

#include <osa/sys.h>

#include "journal.h"

#define J_KEY_MAX 511
#define J_KEY_PREFIX 494
#define J_SUM 8 /* bytes of the checksum atop each value */

/* The layout of LMDB's meta page (lmdb 0.9, mdb.c: MDB_page header, then
 * MDB_meta) as read from the file; 64-bit pgno_t and size_t. */
#define J_META_MAGIC 0xBEEFC0DEu
#define J_META_VERSION 1u
#define J_OFF_FLAGS 10	  /* u16 mp_flags; P_META = 0x08 */
#define J_OFF_MAGIC 16	  /* u32 mm_magic */
#define J_OFF_VERSION 20  /* u32 mm_version */
#define J_OFF_PSIZE 40	  /* u32 mm_dbs[FREE_DBI].md_pad: the page size */
#define J_OFF_LAST_PG 136 /* pgno_t mm_last_pg */
#define J_OFF_TXNID 144	  /* txnid_t mm_txnid */
#define J_META_END 152

_Static_assert(sizeof(struct osai_istate) == 32,
	       "the index state is stored as 4 x u64 (format 2)");

struct jwrite {
	int op;
	size_t n;
	const char *const *srns;
	const char *const *docs;
	const size_t *lens;
	uint64_t lsn;
	size_t found;
	int rc;
	struct osa_error err;
	int done;
	struct jwrite *next;
};

/*
 * Locks: a writer takes qlock (the queue), then, as leader and without
 * qlock, maplock shared for its transaction.  maplock is writer-preferring,
 * so that map growth and compaction are not starved by a stream of reads;
 * nobody takes it twice.
 */
struct osai_journal {
	MDB_env *env;		    /* [maplock] replaced by compaction */
	MDB_dbi records, log, meta; /* [maplock] reopened by compaction */
	char *dir;		    /* fixed */
	pthread_rwlock_t maplock;   /* every transaction shared; map growth
				     * and compaction exclusive */
	pthread_mutex_t qlock;	    /* the fields below */
	pthread_cond_t qcond;	    /* a group was committed */
	struct jwrite *head, *tail; /* [qlock] changes waiting for a leader */
	int committing;		    /* [qlock] a leader is at work */
	uint64_t last_lsn; /* [qlock] written by the leader; the leader reads
			    * it without (no one else writes it) */
};

/* Where values of a read transaction may lie: the mapped pages in use. */
struct jbounds {
	const char *lo, *hi;
};

/*
 * LMDB reports a short write as EIO: when the file system holding `dir` has
 * (almost) no room left, or the file reached RLIMIT_FSIZE, it was a full
 * disk.  Returns ENOSPC, EFBIG or `rc` unchanged.
 */
static int j_full_disk(int rc, const char *dir)
{
	char path[4200];
	struct statvfs vfs;
	struct rlimit rl;
	struct stat st;

	if (rc != EIO)
		return rc;
	if (!statvfs(dir, &vfs) &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < (1u << 20))
		return ENOSPC;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (!getrlimit(RLIMIT_FSIZE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    !stat(path, &st) &&
	    (uint64_t)st.st_size + (1u << 20) >= rl.rlim_cur)
		return EFBIG;
	return rc;
}

static int j_mdb_err(struct osa_error *err, int rc, const char *dir,
		     const char *what)
{
	int code = OSA_EIO;
	const char *hint = "";

	rc = j_full_disk(rc, dir);
	if (rc == ENOSPC || rc == EFBIG || rc == EDQUOT) {
		code = OSA_ENOSPC;
		hint = ": free disk space; nothing acknowledged was lost";
	} else if (rc == EACCES || rc == EROFS || rc == EPERM) {
		hint = ": check the data directory's owner and permissions";
	} else if (rc == MDB_CORRUPTED || rc == MDB_INVALID ||
		   rc == MDB_PAGE_NOTFOUND || rc == MDB_VERSION_MISMATCH) {
		code = OSA_ECORRUPT;
	} else if (rc == ENOMEM) {
		code = OSA_ENOMEM;
	}
	return osa_error_set(err, code, "journal %s: %s: %s%s", dir, what,
			     mdb_strerror(rc), hint);
}

/* 64-bit FNV-1a, for long-srn keys. */
static uint64_t j_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Build the records key of `srn` into buf (J_KEY_MAX bytes). */
static MDB_val j_key(const char *srn, char *buf)
{
	size_t n = strlen(srn);
	MDB_val k;

	if (n <= J_KEY_MAX) {
		k.mv_data = (void *)srn;
		k.mv_size = n;
		return k;
	}
	memcpy(buf, srn, J_KEY_PREFIX);
	buf[J_KEY_PREFIX] = 0x01;
	snprintf(buf + J_KEY_PREFIX + 1, 17, "%016llx",
		 (unsigned long long)j_hash(srn, n));
	k.mv_data = buf;
	k.mv_size = J_KEY_MAX;
	return k;
}

/* The checksum of value bytes `p`..`p+n` stored under a key hashing to
 * `seed`. */
static uint64_t j_sum(uint64_t seed, const void *p, size_t n)
{
	return XXH3_64bits_withSeed(p, n, seed);
}

static uint64_t j_key_seed(const MDB_val *k)
{
	return XXH3_64bits(k->mv_data, k->mv_size);
}

/* The pages a read transaction may see (see jbounds). */
static struct jbounds j_bounds(struct osai_journal *j)
{
	MDB_envinfo info;
	MDB_stat st;
	struct jbounds b = { NULL, NULL };

	/* LMDB reports the map's address only for MDB_FIXEDMAP
	 * environments; without it there are no bounds to check. */
	if (!mdb_env_info(j->env, &info) && !mdb_env_stat(j->env, &st) &&
	    info.me_mapaddr) {
		b.lo = info.me_mapaddr;
		b.hi = b.lo + (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	}
	return b;
}

static int j_inside(const struct jbounds *b, const MDB_val *v)
{
	const char *p = v->mv_data;

	return !b || !b->lo ||
	       (p >= b->lo && p <= b->hi && v->mv_size <= (size_t)(b->hi - p));
}

/* Check a records value (checksum, sizes) and split it into srn and
 * document; OSA_ECORRUPT when it does not hold. */
static int j_unpack(const struct jbounds *b, const MDB_val *k, const MDB_val *v,
		    const char **srn, size_t *srn_len, const char **doc,
		    size_t *doc_len)
{
	const char *p = v->mv_data;
	uint64_t sum;
	uint16_t n;

	if (!j_inside(b, v) || v->mv_size < J_SUM + 2)
		return OSA_ECORRUPT;
	memcpy(&sum, p, J_SUM);
	if (sum != j_sum(j_key_seed(k), p + J_SUM, v->mv_size - J_SUM))
		return OSA_ECORRUPT;
	memcpy(&n, p + J_SUM, 2);
	if ((size_t)n + J_SUM + 2 > v->mv_size)
		return OSA_ECORRUPT;
	*srn = p + J_SUM + 2;
	*srn_len = n;
	*doc = *srn + n;
	*doc_len = v->mv_size - J_SUM - 2 - n;
	return 0;
}

/* A printable name for a damaged record's key (srn or its prefix). */
static void j_key_name(const MDB_val *k, char *buf, size_t size)
{
	size_t i, n = k->mv_size < size - 1 ? k->mv_size : size - 1;

	for (i = 0; i < n; i++) {
		unsigned char c = ((const unsigned char *)k->mv_data)[i];

		buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	buf[n] = '\0';
}

static void j_log_damaged(struct osai_journal *j, const MDB_val *k,
			  const char *what)
{
	char name[J_KEY_MAX + 1];

	j_key_name(k, name, sizeof(name));
	osa_log(OSA_LOG_ERROR,
		"journal %s: record %s is damaged (checksum mismatch): %s; "
		"ingest it again or restore the journal from a backup",
		j->dir, name, what);
}

static int j_begin(struct osai_journal *j, unsigned flags, MDB_txn **txn)
{
	int rc;

	pthread_rwlock_rdlock(&j->maplock);
	/* No environment: a failed reopen after compaction (reported). */
	rc = j->env ? mdb_txn_begin(j->env, NULL, flags, txn) : MDB_PANIC;
	if (rc)
		pthread_rwlock_unlock(&j->maplock);
	return rc;
}

static void j_end(struct osai_journal *j, MDB_txn *txn, int commit, int *rc)
{
	if (commit)
		*rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&j->maplock);
}

/* Double the map (no transaction of ours may be active: exclusive lock). */
static int j_grow(struct osai_journal *j)
{
	MDB_envinfo info;
	int rc;

	pthread_rwlock_wrlock(&j->maplock);
	if (!j->env) {
		pthread_rwlock_unlock(&j->maplock);
		return MDB_PANIC;
	}
	mdb_env_info(j->env, &info);
	rc = mdb_env_set_mapsize(j->env, info.me_mapsize * 2);
	pthread_rwlock_unlock(&j->maplock);
	return rc;
}

static uint64_t j_get64(const unsigned char *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, 8);
	return v;
}

static uint32_t j_get32(const unsigned char *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return v;
}

/* Read `n` bytes at `off`; the count read, or -1 with errno. */
static ssize_t j_pread_all(int fd, void *buf, size_t n, off_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r =
			pread(fd, (char *)buf + got, n - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

#define J_RESTORE                                                              \
	"restore the journal directory from a backup (nothing was changed; "   \
	"the indexes cannot stand in for the journal)"

int osai_journal_check_file(const char *dir, int64_t *bytes,
			    struct osa_error *err)
{
	char path[4200];
	unsigned char m[2][J_META_END];
	uint64_t last_pg = 0, need;
	struct stat st;
	uint32_t psize = 0;
	int fd, i;

	*bytes = 0;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return osa_error_set(
			err, OSA_EIO, "journal %s: cannot read: %s%s", path,
			strerror(errno),
			errno == EACCES ? " (check the data directory's "
					  "owner and permissions)"
					: "");
	}
	if (fstat(fd, &st)) {
		close(fd);
		return osa_error_set(err, OSA_EIO, "journal %s: %s", path,
				     strerror(errno));
	}
	*bytes = st.st_size;
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	for (i = 0; i < 2; i++) {
		off_t off = i ? (off_t)psize : 0;
		ssize_t r = j_pread_all(fd, m[i], J_META_END, off);

		if (r < 0) {
			close(fd);
			return osa_error_set(err, OSA_EIO,
					     "journal %s: cannot read: %s",
					     path, strerror(errno));
		}
		if (r < J_META_END) {
			close(fd);
			return osa_error_set(err, OSA_ECORRUPT,
					     "journal truncated: %s is %lld "
					     "bytes, too short "
					     "for its meta page %d: %s",
					     path, (long long)st.st_size, i,
					     J_RESTORE);
		}
		if ((m[i][J_OFF_FLAGS] & 0x08) == 0) { /* P_META */
			close(fd);
			return osa_error_set(
				err, OSA_ECORRUPT,
				"journal damaged: %s: page %d is not "
				"an LMDB meta page: %s",
				path, i, J_RESTORE);
		}
		if (j_get32(m[i], J_OFF_MAGIC) != J_META_MAGIC) {
			close(fd);
			return osa_error_set(
				err, OSA_ECORRUPT,
				"journal damaged: %s: meta page %d "
				"has no LMDB magic number: %s",
				path, i, J_RESTORE);
		}
		if (j_get32(m[i], J_OFF_VERSION) != J_META_VERSION) {
			close(fd);
			return osa_error_set(
				err, OSA_ECORRUPT,
				"journal damaged: %s: meta page %d has LMDB "
				"data version %u (expected %u): %s",
				path, i, j_get32(m[i], J_OFF_VERSION),
				J_META_VERSION, J_RESTORE);
		}
		if (i == 0) {
			psize = j_get32(m[0], J_OFF_PSIZE);
			if (psize < 512 || psize > 65536 ||
			    (psize & (psize - 1))) {
				close(fd);
				return osa_error_set(
					err, OSA_ECORRUPT,
					"journal damaged: %s: meta page 0 "
					"gives page size %u: %s",
					path, psize, J_RESTORE);
			}
		}
	}
	close(fd);
	/* LMDB opens the meta with the larger transaction id. */
	i = j_get64(m[1], J_OFF_TXNID) > j_get64(m[0], J_OFF_TXNID);
	last_pg = j_get64(m[i], J_OFF_LAST_PG);
	if (last_pg >= ((uint64_t)1 << 40) ||
	    (need = (last_pg + 1) * psize) > (uint64_t)st.st_size)
		return osa_error_set(
			err, OSA_ECORRUPT,
			"journal truncated: %s is %lld bytes but its last "
			"commit uses %llu pages of %u bytes (%llu bytes): %s",
			path, (long long)st.st_size,
			(unsigned long long)last_pg + 1, psize,
			(unsigned long long)((last_pg + 1) * psize), J_RESTORE);
	return 0;
}

/* Upgrade a format-1 journal inside `txn`: a checksum atop every record and
 * log entry, and the longer index state. */
static int j_upgrade_1(struct osai_journal *j, MDB_txn *txn)
{
	MDB_dbi dbis[3] = { j->records, j->log, j->meta };
	uint64_t counts[3] = { 0, 0, 0 };
	int d, rc = 0;

	for (d = 0; d < 3 && !rc; d++) {
		MDB_cursor *c;
		MDB_val k, v;
		int got;

		rc = mdb_cursor_open(txn, dbis[d], &c);
		if (rc)
			break;
		for (got = mdb_cursor_get(c, &k, &v, MDB_FIRST); !got && !rc;
		     got = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			unsigned char *nv;
			size_t extra = J_SUM, off = 0;
			uint64_t seed, sum;
			MDB_val w;

			if (d == 2) {
				if (k.mv_size < 6 ||
				    memcmp(k.mv_data, "index/", 6))
					continue;
				if (v.mv_size != 24)
					continue; /* left for get_state */
				extra = J_SUM + 8;
			}
			nv = calloc(1, v.mv_size + extra);
			if (!nv) {
				rc = ENOMEM;
				break;
			}
			if (d == 2) {
				memcpy(nv, v.mv_data, 24);
				/* skipped = 0, then the sum */
				sum = j_sum(j_key_seed(&k), nv,
					    sizeof(struct osai_istate));
				memcpy(nv + sizeof(struct osai_istate), &sum,
				       J_SUM);
			} else {
				off = J_SUM;
				memcpy(nv + off, v.mv_data, v.mv_size);
				if (d == 0) {
					seed = j_key_seed(&k);
				} else {
					memcpy(&seed, k.mv_data, 8);
				}
				sum = j_sum(seed, nv + J_SUM, v.mv_size);
				memcpy(nv, &sum, J_SUM);
			}
			w.mv_data = nv;
			w.mv_size = v.mv_size + extra;
			rc = mdb_cursor_put(c, &k, &w, MDB_CURRENT);
			free(nv);
			counts[d]++;
		}
		mdb_cursor_close(c);
		if (!rc && got != MDB_NOTFOUND)
			rc = got;
	}
	if (!rc)
		osa_log(OSA_LOG_INFO,
			"journal %s: upgraded from format 1 to %u (checksums): "
			"%llu records, %llu log entries, %llu index states",
			j->dir, OSAI_JOURNAL_FORMAT,
			(unsigned long long)counts[0],
			(unsigned long long)counts[1],
			(unsigned long long)counts[2]);
	return rc;
}

/* Open the databases, check or write the format marker (upgrading format
 * 1), and find the last LSN, in `txn`.  LMDB codes, or an OSA code with
 * *err set. */
static int j_init(struct osai_journal *j, MDB_txn *txn, struct osa_error *err)
{
	MDB_val k = { 6, "format" }, v;
	uint32_t format = OSAI_JOURNAL_FORMAT;
	int rc;

	rc = mdb_dbi_open(txn, "records", MDB_CREATE, &j->records);
	if (!rc)
		rc = mdb_dbi_open(txn, "log", MDB_CREATE | MDB_INTEGERKEY,
				  &j->log);
	if (!rc)
		rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &j->meta);
	if (rc)
		return rc;
	rc = mdb_get(txn, j->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		MDB_stat st;

		/* A journal without a marker but with records predates the
		 * marker's write in its first transaction: never; treat it as
		 * new only when it is empty. */
		rc = mdb_stat(txn, j->records, &st);
		if (!rc && st.ms_entries)
			return osa_error_set(
				err, OSA_ECORRUPT,
				"journal damaged: %s holds %llu records but "
				"no format marker: %s",
				j->dir, (unsigned long long)st.ms_entries,
				J_RESTORE);
		v.mv_data = &format;
		v.mv_size = sizeof(format);
		if (!rc)
			rc = mdb_put(txn, j->meta, &k, &v, 0);
	} else if (!rc) {
		if (v.mv_size != sizeof(format))
			return osa_error_set(err, OSA_ECORRUPT,
					     "journal damaged: %s: unreadable "
					     "format marker: %s",
					     j->dir, J_RESTORE);
		memcpy(&format, v.mv_data, sizeof(format));
		if (format > OSAI_JOURNAL_FORMAT)
			return osa_error_set(
				err, OSA_EVERSION,
				"journal %s was written by a newer "
				"osa (format %u; this one reads up "
				"to %u): upgrade osa, or restore "
				"a backup made by this version",
				j->dir, format, OSAI_JOURNAL_FORMAT);
		if (format < 1)
			return osa_error_set(err, OSA_ECORRUPT,
					     "journal damaged: %s: format "
					     "marker %u: %s",
					     j->dir, format, J_RESTORE);
		if (format == 1) {
			rc = j_upgrade_1(j, txn);
			format = OSAI_JOURNAL_FORMAT;
			v.mv_data = &format;
			v.mv_size = sizeof(format);
			if (!rc)
				rc = mdb_put(txn, j->meta, &k, &v, 0);
		}
	}
	if (!rc) {
		MDB_cursor *c;
		MDB_val lk, lv;

		rc = mdb_cursor_open(txn, j->log, &c);
		if (!rc) {
			if (!mdb_cursor_get(c, &lk, &lv, MDB_LAST) &&
			    lk.mv_size == 8)
				memcpy(&j->last_lsn, lk.mv_data, 8);
			mdb_cursor_close(c);
		}
		k.mv_data = "last_lsn";
		k.mv_size = 8;
		if (!rc && !mdb_get(txn, j->meta, &k, &v) && v.mv_size == 8) {
			uint64_t m;

			memcpy(&m, v.mv_data, 8);
			if (m > j->last_lsn)
				j->last_lsn = m;
		}
	}
	return rc;
}

int osai_journal_open(const char *dir, int64_t map_size,
		      struct osai_journal **out, struct osa_error *err)
{
	struct osai_journal *j;
	int64_t bytes;
	int rc, tries;

	*out = NULL;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return osa_error_set(
			err, errno == ENOSPC ? OSA_ENOSPC : OSA_EIO,
			"journal %s: cannot create: %s", dir, strerror(errno));
	rc = osai_journal_check_file(dir, &bytes, err);
	if (rc)
		return rc;
	j = calloc(1, sizeof(*j));
	if (!j || !(j->dir = strdup(dir))) {
		free(j);
		return osa_error_set(err, OSA_ENOMEM, "journal: out of memory");
	}
	if (osa_rwlock_init(&j->maplock)) {
		free(j->dir);
		free(j);
		return osa_error_set(err, OSA_ENOMEM,
				     "journal: cannot create a lock");
	}
	pthread_mutex_init(&j->qlock, NULL);
	pthread_cond_init(&j->qcond, NULL);
	rc = mdb_env_create(&j->env);
	if (!rc)
		rc = mdb_env_set_maxdbs(j->env, 4);
	if (!rc)
		rc = mdb_env_set_mapsize(j->env, (size_t)map_size);
	if (!rc)
		rc = mdb_env_open(j->env, dir, MDB_NOTLS, 0644);
	if (rc) {
		j_mdb_err(err, rc, dir, "cannot open");
		osai_journal_close(j);
		return err ? err->code : OSA_EIO;
	}
	for (tries = 0; tries < 40; tries++) {
		MDB_txn *txn;
		struct osa_error e = { 0 };

		j->last_lsn = 0;
		rc = mdb_txn_begin(j->env, NULL, 0, &txn);
		if (rc)
			break;
		rc = j_init(j, txn, &e);
		if (rc < 0 && rc > -100) { /* an OSA code, not LMDB's */
			mdb_txn_abort(txn);
			if (err)
				*err = e;
			osai_journal_close(j);
			return rc;
		}
		if (rc)
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
		if (rc != MDB_MAP_FULL)
			break;
		rc = j_grow(j); /* a large upgrade may need room */
		if (rc)
			break;
	}
	if (rc) {
		j_mdb_err(err, rc, dir, "cannot initialise");
		osai_journal_close(j);
		return err ? err->code : OSA_EIO;
	}
	*out = j;
	return 0;
}

void osai_journal_close(struct osai_journal *j)
{
	if (!j)
		return;
	if (j->env)
		mdb_env_close(j->env);
	pthread_rwlock_destroy(&j->maplock);
	pthread_mutex_destroy(&j->qlock);
	pthread_cond_destroy(&j->qcond);
	free(j->dir);
	free(j);
}

/* Encode a log entry: [u64 sum][u8 op][u32 n] then n x [u16 len][bytes]. */
static int j_encode(const struct jwrite *w, uint64_t lsn, MDB_val *v)
{
	size_t size = J_SUM + 5, i, pos;
	unsigned char *p;
	uint32_t n32 = (uint32_t)w->n;
	uint64_t sum;

	for (i = 0; i < w->n; i++)
		size += 2 + strlen(w->srns[i]);
	p = malloc(size);
	if (!p)
		return ENOMEM;
	p[J_SUM] = (unsigned char)w->op;
	memcpy(p + J_SUM + 1, &n32, 4);
	pos = J_SUM + 5;
	for (i = 0; i < w->n; i++) {
		uint16_t len = (uint16_t)strlen(w->srns[i]);

		memcpy(p + pos, &len, 2);
		memcpy(p + pos + 2, w->srns[i], len);
		pos += 2 + len;
	}
	sum = j_sum(lsn, p + J_SUM, size - J_SUM);
	memcpy(p, &sum, J_SUM);
	v->mv_data = p;
	v->mv_size = size;
	return 0;
}

/* Apply one queued change inside `txn`. */
static int j_apply(struct osai_journal *j, MDB_txn *txn, struct jwrite *w,
		   uint64_t lsn)
{
	char kbuf[J_KEY_MAX + 1];
	MDB_val k, v;
	size_t i;
	int rc = 0;

	w->found = 0;
	for (i = 0; i < w->n && !rc; i++) {
		size_t sl = strlen(w->srns[i]);

		k = j_key(w->srns[i], kbuf);
		if (w->op == OSAI_OP_UPSERT) {
			uint16_t sl16 = (uint16_t)sl;
			uint64_t seed = j_key_seed(&k), sum;
			char *p;

			v.mv_size = J_SUM + 2 + sl + w->lens[i];
			rc = mdb_put(txn, j->records, &k, &v, MDB_RESERVE);
			if (!rc) {
				p = v.mv_data;
				memcpy(p + J_SUM, &sl16, 2);
				memcpy(p + J_SUM + 2, w->srns[i], sl);
				memcpy(p + J_SUM + 2 + sl, w->docs[i],
				       w->lens[i]);
				sum = j_sum(seed, p + J_SUM, v.mv_size - J_SUM);
				memcpy(p, &sum, J_SUM);
			}
		} else {
			rc = mdb_del(txn, j->records, &k, NULL);
			if (!rc)
				w->found++;
			else if (rc == MDB_NOTFOUND)
				rc = 0;
		}
	}
	if (!rc && (w->op == OSAI_OP_UPSERT || w->found)) {
		rc = j_encode(w, lsn, &v);
		if (!rc) {
			k.mv_data = &lsn;
			k.mv_size = 8;
			rc = mdb_put(txn, j->log, &k, &v, MDB_APPEND);
			free(v.mv_data);
		}
		w->lsn = lsn;
	} else {
		w->lsn = 0;
	}
	return rc;
}

/* Leader: commit every change in `batch` in one transaction. */
static void j_commit_group(struct osai_journal *j, struct jwrite *batch)
{
	struct jwrite *w;
	int rc, tries;

	for (tries = 0; tries < 40; tries++) {
		MDB_txn *txn;
		uint64_t lsn = j->last_lsn;

		rc = j_begin(j, 0, &txn);
		if (rc)
			break;
		for (w = batch; w && !rc; w = w->next) {
			rc = j_apply(j, txn, w, lsn + 1);
			if (w->lsn)
				lsn++;
		}
		if (!rc) {
			MDB_val k = { 8, "last_lsn" }, v = { 8, &lsn };

			rc = mdb_put(txn, j->meta, &k, &v, 0);
		}
		j_end(j, txn, !rc, &rc);
		if (!rc) {
			pthread_mutex_lock(&j->qlock);
			j->last_lsn = lsn;
			pthread_mutex_unlock(&j->qlock);
			break;
		}
		if (rc != MDB_MAP_FULL)
			break;
		rc = j_grow(j);
		if (rc)
			break;
		rc = MDB_MAP_FULL;
	}
	for (w = batch; w; w = w->next) {
		w->rc = 0;
		if (rc) {
			j_mdb_err(&w->err, rc, j->dir,
				  w->op == OSAI_OP_UPSERT ? "write failed"
							  : "delete failed");
			w->rc = w->err.code;
			w->lsn = 0;
		}
	}
}

static int j_submit(struct osai_journal *j, struct jwrite *w,
		    struct osa_error *err)
{
	pthread_mutex_lock(&j->qlock);
	w->next = NULL;
	if (j->tail)
		j->tail->next = w;
	else
		j->head = w;
	j->tail = w;
	while (!w->done) {
		if (!j->committing) {
			struct jwrite *batch = j->head, *x, *next;

			j->head = j->tail = NULL;
			j->committing = 1;
			pthread_mutex_unlock(&j->qlock);
			j_commit_group(j, batch);
			pthread_mutex_lock(&j->qlock);
			for (x = batch; x; x = next) {
				next = x->next;
				x->done = 1;
			}
			j->committing = 0;
			pthread_cond_broadcast(&j->qcond);
		} else {
			pthread_cond_wait(&j->qcond, &j->qlock);
		}
	}
	pthread_mutex_unlock(&j->qlock);
	if (w->rc && err)
		*err = w->err;
	return w->rc;
}

static int j_check_srns(size_t n, const char *const *srns,
			struct osa_error *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		size_t len = srns[i] ? strlen(srns[i]) : 0;

		if (!len || len > OSAI_SRN_MAX)
			return osa_error_set(err, OSA_EINVAL,
					     "srn at position %zu is empty or "
					     "longer than %d bytes",
					     i, OSAI_SRN_MAX);
	}
	return 0;
}

int osai_journal_upsert(struct osai_journal *j, size_t n,
			const char *const *srns, const char *const *docs,
			const size_t *lens, uint64_t *lsn,
			struct osa_error *err)
{
	struct jwrite w = { .op = OSAI_OP_UPSERT,
			    .n = n,
			    .srns = srns,
			    .docs = docs,
			    .lens = lens };
	int rc;

	*lsn = 0;
	if (!n)
		return 0;
	rc = j_check_srns(n, srns, err);
	if (!rc)
		rc = j_submit(j, &w, err);
	*lsn = w.lsn;
	return rc;
}

int osai_journal_delete(struct osai_journal *j, size_t n,
			const char *const *srns, uint64_t *lsn, size_t *found,
			struct osa_error *err)
{
	struct jwrite w = { .op = OSAI_OP_DELETE, .n = n, .srns = srns };
	int rc;

	*lsn = 0;
	if (found)
		*found = 0;
	if (!n)
		return 0;
	rc = j_check_srns(n, srns, err);
	if (!rc)
		rc = j_submit(j, &w, err);
	*lsn = w.lsn;
	if (found)
		*found = w.found;
	return rc;
}

static char *j_dup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

int osai_journal_get_many(struct osai_journal *j, size_t n,
			  const char *const *srns, char **docs,
			  struct osa_error *err)
{
	char kbuf[J_KEY_MAX + 1];
	struct jbounds b;
	MDB_txn *txn;
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		docs[i] = NULL;
	rc = j_begin(j, MDB_RDONLY, &txn);
	if (rc)
		return j_mdb_err(err, rc, j->dir, "read failed");
	b = j_bounds(j);
	for (i = 0; i < n && !rc; i++) {
		MDB_val k = j_key(srns[i], kbuf), v;
		const char *s, *d;
		size_t sl, dl;
		int got = mdb_get(txn, j->records, &k, &v);

		if (got == MDB_NOTFOUND)
			continue;
		if (got) {
			rc = j_mdb_err(err, got, j->dir, "read failed");
			break;
		}
		if (j_unpack(&b, &k, &v, &s, &sl, &d, &dl)) {
			rc = osa_error_set(
				err, OSA_ECORRUPT,
				"journal %s: record %s is damaged (checksum "
				"mismatch): ingest it again or restore the "
				"journal from a backup",
				j->dir, srns[i]);
			break;
		}
		docs[i] = j_dup(d, dl);
		if (!docs[i])
			rc = osa_error_set(err, OSA_ENOMEM,
					   "journal: out of memory");
	}
	j_end(j, txn, 0, NULL);
	if (rc)
		for (i = 0; i < n; i++) {
			free(docs[i]);
			docs[i] = NULL;
		}
	return rc;
}

int osai_journal_get(struct osai_journal *j, const char *srn, char **doc,
		     size_t *len, struct osa_error *err)
{
	int rc = osai_journal_get_many(j, 1, &srn, doc, err);

	if (rc)
		return rc;
	if (!*doc)
		return osa_error_set(err, OSA_ENOTFOUND, "no record %s", srn);
	if (len)
		*len = strlen(*doc);
	return 0;
}

int osai_journal_stats(struct osai_journal *j, uint64_t *records,
		       uint64_t *last_lsn, uint64_t *log_entries,
		       struct osa_error *err)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc = j_begin(j, MDB_RDONLY, &txn);

	if (rc)
		return j_mdb_err(err, rc, j->dir, "read failed");
	if (records) {
		mdb_stat(txn, j->records, &st);
		*records = st.ms_entries;
	}
	if (log_entries) {
		mdb_stat(txn, j->log, &st);
		*log_entries = st.ms_entries;
	}
	j_end(j, txn, 0, NULL);
	if (last_lsn) {
		pthread_mutex_lock(&j->qlock);
		*last_lsn = j->last_lsn;
		pthread_mutex_unlock(&j->qlock);
	}
	return 0;
}

/* Decode a log entry's srns into a malloc'd array of NUL-terminated copies
 * stored in one block. */
static int j_decode(const struct jbounds *b, uint64_t lsn, const MDB_val *v,
		    int *op, size_t *n, char ***srns)
{
	const unsigned char *p = v->mv_data;
	size_t pos = J_SUM + 5, i, total;
	uint64_t sum;
	uint32_t n32;
	char **arr, *text;

	if (!j_inside(b, v) || v->mv_size < J_SUM + 5)
		return OSA_ECORRUPT;
	memcpy(&sum, p, J_SUM);
	if (sum != j_sum(lsn, p + J_SUM, v->mv_size - J_SUM))
		return OSA_ECORRUPT;
	*op = p[J_SUM];
	memcpy(&n32, p + J_SUM + 1, 4);
	if (n32 > v->mv_size / 2)
		return OSA_ECORRUPT;
	total = (size_t)n32 * sizeof(char *) + v->mv_size;
	arr = malloc(total ? total : 1);
	if (!arr)
		return OSA_ENOMEM;
	text = (char *)(arr + n32);
	for (i = 0; i < n32; i++) {
		uint16_t len;

		if (pos + 2 > v->mv_size)
			break;
		memcpy(&len, p + pos, 2);
		if (pos + 2 + len > v->mv_size)
			break;
		memcpy(text, p + pos + 2, len);
		text[len] = '\0';
		arr[i] = text;
		text += len + 1;
		pos += 2 + len;
	}
	if (i < n32 || (*op != OSAI_OP_UPSERT && *op != OSAI_OP_DELETE)) {
		free(arr);
		return OSA_ECORRUPT;
	}
	*n = n32;
	*srns = arr;
	return 0;
}

int osai_journal_scan_log(struct osai_journal *j, uint64_t after,
			  size_t max_batch, osai_log_cb cb, void *ctx,
			  struct osa_error *err)
{
	uint64_t next = after + 1;
	int rc = 0;

	(void)max_batch;
	/* One short read transaction per entry: a long scan never pins old
	 * pages for long, and writers go on meanwhile. */
	for (;;) {
		MDB_txn *txn;
		MDB_cursor *c;
		MDB_val k = { 8, &next }, v;
		char **srns = NULL, **docs = NULL;
		size_t *lens = NULL, n = 0, i;
		struct jbounds b;
		uint64_t lsn;
		int op = 0, got;

		rc = j_begin(j, MDB_RDONLY, &txn);
		if (rc)
			return j_mdb_err(err, rc, j->dir, "log read failed");
		b = j_bounds(j);
		rc = mdb_cursor_open(txn, j->log, &c);
		if (rc) {
			j_end(j, txn, 0, NULL);
			return j_mdb_err(err, rc, j->dir, "log read failed");
		}
		got = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (!got && k.mv_size != 8)
			got = MDB_CORRUPTED;
		if (got) {
			mdb_cursor_close(c);
			j_end(j, txn, 0, NULL);
			return got == MDB_NOTFOUND
				       ? 0
				       : j_mdb_err(err, got, j->dir,
						   "log read failed");
		}
		memcpy(&lsn, k.mv_data, 8);
		rc = j_decode(&b, lsn, &v, &op, &n, &srns);
		if (!rc && op == OSAI_OP_UPSERT) {
			docs = calloc(n ? n : 1, sizeof(*docs));
			lens = calloc(n ? n : 1, sizeof(*lens));
			if (!docs || !lens)
				rc = OSA_ENOMEM;
			for (i = 0; i < n && !rc; i++) {
				char kbuf[J_KEY_MAX + 1];
				MDB_val rk = j_key(srns[i], kbuf), rv;
				const char *s, *d;
				size_t sl, dl;

				if (mdb_get(txn, j->records, &rk, &rv))
					continue;
				if (j_unpack(&b, &rk, &rv, &s, &sl, &d, &dl)) {
					/* Reported, never applied. */
					j_log_damaged(j, &rk,
						      "left out of the replay");
					continue;
				}
				docs[i] = j_dup(d, dl);
				lens[i] = dl;
				if (!docs[i])
					rc = OSA_ENOMEM;
			}
		}
		mdb_cursor_close(c);
		j_end(j, txn, 0, NULL);
		if (!rc)
			rc = cb(ctx, lsn, op, n, (const char *const *)srns,
				(const char *const *)docs, lens);
		else if (rc == OSA_ENOMEM)
			osa_error_set(err, rc, "journal: out of memory");
		else
			osa_error_set(
				err, rc,
				"journal %s: log entry %llu is damaged "
				"(checksum or size mismatch): rebuild the "
				"index from the records (osa reindex "
				"NAME), or restore the journal from a "
				"backup",
				j->dir, (unsigned long long)lsn);
		if (docs)
			for (i = 0; i < n; i++)
				free(docs[i]);
		free(docs);
		free(lens);
		free(srns);
		if (rc)
			return rc;
		next = lsn + 1;
	}
}

int osai_journal_scan_records(struct osai_journal *j, size_t batch,
			      osai_rec_cb cb, void *ctx, uint64_t *damaged,
			      struct osa_error *err)
{
	char **srns = calloc(batch, sizeof(*srns));
	char **docs = calloc(batch, sizeof(*docs));
	size_t *lens = calloc(batch, sizeof(*lens));
	char *resume = NULL;
	size_t resume_len = 0;
	int rc = 0, done = 0;

	if (damaged)
		*damaged = 0;
	if (!srns || !docs || !lens) {
		free(srns);
		free(docs);
		free(lens);
		return osa_error_set(err, OSA_ENOMEM, "journal: out of memory");
	}
	while (!done && !rc) {
		MDB_txn *txn;
		MDB_cursor *c;
		MDB_val k, v;
		size_t n = 0, i;
		struct jbounds b;
		int got;

		rc = j_begin(j, MDB_RDONLY, &txn);
		if (rc) {
			rc = j_mdb_err(err, rc, j->dir, "read failed");
			break;
		}
		b = j_bounds(j);
		rc = mdb_cursor_open(txn, j->records, &c);
		if (rc) {
			j_end(j, txn, 0, NULL);
			rc = j_mdb_err(err, rc, j->dir, "read failed");
			break;
		}
		if (resume) {
			k.mv_data = resume;
			k.mv_size = resume_len;
			got = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
			if (!got && k.mv_size == resume_len &&
			    !memcmp(k.mv_data, resume, resume_len))
				got = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		} else {
			got = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		}
		while (!got && n < batch) {
			const char *s, *d;
			size_t sl, dl;

			free(resume);
			resume = j_dup(k.mv_data, k.mv_size);
			resume_len = k.mv_size;
			if (!resume) {
				rc = osa_error_set(err, OSA_ENOMEM,
						   "journal: out of memory");
				break;
			}
			if (j_unpack(&b, &k, &v, &s, &sl, &d, &dl)) {
				j_log_damaged(j, &k, "left out");
				if (damaged)
					(*damaged)++;
				got = mdb_cursor_get(c, &k, &v, MDB_NEXT);
				continue;
			}
			srns[n] = j_dup(s, sl);
			docs[n] = j_dup(d, dl);
			lens[n] = dl;
			n++;
			if (!srns[n - 1] || !docs[n - 1]) {
				rc = osa_error_set(err, OSA_ENOMEM,
						   "journal: out of memory");
				break;
			}
			got = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		if (got == MDB_NOTFOUND)
			done = 1;
		else if (got && !rc)
			rc = j_mdb_err(err, got, j->dir, "read failed");
		mdb_cursor_close(c);
		j_end(j, txn, 0, NULL);
		if (!rc && n)
			rc = cb(ctx, n, (const char *const *)srns,
				(const char *const *)docs, lens);
		for (i = 0; i < n; i++) {
			free(srns[i]);
			free(docs[i]);
		}
	}
	free(resume);
	free(srns);
	free(docs);
	free(lens);
	return rc;
}

/* A state value: [struct osai_istate][u64 sum], the sum seeded with the
 * key's hash. */
#define J_STATE_SIZE (sizeof(struct osai_istate) + J_SUM)

int osai_journal_get_state(struct osai_journal *j, const char *index,
			   struct osai_istate *st, struct osa_error *err)
{
	char key[80];
	unsigned char buf[J_STATE_SIZE];
	struct jbounds b;
	MDB_txn *txn;
	MDB_val k, v;
	uint64_t sum;
	int rc, ok = 0;

	snprintf(key, sizeof(key), "index/%s", index);
	k.mv_data = key;
	k.mv_size = strlen(key);
	rc = j_begin(j, MDB_RDONLY, &txn);
	if (rc)
		return j_mdb_err(err, rc, j->dir, "read failed");
	b = j_bounds(j);
	rc = mdb_get(txn, j->meta, &k, &v);
	if (!rc && v.mv_size == J_STATE_SIZE && j_inside(&b, &v)) {
		memcpy(buf, v.mv_data, J_STATE_SIZE);
		memcpy(&sum, buf + sizeof(*st), J_SUM);
		ok = sum == j_sum(j_key_seed(&k), buf, sizeof(*st));
	}
	j_end(j, txn, 0, NULL);
	if (rc == MDB_NOTFOUND)
		return osa_error_set(err, OSA_ENOTFOUND, "index %s: no state",
				     index);
	if (rc)
		return j_mdb_err(err, rc, j->dir, "read failed");
	if (!ok)
		return osa_error_set(err, OSA_ECORRUPT,
				     "journal %s: state of index %s is damaged "
				     "(checksum mismatch)",
				     j->dir, index);
	memcpy(st, buf, sizeof(*st));
	return 0;
}

/* Run `fn` in a write transaction, growing the map when it is full. */
static int j_write_txn(struct osai_journal *j,
		       int (*fn)(struct osai_journal *, MDB_txn *, void *),
		       void *arg, const char *what, struct osa_error *err)
{
	int rc, tries;

	for (tries = 0; tries < 40; tries++) {
		MDB_txn *txn;

		rc = j_begin(j, 0, &txn);
		if (rc)
			break;
		rc = fn(j, txn, arg);
		j_end(j, txn, !rc, &rc);
		if (rc != MDB_MAP_FULL)
			break;
		rc = j_grow(j);
		if (rc)
			break;
	}
	return rc ? j_mdb_err(err, rc, j->dir, what) : 0;
}

struct j_state_arg {
	const char *index;
	const struct osai_istate *st;
};

static int j_put_state_fn(struct osai_journal *j, MDB_txn *txn, void *arg)
{
	struct j_state_arg *a = arg;
	char key[80];
	unsigned char buf[J_STATE_SIZE];
	MDB_val k, v = { J_STATE_SIZE, buf };
	uint64_t sum;

	snprintf(key, sizeof(key), "index/%s", a->index);
	k.mv_data = key;
	k.mv_size = strlen(key);
	memcpy(buf, a->st, sizeof(*a->st));
	sum = j_sum(j_key_seed(&k), buf, sizeof(*a->st));
	memcpy(buf + sizeof(*a->st), &sum, J_SUM);
	return mdb_put(txn, j->meta, &k, &v, 0);
}

int osai_journal_put_state(struct osai_journal *j, const char *index,
			   const struct osai_istate *st, struct osa_error *err)
{
	struct j_state_arg a = { index, st };

	return j_write_txn(j, j_put_state_fn, &a, "cannot save index state",
			   err);
}

static int j_trim_fn(struct osai_journal *j, MDB_txn *txn, void *arg)
{
	uint64_t below = *(uint64_t *)arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, j->log, &c);

	if (rc)
		return rc;
	while (!(rc = mdb_cursor_get(c, &k, &v, MDB_FIRST))) {
		uint64_t lsn;

		memcpy(&lsn, k.mv_data, 8);
		if (lsn >= below)
			break;
		rc = mdb_cursor_del(c, 0);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int osai_journal_trim(struct osai_journal *j, uint64_t below,
		      struct osa_error *err)
{
	return j_write_txn(j, j_trim_fn, &below, "cannot trim the log", err);
}

int64_t osai_journal_file_bytes(struct osai_journal *j)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/data.mdb", j->dir);
	return stat(path, &st) ? -1 : (int64_t)st.st_blocks * 512;
}

/* Open the environment in j->dir and its databases (maplock exclusive). */
static int j_env_reopen(struct osai_journal *j, size_t mapsize)
{
	MDB_txn *txn;
	int rc = mdb_env_create(&j->env);

	if (rc) {
		j->env = NULL;
		return rc;
	}
	rc = mdb_env_set_maxdbs(j->env, 4);
	if (!rc)
		rc = mdb_env_set_mapsize(j->env, mapsize);
	if (!rc)
		rc = mdb_env_open(j->env, j->dir, MDB_NOTLS, 0644);
	if (!rc)
		rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, &txn);
	if (!rc) {
		rc = mdb_dbi_open(txn, "records", 0, &j->records);
		if (!rc)
			rc = mdb_dbi_open(txn, "log", MDB_INTEGERKEY, &j->log);
		if (!rc)
			rc = mdb_dbi_open(txn, "meta", 0, &j->meta);
		if (rc)
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
	}
	if (rc) {
		mdb_env_close(j->env);
		j->env = NULL;
	}
	return rc;
}

int osai_journal_compact(struct osai_journal *j, struct osa_error *err)
{
	char tmpdir[4200], from[4300], to[4300];
	MDB_envinfo info;
	int rc, rc2 = 0, fd;

	/* Copy compacted into <dir>/compact.tmp, then swap the files in.  Every
	 * transaction of ours waits meanwhile (maplock exclusive from the copy
	 * to the reopen), so no commit can land in the old file after the
	 * copy. */
	snprintf(tmpdir, sizeof(tmpdir), "%s/compact.tmp", j->dir);
	snprintf(to, sizeof(to), "%s/data.mdb", tmpdir);
	snprintf(from, sizeof(from), "%s/data.mdb", j->dir);
	unlink(to);
	rmdir(tmpdir);
	if (mkdir(tmpdir, 0755))
		return osa_error_set(err,
				     errno == ENOSPC ? OSA_ENOSPC : OSA_EIO,
				     "journal %s: cannot create %s: %s", j->dir,
				     tmpdir, strerror(errno));
	pthread_rwlock_wrlock(&j->maplock);
	rc = mdb_env_copy2(j->env, tmpdir, MDB_CP_COMPACT);
	if (!rc) {
		fd = open(to, O_RDONLY);
		if (fd < 0 || fsync(fd))
			rc = errno;
		if (fd >= 0)
			close(fd);
	}
	if (rc) {
		pthread_rwlock_unlock(&j->maplock);
		unlink(to);
		rmdir(tmpdir);
		return j_mdb_err(err, rc, j->dir, "compaction copy failed");
	}
	mdb_env_info(j->env, &info);
	mdb_env_close(j->env);
	j->env = NULL;
	if (rename(to, from))
		rc = errno; /* the old file stays, whole */
	unlink(to);
	rmdir(tmpdir);
	fd = open(j->dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		if (fsync(fd) && !rc)
			rc = errno;
		close(fd);
	}
	rc2 = j_env_reopen(j, info.me_mapsize);
	pthread_rwlock_unlock(&j->maplock);
	if (rc2)
		return j_mdb_err(
			err, rc2, j->dir,
			"cannot reopen after compaction (restart osa)");
	return rc ? j_mdb_err(err, rc, j->dir, "compaction failed") : 0;
}

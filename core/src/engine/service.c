/* SPDX-License-Identifier: MIT */
/*
 * service.c - the database: the data directory lock, opening and closing the
 * journal and every index, and the figures (stats, health).
 *
 * The engine behind osa/osa.h keeps every configured index as a projection
 * of the journal; its files: service.c, index.c (one index's life), ingest.c
 * (the write path), search.c (the read path), maintenance.c (the service's
 * own thread), fusion.c (hybrid ranking), journal.c and srn.c.
 *
 * Write path: validate the batch (JSON, UTF-8, srn, size, duplicates), commit
 * it to the journal (durable, group-committed), then bring every index up to
 * the journal's last LSN ("catch up"): under the index's write lock, each
 * change after the index's applied LSN is applied in LSN order, using the
 * writer's own parsed records for its own LSN and the journal's documents for
 * the others.  A record an index cannot take (no text to embed, a vector of
 * the wrong length) is skipped for that index with a warning; any other
 * backend failure marks the index degraded: it keeps answering queries from
 * what it has, and is retried and caught up from the log later.
 *
 * Maintenance (retry of degraded indexes, checkpoints, trimming the log) runs
 * on the service's own thread (osai_service_tick), every second or when a
 * write finds it due; a request never waits for more than the write lock of
 * an index that is applying or checkpointing.  Locking: see service.h.
 *
 * Open: each index's backend reports the LSN its snapshot covers; the log is
 * replayed from there.  When the log no longer reaches back that far, the
 * stored config hash differs, or the backend keeps no snapshots, the index
 * is rebuilt from the records.  A snapshot the backend finds corrupt is moved
 * to <data_dir>/quarantine/ (never deleted) and the index rebuilt.
 *
 * Index data the journal cannot explain is never rebuilt over on its own: a
 * missing or empty journal while a configured index has files, or a
 * snapshot that covers more changes than the journal holds (a journal
 * restored from an older backup), refuses the open and says how to proceed.
 * OSA_OPEN_REBUILD_FROM_JOURNAL is that way: every index's files go to
 * quarantine and the index is rebuilt from the journal.
 *
 * The number of records each index left out ("skipped") is kept in its
 * journal state at every checkpoint, so it survives a restart.
 */
#include "svc.h"

double osai_svc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Remove our own stale temporary files (*.tmp.*) in an index directory. */
void osai_svc_clean_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[4400];

		if (!strstr(e->d_name, ".tmp."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!unlink(path))
			osa_log(OSA_LOG_INFO, "removed stale temporary file %s",
				path);
	}
	closedir(d);
}

static int svc_lock_dir(struct osai_service *s, struct osa_error *err)
{
	char path[4200], pid[32];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/LOCK", s->data_dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0)
		return osa_error_set(
			err, errno == ENOSPC ? OSA_ENOSPC : OSA_EIO,
			"cannot open %s: %s%s", path, strerror(errno),
			errno == EACCES || errno == EROFS
				? " (is the data directory "
				  "writable by this user?)"
				: "");
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
		n = pread(s->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(s->lock_fd);
		s->lock_fd = -1;
		return osa_error_set(err, OSA_EBUSY,
				     "data directory %s is in use by pid %s: "
				     "stop that process or use another "
				     "data_dir",
				     s->data_dir, *pid ? pid : "(unknown)");
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(s->lock_fd, 0) ||
	    pwrite(s->lock_fd, pid, (size_t)n, 0) < 0)
		osa_log(OSA_LOG_WARN, "cannot write pid to %s: %s", path,
			strerror(errno));
	return 0;
}

/*
 * Before the journal opens (and creates anything): refuse a truncated or
 * damaged journal file, and a missing or empty journal while a configured
 * index has data, unless a rebuild from the journal was asked for.
 */
static int svc_check_journal(struct osai_service *s, const char *path,
			     struct osa_error *err)
{
	int64_t bytes = 0;
	size_t i;
	int rc = osai_journal_check_file(path, &bytes, err);

	if (rc || bytes > 0 || (s->open_flags & OSA_OPEN_REBUILD_FROM_JOURNAL))
		return rc;
	for (i = 0; i < s->cfg->n_indexes; i++) {
		const char *name = s->cfg->indexes[i].name;
		char dir[4200], file[4300];

		snprintf(dir, sizeof(dir), "%s/indexes/%s", s->data_dir, name);
		if (!osai_svc_dir_has_files(dir))
			continue;
		snprintf(file, sizeof(file), "%s/data.mdb", path);
		return osa_error_set(
			err, OSA_ECORRUPT,
			"journal %s is %s but index %s has data in %s; "
			"nothing was changed: restore the journal from a "
			"backup, or run `osa serve --rebuild-from-journal` "
			"to start from this journal (the index files go to "
			"quarantine/)",
			file, access(file, F_OK) ? "missing" : "empty", name,
			dir);
	}
	return 0;
}

static int svc_open(struct osai_config *cfg, const struct osa_open_options *opt,
		    struct osai_service **out, struct osa_error *err)
{
	struct osai_service *s = calloc(1, sizeof(*s));
	char path[4200];
	uint64_t records = 0;
	size_t i;
	int rc;

	*out = NULL;
	if (!s) {
		osai_config_free(cfg);
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	}
	s->cfg = cfg;
	s->lock_fd = -1;
	s->data_dir = cfg->core.data_dir;
	pthread_mutex_init(&s->tick_mu, NULL);
	rc = osai_registry_init(err);
	if (!rc)
		rc = osa_mkdirs(s->data_dir, err);
	if (!rc)
		rc = svc_lock_dir(s, err);
	s->open_flags = opt ? opt->flags : 0;
	snprintf(path, sizeof(path), "%s/journal", s->data_dir);
	if (!rc)
		rc = svc_check_journal(s, path, err);
	if (!rc)
		rc = osai_journal_open(path, cfg->core.journal.map_size,
				       &s->journal, err);
	if (rc) {
		osai_service_close(s);
		return rc;
	}
	s->n = cfg->n_indexes;
	s->ix = calloc(s->n ? s->n : 1, sizeof(*s->ix));
	if (!s->ix) {
		osai_service_close(s);
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	}
	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];
		const struct osai_index_config *ic = &cfg->indexes[i];

		if (pthread_mutex_init(&ix->wlock, NULL) ||
		    osa_rwlock_init(&ix->life) ||
		    pthread_mutex_init(&ix->mu, NULL)) {
			osai_service_close(s);
			return osa_error_set(err, OSA_ENOMEM,
					     "cannot create a lock");
		}
		ix->cfg = ic;
		ix->state = SVC_LOADING;
		ix->hash =
			osai_svc_hash(0xcbf29ce484222325ull, ic->backend->name,
				      strlen(ic->backend->name) + 1);
		ix->hash = osai_svc_hash_fields(ic->backend->schema, ic->config,
						0, ix->hash);
		/* Declared attributes are stored by the backend: changing them
		 * rebuilds the index.  None leaves the hash as it was. */
		for (size_t k = 0; k < ic->attrs.n; k++) {
			unsigned char t = (unsigned char)ic->attrs.v[k].type;

			ix->hash = osai_svc_hash(ix->hash, "attr", 5);
			ix->hash =
				osai_svc_hash(ix->hash, ic->attrs.v[k].name,
					      strlen(ic->attrs.v[k].name) + 1);
			ix->hash = osai_svc_hash(ix->hash, &t, 1);
		}
		ix->vector_field =
			osai_svc_find_string(ic->backend->schema, ic->config,
					     "embedding", "vector_field");
		ix->last_ckpt = ix->ckpt_seen = osai_svc_now();
		if (asprintf(&ix->dir, "%s/indexes/%s", s->data_dir, ic->name) <
		    0) {
			ix->dir = NULL;
			osai_service_close(s);
			return osa_error_set(err, OSA_ENOMEM, "out of memory");
		}
	}
	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];
		struct osa_error fatal = { 0 };

		/* A failure degrades the index (logged); the tick retries.  Data
		 * the journal cannot explain stops the open. */
		pthread_mutex_lock(&ix->wlock);
		osai_svc_open_index_locked(s, ix, opt ? opt->progress : NULL,
					   opt ? opt->progress_ctx : NULL,
					   &fatal);
		pthread_mutex_unlock(&ix->wlock);
		if (fatal.code) {
			if (err)
				*err = fatal;
			osai_service_close(s);
			return fatal.code;
		}
	}
	if (!osai_journal_stats(s->journal, &records, NULL, NULL, NULL))
		s->records_hint = records;
	rc = osai_svc_tick_start(s, err);
	if (rc) {
		osai_service_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void osai_service_close(struct osai_service *s)
{
	struct osa_error err;
	size_t i;

	if (!s)
		return;
	osai_svc_tick_stop(s);
	for (i = 0; s->ix && i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];

		if (!ix->cfg)
			continue;
		pthread_mutex_lock(&ix->wlock);
		if (ix->be && ix->state == SVC_READY &&
		    !osai_svc_catch_up_locked(s, ix, 0, NULL, 0))
			osai_svc_checkpoint_locked(s, ix,
						   &err); /* logs failures */
		osai_svc_close_be(ix);
		pthread_mutex_unlock(&ix->wlock);
	}
	if (s->journal && s->ix && osai_svc_trim(s, &err))
		osa_log(OSA_LOG_WARN, "log trim failed: %s", err.msg);
	for (i = 0; s->ix && i < s->n; i++) {
		if (!s->ix[i].cfg)
			continue;
		pthread_mutex_destroy(&s->ix[i].wlock);
		pthread_rwlock_destroy(&s->ix[i].life);
		pthread_mutex_destroy(&s->ix[i].mu);
		free(s->ix[i].dir);
	}
	free(s->ix);
	osai_journal_close(s->journal);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	pthread_mutex_destroy(&s->tick_mu);
	osai_config_free(s->cfg);
	free(s);
}

static int svc_config_error(struct osai_diags *d, int rc, struct osa_error *err)
{
	char *all = osai_diags_join(d);

	osa_error_set(err, rc == OSA_EIO ? OSA_EIO : OSA_ECONFIG, "%s",
		      all ? all : "invalid configuration");
	free(all);
	osai_diags_free(d);
	return err ? err->code : OSA_ECONFIG;
}

int osa_open_file(const char *path, const struct osa_open_options *opt,
		  struct osa_db **out, struct osa_error *err)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg;
	int rc;

	osai_registry_init(NULL);
	rc = osai_config_load_file(path, &cfg, &d);
	if (rc)
		return svc_config_error(&d, rc, err);
	osai_diags_free(&d);
	return svc_open(cfg, opt, (struct osai_service **)out, err);
}

int osa_open_string(const char *config, const char *basedir,
		    const struct osa_open_options *opt, struct osa_db **out,
		    struct osa_error *err)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg;
	int rc;

	osai_registry_init(NULL);
	rc = osai_config_load_string(config, "<string>", basedir, &cfg, &d);
	if (rc)
		return svc_config_error(&d, rc, err);
	osai_diags_free(&d);
	return svc_open(cfg, opt, (struct osai_service **)out, err);
}

int osai_service_open(struct osai_config *cfg,
		      const struct osa_open_options *opt,
		      struct osai_service **out, struct osa_error *err)
{
	return svc_open(cfg, opt, out, err);
}

void osa_close(struct osa_db *db)
{
	osai_service_close((struct osai_service *)db);
}

struct svc_index *osai_service_index(struct osai_service *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->ix[i].cfg->name, name))
			return &s->ix[i];
	return NULL;
}

/* One index's entry of stats and /health; *ready tells whether it is. */
static json_t *svc_index_json(struct svc_index *ix, int health, int *ready)
{
	uint64_t count = 0;
	json_t *o;

	pthread_rwlock_rdlock(&ix->life);
	if (ix->be)
		ix->cfg->backend->count(ix->be, &count);
	pthread_mutex_lock(&ix->mu);
	*ready = ix->state == SVC_READY;
	o = json_pack("{s:s, s:I, s:s, s:I, s:I}", "backend",
		      ix->cfg->backend->name, "count", (json_int_t)count,
		      "state", osai_index_state_name(ix->state), "applied_lsn",
		      (json_int_t)ix->applied, "checkpoint_lsn",
		      (json_int_t)ix->checkpointed);
	if (o && osa_backend_kernel(ix->cfg->backend))
		json_object_set_new(
			o, "kernel",
			json_string(osa_backend_kernel(ix->cfg->backend)));
	if (o && ix->why[0])
		json_object_set_new(o, "reason", json_string(ix->why));
	if (o && ix->skipped)
		json_object_set_new(o, "skipped_records",
				    json_integer((json_int_t)ix->skipped));
	if (o && ix->quarantined[0])
		json_object_set_new(o, "quarantined",
				    json_string(ix->quarantined));
	pthread_mutex_unlock(&ix->mu);
	if (o && health && ix->be && ix->cfg->backend->health) {
		struct osa_error e = { 0 };

		if (ix->cfg->backend->health(ix->be, &e))
			json_object_set_new(o, "problem", json_string(e.msg));
	}
	pthread_rwlock_unlock(&ix->life);
	return o;
}

static int svc_dump(json_t *doc, char **json, struct osa_error *err)
{
	*json = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)
		    : NULL;
	json_decref(doc);
	return *json ? 0 : osa_error_set(err, OSA_ENOMEM, "out of memory");
}

int osa_stats(struct osa_db *db, char **json, struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	uint64_t records = 0, last = 0, nlog = 0;
	json_t *doc, *ixs;
	size_t i;
	int rc, ready;

	rc = osai_journal_stats(s->journal, &records, &last, &nlog, err);
	if (rc)
		return rc;
	ixs = json_object();
	for (i = 0; i < s->n; i++)
		json_object_set_new(ixs, s->ix[i].cfg->name,
				    svc_index_json(&s->ix[i], 0, &ready));
	doc = json_pack("{s:I, s:I, s:I, s:I, s:o}", "records",
			(json_int_t)records, "last_lsn", (json_int_t)last,
			"log_entries", (json_int_t)nlog, "journal_bytes",
			(json_int_t)osai_journal_file_bytes(s->journal),
			"indexes", ixs);
	return svc_dump(doc, json, err);
}

/* nftw callback: add up the bytes of regular files. */
static __thread uint64_t svc_du_total;

static int svc_du_entry(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_F)
		svc_du_total += (uint64_t)st->st_size;
	return 0;
}

int osa_stats_get(struct osa_db *db, struct osa_db_stats **out,
		  struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	struct osa_db_stats *st;
	double now = osai_svc_now();
	size_t i;
	int rc;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st)
		st->v = calloc(s->n ? s->n : 1, sizeof(*st->v));
	if (!st || !st->v) {
		free(st);
		return osa_error_set(err, OSA_ENOMEM, "stats: out of memory");
	}
	rc = osai_journal_stats(s->journal, &st->records, &st->last_lsn, NULL,
				err);
	if (rc) {
		osa_stats_free(st);
		return rc;
	}
	st->journal_bytes = osai_journal_file_bytes(s->journal);
	for (i = 0; i < s->n; i++) {
		struct svc_index *ix = &s->ix[i];
		struct osa_index_stats *x = &st->v[i];
		uint64_t count = 0;

		x->name = ix->cfg->name;
		x->backend = ix->cfg->backend->name;
		pthread_rwlock_rdlock(&ix->life);
		if (ix->be)
			ix->cfg->backend->count(ix->be, &count);
		pthread_rwlock_unlock(&ix->life);
		x->count = count;
		pthread_mutex_lock(&ix->mu);
		x->state = osai_index_state_name(ix->state);
		x->degraded = ix->state == SVC_DEGRADED;
		x->applied_lsn = ix->applied;
		x->checkpoint_lsn = ix->checkpointed;
		x->skipped = ix->skipped;
		x->checkpoint_age = now - ix->ckpt_seen;
		pthread_mutex_unlock(&ix->mu);
		svc_du_total = 0;
		nftw(ix->dir, svc_du_entry, 16, FTW_PHYS);
		x->bytes = svc_du_total;
	}
	st->n = s->n;
	*out = st;
	return 0;
}

void osa_stats_free(struct osa_db_stats *s)
{
	if (!s)
		return;
	free(s->v);
	free(s);
}

int osa_health(struct osa_db *db, char **json, int *healthy,
	       struct osa_error *err)
{
	struct osai_service *s = (struct osai_service *)db;
	json_t *ixs = json_object();
	int ok = 1, ready;
	size_t i;

	/* Reports only: retrying a degraded index is the tick's work. */
	for (i = 0; i < s->n; i++) {
		json_object_set_new(ixs, s->ix[i].cfg->name,
				    svc_index_json(&s->ix[i], 1, &ready));
		if (!ready)
			ok = 0;
	}
	if (healthy)
		*healthy = ok;
	return svc_dump(json_pack("{s:s, s:o}", "status",
				  ok ? "ok" : "degraded", "indexes", ixs),
			json, err);
}

int osai_db_open(struct osai_config *cfg, const struct osa_open_options *opt,
		 struct osa_db **out, struct osa_error *err)
{
	struct osai_service *s = NULL;
	int rc = osai_service_open(cfg, opt, &s, err);

	*out = (struct osa_db *)s;
	return rc;
}

size_t osa_index_count(struct osa_db *db)
{
	return ((struct osai_service *)db)->n;
}

const char *osa_index_name(struct osa_db *db, size_t i)
{
	struct osai_service *s = (struct osai_service *)db;

	return i < s->n ? s->ix[i].cfg->name : NULL;
}

bool osa_index_exists(struct osa_db *db, const char *name)
{
	return osai_service_index((struct osai_service *)db, name) != NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * postgres.c - the `postgres` backend: full-text search in a PostgreSQL
 * server (tsvector, GIN, websearch_to_tsquery, ts_rank_cd), through libpq.
 *
 * Built against the installed OSA SDK only (osa/backend.h and friends).
 *
 * Server-side layout, schema 1 (PG_SCHEMA_COMMENT), for table T:
 *
 *   T        (srn text COLLATE "C" PRIMARY KEY, body text, tsv tsvector)
 *            + GIN index T_tsv on tsv; the table's comment names the schema
 *   T_state  one row (id = 1): lsn (the LSN of the last change applied to
 *            T, written in the same transaction as the change), n (live
 *            records, likewise), owner (the id of the index folder that
 *            writes T)
 *
 * The index folder holds one file, `postgres.state` (osa/snapshot.h:
 * checksummed), naming the table and the owner id.  A folder without it is
 * new, or was cleared by the core for a rebuild: the writer then empties T
 * and takes it over (the core reloads it from the journal).  A folder whose
 * owner id differs from T_state's (T was reset by another folder, or
 * recreated) is refused with OSA_ECORRUPT: the core quarantines the folder
 * and rebuilds.  A writer holds a PostgreSQL advisory lock on T for the
 * life of its connection, so two writers never share a table.
 *
 * Every change of the journal reaches us through ingest_batch_at or
 * remove_at (ABI 1.3) and is one transaction: an upsert or delete per
 * record (prepared statements, parameters only) and one update of T_state
 * setting n and lsn, so T and T_state.lsn never disagree: after a crash
 * (of osa or of the server) `open` returns exactly the last change T
 * holds and the core replays only what follows.  Plain ingest_batch and
 * remove (the records of a rebuild; the one-record retries of a batch
 * holding a record we refuse) leave lsn as it is; `checkpoint` stores its
 * LSN (one UPDATE: after a rebuild it is how lsn advances).  Upserts and
 * deletes by srn are idempotent, so a replayed change is harmless.
 *
 * Connections: one writer (ingest, remove, checkpoint; serialised by the
 * core) and a pool of `readers` opened on demand (query, count, health).
 * A connection that fails is reconnected on its next use, at most once per
 * backoff delay (0.5 s doubling to 30 s); meanwhile calls fail with
 * OSA_EDEGRADED and libpq's message, the core marks the index degraded,
 * keeps acknowledging writes from the journal and retries.
 *
 * Locking: `pool_mu` guards the readers' `busy` flags and `n_cache`; each
 * connection is used by the thread that took it (writer: the core's write
 * serialisation).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include <osa/backend.h>
#include <osa/snapshot.h>

#define PG_SCHEMA 1
#define PG_SCHEMA_COMMENT "osa-backend-postgres schema 1"
#define PG_STATE_FILE "postgres.state"
#define PG_TABLE_MAX 55 /* leaves room for "_state" and "_tsv" in 63 */
#define PG_READERS_MAX 32

/* ---- configuration ----------------------------------------------------- */

struct pg_config {
	char *conninfo;
	char *password_file;
	int sslmode;
	char *table;
	struct osa_strlist fields;
	char *language;
	bool read_only;
	int readers;
	int connect_timeout;
};

static const char *const pg_sslmodes[] = { "prefer",	"disable",
					   "allow",	"require",
					   "verify-ca", "verify-full",
					   NULL };
static const char *const pg_default_fields[] = { "title", "summary", NULL };

/* [a-z0-9_][a-z0-9_-]* (table), [a-z_][a-z0-9_]* (language). */
static int pg_ident_ok(const char *s, int table)
{
	size_t i;

	if (!s || !*s)
		return 0;
	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (c == '_' || (c >= 'a' && c <= 'z'))
			continue;
		if (c >= '0' && c <= '9' && (table || i > 0))
			continue;
		if (c == '-' && table && i > 0)
			continue;
		return 0;
	}
	return 1;
}

static void pg_check(void *cfgp, struct osa_check *chk)
{
	struct pg_config *c = cfgp;
	PQconninfoOption *opts, *o;
	char *msg = NULL;

	opts = PQconninfoParse(c->conninfo ? c->conninfo : "", &msg);
	if (!opts) {
		osa_check_error(chk, "conninfo",
				"not a libpq connection string: %s",
				msg ? msg : "out of memory");
		PQfreemem(msg);
	} else {
		for (o = opts; o->keyword; o++) {
			if (!strcmp(o->keyword, "sslmode") && o->val && *o->val)
				osa_check_error(chk, "conninfo",
						"holds sslmode: set it with "
						"the `sslmode` key (which "
						"always applies)");
			if (!strcmp(o->keyword, "password") && o->val &&
			    *o->val)
				osa_check_error(chk, "conninfo",
						"holds a password: put it in "
						"a file named by password_file "
						"instead (the config is "
						"readable by more people)");
		}
		PQconninfoFree(opts);
	}
	if (c->table &&
	    (!pg_ident_ok(c->table, 1) || strlen(c->table) > PG_TABLE_MAX))
		osa_check_error(chk, "table",
				"\"%s\" is not a table name this backend "
				"accepts: [a-z0-9_][a-z0-9_-]*, at most %d "
				"characters",
				c->table, PG_TABLE_MAX);
	if (!pg_ident_ok(c->language, 0))
		osa_check_error(chk, "language",
				"\"%s\" is not a text search configuration "
				"name ([a-z_][a-z0-9_]*, e.g. english, "
				"simple, german)",
				c->language ? c->language : "");
	if (!c->fields.n)
		osa_check_error(chk, "fields", "at least one field is needed");
}

static const struct osa_field pg_fields[] = {
	OSA_FIELD_STRING_F(struct pg_config, conninfo, "conninfo", 0, "", 0,
			   4096,
			   "libpq connection string (\"host=/run/postgresql "
			   "dbname=osa\", \"postgresql://db.example/osa\"); "
			   "empty: libpq's defaults and PG* variables.  No "
			   "password here: use password_file."),
	OSA_FIELD_PATH(struct pg_config, password_file, "password_file", NULL,
		       "File holding the password (first line), read at "
		       "each connection."),
	OSA_FIELD_ENUM(struct pg_config, sslmode, "sslmode", 0, pg_sslmodes,
		       "libpq sslmode, passed through."),
	OSA_FIELD_STRING_F(struct pg_config, table, "table", OSA_F_STORED, NULL,
			   0, 0,
			   "Table holding the index (default: the index "
			   "name); also <table>_state."),
	OSA_FIELD_STRLIST_F(struct pg_config, fields, "fields", OSA_F_STORED,
			    pg_default_fields, 1, 32,
			    "Record fields indexed (strings, joined)."),
	OSA_FIELD_STRING_F(struct pg_config, language, "language", OSA_F_STORED,
			   "english", 1, 63,
			   "PostgreSQL text search configuration (stemming, "
			   "stopwords): english, simple, german, ..."),
	OSA_FIELD_BOOL(struct pg_config, read_only, "read_only", false,
		       "Only query: the table is written by another osa "
		       "node (scale-out readers; see docs/scale-out.md)."),
	OSA_FIELD_INT(struct pg_config, readers, "readers", 4, 1,
		      PG_READERS_MAX,
		      "Reader connections (queries in parallel)."),
	OSA_FIELD_INT(struct pg_config, connect_timeout, "connect_timeout", 5,
		      1, 300, "Seconds to wait for a connection."),
	OSA_FIELD_END
};

static const struct osa_schema pg_schema = { .name = "postgres",
					     .size = sizeof(struct pg_config),
					     .fields = pg_fields,
					     .check = pg_check };

/* ---- connections ------------------------------------------------------- */

struct pgx_conn {
	PGconn *c;
	int ready;	 /* connected and statements prepared */
	double next_try; /* monotonic seconds: no reconnect before */
	double delay;	 /* current backoff */
	int busy;	 /* readers: taken (pool_mu) */
};

struct pg {
	char *index;
	char *dir;
	const struct pg_config *cfg;
	char table[64];
	char *q_table, *q_state, *q_tsv; /* quoted identifiers (PQescape) */
	char owner[33];			 /* this folder's id (hex) */
	struct pgx_conn writer;
	struct pgx_conn readers[PG_READERS_MAX];
	int nreaders;
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	uint64_t n_cache; /* live records, as last read or written */
	int opened;	  /* open succeeded (writer thread only) */
};

static double pg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* libpq's message without its trailing newline. */
static const char *pg_msg(PGconn *c, char *buf, size_t n)
{
	size_t len;

	snprintf(buf, n, "%s", c ? PQerrorMessage(c) : "out of memory");
	len = strlen(buf);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	return buf;
}

static void pg_notice(void *arg, const char *message)
{
	const struct pg *p = arg;

	osa_log(OSA_LOG_DEBUG, "index=%s postgres: %.*s", p->index,
		(int)strcspn(message, "\n"), message);
}

/* The password from password_file (first line), or NULL. */
static int pg_password(const struct pg *p, char **out, struct osa_error *err)
{
	char line[1024];
	FILE *f;

	*out = NULL;
	if (!p->cfg->password_file)
		return 0;
	f = fopen(p->cfg->password_file, "r");
	if (!f)
		return osa_error_set(err, OSA_ECONFIG,
				     "index %s: cannot read password_file "
				     "%s: %s",
				     p->index, p->cfg->password_file,
				     strerror(errno));
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	*out = strdup(line);
	memset(line, 0, sizeof(line));
	return *out ? 0 : osa_error_set(err, OSA_ENOMEM, "out of memory");
}

static int pg_prepare(struct pg *p, PGconn *c, const char *name,
		      const char *sql, int nparams, struct osa_error *err)
{
	PGresult *r = PQprepare(c, name, sql, nparams, NULL);
	char buf[512];
	int rc = 0;

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = osa_error_set(err, OSA_EDEGRADED,
				   "index %s: preparing %s on PostgreSQL "
				   "failed: %s",
				   p->index, name, pg_msg(c, buf, sizeof(buf)));
	PQclear(r);
	return rc;
}

/* The statements a connection prepares (after the table exists): the
 * readers' only, or every one for the writer (a read-only role needs only
 * SELECT on the two tables). */
static int pg_prepare_all(struct pg *p, PGconn *c, int writer,
			  struct osa_error *err)
{
	char sql[1024];
	int rc = 0;

	snprintf(sql, sizeof(sql), "SELECT lsn, n, owner FROM %s WHERE id = 1",
		 p->q_state);
	rc = pg_prepare(p, c, "osa_state", sql, 0, err);
	snprintf(sql, sizeof(sql),
		 "SELECT srn, ts_rank_cd(tsv, q)::float8 AS score, count(*) "
		 "OVER () FROM %s, websearch_to_tsquery($1::regconfig, $2) q "
		 "WHERE tsv @@ q ORDER BY score DESC, srn LIMIT $3::bigint "
		 "OFFSET $4::bigint",
		 p->q_table);
	if (!rc)
		rc = pg_prepare(p, c, "osa_query", sql, 4, err);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM %s, websearch_to_tsquery($1::regconfig, "
		 "$2) q WHERE tsv @@ q",
		 p->q_table);
	if (!rc)
		rc = pg_prepare(p, c, "osa_total", sql, 2, err);
	if (rc || !writer)
		return rc;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (srn, body, tsv) VALUES ($1, $2, "
		 "to_tsvector($3::regconfig, $2)) ON CONFLICT (srn) DO "
		 "UPDATE SET body = EXCLUDED.body, tsv = EXCLUDED.tsv "
		 "RETURNING (xmax = 0)",
		 p->q_table);
	rc = pg_prepare(p, c, "osa_upsert", sql, 3, err);
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE srn = $1", p->q_table);
	if (!rc)
		rc = pg_prepare(p, c, "osa_delete", sql, 1, err);
	snprintf(sql, sizeof(sql),
		 "UPDATE %s SET n = n + $1::bigint WHERE id = 1", p->q_state);
	if (!rc)
		rc = pg_prepare(p, c, "osa_add_n", sql, 1, err);
	snprintf(sql, sizeof(sql),
		 "UPDATE %s SET lsn = $1::bigint WHERE id = 1", p->q_state);
	if (!rc)
		rc = pg_prepare(p, c, "osa_set_lsn", sql, 1, err);
	snprintf(sql, sizeof(sql),
		 "UPDATE %s SET n = n + $1::bigint, lsn = $2::bigint WHERE "
		 "id = 1",
		 p->q_state);
	if (!rc)
		rc = pg_prepare(p, c, "osa_apply", sql, 2, err);
	return rc;
}

static int pg_names(struct pg *p, PGconn *c, struct osa_error *err);

/* Make `k` usable: reconnect (within its backoff) and prepare. */
static int pg_conn_get(struct pg *p, struct pgx_conn *k, struct osa_error *err)
{
	const char *keys[8], *vals[8];
	char buf[512], tmo[16], *pw = NULL;
	double now = pg_now();
	int i = 0, rc;

	if (k->ready && PQstatus(k->c) == CONNECTION_OK)
		return 0;
	if (k->c && now < k->next_try)
		return osa_error_set(err, OSA_EDEGRADED,
				     "index %s: PostgreSQL unreachable: %s "
				     "(next attempt in %.1f s; writes are "
				     "kept in the journal and applied when it "
				     "is back)",
				     p->index, pg_msg(k->c, buf, sizeof(buf)),
				     k->next_try - now);
	k->ready = 0;
	rc = pg_password(p, &pw, err);
	if (rc)
		return rc;
	snprintf(tmo, sizeof(tmo), "%d", p->cfg->connect_timeout);
	keys[i] = "dbname";
	vals[i++] = p->cfg->conninfo ? p->cfg->conninfo : "";
	keys[i] = "sslmode";
	vals[i++] = pg_sslmodes[p->cfg->sslmode];
	keys[i] = "connect_timeout";
	vals[i++] = tmo;
	keys[i] = "application_name";
	vals[i++] = "osa";
	if (pw) {
		keys[i] = "password";
		vals[i++] = pw;
	}
	keys[i] = NULL;
	vals[i] = NULL;
	if (k->c)
		PQfinish(k->c);
	k->c = PQconnectdbParams(keys, vals, 1);
	if (pw) {
		memset(pw, 0, strlen(pw));
		free(pw);
	}
	if (!k->c || PQstatus(k->c) != CONNECTION_OK) {
		k->delay = k->delay ? k->delay * 2 : 0.5;
		if (k->delay > 30)
			k->delay = 30;
		k->next_try = now + k->delay;
		if (!k->c)
			return osa_error_set(err, OSA_ENOMEM, "out of memory");
		return osa_error_set(err, OSA_EDEGRADED,
				     "index %s: cannot connect to PostgreSQL: "
				     "%s (retrying with backoff; writes are "
				     "kept in the journal)",
				     p->index, pg_msg(k->c, buf, sizeof(buf)));
	}
	PQsetNoticeProcessor(k->c, pg_notice, p);
	k->delay = 0;
	k->next_try = 0;
	pthread_mutex_lock(&p->pool_mu);
	rc = pg_names(p, k->c, err);
	pthread_mutex_unlock(&p->pool_mu);
	return rc;
}

/* After a failed call: schedule a reconnect when the connection is gone,
 * and say why. */
static int pg_fail(struct pg *p, struct pgx_conn *k, PGresult *r,
		   const char *what, struct osa_error *err)
{
	char buf[512];
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	int code = OSA_EDEGRADED;

	pg_msg(k->c, buf, sizeof(buf));
	if (PQstatus(k->c) != CONNECTION_OK) {
		k->ready = 0;
		k->delay = 0.5;
		k->next_try = pg_now() + k->delay;
	} else if (state && !strncmp(state, "22", 2)) {
		code = OSA_EINVAL; /* data exception: the record's text */
	} else if (state && !strncmp(state, "54", 2)) {
		code = OSA_ELIMIT; /* e.g. a text too long for a tsvector */
	}
	return osa_error_set(err, code, "index %s: PostgreSQL %s failed: %s",
			     p->index, what, buf);
}

static PGresult *pg_exec(PGconn *c, const char *stmt, int n,
			 const char *const *vals)
{
	return PQexecPrepared(c, stmt, n, vals, NULL, NULL, 0);
}

/* A plain statement without parameters, expecting COMMAND_OK. */
static int pg_cmd(struct pg *p, struct pgx_conn *k, const char *sql,
		  struct osa_error *err)
{
	PGresult *r = PQexec(k->c, sql);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_fail(p, k, r, sql, err);
	PQclear(r);
	return rc;
}

/* ---- the table --------------------------------------------------------- */

struct pg_state {
	uint64_t lsn, n;
	char owner[33];
	int exists;
};

static int pg_read_state(struct pg *p, struct pgx_conn *k, struct pg_state *st,
			 struct osa_error *err)
{
	PGresult *r = pg_exec(k->c, "osa_state", 0, NULL);
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_fail(p, k, r, "reading the state row", err);
	} else if (PQntuples(r) == 1) {
		st->exists = 1;
		st->lsn = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		st->n = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
		snprintf(st->owner, sizeof(st->owner), "%s",
			 PQgetvalue(r, 0, 2));
	}
	PQclear(r);
	return rc;
}

/* The schema comment of the table, or "" when it has none; *exists. */
static int pg_table_comment(struct pg *p, struct pgx_conn *k, int *exists,
			    char *out, size_t n, struct osa_error *err)
{
	const char *v[1] = { p->q_table };
	PGresult *r = PQexecParams(
		k->c,
		"SELECT c.oid IS NOT NULL, coalesce(obj_description(c.oid, "
		"'pg_class'), '') FROM (SELECT to_regclass($1) AS oid) c",
		1, NULL, v, NULL, NULL, 0);
	int rc = 0;

	*exists = 0;
	out[0] = '\0';
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		rc = pg_fail(p, k, r, "looking up the table", err);
	} else {
		*exists = !strcmp(PQgetvalue(r, 0, 0), "t");
		snprintf(out, n, "%s", PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return rc;
}

static int pg_check_language(struct pg *p, struct pgx_conn *k,
			     struct osa_error *err)
{
	const char *v[1] = { p->cfg->language };
	PGresult *r = PQexecParams(
		k->c, "SELECT 1 FROM pg_ts_config WHERE cfgname = $1", 1, NULL,
		v, NULL, NULL, 0);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = pg_fail(p, k, r, "looking up the language", err);
	else if (PQntuples(r) != 1)
		rc = osa_error_set(err, OSA_ECONFIG,
				   "index %s: language \"%s\" is not a text "
				   "search configuration of this server "
				   "(`SELECT cfgname FROM pg_ts_config` lists "
				   "them)",
				   p->index, p->cfg->language);
	PQclear(r);
	return rc;
}

/* Create the table, its index and state row if missing (writer). */
static int pg_create(struct pg *p, struct pgx_conn *k, struct osa_error *err)
{
	char sql[1024];
	int rc;

	rc = pg_cmd(p, k, "BEGIN", err);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS %s (srn text COLLATE \"C\" "
		 "PRIMARY KEY, body text NOT NULL, tsv tsvector NOT NULL)",
		 p->q_table);
	if (!rc)
		rc = pg_cmd(p, k, sql, err);
	snprintf(sql, sizeof(sql),
		 "CREATE INDEX IF NOT EXISTS %s ON %s USING GIN (tsv)",
		 p->q_tsv, p->q_table);
	if (!rc)
		rc = pg_cmd(p, k, sql, err);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS %s (id int PRIMARY KEY CHECK "
		 "(id = 1), lsn bigint NOT NULL, n bigint NOT NULL, owner "
		 "text NOT NULL)",
		 p->q_state);
	if (!rc)
		rc = pg_cmd(p, k, sql, err);
	/* A constant of ours: COMMENT takes no parameters. */
	snprintf(sql, sizeof(sql), "COMMENT ON TABLE %s IS '%s'", p->q_table,
		 PG_SCHEMA_COMMENT);
	if (!rc)
		rc = pg_cmd(p, k, sql, err);
	if (!rc)
		rc = pg_cmd(p, k, "COMMIT", err);
	else if (PQstatus(k->c) == CONNECTION_OK)
		PQclear(PQexec(k->c, "ROLLBACK"));
	return rc;
}

/* Empty the table and take it over for this folder (writer). */
static int pg_reset(struct pg *p, struct pgx_conn *k, struct osa_error *err)
{
	const char *v[1] = { p->owner };
	char sql[512];
	PGresult *r;
	int rc;

	rc = pg_cmd(p, k, "BEGIN", err);
	snprintf(sql, sizeof(sql), "TRUNCATE %s", p->q_table);
	if (!rc)
		rc = pg_cmd(p, k, sql, err);
	snprintf(sql, sizeof(sql), "DELETE FROM %s", p->q_state);
	if (!rc)
		rc = pg_cmd(p, k, sql, err);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (id, lsn, n, owner) VALUES (1, 0, 0, $1)",
		 p->q_state);
	if (!rc) {
		r = PQexecParams(k->c, sql, 1, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = pg_fail(p, k, r, "resetting the state row", err);
		PQclear(r);
	}
	if (!rc)
		rc = pg_cmd(p, k, "COMMIT", err);
	else if (PQstatus(k->c) == CONNECTION_OK)
		PQclear(PQexec(k->c, "ROLLBACK"));
	return rc;
}

/* The writer's session lock on the table: one writer per table. */
static int pg_lock(struct pg *p, struct pgx_conn *k, struct osa_error *err)
{
	const char *v[1] = { p->q_table };
	PGresult *r =
		PQexecParams(k->c, "SELECT pg_try_advisory_lock(hashtext($1))",
			     1, NULL, v, NULL, NULL, 0);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		rc = pg_fail(p, k, r, "taking the table's advisory lock", err);
	else if (strcmp(PQgetvalue(r, 0, 0), "t"))
		rc = osa_error_set(err, OSA_EBUSY,
				   "index %s: table %s is written by another "
				   "osa node (it holds the table's advisory "
				   "lock; see pg_locks): give each writer its "
				   "own `table`, or set read_only = true on "
				   "this one",
				   p->index, p->table);
	PQclear(r);
	return rc;
}

/* The schema check: the table exists (or may be created) and is ours. */
static int pg_check_table(struct pg *p, struct pgx_conn *k, int may_create,
			  struct osa_error *err)
{
	char comment[256];
	int exists, rc;

	rc = pg_table_comment(p, k, &exists, comment, sizeof(comment), err);
	if (rc)
		return rc;
	if (!exists && may_create) {
		rc = pg_create(p, k, err);
		if (!rc)
			rc = pg_table_comment(p, k, &exists, comment,
					      sizeof(comment), err);
		if (rc)
			return rc;
	}
	if (!exists)
		return osa_error_set(err, OSA_EDEGRADED,
				     "index %s: table %s does not exist yet "
				     "(read_only: the writer node creates it; "
				     "start it first)",
				     p->index, p->table);
	if (strcmp(comment, PG_SCHEMA_COMMENT))
		return osa_error_set(err, OSA_ECONFIG,
				     "index %s: table %s %s%s%s, but this "
				     "backend uses schema %d: set `table` to "
				     "another name, or drop the table (DROP "
				     "TABLE %s, %s) so that it is created "
				     "again and rebuilt from the journal",
				     p->index, p->table,
				     *comment ? "has the schema comment \""
					      : "was not created by "
						"osa-backend-postgres (no "
						"schema comment)",
				     comment, *comment ? "\"" : "", PG_SCHEMA,
				     p->q_table, p->q_state);
	return 0;
}

/* Connect the writer: lock, create, prepare.  On a reconnection (`open`
 * has run), the table must still be the one this folder owns. */
static int pg_writer(struct pg *p, struct osa_error *err)
{
	struct pgx_conn *k = &p->writer;
	struct pg_state st;
	int rc;

	if (k->ready && PQstatus(k->c) == CONNECTION_OK)
		return 0;
	rc = pg_conn_get(p, k, err);
	if (!rc)
		rc = pg_lock(p, k, err);
	if (!rc)
		rc = pg_check_table(p, k, 1, err);
	if (!rc)
		rc = pg_prepare_all(p, k->c, 1, err);
	if (!rc && p->opened) {
		rc = pg_read_state(p, k, &st, err);
		if (!rc && (!st.exists || strcmp(st.owner, p->owner)))
			rc = osa_error_set(
				err, OSA_EDEGRADED,
				"index %s: table %s was reset or recreated "
				"while this node was disconnected (its state "
				"row %s): restart osa, which rebuilds the "
				"index from the journal",
				p->index, p->table,
				st.exists ? "names another owner" : "is gone");
	}
	if (!rc)
		k->ready = 1;
	return rc;
}

/* Take a reader connection (blocks while all are busy). */
static struct pgx_conn *pg_reader_take(struct pg *p, struct osa_error *err)
{
	struct pgx_conn *k = NULL;
	int i, rc;

	pthread_mutex_lock(&p->pool_mu);
	for (;;) {
		for (i = 0; i < p->nreaders && !k; i++)
			if (!p->readers[i].busy)
				k = &p->readers[i];
		if (k)
			break;
		pthread_cond_wait(&p->pool_cv, &p->pool_mu);
	}
	k->busy = 1;
	pthread_mutex_unlock(&p->pool_mu);
	if (k->ready && PQstatus(k->c) == CONNECTION_OK)
		return k;
	rc = pg_conn_get(p, k, err);
	if (!rc)
		rc = pg_check_table(p, k, 0, err);
	if (!rc)
		rc = pg_prepare_all(p, k->c, 0, err);
	if (!rc) {
		k->ready = 1;
		return k;
	}
	pthread_mutex_lock(&p->pool_mu);
	k->busy = 0;
	pthread_cond_signal(&p->pool_cv);
	pthread_mutex_unlock(&p->pool_mu);
	return NULL;
}

static void pg_reader_give(struct pg *p, struct pgx_conn *k)
{
	pthread_mutex_lock(&p->pool_mu);
	k->busy = 0;
	pthread_cond_signal(&p->pool_cv);
	pthread_mutex_unlock(&p->pool_mu);
}

/* ---- the folder's state file ------------------------------------------- */

static int pg_state_path(const struct pg *p, char *out, size_t n)
{
	return snprintf(out, n, "%s/%s", p->dir, PG_STATE_FILE) < (int)n;
}

static void pg_snap_info(const struct pg *p, struct osa_snap_info *in)
{
	memset(in, 0, sizeof(*in));
	snprintf(in->kind, sizeof(in->kind), "postgres");
	in->body_version = PG_SCHEMA;
	/* The table's name (an identifier of at most 63 bytes) fits. */
	osa_snap_set_blob(in, NULL, "table=%s", p->table);
}

static int pg_state_body(void *ctx, struct osa_snap_writer *w,
			 struct osa_error *err)
{
	const struct pg *p = ctx;

	return osa_snap_write(w, p->owner, 32, err);
}

static int pg_state_save(struct pg *p, uint64_t lsn, struct osa_error *err)
{
	struct osa_snap_info in;
	char path[4200];

	pg_state_path(p, path, sizeof(path));
	pg_snap_info(p, &in);
	in.lsn = lsn;
	in.count = 1;
	return osa_snap_save(path, &in, pg_state_body, p, err);
}

/* Read the folder's owner id; OSA_ENOTFOUND when there is no file. */
static int pg_state_load(struct pg *p, struct osa_error *err)
{
	struct osa_snap_reader *r = NULL;
	struct osa_snap_info in;
	char path[4200];
	size_t i;
	int rc;

	pg_state_path(p, path, sizeof(path));
	pg_snap_info(p, &in);
	rc = osa_snap_open(path, &in, &r, NULL, err);
	if (rc)
		return rc;
	rc = osa_snap_read(r, p->owner, 32, err);
	p->owner[32] = '\0';
	for (i = 0; !rc && i < 32; i++)
		if (!strchr("0123456789abcdef", p->owner[i]))
			rc = osa_snap_corrupt(r, err, "owner id is not hex");
	if (!rc)
		rc = osa_snap_close(r, err);
	else
		osa_snap_close(r, NULL);
	return rc;
}

static int pg_new_owner(struct pg *p, struct osa_error *err)
{
	unsigned char b[16];
	FILE *f = fopen("/dev/urandom", "rb");
	size_t i;

	if (!f || fread(b, 1, sizeof(b), f) != sizeof(b)) {
		if (f)
			fclose(f);
		return osa_error_set(err, OSA_EIO,
				     "index %s: cannot read /dev/urandom",
				     p->index);
	}
	fclose(f);
	for (i = 0; i < sizeof(b); i++)
		snprintf(p->owner + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* ---- the contract ------------------------------------------------------ */

static void pg_close(void *self)
{
	struct pg *p = self;
	int i;

	if (!p)
		return;
	if (p->writer.c)
		PQfinish(p->writer.c);
	for (i = 0; i < p->nreaders; i++)
		if (p->readers[i].c)
			PQfinish(p->readers[i].c);
	PQfreemem(p->q_table);
	PQfreemem(p->q_state);
	PQfreemem(p->q_tsv);
	pthread_mutex_destroy(&p->pool_mu);
	pthread_cond_destroy(&p->pool_cv);
	free(p->index);
	free(p->dir);
	free(p);
}

/* The table name (the index name by default) is one we accept. */
static int pg_table_ok(struct pg *p, struct osa_error *err)
{
	if (!pg_ident_ok(p->table, 1) || strlen(p->table) > PG_TABLE_MAX)
		return osa_error_set(err, OSA_ECONFIG,
				     "index %s: table name \"%s\" (the index "
				     "name by default) must match "
				     "[a-z0-9_][a-z0-9_-]* and have at most "
				     "%d characters: set `table`",
				     p->index, p->table, PG_TABLE_MAX);
	return 0;
}

/* Quote the table's names (validated by pg_table_ok at open) with
 * PQescapeIdentifier, once, on the first connection (pool_mu held). */
static int pg_names(struct pg *p, PGconn *c, struct osa_error *err)
{
	char name[80];

	if (p->q_table)
		return 0;
	p->q_table = PQescapeIdentifier(c, p->table, strlen(p->table));
	snprintf(name, sizeof(name), "%s_state", p->table);
	p->q_state = PQescapeIdentifier(c, name, strlen(name));
	snprintf(name, sizeof(name), "%s_tsv", p->table);
	p->q_tsv = PQescapeIdentifier(c, name, strlen(name));
	if (!p->q_table || !p->q_state || !p->q_tsv)
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	return 0;
}

static int pg_open(const struct osa_backend_args *args, void **self,
		   uint64_t *lsn, struct osa_error *err)
{
	struct pg *p = calloc(1, sizeof(*p));
	struct pgx_conn *k;
	struct pg_state st;
	int rc, fresh = 0;
	size_t i;

	*self = NULL;
	*lsn = 0;
	if (!p)
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	p->cfg = args->config;
	p->index = strdup(args->index);
	p->dir = strdup(args->dir);
	p->nreaders = p->cfg->readers;
	pthread_mutex_init(&p->pool_mu, NULL);
	pthread_cond_init(&p->pool_cv, NULL);
	if (!p->index || !p->dir) {
		pg_close(p);
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	}
	snprintf(p->table, sizeof(p->table), "%s",
		 p->cfg->table ? p->cfg->table : args->index);
	if (p->cfg->read_only) {
		/* Queries only: no folder state, no writer; the node's own
		 * journal holds nothing for this index. */
		rc = pg_table_ok(p, err);
		if (!rc && (k = pg_reader_take(p, err))) {
			rc = pg_read_state(p, k, &st, err);
			if (!rc)
				p->n_cache = st.n;
			pg_reader_give(p, k);
		} else if (!rc) {
			rc = err->code;
		}
		if (rc) {
			pg_close(p);
			return rc;
		}
		*self = p;
		return 0;
	}
	rc = pg_state_load(p, err);
	if (rc == OSA_ENOTFOUND) {
		/* New, or cleared by the core for a rebuild. */
		osa_error_clear(err);
		fresh = 1;
		rc = pg_new_owner(p, err);
	}
	if (!rc)
		rc = pg_table_ok(p, err);
	if (!rc)
		rc = pg_writer(p, err);
	if (!rc)
		rc = pg_check_language(p, &p->writer, err);
	if (!rc && fresh) {
		rc = pg_reset(p, &p->writer, err);
		if (!rc)
			rc = pg_state_save(p, 0, err);
		if (!rc)
			osa_log(OSA_LOG_INFO,
				"index=%s postgres table %s emptied for a new "
				"or cleared index folder (the core loads it "
				"from the journal)",
				p->index, p->table);
	}
	if (!rc)
		rc = pg_read_state(p, &p->writer, &st, err);
	if (!rc && (!st.exists || strcmp(st.owner, p->owner))) {
		char path[4200];

		pg_state_path(p, path, sizeof(path));
		rc = osa_error_set(err, OSA_ECORRUPT,
				   "index %s: %s names table %s of owner %s, "
				   "but the table's state row %s%s: the "
				   "table was reset by another index folder "
				   "or recreated; the core sets this folder "
				   "aside and rebuilds the table from the "
				   "journal",
				   p->index, path, p->table, p->owner,
				   st.exists ? "says owner " : "is missing",
				   st.exists ? st.owner : "");
		i = strlen(path);
		if (i >= sizeof(err->file))
			i = sizeof(err->file) - 1;
		memcpy(err->file, path, i);
		err->file[i] = '\0';
	}
	if (rc) {
		pg_close(p);
		return rc;
	}
	p->n_cache = st.n;
	p->opened = 1;
	*lsn = st.lsn;
	*self = p;
	return 0;
}

static int pg_read_only(struct pg *p, const char *what, struct osa_error *err)
{
	return osa_error_set(err, OSA_ENOTSUP,
			     "index %s: %s refused: read_only = true (this "
			     "node only queries table %s; send writes to the "
			     "writer node)",
			     p->index, what, p->table);
}

/* The indexed text of a record: its string fields, joined by newlines. */
static int pg_body(const struct pg *p, const struct osa_record *rec, char **out,
		   struct osa_error *err)
{
	size_t i, len = 0, cap = 256, n;
	char *b = malloc(cap), *nb;
	const char *s;
	int rc;

	if (!b)
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	b[0] = '\0';
	for (i = 0; i < p->cfg->fields.n; i++) {
		rc = osa_record_string(rec, p->cfg->fields.v[i], &s, &n);
		if (rc == OSA_ENOTFOUND)
			continue;
		if (rc) {
			free(b);
			return osa_error_set(err, OSA_ETYPE,
					     "index %s: srn %s: field %s is "
					     "not a string (postgres indexes "
					     "string fields): fix the record "
					     "or the index's `fields`",
					     p->index, osa_record_srn(rec),
					     p->cfg->fields.v[i]);
		}
		if (len + n + 2 > cap) {
			cap = (len + n + 2) * 2;
			nb = realloc(b, cap);
			if (!nb) {
				free(b);
				return osa_error_set(err, OSA_ENOMEM,
						     "out of memory");
			}
			b = nb;
		}
		if (len)
			b[len++] = '\n';
		memcpy(b + len, s, n);
		len += n;
		b[len] = '\0';
		if (memchr(s, '\0', n)) {
			free(b);
			return osa_error_set(err, OSA_EINVAL,
					     "index %s: srn %s: field %s holds "
					     "a NUL character, which "
					     "PostgreSQL text cannot store",
					     p->index, osa_record_srn(rec),
					     p->cfg->fields.v[i]);
		}
	}
	*out = b;
	return 0;
}

/* One state row update (`what` for messages): 0 or a failure. */
static int pg_state_update(struct pg *p, struct pgx_conn *k, const char *stmt,
			   int n, const char *const *v, const char *what,
			   struct osa_error *err)
{
	PGresult *r = pg_exec(k->c, stmt, n, v);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_fail(p, k, r, what, err);
	else if (strcmp(PQcmdTuples(r), "1"))
		rc = osa_error_set(err, OSA_EDEGRADED,
				   "index %s: %s: the state row of table %s "
				   "is gone (deleted by hand?): restart osa, "
				   "which rebuilds the index from the journal",
				   p->index, what, p->table);
	PQclear(r);
	return rc;
}

/* Run `n` prepared statements in one transaction with the state row's
 * update: n, and the LSN when `at` (the change's, `lsn`). */
static int pg_change(struct pg *p, int upsert,
		     const struct osa_record *const *recs,
		     const char *const *srns, size_t n, int at, uint64_t lsn,
		     struct osa_error *err)
{
	struct pgx_conn *k = &p->writer;
	char delta_s[32], lsn_s[32];
	const char *v[3], *dv[2];
	int64_t delta = 0;
	PGresult *r;
	size_t i;
	char *body = NULL;
	int rc;

	if (p->cfg->read_only)
		return pg_read_only(p, upsert ? "ingest" : "remove", err);
	rc = pg_writer(p, err);
	if (!rc)
		rc = pg_cmd(p, k, "BEGIN", err);
	for (i = 0; i < n && !rc; i++) {
		if (upsert) {
			rc = pg_body(p, recs[i], &body, err);
			if (rc)
				break;
			v[0] = osa_record_srn(recs[i]);
			v[1] = body;
			v[2] = p->cfg->language;
			r = pg_exec(k->c, "osa_upsert", 3, v);
			free(body);
			if (PQresultStatus(r) != PGRES_TUPLES_OK ||
			    PQntuples(r) != 1)
				rc = pg_fail(p, k, r, "upsert", err);
			else if (!strcmp(PQgetvalue(r, 0, 0), "t"))
				delta++;
			if (rc && err->code == OSA_EINVAL)
				osa_error_prefix(err, "srn %s: ", v[0]);
		} else {
			v[0] = srns[i];
			r = pg_exec(k->c, "osa_delete", 1, v);
			if (PQresultStatus(r) != PGRES_COMMAND_OK)
				rc = pg_fail(p, k, r, "delete", err);
			else
				delta -= strtoll(PQcmdTuples(r), NULL, 10);
		}
		PQclear(r);
	}
	snprintf(delta_s, sizeof(delta_s), "%lld", (long long)delta);
	snprintf(lsn_s, sizeof(lsn_s), "%llu", (unsigned long long)lsn);
	dv[0] = delta_s;
	dv[1] = lsn_s;
	if (!rc && at)
		rc = pg_state_update(p, k, "osa_apply", 2, dv,
				     "storing the count and the LSN", err);
	else if (!rc && delta)
		rc = pg_state_update(p, k, "osa_add_n", 1, dv,
				     "updating the count", err);
	if (!rc)
		rc = pg_cmd(p, k, "COMMIT", err);
	else if (k->c && PQstatus(k->c) == CONNECTION_OK &&
		 PQtransactionStatus(k->c) != PQTRANS_IDLE)
		PQclear(PQexec(k->c, "ROLLBACK"));
	if (!rc) {
		pthread_mutex_lock(&p->pool_mu);
		p->n_cache = (uint64_t)((int64_t)p->n_cache + delta);
		pthread_mutex_unlock(&p->pool_mu);
	}
	return rc;
}

static int pg_ingest(void *self, const struct osa_record *const *recs, size_t n,
		     struct osa_error *err)
{
	return pg_change(self, 1, recs, NULL, n, 0, 0, err);
}

static int pg_remove(void *self, const char *const *srns, size_t n,
		     struct osa_error *err)
{
	return pg_change(self, 0, NULL, srns, n, 0, 0, err);
}

static int pg_ingest_at(void *self, const struct osa_record *const *recs,
			size_t n, uint64_t lsn, struct osa_error *err)
{
	return pg_change(self, 1, recs, NULL, n, 1, lsn, err);
}

static int pg_remove_at(void *self, const char *const *srns, size_t n,
			uint64_t lsn, struct osa_error *err)
{
	return pg_change(self, 0, NULL, srns, n, 1, lsn, err);
}

static int pg_query(void *self, const struct osa_query *q,
		    struct osa_hits *hits, struct osa_error *err)
{
	struct pg *p = self;
	char lim[32], off[32];
	const char *v[4];
	struct pgx_conn *k;
	PGresult *r;
	int i, rc = 0;

	if (!q->text)
		return osa_error_set(err, OSA_ENOTSUP,
				     "backend \"postgres\" answers text "
				     "queries; this query brings only a "
				     "vector");
	k = pg_reader_take(p, err);
	if (!k)
		return err->code;
	snprintf(lim, sizeof(lim), "%zu", q->limit);
	snprintf(off, sizeof(off), "%zu", q->offset);
	v[0] = p->cfg->language;
	v[1] = q->text;
	v[2] = lim;
	v[3] = off;
	r = pg_exec(k->c, "osa_query", 4, v);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_fail(p, k, r, "query", err);
	} else {
		for (i = 0; i < PQntuples(r) && !rc; i++)
			rc = osa_hits_push(hits, PQgetvalue(r, i, 0),
					   strtod(PQgetvalue(r, i, 1), NULL));
		if (rc)
			osa_error_set(err, rc, "out of memory");
		if (PQntuples(r))
			hits->total = strtoull(PQgetvalue(r, 0, 2), NULL, 10);
	}
	PQclear(r);
	if (!rc && !hits->n && q->offset) {
		/* A page past the end: the total still counts. */
		r = pg_exec(k->c, "osa_total", 2, v);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || !PQntuples(r))
			rc = pg_fail(p, k, r, "query total", err);
		else
			hits->total = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	pg_reader_give(p, k);
	return rc;
}

static int pg_count(void *self, uint64_t *count)
{
	struct pg *p = self;
	struct osa_error err = { 0 };
	struct pg_state st;
	struct pgx_conn *k;

	if (p->cfg->read_only && (k = pg_reader_take(p, &err))) {
		/* Another node writes: read its count. */
		if (!pg_read_state(p, k, &st, &err)) {
			pthread_mutex_lock(&p->pool_mu);
			p->n_cache = st.n;
			pthread_mutex_unlock(&p->pool_mu);
		}
		pg_reader_give(p, k);
	}
	pthread_mutex_lock(&p->pool_mu);
	*count = p->n_cache;
	pthread_mutex_unlock(&p->pool_mu);
	return 0;
}

static int pg_health(void *self, struct osa_error *err)
{
	struct pg *p = self;
	struct pgx_conn *k = pg_reader_take(p, err);
	PGresult *r;
	int rc = 0;

	if (!k)
		return err->code;
	r = PQexec(k->c, "SELECT 1");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = pg_fail(p, k, r, "health check", err);
	PQclear(r);
	pg_reader_give(p, k);
	return rc;
}

static int pg_checkpoint(void *self, uint64_t lsn, struct osa_error *err)
{
	struct pg *p = self;
	char s[32];
	const char *v[1] = { s };
	int rc;

	if (p->cfg->read_only)
		return 0; /* nothing of ours to keep */
	rc = pg_writer(p, err);
	if (rc)
		return rc;
	snprintf(s, sizeof(s), "%llu", (unsigned long long)lsn);
	return pg_state_update(p, &p->writer, "osa_set_lsn", 1, v,
			       "storing the checkpoint LSN", err);
}

static const struct osa_backend pg_backend = {
	.abi = OSA_BACKEND_ABI,
	.size = sizeof(struct osa_backend),
	.name = "postgres",
	.doc = "full-text search in a PostgreSQL server (libpq)",
	.schema = &pg_schema,
	.open = pg_open,
	.ingest_batch = pg_ingest,
	.remove = pg_remove,
	.query = pg_query,
	.count = pg_count,
	.health = pg_health,
	.checkpoint = pg_checkpoint,
	.close = pg_close,
	.ingest_batch_at = pg_ingest_at,
	.remove_at = pg_remove_at,
};
OSA_BACKEND_REGISTER(pg_backend);

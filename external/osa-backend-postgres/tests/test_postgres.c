/* SPDX-License-Identifier: MIT */
/*
 * test_postgres.c - the postgres backend's own rules, against the live
 * server named by $OSA_PG_CONNINFO (tests/pgcluster.sh starts one; exit 77,
 * skipped, without it): config checks, the schema comment, one writer per
 * table, read-only instances, a folder whose table was taken over, the
 * state row's LSN written with each change (ingest_batch_at, remove_at),
 * and an unreachable server.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <osa/backend.h>

static int failures;
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,     \
				#c);                                           \
			failures++;                                            \
		}                                                              \
	} while (0)
#define CHECK_MSG(e, s)                                                        \
	do {                                                                   \
		if (!strstr((e).msg, (s))) {                                   \
			fprintf(stderr, "%s:%d: message lacks \"%s\": %s\n",   \
				__FILE__, __LINE__, (s), (e).msg);             \
			failures++;                                            \
		}                                                              \
	} while (0)

static const struct osa_backend *B;
static const char *conninfo;
static char tmpdir[] = "/tmp/osa-pgtest.XXXXXX";

struct inst {
	void *cfg, *self;
	uint64_t lsn;
};

static int open_ix(struct inst *x, const char *index, const char *dir,
		   const char *extra, struct osa_error *err)
{
	char text[2048], path[512];
	struct osa_backend_args args;
	char *report = NULL;
	int rc;

	memset(x, 0, sizeof(*x));
	snprintf(text, sizeof(text), "conninfo = \"%s\"; %s", conninfo,
		 extra ? extra : "");
	rc = osa_schema_parse(B->schema, text, &x->cfg, &report, err);
	if (rc) {
		fprintf(stderr, "config: %s\n", report ? report : err->msg);
		free(report);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, dir);
	if (mkdir(path, 0700) && errno != EEXIST)
		exit(1);
	args.index = index;
	args.config = x->cfg;
	args.dir = path;
	memset(err, 0, sizeof(*err));
	rc = B->open(&args, &x->self, &x->lsn, err);
	if (rc) {
		osa_schema_free(B->schema, x->cfg);
		x->cfg = NULL;
	}
	return rc;
}

static void close_ix(struct inst *x)
{
	if (x->self)
		B->close(x->self);
	if (x->cfg)
		osa_schema_free(B->schema, x->cfg);
	memset(x, 0, sizeof(*x));
}

static int ingest(struct inst *x, const char *json, struct osa_error *err)
{
	struct osa_record *r;
	int rc;

	if (osa_record_parse(json, strlen(json), NULL, &r, err))
		return err->code;
	rc = B->ingest_batch(x->self, (const struct osa_record *const *)&r, 1,
			     err);
	osa_record_free(r);
	return rc;
}

static size_t search(struct inst *x, const char *text, const char *first)
{
	struct osa_query q = { .text = text, .limit = 10 };
	struct osa_hits h = { 0 };
	struct osa_error err = { 0 };
	size_t n;

	if (B->query(x->self, &q, &h, &err)) {
		fprintf(stderr, "query %s: %s\n", text, err.msg);
		return (size_t)-1;
	}
	n = h.n;
	if (first && (!n || strcmp(h.v[0].srn, first))) {
		fprintf(stderr, "query %s: first hit %s, want %s\n", text,
			n ? h.v[0].srn : "(none)", first);
		failures++;
	}
	CHECK(h.total == n);
	osa_hits_free(&h);
	return n;
}

static void sql(const char *text)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r = PQexec(c, text);

	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "%s: %s\n", text, PQerrorMessage(c));
		failures++;
	}
	PQclear(r);
	PQfinish(c);
}

/* The first column of the first row of `query`, or "" (a failure). */
static void sql_value(const char *query, char *out, size_t n)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r = PQexec(c, query);

	out[0] = '\0';
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		fprintf(stderr, "%s: %s\n", query, PQerrorMessage(c));
		failures++;
	} else {
		snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	PQfinish(c);
}

static int ingest_at(struct inst *x, const char *const *json, size_t n,
		     uint64_t lsn, struct osa_error *err)
{
	struct osa_record *r[4];
	size_t i;
	int rc = 0;

	for (i = 0; i < n && !rc; i++)
		rc = osa_record_parse(json[i], strlen(json[i]), NULL, &r[i],
				      err);
	if (!rc)
		rc = B->ingest_batch_at(x->self,
					(const struct osa_record *const *)r, n,
					lsn, err);
	while (i--)
		osa_record_free(r[i]);
	return rc;
}

/* The state row as a crash would leave it: read straight from the server
 * while the instance is still open, with no checkpoint. */
static void test_lsn_row(void)
{
	static const char *const two[] = {
		"{\"srn\":\"urn:osa:t:rec:l1\",\"title\":\"Fjord sediments\"}",
		"{\"srn\":\"urn:osa:t:rec:l2\",\"title\":\"Fjord ice\"}"
	};
	static const char *const bad[] = {
		"{\"srn\":\"urn:osa:t:rec:l3\",\"title\":\"Fjord water\"}",
		"{\"srn\":\"urn:osa:t:rec:l4\",\"title\":42}"
	};
	const char *gone[] = { "urn:osa:t:rec:l1" };
	const char *row = "SELECT lsn || '|' || n || '|' || (SELECT count(*) "
			  "FROM pgt_lsn) FROM pgt_lsn_state";
	struct osa_error err;
	struct inst w;
	char got[64];

	sql("DROP TABLE IF EXISTS pgt_lsn, pgt_lsn_state");
	CHECK(open_ix(&w, "pgt-lsn", "lsn",
		      "table = \"pgt_lsn\"; fields = "
		      "[\"title\"];",
		      &err) == 0);
	CHECK(ingest_at(&w, two, 2, 3, &err) == 0);
	sql_value(row, got, sizeof(got));
	CHECK(!strcmp(got, "3|2|2"));
	CHECK(B->remove_at(w.self, gone, 1, 4, &err) == 0);
	sql_value(row, got, sizeof(got));
	CHECK(!strcmp(got, "4|1|1"));
	/* A refused batch: neither its good record nor its LSN. */
	CHECK(ingest_at(&w, bad, 2, 5, &err) == OSA_ETYPE);
	CHECK_MSG(err, "field title is not a string");
	sql_value(row, got, sizeof(got));
	CHECK(!strcmp(got, "4|1|1"));
	/* The LSN alone; a plain ingest leaves it. */
	CHECK(ingest_at(&w, NULL, 0, 6, &err) == 0);
	CHECK(ingest(&w, "{\"srn\":\"urn:osa:t:rec:l5\",\"title\":\"x\"}",
		     &err) == 0);
	sql_value(row, got, sizeof(got));
	CHECK(!strcmp(got, "6|2|2"));
	/* The state row deleted by hand: the next change says so. */
	sql("DELETE FROM pgt_lsn_state");
	CHECK(ingest_at(&w, two, 1, 7, &err) == OSA_EDEGRADED);
	CHECK_MSG(err, "state row of table pgt_lsn is gone");
	sql_value("SELECT count(*) FROM pgt_lsn", got, sizeof(got));
	CHECK(!strcmp(got, "2"));
	close_ix(&w);
}

static void test_config(void)
{
	struct osa_error err;
	char *report = NULL;
	void *cfg = NULL;

	CHECK(osa_schema_parse(B->schema,
			       "conninfo = \"host=x password=secret\";", &cfg,
			       &report, &err) == OSA_ECONFIG);
	CHECK(report && strstr(report, "password_file"));
	CHECK(report && !strstr(report, "secret"));
	free(report);
	report = NULL;
	CHECK(osa_schema_parse(B->schema, "conninfo = \"host=x =\";", &cfg,
			       &report, &err) == OSA_ECONFIG);
	CHECK(report && strstr(report, "not a libpq connection string"));
	free(report);
	report = NULL;
	CHECK(osa_schema_parse(B->schema,
			       "table = \"x; DROP TABLE y\"; language = "
			       "\"english'\";",
			       &cfg, &report, &err) == OSA_ECONFIG);
	CHECK(report && strstr(report, "table: \"x; DROP TABLE y\" is not"));
	CHECK(report && strstr(report, "language: \"english'\" is not"));
	free(report);
	report = NULL;
	CHECK(osa_schema_parse(B->schema, "sslmode = \"sometimes\";", &cfg,
			       &report, &err) == OSA_ECONFIG);
	free(report);
	report = NULL;
	CHECK(osa_schema_parse(B->schema,
			       "conninfo = \"host=x sslmode=disable\";", &cfg,
			       &report, &err) == OSA_ECONFIG);
	CHECK(report && strstr(report, "holds sslmode"));
	free(report);
}

static void test_writer_reader(void)
{
	struct inst w, w2, r;
	struct osa_error err;
	uint64_t n = 0;
	const char *gone[] = { "urn:osa:t:rec:b" };

	CHECK(open_ix(&w, "pgt-main", "w", "fields = [\"title\"];", &err) == 0);
	CHECK(w.lsn == 0);
	CHECK(ingest(&w,
		     "{\"srn\":\"urn:osa:t:rec:a\",\"title\":\"Deep sea "
		     "vents\"}",
		     &err) == 0);
	CHECK(ingest(&w,
		     "{\"srn\":\"urn:osa:t:rec:b\",\"title\":\"Sea ice "
		     "decline\"}",
		     &err) == 0);
	CHECK(search(&w, "vents", "urn:osa:t:rec:a") == 1);
	/* websearch syntax: a phrase, an exclusion. */
	CHECK(search(&w, "sea -ice", "urn:osa:t:rec:a") == 1);
	CHECK(search(&w, "\"ice decline\"", "urn:osa:t:rec:b") == 1);
	/* Stemming by the `language`: "declining" finds "decline". */
	CHECK(search(&w, "declining", "urn:osa:t:rec:b") == 1);
	/* A second writer on the same table is refused. */
	CHECK(open_ix(&w2, "pgt-main", "w2", "fields = [\"title\"];", &err) ==
	      OSA_EBUSY);
	CHECK_MSG(err, "written by another osa node");
	/* A read-only instance sees the writer's records and refuses to
	 * write. */
	CHECK(open_ix(&r, "pgt-main", "r",
		      "fields = [\"title\"]; read_only = true;", &err) == 0);
	CHECK(r.lsn == 0);
	CHECK(search(&r, "sea", NULL) == 2);
	CHECK(B->count(r.self, &n) == 0 && n == 2);
	CHECK(ingest(&r, "{\"srn\":\"urn:osa:t:rec:c\",\"title\":\"x\"}",
		     &err) == OSA_ENOTSUP);
	CHECK_MSG(err, "read_only");
	CHECK(B->remove(w.self, gone, 1, &err) == 0);
	CHECK(B->count(r.self, &n) == 0 && n == 1);
	CHECK(B->health(r.self, &err) == 0);
	CHECK(B->checkpoint(w.self, 7, &err) == 0);
	close_ix(&r);
	close_ix(&w);
	/* The same folder opens at its checkpoint. */
	CHECK(open_ix(&w, "pgt-main", "w", "fields = [\"title\"];", &err) == 0);
	CHECK(w.lsn == 7);
	CHECK(B->count(w.self, &n) == 0 && n == 1);
	close_ix(&w);
	/* Another folder takes the table over (empties it)... */
	CHECK(open_ix(&w2, "pgt-main", "w2", "fields = [\"title\"];", &err) ==
	      0);
	CHECK(B->count(w2.self, &n) == 0 && n == 0);
	close_ix(&w2);
	/* ...so the first folder's data is gone: corrupt, to be rebuilt. */
	CHECK(open_ix(&w, "pgt-main", "w", "fields = [\"title\"];", &err) ==
	      OSA_ECORRUPT);
	CHECK_MSG(err, "rebuilds the table from the journal");
}

static void test_schema(void)
{
	struct inst x;
	struct osa_error err;

	sql("DROP TABLE IF EXISTS foreign_t");
	sql("CREATE TABLE foreign_t (id int)");
	CHECK(open_ix(&x, "foreign_t", "f", NULL, &err) == OSA_ECONFIG);
	CHECK_MSG(err, "was not created by osa-backend-postgres");
	sql("DROP TABLE IF EXISTS pgt_old, pgt_old_state");
	CHECK(open_ix(&x, "pgt-x", "o", "table = \"pgt_old\";", &err) == 0);
	close_ix(&x);
	sql("COMMENT ON TABLE pgt_old IS 'osa-backend-postgres schema 0'");
	CHECK(open_ix(&x, "pgt-x", "o", "table = \"pgt_old\";", &err) ==
	      OSA_ECONFIG);
	CHECK_MSG(err, "has the schema comment \"osa-backend-postgres "
		       "schema 0\", but this backend uses schema 1");
	/* read_only on a table nobody created yet. */
	CHECK(open_ix(&x, "pgt-none", "n", "read_only = true;", &err) ==
	      OSA_EDEGRADED);
	CHECK_MSG(err, "does not exist yet");
	/* An unknown text search configuration. */
	CHECK(open_ix(&x, "pgt-lang", "l", "language = \"klingon\";", &err) ==
	      OSA_ECONFIG);
	CHECK_MSG(err, "klingon");
}

static void test_unreachable(void)
{
	const char *saved = conninfo;
	struct inst x;
	struct osa_error err;

	conninfo = "host=/nonexistent/osa port=5432 dbname=osa";
	CHECK(open_ix(&x, "pgt-down", "d", NULL, &err) == OSA_EDEGRADED);
	CHECK_MSG(err, "cannot connect to PostgreSQL");
	CHECK_MSG(err, "/nonexistent/osa");
	conninfo = saved;
}

int main(void)
{
	B = osa_backend_find("postgres");
	CHECK(B != NULL);
	if (!B)
		return 1;
	test_config();
	conninfo = getenv("OSA_PG_CONNINFO");
	if (!conninfo || !*conninfo) {
		printf("OSA_PG_CONNINFO is not set (no PostgreSQL server): "
		       "skipped\n");
		return 77;
	}
	if (!mkdtemp(tmpdir))
		return 1;
	test_writer_reader();
	test_schema();
	test_lsn_row();
	test_unreachable();
	if (!failures) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
	printf("%s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * server.c - `osa serve`: the HTTP server (httpd.c) and an nng REQ/REP
 * socket in front of the router (http.c), signals, reload, and a clean
 * shutdown.
 *
 * The listeners start before the indexes open, so GET /health answers
 * "loading" with progress while a large data directory replays.  SIGTERM /
 * SIGINT stop accepting, let in-flight requests finish, checkpoint and
 * close.  SIGHUP re-reads and validates the config file, any number of
 * times; the logging settings and the API key take effect at once (the key
 * is swapped under the router's key_lock), index changes need a restart
 * (said in the log).  A file that does not validate changes nothing: an
 * error log and a "reload" field in GET /health say so until a reload
 * applies.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "http.h"
#include "httpd.h"
#include "osa_autoconf.h"
#include "server.h"

#define REP_WORKERS 2

struct server {
	struct osai_router router;
	struct osai_httpd *http;
	nng_socket rep;
	int rep_open;
	pthread_t rep_threads[REP_WORKERS];
	int n_rep_threads;
	char **names; /* index names for loading_index, freed at exit */
	size_t n_names;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *rep_worker(void *arg)
{
	struct server *sv = arg;
	nng_ctx ctx;
	nng_aio *aio;

	if (nng_ctx_open(&ctx, sv->rep) || nng_aio_alloc(&aio, NULL, NULL))
		return NULL;
	for (;;) {
		nng_msg *msg;
		char *reply;
		double t0;

		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio))
			break; /* socket closed */
		msg = nng_aio_get_msg(aio);
		t0 = mono();
		reply = osai_nng_handle(&sv->router, nng_msg_body(msg),
					nng_msg_len(msg));
		nng_msg_clear(msg);
		if (!reply || nng_msg_append(msg, reply, strlen(reply))) {
			nng_msg_free(msg);
			free(reply);
			continue;
		}
		osa_log(OSA_LOG_INFO,
			"nng op_bytes=%zu reply_bytes=%zu "
			"dur_ms=%.2f",
			nng_msg_len(msg), strlen(reply), (mono() - t0) * 1000);
		free(reply);
		nng_aio_set_msg(aio, msg);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio)) {
			nng_msg_free(msg);
			if (nng_aio_result(aio) == NNG_ECLOSED)
				break;
		}
	}
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return NULL;
}

/*
 * The HTTP connection cap: server.max_connections, or from the open-file
 * limit, keeping 64 descriptors (and 1/8 of the limit) for the journal,
 * the indexes, the nng socket and their temporary files; at most 4096.
 */
static int connection_cap(const struct osai_server_config *sc)
{
	struct rlimit rl;
	long long nofile = 1024, room;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		nofile = (long long)rl.rlim_cur;
	else if (!getrlimit(RLIMIT_NOFILE, &rl))
		nofile = 1 << 20;
	room = nofile - (nofile / 8 > 64 ? nofile / 8 : 64);
	if (room < 8)
		room = 8;
	if (!sc->max_connections)
		return room > 4096 ? 4096 : (int)room;
	if (sc->max_connections > room)
		osa_log(OSA_LOG_WARN,
			"server.max_connections = %d but the open-file limit "
			"is %lld: past about %lld connections accepts will "
			"fail; raise the limit (ulimit -n) or lower "
			"max_connections",
			sc->max_connections, nofile, room);
	return sc->max_connections;
}

static int start_http(struct server *sv, const struct osai_config *cfg,
		      struct osa_error *err)
{
	const struct osai_server_config *sc = &cfg->core.server;

	if (!sc->listen || !*sc->listen)
		return 0;
	return osai_httpd_start(&sv->router, sc, connection_cap(sc), &sv->http,
				err);
}

static int start_rep(struct server *sv, const struct osai_config *cfg,
		     struct osa_error *err)
{
	const char *url = cfg->core.server.nng;
	int rv, i;

	if (!url || !*url)
		return 0;
	rv = nng_rep0_open(&sv->rep);
	if (!rv) {
		sv->rep_open = 1;
		rv = nng_listen(sv->rep, url, NULL, 0);
	}
	if (rv)
		return osa_error_set(err, OSA_EIO, "server.nng \"%s\": %s", url,
				     nng_strerror(rv));
	for (i = 0; i < REP_WORKERS; i++)
		if (!pthread_create(&sv->rep_threads[i], NULL, rep_worker, sv))
			sv->n_rep_threads++;
	osa_log(OSA_LOG_INFO, "listening nng=%s", url);
	return 0;
}

static void loading_progress(void *ctx, const char *index, uint64_t done,
			     uint64_t total)
{
	struct server *sv = ctx;
	size_t i;

	/* Our own copy: the service's config may go before the listeners. */
	for (i = 0; i < sv->n_names; i++)
		if (!strcmp(sv->names[i], index))
			atomic_store(&sv->router.loading_index, sv->names[i]);
	atomic_store(&sv->router.loading_done, (int)done);
	atomic_store(&sv->router.loading_total, (int)total);
}

/* Say whether writes are open: a warning when no key is set. */
static void log_write_auth(const struct osai_server_config *sc)
{
	if (!sc->api_key || !*sc->api_key)
		osa_log(OSA_LOG_WARN,
			"writes are unauthenticated: server.api_key is "
			"empty, so anyone who can reach %s%s%s can write; "
			"set server.api_key",
			*sc->listen ? sc->listen : "",
			*sc->listen && sc->nng && *sc->nng ? " or " : "",
			sc->nng && *sc->nng ? sc->nng : "");
}

static void reload(struct server *sv, const char *path)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg;
	char why[400];
	size_t i;

	if (!path) {
		osa_log(OSA_LOG_INFO, "SIGHUP: running on the built-in "
				      "configuration; nothing to re-read");
		return;
	}
	if (osai_config_load_file(path, &cfg, &d)) {
		for (i = 0; i < d.n; i++)
			osa_log(OSA_LOG_ERROR, "%s:%d: %s: %s",
				d.v[i].file ? d.v[i].file : path, d.v[i].line,
				d.v[i].path ? d.v[i].path : "", d.v[i].msg);
		osa_log(OSA_LOG_ERROR,
			"SIGHUP: %s has %zu error(s); keeping "
			"the old configuration",
			path, d.n);
		snprintf(why, sizeof(why),
			 "%s has %zu error(s) (the first: %s%s%s); the "
			 "previous configuration and api_key stay in force",
			 path, d.n, d.n && d.v[0].path ? d.v[0].path : "",
			 d.n && d.v[0].path ? ": " : "", d.n ? d.v[0].msg : "");
		osai_router_reload_status(&sv->router, why);
		osai_diags_free(&d);
		return;
	}
	osai_diags_free(&d);
	if (osai_router_set_key(&sv->router, cfg->core.server.api_key)) {
		osa_log(OSA_LOG_ERROR, "SIGHUP: out of memory; keeping the "
				       "old configuration");
		osai_router_reload_status(&sv->router,
					  "out of memory while applying the "
					  "new api_key; the previous one "
					  "stays in force");
		osai_config_free(cfg);
		return;
	}
	osai_log_setup(cfg->core.logging.level, cfg->core.logging.format);
	osai_router_reload_status(&sv->router, NULL);
	osa_log(OSA_LOG_INFO,
		"SIGHUP: reloaded %s (logging and api_key "
		"applied; index, listen and data_dir changes "
		"need a restart)",
		path);
	log_write_auth(&cfg->core.server);
	osai_config_free(cfg);
}

int osai_serve(struct osai_config *cfg, const char *config_path,
	       unsigned open_flags)
{
	struct server sv;
	struct osa_open_options opt = { loading_progress, &sv, open_flags };
	struct osa_db *svc = NULL;
	struct osa_error err = { 0 };
	sigset_t set;
	int rc, i, sig;

	memset(&sv, 0, sizeof(sv));
	/* Already blocked by `osa` before any library ran (main.c); blocked
	 * here again for other callers, before the first thread of ours. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	{
		/* Many concurrent connections need many descriptors. */
		struct rlimit rl;

		if (!getrlimit(RLIMIT_NOFILE, &rl) &&
		    rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	pthread_mutex_init(&sv.router.key_lock, NULL);
	if (osai_router_set_key(&sv.router, cfg->core.server.api_key)) {
		fprintf(stderr, "osa: out of memory\n");
		pthread_mutex_destroy(&sv.router.key_lock);
		osai_config_free(cfg);
		return OSA_ENOMEM;
	}
	log_write_auth(&cfg->core.server);
	sv.names =
		calloc(cfg->n_indexes ? cfg->n_indexes : 1, sizeof(*sv.names));
	for (i = 0; sv.names && i < (int)cfg->n_indexes &&
		    (sv.names[i] = strdup(cfg->indexes[i].name));
	     i++)
		sv.n_names++;
	sv.router.max_body = (size_t)cfg->core.server.max_body;
	sv.router.max_query = (size_t)cfg->core.server.max_query;
	sv.router.osa_api_off = !cfg->core.server.osa_api;
	rc = start_http(&sv, cfg, &err);
	if (!rc)
		rc = start_rep(&sv, cfg, &err);
	if (!rc) {
		/* The service owns cfg from here; it stays valid until the
		 * service closes, after the listeners stopped. */
		rc = osai_db_open(cfg, &opt, &svc, &err);
		cfg = NULL;
	}
	if (rc) {
		osa_log(OSA_LOG_ERROR, "cannot serve: %s", err.msg);
		fprintf(stderr, "osa: %s\n", err.msg);
		goto stop;
	}
	atomic_store(&sv.router.svc, svc);
	osa_log(OSA_LOG_INFO, "ready indexes=%zu", osa_index_count(svc));
	osai_notify("READY=1\nSTATUS=serving");
	for (;;) {
		struct timespec one = { 1, 0 };

		sig = sigtimedwait(&set, NULL, &one);
		if (sig == SIGINT || sig == SIGTERM) {
			osa_log(OSA_LOG_INFO, "signal=%s stopping",
				sig == SIGINT ? "INT" : "TERM");
			break;
		}
		if (sig == SIGHUP) {
			osai_notify("RELOADING=1");
			reload(&sv, config_path);
			osai_notify("READY=1\nSTATUS=serving");
		}
	}
stop:
	osai_notify("STOPPING=1");
	atomic_store(&sv.router.stopping, 1);
	osai_httpd_stop(sv.http);
	if (sv.rep_open)
		nng_close(sv.rep);
	for (i = 0; i < sv.n_rep_threads; i++)
		pthread_join(sv.rep_threads[i], NULL);
	atomic_store(&sv.router.svc, NULL);
	osa_close(svc); /* checkpoints every index */
	osai_config_free(cfg);
	osai_router_fini(&sv.router);
	pthread_mutex_destroy(&sv.router.key_lock);
	for (i = 0; i < (int)sv.n_names; i++)
		free(sv.names[i]);
	free(sv.names);
	nng_fini();
	if (!rc)
		osa_log(OSA_LOG_INFO, "stopped cleanly");
	return rc;
}

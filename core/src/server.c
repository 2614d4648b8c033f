/* SPDX-License-Identifier: MIT */
/*
 * server.c - `osa serve`: nng's HTTP server and an nng REQ/REP socket in
 * front of the router (http.c), signals, reload, and a clean shutdown.
 *
 * The listeners start before the indexes open, so GET /health answers
 * "loading" with progress while a large data directory replays.  SIGTERM /
 * SIGINT stop accepting, let in-flight requests finish, checkpoint and
 * close.  SIGHUP re-reads and validates the config file and keeps the old
 * one on any error; the logging settings and the API key take effect at
 * once, index changes need a restart (said in the log).
 */
#include <arpa/inet.h>
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
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>

#include "http.h"
#include "osa_autoconf.h"
#include "server.h"

#define REP_WORKERS 2

struct server {
	struct osai_router router;
	nng_http_server *http;
	nng_tls_config *tls;
	nng_socket rep;
	int rep_open;
	pthread_t rep_threads[REP_WORKERS];
	int n_rep_threads;
	struct osai_config *reloaded[16]; /* kept alive until exit */
	int n_reloaded;			  /* main thread only */
	char **names; /* index names for loading_index, freed at exit */
	size_t n_names;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A request whose body is being read. */
struct http_pending {
	nng_aio *parent; /* the handler's aio: finished with the response */
	nng_aio *read;	 /* reads the body */
	nng_http_req *req;
	struct osai_router *r;
	char *body;
	size_t len;
	double t0;
};

/* Route the request and finish the handler's aio with the response. */
static void http_respond(nng_aio *aio, nng_http_req *req, struct osai_router *r,
			 const char *body, size_t blen, size_t claimed,
			 double t0)
{
	struct osai_http_req rq = { 0 };
	struct osai_http_res rs = { 0 };
	nng_http_res *res;
	char path[256];
	const char *q;
	int rv;

	rq.method = nng_http_req_get_method(req);
	rq.uri = nng_http_req_get_uri(req);
	rq.auth = nng_http_req_get_header(req, "Authorization");
	rq.transfer_enc = nng_http_req_get_header(req, "Transfer-Encoding");
	rq.content_len = nng_http_req_get_header(req, "Content-Length");
	rq.body = body ? body : "";
	rq.body_len = body ? blen : claimed;
	osai_http_handle(r, &rq, &rs);
	rv = nng_http_res_alloc(&res);
	if (rv) {
		free(rs.body);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_http_res_set_status(res, (uint16_t)rs.status);
	nng_http_res_set_header(res, "Content-Type",
				"application/json; charset=utf-8");
	if (rs.allow)
		nng_http_res_set_header(res, "Allow", rs.allow);
	/* A body we did not read must not be taken for the next request. */
	if (!body && claimed)
		nng_http_res_set_header(res, "Connection", "close");
	if (rs.body)
		nng_http_res_copy_data(res, rs.body, strlen(rs.body));
	free(rs.body);
	q = strchr(rq.uri, '?');
	snprintf(path, sizeof(path), "%.*s",
		 (int)(q ? (size_t)(q - rq.uri) : strlen(rq.uri)), rq.uri);
	osa_log(OSA_LOG_INFO, "method=%s path=%s status=%d dur_ms=%.2f",
		rq.method, path, rs.status, (mono() - t0) * 1000);
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void http_body_read(void *arg)
{
	struct http_pending *p = arg;
	int rv = nng_aio_result(p->read);

	if (rv)
		nng_aio_finish(p->parent, rv); /* client went away: close */
	else
		http_respond(p->parent, p->req, p->r, p->body, p->len, p->len,
			     p->t0);
	nng_aio_reap(p->read);
	free(p->body);
	free(p);
}

/*
 * The handler.  We read bodies ourselves rather than let nng collect them:
 * nng answers an over-limit body with its own HTML 400, and we owe a JSON
 * 413; a chunked body gets 411 from the router.
 */
static void http_cb(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	nng_http_conn *conn = nng_aio_get_input(aio, 2);
	struct osai_router *r = nng_http_handler_get_data(h);
	const char *cl = nng_http_req_get_header(req, "Content-Length");
	const char *te = nng_http_req_get_header(req, "Transfer-Encoding");
	double t0 = mono();
	struct http_pending *p;
	unsigned long long n = 0;
	nng_iov iov;
	char *end;

	if (cl) {
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno || *end || cl[0] == '-' || !*cl)
			n = ULLONG_MAX;
	}
	if (!n || (te && strcasestr(te, "chunked")) || n > r->max_body) {
		http_respond(aio, req, r, NULL, 0, n > SIZE_MAX ? SIZE_MAX : n,
			     t0);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (p)
		p->body = malloc(n + 1);
	if (!p || !p->body || nng_aio_alloc(&p->read, http_body_read, p)) {
		if (p)
			free(p->body);
		free(p);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	p->parent = aio;
	p->req = req;
	p->r = r;
	p->len = n;
	p->t0 = t0;
	p->body[n] = '\0';
	iov.iov_buf = p->body;
	iov.iov_len = n;
	nng_aio_set_iov(p->read, 1, &iov);
	/* A client that stalls mid-body is cut off. */
	nng_aio_set_timeout(p->read, 30000);
	nng_http_conn_read_all(conn, p->read);
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

#ifdef CONFIG_OSA_TLS
static char *read_file(const char *path, struct osa_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f) {
		osa_error_set(err, OSA_EIO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && n < (1 << 20) &&
	    !fseek(f, 0, SEEK_SET) && (buf = calloc(1, (size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (!buf)
		osa_error_set(err, OSA_EIO, "%s: cannot read", path);
	fclose(f);
	return buf;
}
#endif

static int start_http(struct server *sv, const struct osai_config *cfg,
		      struct osa_error *err)
{
	const struct osai_server_config *sc = &cfg->core.server;
	nng_http_handler *h;
	nng_sockaddr sa;
	nng_url *url;
	int rv;

	if (!sc->listen || !*sc->listen)
		return 0;
	rv = nng_url_parse(&url, sc->listen);
	if (rv)
		return osa_error_set(err, OSA_ECONFIG,
				     "server.listen \"%s\": %s", sc->listen,
				     nng_strerror(rv));
	rv = nng_http_server_hold(&sv->http, url);
	nng_url_free(url);
	if (rv)
		return osa_error_set(err, OSA_EIO, "server.listen \"%s\": %s",
				     sc->listen, nng_strerror(rv));
	if (!strncmp(sc->listen, "https://", 8)) {
#ifdef CONFIG_OSA_TLS
		char *cert = read_file(sc->tls.cert, err), *key;

		if (!cert)
			return err->code;
		key = read_file(sc->tls.key, err);
		if (!key) {
			free(cert);
			return err->code;
		}
		rv = nng_tls_config_alloc(&sv->tls, NNG_TLS_MODE_SERVER);
		if (!rv)
			rv = nng_tls_config_own_cert(sv->tls, cert, key, NULL);
		if (!rv)
			rv = nng_http_server_set_tls(sv->http, sv->tls);
		free(cert);
		free(key);
		if (rv)
			return osa_error_set(
				err, OSA_ECONFIG, "server.tls (%s, %s): %s",
				sc->tls.cert, sc->tls.key, nng_strerror(rv));
#else
		return osa_error_set(err, OSA_ECONFIG,
				     "server.listen is https:// but this osa "
				     "was built without TLS: enable "
				     "CONFIG_OSA_TLS (make menuconfig)");
#endif
	}
	rv = nng_http_handler_alloc(&h, "/", http_cb);
	if (!rv)
		rv = nng_http_handler_set_method(h, NULL);
	if (!rv)
		rv = nng_http_handler_set_tree(h);
	/* nng collects up to 1 MiB itself by default: we read bodies. */
	if (!rv)
		rv = nng_http_handler_collect_body(h, false, 0);
	if (!rv)
		rv = nng_http_handler_set_data(h, &sv->router, NULL);
	if (!rv)
		rv = nng_http_server_add_handler(sv->http, h);
	if (!rv)
		rv = nng_http_server_start(sv->http);
	if (rv)
		return osa_error_set(err, OSA_EIO, "server.listen \"%s\": %s",
				     sc->listen, nng_strerror(rv));
	if (!nng_http_server_get_addr(sv->http, &sa) &&
	    sa.s_family == NNG_AF_INET) {
		unsigned char *ip = (unsigned char *)&sa.s_in.sa_addr;

		osa_log(OSA_LOG_INFO, "listening url=%s://%u.%u.%u.%u:%u",
			sv->tls ? "https" : "http", ip[0], ip[1], ip[2], ip[3],
			(unsigned)ntohs(sa.s_in.sa_port));
	} else {
		osa_log(OSA_LOG_INFO, "listening url=%s", sc->listen);
	}
	return 0;
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

static void reload(struct server *sv, const char *path)
{
	struct osai_diags d = { 0 };
	struct osai_config *cfg;
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
		osai_diags_free(&d);
		return;
	}
	osai_diags_free(&d);
	if (sv->n_reloaded == 16) {
		osa_log(OSA_LOG_WARN, "SIGHUP: too many reloads; restart to "
				      "apply more");
		osai_config_free(cfg);
		return;
	}
	sv->reloaded[sv->n_reloaded++] = cfg;
	osai_log_setup(cfg->core.logging.level, cfg->core.logging.format);
	atomic_store(&sv->router.api_key, cfg->core.server.api_key);
	osa_log(OSA_LOG_INFO,
		"SIGHUP: reloaded %s (logging and api_key "
		"applied; index, listen and data_dir changes "
		"need a restart)",
		path);
}

int osai_serve(struct osai_config *cfg, const char *config_path)
{
	struct server sv;
	struct osa_open_options opt = { loading_progress, &sv };
	struct osai_service *svc = NULL;
	struct osa_error err = { 0 };
	sigset_t set;
	int rc, i, sig;

	memset(&sv, 0, sizeof(sv));
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
	atomic_store(&sv.router.api_key, cfg->core.server.api_key);
	sv.names =
		calloc(cfg->n_indexes ? cfg->n_indexes : 1, sizeof(*sv.names));
	for (i = 0; sv.names && i < (int)cfg->n_indexes &&
		    (sv.names[i] = strdup(cfg->indexes[i].name));
	     i++)
		sv.n_names++;
	sv.router.max_body = (size_t)cfg->core.server.max_body;
	sv.router.max_query = (size_t)cfg->core.server.max_query;
	rc = start_http(&sv, cfg, &err);
	if (!rc)
		rc = start_rep(&sv, cfg, &err);
	if (!rc) {
		/* The service owns cfg from here; it stays valid until the
		 * service closes, after the listeners stopped. */
		rc = osai_service_open(cfg, &opt, &svc, &err);
		cfg = NULL;
	}
	if (rc) {
		osa_log(OSA_LOG_ERROR, "cannot serve: %s", err.msg);
		fprintf(stderr, "osa: %s\n", err.msg);
		goto stop;
	}
	atomic_store(&sv.router.svc, svc);
	osa_log(OSA_LOG_INFO, "ready indexes=%zu", svc->n);
	for (;;) {
		struct timespec one = { 1, 0 };

		sig = sigtimedwait(&set, NULL, &one);
		if (sig == SIGINT || sig == SIGTERM) {
			osa_log(OSA_LOG_INFO, "signal=%s stopping",
				sig == SIGINT ? "INT" : "TERM");
			break;
		}
		if (sig == SIGHUP)
			reload(&sv, config_path);
	}
stop:
	atomic_store(&sv.router.stopping, 1);
	if (sv.http) {
		nng_http_server_stop(sv.http);
		nng_http_server_release(sv.http);
	}
	if (sv.rep_open)
		nng_close(sv.rep);
	for (i = 0; i < sv.n_rep_threads; i++)
		pthread_join(sv.rep_threads[i], NULL);
	if (sv.tls)
		nng_tls_config_free(sv.tls);
	atomic_store(&sv.router.svc, NULL);
	osai_service_close(svc); /* checkpoints every index */
	osai_config_free(cfg);
	for (i = 0; i < sv.n_reloaded; i++)
		osai_config_free(sv.reloaded[i]);
	for (i = 0; i < (int)sv.n_names; i++)
		free(sv.names[i]);
	free(sv.names);
	nng_fini();
	if (!rc)
		osa_log(OSA_LOG_INFO, "stopped cleanly");
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * http.h - the request router of `osa serve`, independent of any socket so
 * it can be tested and fuzzed in process.  httpd.c feeds it HTTP requests,
 * server.c nng REQ/REP messages.
 */
#ifndef OSAI_HTTP_H
#define OSAI_HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "osai_engine.h"

/* What the router needs of the running server.  A zeroed struct is a
 * router without a key (PTHREAD_MUTEX_INITIALIZER is all zeros in glibc). */
struct osai_router {
	struct osa_db *_Atomic svc; /* NULL while loading */
	pthread_mutex_t key_lock;   /* guards api_key, reload_error */
	char *api_key;		/* malloc'd; NULL or "": writes need no key */
	char reload_error[512]; /* why the last SIGHUP did not apply, or "" */
	unsigned reloads;	/* SIGHUPs applied (guarded by key_lock) */
	size_t max_body;	/* bytes */
	size_t max_query;	/* bytes of q */
	atomic_int loading_done, loading_total; /* progress while loading */
	/* The index loading now, or NULL; its text stays valid until the
	 * server stops. */
	const char *_Atomic loading_index;
	atomic_int stopping; /* shutting down: 503 for new work */
	int osa_api_off;     /* no /api/v1 (server.osa_api = false) */
};

struct osai_http_req {
	const char *method;
	const char *uri;	  /* raw, with query string */
	const char *auth;	  /* Authorization header, or NULL */
	const char *transfer_enc; /* Transfer-Encoding header, or NULL */
	const char *content_len;  /* Content-Length header, or NULL */
	const char *body;
	size_t body_len;
	/* A buffer of the calling thread, kept across its requests, that a
	 * reply may be built in; NULL: replies are malloc'd. */
	struct osai_buf *scratch;
};

struct osai_http_res {
	int status;
	char *body;	   /* malloc'd JSON text, or scratch->p (borrowed) */
	const char *allow; /* Allow header for 405, or NULL */
	const char *content_type; /* NULL: application/json */
	struct osai_buf *scratch; /* the request's scratch, or NULL */
	int borrowed; /* body is scratch->p: the caller must not free it */
};

/* Replace the API key (copied; NULL or "" for none): the next request
 * checks against it.  0 or OSA_ENOMEM (the old key stays). */
int osai_router_set_key(struct osai_router *r, const char *key);

/* Record that a reload applied (msg NULL) or could not (msg says why);
 * GET /health shows it under "reload". */
void osai_router_reload_status(struct osai_router *r, const char *msg);

/* Free the key. */
void osai_router_fini(struct osai_router *r);

/* Route one request.  Never fails: every error is a JSON reply. */
void osai_http_handle(struct osai_router *r, const struct osai_http_req *rq,
		      struct osai_http_res *rs);

/*
 * One nng REQ/REP message: a JSON object {"op": ..., ...} with the same
 * operations and bodies as HTTP ("search", "ingest", "get", "delete",
 * "stats", "health", "backends", "indexes"); writes carry "api_key" when one
 * is configured.  Requests are built typed, never through a path or
 * query text.  Returns malloc'd JSON: the HTTP body plus "http_status"
 * (the HTTP status) and "status" (the same, unless the body has its own,
 * as "health" does).
 */
char *osai_nng_handle(struct osai_router *r, const char *msg, size_t len);

/*
 * Decode %XX escapes (and '+' as space when `plus`) of src[0..n) into a
 * malloc'd NUL-terminated string.  NULL for a bad escape, a NUL byte or
 * invalid UTF-8.
 */
char *osai_url_decode(const char *src, size_t n, int plus);

/* The routes, for the test that checks the OpenAPI spec lists them all. */
extern const char *const osai_http_routes[];

#endif

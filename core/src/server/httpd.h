/* SPDX-License-Identifier: MIT */
/*
 * httpd.h - the HTTP/1.1 server of `osa serve` (see httpd.c): connections,
 * timeouts, a connection cap and TLS, in front of the router (http.h).
 */
#ifndef OSAI_HTTPD_H
#define OSAI_HTTPD_H

#include "http.h"
#include "osai.h"

/* Limits of a request head, documented in docs/http-api.md. */
#define OSAI_HTTPD_MAX_LINE 8192  /* request line, else 414 */
#define OSAI_HTTPD_MAX_HEAD 16384 /* request line and headers, else 431 */

struct osai_httpd;

/*
 * Listen on sc->listen (http:// or https://, with sc->tls) and serve the
 * router until osai_httpd_stop.  `max_connections` is the resolved cap (not
 * 0).  The router must outlive the server.  0 or an OSA_E* code with `err`.
 */
int osai_httpd_start(struct osai_router *r, const struct osai_server_config *sc,
		     int max_connections, struct osai_httpd **out,
		     struct osa_error *err);

/* Stop accepting, close connections waiting for a request, wait for the
 * requests being answered, free everything.  NULL is a no-op. */
void osai_httpd_stop(struct osai_httpd *h);

/*
 * Load and check a certificate chain and its private key (PEM files) the
 * way the server will: parse both and check that the key belongs to the
 * certificate and that the certificate has not expired.  0 or OSA_ECONFIG
 * naming the file.  Without CONFIG_OSA_TLS: OSA_ECONFIG.
 */
int osai_tls_check(const char *cert, const char *key, struct osa_error *err);

#endif

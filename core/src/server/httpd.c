/* SPDX-License-Identifier: MIT */
/*
 * httpd.c - the HTTP/1.1 server of `osa serve`: an accept loop on an nng
 * stream listener (tcp:// or tls+tcp://, so TLS stays nng's mbedtls), one
 * thread per connection, and a strict parser in front of the router.
 *
 * Why not nng's HTTP server: in 1.5.2 its own parser answers malformed
 * requests with HTML pages or a bare close before any handler runs, its
 * reason phrases are wrong for 414 and 422, it has no header or idle timeout
 * and no connection limit, and it drops pipelined requests past its read
 * buffer.  Here every reply is JSON, and:
 *
 * - Head: the request line is at most OSAI_HTTPD_MAX_LINE bytes (else 414),
 *   the head at most OSAI_HTTPD_MAX_HEAD (else 431); CRLF line ends only;
 *   HTTP/1.1 needs exactly one Host; HTTP/2 and others get 505.  Bytes that
 *   cannot start a request line get 400 at once, not after a timeout.
 * - Body: Content-Length only.  Transfer-Encoding (411, or 400 with a
 *   Content-Length too), an over-limit length (413) or any error leaves the
 *   body unread, so the reply says "Connection: close" and the connection is
 *   closed: unread bytes are never parsed as the next request.
 * - Time: a head must arrive within timeouts.header of its first byte (of
 *   the accept for the first request), a body within timeouts.body (408
 *   either way), a kept-alive connection waits timeouts.idle for its next
 *   request.  Replies are sent within timeouts.body.
 * - Pipelining: requests are answered one after the other, in order; the
 *   head buffer only holds what is read ahead, so any number works.
 * - Cap: beyond `max_connections` a connection is answered 503 with
 *   Retry-After by one of a few short-lived threads, then closed; while
 *   all of those are busy, new connections wait in the listen backlog.
 *
 * Locking: `lock` guards the connection list, the counters and each
 * connection's `busy`.  `stopping` is atomic.  A connection thread owns its
 * stream, aio and buffer; the stopper only calls nng_stream_close on streams
 * of connections still in the list and not busy.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "httpd.h"
#include "jtext.h"
#include "metrics.h"
#include "osa_autoconf.h"

#ifdef CONFIG_OSA_TLS
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#endif

/* Threads answering 503 beyond the cap at once; more are just closed. */
#define HTTPD_MAX_REJECTERS 8

struct httpd_conn {
	struct osai_httpd *h;
	nng_stream *s;
	nng_aio *aio;
	struct httpd_conn *prev, *next; /* guarded by h->lock */
	int busy;			/* guarded by h->lock */
	int reject;			/* answer 503 and close */
	size_t off, len;		/* unparsed bytes: buf[off..len) */
	/* Kept across the connection's requests: replies are built in
	 * scratch (by the router) and sent from out (head and body). */
	struct osai_buf scratch, out;
	char buf[OSAI_HTTPD_MAX_HEAD];
};

/* A connection keeps at most this much buffer memory between requests. */
#define HTTPD_KEEP_BUF (1u << 20)

struct osai_httpd {
	struct osai_router *r;
	nng_stream_listener *l;
	nng_tls_config *tls;
	nng_aio *accept_aio;
	pthread_t acceptor;
	int acceptor_started;
	nng_duration header_ms, idle_ms, body_ms;
	int max_conns;
	int tls13; /* the TLS engine offers 1.3 (mbedtls 2.28 does not) */
	atomic_int stopping;
	pthread_mutex_t lock;
	pthread_cond_t drained;	       /* n_conns + n_reject reached 0 */
	pthread_cond_t slot;	       /* a connection or rejecter ended */
	struct httpd_conn *conns;      /* guarded by lock */
	int n_conns, n_reject;	       /* guarded by lock */
	int at_cap;		       /* guarded by lock: logged once */
	unsigned long long n_rejected; /* guarded by lock */
};

/* A parsed request head; the strings point into the connection's buffer. */
struct httpd_req {
	char *method, *target;
	int minor; /* HTTP/1.minor */
	const char *auth, *te, *cl, *expect;
	int hosts, cls, close;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *httpd_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 422:
		return "Unprocessable Content";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	case 507:
		return "Insufficient Storage";
	default:
		return status < 300   ? "OK"
		       : status < 500 ? "Bad Request"
				      : "Server Error";
	}
}

/* ---- I/O ---------------------------------------------------------------- */

/* One receive or send of up to `len` bytes before `deadline`. */
static int httpd_io(struct httpd_conn *c, int send, void *buf, size_t len,
		    nng_time deadline, size_t *done)
{
	nng_iov iov = { .iov_buf = buf, .iov_len = len };
	nng_time now = nng_clock();
	int rv;

	*done = 0;
	if (now >= deadline)
		return NNG_ETIMEDOUT;
	rv = nng_aio_set_iov(c->aio, 1, &iov);
	if (rv)
		return rv;
	nng_aio_set_timeout(c->aio, (nng_duration)(deadline - now));
	if (send)
		nng_stream_send(c->s, c->aio);
	else
		nng_stream_recv(c->s, c->aio);
	nng_aio_wait(c->aio);
	rv = nng_aio_result(c->aio);
	*done = nng_aio_count(c->aio);
	if (!rv && !*done)
		rv = NNG_ECONNSHUT;
	return rv;
}

static int httpd_send_all(struct httpd_conn *c, const char *p, size_t n,
			  nng_time deadline)
{
	size_t done;
	int rv;

	while (n) {
		rv = httpd_io(c, 1, (void *)p, n, deadline, &done);
		if (rv)
			return rv;
		p += done;
		n -= done;
	}
	return 0;
}

/* Send a reply; `extra` is more header lines ("Name: value\r\n").  Head
 * and body go out in one send: two would meet Nagle and delayed ACKs. */
static int httpd_reply(struct httpd_conn *c, int status, const char *body,
		       const char *allow, const char *extra, int close,
		       int head_only, const char *ctype)
{
	size_t blen = body ? strlen(body) : 0;
	char head[512];
	int n, rv;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "%s%s%s%s%s\r\n",
		     status, httpd_reason(status),
		     ctype ? ctype : "application/json; charset=utf-8", blen,
		     allow ? "Allow: " : "", allow ? allow : "",
		     allow ? "\r\n" : "", extra ? extra : "",
		     close ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return NNG_EINVAL;
	if (head_only)
		blen = 0;
	osai_buf_reset(&c->out);
	osai_buf_put(&c->out, head, (size_t)n);
	if (blen)
		osai_buf_put(&c->out, body, blen);
	if (c->out.oom) {
		osai_buf_free(&c->out);
		return NNG_ENOMEM;
	}
	rv = httpd_send_all(c, c->out.p, c->out.n, nng_clock() + c->h->body_ms);
	if (c->out.cap > HTTPD_KEEP_BUF)
		osai_buf_free(&c->out);
	return rv;
}

/* A JSON error body, as the router writes them. */
static char *httpd_error_json(const char *code, const char *msg)
{
	json_t *doc = json_pack("{s:{s:s, s:s}}", "error", "code", code,
				"message", msg);
	char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)
		      : NULL;

	json_decref(doc);
	return s;
}

/* Answer a request the server itself refuses, and close. */
static void httpd_fail(struct httpd_conn *c, int status, const char *code,
		       const char *msg)
{
	char *body = httpd_error_json(code, msg);

	osa_log(OSA_LOG_INFO, "http status=%d code=%s", status, code);
	httpd_reply(c, status,
		    body ? body
			 : "{\"error\":{\"code\":\"internal\",\"message\":"
			   "\"out of memory\"}}",
		    NULL, NULL, 1, 0, NULL);
	osai_metrics_observe(OSAI_ROUTE_OTHER, status, 0);
	free(body);
}

/* ---- parsing ------------------------------------------------------------- */

static int is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/*
 * Can buf[0..n) be the start of a request line?  1 yes (so far), 0 no.
 * Catches TLS handshakes, binary garbage and bare LFs without waiting for
 * a full line.
 */
static int httpd_plausible(const char *buf, size_t n)
{
	static const char ver[] = "HTTP/";
	size_t i = 0, k;

	while (i < n && buf[i] >= 'A' && buf[i] <= 'Z' && i < 32)
		i++;
	if (i == n)
		return 1;
	if (!i || buf[i] != ' ')
		return 0;
	for (i++; i < n && buf[i] != ' '; i++)
		if ((unsigned char)buf[i] < 0x21 ||
		    (unsigned char)buf[i] > 0x7e)
			return 0;
	if (i == n)
		return 1;
	for (i++, k = 0; i < n && k < 5; i++, k++)
		if (buf[i] != ver[k])
			return 0;
	for (; i < n && buf[i] != '\r'; i++)
		if (!strchr("0123456789.", buf[i]))
			return 0;
	return i + 1 >= n || buf[i + 1] == '\n';
}

/* Trim optional whitespace around a header value in place. */
static char *httpd_trim(char *v, char *end)
{
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	return v;
}

static int has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok);

	while (v && *v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (!strncasecmp(v, tok, n) &&
		    (!v[n] || v[n] == ',' || v[n] == ' ' || v[n] == '\t'))
			return 1;
		v = strchr(v, ',');
	}
	return 0;
}

/*
 * Parse the head buf[0..n) (it ends with CRLF CRLF) in place.  0, or an
 * HTTP status with *msg set.
 */
static int httpd_parse(char *buf, size_t n, struct httpd_req *rq,
		       const char **msg)
{
	char *p = buf, *end = buf + n - 2, *eol, *sp1, *sp2;
	int nhdr = 0;

	memset(rq, 0, sizeof(*rq));
	eol = memchr(p, '\r', (size_t)(end - p));
	if (!eol || eol[1] != '\n') {
		*msg = "malformed request line (lines end with CRLF)";
		return 400;
	}
	*eol = '\0';
	sp1 = strchr(p, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == p ||
	    sp2 == sp1 + 1) {
		*msg = "malformed request line: expected METHOD SP "
		       "/path SP HTTP/1.1";
		return 400;
	}
	*sp1 = *sp2 = '\0';
	rq->method = p;
	rq->target = sp1 + 1;
	if (!strcmp(sp2 + 1, "HTTP/1.1")) {
		rq->minor = 1;
	} else if (!strcmp(sp2 + 1, "HTTP/1.0")) {
		rq->minor = 0;
	} else if (!strncmp(sp2 + 1, "HTTP/", 5) &&
		   strspn(sp2 + 6, "0123456789.") == strlen(sp2 + 6) &&
		   sp2[6]) {
		*msg = "only HTTP/1.1 and HTTP/1.0 are served (no HTTP/2 "
		       "here: use HTTP/1.1)";
		return 505;
	} else {
		*msg = "malformed HTTP version in the request line";
		return 400;
	}
	for (p = rq->method; *p; p++)
		if (*p < 'A' || *p > 'Z') {
			*msg = "malformed method in the request line";
			return 400;
		}
	for (p = rq->target; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
			*msg = "the request target holds a byte that must be "
			       "%-encoded";
			return 400;
		}
	if (rq->target[0] != '/') {
		*msg = "the request target must be a path starting with /";
		return 400;
	}
	for (p = eol + 2; p < end; p = eol + 2) {
		char *colon, *name, *val;

		eol = memchr(p, '\r', (size_t)(end - p) + 1);
		if (!eol || eol[1] != '\n' ||
		    memchr(p, '\n', (size_t)(eol - p))) {
			*msg = "malformed header line (lines end with CRLF)";
			return 400;
		}
		if (*p == ' ' || *p == '\t') {
			*msg = "folded header lines are not accepted";
			return 400;
		}
		if (++nhdr > 100) {
			*msg = "more than 100 header lines";
			return 431;
		}
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p) {
			*msg = "malformed header line (expected Name: value)";
			return 400;
		}
		for (name = p; name < colon; name++)
			if (!is_tchar((unsigned char)*name)) {
				*msg = "malformed header name (no spaces "
				       "before the colon)";
				return 400;
			}
		*colon = '\0';
		name = p;
		val = httpd_trim(colon + 1, eol);
		for (p = val; *p; p++)
			if ((unsigned char)*p < 0x20 && *p != '\t') {
				*msg = "a control byte in a header value";
				return 400;
			}
		if (!strcasecmp(name, "Host")) {
			rq->hosts++;
		} else if (!strcasecmp(name, "Content-Length")) {
			rq->cls++;
			rq->cl = val;
		} else if (!strcasecmp(name, "Transfer-Encoding")) {
			rq->te = val;
		} else if (!strcasecmp(name, "Authorization")) {
			rq->auth = val;
		} else if (!strcasecmp(name, "Expect")) {
			rq->expect = val;
		} else if (!strcasecmp(name, "Connection")) {
			if (has_token(val, "close"))
				rq->close = 1;
		}
	}
	if (rq->minor == 1 && rq->hosts != 1) {
		*msg = rq->hosts ? "more than one Host header"
				 : "HTTP/1.1 needs a Host header";
		return 400;
	}
	if (rq->cls > 1) {
		*msg = "more than one Content-Length header";
		return 400;
	}
	if (rq->te && rq->cl) {
		*msg = "both Transfer-Encoding and Content-Length: refused";
		return 400;
	}
	if (rq->cl &&
	    (!*rq->cl || strspn(rq->cl, "0123456789") != strlen(rq->cl))) {
		*msg = "Content-Length is not a number";
		return 400;
	}
	if (rq->minor == 0)
		rq->close = 1;
	return 0;
}

/* ---- a connection ------------------------------------------------------- */

/*
 * Wait until buf[off..len) holds a whole head; return its length (with the
 * final CRLF CRLF), 0 for a silent close (the peer left, or idle), or
 * -status with *msg for an error reply.
 */
static long httpd_read_head(struct httpd_conn *c, int first, const char **msg)
{
	struct osai_httpd *h = c->h;
	nng_time deadline = nng_clock() + (first ? h->header_ms : h->idle_ms);
	int started = first;

	for (;;) {
		char *b = c->buf + c->off, *e;
		size_t n = c->len - c->off, got;
		int rv;

		/* Empty lines before a request line are allowed (RFC 9112). */
		while (n >= 2 && b[0] == '\r' && b[1] == '\n') {
			c->off += 2;
			b += 2;
			n -= 2;
		}
		if (n && !started) {
			started = 1;
			deadline = nng_clock() + h->header_ms;
		}
		e = memchr(b, '\n', n);
		if ((!e && n > OSAI_HTTPD_MAX_LINE) ||
		    (e && e - b > OSAI_HTTPD_MAX_LINE)) {
			*msg = "the request line is longer than 8192 bytes";
			return -414;
		}
		e = n >= 4 ? memmem(b, n, "\r\n\r\n", 4) : NULL;
		if (e)
			return (long)(e + 4 - b);
		e = memchr(b, '\n', n);
		if (!httpd_plausible(b, e ? (size_t)(e - b + 1) : n)) {
			*msg = "this is not an HTTP/1.1 request line (TLS on "
			       "a plain port, HTTP/2, or garbage)";
			return -400;
		}
		if (n >= sizeof(c->buf)) {
			*msg = "the request head (line and headers) is longer "
			       "than 16384 bytes";
			return -431;
		}
		if (c->off && c->len == sizeof(c->buf)) {
			memmove(c->buf, b, n);
			c->off = 0;
			c->len = n;
		}
		rv = httpd_io(c, 0, c->buf + c->len, sizeof(c->buf) - c->len,
			      deadline, &got);
		if (rv == NNG_ETIMEDOUT && n) {
			*msg = "the request head did not arrive in time "
			       "(server.timeouts.header)";
			return -408;
		}
		if (rv)
			return 0;
		c->len += got;
	}
}

/* Read a body of `n` bytes: what is buffered, then the rest.  0 or NNG_*. */
static int httpd_read_body(struct httpd_conn *c, char *body, size_t n)
{
	size_t have = c->len - c->off, take = have < n ? have : n, got;
	nng_time deadline = nng_clock() + c->h->body_ms;
	int rv;

	memcpy(body, c->buf + c->off, take);
	c->off += take;
	while (take < n) {
		rv = httpd_io(c, 0, body + take, n - take, deadline, &got);
		if (rv)
			return rv;
		take += got;
	}
	return 0;
}

/* Mark the connection busy (0) or back to waiting (1 if it must stop). */
static int httpd_set_busy(struct httpd_conn *c, int busy)
{
	struct osai_httpd *h = c->h;
	int stop;

	pthread_mutex_lock(&h->lock);
	c->busy = busy;
	stop = atomic_load(&h->stopping);
	pthread_mutex_unlock(&h->lock);
	return stop;
}

/* Answer one parsed request.  1 to keep the connection, 0 to close. */
static int httpd_answer(struct httpd_conn *c, struct httpd_req *q)
{
	struct osai_httpd *h = c->h;
	struct osai_http_req rq = { 0 };
	struct osai_http_res rs = { 0 };
	unsigned long long n = 0;
	double t0 = mono();
	char *body = NULL, path[256];
	const char *qm;
	int keep = !q->close, rv;

	if (q->cl)
		n = strlen(q->cl) > 19 ? ULLONG_MAX : strtoull(q->cl, NULL, 10);
	rq.method = q->method;
	rq.uri = q->target;
	rq.auth = q->auth;
	rq.transfer_enc = q->te;
	rq.content_len = q->cl;
	rq.body = "";
	rq.body_len = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
	if (q->te || n > h->r->max_body) {
		keep = 0; /* the body stays unread: never parse it */
	} else if (n) {
		if (q->expect && has_token(q->expect, "100-continue") &&
		    httpd_send_all(c, "HTTP/1.1 100 Continue\r\n\r\n", 25,
				   nng_clock() + h->body_ms))
			return 0;
		body = malloc((size_t)n + 1);
		if (!body) {
			httpd_fail(c, 503, "busy",
				   "out of memory for the body");
			return 0;
		}
		rv = httpd_read_body(c, body, (size_t)n);
		if (rv) {
			if (rv == NNG_ETIMEDOUT)
				httpd_fail(c, 408, "timeout",
					   "the body did not arrive in time "
					   "(server.timeouts.body)");
			free(body);
			return 0;
		}
		body[n] = '\0';
		rq.body = body;
	}
	/* From here the stopper waits for the reply instead of closing. */
	if (httpd_set_busy(c, 1)) {
		free(body);
		return 0; /* stopping: the stream was closed */
	}
	rq.scratch = &c->scratch;
	osai_http_handle(h->r, &rq, &rs);
	free(body);
	if (atomic_load(&h->stopping))
		keep = 0;
	rv = httpd_reply(c, rs.status, rs.body, rs.allow, NULL, !keep,
			 !strcmp(q->method, "HEAD"), rs.content_type);
	if (!rs.borrowed)
		free(rs.body);
	if (c->scratch.cap > HTTPD_KEEP_BUF)
		osai_buf_free(&c->scratch);
	qm = strchr(q->target, '?');
	snprintf(path, sizeof(path), "%.*s",
		 (int)(qm ? (size_t)(qm - q->target) : strlen(q->target)),
		 q->target);
	osai_metrics_observe(osai_route_of(path), rs.status, mono() - t0);
	osa_log(OSA_LOG_INFO, "method=%s path=%s status=%d dur_ms=%.2f",
		q->method, path, rs.status, (mono() - t0) * 1000);
	return keep && !rv;
}

static void httpd_serve(struct httpd_conn *c)
{
	struct httpd_req q;
	const char *msg = NULL;
	int first = 1;

	for (;;) {
		long n = httpd_read_head(c, first, &msg);
		int st;

		first = 0;
		if (n == 0)
			return;
		if (n < 0) {
			httpd_fail(c, (int)-n,
				   -n == 408   ? "timeout"
				   : -n == 414 ? "uri_too_long"
				   : -n == 431 ? "headers_too_large"
					       : "bad_request",
				   msg);
			return;
		}
		st = httpd_parse(c->buf + c->off, (size_t)n, &q, &msg);
		c->off += (size_t)n;
		if (st) {
			httpd_fail(c, st,
				   st == 505   ? "http_version"
				   : st == 431 ? "headers_too_large"
					       : "bad_request",
				   msg);
			return;
		}
		if (!httpd_answer(c, &q))
			return;
		if (c->off == c->len)
			c->off = c->len = 0;
		if (httpd_set_busy(c, 0))
			return;
	}
}

/* Beyond the cap: say so, drain what the client sent, close. */
static void httpd_reject(struct httpd_conn *c)
{
	char msg[160], *body;
	size_t got;

	snprintf(msg, sizeof(msg),
		 "too many connections (server.max_connections = %d): retry "
		 "shortly",
		 c->h->max_conns);
	body = httpd_error_json("busy", msg);
	osai_metrics_observe(OSAI_ROUTE_OTHER, 503, 0);
	if (!httpd_reply(c, 503, body, NULL, "Retry-After: 1\r\n", 1, 0, NULL))
		/* Closing with unread input would reset the connection and
		 * could discard the reply at the client. */
		httpd_io(c, 0, c->buf, sizeof(c->buf), nng_clock() + 200, &got);
	free(body);
}

static void httpd_conn_free(struct httpd_conn *c)
{
	if (c->s)
		nng_stream_free(c->s);
	if (c->aio)
		nng_aio_free(c->aio);
	osai_buf_free(&c->scratch);
	osai_buf_free(&c->out);
	free(c);
}

/* Take a connection off the list: the stopper no longer sees it. */
static void httpd_unlink(struct osai_httpd *h, struct httpd_conn *c)
{
	pthread_mutex_lock(&h->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&h->lock);
}

/* Count a connection out, after its stream is freed. */
static void httpd_release(struct osai_httpd *h, int reject)
{
	pthread_mutex_lock(&h->lock);
	if (reject)
		h->n_reject--;
	else
		h->n_conns--;
	if (!h->n_conns && !h->n_reject)
		pthread_cond_broadcast(&h->drained);
	pthread_cond_signal(&h->slot);
	pthread_mutex_unlock(&h->lock);
}

static void *httpd_conn_main(void *arg)
{
	struct httpd_conn *c = arg;
	struct osai_httpd *h = c->h;
	int reject = c->reject;

	if (reject)
		httpd_reject(c);
	else
		httpd_serve(c);
	httpd_unlink(h, c);
	httpd_conn_free(c);
	httpd_release(h, reject);
	return NULL;
}

/* Hand a new stream to a thread, or to a rejecter past the cap. */
static void httpd_spawn(struct osai_httpd *h, nng_stream *s)
{
	struct httpd_conn *c = calloc(1, sizeof(*c));
	pthread_attr_t attr;
	pthread_t t;
	int rv, c_reject;

	if (!c || nng_aio_alloc(&c->aio, NULL, NULL)) {
		free(c);
		nng_stream_free(s);
		return;
	}
	c->h = h;
	c->s = s;
	pthread_mutex_lock(&h->lock);
	/* Every rejecter busy: leave the next ones in the listen backlog. */
	while (!atomic_load(&h->stopping) && h->n_conns >= h->max_conns &&
	       h->n_reject >= HTTPD_MAX_REJECTERS)
		pthread_cond_wait(&h->slot, &h->lock);
	if (atomic_load(&h->stopping)) {
		pthread_mutex_unlock(&h->lock);
		httpd_conn_free(c);
		return;
	}
	c->reject = c_reject = h->n_conns >= h->max_conns;
	if (c->reject) {
		h->n_reject++;
		h->n_rejected++;
		if (!h->at_cap)
			osa_log(OSA_LOG_WARN,
				"http connections at server.max_connections "
				"(%d): answering 503 until some close",
				h->max_conns);
		h->at_cap = 1;
	} else {
		h->n_conns++;
		if (h->at_cap && h->n_conns < h->max_conns * 9 / 10) {
			osa_log(OSA_LOG_INFO,
				"http connections below the cap again "
				"(%llu refused meanwhile)",
				h->n_rejected);
			h->at_cap = 0;
			h->n_rejected = 0;
		}
	}
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	pthread_mutex_unlock(&h->lock);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rv = pthread_create(&t, &attr, httpd_conn_main, c);
	pthread_attr_destroy(&attr);
	if (rv) {
		osa_log(OSA_LOG_WARN, "http connection dropped: %s",
			strerror(rv));
		httpd_unlink(h, c);
		httpd_conn_free(c);
		httpd_release(h, c_reject);
	}
}

static void *httpd_accept(void *arg)
{
	struct osai_httpd *h = arg;

	for (;;) {
		int rv;

		nng_stream_listener_accept(h->l, h->accept_aio);
		nng_aio_wait(h->accept_aio);
		rv = nng_aio_result(h->accept_aio);
		if (atomic_load(&h->stopping) || rv == NNG_ECLOSED) {
			if (!rv)
				nng_stream_free(
					nng_aio_get_output(h->accept_aio, 0));
			break;
		}
		if (rv) {
			/* Out of descriptors or memory: wait a little. */
			osa_log(OSA_LOG_WARN, "http accept: %s",
				nng_strerror(rv));
			nng_msleep(50);
			continue;
		}
		httpd_spawn(h, nng_aio_get_output(h->accept_aio, 0));
	}
	return NULL;
}

/* ---- TLS ---------------------------------------------------------------- */

#ifdef CONFIG_OSA_TLS
static char *httpd_read_file(const char *path, size_t *len,
			     struct osa_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n = -1;

	if (!f) {
		osa_error_set(err, OSA_ECONFIG, "server.tls: %s: %s", path,
			      strerror(errno));
		return NULL;
	}
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && n < (1 << 20) &&
	    !fseek(f, 0, SEEK_SET) && (buf = calloc(1, (size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (!buf)
		osa_error_set(err, OSA_ECONFIG,
			      "server.tls: %s: cannot read it (or larger "
			      "than 1 MiB)",
			      path);
	*len = (size_t)n;
	return buf;
}

static int tls_fail(struct osa_error *err, const char *path, const char *what,
		    int rc)
{
	char e[160];

	mbedtls_strerror(rc, e, sizeof(e));
	return osa_error_set(err, OSA_ECONFIG, "server.tls: %s: %s: %s", path,
			     what, e);
}

int osai_tls_check(const char *cert, const char *key, struct osa_error *err)
{
	mbedtls_x509_crt crt;
	mbedtls_pk_context pk;
	char *cbuf = NULL, *kbuf = NULL;
	size_t clen = 0, klen = 0;
	int rc = 0;

	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&pk);
	if (!(cbuf = httpd_read_file(cert, &clen, err)) ||
	    !(kbuf = httpd_read_file(key, &klen, err))) {
		rc = err->code;
		goto out;
	}
	/* PEM text is parsed with its NUL. */
	rc = mbedtls_x509_crt_parse(&crt, (unsigned char *)cbuf, clen + 1);
	if (rc) {
		rc = tls_fail(err, cert, "not a PEM certificate chain", rc);
		goto out;
	}
	rc = mbedtls_pk_parse_key(&pk, (unsigned char *)kbuf, klen + 1, NULL,
				  0);
	if (rc) {
		rc = tls_fail(err, key, "not an unencrypted PEM private key",
			      rc);
		goto out;
	}
	rc = mbedtls_pk_check_pair(&crt.pk, &pk);
	if (rc) {
		rc = osa_error_set(err, OSA_ECONFIG,
				   "server.tls: the key %s does not belong to "
				   "the certificate %s (the first one of the "
				   "chain)",
				   key, cert);
		goto out;
	}
	if (mbedtls_x509_time_is_past(&crt.valid_to)) {
		rc = osa_error_set(err, OSA_ECONFIG,
				   "server.tls: the certificate %s expired on "
				   "%04d-%02d-%02d: renew it",
				   cert, crt.valid_to.year, crt.valid_to.mon,
				   crt.valid_to.day);
		goto out;
	}
out:
	mbedtls_pk_free(&pk);
	mbedtls_x509_crt_free(&crt);
	free(cbuf);
	free(kbuf);
	return rc;
}

static int httpd_tls(struct osai_httpd *h, const struct osai_server_config *sc,
		     struct osa_error *err)
{
	char *cert, *key;
	size_t n;
	int rv;

	if (osai_tls_check(sc->tls.cert, sc->tls.key, err))
		return err->code;
	cert = httpd_read_file(sc->tls.cert, &n, err);
	key = cert ? httpd_read_file(sc->tls.key, &n, err) : NULL;
	if (!key) {
		free(cert);
		return err->code;
	}
	rv = nng_tls_config_alloc(&h->tls, NNG_TLS_MODE_SERVER);
	/* TLS 1.3 where the engine has it; mbedtls 2.28 stops at 1.2. */
	if (!rv && !nng_tls_config_version(h->tls, NNG_TLS_1_2, NNG_TLS_1_3))
		h->tls13 = 1;
	else if (!rv)
		rv = nng_tls_config_version(h->tls, NNG_TLS_1_2, NNG_TLS_1_2);
	if (!rv)
		rv = nng_tls_config_own_cert(h->tls, cert, key, NULL);
	free(cert);
	free(key);
	if (!rv)
		rv = nng_stream_listener_set_ptr(h->l, NNG_OPT_TLS_CONFIG,
						 h->tls);
	if (rv)
		return osa_error_set(err, OSA_ECONFIG,
				     "server.tls (%s, %s): %s", sc->tls.cert,
				     sc->tls.key, nng_strerror(rv));
	return 0;
}
#else
int osai_tls_check(const char *cert, const char *key, struct osa_error *err)
{
	(void)cert;
	(void)key;
	return osa_error_set(err, OSA_ECONFIG,
			     "this osa was built without TLS: enable "
			     "CONFIG_OSA_TLS (make menuconfig)");
}
#endif

/* ---- start and stop ----------------------------------------------------- */

static nng_duration secs_ms(double s)
{
	return (nng_duration)(s * 1000 + 0.5);
}

int osai_httpd_start(struct osai_router *r, const struct osai_server_config *sc,
		     int max_connections, struct osai_httpd **out,
		     struct osa_error *err)
{
	struct osai_httpd *h = calloc(1, sizeof(*h));
	int tls = !strncmp(sc->listen, "https://", 8), rv, port = 0;
	char addr[300];
	nng_url *url = NULL;

	*out = NULL;
	if (!h)
		return osa_error_set(err, OSA_ENOMEM, "out of memory");
	h->r = r;
	h->header_ms = secs_ms(sc->timeouts.header);
	h->idle_ms = secs_ms(sc->timeouts.idle);
	h->body_ms = secs_ms(sc->timeouts.body);
	h->max_conns = max_connections > 0 ? max_connections : 1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->drained, NULL);
	pthread_cond_init(&h->slot, NULL);
	rv = nng_url_parse(&url, sc->listen);
	if (rv) {
		osa_error_set(err, OSA_ECONFIG, "server.listen \"%s\": %s",
			      sc->listen, nng_strerror(rv));
		goto fail;
	}
	snprintf(addr, sizeof(addr), "%s://%s%s%s:%s", tls ? "tls+tcp" : "tcp",
		 strchr(url->u_hostname, ':') ? "[" : "", url->u_hostname,
		 strchr(url->u_hostname, ':') ? "]" : "", url->u_port);
	rv = nng_stream_listener_alloc(&h->l, addr);
	if (rv) {
		osa_error_set(err, OSA_ECONFIG, "server.listen \"%s\": %s",
			      sc->listen, nng_strerror(rv));
		goto fail;
	}
	/* Small replies go out at once (nng's default, said explicitly). */
	nng_stream_listener_set_bool(h->l, NNG_OPT_TCP_NODELAY, true);
	if (tls) {
#ifdef CONFIG_OSA_TLS
		if (httpd_tls(h, sc, err))
			goto fail;
#else
		osai_tls_check(NULL, NULL, err);
		goto fail;
#endif
	}
	rv = nng_stream_listener_listen(h->l);
	if (!rv)
		rv = nng_aio_alloc(&h->accept_aio, NULL, NULL);
	if (rv) {
		osa_error_set(err, OSA_EIO, "server.listen \"%s\": %s",
			      sc->listen, nng_strerror(rv));
		goto fail;
	}
	rv = pthread_create(&h->acceptor, NULL, httpd_accept, h);
	if (rv) {
		osa_error_set(err, OSA_EIO, "server.listen: %s", strerror(rv));
		goto fail;
	}
	h->acceptor_started = 1;
	nng_stream_listener_get_int(h->l, NNG_OPT_TCP_BOUND_PORT, &port);
	osa_log(OSA_LOG_INFO,
		"listening url=%s://%s%s%s:%d max_connections=%d "
		"timeouts_s=header:%g,idle:%g,body:%g%s",
		tls ? "https" : "http", strchr(url->u_hostname, ':') ? "[" : "",
		url->u_hostname, strchr(url->u_hostname, ':') ? "]" : "", port,
		h->max_conns, sc->timeouts.header, sc->timeouts.idle,
		sc->timeouts.body,
		!tls	   ? ""
		: h->tls13 ? " tls=1.2-1.3"
			   : " tls=1.2");
	nng_url_free(url);
	*out = h;
	return 0;
fail:
	if (url)
		nng_url_free(url);
	osai_httpd_stop(h);
	return err->code;
}

void osai_httpd_stop(struct osai_httpd *h)
{
	struct httpd_conn *c;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	atomic_store(&h->stopping, 1);
	pthread_cond_broadcast(&h->slot);
	for (c = h->conns; c; c = c->next)
		if (!c->busy)
			nng_stream_close(c->s);
	pthread_mutex_unlock(&h->lock);
	if (h->l)
		nng_stream_listener_close(h->l);
	if (h->acceptor_started)
		pthread_join(h->acceptor, NULL);
	pthread_mutex_lock(&h->lock);
	while (h->n_conns || h->n_reject)
		pthread_cond_wait(&h->drained, &h->lock);
	pthread_mutex_unlock(&h->lock);
	if (h->accept_aio)
		nng_aio_free(h->accept_aio);
	if (h->l)
		nng_stream_listener_free(h->l);
#ifdef CONFIG_OSA_TLS
	if (h->tls)
		nng_tls_config_free(h->tls);
#endif
	pthread_cond_destroy(&h->drained);
	pthread_cond_destroy(&h->slot);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

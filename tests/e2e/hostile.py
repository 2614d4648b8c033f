#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The hostile-request table: each row is a raw request over a socket and
the statuses acceptable for it (None: the server may also just close the
connection).  After every row the server must still answer /health; writes
that were acknowledged are appended to ACKED (checked by http.sh later).

usage: hostile.py HOST PORT API_KEY ACKED_FILE
"""
import json
import resource
import socket
import sys
import threading
import time

HOST, PORT, KEY, ACKED = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
AUTH = "Authorization: Bearer %s\r\n" % KEY
failures = []
acked = []
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
           413: "Content Too Large", 414: "URI Too Long", 422: "Unprocessable Content",
           431: "Request Header Fields Too Large", 503: "Service Unavailable",
           505: "HTTP Version Not Supported", 507: "Insufficient Storage"}


def raw(data, timeout=10.0, read=True):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return None, b""
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            buf += chunk
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep:
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]):
                    break
        if not buf.startswith(b"HTTP/"):
            return None, buf
        line = buf.split(b"\r\n")[0].decode("latin-1")
        st = int(line.split(" ")[1])
        if st in REASONS and line != "HTTP/1.1 %d %s" % (st, REASONS[st]):
            failures.append("reason phrase: %r for %r" % (line, data[:60]))
        return st, buf.partition(b"\r\n\r\n")[2]
    except (ConnectionError, socket.timeout, OSError):
        return None, b""
    finally:
        s.close()


def http(method, path, body=b"", headers="", cl=True):
    if isinstance(body, str):
        body = body.encode()
    h = "%s %s HTTP/1.1\r\nHost: x\r\n%s" % (method, path, headers)
    if cl:
        h += "Content-Length: %d\r\n" % len(body)
    return h.encode() + b"\r\n" + body


def healthy():
    st, _ = raw(http("GET", "/health"))
    return st == 200


def row(name, data, ok, **kw):
    st, body = raw(data, **kw)
    good = st in ok or (st is None and None in ok)
    if st is not None and st != 200 and st in ok and not data.startswith(b"HEAD "):
        try:
            err = json.loads(body)["error"]
            assert "code" in err and "message" in err
        except Exception:
            good = False  # every error is JSON, even the server's own
    if not good:
        failures.append("%s: status %s, want %s: %r" % (name, st, ok, body[:200]))
    if not healthy():
        failures.append("%s: /health failed afterwards" % name)
    return st, body


def post_records(name, recs, ok=(200,)):
    body = "\n".join(json.dumps(r) for r in recs)
    st, resp = row(name, http("POST", "/records", body, AUTH), ok, timeout=300)
    if st == 200:
        acked.extend(r["srn"] for r in recs)
    return st


BAD = (400, 404, 405, 411, 413, 414, 422, None)
rows = [
    ("truncated JSON", http("POST", "/records", '{"srn": "urn:osa:a.org:rec:abc", "ti', AUTH), (400, 422)),
    ("invalid UTF-8 body", http("POST", "/records", b'{"srn":"urn:osa:a.org:rec:abc","t":"\xff\xfe"}', AUTH), (400, 422)),
    ("invalid UTF-8 in path", http("GET", "/records/\xff\xfe".encode("latin-1").decode("latin-1")), BAD),
    ("%-encoded invalid UTF-8 in q", http("GET", "/search/papers?q=%C3%28"), (400,)),
    ("NUL in q", http("GET", "/search/papers?q=a%00b"), (400,)),
    ("NUL in srn", http("GET", "/records/abc%00def"), (400,)),
    ("raw NUL in request line", b"GET /hea\x00lth HTTP/1.1\r\nHost: x\r\n\r\n", BAD),
    ("negative limit", http("GET", "/search/papers?q=x&limit=-5"), (422,)),
    ("huge limit", http("GET", "/search/papers?q=x&limit=99999999999999999999"), (422,)),
    ("huge offset", http("GET", "/search/papers?q=x&offset=18446744073709551615"), (422,)),
    ("offset not a number", http("GET", "/search/papers?q=x&offset=1e9"), (422,)),
    ("path traversal srn", http("GET", "/records/..%2F..%2F..%2Fetc%2Fpasswd"), (404,)),
    ("path traversal index", http("GET", "/search/..%2F..%2Fjournal?q=x"), (404,)),
    ("dot-dot path", http("GET", "/search/../../etc/passwd?q=x"), (404, 400, None)),
    ("10 MB body", http("POST", "/records", b"a" * (10 << 20), AUTH), (413, 400, None)),
    ("huge Content-Length, no body", b"POST /records HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"Content-Length: 99999999999\r\n\r\n", (413, 400, None)),
    ("negative Content-Length", b"POST /records HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", BAD),
    ("two Content-Lengths", b"POST /records HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 50\r\n\r\n{}", BAD),
    ("short body then close", b"POST /records HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"srn\"", (None, 400)),
    ("chunked body", b"POST /records HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", (411, 400, None)),
    ("garbage bytes", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)), (None, 400)),
    ("unknown method", http("FROB", "/health"), (405, 400, None)),
    ("HTTP/1.0", b"GET /health HTTP/1.0\r\n\r\n", (200, 505, 400, None)),
    ("100 kB header", http("GET", "/health", headers="X-Big: " + "a" * 100000 + "\r\n"), (200, 400, 431, None)),
    ("3000-byte path", http("GET", "/search/" + "a" * 3000 + "?q=x"), (414, 404, 400, None)),
    ("q over max_query", http("GET", "/search/papers?q=" + "a" * 5000), (422,)),
    ("deeply nested JSON", http("POST", "/search/papers", "[" * 100000 + "]" * 100000), (400,)),
    ("array body for search", http("POST", "/search/papers", "[1,2,3]"), (400,)),
    ("vector with strings", http("POST", "/search/papers", '{"vector":["a",1]}'), (422,)),
    ("vector wrong dim", http("POST", "/search/papers", '{"vector":[1,2,3]}'), (422,)),
    ("vector NaN-ish", http("POST", "/search/papers", '{"vector":[1e999]}'), (400, 422)),
    ("duplicate keys", http("POST", "/search/papers", '{"q":"a","q":"b"}'), (400,)),
    ("srn of 600 bytes", http("GET", "/records/" + "a" * 600), (400,)),
    ("unicode index name", http("GET", "/search/%E2%9C%93?q=x"), (404,)),
    ("write without auth", http("POST", "/records", '{"srn":"urn:osa:h.org:rec:x-1"}'), (401,)),
    ("delete without auth", http("DELETE", "/records/urn:osa:h.org:rec:x-1"), (401,)),
    ("long bearer", http("POST", "/records", "{}", "Authorization: Bearer " + "k" * 50000 + "\r\n"), (431,)),
    ("empty body", http("POST", "/records", "", AUTH), (400,)),
    ("records not objects", http("POST", "/records", "[1, \"two\", null]", AUTH), (422,)),
    ("bad srn in batch", http("POST", "/records", '[{"srn":"urn:osa:h.org:rec:ok-1"},{"srn":"bad srn"}]', AUTH), (422,)),
    ("HEAD", http("HEAD", "/health", cl=False), (405,)),
    ("missing Host", b"GET /health HTTP/1.1\r\n\r\n", (400,)),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (505,)),
    ("bad request line", b"HELLO WORLD\r\n\r\n", (400,)),
    ("9000-byte request line", http("GET", "/search/papers?q=" + "a" * 9000), (414,)),
    ("20 kB header", http("GET", "/health", headers="X-Big: " + "a" * 20000 + "\r\n"), (431,)),
    ("JSON array with a duplicate key", http("POST", "/records", '[{"srn": "urn:osa:h.org:rec:d-1", "srn": "urn:osa:h.org:rec:d-2"}]', AUTH), (400,)),
    ("OPTIONS", http("OPTIONS", "/records"), (405, None)),
]

for name, data, ok in rows:
    row(name, data, ok)

# Valid writes between the hostile rows must be kept.
post_records("10000 tiny records", [{"srn": "urn:osa:h.org:rec:t-%d" % i, "title": "tiny %d" % i} for i in range(10000)])
post_records("unicode record", [{"srn": "urn:osa:h.org:rec:u-1", "title": "日本語 テキスト ✓"}])

# 301 pipelined requests on one connection (about 10 kB): all answered.
pipe = socket.create_connection((HOST, PORT), timeout=30)
pipe.sendall(http("GET", "/health", cl=False) * 300 +
             http("GET", "/health", headers="Connection: close\r\n", cl=False))
got = b""
try:
    while True:
        chunk = pipe.recv(65536)
        if not chunk:
            break
        got += chunk
except OSError:
    pass
pipe.close()
if got.count(b"HTTP/1.1 200 OK\r\n") != 301:
    failures.append("pipelining: %d of 301 answered" % got.count(b"HTTP/1.1 200 OK\r\n"))

# Slowloris: 60 connections that never finish their request line.
slow = []
for i in range(60):
    try:
        s = socket.create_connection((HOST, PORT), timeout=5)
        s.sendall(b"GET /search/papers?q=slow HTTP/1.1\r\nHost: x\r\nX-a: ")
        slow.append(s)
    except OSError:
        pass
for _ in range(3):
    time.sleep(0.3)
    for s in slow:
        try:
            s.sendall(b"a")
        except OSError:
            pass
    if not healthy():
        failures.append("slowloris: /health failed while partial requests were held")
post_records("write during slowloris", [{"srn": "urn:osa:h.org:rec:slow-1", "title": "slow"}])
for s in slow:
    s.close()

# 1000 concurrent connections, each asking /health.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
results = []
lock = threading.Lock()


def one():
    st, _ = raw(http("GET", "/health"), timeout=30)
    with lock:
        results.append(st)


threads = [threading.Thread(target=one) for _ in range(1000)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ok200 = sum(1 for s in results if s == 200)
if ok200 < 990:
    failures.append("1000 connections: only %d answered 200 (%s)" % (ok200, sorted(set(map(str, results)))))
if not healthy():
    failures.append("1000 connections: /health failed afterwards")

with open(ACKED, "w") as f:
    for srn in acked:
        f.write(srn + "\n")
print("hostile: %d rows, %d acknowledged records, %d failures" % (len(rows) + 7, len(acked), len(failures)))
for f_ in failures:
    print("FAIL: " + f_, file=sys.stderr)
sys.exit(1 if failures else 0)

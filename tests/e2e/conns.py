#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Connection cases of `osa serve`, each against a server of its own:

  idle-fd      300 idle sockets against a server with `ulimit -n 256`: it
               stays reachable (503 + Retry-After, then 200 once the header
               timeout closed them)
  cap          server.max_connections = 4: the 5th connection gets a JSON
               503 with Retry-After; after the others close, 200 again
  idle         a kept-alive connection is closed after timeouts.idle; a
               half-sent head gets a JSON 408 after timeouts.header; a
               half-sent body a JSON 408 after timeouts.body
  smuggle      a chunked POST whose body is a complete POST /records: 411,
               the connection closes, and the inner record is not stored
  pipeline     301 pipelined requests (10 KB) on one connection: 301 answers
  protocol     missing Host, HTTP/2 preface, bad request line, 9000-byte
               request line, 20 KB of headers, TLS hello on the plain port:
               JSON errors with proper reason phrases
  rotate       20 SIGHUP key rotations: each new key works and the old one
               is refused; a broken file shows in /health under "reload"
  tls-config   `osa config check`: tls files with http:// (78), a key that
               is not the certificate's (78), a bad key (78), good (0)

usage: conns.py OSA_BINARY   (prints one line per case; exit 1 on failure)
"""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import osaserve

OSA = sys.argv[1]
W = tempfile.mkdtemp(prefix="osa-conns-")
failures = []
cases = 0

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           408: "Request Timeout", 411: "Length Required", 413: "Content Too Large", 414: "URI Too Long",
           422: "Unprocessable Content", 431: "Request Header Fields Too Large",
           503: "Service Unavailable", 505: "HTTP Version Not Supported"}


def check(name, cond, detail=""):
    global cases
    cases += 1
    if not cond:
        failures.append("%s: %s" % (name, detail))
        print("FAIL %s: %s" % (name, detail), file=sys.stderr)


class Server:
    def __init__(self, name, server_extra="", nofile=None, key=""):
        self.dir = os.path.join(W, name)
        os.makedirs(self.dir)
        self.port = osaserve.free_port()
        self.cfg = os.path.join(self.dir, "osa.cfg")
        self.key = key
        self.extra = server_extra
        self.write_cfg(key)
        pre = None
        if nofile:
            import resource

            def pre():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.p = subprocess.Popen([OSA, "serve", "-c", self.cfg], stderr=self.log,
                                  preexec_fn=pre)
        for _ in range(100):
            st, _, _ = request("GET", "/health", port=self.port, timeout=2)
            if st == 200:
                return
            time.sleep(0.1)
        raise SystemExit("server %s did not start: %s" % (name, self.logtext()))

    def write_cfg(self, key, broken=False):
        with open(self.cfg, "w") as f:
            f.write('data_dir = "%s/data";\n'
                    'server = { listen = "http://127.0.0.1:%d"; api_key = "%s"; %s };\n'
                    'indexes = ( { name = "papers"; backend = "flat"; config = { dim = 16; }; } );\n'
                    % (self.dir, self.port, key, self.extra))
            if broken:
                f.write("garbage = ;\n")

    def logtext(self):
        self.log.flush()
        return open(os.path.join(self.dir, "log")).read()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "timeout"
        check("%s: exit after SIGTERM" % os.path.basename(self.dir), rc == 0, "exit %s" % rc)


def read_reply(s, timeout):
    """One reply (status, headers dict, body bytes) or (None, {}, raw)."""
    s.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            c = s.recv(65536)
            if not c:
                break
            buf += c
        head, sep, body = buf.partition(b"\r\n\r\n")
        if not sep or not head.startswith(b"HTTP/1.1 "):
            return None, {}, buf
        lines = head.decode("latin-1").split("\r\n")
        hdr = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdr[k.strip().lower()] = v.strip()
        n = int(hdr.get("content-length", "0"))
        while len(body) < n:
            c = s.recv(65536)
            if not c:
                break
            body += c
        hdr[":status-line"] = lines[0]
        hdr[":rest"] = body[n:]
        return int(lines[0].split(" ")[1]), hdr, body[:n]
    except OSError:
        return None, {}, buf


def request(method, path, port, body=b"", headers="", timeout=10):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return None, {}, b""
    try:
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%sContent-Length: %d\r\n\r\n"
                   % (method, path, headers, len(body))).encode() + body)
        return read_reply(s, timeout)
    finally:
        s.close()


def is_json_error(name, st, hdr, body, want):
    check(name, st == want, "status %s, want %s: %r" % (st, want, body[:200]))
    if st != want:
        return
    check(name + " (reason phrase)", hdr.get(":status-line") == "HTTP/1.1 %d %s" % (want, REASONS[want]),
          hdr.get(":status-line"))
    check(name + " (JSON type)", hdr.get("content-type", "").startswith("application/json"), hdr)
    try:
        e = json.loads(body)["error"]
        ok = isinstance(e["code"], str) and isinstance(e["message"], str)
    except Exception:
        ok = False
    check(name + " (JSON error body)", ok, body[:200])


def closed_after(s, timeout=5):
    """True when the peer closes the connection (EOF) within timeout."""
    s.settimeout(timeout)
    try:
        while True:
            c = s.recv(65536)
            if not c:
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


# ---- idle-fd: 300 idle sockets, 256 descriptors ---------------------------
srv = Server("idlefd", "timeouts = { header = 3; idle = 3; };", nofile=256)
idle = []
for _ in range(300):
    try:
        idle.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
    except OSError:
        break
st, hdr, body = request("GET", "/health", srv.port, timeout=10)
check("idle-fd: answered while 300 sockets idle", st in (200, 503), "status %s" % st)
if st == 503:
    check("idle-fd: 503 has Retry-After", "retry-after" in hdr, hdr)
    is_json_error("idle-fd: 503", st, hdr, body, 503)
ok = False
for _ in range(60):
    st, _, _ = request("GET", "/health", srv.port, timeout=5)
    if st == 200:
        ok = True
        break
    time.sleep(0.5)
check("idle-fd: 200 while the idle sockets are still open", ok, "last status %s" % st)
for s in idle:
    s.close()
srv.stop()

# ---- cap: max_connections = 4 ---------------------------------------------
srv = Server("cap", "max_connections = 4; timeouts = { header = 30; idle = 60; };")
# Hold 4 connections.  The startup probe's connection may not be released
# by the server yet (a loaded machine): a held one that was answered 503
# meanwhile is replaced, until 4 are held and none was refused.
held = []
for _ in range(50):
    while len(held) < 4:
        held.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
    time.sleep(0.2)
    refused = [s for s in held if select.select([s], [], [], 0)[0]]
    for s in refused:
        held.remove(s)
        s.close()
    if not refused:
        break
st, hdr, body = request("GET", "/health", srv.port)
is_json_error("cap: 5th connection", st, hdr, body, 503)
check("cap: Retry-After", hdr.get("retry-after") == "1", hdr)
for s in held:
    s.close()
ok = False
for _ in range(50):
    st, _, _ = request("GET", "/health", srv.port)
    if st == 200:
        ok = True
        break
    time.sleep(0.1)
check("cap: 200 once the held connections closed", ok, "last status %s" % st)
check("cap: logged", "server.max_connections (4)" in srv.logtext(), "")
srv.stop()

# ---- idle, header and body timeouts ----------------------------------------
srv = Server("timeouts", "timeouts = { header = 1; idle = 2; body = 1; };")
s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
st, _, _ = read_reply(s, 5)
check("idle: first request on the connection", st == 200, st)
check("idle: kept-alive connection closed after timeouts.idle", closed_after(s, 10), "still open")
s.close()
s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
st, hdr, body = read_reply(s, 10)
is_json_error("header timeout: 408", st, hdr, body, 408)
s.close()
s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
s.sendall(b"POST /records HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"srn\"")
st, hdr, body = read_reply(s, 10)
is_json_error("body timeout: 408", st, hdr, body, 408)
s.close()
s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
check("idle: a connection that never sends is closed", closed_after(s, 10), "still open")
s.close()
srv.stop()

# ---- smuggling, pipelining, protocol errors --------------------------------
srv = Server("proto")
inner_rec = b'{"srn":"urn:osa:smuggle.org:rec:inner-1","title":"smuggled"}'
inner = (b"POST /records HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(inner_rec)) + inner_rec
s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
s.sendall(b"POST /records HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + inner)
st, hdr, body = read_reply(s, 10)
is_json_error("smuggle: chunked outer request", st, hdr, body, 411)
check("smuggle: Connection: close", hdr.get("connection") == "close", hdr)
check("smuggle: nothing after the 411", closed_after(s) and not hdr.get(":rest"), hdr.get(":rest"))
s.close()
time.sleep(0.2)
st, _, body = request("GET", "/records/urn%3Aosa%3Asmuggle.org%3Arec%3Ainner-1", srv.port)
check("smuggle: the inner record was not stored", st == 404, "status %s: %r" % (st, body[:200]))
# A body over max_body is not read either.
s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
s.sendall(b"POST /records HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n" + inner)
st, hdr, body = read_reply(s, 10)
is_json_error("smuggle: over max_body", st, hdr, body, 413)
check("smuggle: over max_body closes", hdr.get("connection") == "close" and closed_after(s), hdr)
s.close()

one = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
s.sendall(one * 300 + b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
answers, buf = 0, b""
s.settimeout(30)
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        buf += c
except OSError:
    pass
s.close()
answers = buf.count(b"HTTP/1.1 200 OK\r\n")
check("pipeline: 301 requests (%d bytes) all answered" % (len(one) * 301), answers == 301,
      "%d answered" % answers)

for name, data, want in [
        ("missing Host", b"GET /health HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
        ("HTTP/3.0 line", b"GET /health HTTP/3.0\r\nHost: x\r\n\r\n", 505),
        ("bad request line", b"HELLO\r\n\r\n", 400),
        ("space in target", b"GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("bare LF", b"GET /health HTTP/1.1\nHost: x\n\n", 400),
        ("9000-byte request line", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        ("20 KB of headers", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
        ("TLS hello on the plain port", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)), 400),
        ("space before colon", b"POST /records HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello", 400),
        ("Content-Length and Transfer-Encoding",
         b"POST /records HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("Content-Length not a number", b"POST /records HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n", 400),
        ("422 reason phrase", b"GET /search/papers?q=x&limit=0 HTTP/1.1\r\nHost: x\r\n\r\n", 422)]:
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(data)
    st, hdr, body = read_reply(s, 10)
    is_json_error("protocol: " + name, st, hdr, body, want)
    s.close()
st, _, _ = request("GET", "/health", srv.port)
check("protocol: healthy afterwards", st == 200, st)
srv.stop()

# ---- rotate: 20 reloads, each key applies -----------------------------------
srv = Server("rotate", key="key-0")
rec = b'{"srn":"urn:osa:rot.org:rec:r-1","title":"t"}'
for i in range(1, 21):
    srv.write_cfg("key-%d" % i)
    srv.p.send_signal(signal.SIGHUP)
    new_ok = False
    for _ in range(50):
        st, _, _ = request("POST", "/records", srv.port, rec, "Authorization: Bearer key-%d\r\n" % i)
        if st == 200:
            new_ok = True
            break
        time.sleep(0.1)
    check("rotate: reload %d applies the new key" % i, new_ok, "status %s" % st)
    st, _, _ = request("POST", "/records", srv.port, rec, "Authorization: Bearer key-%d\r\n" % (i - 1))
    check("rotate: reload %d refuses the old key" % i, st == 401, "status %s" % st)
srv.write_cfg("key-21", broken=True)
srv.p.send_signal(signal.SIGHUP)
reload_field = None
for _ in range(50):
    st, _, body = request("GET", "/health", srv.port)
    try:
        reload_field = json.loads(body).get("reload")
    except ValueError:
        pass
    if reload_field:
        break
    time.sleep(0.1)
check("rotate: a broken file shows in /health", bool(reload_field) and reload_field.get("applied") is False
      and "osa.cfg" in reload_field.get("error", ""), reload_field)
check("rotate: and is logged as an error", "level=error" in srv.logtext() and "keeping the old" in srv.logtext(), "")
srv.write_cfg("key-22")
srv.p.send_signal(signal.SIGHUP)
for _ in range(50):
    st, _, body = request("GET", "/health", srv.port)
    if st == 200 and "reload" not in json.loads(body):
        break
    time.sleep(0.1)
check("rotate: a good reload clears the /health field", "reload" not in json.loads(body), body[:200])
check("rotate: the key was never logged", "key-1" not in srv.logtext(), "")
srv.stop()

# ---- tls-config: osa config check loads the certificate and key -------------
if shutil.which("openssl"):
    d = os.path.join(W, "tls")
    os.makedirs(d)

    def mk(name):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-keyout", os.path.join(d, name + ".key"),
                        "-out", os.path.join(d, name + ".pem")], check=True, capture_output=True)
    mk("a")
    mk("b")
    with open(os.path.join(d, "bad.key"), "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")

    def cfg_check(listen, cert, key):
        p = os.path.join(d, "t.cfg")
        with open(p, "w") as f:
            f.write('data_dir = "%s/data";\nserver = { listen = "%s"; tls = { cert = "%s/%s"; key = "%s/%s"; }; };\n'
                    'indexes = ( { name = "p"; backend = "flat"; config = { dim = 8; }; } );\n'
                    % (d, listen, d, cert, d, key))
        r = subprocess.run([OSA, "config", "check", "-c", p], capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr
    rc, out = cfg_check("http://127.0.0.1:1", "a.pem", "a.key")
    check("tls-config: tls files with http:// is an error", rc == 78 and "https://" in out, (rc, out))
    rc, out = cfg_check("https://127.0.0.1:1", "a.pem", "b.key")
    check("tls-config: a key of another certificate", rc == 78 and "does not belong" in out, (rc, out))
    rc, out = cfg_check("https://127.0.0.1:1", "a.pem", "bad.key")
    check("tls-config: a bad key", rc == 78 and "bad.key" in out, (rc, out))
    rc, out = cfg_check("https://127.0.0.1:1", "a.key", "a.key")
    check("tls-config: a key given as the certificate", rc == 78 and "certificate" in out, (rc, out))
    rc, out = cfg_check("https://127.0.0.1:1", "a.pem", "a.key")
    check("tls-config: a good pair", rc == 0, (rc, out))
else:
    print("tls-config: skipped (no openssl)")

shutil.rmtree(W, ignore_errors=True)
print("conns: %d checks, %d failures" % (cases, len(failures)))
sys.exit(1 if failures else 0)

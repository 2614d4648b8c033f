#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Open Science Archive web client against `osa serve`.

Replays the requests of OSA's web client (opensciencearchive/server at
5484889: web/src/lib/api/osa.ts, its pages and types) against the /api/v1
surface and checks every answer against what the client reads:

  indexes     GET /api/v1/search/ -> {"indexes": [str]}
  page 1      search(q): ?q=&offset=0&limit=20 built by URLSearchParams ->
              SearchResponse {query: str, index: str, total: int,
              has_more: bool, results: [{srn: str, score: number,
              metadata: {title: str, ...}}]}
  load more   offset = results.length until has_more is false: no hit twice,
              the pages together are the first page of a bigger limit
  filters     filter:<key>=<value> (URLSearchParams encodes the ':'):
              422 naming the key (this server has no filters yet)
  record      getRecord(srn) with encodeURIComponent(srn) ->
              {"record": {"srn": str, "metadata": {...}}}, also for an srn
              holding '/', ' ', '+', '?', '#', '&', '%'
  missing     a missing record: a string `detail` holding "not found"
              (the record page's notFound() test)
  unknown     an unknown index: 404 `Index 'x' not found. Available: [...]`
  params      every parameter error: 422 {"detail": [{type, loc, msg,
              input}]} as FastAPI writes them
  empty q     q= answers an empty page on /api/v1 and on /search
  q limit     server.max_query bytes pass on both surfaces, one more is 422
  health      GET /api/v1/health -> {"status": "healthy", "version": str}
  native      our own routes keep {"error": {...}}; server.osa_api = false
              removes /api/v1

usage: osa_compat.py OSA_BINARY SOURCE_DIR   (exit 1 on failure)
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import osaserve

OSA, SRC = sys.argv[1], sys.argv[2]
W = tempfile.mkdtemp(prefix="osa-compat-")
failures = []
cases = 0
MAX_QUERY = 4096  # server.max_query's default


def check(name, cond, detail=""):
    global cases
    cases += 1
    if not cond:
        failures.append("%s: %s" % (name, detail))
        print("FAIL %s: %s" % (name, detail), file=sys.stderr)


# ---- the browser's encoders, from the WHATWG URL and ECMAScript specs ----

def encode_uri_component(s):
    """encodeURIComponent: all but A-Z a-z 0-9 - _ . ! ~ * ' ( ) escaped."""
    keep = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")
    return "".join(chr(b) if b in keep else "%%%02X" % b for b in s.encode("utf-8"))


def url_search_params(pairs):
    """URLSearchParams.toString(): the urlencoded serializer (space as '+',
    all but A-Z a-z 0-9 * - . _ escaped)."""
    keep = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-._")

    def enc(s):
        return "".join(chr(b) if b in keep else "+" if b == 0x20 else "%%%02X" % b
                       for b in s.encode("utf-8"))
    return "&".join(enc(k) + "=" + enc(v) for k, v in pairs)


# ---- the server ----

class Server:
    def __init__(self, name, server_extra=""):
        self.dir = os.path.join(W, name)
        os.makedirs(self.dir)
        self.port = osaserve.free_port()
        cfg = os.path.join(self.dir, "osa.cfg")
        with open(cfg, "w") as f:
            f.write('data_dir = "%s/data";\nsrn_format = "any";\n'
                    'server = { listen = "http://127.0.0.1:%d"; %s };\n'
                    'indexes = (\n'
                    # ef_search over the record count: the approximate
                    # search is exact here, so pages can be compared.
                    ' { name = "papers"; backend = "vector"; config = { dim = 64; ef_search = 4000;'
                    '   embedding = { embedder = "hash"; fields = ["title", "summary"]; }; }; },\n'
                    ' { name = "exact"; backend = "flat"; config = { dim = 64;'
                    '   embedding = { embedder = "hash"; fields = ["title", "summary"]; }; }; } );\n'
                    % (self.dir, self.port, server_extra))
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.p = subprocess.Popen([OSA, "serve", "-c", cfg], stderr=self.log)
        for _ in range(200):
            try:
                st, _ = self.get("/health")
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("server %s did not start" % name)

    def request(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        # The client sends Content-Type: application/json on every call.
        c.request(method, path, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, data

    def get(self, path):
        return self.request("GET", path)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "timeout"
        check("%s: exit after SIGTERM" % os.path.basename(self.dir), rc == 0, "exit %s" % rc)


# ---- what the client reads ----

BASE = "/api/v1"


def is_api_error(doc):
    """isApiError (web/src/types/api.ts): an object with a string detail."""
    return isinstance(doc, dict) and isinstance(doc.get("detail"), str)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_search_response(name, doc, q, index):
    ok = (isinstance(doc, dict) and isinstance(doc.get("query"), str)
          and isinstance(doc.get("index"), str) and is_int(doc.get("total"))
          and isinstance(doc.get("has_more"), bool) and isinstance(doc.get("results"), list))
    check(name + ": SearchResponse fields and types", ok, str(doc)[:300])
    if not ok:
        return []
    check(name + ": query echoed", doc["query"] == q, doc["query"])
    check(name + ": index echoed", doc["index"] == index, doc["index"])
    for h in doc["results"]:
        good = (isinstance(h, dict) and isinstance(h.get("srn"), str)
                and isinstance(h.get("score"), (int, float)) and not isinstance(h.get("score"), bool)
                and isinstance(h.get("metadata"), dict) and isinstance(h["metadata"].get("title"), str))
        check(name + ": SearchHit {srn, score, metadata.title}", good, str(h)[:300])
    return doc["results"]


def search(srv, q, index="papers", offset=0, limit=20, filters=()):
    """OSAApi.search: the params in the client's order, then filters."""
    pairs = [("q", q), ("offset", str(offset)), ("limit", str(limit))]
    pairs += [("filter:" + k, v) for k, v in filters]
    return srv.get("%s/search/%s?%s" % (BASE, index, url_search_params(pairs)))


def validation(name, st, doc, want):
    """A 422 whose detail is FastAPI's list; want: [(type, loc name, input)]."""
    check(name + ": 422", st == 422, "%s %s" % (st, doc))
    items = doc.get("detail") if isinstance(doc, dict) else None
    check(name + ": detail is a list of {type, loc, msg, input}",
          isinstance(items, list) and all(
              isinstance(i, dict) and isinstance(i.get("type"), str) and isinstance(i.get("msg"), str)
              and isinstance(i.get("loc"), list) and "input" in i for i in items), str(doc)[:300])
    if not isinstance(items, list):
        return
    got = [(i.get("type"), i.get("loc"), i.get("input")) for i in items if isinstance(i, dict)]
    check(name + ": errors", got == [(t, ["query", n], v) for t, n, v in want], "%s" % got)


# The sample records ingested: all 3000, or the first 600 under
# ThreadSanitizer (OSA_TEST_TSAN, set by make test-tsan), where embedding
# and indexing them would outlast the client's timeout.
NREC = 600 if os.environ.get("OSA_TEST_TSAN") else 3000


def main():
    srv = Server("main")
    try:
        with open(os.path.join(SRC, "samples", "records.ndjson"), "rb") as f:
            lines = f.read().splitlines(keepends=True)[:NREC]
            st, doc = srv.request("POST", "/records", b"".join(lines))
        check("ingest samples", st == 200, "%s %s" % (st, doc))
        odd = "urn:osa:compat.test:rec:a/b c+d?e#f&g%h~é@1"
        st, doc = srv.request("POST", "/records", json.dumps(
            {"srn": odd, "title": "Odd identifier analysis", "summary": "slashes and friends"}).encode())
        check("ingest odd srn", st == 200, "%s %s" % (st, doc))

        # indexes
        st, doc = srv.get(BASE + "/search/")
        check("indexes: 200", st == 200, "%s %s" % (st, doc))
        check("indexes: {indexes: [str]}", isinstance(doc, dict) and doc.get("indexes") == ["papers", "exact"],
              str(doc))

        # page 1 and "load more", on each index
        for index in ("papers", "exact"):
            st, doc = search(srv, "analysis", index)
            check("page 1 %s: 200" % index, st == 200, "%s %s" % (st, str(doc)[:300]))
            seen = check_search_response("page 1 " + index, doc, "analysis", index)
            check("page 1 %s: 20 hits" % index, len(seen) == 20, str(len(seen)))
            check("page 1 %s: has_more" % index, doc.get("has_more") is True, str(doc.get("has_more")))
            check("page 1 %s: total is the index size" % index, doc.get("total") == NREC + 1, str(doc.get("total")))
            pages = 1
            while doc.get("has_more") and pages < 5:
                st, doc = search(srv, "analysis", index, offset=len(seen))
                check("load more %s: 200" % index, st == 200, "%s %s" % (st, str(doc)[:300]))
                more = check_search_response("load more " + index, doc, "analysis", index)
                check("load more %s: a full page" % index, len(more) == 20, str(len(more)))
                seen += more
                pages += 1
            srns = [h["srn"] for h in seen]
            check("load more %s: no hit twice" % index, len(set(srns)) == len(srns), "")
            st, doc = search(srv, "analysis", index, limit=100)
            whole = [h["srn"] for h in doc.get("results", [])]
            check("load more %s: pages == one bigger page" % index, whole[:len(srns)] == srns,
                  "%s vs %s" % (srns[:3], whole[:3]))
        st, doc = search(srv, "analysis", offset=NREC - 10, limit=100)
        check("last page: has_more false", st == 200 and doc.get("has_more") is False
              and len(doc.get("results", [])) == 11, "%s %s" % (st, str(doc)[:200]))

        # a query with spaces, '+', '&' and non-ASCII round-trips
        q = "sea ice & snow+rain é"
        st, doc = search(srv, q, limit=3)
        check("encoded q: 200", st == 200, "%s %s" % (st, doc))
        check_search_response("encoded q", doc, q, "papers")

        # filters
        st, doc = search(srv, "analysis", filters=[("organism", "Homo sapiens")])
        validation("filter", st, doc, [("filter_unsupported", "filter:organism", "Homo sapiens")])
        check("filter: msg names the key", "organism" in str(doc), str(doc))
        st, doc = search(srv, "analysis", filters=[("year", "2001"), ("topic", "18")])
        validation("two filters", st, doc, [("filter_unsupported", "filter:year", "2001"),
                                            ("filter_unsupported", "filter:topic", "18")])

        # record page, from a hit, with encodeURIComponent
        st, doc = search(srv, "analysis", limit=1)
        hit = doc["results"][0]
        for srn, meta in ((hit["srn"], hit["metadata"]), (odd, None)):
            st, doc = srv.get("%s/records/%s" % (BASE, encode_uri_component(srn)))
            check("record %s: 200" % srn, st == 200, "%s %s" % (st, doc))
            rec = doc.get("record") if isinstance(doc, dict) else None
            check("record %s: {record: {srn, metadata}}" % srn,
                  isinstance(rec, dict) and rec.get("srn") == srn and isinstance(rec.get("metadata"), dict)
                  and isinstance(rec["metadata"].get("title"), str), str(doc)[:300])
            if meta is not None and isinstance(rec, dict):
                check("record: metadata as in the hit", rec.get("metadata") == meta, str(rec)[:300])

        # missing record: the record page calls notFound()
        st, doc = srv.get("%s/records/%s" % (BASE, encode_uri_component("urn:osa:compat.test:rec:none@1")))
        check("missing record: 404", st == 404, "%s %s" % (st, doc))
        check("missing record: detail holds 'not found'", is_api_error(doc) and "not found" in doc["detail"],
              str(doc))
        st, doc = srv.get(BASE + "/records/")
        check("empty srn: 400 Invalid SRN", st == 400 and is_api_error(doc)
              and doc["detail"].startswith("Invalid SRN"), "%s %s" % (st, doc))

        # unknown index: the search page shows detail
        st, doc = search(srv, "analysis", "nope")
        check("unknown index: 404", st == 404, "%s %s" % (st, doc))
        check("unknown index: detail", is_api_error(doc)
              and doc["detail"] == "Index 'nope' not found. Available: ['papers', 'exact']", str(doc))

        # every parameter error, as FastAPI reports them
        def raw(qs):
            return srv.get("%s/search/papers?%s" % (BASE, qs))
        st, doc = raw("offset=0&limit=20")
        validation("missing q", st, doc, [("missing", "q", None)])
        check("missing q: msg", doc.get("detail", [{}])[0].get("msg") == "Field required", str(doc))
        for qs, want in (
                ("q=a&limit=0", [("greater_than_equal", "limit", "0")]),
                ("q=a&limit=101", [("less_than_equal", "limit", "101")]),
                ("q=a&limit=ten", [("int_parsing", "limit", "ten")]),
                ("q=a&limit=", [("int_parsing", "limit", "")]),
                ("q=a&offset=-1", [("greater_than_equal", "offset", "-1")]),
                ("q=a&offset=1.5", [("int_parsing", "offset", "1.5")]),
                ("q=a&offset=10001", [("less_than_equal", "offset", "10001")]),
                ("limit=0&offset=-1", [("missing", "q", None), ("greater_than_equal", "offset", "-1"),
                                       ("greater_than_equal", "limit", "0")]),
                ("q=" + "a" * (MAX_QUERY + 1), [("string_too_long", "q", "a" * (MAX_QUERY + 1))])):
            st, doc = raw(qs)
            validation("params " + qs[:40], st, doc, want)
        st, doc = raw("q=a&limit=0")
        item = doc["detail"][0] if isinstance(doc.get("detail"), list) and doc["detail"] else {}
        check("limit=0: FastAPI's msg and ctx", item.get("msg") == "Input should be greater than or equal to 1"
              and item.get("ctx") == {"ge": 1}, str(item))
        # validation comes before the index lookup, as in FastAPI
        st, doc = srv.get(BASE + "/search/nope?limit=0")
        check("bad params on an unknown index: 422", st == 422, "%s %s" % (st, doc))
        st, doc = raw("q=a&offset=%ZZ")
        check("bad %-escape: 400 with a string detail", st == 400 and is_api_error(doc), "%s %s" % (st, doc))

        # empty q: an empty page on both surfaces
        st, doc = search(srv, "")
        check("q= on /api/v1: 200", st == 200, "%s %s" % (st, doc))
        check_search_response("q= on /api/v1", doc, "", "papers")
        check("q= on /api/v1: empty, total 0", doc.get("results") == [] and doc.get("total") == 0
              and doc.get("has_more") is False, str(doc))
        st, doc = srv.get("/search/papers?q=")
        check("q= on /search: empty page", st == 200 and doc.get("results") == [] and doc.get("total") == 0,
              "%s %s" % (st, doc))
        st, doc = srv.request("POST", "/search/papers", b'{"q": ""}')
        check("POST q \"\": empty page", st == 200 and doc.get("results") == [] and doc.get("total") == 0,
              "%s %s" % (st, doc))
        st, doc = search(srv, "!!! ???")
        check("q with no searchable word on /api/v1: empty page",
              st == 200 and doc.get("results") == [] and doc.get("total") == 0, "%s %s" % (st, doc))

        # one limit for q: server.max_query on both surfaces
        long_q = "a" * MAX_QUERY
        st, _ = search(srv, long_q, limit=1)
        check("q of max_query bytes on /api/v1: 200", st == 200, str(st))
        st, _ = srv.get("/search/papers?limit=1&q=" + long_q)
        check("q of max_query bytes on /search: 200", st == 200, str(st))
        st, doc = srv.get("/search/papers?q=" + long_q + "a")
        check("q of max_query+1 bytes on /search: 422", st == 422 and "error" in doc, "%s %s" % (st, doc))

        # health
        st, doc = srv.get(BASE + "/health")
        check("health", st == 200 and doc.get("status") == "healthy" and isinstance(doc.get("version"), str),
              "%s %s" % (st, doc))

        # what FastAPI answers off the routes
        st, doc = srv.get(BASE + "/nowhere")
        check("unknown route: 404 Not Found", st == 404 and doc == {"detail": "Not Found"}, "%s %s" % (st, doc))
        st, doc = srv.request("POST", BASE + "/search/papers?q=a", b"{}")
        check("POST: 405", st == 405 and doc == {"detail": "Method Not Allowed"}, "%s %s" % (st, doc))

        # the native surface keeps its envelope
        st, doc = srv.get("/search/nope?q=a")
        check("native unknown index: error envelope", st == 404 and isinstance(doc.get("error"), dict),
              "%s %s" % (st, doc))
        st, doc = srv.get("/records/" + encode_uri_component("urn:osa:compat.test:rec:none@1"))
        check("native missing record: error envelope", st == 404 and isinstance(doc.get("error"), dict),
              "%s %s" % (st, doc))
    finally:
        srv.stop()

    off = Server("off", "osa_api = false;")
    try:
        st, doc = off.get(BASE + "/health")
        check("osa_api = false: /api/v1 is not served", st == 404 and isinstance(doc.get("error"), dict),
              "%s %s" % (st, doc))
        st, doc = off.get("/search/")
        check("osa_api = false: native routes stay", st == 200, "%s %s" % (st, doc))
    finally:
        off.stop()


try:
    main()
finally:
    shutil.rmtree(W, ignore_errors=True)
print("osa_compat: %d checks, %d failed" % (cases, len(failures)))
sys.exit(1 if failures else 0)

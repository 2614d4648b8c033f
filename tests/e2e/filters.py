# SPDX-License-Identifier: MIT
"""Filters, facets and hybrid search through HTTP, end to end: filtered
results and facets of a flat index against exact filtering in Python, a
type error refusing the batch, filter errors with their position, hostile
filters (1 MB, deep nesting, unknown attributes) answered 4xx with the
server still up, and hybrid search (RRF) against fusion computed here from
each index's own ranking, with stable pages.

usage: filters.py OSA WORK"""
import json
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request

import osaserve

osa, work = sys.argv[1:3]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
port = osaserve.free_port()
base = "http://127.0.0.1:%d" % port
ATTRS = """attributes = ( { name = "year"; type = "int"; },
                   { name = "type"; type = "keyword"; },
                   { name = "tags"; type = "keywords"; } );"""
cfg = os.path.join(work, "osa.cfg")
with open(cfg, "w") as f:
    f.write("""data_dir = "%s/data";
server = { listen = "%s"; };
logging = { level = "warn"; };
indexes = (
  { name = "text"; backend = "text";
    config = { fields = ["title"]; }; },
  { name = "exact"; backend = "flat"; %s
    config = { dim = 64; embedding = { embedder = "hash"; fields = ["title"]; }; }; },
  { name = "exact2"; backend = "flat"; %s
    config = { dim = 32; metric = "l2";
               embedding = { embedder = "hash"; fields = ["title"]; }; }; }
);
""" % (work, base, ATTRS, ATTRS))

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")}


def get(path, **params):
    return call("GET", path + "?" + urllib.parse.urlencode(params))


WORDS = ["sea", "ice", "glacier", "ocean", "snow", "melt", "arctic", "cold"]
TYPES = ["dataset", "article", "report"]
recs = []
for i in range(80):
    r = {"srn": "urn:osa:example.org:rec:e-%03d" % i,
         "title": " ".join(WORDS[(i * k + k) % len(WORDS)]
                           for k in range(1, 2 + i % 4))}
    if i % 7:
        r["year"] = 2000 + (i * 3) % 20
    if i % 5:
        r["type"] = TYPES[i % 3]
    r["tags"] = [WORDS[j] for j in range(len(WORDS)) if (i >> j) & 1][:3]
    recs.append(r)
byid = {r["srn"]: r for r in recs}

p = osaserve.serve(osa, cfg, work)
try:
    check(osaserve.wait_ready(base), "server ready")
    st, b = call("POST", "/records", recs)
    check(st == 200, "ingest: %s %s" % (st, b))

    # a wrong type refuses the whole batch, naming the record and field
    bad = [{"srn": "urn:osa:example.org:rec:new-1", "title": "sea"},
           {"srn": "urn:osa:example.org:rec:new-2", "title": "ice",
            "year": "2015"}]
    st, b = call("POST", "/records", bad)
    check(st == 422, "type error status %s" % st)
    check("attribute \\\"year\\\" is declared int" in json.dumps(b) or
          'attribute "year" is declared int' in json.dumps(b),
          "type error message: %s" % b)
    st, _ = call("GET", "/records/urn:osa:example.org:rec:new-1")
    check(st == 404, "nothing of the refused batch written")

    def matches(r, year_min=None, typ=None, tag=None):
        if year_min is not None and not ("year" in r and
                                         r["year"] >= year_min):
            return False
        if typ is not None and r.get("type") != typ:
            return False
        if tag is not None and tag not in r.get("tags", []):
            return False
        return True

    # filtered search on flat equals its own full ranking filtered here
    for (ymin, typ, tag) in [(2010, None, None), (None, "dataset", None),
                             (2005, "report", "sea"), (None, None, "ice")]:
        parts = []
        if ymin is not None:
            parts.append("year >= %d" % ymin)
        if typ is not None:
            parts.append('type = "%s"' % typ)
        if tag is not None:
            parts.append('tags = "%s"' % tag)
        filt = " AND ".join(parts)
        st, full = get("/search/exact", q="sea ice melt", limit=100)
        check(st == 200, "full ranking")
        want = [h["srn"] for h in full["results"]
                if matches(byid[h["srn"]], ymin, typ, tag)]
        st, got = get("/search/exact", q="sea ice melt", limit=100,
                      filter=filt, facets="type,tags,year",
                      facet_limit=1000)
        check(st == 200, "filtered %s: %s" % (filt, got))
        if st != 200:
            continue
        check([h["srn"] for h in got["results"]] == want,
              "filtered results equal exact filtering: " + filt)
        check(got["total"] == len(want) and got["total_exact"],
              "exact total for " + filt)
        # facets over every match
        cnt = {"type": {}, "tags": {}, "year": {}}
        for s in want:
            r = byid[s]
            if "type" in r:
                cnt["type"][r["type"]] = cnt["type"].get(r["type"], 0) + 1
            if "year" in r:
                y = str(r["year"])
                cnt["year"][y] = cnt["year"].get(y, 0) + 1
            for t in set(r["tags"]):
                cnt["tags"][t] = cnt["tags"].get(t, 0) + 1
        for name in cnt:
            fv = {v["value"]: v["count"]
                  for v in got["facets"][name]["values"]}
            check(fv == cnt[name], "facet %s for %s: %s vs %s"
                  % (name, filt, fv, cnt[name]))
        # paging inside the filtered list
        st, page = get("/search/exact", q="sea ice melt", limit=3,
                       offset=2, filter=filt)
        check([h["srn"] for h in page["results"]] == want[2:5],
              "filtered page 2..5 of " + filt)

    # errors point at the character, 422, field "filter"
    st, b = get("/search/exact", q="sea", filter="yaer >= 2015")
    check(st == 422 and b["error"]["field"] == "filter", "unknown attr")
    check(b["error"]["message"].startswith(
        'filter:1:1: unknown attribute "yaer"; did you mean "year"? '
        'declared: year, type, tags'), b["error"]["message"])
    st, b = get("/search/exact", q="sea", filter="year >= 2015 AND tpye = 1")
    check(st == 422 and b["error"]["message"].startswith("filter:1:18:"),
          "position: %s" % b)
    st, b = get("/search/exact", q="sea", facets="tpye")
    check(st == 422 and 'did you mean "type"' in b["error"]["message"],
          "facet did-you-mean: %s" % b)
    st, b = get("/search/text", q="sea", filter="year = 1")
    check(st in (200, 422), "text index with a filter: %s" % st)
    if st == 422:
        check("text" in b["error"]["message"], "names the backend: %s" % b)

    # hostile filters: 4xx, and the server stays up
    hostile = ["(" * 100000 + "year = 1" + ")" * 100000,
               "NOT " * 5000 + "year = 1",
               'type = "' + "x" * (1 << 20) + '"',
               " OR ".join("nope%d = 1" % i for i in range(2000))]
    for h in hostile:
        st, b = call("POST", "/search/exact", {"q": "sea", "filter": h})
        check(400 <= st < 500, "hostile filter %d bytes: %s" % (len(h), st))
        st, _ = call("GET", "/health")
        check(st == 200, "server up after a hostile filter")
    # long but valid: 3000 conditions in one AND chain
    st, b = call("POST", "/search/exact",
                 {"q": "sea", "filter": "year != 1 AND " * 3000 + "year = 2"})
    check(st == 200, "a long valid filter: %s" % st)
    st, _ = get("/search/exact", q="sea", filter="(" * 3000)
    check(400 <= st < 500, "deep nesting in the URL: %s" % st)

    # hybrid search: RRF of each index's own ranking
    def rrf(names, q, window, k=60.0, weights=None, filt=None):
        fused = {}
        for i, n in enumerate(names):
            params = {"q": q, "limit": min(window, 100)}
            if filt:
                params["filter"] = filt
            st, one = get("/search/" + n, **params)
            check(st == 200, "single %s" % n)
            for rank, h in enumerate(one["results"], 1):
                e = fused.setdefault(h["srn"], [0.0, {}])
                e[0] += (weights[i] if weights else 1.0) / (k + rank)
                e[1][n] = rank
        return sorted(fused.items(), key=lambda kv: (-kv[1][0], kv[0]))

    want = rrf(["text", "exact"], "sea ice", 20)
    st, got = get("/search", q="sea ice", indexes="text,exact", limit=20)
    check(st == 200, "hybrid GET: %s %s" % (st, got))
    if st == 200:
        check([h["srn"] for h in got["results"]] == [w[0] for w in want[:20]],
              "hybrid order equals RRF computed here")
        for h, w in zip(got["results"], want):
            check(abs(h["score"] - w[1][0]) < 1e-9, "fused score")
            check(h["ranks"] == w[1][1], "ranks %s vs %s" % (h["ranks"],
                                                            w[1][1]))
        check(got["indexes"] == ["text", "exact"] and
              got["fusion"] == "rrf", "hybrid reply fields")
    # pages are stable: offset 5, limit 5 fuses a window of 10
    want10 = rrf(["text", "exact"], "sea ice", 10)
    st, page = get("/search", q="sea ice", indexes="text,exact", limit=5,
                   offset=5)
    check([h["srn"] for h in page.get("results", [])] ==
          [w[0] for w in want10[5:10]], "hybrid page 2")
    # weights and rrf_k through POST, with a filter on two flat indexes
    want = rrf(["exact", "exact2"], "glacier", 10, k=10, weights=[2, 0.5],
               filt="year >= 2008")
    st, got = call("POST", "/search",
                   {"q": "glacier", "indexes": ["exact", "exact2"],
                    "weights": {"exact": 2, "exact2": 0.5}, "rrf_k": 10,
                    "limit": 10, "filter": "year >= 2008"})
    check(st == 200, "hybrid POST: %s %s" % (st, got))
    if st == 200:
        check([h["srn"] for h in got["results"]] == [w[0] for w in want[:10]],
              "weighted hybrid with a filter")
        check(all(byid[h["srn"]].get("year", 0) >= 2008
                  for h in got["results"]), "hybrid filter applied")
    # errors
    st, b = get("/search", q="sea", indexes="text,nope")
    check(st == 404, "hybrid unknown index: %s" % st)
    st, b = get("/search", q="sea", indexes="text,text")
    check(st == 422, "hybrid index twice: %s" % st)
    st, b = get("/search", q="sea", indexes="exact,exact2", weights="1")
    check(st == 422 and b["error"]["field"] == "weights", "weights count")
    st, b = get("/search", q="sea", indexes="exact,exact2", facets="type")
    check(st == 422 and b["error"]["field"] == "facets", "hybrid facets")
    st, b = get("/search")
    check(st == 200 and "indexes" in b, "GET /search still lists indexes")
finally:
    p.terminate()
    p.wait(timeout=30)

if failures:
    print("%d failure(s)" % len(failures), file=sys.stderr)
    sys.exit(1)
print("ok")

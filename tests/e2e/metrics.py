#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""GET /metrics: the Prometheus text exposition format, checked by strict
parsers (promtool's `check metrics` linter when installed, and the Python
client's parser), and its figures checked against what the test did:
requests by route and status, latency histograms, per-index records, LSN
lag, checkpoint age, degraded indexes, process RSS.

    metrics.py OSA SRC WORK
"""
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

import osaserve

osa, src, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
port = osaserve.free_port()
base = "http://127.0.0.1:%d" % port
p = osaserve.serve(osa, osaserve.default_config(src, work, port), work)
fails = []


def req(method, url, body=None):
    r = urllib.request.Request(base + url, data=body, method=method)
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


try:
    if not osaserve.wait_ready(base):
        fails.append("/health never answered 200")
    recs = "\n".join(json.dumps({
        "srn": "urn:osa:metrics.test:rec:r-%03d@1" % i,
        "title": "glacier survey %d" % i,
        "summary": "ice and snow measurements"}) for i in range(20))
    st, _, _ = req("POST", "/records", recs.encode())
    if st != 200:
        fails.append("ingest answered %d" % st)
    for q in ("glacier", "ice", "snow"):
        req("GET", "/search/papers?q=" + q)
    req("GET", "/search/nosuch?q=x")          # 404
    req("GET", "/records/urn:osa:metrics.test:rec:r-001@1")
    st, headers, text = req("GET", "/metrics")
    if st != 200:
        fails.append("/metrics answered %d" % st)
    ctype = headers.get("Content-Type", "")
    if not ctype.startswith("text/plain; version=0.0.4"):
        fails.append("content type %r" % ctype)
    with open(os.path.join(work, "metrics.txt"), "w") as f:
        f.write(text)
    if shutil.which("promtool"):
        lint = subprocess.run(["promtool", "check", "metrics"], input=text,
                              capture_output=True, text=True)
        if lint.returncode != 0:
            fails.append("promtool: " + lint.stdout + lint.stderr)
    else:
        print("metrics: promtool not installed; Python parser only")
    fams = {f.name: f for f in text_string_to_metric_families(text)}

    def samples(name):
        return [s for f in fams.values() for s in f.samples
                if s.name == name]

    def value(name, **labels):
        for s in samples(name):
            if all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        fails.append("no sample %s%s" % (name, labels))
        return None

    if value("osa_http_requests_total", route="/search/{index}",
             status="200") != 3:
        fails.append("search 200 count is not 3")
    if value("osa_http_requests_total", route="/search/{index}",
             status="404") != 1:
        fails.append("search 404 count is not 1")
    if value("osa_http_requests_total", route="/records", status="200") != 1:
        fails.append("records 200 count is not 1")
    if value("osa_http_request_duration_seconds_count",
             route="/search/{index}") != 4:
        fails.append("search latency count is not 4")
    if value("osa_http_request_duration_seconds_bucket",
             route="/search/{index}", le="+Inf") != 4:
        fails.append("+Inf bucket is not 4")
    for ix, be in (("papers", "vector"), ("exact", "flat"), ("text", "text")):
        if value("osa_index_records", index=ix, backend=be) != 20:
            fails.append("%s records are not 20" % ix)
        if value("osa_index_lag", index=ix, backend=be) != 0:
            fails.append("%s lag is not 0" % ix)
        if value("osa_index_degraded", index=ix, backend=be) != 0:
            fails.append("%s reported degraded" % ix)
        age = value("osa_index_checkpoint_age_seconds", index=ix, backend=be)
        if age is None or age < 0:
            fails.append("%s checkpoint age %r" % (ix, age))
        if not value("osa_index_bytes", index=ix, backend=be) and ix != "text":
            pass  # nothing checkpointed yet is fine: bytes may be 0
    if value("osa_records") != 20:
        fails.append("osa_records is not 20")
    if (value("osa_process_resident_memory_bytes") or 0) < 1 << 20:
        fails.append("RSS below 1 MiB")
    st, headers, _ = req("POST", "/metrics", b"")
    if st != 405:
        fails.append("POST /metrics answered %d, not 405" % st)
finally:
    p.terminate()
    p.wait(timeout=120)
for f in fails:
    print("FAIL:", f)
if fails:
    sys.exit(1)
print("metrics: exposition valid; counters, histograms and gauges agree")

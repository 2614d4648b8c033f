#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/soak: `osa serve` under 8 writer and 32 reader clients for a while
(loopback only, bounded in time and count), then checks that every
acknowledged record is present, counts agree across indexes, RSS did not
grow without bound, and errors were zero.  Prints JSON lines.

usage: soak.py OSA_BINARY [--seconds 60] [--writers 8] [--readers 32]
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("osa")
ap.add_argument("--seconds", type=float, default=60)
ap.add_argument("--writers", type=int, default=8)
ap.add_argument("--readers", type=int, default=32)
ap.add_argument("--max-records", type=int, default=400000)
a = ap.parse_args()

s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
work = tempfile.mkdtemp(prefix="osa-soak-")
cfg = os.path.join(work, "osa.cfg")
with open(cfg, "w") as f:
    f.write('data_dir = "%s/data";\nserver = { listen = "http://127.0.0.1:%d"; };\n'
            'logging = { level = "warn"; };\n'
            'indexes = ( { name = "papers"; backend = "vector"; config = { dim = 128; }; },\n'
            '            { name = "exact"; backend = "flat"; config = { dim = 128; }; } );\n'
            % (work, port))
server = subprocess.Popen([a.osa, "serve", "-c", cfg], stderr=open(os.path.join(work, "log"), "w"))


def rss_kb():
    with open("/proc/%d/status" % server.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def conn():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


for _ in range(100):
    try:
        c = conn()
        c.request("GET", "/health")
        if c.getresponse().status == 200:
            break
    except OSError:
        time.sleep(0.1)
rss_start = rss_kb()
stop = time.time() + a.seconds
lock = threading.Lock()
acked, errors = [], []
reads = [0]
words = ["glacier", "survey", "volcano", "model", "river", "analysis", "dataset", "review"]
budget = [a.max_records]


def writer(w):
    c = conn()
    i = 0
    while time.time() < stop:
        with lock:
            if budget[0] <= 0:
                break
            budget[0] -= 10
        recs = [{"srn": "urn:osa:soak.org:rec:w%d-%d" % (w, i + k),
                 "title": "%s %s %d" % (words[(i + k) % 8], words[(w + k) % 8], i + k),
                 "summary": "soak record %d of writer %d" % (i + k, w)} for k in range(10)]
        i += 10
        try:
            c.request("POST", "/records", "\n".join(json.dumps(r) for r in recs))
            r = c.getresponse()
            body = r.read()
            if r.status == 200:
                with lock:
                    acked.extend(x["srn"] for x in recs)
            else:
                errors.append("write %d %s" % (r.status, body[:100]))
        except OSError as e:
            errors.append("write " + str(e))
            c = conn()


def reader(n):
    c = conn()
    k = n
    while time.time() < stop:
        k += 1
        q = urllib.parse.quote("%s %s" % (words[k % 8], words[(k * 3) % 8]))
        try:
            c.request("GET", "/search/%s?q=%s&limit=10" % ("papers" if k % 2 else "exact", q))
            r = c.getresponse()
            r.read()
            if r.status != 200:
                errors.append("read %d" % r.status)
            else:
                with lock:
                    reads[0] += 1
        except OSError as e:
            errors.append("read " + str(e))
            c = conn()


t0 = time.time()
threads = [threading.Thread(target=writer, args=(w,)) for w in range(a.writers)]
threads += [threading.Thread(target=reader, args=(r,)) for r in range(a.readers)]
for t in threads:
    t.start()
rss_mid = []
while any(t.is_alive() for t in threads):
    time.sleep(1)
    rss_mid.append(rss_kb())
for t in threads:
    t.join()
elapsed = time.time() - t0
rss_end = rss_kb()

# Every acknowledged record is there; counts agree.
c = conn()
lost = 0
for srn in acked:
    c.request("GET", "/records/" + urllib.parse.quote(srn, safe=""))
    r = c.getresponse()
    r.read()
    lost += r.status != 200
c.request("GET", "/stats")
st = json.loads(c.getresponse().read())
counts = {k: v["count"] for k, v in st["indexes"].items()}
agree = all(v == st["records"] for v in counts.values())
server.send_signal(signal.SIGTERM)
code = server.wait(timeout=120)
print(json.dumps({"bench": "soak", "seconds": round(elapsed, 1), "writers": a.writers,
                  "readers": a.readers, "acked_records": len(acked), "lost": lost,
                  "writes_per_s": round(len(acked) / elapsed), "reads": reads[0],
                  "reads_per_s": round(reads[0] / elapsed), "errors": len(errors),
                  "records": st["records"], "index_counts": counts, "counts_agree": agree,
                  "rss_kb_start": rss_start, "rss_kb_end": rss_end,
                  "rss_kb_max": max(rss_mid + [rss_end]), "exit": code}))
for e in errors[:10]:
    print("error: " + e, file=sys.stderr)
shutil.rmtree(work, ignore_errors=True)
sys.exit(0 if not lost and not errors and agree and code == 0 else 1)

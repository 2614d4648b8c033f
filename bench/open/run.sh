#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/open: how fast a data directory of N records (default 118 000, one
# `vector` index of dim 256, hash embedder) serves after a restart:
#   - `osa serve` start to the first 200 from /health (every index ready);
#   - `osa search` as a one-shot command (open, embed, search, close);
# each the median of 5 runs, page cache warm (as after a restart of the
# service).  Targets (issue #12): 100 ms and 150 ms.  Peer in the same run,
# when Debian's python3-hnswlib is installed: hnswlib's own load_index() of
# a graph of the same size (N x dim, M 16), which reads and copies the file.
#   bench/open/run.sh BUILD [N] [DIM]
# OSA_BENCH_OPEN_DIR=DIR keeps the data (and the peer's graph) there between
# runs: building them takes minutes.
set -eu
BUILD=$1
N=${2:-118000}
DIM=${3:-256}
OSA=$BUILD/core/cli/osa
PY=/usr/bin/python3
if [ -n "${OSA_BENCH_OPEN_DIR:-}" ]; then
	W=$OSA_BENCH_OPEN_DIR
	mkdir -p "$W"
	trap '[ -n "${PID:-}" ] && kill $PID 2>/dev/null; true' EXIT
else
	W=$(mktemp -d /tmp/osa-bench-open-XXXXXX)
	trap '[ -n "${PID:-}" ] && kill $PID 2>/dev/null; rm -rf "$W"' EXIT
fi
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
server = { listen = "http://127.0.0.1:$PORT"; };
logging = { level = "warn"; };
indexes = ( { name = "papers"; backend = "vector"; config = { dim = $DIM; }; } );
CFG
if [ ! -f "$W/ready-$N-$DIM" ]; then
	rm -rf "$W/data"
	$PY - "$N" >"$W/records.ndjson" <<'PYEOF'
import json, random, sys
rng = random.Random(11)
words = [l.strip().lower() for l in open("/usr/share/dict/american-english") if l.strip().isalpha() and l.strip().isascii()][:30000]
for i in range(int(sys.argv[1])):
    print(json.dumps({"srn": "urn:osa:bench.org:rec:i-%d" % i,
                      "title": " ".join(rng.sample(words, 6)),
                      "summary": " ".join(rng.sample(words, 24))}))
PYEOF
	"$OSA" -c "$W/osa.cfg" ingest --batch 1000 "$W/records.ndjson" 2>/dev/null
	# Shut down cleanly once more, so that the snapshot covers everything.
	"$OSA" -c "$W/osa.cfg" compact >/dev/null
	touch "$W/ready-$N-$DIM"
fi
"$PY" - "$OSA" "$W/osa.cfg" "$PORT" "$N" "$DIM" "$W" <<'PYEOF'
import json, os, statistics, subprocess, sys, time, urllib.request
osa, cfg, port, n, dim, w = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
url = "http://127.0.0.1:%s/health" % port

def serve_once():
    t0 = time.perf_counter()
    p = subprocess.Popen([osa, "-c", cfg, "serve"], stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except Exception:
                pass
            if p.poll() is not None:
                raise SystemExit("osa serve exited with %d" % p.returncode)
            time.sleep(0.001)
    finally:
        p.terminate()
        p.wait()

def search_once():
    t0 = time.perf_counter()
    subprocess.run([osa, "-c", cfg, "search", "papers", "glacier river survey", "--limit", "10"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0

serve_once()  # warm the page cache
serve = statistics.median(serve_once() for _ in range(5))
search = statistics.median(search_once() for _ in range(5))
snap = os.path.join(w, "data", "indexes", "papers", "vector.snap")
print(json.dumps({"impl": "osa", "records": n, "dim": dim, "snapshot_mb": round(os.path.getsize(snap) / 1e6, 1),
                  "serve_to_health_ms": round(serve * 1000, 1), "one_shot_search_ms": round(search * 1000, 1)}))
peer = None
try:
    import hnswlib, numpy as np
    path = os.path.join(w, "hnswlib-%d-%d.bin" % (n, dim))
    if not os.path.exists(path):
        rng = np.random.default_rng(5)
        data = rng.standard_normal((n, dim), dtype=np.float32)
        g = hnswlib.Index(space="ip", dim=dim)
        g.init_index(max_elements=n, M=16, ef_construction=40)
        g.add_items(data, np.arange(n))
        g.save_index(path)
    def load_once():
        t0 = time.perf_counter()
        g = hnswlib.Index(space="ip", dim=dim)
        g.load_index(path, max_elements=n)
        g.knn_query(np.ones((1, dim), dtype=np.float32), k=10)
        return time.perf_counter() - t0
    load_once()
    peer = statistics.median(load_once() for _ in range(5))
    print(json.dumps({"impl": "python3-hnswlib load_index + 1 query", "records": n, "dim": dim,
                      "ms": round(peer * 1000, 1)}))
except ImportError:
    pass
out = {"bench": "open", "serve_to_health_ms": round(serve * 1000, 1), "target_ms": 100,
       "one_shot_search_ms": round(search * 1000, 1), "target_search_ms": 150}
if peer:
    out["ratio_peer_load_over_osa_serve"] = round(peer / serve, 2)
print(json.dumps(out))
PYEOF

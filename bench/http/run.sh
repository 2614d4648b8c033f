#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/http: wrk against GET /search/{index}?q=... on 30 000 records (dim
# 128, hash embedder), 32 connections, 30 s; and the in-process query rate
# (osa-bench-query, same queries, 2 threads) measured in the same run.
# Targets (issue #12): 20 000 req/s, p99 <= 5 ms, HTTP / in-process >= 0.9.
#   bench/http/run.sh BUILD [RECORDS] [SECONDS] [DIM]
set -eu
BUILD=$1
N=${2:-30000}
DUR=${3:-30}
DIM=${4:-128}
OSA=$BUILD/core/cli/osa
W=$(mktemp -d /tmp/osa-bench-http-XXXXXX)
trap 'kill $PID 2>/dev/null; [ -n "${OSA_BENCH_KEEP:-}" ] || rm -rf "$W"' EXIT
PID=
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
server = { listen = "http://127.0.0.1:$PORT"; };
logging = { level = "warn"; };
indexes = ( { name = "papers"; backend = "vector"; config = { dim = $DIM; }; } );
CFG
python3 - "$N" >"$W/records.ndjson" <<'PY'
import json, random, sys
rng = random.Random(7)
words = [l.strip().lower() for l in open("/usr/share/dict/american-english") if l.strip().isalpha() and l.strip().isascii()][:20000]
base = ["analysis", "survey", "dataset", "review", "model", "study", "glacier", "river"]
for i in range(int(sys.argv[1])):
    t = " ".join(rng.sample(base, 2) + rng.sample(words, 3))
    s = " ".join(rng.sample(words, 25))
    print(json.dumps({"srn": "urn:osa:bench.org:rec:b-%d" % i, "title": t, "summary": s}))
PY
t0=$(date +%s.%N)
"$OSA" -c "$W/osa.cfg" ingest --batch 1000 "$W/records.ndjson" 2>/dev/null
t1=$(date +%s.%N)
echo "{\"bench\":\"http\",\"step\":\"ingest\",\"records\":$N,\"seconds\":$(python3 -c "print(round($t1-$t0,1))")}"
inproc=$("$BUILD/bench/http/osa-bench-query" "$W/osa.cfg" papers 10 2)
echo "$inproc"
"$OSA" -c "$W/osa.cfg" serve 2>"$W/log" &
PID=$!
for _ in $(seq 1 600); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ] && break; sleep 0.1; done
cat >"$W/q.lua" <<'LUA'
local words = {"analysis", "survey", "dataset", "review", "model", "study", "glacier", "river"}
local k = 0
request = function()
  k = k + 1
  local q = words[k % 8 + 1] .. "+" .. words[(k * 3 + 1) % 8 + 1]
  return wrk.format("GET", "/search/papers?q=" .. q .. "&limit=20")
end
LUA
wrk -t2 -c32 -d"${DUR}s" --latency -s "$W/q.lua" "http://127.0.0.1:$PORT" >"$W/wrk.txt"
python3 - "$W/wrk.txt" "$inproc" <<'PY'
import json, re, sys
t = open(sys.argv[1]).read()
inproc = json.loads(sys.argv[2])["qps"]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
def pct(p):
    m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % p, t)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(json.dumps({"impl": "http", "connections": 32, "rps": rps, "p50_ms": pct(50), "p99_ms": pct(99),
                  "non_2xx": int(errs.group(1)) if errs else 0}))
print(json.dumps({"bench": "http", "ratio_http_over_inprocess": round(rps / inproc, 3),
                  "targets": {"rps": 20000, "p99_ms": 5, "ratio": 0.9}}))
PY
kill -TERM $PID
wait $PID || true
PID=

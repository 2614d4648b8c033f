#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/ingest: end-to-end `osa ingest` of N records (default 100 000) into
# one vector index (dim 384, hash embedder), against building the same index
# straight through the backend API in the same run (target ratio >= 0.8);
# then the time to reopen the data directory and answer a first query
# (target < 0.5 s, no rebuild) and the journal's bytes per record.
#   bench/ingest/run.sh BUILD [N]
#
# Thread mode: the build rate of that index through the backend API with
# `threads` = 1 and 2, against hnswlib's C++ and python3-hnswlib building
# the same vectors on one thread, in the same run (target: 2 threads at
# >= 1.5x hnswlib; N defaults to 20 000, every build runs 3 times, best kept).
#   bench/ingest/run.sh BUILD --threads [N] [osa-bench-ingest-threads options]
set -eu
BUILD=$1
MODE=journal
if [ "${2:-}" = --threads ]; then
	MODE=threads
	shift
fi
if [ $MODE = threads ]; then
	N=${2:-20000}
	shift $(($# < 2 ? $# : 2))
else
	N=${2:-100000}
fi
OSA=$BUILD/core/cli/osa
W=$(mktemp -d /tmp/osa-bench-ingest-XXXXXX)
trap 'rm -rf "$W"' EXIT
python3 - "$N" >"$W/records.ndjson" <<'PY'
import json, random, sys
rng = random.Random(11)
words = [l.strip().lower() for l in open("/usr/share/dict/american-english") if l.strip().isalpha() and l.strip().isascii()][:30000]
for i in range(int(sys.argv[1])):
    print(json.dumps({"srn": "urn:osa:bench.org:rec:i-%d" % i,
                      "title": " ".join(rng.sample(words, 6)),
                      "summary": " ".join(rng.sample(words, 24))}))
PY
if [ $MODE = threads ]; then
	"$BUILD/bench/ingest/osa-bench-ingest-threads" "$W/records.ndjson" "$W" "$@"
	exit
fi
cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
logging = { level = "warn"; };
indexes = ( { name = "papers"; backend = "vector"; config = { dim = 384; }; } );
CFG
mkdir -p "$W/direct"
direct=$("$BUILD/bench/ingest/osa-bench-ingest-direct" "$W/records.ndjson" "$W/direct")
echo "$direct"
t0=$(date +%s.%N)
"$OSA" -c "$W/osa.cfg" ingest --batch 1000 "$W/records.ndjson" 2>/dev/null
t1=$(date +%s.%N)
"$OSA" -c "$W/osa.cfg" search papers "warm" --limit 1 >/dev/null 2>&1 || true
t2=$(date +%s.%N)
"$OSA" -c "$W/osa.cfg" search papers "first query" --limit 5 >/dev/null
t3=$(date +%s.%N)
jb=$("$OSA" -c "$W/osa.cfg" stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["journal_bytes"])')
python3 - "$direct" "$N" "$t0" "$t1" "$t2" "$t3" "$jb" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); n = int(sys.argv[2])
t0, t1, t2, t3 = map(float, sys.argv[3:7]); jb = int(sys.argv[7])
rate = n / (t1 - t0)
print(json.dumps({"impl": "osa ingest", "records": n, "seconds": round(t1 - t0, 2), "records_per_s": round(rate)}))
print(json.dumps({"bench": "ingest", "ratio_osa_over_direct": round(rate / d["records_per_s"], 3), "target": 0.8}))
print(json.dumps({"bench": "ingest", "reopen_and_first_query_s": round(t3 - t2, 3), "target_s": 0.5,
                  "journal_bytes_per_record": round(jb / n)}))
PY

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Failure isolation, end to end: `osa serve` with a postgres index and a
# text index; a client keeps posting batches (new records, upserts,
# deletes) while the PostgreSQL server is killed (pg_ctl -m immediate: a
# crash) in the middle of the ingest.  While it is down every write is
# still acknowledged (journal), /health shows the postgres index degraded
# with libpq's message, the text index keeps answering.  The server comes
# back; the index reconnects and catches up by itself; the table then
# equals the journal: every live record once with its last text, nothing
# lost, nothing doubled, and the state row's count agrees.  Finally osa is
# restarted and opens the index at its stored LSN with the same answers.
#   failover.sh OSA PGDIR PGBIN WORK
set -u
OSA=$1
PGDIR=$2
PGBIN=$3
W=$4
HERE=$(cd "$(dirname "$0")" && pwd)
PG() { "$HERE/pgcluster.sh" "$1" "$PGDIR" "$PGBIN"; }
PID=
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	PG stop >/dev/null 2>&1
	[ $fail = 0 ] && rm -rf "$W"
}
PG start || exit $?
trap cleanup EXIT
rm -rf "$W"
mkdir -p "$W"
PSQL() { "$PGBIN/psql" -X -q -At -h "$PGDIR" -p 5432 -U osa -d osa -c "$1"; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
server = { listen = "$URL"; nng = ""; api_key = ""; };
logging = { level = "warn"; format = "text"; };
indexes = (
  { name = "pg"; backend = "postgres";
    config = { conninfo = "host=$PGDIR port=5432 dbname=osa user=osa";
               table = "failover"; fields = ["title", "summary"];
               connect_timeout = 2; }; },
  { name = "kw"; backend = "text"; config = { fields = ["title", "summary"]; }; }
);
CFG
serve() {
	"$OSA" -c "$W/osa.cfg" serve 2>>"$W/server.log" &
	PID=$!
	for _ in $(seq 1 150); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && return 0
		sleep 0.1
	done
	die "osa serve not healthy: $(curl -s "$URL/health"; tail -5 "$W/server.log")"
	return 1
}
serve || exit 1

S=urn:osa:failover.example.org:rec
# Batch B: records B*10..B*10+9; every third batch also rewrites record
# B*10-20 (an upsert) and every fifth deletes record B*10-15.
batch() {
	local b=$1 i lo=$(($1 * 10))
	for i in $(seq $lo $((lo + 9))); do
		echo "{\"srn\":\"$S:item-$i\",\"title\":\"Record $i\",\"summary\":\"sediment core number $i v1\"}"
	done
	if [ $((b % 3)) = 0 ] && [ $lo -ge 20 ]; then
		i=$((lo - 20))
		echo "{\"srn\":\"$S:item-$i\",\"title\":\"Record $i\",\"summary\":\"sediment core number $i v2 rewritten\"}"
	fi
}
post() { # post BATCH: 200 or fail
	local code
	batch "$1" >"$W/b.ndjson"
	code=$(curl -s -o "$W/post.out" -w '%{http_code}' -X POST "$URL/records" \
		-H 'Content-Type: application/x-ndjson' --data-binary @"$W/b.ndjson")
	[ "$code" = 200 ] || die "batch $1: HTTP $code: $(head -c 300 "$W/post.out")"
	if [ $(($1 % 5)) = 0 ] && [ "$1" -ge 2 ]; then
		code=$(curl -s -o "$W/post.out" -w '%{http_code}' -X DELETE \
			"$URL/records/$S:item-$(($1 * 10 - 15))")
		[ "$code" = 200 ] || die "delete in batch $1: HTTP $code: $(head -c 300 "$W/post.out")"
	fi
}

echo "== ingest, the server killed in the middle"
# The client posts in the background; the server is killed while it does
# (after batch 10 was acknowledged, with more in flight).
(
	for b in $(seq 0 39); do
		post "$b"
		echo "$b" >"$W/posted"
	done
	echo $fail >"$W/client-fail"
) &
client=$!
for _ in $(seq 1 600); do
	[ "$(cat "$W/posted" 2>/dev/null)" -ge 10 ] 2>/dev/null && break
	sleep 0.05
done
PG kill || die "cannot kill the PostgreSQL server"
echo "(server killed after batch $(cat "$W/posted") was acknowledged)"
wait $client
[ "$(cat "$W/client-fail")" = 0 ] || die "writes were refused while the server was down"
[ "$(cat "$W/posted")" = 39 ] || die "the client stopped at batch $(cat "$W/posted")"
# Down: writes were acknowledged (above), the index is degraded with
# libpq's message, the other index answers.
st=$(curl -s -o "$W/health" -w '%{http_code}' "$URL/health")
[ "$st" = 503 ] || die "/health with the server down: HTTP $st, want 503: $(cat "$W/health")"
python3 - "$W/health" <<'PY' || die "/health while down: $(cat "$W/health")"
import json, sys
d = json.load(open(sys.argv[1]))
pg, kw = d["indexes"]["pg"], d["indexes"]["kw"]
assert d["status"] == "degraded", d
assert pg["state"] == "degraded", pg
why = pg.get("reason", "") + pg.get("problem", "")
assert "PostgreSQL" in why and ("connect" in why or "server" in why), pg
assert kw["state"] == "ready", kw
PY
code=$(curl -s -o "$W/kw" -w '%{http_code}' "$URL/search/kw?q=sediment+core+number+395")
[ "$code" = 200 ] || die "text index while postgres is down: HTTP $code: $(cat "$W/kw")"
code=$(curl -s -o "$W/pgq" -w '%{http_code}' "$URL/search/pg?q=sediment")
[ "$code" = 503 ] || die "postgres index while down: HTTP $code, want 503: $(cat "$W/pgq")"

echo "== the server back: reconnect with backoff, catch up from the journal"
PG restart || die "cannot restart the PostgreSQL server"
ok=0
for _ in $(seq 1 120); do
	if [ "$(curl -s -o "$W/health" -w '%{http_code}' "$URL/health")" = 200 ]; then
		ok=1
		break
	fi
	sleep 0.5
done
[ $ok = 1 ] || die "not healthy 60 s after the server returned: $(cat "$W/health")"

# What the journal says: the live records with their last text.
python3 - >"$W/expect" <<'PY'
S = "urn:osa:failover.example.org:rec"
live = {}
for b in range(40):
    lo = b * 10
    for i in range(lo, lo + 10):
        live[i] = "Record %d\nsediment core number %d v1" % (i, i)
    if b % 3 == 0 and lo >= 20:
        i = lo - 20
        live[i] = "Record %d\nsediment core number %d v2 rewritten" % (i, i)
    if b % 5 == 0 and b >= 2:
        live.pop(b * 10 - 15, None)
for i in sorted(live, key=lambda i: "%s:item-%d" % (S, i)):
    print("%s:item-%d|%s" % (S, i, live[i].replace("\n", "\\n")))
PY
PSQL "SELECT srn || '|' || replace(body, E'\n', '\\n') FROM failover ORDER BY srn COLLATE \"C\"" >"$W/table" ||
	die "cannot read the table"
if ! cmp -s "$W/expect" "$W/table"; then
	die "the table differs from the journal: $(diff "$W/expect" "$W/table" | head -20)"
fi
n=$(wc -l <"$W/expect")
[ "$(PSQL "SELECT n FROM failover_state")" = "$n" ] ||
	die "state row count $(PSQL "SELECT n FROM failover_state"), want $n"
curl -s "$URL/stats" >"$W/stats"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); c=d['indexes']['pg']['count']; assert c==int(sys.argv[2]), c" \
	"$W/stats" "$n" || die "stats count: $(cat "$W/stats")"
curl -s "$URL/search/pg?q=sediment+core+number+395" >"$W/q1"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['results'][0]['srn'].endswith(':item-395'), d" "$W/q1" ||
	die "a record posted while the server was down is not found: $(cat "$W/q1")"

echo "== osa restarted: opens at the stored LSN, same answers"
kill -TERM "$PID"
wait "$PID" || die "osa exit status $? after SIGTERM"
PID=
lsn=$(PSQL "SELECT lsn FROM failover_state")
[ "$lsn" -gt 0 ] || die "no LSN stored at shutdown: $lsn"
serve || exit 1
curl -s "$URL/search/pg?q=sediment+core+number+395" >"$W/q2"
cmp -s "$W/q1" "$W/q2" || die "answers differ after the restart: $(cat "$W/q1") vs $(cat "$W/q2")"
PSQL "SELECT srn || '|' || replace(body, E'\n', '\\n') FROM failover ORDER BY srn COLLATE \"C\"" >"$W/table2"
cmp -s "$W/expect" "$W/table2" || die "the table changed across the restart"
grep -q "ERROR\|rebuild" "$W/server.log" && echo "(server log: $(grep -c ERROR "$W/server.log") errors while the server was down)"
[ $fail = 0 ] && echo "ok"
exit $fail

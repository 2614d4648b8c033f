#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The LSN and the data never disagree (ingest_batch_at/remove_at: the
# change and T_state.lsn in one transaction), shown by killing osa -9:
#   1. a client makes 40 changes (batches, rewrites, deletes), one at a
#      time, each acknowledged; no checkpoint is due (huge intervals), so
#      /stats shows checkpoint_lsn far behind; osa is killed with SIGKILL.
#      The state row's lsn is the last acknowledged change, the table is
#      the journal's records, n agrees; a restarted osa replays nothing.
#   2. the client goes on in the background and osa is killed -9 in the
#      middle: the state row's lsn L is the last acknowledged change or the
#      one in flight, and the table is exactly the records after change L.
#      Restarted, osa replays from L only, and the table equals the journal.
#   kill9.sh OSA PGDIR WORK   (the cluster of tests/pgcluster.sh)
set -u
OSA=$1
PGDIR=$2
W=$3
PID=
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	[ $fail = 0 ] && rm -rf "$W"
}
trap cleanup EXIT
if [ ! -S "$PGDIR/.s.PGSQL.5432" ]; then
	echo "no PostgreSQL cluster at $PGDIR (osa.postgres.cluster_start): skipped"
	exit 77
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PSQL() { "$PGBIN/psql" -X -q -At -h "$PGDIR" -p 5432 -U osa -d osa -c "$1"; }
rm -rf "$W"
mkdir -p "$W"
PSQL "DROP TABLE IF EXISTS kill9, kill9_state" || die "psql"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
server = { listen = "$URL"; nng = ""; api_key = ""; };
logging = { level = "info"; format = "text"; };
checkpoint_interval = { ops = 1000000; seconds = 86400; };
indexes = (
  { name = "pg"; backend = "postgres";
    config = { conninfo = "host=$PGDIR port=5432 dbname=osa user=osa";
               table = "kill9"; fields = ["title", "summary"]; }; }
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

# The changes, one per LSN (the journal is new): change k deletes the
# record change k-1 created when k is a multiple of 7, else posts three
# new records and, when k is a multiple of 5, rewrites an older one.
cat >"$W/model.py" <<'PY'
import json, sys, urllib.request
S = "urn:osa:kill9.example.org:rec"

def change(k):
    if k % 7 == 0:
        return ("delete", "%s:item-%d" % (S, 3 * (k - 1)))
    recs = [{"srn": "%s:item-%d" % (S, i), "title": "Record %d" % i,
             "summary": "ice core number %d v1" % i}
            for i in range(3 * k, 3 * k + 3)]
    if k % 5 == 0:
        i = 3 * (k - 4)
        recs.append({"srn": "%s:item-%d" % (S, i), "title": "Record %d" % i,
                     "summary": "ice core number %d v2 of change %d" % (i, k)})
    return ("post", recs)

def table(upto):  # the records after changes 1..upto, as the table dump
    live = {}
    for k in range(1, upto + 1):
        op, arg = change(k)
        if op == "delete":
            live.pop(arg, None)
        else:
            for r in arg:
                live[r["srn"]] = r["title"] + "\\n" + r["summary"]
    return "".join("%s|%s\n" % (s, live[s]) for s in sorted(live, key=lambda s: s.encode()))

def client(url, first, last, acked):  # apply changes; write each acked k
    for k in range(first, last + 1):
        op, arg = change(k)
        if op == "delete":
            req = urllib.request.Request(url + "/records/" + arg, method="DELETE")
        else:
            req = urllib.request.Request(
                url + "/records", data="\n".join(json.dumps(r) for r in arg).encode(),
                headers={"Content-Type": "application/x-ndjson"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                body = json.load(r)
        except Exception as e:
            print("change %d: %s" % (k, e), file=sys.stderr)
            return
        if op == "delete" and body.get("deleted") is not True:
            print("change %d: %s was not there" % (k, arg), file=sys.stderr)
            sys.exit(1)
        if op == "post" and body.get("lsn") != k:
            print("change %d acknowledged with lsn %s" % (k, body.get("lsn")), file=sys.stderr)
            sys.exit(1)
        with open(acked, "w") as f:
            f.write("%d\n" % k)

if sys.argv[1] == "table":
    sys.stdout.write(table(int(sys.argv[2])))
else:
    client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
PY
dump() { PSQL "SELECT srn || '|' || replace(body, E'\n', '\\n') FROM kill9 ORDER BY srn COLLATE \"C\""; }
ixstat() { # ixstat KEY: the pg index's KEY in /stats
	curl -s "$URL/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['indexes']['pg']['$1'])"
}
check_table() { # check_table UPTO WHAT
	python3 "$W/model.py" table "$1" >"$W/expect"
	dump >"$W/table" || die "$2: cannot read the table"
	cmp -s "$W/expect" "$W/table" ||
		die "$2: the table is not the records after change $1: $(diff "$W/expect" "$W/table" | head -10)"
	[ "$(PSQL "SELECT n FROM kill9_state")" = "$(wc -l <"$W/expect")" ] ||
		die "$2: state row n $(PSQL "SELECT n FROM kill9_state"), want $(wc -l <"$W/expect")"
}

echo "== 1. 40 acknowledged changes, no checkpoint, kill -9"
serve || exit 1
python3 "$W/model.py" client "$URL" 1 40 "$W/acked" || die "client"
[ "$(cat "$W/acked")" = 40 ] || die "the client stopped at change $(cat "$W/acked")"
[ "$(ixstat applied_lsn)" = 40 ] || die "applied_lsn $(ixstat applied_lsn), want 40"
ck=$(ixstat checkpoint_lsn)
[ "$ck" -lt 40 ] || die "a checkpoint covered change $ck: the test shows nothing"
kill -9 "$PID"
wait "$PID" 2>/dev/null
PID=
[ "$(PSQL "SELECT lsn FROM kill9_state")" = 40 ] ||
	die "after kill -9: state row lsn $(PSQL "SELECT lsn FROM kill9_state"), want 40 (the last acknowledged change; checkpoint_lsn was $ck)"
check_table 40 "after kill -9"
: >"$W/server.log"
serve || exit 1
grep -q "index=pg replaying" "$W/server.log" &&
	die "restarted, osa replayed changes the table had: $(grep "index=pg replaying" "$W/server.log")"
[ "$(ixstat applied_lsn)" = 40 ] || die "restarted: applied_lsn $(ixstat applied_lsn), want 40"
check_table 40 "restarted"

echo "== 2. kill -9 in the middle of the changes"
rm -f "$W/acked"
python3 "$W/model.py" client "$URL" 41 400 "$W/acked" 2>"$W/client.err" &
client=$!
for _ in $(seq 1 600); do
	[ "$(cat "$W/acked" 2>/dev/null)" -ge 70 ] 2>/dev/null && break
	sleep 0.02
done
kill -9 "$PID"
wait "$PID" 2>/dev/null
PID=
wait $client
acked=$(cat "$W/acked")
L=$(PSQL "SELECT lsn FROM kill9_state")
echo "(osa killed after change $acked was acknowledged; state row lsn $L)"
[ "$acked" -lt 400 ] || die "the client finished before the kill: the test shows nothing"
[ "$L" -ge "$acked" ] && [ "$L" -le $((acked + 1)) ] ||
	die "state row lsn $L, want $acked (the last acknowledged change) or $((acked + 1)) (the one in flight)"
check_table "$L" "killed mid-ingest"
: >"$W/server.log"
serve || exit 1
J=$(curl -s "$URL/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['last_lsn'])")
[ "$J" -ge "$L" ] && [ "$J" -le $((acked + 1)) ] || die "journal ends at $J; state row lsn was $L, acked $acked"
if [ "$J" -gt "$L" ]; then
	grep -q "index=pg replaying changes $((L + 1))\.\.$J" "$W/server.log" ||
		die "restarted: no replay of $((L + 1))..$J: $(grep "index=pg" "$W/server.log")"
else
	grep -q "index=pg replaying" "$W/server.log" && die "restarted: replayed with nothing to replay"
fi
[ "$(ixstat applied_lsn)" = "$J" ] || die "restarted: applied_lsn $(ixstat applied_lsn), want $J"
[ "$(PSQL "SELECT lsn FROM kill9_state")" = "$J" ] || die "restarted: state row lsn $(PSQL "SELECT lsn FROM kill9_state"), want $J"
check_table "$J" "restarted after the mid-ingest kill"
kill -TERM "$PID"
wait "$PID" || die "osa exit status $? after SIGTERM"
PID=
[ $fail = 0 ] && echo "ok"
exit $fail

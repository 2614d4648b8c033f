#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Signals always do what they say (issue 17, item 2).  `osa serve` handles
# SIGHUP (reload), SIGTERM and SIGINT (clean stop, exit 0) in its main loop;
# OpenBLAS starts threads before main(), and a thread that leaves these
# signals unblocked gets them with their default action: death (HUP, TERM),
# or nothing at all (INT, which a non-interactive shell starts background
# jobs with ignored: the signal is lost and the server never stops).  With
# OPENBLAS_NUM_THREADS unset:
#  - every thread of a serving process blocks HUP, TERM and INT (read from
#    /proc/PID/task/*/status), OpenBLAS's included;
#  - serving: HUP x3 keeps it serving, then TERM or INT stops it with 0;
#  - loading (a rebuild of every index, `serve --rebuild-from-journal`):
#    HUP is survived and the server becomes ready; TERM and INT stop it
#    with 0 (once the open finished);
#  - checkpointing (checkpoint_interval.ops = 1: every write checkpoints):
#    HUPs during writes are survived and every write acknowledged; HUP and
#    INT right after TERM, during the shutdown checkpoint, still exit 0.
set -u
OSA=$1
SRC=$2
unset OPENBLAS_NUM_THREADS OMP_NUM_THREADS
W=$(mktemp -d /tmp/osa-signals-XXXXXX)
PID=
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT

write_cfg() { # write_cfg CHECKPOINT_OPS
	cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
server = { listen = "$URL"; nng = "ipc://$W/osa.sock"; };
logging = { level = "info"; format = "text"; };
checkpoint_interval = { ops = $1; };
indexes = (
  { name = "papers"; backend = "vector"; config = { dim = 64; }; },
  { name = "exact"; backend = "flat"; config = { dim = 64; }; }
);
CFG
}
write_cfg 10000
export OSA_CONFIG=$W/osa.cfg

# 6 000 records: the sample twice under other srns.
python3 - "$SRC/samples/records.ndjson" "$W/big.ndjson" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
with open(sys.argv[2], 'w') as out:
    for k in range(2):
        for l in lines:
            out.write(l.replace(':rec:s-', ':rec:k%d-' % k) + '\n')
PY
"$OSA" ingest --batch 2000 "$W/big.ndjson" 2>"$W/err" || { cat "$W/err"; die "ingest"; exit 1; }

health() { curl -s -m 5 -o "$W/health" -w '%{http_code}' "$URL/health"; }
start() { # start [ARGS...]: returns once the process runs
	"$OSA" serve "$@" 2>>"$W/server.log" &
	PID=$!
}
wait_ready() {
	for _ in $(seq 1 600); do
		kill -0 "$PID" 2>/dev/null || return 1
		[ "$(health)" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}
wait_loading() { # until /health says "loading" (or the server is ready)
	for _ in $(seq 1 600); do
		kill -0 "$PID" 2>/dev/null || return 1
		[ "$(health)" = 503 ] && grep -q '"loading"' "$W/health" && return 0
		[ "$(health)" = 200 ] && return 2
		sleep 0.05
	done
	return 1
}
# expect_exit WANT WHAT: wait for the server (at most 120 s: a signal that
# was lost leaves it running) and check its status
expect_exit() {
	local n=0 st
	while kill -0 "$PID" 2>/dev/null && [ $n -lt 1200 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if kill -0 "$PID" 2>/dev/null; then
		die "$2: still running 120 s after the signal (lost)"
		kill -9 "$PID"
	fi
	wait "$PID"
	st=$?
	PID=
	[ "$st" = "$1" ] || die "$2: exit status $st, want $1 (128+n is death by signal n)"
	nsig=$((nsig + 1))
}
nsig=0
inphase=0

echo "== every thread blocks HUP, TERM and INT"
start
wait_ready || { cat "$W/server.log"; die "server did not start"; exit 1; }
main=$PID
nthreads=0
nblas=0
for t in /proc/"$PID"/task/*; do
	tid=${t##*/}
	# A thread that ended since the listing (short-lived ones, e.g. the
	# sanitizer's) has nothing left to check.
	comm=$(cat "$t/comm" 2>/dev/null) || continue
	blk=$(awk '/^SigBlk:/ {print $2}' "$t/status" 2>/dev/null) || continue
	[ -n "$blk" ] || continue
	nthreads=$((nthreads + 1))
	[ "$comm" = osa ] && [ "$tid" != "$main" ] && nblas=$((nblas + 1))
	[ "$tid" = "$main" ] && continue # it is in sigtimedwait: they are open
	# HUP = 1, INT = 2, TERM = 15: bits 0x1, 0x2, 0x4000
	(( (0x$blk & 0x4003) == 0x4003 )) ||
		die "thread $tid ($comm) leaves signals unblocked: SigBlk $blk"
done
echo "   $nthreads threads checked ($nblas unnamed: OpenBLAS's and the backends')"

echo "== serving: HUP x3, then TERM; INT"
for _ in 1 2 3; do
	kill -HUP "$PID"
	nsig=$((nsig + 1))
	sleep 0.3
	kill -0 "$PID" 2>/dev/null || die "serving: killed by SIGHUP"
done
[ "$(health)" = 200 ] || die "serving: not answering after SIGHUP"
grep -q "SIGHUP" "$W/server.log" || die "serving: the reload was not logged"
kill -TERM "$PID"
expect_exit 0 "serving, SIGTERM"
start
wait_ready || die "restart"
kill -INT "$PID"
expect_exit 0 "serving, SIGINT"

echo "== loading: rebuilding every index (6 000 records)"
for sig in HUP TERM INT; do
	start --rebuild-from-journal
	if wait_loading; then
		kill -"$sig" "$PID"
		[ "$(health)" = 503 ] && grep -q '"loading"' "$W/health" && inphase=$((inphase + 1))
	else
		kill -"$sig" "$PID" 2>/dev/null
		echo "   (the rebuild ended before $sig could be sent)"
	fi
	if [ "$sig" = HUP ]; then
		nsig=$((nsig + 1))
		wait_ready || die "loading: SIGHUP killed it or it never became ready"
		kill -TERM "$PID"
		expect_exit 0 "loading, SIGHUP then SIGTERM"
	else
		expect_exit 0 "loading, SIG$sig"
	fi
done

echo "== checkpointing: every write checkpoints"
write_cfg 1
start
wait_ready || die "start with ops = 1"
head -n 50 "$SRC/samples/records.ndjson" >"$W/small.ndjson"
acked=0
for i in $(seq 1 20); do
	sed "s/:rec:s-/:rec:c$i-/" "$W/small.ndjson" >"$W/batch.ndjson"
	curl -s -m 30 -o "$W/post" -w '%{http_code}' -X POST --data-binary @"$W/batch.ndjson" \
		"$URL/records" >"$W/code" &
	cpid=$!
	kill -HUP "$PID"
	nsig=$((nsig + 1))
	wait "$cpid"
	[ "$(cat "$W/code")" = 200 ] && acked=$((acked + 1))
	kill -0 "$PID" 2>/dev/null || { die "checkpointing: killed by SIGHUP (write $i)"; break; }
done
[ "$acked" = 20 ] || die "checkpointing: $acked of 20 writes acknowledged"
grep -q "checkpoint failed" "$W/server.log" && die "checkpointing: a checkpoint failed"
kill -TERM "$PID"
kill -HUP "$PID" 2>/dev/null
kill -INT "$PID" 2>/dev/null
nsig=$((nsig + 2))
expect_exit 0 "shutdown checkpoint, SIGTERM then SIGHUP and SIGINT"
start
wait_ready || die "restart after the checkpoints"
curl -s -o "$W/stats" "$URL/stats"
python3 -c "import json; d=json.load(open('$W/stats')); assert d['records']==7000, d; assert all(i['count']==7000 for i in d['indexes'].values()), d" ||
	die "after the writes: $(cat "$W/stats")"
kill -TERM "$PID"
expect_exit 0 "final SIGTERM"
echo "signals: $nsig sent ($inphase of 3 during loading), $nthreads threads checked"
[ $fail = 0 ] || tail -20 "$W/server.log"
exit $fail

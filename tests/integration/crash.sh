#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Crash safety, proven: 24 times, run a writer (`osa ingest`, or the C API
# example every third round) and kill it with SIGKILL at a random moment;
# then start again and check that every batch it acknowledged is present,
# nothing is half-applied (each batch all there or all absent), every
# index's count equals the journal's, and queries work.  Then a corrupt
# snapshot falls back to a rebuild with a warning.  Finally, repeated kills
# do not make each start replay more (see below).
set -u
OSA=$1
EMBED=$2
SRC=$3
W=$4
rm -rf "$W"
mkdir -p "$W"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
logging = { level = "warn"; };
checkpoint_interval = { ops = 7; seconds = 3600; };
indexes = (
  { name = "papers"; backend = "vector"; config = { dim = 64; }; },
  { name = "exact"; backend = "flat"; config = { dim = 64; }; }
);
CFG
export OSA_CONFIG=$W/osa.cfg
RANDOM=4242
# Kill rounds of each part: 24, or 4 under ThreadSanitizer (OSA_TEST_TSAN),
# where a writer takes 10 s or more to start and acknowledge: its kill then
# comes DELAY seconds later than the usual 0.01-0.39 s, or nothing would
# ever be acknowledged (and no snapshot torn).
ROUNDS=24
DELAY=0
if [ -n "${OSA_TEST_TSAN:-}" ]; then
	ROUNDS=4
	DELAY=15
fi

for round in $(seq 1 $ROUNDS); do
	# Distinct srns each round: ...:s-00001-r<round>@1
	sed "s/\(s-[0-9]*\)@1/\1-r$round@1/" "$SRC/samples/records.ndjson" |
		cat >"$W/round.ndjson"
	if [ $((round % 3)) = 0 ]; then
		"$EMBED" "$OSA_CONFIG" "$W/round.ndjson" >"$W/acks" 2>"$W/err" &
	else
		"$OSA" ingest --batch 25 --acks "$W/round.ndjson" >"$W/acks" 2>"$W/err" &
	fi
	pid=$!
	sleep "$DELAY.$((RANDOM % 4))$((RANDOM % 9 + 1))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	last=$(grep -o 'line=[0-9]*' "$W/acks" | tail -n 1 | cut -d= -f2)
	last=${last:-0}
	# Every acknowledged record is there; each batch is all or nothing.
	if [ "$last" -gt 0 ]; then
		srn=$(sed -n "${last}p" "$W/round.ndjson" | grep -o '"srn": "[^"]*"' | cut -d'"' -f4)
		"$OSA" get "$srn" >/dev/null 2>"$W/get.err" ||
			die "round $round: acknowledged $srn (line $last) lost: $(cat "$W/get.err")"
		first=$(sed -n "1p" "$W/round.ndjson" | grep -o '"srn": "[^"]*"' | cut -d'"' -f4)
		"$OSA" get "$first" >/dev/null 2>&1 || die "round $round: first record lost"
	fi
	stats=$("$OSA" stats --json 2>"$W/stats.err") ||
		{ die "round $round: stats failed: $(cat "$W/stats.err")"; continue; }
	python3 - "$stats" "$round" "$last" <<'PY' || fail=1
import json, sys
s = json.loads(sys.argv[1]); rnd = int(sys.argv[2]); last = int(sys.argv[3])
recs = s["records"]
for name, ix in s["indexes"].items():
    if ix["state"] != "ready" or ix["count"] != recs:
        print("FAIL: round %d: index %s %s count %d, journal %d" % (rnd, name, ix["state"], ix["count"], recs), file=sys.stderr)
        sys.exit(1)
# Batches are 25 (osa) or 100 (C API) records: never a partial batch.
if recs % 25:
    print("FAIL: round %d: %d records is not whole batches" % (rnd, recs), file=sys.stderr)
    sys.exit(1)
PY
	"$OSA" search papers "analysis" --limit 3 >/dev/null 2>"$W/q.err" ||
		die "round $round: search failed: $(cat "$W/q.err")"
	echo "round $round: acknowledged through line $last; $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["records"])' "$stats") records"
done

# A torn snapshot: warning, quarantine, rebuild from the journal.
for f in "$W"/data/indexes/papers/*; do
	[ -f "$f" ] && truncate -s 100 "$f"
done
out=$("$OSA" health 2>&1) || die "health after a torn snapshot: $out"
grep -q quarantined <<<"$out" || die "torn snapshot not quarantined: $out"
"$OSA" search papers "analysis" --limit 3 >/dev/null || die "search after rebuild"

# Restart time that does not grow with crashes.  24 times, a writer takes
# 120 changes (batches of 5 records) and is killed with SIGKILL after its
# last acknowledgement, before any periodic checkpoint (seconds = 86400).
# Each start replays the log from the last checkpoint; a long replay is
# followed by a checkpoint at once (checkpoint_interval.replay_ops), so the
# start after the 24th kill replays no more than twice what the start after
# the first did.  Counted in replayed changes (the "replaying changes A..B"
# log line), not seconds, so a slow or busy machine cannot fail it; without
# the checkpoint the count grows by 120 each round (2880 at the end).
R=$W/restart
mkdir -p "$R"
cat >"$R/osa.cfg" <<CFG
data_dir = "$R/data";
logging = { level = "info"; };
checkpoint_interval = { seconds = 86400; };
indexes = (
  { name = "papers"; backend = "vector"; config = { dim = 32; }; },
  { name = "exact"; backend = "flat"; config = { dim = 32; }; }
);
CFG
CHANGES=120
# The most changes one start replayed, from the log of that process.
replayed() {
	grep -o 'replaying changes [0-9]*\.\.[0-9]*' "$1" |
		awk -F'[ .]+' '{ n = $4 - $3 + 1; if (n > m) m = n } END { print m + 0 }'
}
first=
for round in $(seq 1 $ROUNDS); do
	head -n $((CHANGES * 5)) "$SRC/samples/records.ndjson" |
		sed "s/\(s-[0-9]*\)@1/\1-k$round@1/" >"$R/in.ndjson"
	rm -f "$R/fifo"
	mkfifo "$R/fifo"
	t0=$(date +%s.%N)
	OSA_CONFIG=$R/osa.cfg "$OSA" ingest - --batch 5 --acks <"$R/fifo" \
		>"$R/acks" 2>"$R/log" &
	pid=$!
	exec 3>"$R/fifo"
	cat "$R/in.ndjson" >&3
	n=0
	for _ in $(seq 1 6000); do
		n=$(grep -c '^ack ' "$R/acks")
		[ "$n" -ge $CHANGES ] || ! kill -0 $pid 2>/dev/null && break
		[ "$n" -ge 1 ] && [ -z "${t1:-}" ] && t1=$(date +%s.%N)
		sleep 0.1
	done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	exec 3>&-
	[ "$n" -ge $CHANGES ] ||
		{ die "restart round $round: $n of $CHANGES acknowledged: $(tail -n 3 "$R/log")"; break; }
	if [ "$round" -gt 1 ]; then
		r=$(replayed "$R/log")
		echo "start after kill $((round - 1)): replayed $r changes, first ack after $(awk "BEGIN { printf \"%.2f\", ${t1:-$t0} - $t0 }") s"
		[ -z "$first" ] && first=$r
	fi
	t1=
done
# The start after the last kill.
OSA_CONFIG=$R/osa.cfg "$OSA" stats >/dev/null 2>"$R/log" ||
	die "stats after kill $ROUNDS: $(tail -n 3 "$R/log")"
last=$(replayed "$R/log")
echo "start after kill $ROUNDS: replayed $last changes (after kill 1: ${first:-?})"
[ "${first:-0}" -gt 0 ] || die "the start after the first kill replayed nothing"
[ "$last" -le $((2 * ${first:-0})) ] ||
	die "the start after kill $ROUNDS replayed $last changes, more than twice the $first after the first"

[ $fail = 0 ] && rm -rf "$W"
exit $fail

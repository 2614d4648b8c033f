#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A damaged journal is never a crash and never a wipe (issue 17, item 1):
#  - data.mdb truncated to 4 sizes (inside the first page, 64 KiB, half,
#    one page short): every command refuses with "journal truncated: ..."
#    naming the file, exit 74, and changes no file;
#  - a missing or empty journal with index data present, and a journal
#    restored from an older backup (a snapshot ahead of it): refused, the
#    index files untouched; `--rebuild-from-journal` then moves them to
#    quarantine/ and rebuilds;
#  - a flipped byte in a record's document: `osa get` reports the srn as
#    damaged (exit 74), a rebuild leaves it out and counts it;
#  - a flipped byte in an index's journal state: reported, index rebuilt;
#  - flipped bytes at offsets spread over the whole file: no command dies of
#    a signal or hangs, and whatever a command prints is the true data.
set -u
OSA=$1
SRC=$2
# /dev/shm when there is one: hundreds of short runs, each with fsyncs.
W=$(mktemp -d /dev/shm/osa-damage-XXXXXX 2>/dev/null || mktemp -d /tmp/osa-damage-XXXXXX)
trap 'rm -rf "$W"' EXIT
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
J=$W/data/journal/data.mdb

cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
logging = { level = "warn"; };
map_size = 1048576;
indexes = ( { name = "exact"; backend = "flat"; config = { dim = 16; }; } );
CFG
export OSA_CONFIG=$W/osa.cfg
export OPENBLAS_NUM_THREADS=1 # many short runs; signals are tested elsewhere
SRN1=urn:osa:sample.osa.dev:rec:s-00001@1
SRN2=urn:osa:sample.osa.dev:rec:s-00150@1
SRN3=urn:osa:sample.osa.dev:rec:s-00300@1
head -n 100 "$SRC/samples/records.ndjson" >"$W/a.ndjson"
sed -n '101,300p' "$SRC/samples/records.ndjson" >"$W/b.ndjson"
"$OSA" ingest "$W/a.ndjson" 2>"$W/err" || { cat "$W/err"; die "ingest a"; }
cp -a "$W/data/journal" "$W/journal-100"
"$OSA" ingest "$W/b.ndjson" 2>"$W/err" || { cat "$W/err"; die "ingest b"; }
"$OSA" compact 2>"$W/err" || { cat "$W/err"; die "compact"; }
cp -a "$W/data" "$W/pristine"
for s in $SRN1 $SRN2 $SRN3; do
	"$OSA" get "$s" >"$W/want.$s" || die "get $s"
done
"$OSA" search exact "analysis" --limit 5 --json >"$W/want.search" || die "search"
size=$(stat -c %s "$W/pristine/journal/data.mdb")
# The bytes the last commit uses (LMDB's newest meta page: last page + 1).
used=$(python3 - "$W/pristine/journal/data.mdb" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read(8192)
ps = struct.unpack_from('<I', b, 40)[0]
m = [struct.unpack_from('<QQ', b, o + 136) for o in (0, ps)]
last, _ = max(m, key=lambda x: x[1])
print((last + 1) * ps)
PY
)
echo "journal: $size bytes ($used used by the last commit), 300 records"
[ "$used" -gt 140000 ] || die "journal too small ($used bytes) for the 64 KiB case"

restore() { rm -rf "$W/data"; cp -a "$W/pristine" "$W/data"; }
sums() { (cd "$W/data" && find . -type f ! -name LOCK ! -name lock.mdb -print0 |
	sort -z | xargs -0 md5sum); }
# st CMD...: run with a timeout; exit status in $st, stderr in $W/err
run() { timeout 60 "$@" >"$W/out" 2>"$W/err"; st=$?; }

echo "== truncation (4 sizes) x (get, stats, search, serve) (at ${SECONDS}s)"
ntrunc=0
for cut in 100 65536 $((used / 2)) $((used - 4096)); do
	restore
	truncate -s "$cut" "$J"
	before=$(sums)
	for cmd in "get $SRN1" "stats" "search exact analysis" \
		"serve --listen http://127.0.0.1:0 --nng ipc://$W/s.sock"; do
		# shellcheck disable=SC2086
		run "$OSA" $cmd
		ntrunc=$((ntrunc + 1))
		[ $st = 74 ] || die "truncated to $cut: '$cmd' exit $st, want 74: $(head -3 "$W/err")"
		grep -q "journal truncated: $J" "$W/err" ||
			die "truncated to $cut: '$cmd': unclear: $(head -3 "$W/err")"
		grep -q "restore" "$W/err" || die "truncated to $cut: no advice: $(head -3 "$W/err")"
	done
	[ "$(sums)" = "$before" ] || die "truncated to $cut: files changed"
	[ "$(stat -c %s "$J")" = "$cut" ] || die "truncated to $cut: size changed"
	echo "   $cut bytes: exit 74, $(grep -o 'journal truncated:[^:]*' "$W/err" | head -1)"
done

echo "== missing, empty, older journal with index data present (at ${SECONDS}s)"
for how in missing empty older; do
	restore
	case $how in
	missing) rm -rf "$W/data/journal" ;;
	empty) : >"$J" ;;
	older) rm -rf "$W/data/journal" && cp -a "$W/journal-100" "$W/data/journal" ;;
	esac
	before=$(sums)
	for cmd in "stats" "get $SRN1" "serve --listen http://127.0.0.1:0 --nng ipc://$W/s.sock"; do
		# shellcheck disable=SC2086
		run "$OSA" $cmd
		[ $st = 74 ] || die "$how journal: '$cmd' exit $st, want 74: $(head -3 "$W/err")"
		grep -q -- "--rebuild-from-journal" "$W/err" || die "$how journal: no way out: $(head -3 "$W/err")"
		grep -q "restore" "$W/err" || die "$how journal: no advice: $(head -3 "$W/err")"
	done
	[ "$(sums)" = "$before" ] || die "$how journal: files changed"
	[ -d "$W/data/quarantine" ] && die "$how journal: quarantine created by a refusal"
	echo "   $how: exit 74, $(head -c 160 "$W/err")..."
	run "$OSA" --rebuild-from-journal stats --json
	[ $st = 0 ] || die "$how journal: --rebuild-from-journal exit $st: $(head -3 "$W/err")"
	want=0
	[ $how = older ] && want=100
	python3 -c "import json,sys; d=json.load(open('$W/out')); assert d['records']==$want and d['indexes']['exact']['count']==$want, d" ||
		die "$how journal: after the rebuild: $(cat "$W/out")"
	q=$(ls "$W/data/quarantine" 2>/dev/null | grep -c '^exact\.')
	[ "$q" = 1 ] || die "$how journal: old index files not in quarantine/ ($q)"
	[ -n "$(ls -A "$W/data/quarantine"/exact.* 2>/dev/null)" ] || die "$how journal: quarantine is empty"
	run "$OSA" stats
	[ $st = 0 ] || die "$how journal: next open after the rebuild: exit $st: $(head -3 "$W/err")"
done

echo "== a flipped byte in a record's document (at ${SECONDS}s)"
restore
python3 - "$J" <<'PY' || die "could not damage the record"
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
needle = b'A review of dugouts chimneys frogs plains'  # s-00150's title
n, i = 0, b.find(needle)
while i >= 0:
    b[i + 12] ^= 0x20
    n += 1
    i = b.find(needle, i + 1)
assert n >= 1
open(p, 'wb').write(b)
PY
run "$OSA" get "$SRN2"
[ $st = 74 ] || die "damaged record: get exit $st, want 74: $(cat "$W/out" "$W/err" | head -3)"
grep -q "record $SRN2 is damaged" "$W/err" || die "damaged record: unclear: $(head -3 "$W/err")"
[ -s "$W/out" ] && die "damaged record: get printed data: $(head -c 200 "$W/out")"
echo "   get: exit 74, $(head -c 150 "$W/err")..."
run "$OSA" get "$SRN1"
[ $st = 0 ] && cmp -s "$W/out" "$W/want.$SRN1" || die "an intact record no longer reads back"
run "$OSA" reindex exact
[ $st = 0 ] || die "damaged record: reindex exit $st: $(head -3 "$W/err")"
grep -q "$SRN2 is damaged" "$W/err" || die "damaged record: the rebuild did not name it: $(head -3 "$W/err")"
run "$OSA" stats --json
python3 -c "import json; d=json.load(open('$W/out'))['indexes']['exact']; assert d['count']==299 and d['skipped_records']==1, d" ||
	die "damaged record: index after the rebuild: $(cat "$W/out")"
echo "   reindex: exit 0, the record left out and counted (skipped_records = 1)"

echo "== a flipped byte in an index's state (at ${SECONDS}s)"
restore
python3 - "$J" <<'PY' || die "could not damage the state"
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
needle = b'index/exact'
n, i = 0, b.find(needle)
while i >= 0:
    b[i + len(needle) + 16] ^= 0x01  # its config hash
    n += 1
    i = b.find(needle, i + 1)
assert n >= 1
open(p, 'wb').write(b)
PY
run "$OSA" stats --json
[ $st = 0 ] || die "damaged state: stats exit $st: $(head -3 "$W/err")"
grep -q "state of index exact is damaged" "$W/err" || die "damaged state: not reported: $(head -3 "$W/err")"
python3 -c "import json; d=json.load(open('$W/out')); assert d['indexes']['exact']['count']==300, d" ||
	die "damaged state: index after the rebuild: $(cat "$W/out")"
echo "   reported, the index rebuilt from the records (300)"

echo "== flipped bytes across the file (at ${SECONDS}s)"
nflip=0
nerr=0
offsets="16 20 40 136 144 $((4096 + 16)) $((4096 + 136)) $((4096 + 144))"
step=$((size / 48))
for o in $(seq 8192 "$step" $((size - 1))); do offsets="$offsets $o"; done
for o in $offsets; do
	restore
	b=$(od -An -tu1 -j"$o" -N1 "$J" | tr -d ' ')
	printf "\\$(printf %03o $((b ^ 0xff)))" |
		dd of="$J" bs=1 seek="$o" conv=notrunc status=none
	cmp -s "$J" "$W/pristine/journal/data.mdb" && die "the flip at $o changed nothing"
	nflip=$((nflip + 1))
	for s in $SRN1 $SRN2 $SRN3; do
		run "$OSA" get "$s"
		[ $st -ge 124 ] && die "flip at $o: get $s: exit $st (signal or hang): $(head -3 "$W/err")"
		if [ $st = 0 ]; then
			cmp -s "$W/out" "$W/want.$s" || die "flip at $o: get $s returned wrong data"
		elif [ ! -s "$W/err" ]; then
			die "flip at $o: get $s: exit $st without a message"
		else
			nerr=$((nerr + 1))
		fi
	done
	run "$OSA" stats
	[ $st -ge 124 ] && die "flip at $o: stats: exit $st (signal or hang): $(head -3 "$W/err")"
	run "$OSA" search exact analysis --limit 5 --json
	[ $st -ge 124 ] && die "flip at $o: search: exit $st (signal or hang): $(head -3 "$W/err")"
done
echo "   $nflip offsets, 5 commands each: no signal, no hang, no wrong record ($nerr gets refused with a message, the others read the true record)"
echo "cases: $ntrunc truncation runs, 3 inconsistent-journal cases, 1 damaged record, 1 damaged index state, $nflip flip offsets"
exit $fail

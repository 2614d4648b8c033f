#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Disk faults: a file size limit (a full disk, RLIMIT_FSIZE), a read-only
# data directory and a data directory owned by someone else each give a
# clear error, and nothing acknowledged before is lost.  (A journal written
# by a newer format is refused: tests/unit/test_journal.c.)
set -u
OSA=$1
SRC=$2
W=$(mktemp -d /tmp/osa-disk-XXXXXX)
chmod 755 "$W"
trap 'rm -rf "$W"' EXIT
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
logging = { level = "warn"; };
map_size = 1048576;
indexes = ( { name = "exact"; backend = "flat"; config = { dim = 32; }; } );
CFG
export OSA_CONFIG=$W/osa.cfg
head -n 200 "$SRC/samples/records.ndjson" >"$W/first.ndjson"
"$OSA" ingest "$W/first.ndjson" 2>"$W/err" || { cat "$W/err"; die "first ingest"; }

echo "== full disk (RLIMIT_FSIZE)"
size_kb=$(( $(du -sk "$W/data/journal" | cut -f1) + 64 ))
sed -n '201,3000p' "$SRC/samples/records.ndjson" >"$W/more.ndjson"
(ulimit -f "$size_kb"; "$OSA" ingest --batch 100 "$W/more.ndjson") >"$W/out" 2>"$W/err"
st=$?
[ $st != 0 ] || die "ingest past the size limit succeeded"
grep -qiE "no space|too large|free disk space" "$W/err" || die "unclear full-disk error: $(tail -3 "$W/err")"
acked=$(grep -o 'ingested [0-9]*' "$W/err" | grep -o '[0-9]*')
echo "   exit $st, $(grep -m1 -iE 'space|large' "$W/err")"
n=$("$OSA" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
[ "$n" -ge $((200 + ${acked:-0})) ] || die "records lost after the full disk: $n < 200 + ${acked:-0}"
"$OSA" get urn:osa:sample.osa.dev:rec:s-00200@1 >/dev/null || die "an acknowledged record is gone"

run_as_other() { # run a command as nobody when root (root ignores modes)
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	else
		"$@"
	fi
}

echo "== read-only data directory"
cp -a "$W/data" "$W/ro"
[ "$(id -u)" = 0 ] && chown -R 65534:65534 "$W/ro"
chmod -R a-w "$W/ro"
sed "s|$W/data|$W/ro|" "$W/osa.cfg" >"$W/ro.cfg"
chmod 644 "$W/ro.cfg"
run_as_other "$OSA" -c "$W/ro.cfg" ingest "$W/more.ndjson" >"$W/out" 2>"$W/err"
st=$?
[ $st = 74 ] || die "read-only: exit $st, want 74: $(cat "$W/err")"
grep -q "writable by this user\|permissions" "$W/err" || die "read-only: unclear: $(cat "$W/err")"
echo "   exit $st, $(head -1 "$W/err")"

echo "== data directory owned by someone else"
if [ "$(id -u)" = 0 ]; then
	run_as_other "$OSA" ingest "$W/more.ndjson" >"$W/out" 2>"$W/err"
	st=$?
	[ $st = 74 ] || die "other owner: exit $st, want 74: $(cat "$W/err")"
	grep -q "writable by this user\|permissions" "$W/err" || die "other owner: unclear: $(cat "$W/err")"
	echo "   exit $st, $(head -1 "$W/err")"
else
	echo "   (skipped: needs root to run as another user)"
fi
n2=$("$OSA" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
[ "$n2" = "$n" ] || die "records changed: $n -> $n2"
exit $fail

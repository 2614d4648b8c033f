#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Disk faults: a file size limit (a full disk, RLIMIT_FSIZE), a really full
# file system (a small tmpfs, when mount is permitted), a read-only data
# directory and a data directory owned by someone else each give a clear
# error (HTTP 507 disk_full for a full disk, even when LMDB saw a short
# write and said EIO), and nothing acknowledged before is lost.  (A journal
# written by a newer format is refused: tests/unit/test_journal.c; damaged
# journals: journal_damage.sh.)
set -u
OSA=$1
SRC=$2
W=$(mktemp -d /tmp/osa-disk-XXXXXX)
chmod 755 "$W"
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	mountpoint -q "$W/mnt" 2>/dev/null && umount "$W/mnt"
	rm -rf "$W"
}
trap cleanup EXIT
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

# serve_until_full DATA_DIR WHAT [ulimit -f KB]: serve DATA_DIR over HTTP,
# POST batches of 100 records until one is refused; it must be 507
# disk_full, and every acknowledged record must read back afterwards.
serve_until_full() {
	local data=$1 what=$2 fsize=${3:-unlimited} port url code i acked=0 n
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	url=http://127.0.0.1:$port
	cat >"$W/full.cfg" <<CFG
data_dir = "$data";
server = { listen = "$url"; nng = "ipc://$W/full.sock"; };
logging = { level = "warn"; };
map_size = 1048576;
indexes = ( { name = "exact"; backend = "flat"; config = { dim = 32; }; } );
CFG
	(ulimit -f "$fsize"; exec "$OSA" -c "$W/full.cfg" serve) 2>"$W/serve.err" &
	PID=$!
	for i in $(seq 1 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health")" = 200 ] && break
		sleep 0.1
	done
	code=200
	for i in $(seq 0 199); do
		sed -n "$((i % 30 * 100 + 1)),$((i % 30 * 100 + 100))p" "$SRC/samples/records.ndjson" |
			sed "s/:rec:s-/:rec:f$i-/" >"$W/batch.ndjson"
		code=$(curl -s -o "$W/body" -w '%{http_code}' -X POST \
			--data-binary @"$W/batch.ndjson" "$url/records")
		[ "$code" = 200 ] || break
		acked=$((acked + 100))
	done
	[ "$code" = 507 ] || die "$what: POST answered $code, want 507: $(head -c 300 "$W/body")"
	python3 -c "import json; d=json.load(open('$W/body')); assert d['error']['code']=='disk_full', d" ||
		die "$what: not a disk_full error: $(head -c 300 "$W/body")"
	echo "   $what: $acked records acknowledged, then 507: $(head -c 160 "$W/body")"
	n=$(curl -s "$url/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
	[ "$n" -ge "$acked" ] || die "$what: $n records after the full disk, $acked acknowledged"
	curl -s -o "$W/rec" -w '%{http_code}' "$url/records/urn:osa:sample.osa.dev:rec:f0-00001@1" |
		grep -q 200 || die "$what: the first acknowledged record is gone"
	kill -TERM "$PID"
	wait "$PID"
	PID=
}

echo "== full disk over HTTP: RLIMIT_FSIZE"
serve_until_full "$W/fsize" "RLIMIT_FSIZE 1 MiB" 1024

echo "== full disk over HTTP and the CLI: a 3 MiB tmpfs"
mkdir -p "$W/mnt"
if mount -t tmpfs -o size=3m osa-disk-test "$W/mnt" 2>"$W/mount.err"; then
	serve_until_full "$W/mnt/data" "tmpfs 3 MiB"
	"$OSA" -c "$W/full.cfg" ingest "$W/more.ndjson" >"$W/out" 2>"$W/err"
	st=$?
	[ $st = 74 ] || die "tmpfs: ingest exit $st, want 74: $(tail -2 "$W/err")"
	grep -q "free disk space" "$W/err" || die "tmpfs: unclear: $(tail -2 "$W/err")"
	echo "   tmpfs, osa ingest: exit $st, $(grep -m1 -o 'journal.*space' "$W/err" | head -c 160)"
	umount "$W/mnt"
else
	echo "   (skipped: cannot mount a tmpfs here: $(head -1 "$W/mount.err"))"
fi

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

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Several osa nodes, one database (docs/scale-out.md): a writer node and a
# read-only node (read_only = true) on the same table, each with its own
# journal, plus a second writer node on another table of the same
# database.  The reader sees the writer's records, upserts and deletes; the
# second writer's records stay in its own table; a second writer pointed at
# the first one's table is refused (degraded, with the reason).
#   readonly.sh OSA PGDIR WORK   (the cluster of tests/pgcluster.sh)
set -u
OSA=$1
PGDIR=$2
W=$3
PIDS=""
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ $fail = 0 ] && rm -rf "$W"
}
trap cleanup EXIT
if [ ! -S "$PGDIR/.s.PGSQL.5432" ]; then
	echo "no PostgreSQL cluster at $PGDIR (osa.postgres.cluster_start): skipped"
	exit 77
fi
rm -rf "$W"
mkdir -p "$W"
CI="host=$PGDIR port=5432 dbname=osa user=osa"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

node() { # node NAME TABLE READ_ONLY -> starts it, sets URL_<NAME>
	local name=$1 table=$2 ro=$3 port pid
	port=$(free_port)
	mkdir -p "$W/$name"
	cat >"$W/$name/osa.cfg" <<CFG
data_dir = "$W/$name/data";
server = { listen = "http://127.0.0.1:$port"; nng = ""; api_key = ""; };
logging = { level = "warn"; format = "text"; };
indexes = ( { name = "papers"; backend = "postgres";
              config = { conninfo = "$CI"; table = "$table";
                         read_only = $ro; }; } );
CFG
	"$OSA" -c "$W/$name/osa.cfg" serve 2>>"$W/$name/server.log" &
	pid=$!
	PIDS="$PIDS $pid"
	eval "URL_$name=http://127.0.0.1:$port"
	# Up once its index left "loading" (ready, or degraded with a reason).
	for _ in $(seq 1 300); do
		curl -s "http://127.0.0.1:$port/health" 2>/dev/null |
			python3 -c "import json,sys; sys.exit(json.load(sys.stdin)['indexes']['papers']['state'] == 'loading')" \
				2>/dev/null && return 0
		sleep 0.1
	done
	die "node $name does not answer: $(tail -5 "$W/$name/server.log")"
}
get() { curl -s "$1"; }
total() { # total URL QUERY
	get "$1/search/papers?q=$2" | python3 -c "import json,sys; print(json.load(sys.stdin).get('total', -1))"
}

node writer ro_shared false
node reader ro_shared true
node other ro_other false
S=urn:osa:ro.example.org:rec
post() { curl -s -o "$W/out" -w '%{http_code}' -X POST "$1/records" -d "$2"; }

[ "$(post "$URL_writer" "[{\"srn\":\"$S:rec-a\",\"title\":\"Glacier mass balance\",\"summary\":\"Alps\"},{\"srn\":\"$S:rec-b\",\"title\":\"Glacier flow models\",\"summary\":\"Greenland\"}]")" = 200 ] ||
	die "writer: post: $(cat "$W/out")"
[ "$(post "$URL_other" "{\"srn\":\"$S:rec-z\",\"title\":\"Glacier lakes\",\"summary\":\"Andes\"}")" = 200 ] ||
	die "other: post: $(cat "$W/out")"
[ "$(total "$URL_reader" glacier)" = 2 ] || die "reader: glacier: $(get "$URL_reader/search/papers?q=glacier")"
[ "$(total "$URL_writer" glacier)" = 2 ] || die "writer: glacier: $(get "$URL_writer/search/papers?q=glacier")"
[ "$(total "$URL_other" glacier)" = 1 ] || die "other: glacier: $(get "$URL_other/search/papers?q=glacier")"
get "$URL_reader/stats" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['indexes']['papers']['count']==2, d" ||
	die "reader: stats count: $(get "$URL_reader/stats")"
# The writer's upsert and delete reach the reader.
[ "$(post "$URL_writer" "{\"srn\":\"$S:rec-a\",\"title\":\"Moraine dating\",\"summary\":\"Alps\"}")" = 200 ] ||
	die "writer: upsert: $(cat "$W/out")"
curl -s -o /dev/null -X DELETE "$URL_writer/records/$S:rec-b"
[ "$(total "$URL_reader" glacier)" = 0 ] || die "reader after upsert+delete: glacier: $(get "$URL_reader/search/papers?q=glacier")"
[ "$(total "$URL_reader" moraine)" = 1 ] || die "reader: moraine: $(get "$URL_reader/search/papers?q=moraine")"
get "$URL_reader/health" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['indexes']['papers']['state']=='ready', d" ||
	die "reader: health: $(get "$URL_reader/health")"

# A second writer on the writer's table: refused, the reason in /health.
node intruder ro_shared false
get "$URL_intruder/health" >"$W/h"
python3 - "$W/h" <<'PY' || die "intruder: $(cat "$W/h")"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["indexes"]["papers"]
assert p["state"] == "degraded", p
assert "written by another osa node" in p.get("reason", ""), p
PY
[ "$(total "$URL_reader" moraine)" = 1 ] || die "the intruder emptied the shared table"
[ $fail = 0 ] && echo "ok"
exit $fail

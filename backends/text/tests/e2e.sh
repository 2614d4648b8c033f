#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The `text` index end to end through the built binary: `osa ingest`,
# `osa search` (words, phrase, prefix, +/-), then `osa serve` over HTTP:
# search, a vector query refused with 400 naming the backend, invalid
# UTF-8, writes and deletes seen by searches, restart (segments mapped
# again, same answers).
set -u
OSA=$1
W=$(mktemp -d /tmp/osa-text-e2e-XXXXXX)
PID=
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
server = { listen = "$URL"; nng = ""; api_key = ""; };
logging = { level = "warn"; format = "text"; };
indexes = (
  { name = "text"; backend = "text";
    config = { fields = ["title^2", "summary"]; stopwords = ["default"]; }; },
  { name = "papers"; backend = "vector"; config = { dim = 64; }; }
);
CFG
S=urn:osa:e2e.example.org:rec
cat >"$W/recs.ndjson" <<REC
{"srn":"$S:sea-1@1","title":"Sea ice in the Arctic","summary":"Measurements of sea ice thickness over four decades."}
{"srn":"$S:ocean-2@1","title":"Ocean warming","summary":"The ocean is warming and the ice shelves are melting."}
{"srn":"$S:cafe-3@1","title":"Café Zürich","summary":"ÉCOLE, Straße and naïve résumés: Unicode folding."}
{"srn":"$S:comp-4@1","title":"Computing glaciers","summary":"Computer models of glacier flow."}
REC
O() { "$OSA" -c "$W/osa.cfg" "$@"; }
O ingest "$W/recs.ndjson" 2>"$W/ingest.log" || die "ingest: $(cat "$W/ingest.log")"
out=$(O search text "sea ice" --json)
python3 -c "import json,sys; d=json.loads(sys.argv[1]); r=[x['srn'] for x in d['results']]; assert r[0].endswith('sea-1@1') and d['total']==2, d" "$out" ||
	die "search 'sea ice': $out"
out=$(O search text '"ice shelves"' --json)
python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['total']==1 and d['results'][0]['srn'].endswith('ocean-2@1'), d" "$out" ||
	die "phrase: $out"
O search text 'strasse' | grep -q "cafe-3@1" || die "folding: strasse"
O search text 'ECOLE école' | grep -q "cafe-3@1" || die "folding: école"
O search text 'comput*' | grep -q "(1 of 1)" || die "prefix: $(O search text 'comput*')"
O search text '+ice -arctic' | grep -q "(1 of 1)" || die "+/-: $(O search text '+ice -arctic')"
O search text 'the of' >/dev/null 2>"$W/err" && die "stopwords only: accepted"
grep -q "no word to search" "$W/err" || die "stopwords only: $(cat "$W/err")"

# HTTP.
"$OSA" -c "$W/osa.cfg" serve 2>>"$W/server.log" &
PID=$!
for _ in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && break
	sleep 0.1
done
req() { # req WANT METHOD PATH [curl args]
	local want=$1 m=$2 p=$3 got
	shift 3
	got=$(curl -s -o "$W/body" -w '%{http_code}' -X "$m" "$URL$p" "$@")
	[ "$got" = "$want" ] || { die "$m $p: $got, want $want: $(head -c 300 "$W/body")"; return 1; }
}
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $1" "$W/body" || die "check failed: $1: $(head -c 300 "$W/body")"; }
req 200 GET "/search/text?q=sea+ice&limit=1" &&
	jq_ "assert d['total']==2 and d['has_more'] and d['results'][0]['srn'].endswith('sea-1@1') and d['results'][0]['metadata']['title'].startswith('Sea')"
req 200 GET "/search/text?q=%22ice%20shelves%22" && jq_ "assert d['total']==1"
req 200 GET "/search/text?q=z%C3%BCrich" && jq_ "assert d['total']==1"
req 400 POST /search/text -d '{"vector":[0.1,0.2,0.3]}' &&
	jq_ "e=d['error']; assert e['code']=='unsupported' and 'text' in e['message'] and 'vector' in e['message'], e"
req 400 GET "/search/text?q=%FF"
req 422 GET "/search/text?q=the" && jq_ "assert d['error']['code']=='nothing_to_search'"
req 200 POST /records -d "{\"srn\":\"$S:new-5@1\",\"title\":\"Fjord sediment cores\",\"summary\":\"Drilled in Norway.\"}"
req 200 GET "/search/text?q=fjord" && jq_ "assert d['total']==1"
req 200 DELETE "/records/$S:new-5@1"
req 200 GET "/search/text?q=fjord" && jq_ "assert d['total']==0"
req 200 GET "/search/text?q=ocean+warming" && cp "$W/body" "$W/before"
kill -TERM "$PID"
wait "$PID" || die "server exit status $? after SIGTERM"
PID=
ls "$W/data/indexes/text/" | grep -q '^seg-.*\.tix$' || die "no segment file after shutdown"

# Restart: the segments are mapped again, the answers are the same.
"$OSA" -c "$W/osa.cfg" serve 2>>"$W/server.log" &
PID=$!
for _ in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && break
	sleep 0.1
done
req 200 GET "/search/text?q=ocean+warming" && cmp -s "$W/body" "$W/before" ||
	die "results changed across a restart: $(cat "$W/before") vs $(cat "$W/body")"
req 200 GET /stats && jq_ "assert d['indexes']['text']['count']==4, d['indexes']"
kill -TERM "$PID"
wait "$PID"
PID=
[ $fail = 0 ] || { echo "--- server log"; cat "$W/server.log"; }
exit $fail

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# End to end over HTTP and nng: start `osa serve` on a free loopback port
# with a temporary data dir, drive every route and error status with curl,
# auth on and off, %-encoded UTF-8, writes then reads, restart (data still
# there), SIGHUP reload, then the hostile-request table (hostile.py); after
# it the server still answers /health and no acknowledged record is lost.
set -u
OSA=$1
SRC=$2
NNG_CLIENT=${3:-}
W=$(mktemp -d /tmp/osa-e2e-XXXXXX)
fail=0
PID=
die() { echo "FAIL: $*" >&2; fail=1; }
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
write_cfg() { # write_cfg API_KEY
	cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
server = { listen = "$URL"; nng = "ipc://$W/osa.sock"; api_key = "$1";
           max_body = 4194304; max_query = 256; };
logging = { level = "info"; format = "text"; };
indexes = (
  { name = "papers"; backend = "vector"; config = { dim = 64; }; },
  { name = "exact"; backend = "flat"; config = { dim = 64; }; }
);
CFG
}
start() {
	"$OSA" serve -c "$W/osa.cfg" 2>>"$W/server.log" &
	PID=$!
	for _ in $(seq 1 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && return 0
		sleep 0.1
	done
	cat "$W/server.log"
	die "server did not start"
	exit 1
}
stop() {
	kill -TERM "$PID"
	wait "$PID"
	local st=$?
	[ $st = 0 ] || die "server exit status $st after SIGTERM"
	PID=
}
# req EXPECTED_STATUS METHOD PATH [curl args...]: body in $W/body
req() {
	local want=$1 m=$2 p=$3
	shift 3
	local got
	got=$(curl -s -o "$W/body" -w '%{http_code}' -X "$m" "$URL$p" "$@")
	if [ "$got" != "$want" ]; then
		die "$m $p: status $got, want $want: $(head -c 300 "$W/body")"
		return 1
	fi
	return 0
}
jq_() { python3 -c "import json,sys; d=json.load(open('$W/body')); $1" || die "check failed: $1: $(head -c 300 "$W/body")"; }
is_error() { jq_ "assert set(d['error'])>={'code','message'}, d; assert d['error']['code']=='$1', d"; }

write_cfg ""
start

echo "== routes"
req 200 GET /health && jq_ "assert d['status']=='ok'"
req 200 GET /backends && jq_ "assert 'vector' in [b['name'] for b in d['backends']]"
req 200 GET /search/ && jq_ "assert d['indexes']==['papers','exact']"
req 200 POST /records --data-binary @"$SRC/samples/records.ndjson" &&
	jq_ "assert d['accepted']==3000 and d['lsn']>=1"
req 200 GET /stats && jq_ "assert d['records']==3000 and d['indexes']['papers']['count']==3000; assert d['indexes']['papers']['kernel'] in ('scalar','sse2','avx2','avx512') and d['indexes']['exact']['kernel']==d['indexes']['papers']['kernel']"
req 200 GET "/search/papers?q=analysis&limit=5" &&
	jq_ "assert d['index']=='papers' and d['query']=='analysis' and len(d['results'])==5 and d['has_more'] and d['total']==3000; r=d['results'][0]; assert set(r)=={'srn','score','metadata'} and 'title' in r['metadata']"
req 200 GET "/search/exact?q=analysis&limit=3&offset=2" && jq_ "assert len(d['results'])==3"
# Pages are stable and disjoint.
curl -s "$URL/search/exact?q=survey&limit=4" >"$W/p1"
curl -s "$URL/search/exact?q=survey&limit=2&offset=2" >"$W/p2"
python3 -c "
import json; a=json.load(open('$W/p1'))['results']; b=json.load(open('$W/p2'))['results']
assert [x['srn'] for x in a[2:]]==[x['srn'] for x in b], (a,b)" || die "paging not stable"
req 200 POST /search/papers -d '{"q":"analysis","limit":2,"ef_search":128}' && jq_ "assert len(d['results'])==2"
SRN='urn:osa:e2e.example.org:rec:caf-1@1'
req 200 POST /records -d "{\"srn\":\"$SRN\",\"title\":\"Café Zürich ünïcödé glacier\",\"summary\":\"naïve résumé\"}"
req 200 GET "/records/urn%3Aosa%3Ae2e.example.org%3Arec%3Acaf-1%401" && jq_ "assert d['title'].startswith('Café')"
req 200 GET "/records/$SRN" && jq_ "assert d['srn']=='$SRN'"
req 200 GET "/search/exact?q=caf%C3%A9%20z%C3%BCrich&limit=1" &&
	jq_ "assert d['query']=='café zürich' and d['results'][0]['srn']=='$SRN', d"
req 200 GET "/search/exact?q=caf%C3%A9+z%C3%BCrich&limit=1" && jq_ "assert d['query']=='café zürich'"
req 200 DELETE "/records/$SRN" && jq_ "assert d['deleted'] is True"
req 404 GET "/records/$SRN" && is_error not_found
req 404 DELETE "/records/$SRN" && is_error not_found

echo "== nng"
"$OSA" call "ipc://$W/osa.sock" '{"op":"search","index":"papers","q":"analysis","limit":2}' >"$W/body" ||
	die "nng search failed"
jq_ "assert d['status']==200 and len(d['results'])==2"
"$OSA" call "ipc://$W/osa.sock" '{"op":"stats"}' >"$W/body" || die "nng stats"
jq_ "assert d['records']==3000"
# health keeps its own "status"; the HTTP status is "http_status".
"$OSA" call "ipc://$W/osa.sock" '{"op":"health"}' >"$W/body" || die "nng health"
jq_ "assert d['status']=='ok' and d['http_status']==200, d"
# The index name is a name, never part of a path or query.
"$OSA" call "ipc://$W/osa.sock" '{"op":"search","index":"papers?q=x","q":"analysis"}' >"$W/body" &&
	die "nng search of index 'papers?q=x' succeeded"
jq_ "assert d['http_status']==404 and d['error']['code']=='unknown_index', d"
"$OSA" call "ipc://$W/osa.sock" '{"op":"search","index":"papers/../exact","q":"analysis"}' >"$W/body" &&
	die "nng search of index 'papers/../exact' succeeded"
jq_ "assert d['http_status']==404, d"
"$OSA" call "ipc://$W/osa.sock" '{"op":"get","srn":"urn:osa:sample.osa.dev:rec:s-00001@1?x"}' >"$W/body" &&
	die "nng get with a query in the srn succeeded"
jq_ "assert d['http_status']==404, d"
"$OSA" call "ipc://$W/osa.sock" '{"op":"nope"}' >"$W/body" && die "nng bad op succeeded"
jq_ "assert d['status']==400 and d['error']['field']=='op'"
if [ -n "$NNG_CLIENT" ]; then
	"$NNG_CLIENT" "ipc://$W/osa.sock" papers "analysis" >"$W/body" || die "nng client example"
	jq_ "assert d['status']==200 and len(d['results'])==5"
fi

echo "== errors"
req 404 GET /nowhere && is_error not_found
req 404 GET "/search/nope?q=x" && is_error unknown_index && jq_ "assert 'papers' in d['error']['message']"
req 405 PUT /search/papers && is_error method_not_allowed
curl -s -D "$W/hdr" -o /dev/null -X PATCH "$URL/records"
grep -qi "^Allow: POST" "$W/hdr" || die "405 without Allow"
req 422 GET "/search/papers?q=x&limit=0" && jq_ "assert d['error']['field']=='limit'"
req 422 GET "/search/papers?q=x&limit=101" && jq_ "assert d['error']['field']=='limit'"
req 422 GET "/search/papers?q=x&limit=-1" && jq_ "assert d['error']['field']=='limit'"
req 422 GET "/search/papers?q=x&offset=99999999999" && jq_ "assert d['error']['field']=='offset'"
req 422 GET "/search/papers" && jq_ "assert d['error']['field']=='q'"
req 422 GET "/search/papers?q=$(python3 -c 'print("a"*300)')" && jq_ "assert d['error']['field']=='q'"
req 400 GET "/search/papers?q=%ZZ" && is_error bad_encoding
req 400 GET "/search/papers?q=%FF%FE" && is_error bad_encoding
req 400 POST /search/papers -d '{"q": "x",' && is_error bad_json && jq_ "assert 'column' in d['error']['message']"
req 422 POST /records -d '{"title":"no srn"}' && is_error rejected
# A JSON array gets the same duplicate-key check as NDJSON, CLI and nng.
req 400 POST /records -d '[{"srn": "urn:osa:dup.org:rec:a", "srn": "urn:osa:dup.org:rec:b"}]' &&
	is_error bad_json && jq_ "assert 'duplicate' in d['error']['message'], d"
req 404 GET "/records/urn:osa:dup.org:rec:b"
req 422 POST /records -d '{"srn": "urn:osa:dup.org:rec:a", "srn": "urn:osa:dup.org:rec:b"}' &&
	jq_ "assert 'duplicate' in d['error']['rejected'][0]['message'], d"
"$OSA" call "ipc://$W/osa.sock" '{"op":"ingest","records":[{"srn":"urn:osa:dup.org:rec:a","t":1,"t":2}]}' >"$W/body"
jq_ "assert d['http_status'] in (400, 422), d"
req 413 POST /records --data-binary @<(head -c 5000000 /dev/zero | tr '\0' 'a') && is_error too_large
req 411 POST /records -H "Transfer-Encoding: chunked" -d '{"srn":"x"}' && is_error length_required

echo "== auth on"
stop
write_cfg "s3cret-key"
start
grep -q "s3cret-key" "$W/server.log" && die "the API key was logged"
req 401 POST /records -d '{"srn":"urn:osa:e2e.org:rec:a-1","title":"t"}' && is_error unauthorized
req 401 POST /records -H "Authorization: Bearer wrong" -d '{"srn":"urn:osa:e2e.org:rec:a-1","title":"t"}'
req 401 DELETE "/records/urn:osa:sample.osa.dev:rec:s-00001@1"
req 200 POST /records -H "Authorization: Bearer s3cret-key" -d '{"srn":"urn:osa:e2e.org:rec:a-1","title":"t"}'
req 200 GET "/records/urn:osa:e2e.org:rec:a-1"
req 200 GET "/search/papers?q=analysis"
"$OSA" call "ipc://$W/osa.sock" '{"op":"ingest","records":[{"srn":"urn:osa:e2e.org:rec:a-2","title":"x"}]}' >"$W/body"
jq_ "assert d['status']==401"
"$OSA" call "ipc://$W/osa.sock" '{"op":"ingest","api_key":"s3cret-key","records":[{"srn":"urn:osa:e2e.org:rec:a-2","title":"x"}]}' >"$W/body"
jq_ "assert d['status']==200"

echo "== SIGHUP: a broken file is refused, the old config stays"
cp "$W/osa.cfg" "$W/osa.cfg.good"
echo "garbage = ;" >>"$W/osa.cfg"
kill -HUP "$PID"
sleep 0.5
grep -q "keeping the old configuration" "$W/server.log" || die "bad reload not reported"
req 200 GET /health
cp "$W/osa.cfg.good" "$W/osa.cfg"
kill -HUP "$PID"
sleep 0.5
grep -q "SIGHUP: reloaded" "$W/server.log" || die "good reload not reported"

echo "== TLS (nng + mbedtls)"
if command -v openssl >/dev/null && "$OSA" --help >/dev/null; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-keyout "$W/key.pem" -out "$W/cert.pem" >/dev/null 2>&1
	TPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$W/tls.cfg" <<CFG
data_dir = "$W/tlsdata";
server = { listen = "https://127.0.0.1:$TPORT"; tls = { cert = "$W/cert.pem"; key = "$W/key.pem"; }; };
indexes = ( { name = "exact"; backend = "flat"; config = { dim = 32; }; } );
CFG
	"$OSA" serve -c "$W/tls.cfg" 2>>"$W/tls.log" &
	TPID=$!
	for _ in $(seq 1 100); do
		[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$TPORT/health")" = 200 ] && break
		sleep 0.1
	done
	curl -sk -o "$W/body" -w '%{http_code}' "https://127.0.0.1:$TPORT/search/" | grep -q 200 ||
		die "https request failed: $(cat "$W/tls.log")"
	curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$TPORT/health" && die "plain http answered on the TLS port"
	kill -TERM $TPID
	wait $TPID || die "TLS server exit status"
else
	echo "   (skipped: no openssl)"
fi

echo "== restart: data still there"
stop
grep -q "method=GET path=/health status=200 dur_ms=" "$W/server.log" || die "no request log line"
start
req 200 GET /stats && jq_ "assert d['records']==3002, d['records']; assert d['indexes']['exact']['count']==3002"
req 200 GET "/records/urn:osa:e2e.org:rec:a-2"

echo "== hostile requests"
python3 "$SRC/tests/e2e/hostile.py" 127.0.0.1 "$PORT" "s3cret-key" "$W/acked.txt" || die "hostile table"
req 200 GET /health || die "server not healthy after the hostile table"
python3 - "$PORT" "$W/acked.txt" <<'PY' || die "acknowledged records lost"
import http.client, sys, urllib.parse
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
srns = [l.strip() for l in open(sys.argv[2]) if l.strip()]
lost = []
for s in srns:
    c.request("GET", "/records/" + urllib.parse.quote(s, safe=""))
    r = c.getresponse(); r.read()
    if r.status != 200:
        lost.append(s)
print("checked %d acknowledged records, %d lost" % (len(srns), len(lost)))
sys.exit(1 if lost or len(srns) < 10000 else 0)
PY
kill -0 "$PID" || die "server died"
stop
exit $fail

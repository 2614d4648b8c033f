#!/bin/bash
# SPDX-License-Identifier: MIT
# The `osa` command line, end to end: help, version, exit statuses, backends
# list/show, config check (good, many mistakes, syntax), config schema, and
# where the config comes from (-c before/after, $OSA_CONFIG, ./osa.cfg).
set -u
OSA=$1
SRC=$2
DIR=$SRC/cli
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # check DESCRIPTION COMMAND...: the command must succeed
	if ! "${@:2}"; then
		echo "FAIL: $1" >&2
		fail=1
	fi
}
status() { # status WANT DESCRIPTION CMD...: run CMD, compare exit status
	local want=$1 what=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: $what: exit $got, want $want" >&2
		sed 's/^/  out: /' "$tmp/out" >&2
		sed 's/^/  err: /' "$tmp/err" >&2
		fail=1
	fi
}
has() { # has FILE TEXT: FILE holds the exact line fragment TEXT
	if ! grep -qF -- "$2" "$1"; then
		echo "FAIL: $1 lacks: $2" >&2
		sed 's/^/  | /' "$1" >&2
		fail=1
	fi
}

status 0 "--help" "$OSA" --help
has "$tmp/out" "Exit status:"
has "$tmp/out" "78  invalid configuration"
status 0 "--version" "$OSA" --version
has "$tmp/out" "osa 0."
status 64 "no command" "$OSA"
status 64 "unknown command" "$OSA" frobnicate
has "$tmp/err" "unknown command 'frobnicate'"
status 64 "group without subcommand" "$OSA" backends
has "$tmp/err" "'backends' needs a subcommand"
status 64 "-c without a file" "$OSA" config check -c

# backends list / show
status 0 "backends list" "$OSA" backends list
has "$tmp/out" "Backends:"
has "$tmp/out" "Embedders:"
for b in vector flat; do has "$tmp/out" "  $b "; done
for e in hash field; do has "$tmp/out" "  $e "; done
status 0 "backends list --json" "$OSA" backends list --json
check "list json parses" python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
names=[b["name"] for b in d["backends"]]
assert names==sorted(names), names
assert "vector" in names and "flat" in names, names
assert {e["name"] for e in d["embedders"]}>={"hash","field"}
assert all(b["abi"]=="1.3" for b in d["backends"])
' "$tmp/out"
status 0 "backends show vector" "$OSA" backends show vector
has "$tmp/out" "ef_construction"
has "$tmp/out" "; kernels: "
has "$tmp/out" "embedding.embedder"
status 0 "backends show vector --json" "$OSA" backends show vector --json
check "show json parses" python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
f={x["name"]:x for x in d["fields"]}
assert f["dim"]["type"]=="integer" and f["dim"]["default"]==384, f["dim"]
assert f["dim"]["minimum"]==1 and f["dim"]["maximum"]==4096
assert f["metric"]["choices"]==["cosine","l2","ip"], f["metric"]
' "$tmp/out"
status 64 "backends show unknown" "$OSA" backends show nosuch
has "$tmp/err" 'unknown backend "nosuch"'
status 64 "backends show no name" "$OSA" backends show

# config check: a good file, with -c before and after the command
status 0 "good config (-c after)" "$OSA" config check -c "$DIR/good.cfg"
has "$tmp/out" "ok"
has "$tmp/out" "papers (vector), exact (flat)"
status 0 "good config (-c before)" "$OSA" -c "$DIR/good.cfg" config check
status 0 "good config (--config=)" "$OSA" config check --config="$DIR/good.cfg"
status 0 "good config (OSA_CONFIG)" env OSA_CONFIG="$DIR/good.cfg" "$OSA" config check
has "$tmp/out" "(OSA_CONFIG)"
cp "$DIR/good.cfg" "$tmp/osa.cfg"
status 0 "good config (./osa.cfg)" sh -c "cd '$tmp' && env -u OSA_CONFIG '$OSA' config check"
has "$tmp/out" "(./osa.cfg)"
status 0 "built-in default" sh -c "cd / && env -u OSA_CONFIG '$OSA' config check"
has "$tmp/out" "<built-in>: ok (built-in)"

# config check: every mistake at once, one line each, exit 78
status 78 "bad config" "$OSA" config check -c "$DIR/bad.cfg"
B="$DIR/bad.cfg"
has "$tmp/err" "$B:2: server.max_bdy: unknown key \"max_bdy\"; did you mean \"max_body\"?"
has "$tmp/err" "$B:5: indexes.papers.config.dim: expected an integer in [1, 4096], got 5000"
has "$tmp/err" "$B:6: indexes.papers.config.metric: expected one of \"cosine\", \"l2\", \"ip\", got \"cosin\"; did you mean \"cosine\"?"
has "$tmp/err" "$B:7: indexes.papers.config.ef_construction: expected an integer in [1, 65535], got \"high\""
has "$tmp/err" "$B:8: indexes.papers.name: duplicate index name \"papers\" (first defined at line 4)"
# "available:" lists every backend built in (postgres too, in full_defconfig).
avail=$("$OSA" backends list --json | python3 -c "import json,sys; print(', '.join(b['name'] for b in json.load(sys.stdin)['backends']))")
has "$tmp/err" "$B:9: indexes.text.backend: unknown backend \"vectr\"; did you mean \"vector\"? available: $avail"
case $avail in "flat, "*"text, vector"*) ;; *) echo "FAIL: built-in backends: $avail" >&2; fail=1 ;; esac
has "$tmp/err" "$B: 6 errors"
check "nothing on stdout for a bad config" test ! -s "$tmp/out"
check "errors in line order" sh -c "grep -o '^[^ ]*cfg:[0-9][0-9]*' '$tmp/err' | cut -d: -f2 | sort -n -c"

status 78 "syntax error" "$OSA" config check -c "$DIR/syntax.cfg"
has "$tmp/err" "$DIR/syntax.cfg:3:"
status 66 "missing file" "$OSA" config check -c "$tmp/nope.cfg"
has "$tmp/err" "nope.cfg"
status 64 "stray argument" "$OSA" config check extra

# config schema
status 0 "schema markdown" "$OSA" config schema
has "$tmp/out" "ef_construction"
has "$tmp/out" "data_dir"
status 0 "schema json" "$OSA" config schema --format json
check "schema json parses" python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
assert d["type"]=="object"
assert "indexes" in d["properties"] and "data_dir" in d["properties"]
' "$tmp/out"
status 0 "schema man" "$OSA" config schema --format man
has "$tmp/out" ".TH OSA.CFG 5"
has "$tmp/out" "ef_construction"
check "schema man renders" sh -c "MANWIDTH=80 man -l '$tmp/out' | grep -q 'TOP-LEVEL SETTINGS'"
status 64 "schema bad format" "$OSA" config schema --format yaml
has "$tmp/err" "markdown, json or man"

# Records come back as written: 0.1 stays 0.1, an integer beyond 64 bits is
# accepted, and search metadata is the record minus its vector member.
cat >"$tmp/fid.cfg" <<CFG
data_dir = "$tmp/fid";
logging = { level = "warn"; };
indexes = ( { name = "v"; backend = "vector";
  config = { dim = 2; embedding = { embedder = "field"; }; }; },
  { name = "t"; backend = "flat"; config = { dim = 64; }; } );
CFG
R1='{"srn":"urn:osa:t.org:rec:a-1","title":"sea ice","f":0.1,"big":12345678901234567890,"embedding":[1,0],"z":1.50}'
R2='{"srn":"urn:osa:t.org:rec:a-2","title":"river","embedding":[0,1],"e":1E+2}'
printf '[%s,\n %s]\n' "$R1" "$R2" >"$tmp/fid.json"
status 0 "ingest a JSON array" "$OSA" -c "$tmp/fid.cfg" ingest "$tmp/fid.json"
status 0 "get as written" "$OSA" -c "$tmp/fid.cfg" get urn:osa:t.org:rec:a-1
check "get is byte-identical" test "$(cat "$tmp/out")" = "$R1"
printf '%s\n' '{"srn":"urn:osa:t.org:rec:a-3","n":-99999999999999999999,"title":"x","embedding":[1,1]}' >"$tmp/fid.ndjson"
status 0 "ingest NDJSON" "$OSA" -c "$tmp/fid.cfg" ingest "$tmp/fid.ndjson"
status 0 "get NDJSON record" "$OSA" -c "$tmp/fid.cfg" get urn:osa:t.org:rec:a-3
has "$tmp/out" '"n":-99999999999999999999,'
status 0 "search --json" "$OSA" -c "$tmp/fid.cfg" search --json t "sea ice" --limit=1
has "$tmp/out" "\"metadata\":${R1/,\"embedding\":\[1,0\]/}}"

exit $fail

#!/bin/bash
# SPDX-License-Identifier: MIT
# valgrind over the CLI paths (config check, ingest, search, get, delete,
# stats, reindex, compact) of a dynamically linked build: no leaks, no
# invalid reads or writes.   scripts/valgrind.sh BUILD
set -u
OSA=$1/core/cli/osa
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat >"$W/osa.cfg" <<CFG
data_dir = "$W/data";
logging = { level = "warn"; };
indexes = (
  { name = "papers"; backend = "vector"; config = { dim = 32; }; },
  { name = "exact"; backend = "flat"; config = { dim = 32; }; },
  { name = "words"; backend = "text"; }
);
CFG
head -n 150 "$SRC/samples/records.ndjson" >"$W/in.ndjson"
echo '{"srn":"bad srn","title":"x"}' >>"$W/in.ndjson"
VG="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99"
fail=0
run() { # run WANT_STATUS ARGS...
	local want=$1
	shift
	$VG "$OSA" -c "$W/osa.cfg" "$@" >"$W/out" 2>"$W/err"
	local st=$?
	if [ $st != "$want" ]; then
		echo "FAIL: osa $*: exit $st (want $want)"
		cat "$W/err"
		fail=1
	else
		echo "ok: osa $*"
	fi
}
run 0 config check
run 78 config check -c "$SRC/tests/cli/bad.cfg"
run 1 ingest --batch 40 "$W/in.ndjson"
run 0 search papers "analysis survey" --limit 5
run 0 search exact "analysis" --json
run 0 search words 'analysis "sea ice" surv* +data -glacier' --json
run 0 get urn:osa:sample.osa.dev:rec:s-00007@1
run 0 delete urn:osa:sample.osa.dev:rec:s-00007@1
run 0 stats --json
run 0 reindex papers
run 0 compact
run 0 health
run 0 backends list --json
run 0 config schema --format json
exit $fail

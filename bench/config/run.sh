#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/config: how long the whole `osa config check` process takes on a
# 50-index configuration (target: under 5 ms), measured against starting a
# trivial static process (`osa --version`) in the same run, so machine noise
# shows in both.  Prints JSON lines.
#   bench/config/run.sh OSA_BINARY [RUNS]
set -eu
OSA=$1
RUNS=${2:-200}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

{
	echo 'data_dir = "./data";'
	echo 'indexes = ('
	for i in $(seq 1 50); do
		sep=","
		[ "$i" = 50 ] && sep=""
		if [ $((i % 2)) = 0 ]; then
			echo "  { name = \"idx$i\"; backend = \"vector\"; config = { dim = 128; metric = \"l2\"; m = 12; ef_construction = 100; embedding = { embedder = \"hash\"; fields = [\"title\", \"summary\"]; template = \"{title}. {summary}\"; }; }; }$sep"
		else
			echo "  { name = \"idx$i\"; backend = \"flat\"; config = { dim = 256; metric = \"ip\"; }; }$sep"
		fi
	done
	echo ');'
} >"$W/fifty.cfg"

"$OSA" config check -c "$W/fifty.cfg" >/dev/null

time_runs() { # time_runs CMD...: mean wall ms per run over $RUNS runs
	local t0 t1
	t0=$(date +%s%N)
	for _ in $(seq 1 "$RUNS"); do "$@" >/dev/null; done
	t1=$(date +%s%N)
	python3 -c "print(round(($t1-$t0)/$RUNS/1e6,3))"
}

base=$(time_runs "$OSA" --version)
check=$(time_runs "$OSA" config check -c "$W/fifty.cfg")
echo "{\"bench\":\"config\",\"impl\":\"osa --version\",\"indexes\":0,\"ms_per_process\":$base}"
echo "{\"bench\":\"config\",\"impl\":\"osa config check\",\"indexes\":50,\"ms_per_process\":$check}"
python3 -c "print('{\"bench\":\"config\",\"ratio_check_over_startup\":%.2f,\"validation_ms\":%.3f,\"target_ms\":5}' % ($check/$base, $check-$base))"

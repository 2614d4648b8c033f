#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench`: every benchmark, each printing JSON lines with its ratio
# against a peer measured in the same run.  BENCH_QUICK=1 for short runs.
set -u
B=${1:-build}
Q=${BENCH_QUICK:-0}
run() { echo "== $*"; "$@" || echo "(failed: $*)"; }
run bench/config/run.sh "$B/core/cli/osa"
if [ "$Q" = 1 ]; then run bench/ingest/run.sh "$B" 20000; else run bench/ingest/run.sh "$B"; fi
run "$B/bench/embed/osa-bench-embed"
if [ "$Q" = 1 ]; then
	run "$B/bench/ann/osa-bench-ann" --n 20000 --dim 64
	run "$B/bench/flat/osa-bench-flat"
	run "$B/bench/text/osa-bench-text" --n 20000 --queries 500
	run "$B/bench/filter/osa-bench-filter" --n 20000 --text-n 20000 --nq 100
	[ -x "$B/bench/postgres/osa-bench-postgres" ] &&
		run bench/postgres/run.sh "$B" --n 20000 --queries 500
	run bench/http/run.sh "$B" 20000 10
	run bench/soak/soak.py "$B/core/cli/osa" --seconds 15
else
	run "$B/bench/ann/osa-bench-ann"
	run "$B/bench/flat/osa-bench-flat"
	run "$B/bench/text/osa-bench-text"
	run "$B/bench/filter/osa-bench-filter"
	[ -x "$B/bench/postgres/osa-bench-postgres" ] && run bench/postgres/run.sh "$B"
	run bench/http/run.sh "$B"
	run bench/soak/soak.py "$B/core/cli/osa"
fi

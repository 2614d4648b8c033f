#!/bin/bash
# SPDX-License-Identifier: MIT
# Run every fuzz target of BUILD for SECONDS each: first over its kept
# regression inputs (tests/fuzz/regressions/<target>/), then fuzzing from the
# seed corpus (tests/fuzz/corpus/<target>/, copied: the repo is not written).
# Fails on any crash, leak or timeout; new crash inputs are copied into
# tests/fuzz/regressions/<target>/ to be fixed and kept.
#   scripts/fuzz.sh BUILD [SECONDS]
set -u
BUILD=$(cd "$1" && pwd)
SECONDS_EACH=${2:-60}
SRC=$(cd "$(dirname "$0")/.." && pwd)
fail=0
export LSAN_OPTIONS="suppressions=$SRC/tests/fuzz/lsan.supp:print_suppressions=0"
for exe in "$BUILD"/tests/fuzz/fuzz_*; do
	[ -x "$exe" ] || continue
	t=${exe##*/fuzz_}
	work=$(mktemp -d)
	cp -r "$SRC/tests/fuzz/corpus/$t/." "$work/" 2>/dev/null
	reg=$SRC/tests/fuzz/regressions/$t
	if [ -d "$reg" ] && [ -n "$(ls -A "$reg" 2>/dev/null)" ]; then
		if ! "$exe" -runs=1 "$reg"/* >"$work.log" 2>&1; then
			echo "fuzz $t: a kept regression input fails again:"
			tail -n 30 "$work.log"
			fail=1
		fi
	fi
	(cd "$work" && "$exe" -max_total_time="$SECONDS_EACH" -timeout=10 \
		-rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix="$work/" \
		"$work" >"$work.log" 2>&1)
	st=$?
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | grep -o '[0-9]*$')
	echo "{\"fuzz\":\"$t\",\"seconds\":$SECONDS_EACH,\"execs\":${execs:-0},\"status\":$st}"
	if [ $st != 0 ]; then
		fail=1
		tail -n 40 "$work.log"
		mkdir -p "$reg"
		for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
			[ -f "$a" ] && cp "$a" "$reg/" && echo "kept $reg/${a##*/}"
		done
	fi
	rm -rf "$work" "$work.log"
	rm -rf /dev/shm/osa-fuzz-* 2>/dev/null
done
exit $fail

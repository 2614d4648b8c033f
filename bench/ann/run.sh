#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/ann/run.sh BUILD [osa-bench-ann options...]
#
# osa-bench-ann once per distance-kernel build this CPU runs (avx512, avx2,
# sse2; HNSWC_KERNEL caps the run-time pick), with the same options, e.g.
#   bench/ann/run.sh build --n 30000 --dim 384 --ef 32,64
# Levels the CPU lacks are skipped (the cap would fall back to a lower one).
set -eu
build=${1:?usage: bench/ann/run.sh BUILD [osa-bench-ann options]}
shift
bench="$build/bench/ann/osa-bench-ann"
osa="$build/core/cli/osa"
[ -x "$bench" ] || { echo "run.sh: no $bench (make build)" >&2; exit 66; }
for k in avx512 avx2 sse2; do
	got=$(HNSWC_KERNEL=$k "$osa" backends show vector |
		sed -n 's/.*kernels: \([a-z0-9]*\).*/\1/p')
	if [ "$got" != "$k" ]; then
		echo "run.sh: this CPU has no $k kernels: skipped" >&2
		continue
	fi
	HNSWC_KERNEL=$k "$bench" "$@"
done

#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/postgres/run.sh BUILD_DIR [osa-bench-postgres args...]: start a
# throwaway PostgreSQL cluster (external/osa-backend-postgres/tests/
# pgcluster.sh), run osa-bench-postgres against it, stop it.  The build
# must select both postgres and text (e.g. make full_defconfig).
set -eu
B=$1
shift
HERE=$(cd "$(dirname "$0")" && pwd)
PGC=$HERE/../../external/osa-backend-postgres/tests/pgcluster.sh
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
D=/tmp/osa-pgbench-$$
EXE=$B/bench/postgres/osa-bench-postgres
[ -x "$EXE" ] || { echo "no $EXE: build with postgres and text selected (make full_defconfig)"; exit 1; }
"$PGC" start "$D" "$PGBIN" >/dev/null
trap '"$PGC" stop "$D" "$PGBIN"' EXIT
"$EXE" --conninfo "host=$D port=5432 dbname=osa user=osa" "$@"

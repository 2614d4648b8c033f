#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The postgres backend (external/osa-backend-postgres) as a third party
# ships it, against a real PostgreSQL server:
#   1. this build's SDK installed to a prefix; the package configured on its
#      own with that prefix in CMAKE_PREFIX_PATH (find_package(osa), no core
#      source path), built, and its ctest run: a throwaway cluster, its unit
#      test and the backend conformance suite, none skipped;
#   2. the package installed, and an OSA build (tests/fixtures/
#      postgres_defconfig) finding it through CMAKE_PREFIX_PATH: osa is
#      linked dynamically and says why, lists postgres;
#   3. that osa end to end: the server killed mid-ingest and restarted
#      (tests/failover.sh), a writer and a read-only node (tests/readonly.sh),
#      osa killed -9 with no checkpoint due (tests/kill9.sh).
# Without PostgreSQL's server binaries: exit 77 (skipped), or a failure when
# OSA_REQUIRE_POSTGRES=1 (.ci/run sets it).
#   postgres.sh SRC MAIN_BUILD WORK
set -u
SRC=$1
MAIN_BUILD=$2
W=$3
PKG=$SRC/external/osa-backend-postgres
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
	echo "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): install postgresql (scripts/install-deps)"
	[ "${OSA_REQUIRE_POSTGRES:-0}" = 1 ] && { echo "FAIL: OSA_REQUIRE_POSTGRES=1"; exit 1; }
	exit 77
fi
rm -rf "$W"
mkdir -p "$W"
run() { # run LOG cmd...: quiet unless it fails
	local log=$1
	shift
	"$@" >>"$log" 2>&1 || { cat "$log"; return 1; }
}

echo "== 1. the package on its own, against the installed SDK"
run "$W/sdk.log" cmake --install "$MAIN_BUILD" --prefix "$W/sdk" || exit 1
run "$W/pkg.log" cmake -S "$PKG" -B "$W/pkg" -DCMAKE_PREFIX_PATH="$W/sdk" || exit 1
grep -q "^osa_DIR:PATH=$W/sdk/" "$W/pkg/CMakeCache.txt" ||
	die "the package did not find osa in the SDK prefix: $(grep ^osa_DIR "$W/pkg/CMakeCache.txt")"
grep -rq "$SRC/core\|$SRC/tests" "$W/pkg/CMakeFiles/osa_backend_postgres.dir/flags.make" &&
	die "the package compiles with a core source path"
run "$W/pkg.log" cmake --build "$W/pkg" -j2 || exit 1
ctest --test-dir "$W/pkg" --output-on-failure >"$W/pkg-tests.log" 2>&1 ||
	{ cat "$W/pkg-tests.log"; die "the package's tests failed"; }
for t in cluster_start test_postgres conformance cluster_stop; do
	grep -q "osa.postgres.$t .*Passed" "$W/pkg-tests.log" ||
		die "osa.postgres.$t did not pass: $(grep "osa.postgres.$t" "$W/pkg-tests.log")"
done
grep -q "Skipped\|Not Run" "$W/pkg-tests.log" &&
	die "package tests skipped: $(grep "Skipped\|Not Run" "$W/pkg-tests.log")"
run "$W/pkg.log" cmake --install "$W/pkg" --prefix "$W/plugins" || exit 1

echo "== 2. an OSA build finding the installed package (CMAKE_PREFIX_PATH)"
run "$W/osa.log" cmake -S "$SRC" -B "$W/osa" \
	-DOSA_DEFCONFIG="$SRC/tests/fixtures/postgres_defconfig" \
	-DCMAKE_PREFIX_PATH="$W/plugins" || exit 1
grep -q "^OsaBackendPostgres_DIR:PATH=$W/plugins/" "$W/osa/CMakeCache.txt" ||
	die "the OSA build did not use the installed package: $(grep OsaBackendPostgres_DIR "$W/osa/CMakeCache.txt")"
grep -qx "CONFIG_OSA_BACKEND_POSTGRES=y" "$W/osa/.config" || die ".config lacks postgres"
grep -q "^CONFIG_OSA_STATIC=y" "$W/osa/.config" && die "postgres selected, yet CONFIG_OSA_STATIC=y"
run "$W/osa.log" cmake --build "$W/osa" --target osa -j2 || exit 1
OSA=$W/osa/core/cli/osa
readelf -d "$OSA" | grep -q "NEEDED.*libpq" || die "osa does not link libpq.so: $(readelf -d "$OSA" | grep NEEDED)"
"$OSA" --version | grep -q "^linked: dynamic (a selected plugin needs shared libraries" ||
	die "--version: $("$OSA" --version)"
"$OSA" backends list | grep -q "^  postgres " || die "postgres not listed: $("$OSA" backends list)"
"$OSA" backends list | grep -q "^Binary linked: dynamic" || die "backends list does not say dynamic"

echo "== 3. end to end: failover, writer + read-only node, kill -9"
"$PKG/tests/failover.sh" "$OSA" "/tmp/osa-pgf-$$" "$PGBIN" "$W/failover" || die "failover"
"$PKG/tests/pgcluster.sh" start "/tmp/osa-pgr-$$" "$PGBIN" >/dev/null || die "cluster start"
"$PKG/tests/readonly.sh" "$OSA" "/tmp/osa-pgr-$$" "$W/readonly" || die "readonly"
"$PKG/tests/kill9.sh" "$OSA" "/tmp/osa-pgr-$$" "$W/kill9" || die "kill9"
"$PKG/tests/pgcluster.sh" stop "/tmp/osa-pgr-$$" "$PGBIN"
[ $fail = 0 ] && rm -rf "$W"
exit $fail

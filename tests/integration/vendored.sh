#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Vendoring: examples/vendored/ is a product with its own CMake project and
# Kconfig tree that add_subdirectory()s OSA.  Configure it from its
# defconfig, check that the product's and OSA's symbols share one .config and
# one header, that nothing global leaked into the product's scope, then
# build it and run the program (ingest + search through the C API).
#   vendored.sh SRC WORK
set -eu
SRC=$1
W=$2
rm -rf "$W"
mkdir -p "$W"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
B=$W/build
{ cmake -S "$SRC/examples/vendored" -B "$B" &&
	cmake --build "$B" --target catalogue -j2; } >"$W/build.log" 2>&1 ||
	{ cat "$W/build.log"; exit 1; }
C=$B/osa/.config
grep -qx 'CONFIG_CATALOGUE_QUERY="glacier"' "$C" || die "product symbol not in .config"
grep -qx 'CONFIG_OSA_BACKEND_VECTOR=y' "$C" || die "OSA symbol not in .config"
grep -qx '#define CONFIG_CATALOGUE_LIMIT 3' "$B/osa/generated/osa/osa_autoconf.h" ||
	die "product symbol not in osa_autoconf.h"
# Nothing global: the product's cache has no unprefixed OSA variables and
# its own directory got no compile options from OSA.
grep -E '^(KCONFIG_CONF|HNSWLIB_C_TESTS|osa__)' "$B/CMakeCache.txt" &&
	die "unprefixed cache variables leaked into the product"
grep -q -- '-Werror' "$B/CMakeFiles/catalogue.dir/flags.make" &&
	die "OSA's -Werror reached the product"
grep -q -- '-ffunction-sections' "$B/CMakeFiles/catalogue.dir/flags.make" &&
	die "OSA's compile options reached the product"
out=$("$B/catalogue" "$W/data") || die "catalogue exited $?"
echo "$out"
grep -q 'urn:osa:catalogue.example:rec:item-1@1' <<<"$out" || die "catalogue: expected hit missing"
exit $fail

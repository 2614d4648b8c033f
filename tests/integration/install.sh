#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The installed library: `cmake --install` of this build into a prefix, then
# examples/embed.c built out of tree against it twice, with find_package(osa)
# (osa::osa) and with `pkg-config --static`, and each binary run: it ingests
# records, searches, and must find them.
#   install.sh BUILD_DIR SRC WORK
set -eu
B=$1
SRC=$2
W=$3
rm -rf "$W"
mkdir -p "$W"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

cmake --install "$B" --prefix "$W/prefix" >"$W/install.log" 2>&1 ||
	{ cat "$W/install.log"; exit 1; }
for f in lib/libosa.a lib/cmake/osa/osaConfig.cmake lib/pkgconfig/osa.pc \
	include/osa/osa.h include/osa/osa_autoconf.h bin/osa; do
	test -e "$W/prefix/$f" || die "not installed: $f"
done
test -e "$W/prefix/include/osa_autoconf.h" && die "osa_autoconf.h at the include root"

# find_package(osa)
mkdir -p "$W/cm"
cat >"$W/cm/CMakeLists.txt" <<EOC
cmake_minimum_required(VERSION 3.25)
project(embed_consumer C)
find_package(osa REQUIRED)
add_executable(embed "$SRC/examples/embed.c")
target_link_libraries(embed PRIVATE osa::osa)
EOC
{ cmake -S "$W/cm" -B "$W/cm/b" -DCMAKE_PREFIX_PATH="$W/prefix" &&
	cmake --build "$W/cm/b"; } >"$W/cm.log" 2>&1 ||
	{ cat "$W/cm.log"; exit 1; }

# pkg-config --static
export PKG_CONFIG_PATH="$W/prefix/lib/pkgconfig"
pkg-config --validate osa || die "osa.pc does not validate"
pkg-config --static --libs osa | grep -q -- "-losa" || die "osa.pc: no -losa in Libs"
# shellcheck disable=SC2046
cc -o "$W/embed-pc" "$SRC/examples/embed.c" \
	$(pkg-config --static --cflags --libs osa) >"$W/pc.log" 2>&1 ||
	{ cat "$W/pc.log"; exit 1; }

for exe in "$W/cm/b/embed" "$W/embed-pc"; do
	d=$(mktemp -d "$W/run.XXXX")
	sed "s|^data_dir.*|data_dir = \"$d/data\";|" \
		"$SRC/configs/examples/default.cfg" >"$d/osa.cfg"
	out=$("$exe" "$d/osa.cfg" "$SRC/samples/records.ndjson" glacier 2>"$d/err") ||
		{ cat "$d/err"; die "$exe failed"; continue; }
	grep -q "^ack lsn=" <<<"$out" || die "$exe: no acknowledged batch"
	grep -q "urn:osa:sample.osa.dev:rec:" <<<"$out" || die "$exe: no hit: $out"
	echo "ok: $exe"
done
exit $fail

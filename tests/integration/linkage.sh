#!/bin/bash
# SPDX-License-Identifier: MIT
#
# How `osa` is linked, checked three ways without building anything new:
#   1. configs/defconfig and configs/embedded_defconfig, resolved by kconfig
#      with every plugin this build sees (external/ included), keep
#      CONFIG_OSA_STATIC=y and select nothing that needs dynamic linking
#      (CONFIG_OSA_NEED_DYNAMIC, e.g. the postgres backend);
#   2. this build's binary is what its .config says: fully static (no
#      program interpreter, no NEEDED entry) when CONFIG_OSA_STATIC=y and it
#      is not a sanitizer build, dynamic otherwise;
#   3. `osa --version` and `osa backends list [--json]` report that linkage.
# The embedded_defconfig binary itself is built and checked by
# tests/integration/kconfig.sh; in CI the main build is configs/defconfig.
#   linkage.sh OSA BUILD_DIR SRC STATIC(ON|OFF)
set -eu
OSA=$1
B=$2
SRC=$3
STATIC=$4
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

for d in defconfig embedded_defconfig; do
	mkdir -p "$W/$d"
	(cd "$SRC" && env KCONFIG_CONFIG="$W/$d/.config" srctree="$SRC" \
		OSA_KCONFIG_GEN="$B/kconfig" OSA_SRCTREE="$SRC" \
		kconfig-conf --defconfig="$SRC/configs/$d" Kconfig) \
		>"$W/$d.log" 2>&1 || { cat "$W/$d.log"; die "$d: kconfig failed"; continue; }
	grep -qx "CONFIG_OSA_STATIC=y" "$W/$d/.config" ||
		die "$d: CONFIG_OSA_STATIC is not y: $(grep OSA_STATIC "$W/$d/.config")"
	grep -q "^CONFIG_OSA_NEED_DYNAMIC=y" "$W/$d/.config" &&
		die "$d: a selected plugin needs dynamic linking: $(grep -E '^CONFIG_OSA_(BACKEND|EMBEDDER)_[A-Z0-9_]+=y' "$W/$d/.config" | tr '\n' ' ')"
	grep -q "^CONFIG_OSA_BACKEND_POSTGRES=y" "$W/$d/.config" &&
		die "$d selects the postgres backend"
done
echo "ok: defconfig and embedded_defconfig stay static"

interp=$(readelf -l "$OSA" | grep -c "Requesting program interpreter" || true)
needed=$(readelf -d "$OSA" 2>/dev/null | grep -c "(NEEDED)" || true)
ver=$("$OSA" --version)
list=$("$OSA" backends list)
json=$("$OSA" backends list --json)
if [ "$STATIC" = ON ]; then
	[ "$interp" = 0 ] && [ "$needed" = 0 ] ||
		die "CONFIG_OSA_STATIC build is not fully static: $(file "$OSA")"
	grep -qx "linked: static" <<<"$ver" || die "--version: $ver"
	grep -qx "Binary linked: static" <<<"$list" || die "backends list: $list"
	grep -q '"linked": "static"' <<<"$json" || die "backends list --json: $json"
else
	[ "$interp" != 0 ] || die "a dynamic build has no interpreter: $(file "$OSA")"
	grep -q "^linked: dynamic" <<<"$ver" || die "--version: $ver"
	grep -q "^Binary linked: dynamic" <<<"$list" || die "backends list: $list"
	grep -q '"linked": "dynamic' <<<"$json" || die "backends list --json: $json"
	if grep -q "^CONFIG_OSA_NEED_DYNAMIC=y" "$B/.config"; then
		grep -q "CONFIG_OSA_NEED_DYNAMIC" <<<"$ver" ||
			die "--version does not say why it is dynamic: $ver"
	fi
fi
[ $fail = 0 ] && echo "ok: $OSA is $( [ "$STATIC" = ON ] && echo static || echo dynamic ) and says so"
exit $fail

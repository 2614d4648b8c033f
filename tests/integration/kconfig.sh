#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Kconfig drives the build: a defconfig gives the expected .config, header
# and binary; a backend left out is absent from the binary (no symbols, not
# listed) and named, with its Kconfig symbol, when a config asks for it.
set -eu
SRC=$1
W=$2
rm -rf "$W"
mkdir -p "$W"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
build() { # build DIR DEFCONFIG
	cmake -S "$SRC" -B "$1" -DOSA_DEFCONFIG="$2" >"$1.log" 2>&1 &&
		cmake --build "$1" --target osa -j2 >>"$1.log" 2>&1 ||
		{ cat "$1.log"; exit 1; }
}

echo "== embedded_defconfig"
build "$W/emb" configs/embedded_defconfig
C=$W/emb/.config
grep -qx "CONFIG_OSA_BLAS_REFERENCE=y" "$C" || die "embedded: not reference BLAS"
grep -qx "# CONFIG_OSA_TLS is not set" "$C" || die "embedded: TLS not off"
grep -qx "CONFIG_OSA_BACKEND_VECTOR=y" "$C" || die "embedded: vector off"
grep -qx "CONFIG_OSA_BACKEND_FLAT=y" "$C" || die "embedded: flat off"
grep -qx '#define CONFIG_OSA_BLAS_REFERENCE 1' "$W/emb/generated/osa/osa_autoconf.h" ||
	die "embedded: header lacks CONFIG_OSA_BLAS_REFERENCE"
grep -q "CONFIG_OSA_TLS" "$W/emb/generated/osa/osa_autoconf.h" &&
	die "embedded: header defines CONFIG_OSA_TLS"
OSA=$W/emb/core/cli/osa
list=$("$OSA" backends list --json)
for p in vector flat hash field; do
	grep -q "\"name\": \"$p\"" <<<"$list" || die "embedded: $p not listed"
done
file "$OSA" | grep -q "statically linked" || die "embedded: osa is not static: $(file "$OSA")"
"$OSA" --version | grep -qx "linked: static" || die "embedded: --version: $("$OSA" --version)"
grep -q "openblas" "$W/emb/CMakeCache.txt" && grep -q "OSA_BLAS_LIBRARY:.*openblas" "$W/emb/CMakeCache.txt" &&
	die "embedded: linked OpenBLAS"

echo "== a defconfig without flat"
sed 's/^CONFIG_OSA_BACKEND_FLAT=y/# CONFIG_OSA_BACKEND_FLAT is not set/' \
	"$SRC/configs/embedded_defconfig" >"$W/noflat_defconfig"
build "$W/noflat" "$W/noflat_defconfig"
OSA=$W/noflat/core/cli/osa
grep -qx "# CONFIG_OSA_BACKEND_FLAT is not set" "$W/noflat/.config" ||
	die "noflat: .config still selects flat"
out=$("$OSA" backends list)
built() { # built OSA NAME: NAME is among the backends built in
	"$1" backends list --json | python3 -c "import json,sys; sys.exit(0 if sys.argv[1] in [b['name'] for b in json.load(sys.stdin)['backends']] else 1)" "$2"
}
built "$OSA" flat && die "noflat: flat is listed"
built "$OSA" vector || die "noflat: vector missing"
grep -q "flat .*backend .*enable CONFIG_OSA_BACKEND_FLAT" <<<"$out" ||
	die "noflat: not-built-in section lacks flat: $out"
nm "$OSA" | grep -q " flat_" && die "noflat: flat symbols in the binary"
nm "$W/emb/core/cli/osa" | grep -q " flat_" ||
	die "emb: no flat symbols, so the absence check proves nothing"
cat >"$W/flat.cfg" <<'CFG'
indexes = ( { name = "exact"; backend = "flat"; } );
CFG
set +e
out=$("$OSA" config check -c "$W/flat.cfg" 2>&1)
st=$?
set -e
[ $st = 78 ] || die "noflat: exit $st, want 78"
grep -qF "flat.cfg:1: indexes.exact.backend: backend \"flat\" (found in $SRC/backends/flat) is not built in: enable CONFIG_OSA_BACKEND_FLAT (make menuconfig) and rebuild" <<<"$out" ||
	die "noflat: hint missing: $out"

echo "== .config edits reconfigure by themselves"
sed -i 's/^CONFIG_OSA_BACKEND_FLAT=y/# CONFIG_OSA_BACKEND_FLAT is not set/' "$W/emb/.config"
cmake --build "$W/emb" --target osa -j2 >>"$W/emb.log" 2>&1 || { cat "$W/emb.log"; exit 1; }
built "$W/emb/core/cli/osa" flat &&
	die "edited .config did not rebuild without flat"

[ $fail = 0 ] && rm -rf "$W"
exit $fail

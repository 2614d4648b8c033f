#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Plugin discovery, end to end (the seed issue's integration test): the
# fixture backend package tests/fixtures/osa-backend-memo joins a fresh OSA
# build with no core file touched, three ways:
#   1. built as an out-of-tree project against the installed SDK, installed,
#      and found through CMAKE_PREFIX_PATH;
#   2. as a source package named in OSA_EXTERNAL_BACKENDS;
#   3. dropped into external/ of a copy of the tree (picked up by itself).
# Each time: its Kconfig appears under "External backends", `osa backends
# list` shows it, and its config is validated (good and bad).
set -eu
SRC=$1
MAIN_BUILD=$2
W=$3
FIX=$SRC/tests/fixtures
rm -rf "$W"
mkdir -p "$W"
fail=0
say() { echo "== $*"; }
die() { echo "FAIL: $*" >&2; fail=1; }

cat >"$W/good.cfg" <<'CFG'
data_dir = "./data";
indexes = ( { name = "notes"; backend = "memo";
              config = { fields = ["title", "summary"]; min_score = 0.5;
                         match = "all"; }; } );
CFG
cat >"$W/bad.cfg" <<'CFG'
data_dir = "./data";
indexes = ( { name = "notes"; backend = "memo";
              config = { fields = [];
                         min_scor = 0.5;
                         match = "every"; }; } );
CFG

verify() { # verify LABEL BUILD_DIR
	local label=$1 b=$2 osa=$2/core/cli/osa out
	grep -q "osa-backend-memo/Kconfig\|plugins/memo/Kconfig\|external/memo/Kconfig" \
		"$b/kconfig/Kconfig.external" ||
		die "$label: memo's Kconfig is not in the External backends menu"
	grep -qx "CONFIG_OSA_BACKEND_MEMO=y" "$b/.config" ||
		die "$label: .config does not select CONFIG_OSA_BACKEND_MEMO"
	out=$("$osa" backends list) || die "$label: backends list failed"
	grep -q "^  memo " <<<"$out" || die "$label: memo not listed: $out"
	"$osa" backends show memo | grep -q "min_score" ||
		die "$label: backends show memo lacks min_score"
	"$osa" config check -c "$W/good.cfg" >/dev/null ||
		die "$label: good memo config refused"
	set +e
	out=$("$osa" config check -c "$W/bad.cfg" 2>&1)
	local st=$?
	set -e
	[ $st = 78 ] || die "$label: bad config exit $st, want 78"
	grep -qF "bad.cfg:3: indexes.notes.config.fields: at least one field is needed to match on" <<<"$out" ||
		die "$label: check callback error missing: $out"
	grep -qF "bad.cfg:4: indexes.notes.config.min_scor: unknown key \"min_scor\"; did you mean \"min_score\"?" <<<"$out" ||
		die "$label: unknown key error missing: $out"
	grep -qF "bad.cfg:5: indexes.notes.config.match: expected one of \"any\", \"all\", got \"every\"" <<<"$out" ||
		die "$label: enum error missing: $out"
}

configure_build() { # configure_build SRC BUILD [cmake args...]
	local s=$1 b=$2
	shift 2
	cmake -S "$s" -B "$b" -DOSA_DEFCONFIG="$FIX/discovery_defconfig" "$@" \
		>"$b.log" 2>&1 && cmake --build "$b" --target osa -j2 \
		>>"$b.log" 2>&1 || { cat "$b.log"; return 1; }
}

say "1. out-of-tree project against the installed SDK, found via CMAKE_PREFIX_PATH"
cmake --install "$MAIN_BUILD" --prefix "$W/sdk" >"$W/install.log" 2>&1 ||
	{ cat "$W/install.log"; exit 1; }
cmake -S "$FIX/osa-backend-memo" -B "$W/memo-build" \
	-DCMAKE_PREFIX_PATH="$W/sdk" >"$W/memo.log" 2>&1 &&
	cmake --build "$W/memo-build" >>"$W/memo.log" 2>&1 &&
	cmake --install "$W/memo-build" --prefix "$W/plugins" >>"$W/memo.log" 2>&1 ||
	{ cat "$W/memo.log"; exit 1; }
test -f "$W/plugins/lib/cmake/OsaBackendMemo/OsaBackendMemoConfig.cmake" ||
	die "the memo package config was not installed"
test -f "$W/plugins/share/osa/plugins/memo/Kconfig" ||
	die "the memo Kconfig was not installed"
configure_build "$SRC" "$W/b1" -DCMAKE_PREFIX_PATH="$W/plugins"
verify prefix "$W/b1"

say "2. source package named in OSA_EXTERNAL_BACKENDS"
configure_build "$SRC" "$W/b2" -DOSA_EXTERNAL_BACKENDS="$FIX/osa-backend-memo"
verify external-var "$W/b2"

say "3. dropped into external/ of a copy of the tree"
mkdir -p "$W/tree"
(cd "$SRC" && tar --exclude='./build*' --exclude='./.git' -cf - .) |
	(cd "$W/tree" && tar -xf -)
cp -r "$FIX/osa-backend-memo" "$W/tree/external/memo"
configure_build "$W/tree" "$W/b3"
verify external-dir "$W/b3"

say "a build without it does not know it"
out=$("$MAIN_BUILD/core/cli/osa" backends list)
grep -q "^  memo " <<<"$out" && die "memo leaked into the main build"

[ $fail = 0 ] && rm -rf "$W"
exit $fail

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
# Each time: its Kconfig appears under "External backends" of the build's
# kconfig runner (build/kconfig/run, what `make menuconfig` and the
# `menuconfig` target use), kconfig-conf keeps it selected, `osa backends
# list` shows it, its config is validated (good and bad), records are
# ingested and found by a search; then it is disabled through kconfig-conf
# and stays disabled across a reconfigure, and the "not built in" hint names
# the folder it was found in.
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

verify() { # verify LABEL BUILD_DIR FOUND_IN
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
	# The non-interactive front end through the build's runner (the same
	# menus as menuconfig) sees memo and keeps it.
	"$b/kconfig/run" kconfig-conf --olddefconfig >"$b.kconf.log" 2>&1 ||
		die "$label: kconfig run failed: $(cat "$b.kconf.log")"
	grep -qx "CONFIG_OSA_BACKEND_MEMO=y" "$b/.config" ||
		die "$label: kconfig-conf dropped CONFIG_OSA_BACKEND_MEMO"
	# Ingest and search with it.
	rm -rf "$W/data-$label"
	mkdir -p "$W/data-$label"
	sed "s|\./data|$W/data-$label|" "$W/good.cfg" >"$W/run-$label.cfg"
	printf '%s\n' \
		'{"srn":"urn:osa:example.org:rec:rec-a1","title":"Deep sea vents","summary":"hydrothermal"}' \
		'{"srn":"urn:osa:example.org:rec:rec-b2","title":"Sea ice decline","summary":"arctic"}' \
		'{"srn":"urn:osa:example.org:rec:rec-c3","title":"Desert soils","summary":"dry"}' |
		"$osa" -c "$W/run-$label.cfg" ingest - >"$b.ingest.log" 2>&1 ||
		die "$label: ingest failed: $(cat "$b.ingest.log")"
	out=$("$osa" -c "$W/run-$label.cfg" search notes "sea vents" --json 2>&1) ||
		die "$label: search failed: $out"
	grep -q "rec:rec-a1" <<<"$out" || die "$label: search misses a1: $out"
	grep -q "rec:rec-c3" <<<"$out" && die "$label: search finds c3: $out"
	# Disabled in kconfig, it stays disabled across reconfigures.
	sed -i 's/^CONFIG_OSA_BACKEND_MEMO=y/# CONFIG_OSA_BACKEND_MEMO is not set/' "$b/.config"
	"$b/kconfig/run" kconfig-conf --olddefconfig >"$b.kconf.log" 2>&1 ||
		die "$label: kconfig run failed: $(cat "$b.kconf.log")"
	grep -qx "# CONFIG_OSA_BACKEND_MEMO is not set" "$b/.config" ||
		die "$label: kconfig-conf turned memo back on"
	cmake "$b" >"$b.re.log" 2>&1 && cmake --build "$b" --target osa -j2 \
		>>"$b.re.log" 2>&1 || { cat "$b.re.log"; die "$label: rebuild failed"; }
	grep -qx "# CONFIG_OSA_BACKEND_MEMO is not set" "$b/.config" ||
		die "$label: the reconfigure turned memo back on"
	"$osa" backends list --json | python3 -c "import json,sys; sys.exit(0 if 'memo' in [b['name'] for b in json.load(sys.stdin)['backends']] else 1)" &&
		die "$label: disabled memo still built in"
	out=$("$osa" backends list)
	grep -qF "enable CONFIG_OSA_BACKEND_MEMO  ($3)" <<<"$out" ||
		die "$label: the not-built-in list does not name $3: $out"
	out=$("$osa" backends show memo 2>&1) && die "$label: show memo succeeded"
	grep -qF "backend \"memo\" (found in $3" <<<"$out" ||
		die "$label: hint does not name where memo was found: $out"
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
# The plugin test kit, standalone: the package's TESTS and the backend
# conformance suite from the installed SDK (osa::conformance).
ctest --test-dir "$W/memo-build" --output-on-failure >"$W/memo-tests.log" 2>&1 ||
	{ cat "$W/memo-tests.log"; die "the memo package's tests failed"; }
grep -q "osa.memo.conformance .*Passed" "$W/memo-tests.log" ||
	die "the conformance suite did not run standalone: $(cat "$W/memo-tests.log")"
grep -q "osa.memo.test_memo .*Passed" "$W/memo-tests.log" ||
	die "the package's TESTS did not run standalone"
grep -q "CMAKE_BUILD_TYPE:STRING=Release" "$W/memo-build/CMakeCache.txt" ||
	die "a standalone plugin build does not default to Release"
test -f "$W/plugins/lib/cmake/OsaBackendMemo/OsaBackendMemoConfig.cmake" ||
	die "the memo package config was not installed"
test -f "$W/plugins/share/osa/plugins/memo/Kconfig" ||
	die "the memo Kconfig was not installed"
configure_build "$SRC" "$W/b1" -DCMAKE_PREFIX_PATH="$W/plugins"
verify prefix "$W/b1" "$W/plugins/share/osa/plugins/memo"

say "2. source package named in OSA_EXTERNAL_BACKENDS"
configure_build "$SRC" "$W/b2" -DOSA_EXTERNAL_BACKENDS="$FIX/osa-backend-memo"
verify external-var "$W/b2" "$FIX/osa-backend-memo"

say "3. dropped into external/ of a copy of the tree"
mkdir -p "$W/tree"
(cd "$SRC" && tar --exclude='./build*' --exclude='./.git' -cf - .) |
	(cd "$W/tree" && tar -xf -)
cp -r "$FIX/osa-backend-memo" "$W/tree/external/memo"
configure_build "$W/tree" "$W/b3"
verify external-dir "$W/b3" "$W/tree/external/memo"

say "a build without it does not know it"
out=$("$MAIN_BUILD/core/cli/osa" backends list)
grep -q "^  memo " <<<"$out" && die "memo leaked into the main build"

[ $fail = 0 ] && rm -rf "$W"
exit $fail

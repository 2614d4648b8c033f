#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Plugin discovery, end to end (the seed issue's integration test): the
# worked example of docs/backend-guide.md, examples/backend-keyword (an
# exact keyword index), joins a fresh OSA build with no core file touched,
# three ways:
#   1. built as an out-of-tree project against the installed SDK, installed,
#      and found through CMAKE_PREFIX_PATH;
#   2. as a source package named in OSA_EXTERNAL_BACKENDS;
#   3. dropped into external/ of a copy of the tree (picked up by itself).
# Each time: its Kconfig appears under "External backends" of the build's
# kconfig runner (build/kconfig/run, what `make menuconfig` and the
# `menuconfig` target use), kconfig-conf keeps it selected, `osa backends
# list` shows it, its config is validated (good and bad), records are
# ingested, found by a search, and found again by a second process that
# reopens the index from the backend's snapshot; then it is disabled through
# kconfig-conf and stays disabled across a reconfigure, and the "not built
# in" hint names the folder it was found in.  The package's tests and the
# backend conformance suite (the plugin test kit) run standalone against the
# installed SDK (route 1) and inside the host tree (route 2).
set -eu
SRC=$1
MAIN_BUILD=$2
W=$3
FIX=$SRC/tests/fixtures
EX=$SRC/examples/backend-keyword
rm -rf "$W"
mkdir -p "$W"
fail=0
say() { echo "== $*"; }
die() { echo "FAIL: $*" >&2; fail=1; }

cat >"$W/good.cfg" <<'CFG'
data_dir = "./data";
indexes = ( { name = "notes"; backend = "keyword";
              config = { fields = ["title", "summary"]; match = "all"; }; } );
CFG
cat >"$W/bad.cfg" <<'CFG'
data_dir = "./data";
indexes = ( { name = "notes"; backend = "keyword";
              config = { min_terms = 9; max_query_terms = 4;
                         min_term = 1;
                         match = "every"; }; } );
CFG
# The discovery builds with the tests switched on (route 2: the kit in the
# host tree).
sed 's/^# CONFIG_OSA_BUILD_TESTS is not set/CONFIG_OSA_BUILD_TESTS=y/' \
	"$FIX/discovery_defconfig" >"$W/tests_defconfig"

verify() { # verify LABEL BUILD_DIR FOUND_IN
	local label=$1 b=$2 osa=$2/core/cli/osa out
	grep -q "backend-keyword/Kconfig\|plugins/keyword/Kconfig\|external/keyword/Kconfig" \
		"$b/kconfig/Kconfig.external" ||
		die "$label: keyword's Kconfig is not in the External backends menu"
	grep -qx "CONFIG_OSA_BACKEND_KEYWORD=y" "$b/.config" ||
		die "$label: .config does not select CONFIG_OSA_BACKEND_KEYWORD"
	out=$("$osa" backends list) || die "$label: backends list failed"
	grep -q "^  keyword " <<<"$out" || die "$label: keyword not listed: $out"
	"$osa" backends show keyword | grep -q "max_query_terms" ||
		die "$label: backends show keyword lacks max_query_terms"
	"$osa" config check -c "$W/good.cfg" >/dev/null ||
		die "$label: good keyword config refused"
	set +e
	out=$("$osa" config check -c "$W/bad.cfg" 2>&1)
	local st=$?
	set -e
	[ $st = 78 ] || die "$label: bad config exit $st, want 78"
	grep -qF "bad.cfg:3: indexes.notes.config.min_terms: min_terms (9) is more than max_query_terms (4)" <<<"$out" ||
		die "$label: check callback error missing: $out"
	grep -qF "bad.cfg:4: indexes.notes.config.min_term: unknown key \"min_term\"; did you mean \"min_terms\"?" <<<"$out" ||
		die "$label: unknown key error missing: $out"
	grep -qF "bad.cfg:5: indexes.notes.config.match: expected one of \"any\", \"all\", got \"every\"" <<<"$out" ||
		die "$label: enum error missing: $out"
	# The non-interactive front end through the build's runner (the same
	# menus as menuconfig) sees keyword and keeps it.
	"$b/kconfig/run" kconfig-conf --olddefconfig >"$b.kconf.log" 2>&1 ||
		die "$label: kconfig run failed: $(cat "$b.kconf.log")"
	grep -qx "CONFIG_OSA_BACKEND_KEYWORD=y" "$b/.config" ||
		die "$label: kconfig-conf dropped CONFIG_OSA_BACKEND_KEYWORD"
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
	# match = "all": a1 holds "sea" and "vents"; b2 only "sea".
	out=$("$osa" -c "$W/run-$label.cfg" search notes "Sea VENTS" --json 2>&1) ||
		die "$label: search failed: $out"
	grep -q "rec:rec-a1" <<<"$out" || die "$label: search misses a1: $out"
	grep -q "rec:rec-b2\|rec:rec-c3" <<<"$out" &&
		die "$label: match = all finds b2 or c3: $out"
	# The ingest's process checkpointed at exit: the search's process
	# opened the index from the backend's snapshot.  Delete, then search
	# again in a third process.
	test -s "$W/data-$label/indexes/notes/keyword.snap" ||
		die "$label: no keyword.snap after the ingest process"
	"$osa" -c "$W/run-$label.cfg" delete urn:osa:example.org:rec:rec-a1 \
		>"$b.delete.log" 2>&1 || die "$label: delete failed: $(cat "$b.delete.log")"
	out=$("$osa" -c "$W/run-$label.cfg" search notes "sea" --json 2>&1) ||
		die "$label: search after delete failed: $out"
	grep -q "rec:rec-b2" <<<"$out" || die "$label: search misses b2: $out"
	grep -q "rec:rec-a1" <<<"$out" && die "$label: deleted a1 found: $out"
	"$osa" -c "$W/run-$label.cfg" health >"$b.health.log" 2>&1 ||
		die "$label: health: $(cat "$b.health.log")"
	# Disabled in kconfig, it stays disabled across reconfigures.
	sed -i 's/^CONFIG_OSA_BACKEND_KEYWORD=y/# CONFIG_OSA_BACKEND_KEYWORD is not set/' "$b/.config"
	"$b/kconfig/run" kconfig-conf --olddefconfig >"$b.kconf.log" 2>&1 ||
		die "$label: kconfig run failed: $(cat "$b.kconf.log")"
	grep -qx "# CONFIG_OSA_BACKEND_KEYWORD is not set" "$b/.config" ||
		die "$label: kconfig-conf turned keyword back on"
	cmake "$b" >"$b.re.log" 2>&1 && cmake --build "$b" --target osa -j2 \
		>>"$b.re.log" 2>&1 || { cat "$b.re.log"; die "$label: rebuild failed"; }
	grep -qx "# CONFIG_OSA_BACKEND_KEYWORD is not set" "$b/.config" ||
		die "$label: the reconfigure turned keyword back on"
	"$osa" backends list --json | python3 -c "import json,sys; sys.exit(0 if 'keyword' in [b['name'] for b in json.load(sys.stdin)['backends']] else 1)" &&
		die "$label: disabled keyword still built in"
	out=$("$osa" backends list)
	grep -qF "enable CONFIG_OSA_BACKEND_KEYWORD  ($3)" <<<"$out" ||
		die "$label: the not-built-in list does not name $3: $out"
	out=$("$osa" backends show keyword 2>&1) && die "$label: show keyword succeeded"
	grep -qF "backend \"keyword\" (found in $3" <<<"$out" ||
		die "$label: hint does not name where keyword was found: $out"
}

configure_build() { # configure_build SRC BUILD [cmake args...]
	local s=$1 b=$2
	shift 2
	cmake -S "$s" -B "$b" -DOSA_DEFCONFIG="$FIX/discovery_defconfig" "$@" \
		>"$b.log" 2>&1 && cmake --build "$b" --target osa -j2 \
		>>"$b.log" 2>&1 || { cat "$b.log"; return 1; }
}
t0=$(date +%s)

say "1. out-of-tree project against the installed SDK, found via CMAKE_PREFIX_PATH"
cmake --install "$MAIN_BUILD" --prefix "$W/sdk" >"$W/install.log" 2>&1 ||
	{ cat "$W/install.log"; exit 1; }
cmake -S "$EX" -B "$W/kw-build" \
	-DCMAKE_PREFIX_PATH="$W/sdk" >"$W/kw.log" 2>&1 &&
	cmake --build "$W/kw-build" >>"$W/kw.log" 2>&1 &&
	cmake --install "$W/kw-build" --prefix "$W/plugins" >>"$W/kw.log" 2>&1 ||
	{ cat "$W/kw.log"; exit 1; }
# The plugin test kit, standalone: the package's TESTS and the backend
# conformance suite from the installed SDK (osa::conformance).
ctest --test-dir "$W/kw-build" --output-on-failure >"$W/kw-tests.log" 2>&1 ||
	{ cat "$W/kw-tests.log"; die "the keyword package's tests failed"; }
grep -q "osa.keyword.conformance .*Passed" "$W/kw-tests.log" ||
	die "the conformance suite did not run standalone: $(cat "$W/kw-tests.log")"
grep -q "osa.keyword.test_keyword .*Passed" "$W/kw-tests.log" ||
	die "the package's TESTS did not run standalone"
grep -q "CMAKE_BUILD_TYPE:STRING=Release" "$W/kw-build/CMakeCache.txt" ||
	die "a standalone plugin build does not default to Release"
test -f "$W/plugins/lib/cmake/OsaBackendKeyword/OsaBackendKeywordConfig.cmake" ||
	die "the keyword package config was not installed"
test -f "$W/plugins/share/osa/plugins/keyword/Kconfig" ||
	die "the keyword Kconfig was not installed"
configure_build "$SRC" "$W/b1" -DCMAKE_PREFIX_PATH="$W/plugins"
verify prefix "$W/b1" "$W/plugins/share/osa/plugins/keyword"

say "2. source package named in OSA_EXTERNAL_BACKENDS (tests on: the kit in the host tree)"
cmake -S "$SRC" -B "$W/b2" -DOSA_DEFCONFIG="$W/tests_defconfig" \
	-DOSA_EXTERNAL_BACKENDS="$EX" >"$W/b2.log" 2>&1 &&
	cmake --build "$W/b2" -j2 --target osa test_keyword_test_keyword \
		test_keyword_conformance >>"$W/b2.log" 2>&1 ||
	{ cat "$W/b2.log"; exit 1; }
ctest --test-dir "$W/b2" -R '^osa[.]keyword[.]' --output-on-failure \
	>"$W/b2-tests.log" 2>&1 ||
	{ cat "$W/b2-tests.log"; die "the keyword tests failed in the host tree"; }
for t in conformance test_keyword; do
	grep -q "osa.keyword.$t .*Passed" "$W/b2-tests.log" ||
		die "osa.keyword.$t did not run in the host tree: $(cat "$W/b2-tests.log")"
done
verify external-var "$W/b2" "$EX"

say "3. dropped into external/ of a copy of the tree"
mkdir -p "$W/tree"
(cd "$SRC" && tar --exclude='./build*' --exclude='./.git' -cf - .) |
	(cd "$W/tree" && tar -xf -)
cp -r "$EX" "$W/tree/external/keyword"
configure_build "$W/tree" "$W/b3"
verify external-dir "$W/b3" "$W/tree/external/keyword"

say "a build without it does not know it"
out=$("$MAIN_BUILD/core/cli/osa" backends list)
grep -q "^  keyword " <<<"$out" && die "keyword leaked into the main build"

say "took $(($(date +%s) - t0)) s"
[ $fail = 0 ] && rm -rf "$W"
exit $fail

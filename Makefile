# SPDX-License-Identifier: MIT
#
# A thin layer over CMake with the habits of Kconfig projects:
#   make defconfig | make <name>_defconfig | make menuconfig
#   make | make test | make test-asan | make test-tsan | make run | make bench | make clean
# Everything is built in $(BUILD) (default: build/), whose .config is the
# build's Kconfig configuration.

BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
CMAKE ?= cmake
CTEST ?= ctest
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
# The developer targets (and so CI) build with -Werror; a plain cmake build
# does not (OSA_WERROR defaults to OFF for users).
DEV_ARGS ?= -DOSA_WERROR=ON
KCONFIG_ENV = KCONFIG_CONFIG=$(abspath $(BUILD))/.config \
	OSA_KCONFIG_GEN=$(abspath $(BUILD))/kconfig srctree=$(CURDIR)

.PHONY: all build defconfig menuconfig test test-asan test-tsan fuzz valgrind run bench clean \
	distclean help release-check deb FORCE

all: build

$(BUILD)/CMakeCache.txt:
	$(CMAKE) -S . -B $(BUILD) $(DEV_ARGS) $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	$(CMAKE) --build $(BUILD) -j$(JOBS)

# `make defconfig`, `make embedded_defconfig`, ...: (re)start .config from
# configs/<name>.
%_defconfig: FORCE
	@test -f configs/$@ || { echo "no configs/$@; have:" \
		$$(ls configs | grep defconfig); exit 2; }
	rm -f $(BUILD)/.config
	$(CMAKE) -S . -B $(BUILD) -DOSA_DEFCONFIG=configs/$@ $(DEV_ARGS) $(CMAKE_ARGS)

defconfig: FORCE
	rm -f $(BUILD)/.config
	$(CMAKE) -S . -B $(BUILD) -DOSA_DEFCONFIG=configs/defconfig $(DEV_ARGS) $(CMAKE_ARGS)

# The build's own kconfig runner: the plugin menus from the same inputs as
# its configure (external/, OSA_EXTERNAL_BACKENDS, CMAKE_PREFIX_PATH).
menuconfig: $(BUILD)/CMakeCache.txt
	$(BUILD)/kconfig/run kconfig-mconf
	$(CMAKE) -S . -B $(BUILD)

test: build
	$(CTEST) --test-dir $(BUILD) --output-on-failure -j$(JOBS) $(CTEST_ARGS)

# The whole suite built with AddressSanitizer + UBSan (linked dynamically).
test-asan:
	$(CMAKE) -S . -B $(ASAN_BUILD) -DOSA_SANITIZE=address,undefined \
		-DCMAKE_BUILD_TYPE=Debug $(DEV_ARGS) $(CMAKE_ARGS)
	$(CMAKE) --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(CTEST) --test-dir $(ASAN_BUILD) --output-on-failure \
		-j$(JOBS) $(CTEST_ARGS)

# The whole suite built with ThreadSanitizer (linked dynamically).  The only
# suppressions are for third-party libraries, each explained in
# tests/tsan.supp; a data race of ours fails the run.  The lock-order
# (deadlock) detector is off by default: hnswlib reallocates arrays of
# thousands of std::mutex without destroying them, and the detector then
# reports cycles between stale mutexes with no stacks, which no suppression
# can match.  TSAN_DEADLOCKS=1 turns it on.
TSAN_DEADLOCKS ?= 0
test-tsan:
	$(CMAKE) -S . -B $(TSAN_BUILD) -DOSA_SANITIZE=thread \
		-DCMAKE_BUILD_TYPE=Debug $(DEV_ARGS) $(CMAKE_ARGS)
	$(CMAKE) --build $(TSAN_BUILD) -j$(JOBS)
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 \
	detect_deadlocks=$(TSAN_DEADLOCKS) \
	suppressions=$(CURDIR)/tests/tsan.supp" \
		$(CTEST) --test-dir $(TSAN_BUILD) --output-on-failure \
		-j$(JOBS) $(CTEST_ARGS)

# libFuzzer targets, each for FUZZ_SECONDS (clang; separate build dir).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz:
	CC=clang CXX=clang++ $(CMAKE) -S . -B $(FUZZ_BUILD) -DOSA_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo $(DEV_ARGS) $(CMAKE_ARGS)
	$(CMAKE) --build $(FUZZ_BUILD) -j$(JOBS)
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# valgrind over the CLI paths, on a dynamically linked build.
VG_BUILD ?= build-valgrind
valgrind:
	$(CMAKE) -S . -B $(VG_BUILD) -DOSA_DYNAMIC=ON $(DEV_ARGS) $(CMAKE_ARGS)
	$(CMAKE) --build $(VG_BUILD) -j$(JOBS) --target osa
	scripts/valgrind.sh $(VG_BUILD)

# Release builds with gcc and clang, -Werror, as a user's `cmake
# -DCMAKE_BUILD_TYPE=Release` would build them (CI runs this).
release-check:
	for cc in gcc:g++ clang:clang++; do \
		d=build-release-$${cc%%:*}; \
		CC=$${cc%%:*} CXX=$${cc##*:} $(CMAKE) -S . -B $$d \
			-DCMAKE_BUILD_TYPE=Release $(DEV_ARGS) $(CMAKE_ARGS) && \
		$(CMAKE) --build $$d -j$(JOBS) || exit 1; \
		$$d/core/cli/osa --version || exit 1; \
	done

# The Debian package (CPack) from the gcc Release build: the static osa, a
# systemd unit, /etc/osa/osa.cfg, man pages and bash completion.
DEB_BUILD ?= build-release-gcc
deb:
	CC=gcc CXX=g++ $(CMAKE) -S . -B $(DEB_BUILD) -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_INSTALL_PREFIX=/usr -DOSA_PACKAGE=ON $(DEV_ARGS) $(CMAKE_ARGS)
	$(CMAKE) --build $(DEB_BUILD) -j$(JOBS) --target osa osa-man
	cd $(DEB_BUILD) && cpack -G DEB
	@ls $(DEB_BUILD)/packages/*.deb

# Build, then run the main job on the built-in default configuration.
run: build
	scripts/run.sh $(BUILD)

bench: build
	scripts/bench.sh $(BUILD)

clean:
	-$(CMAKE) --build $(BUILD) --target clean

distclean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)

help:
	@sed -n '3,8p' Makefile

FORCE:

# The two entry points of the README: `make run SECTION=7.5` and `make test`.
# Both install missing Debian packages first (as root), then build in release
# mode: the engine's kernels are too slow in debug builds to train anything.

SECTION ?= 7.5
PROFILE ?= quick
ARGS ?=
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)

.PHONY: deps test-deps build run test clean

deps:
	@sh scripts/install-deps.sh

# The tests also load reports in a headless browser.
test-deps:
	@sh scripts/install-deps.sh chromium python3

# --static-swift-stdlib: the Swift runtime and Foundation linked into the binary, so that a
# start does not resolve their symbols across a dozen shared libraries (a quarter of a cached
# re-run's time; BENCHMARKS.md, "Session 19: starting faster"). `chapter preview` rebuilds with the same
# flag, which it reads off the running binary. The link prints glibc's warning about
# `mktemp` in the toolchain's static Foundation (libFoundationEssentials.a), not our code.
build: deps
	SWIFT=$(SWIFT) sh scripts/swift-build.sh -c release --product chapter --static-swift-stdlib

run: build
	.build/release/chapter run $(SECTION) --profile $(PROFILE) $(ARGS)

# scripts/swift-build.sh builds again once when SwiftPM itself crashes (see there).
# Tests build in their own folder: they need -enable-testing, and sharing
# .build would rebuild everything each time one switches between run and test.
# They get SWIFT: one of them builds an edited copy of the package (debug, ~2 min).
# Then libFuzzer on the parsers for 45 s (scripts/fuzz.sh, its own build in .build-fuzz).
# Then the engine against PyTorch, step by step (docs/CROSSCHECK.md), with the CPU wheel of
# torch this machine kind carries, installed into .build-torch/venv when missing ("skipped: no
# torch" where there is none). First with one op broken on purpose on PyTorch's side, which the
# comparison must catch, then the real comparison of all seven networks.
CROSSCHECK = python3 scripts/crosscheck-pytorch.py --chapter .build-test/release/chapter

test: test-deps
	SWIFT=$(SWIFT) sh scripts/swift-build.sh -c release --scratch-path .build-test -Xswiftc -enable-testing --build-tests
	SWIFT=$(SWIFT) $(SWIFT) test -c release --scratch-path .build-test -Xswiftc -enable-testing --skip-build
	SWIFT=$(SWIFT) sh scripts/fuzz.sh 45
	$(CROSSCHECK) --models lenet-bn --perturb bn-eps --expect-failure
	$(CROSSCHECK) --models alexnet --perturb conv-padding --expect-failure
	$(CROSSCHECK)

clean:
	rm -rf .build .build-test .build-torch .build-fuzz

# p2mp: `make demo` and `make test` are the quick start (see README.md).
SWIFT ?= swift
SWIFT_FLAGS ?=
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all prerequisites build demo test bench clean

all: build

prerequisites:
	@scripts/install-prerequisites.sh

# One debug build serves the demo and the tests (binaries and test bundle together).
build: prerequisites
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)

demo: build
	BIN="$$($(SWIFT) build --show-bin-path $(SWIFT_FLAGS))" scripts/demo.sh

test: build
	$(SWIFT) test --skip-build $(SWIFT_FLAGS)

# Benchmark: p2mp (native, Stop-and-Wait) against uftp and a TCP fan-out, 1 and 4 receivers
# over loopback, in a release build. BENCH_QUICK=1 for 64 MiB; see bench/README.md.
bench: prerequisites
	$(SWIFT) build -c release $(SWIFT_FLAGS)
	BIN="$$($(SWIFT) build -c release --show-bin-path $(SWIFT_FLAGS))" bench/run.sh

clean:
	rm -rf .build

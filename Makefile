# p2mp: `make demo` and `make test` are the quick start (see README.md).
SWIFT ?= swift
SWIFT_FLAGS ?=
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all prerequisites build demo test clean

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

clean:
	rm -rf .build

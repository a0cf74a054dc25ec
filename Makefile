# p2mp: `make demo` and `make test` are the quick start (see README.md).
SWIFT ?= swift
SWIFT_FLAGS ?=
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all prerequisites build demo test bench install systemd-test deb deb-test clean

all: build

prerequisites:
	@scripts/install-prerequisites.sh

# One debug build serves the demo and the tests (binaries and test bundle together).
build: prerequisites
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)

demo: build
	BIN="$$($(SWIFT) build --show-bin-path $(SWIFT_FLAGS))" scripts/demo.sh

# Every test: p2mpd under a real systemd booted in namespaces, then the Debian package
# installed, used and purged there (both say why when they must skip: no root, no
# namespaces), the live progress display in a tmux pane against a pipe, then the Swift
# suites, whose summary is the last line.
test: build
	BIN="$$($(SWIFT) build --show-bin-path $(SWIFT_FLAGS))" scripts/systemd-test.sh
	$(MAKE) deb-test
	BIN="$$($(SWIFT) build --show-bin-path $(SWIFT_FLAGS))" scripts/progress-test.sh
	$(SWIFT) test --skip-build $(SWIFT_FLAGS)

# p2mpd under a real systemd booted in namespaces alone (root; ~30 s).
systemd-test: build
	BIN="$$($(SWIFT) build --show-bin-path $(SWIFT_FLAGS))" scripts/systemd-test.sh

# Benchmark: p2mp (native, Stop-and-Wait) against uftp and a TCP fan-out, 1 and 4 receivers
# over loopback, in a release build. BENCH_QUICK=1 for 64 MiB; see bench/README.md.
bench: prerequisites
	$(SWIFT) build -c release $(SWIFT_FLAGS)
	BIN="$$($(SWIFT) build -c release --show-bin-path $(SWIFT_FLAGS))" bench/run.sh

# install: binaries, systemd units, sysusers, journal catalog, config, man pages.
# `make install` (PREFIX=/usr/local) or, for packages, `make install PREFIX=/usr DESTDIR=…`.
# systemd also reads units, sysusers.d and catalogs under /usr/local/lib. BIN= installs
# already-built binaries instead of making a release build.
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
CATALOGDIR ?= $(PREFIX)/lib/systemd/catalog
BIN ?=

install:
	@set -e; bin='$(BIN)'; \
	if [ -z "$$bin" ]; then \
	  $(SWIFT) build -c release $(SWIFT_FLAGS); \
	  bin="$$($(SWIFT) build -c release --show-bin-path $(SWIFT_FLAGS))"; \
	fi; \
	install -d '$(DESTDIR)$(BINDIR)'; \
	install -m 0755 "$$bin/p2mpd" "$$bin/p2mpsend" '$(DESTDIR)$(BINDIR)/'
	install -d '$(DESTDIR)$(SYSTEMDUNITDIR)' '$(DESTDIR)$(SYSUSERSDIR)' '$(DESTDIR)$(CATALOGDIR)'
	sed 's|^ExecStart=/usr/bin/p2mpd$$|ExecStart=$(BINDIR)/p2mpd|' systemd/p2mpd.service \
	  > '$(DESTDIR)$(SYSTEMDUNITDIR)/p2mpd.service'
	chmod 0644 '$(DESTDIR)$(SYSTEMDUNITDIR)/p2mpd.service'
	install -m 0644 systemd/p2mpd.socket '$(DESTDIR)$(SYSTEMDUNITDIR)/p2mpd.socket'
	install -m 0644 systemd/p2mp.sysusers '$(DESTDIR)$(SYSUSERSDIR)/p2mp.conf'
	install -m 0644 systemd/p2mp.catalog '$(DESTDIR)$(CATALOGDIR)/p2mp.catalog'
	install -d '$(DESTDIR)$(SYSCONFDIR)/p2mp/p2mpd.toml.d'
	@# never overwrite an operator's configuration
	[ -e '$(DESTDIR)$(SYSCONFDIR)/p2mp/p2mpd.toml' ] || \
	  install -m 0644 etc/p2mp/p2mpd.toml '$(DESTDIR)$(SYSCONFDIR)/p2mp/p2mpd.toml'
	@set -e; for f in docs/*.1 docs/*.5 docs/*.8; do \
	  [ -e "$$f" ] || continue; s="$${f##*.}"; \
	  install -d '$(DESTDIR)$(MANDIR)'/man$$s; \
	  install -m 0644 "$$f" '$(DESTDIR)$(MANDIR)'/man$$s/; \
	done
	@# on a live system (no DESTDIR): create the user, index the catalog, reload units
	@if [ -z '$(DESTDIR)' ] && [ -d /run/systemd/system ]; then \
	  set -x; systemd-sysusers '$(SYSUSERSDIR)/p2mp.conf'; journalctl --update-catalog; \
	  systemctl daemon-reload; \
	fi

# Debian package .build/deb/p2mp_<version>_<arch>.deb (packaging/README.md): a release build
# with the Swift runtime linked statically, stripped, then dpkg-deb and lintian (if
# installed; errors fail). BIN= packages already-built binaries instead of building.
DEB_OUTDIR ?= $(CURDIR)/.build/deb
deb: prerequisites
	BIN='$(BIN)' SWIFT='$(SWIFT)' SWIFT_FLAGS='$(SWIFT_FLAGS)' OUTDIR='$(DEB_OUTDIR)' packaging/build-deb.sh

# The package under a real systemd booted in namespaces, /usr /etc /var overlaid and the
# toolchain hidden: dpkg -i, push, reinstall, apt-get remove, purge (root; ~10 s).
deb-test: deb
	OUTDIR='$(DEB_OUTDIR)' scripts/deb-test.sh

clean:
	rm -rf .build

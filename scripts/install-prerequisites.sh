#!/usr/bin/env bash
# Installs what building and testing p2mp needs, and nothing that is already there.
# Swift itself cannot be fetched here; it must be on PATH (see README.md).
set -euo pipefail

if ! command -v swift >/dev/null 2>&1; then
    echo "install-prerequisites: 'swift' is not on PATH; install a Swift 6 toolchain first" >&2
    exit 1
fi

# Debian packages: libsystemd (sd_notify, journald), pkg-config to find it, iproute2 for
# `ss`; for the Debian package and its test: dpkg-dev (dpkg-shlibdeps), binutils (strip),
# man-db (`man -w` in the test) and lintian; tmux for the progress display's terminal test;
# python3-jsonschema to check the --json documents against their schemas in docs/, and
# python3 (3.11 has tomllib) for the TOML differential check of `make fuzz` and `make test`;
# for the WAN testbed (bench/testbed): nftables (random loss), ethtool (offloads off) and gcc
# (its forwarder and probe are C).
packages=(libsystemd-dev pkg-config iproute2 dpkg-dev binutils man-db lintian tmux python3 python3-jsonschema nftables ethtool gcc)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-prerequisites: missing ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "install-prerequisites: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi


#!/usr/bin/env bash
# Builds the libFuzzer binary of Tests/Fuzz and runs every target for a bounded time.
#
#   scripts/fuzz.sh build            build .build/fuzz/p2mp-fuzz (when a source changed)
#   scripts/fuzz.sh run [TARGET...]  each target FUZZ_SECONDS (default 150), then a summary
#
# The binary is built with swiftc and clang directly (SwiftPM cannot add -sanitize=fuzzer to
# a single product): the C target CCRC32C as an object behind a generated module map, then
# each Swift module the properties need as a module of its own, with the files that module
# needs (P2MPSpool's name validation, P2MPClient's fleet file, P2MPKeys' trusted-senders and
# known-hosts parsers, all of P2MPWire and P2MPConfiguration), all instrumented for coverage
# and AddressSanitizer. P2MPKeys needs P2MPSecurity's IdentityKey, which needs swift-crypto:
# the fuzz binary has a stand-in for it (Tests/Fuzz/StandIns), beside the real base64 and rights.
#
# Each target reads the committed seeds (Tests/Fuzz/Corpus/TARGET) and grows a working
# corpus under .build/fuzz/corpus/TARGET; a crash, a broken property, a leak or a timeout
# stops that target and is left in Tests/Fuzz/Crashes/TARGET/, which `swift test` replays
# (FuzzTests). The run fails if any target found one. Executions per target and in total
# are printed and written to .build/fuzz/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=.build/fuzz
BIN=$OUT/p2mp-fuzz
SWIFTC=${SWIFTC:-swiftc}
CLANG=${CLANG:-clang}
FUZZ_SECONDS=${FUZZ_SECONDS:-150}
TARGETS_ALL="native classic fleet toml config fleetfile spoolname secure keys"
SANITIZE=(-sanitize=fuzzer,address)
# Short allocation stacks and a smaller quarantine: AddressSanitizer's bookkeeping, not the
# code under test, is most of the time per input otherwise.
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=2:quarantine_size_mb=32}
# libFuzzer and AddressSanitizer report crashes; Swift's own backtracer would only race them.
export SWIFT_BACKTRACE=enable=no
SWIFT_FLAGS=(-O -g -parse-as-library -swift-version 6 -warnings-as-errors -I "$OUT/modules" -I "$OUT/include")

# module name | extra flags | sources
MODULES=(
  "P2MPWire||Sources/P2MPWire/*.swift"
  "P2MPConfiguration|-enable-testing|Sources/P2MPConfiguration/*.swift"
  "P2MPSpool||Sources/P2MPSpool/SpoolName.swift Sources/P2MPSpool/SpoolNameError.swift Sources/P2MPSpool/Hex.swift"
  "P2MPClient||Sources/P2MPClient/FleetFile.swift"
  "P2MPSecurity||Sources/P2MPSecurity/Base64.swift Sources/P2MPSecurity/SenderRights.swift Tests/Fuzz/StandIns/IdentityKey.swift"
  "P2MPKeys||Sources/P2MPKeys/PublicKeyLine.swift Sources/P2MPKeys/TrustedSendersFile.swift Sources/P2MPKeys/KnownHostsFile.swift Sources/P2MPKeys/KeyFileError.swift Sources/P2MPKeys/KeyFileIO.swift"
  "FuzzProperties||Tests/Fuzz/Properties/*.swift"
)

build() {
  local sources
  sources=$(ls Sources/CCRC32C/*.c Sources/CCRC32C/include/*.h Tests/Fuzz/Entry/*.swift scripts/fuzz.sh \
    $(for m in "${MODULES[@]}"; do echo "${m##*|}"; done))
  if [ -x "$BIN" ] && [ -z "$(find $sources -newer "$BIN" 2>/dev/null)" ]; then
    return
  fi
  echo "== building $BIN"
  rm -rf "$OUT/modules" "$OUT/objects" "$OUT/include"
  mkdir -p "$OUT/modules" "$OUT/objects" "$OUT/include"
  "$CLANG" -c -O2 -g -fsanitize=fuzzer-no-link,address -I Sources/CCRC32C/include \
    Sources/CCRC32C/crc32c.c -o "$OUT/objects/CCRC32C.o"
  printf 'module CCRC32C {\n  header "%s"\n  export *\n}\n' "$PWD/Sources/CCRC32C/include/CCRC32C.h" \
    > "$OUT/include/module.modulemap"
  local entry name flags files
  for entry in "${MODULES[@]}"; do
    IFS='|' read -r name flags files <<< "$entry"
    # shellcheck disable=SC2086 # $files is a list of globs, $flags a list of flags
    "$SWIFTC" "${SWIFT_FLAGS[@]}" "${SANITIZE[@]}" $flags -module-name "$name" -wmo \
      -emit-module -emit-module-path "$OUT/modules/$name.swiftmodule" -c -o "$OUT/objects/$name.o" $files
  done
  "$SWIFTC" "${SWIFT_FLAGS[@]}" "${SANITIZE[@]}" -module-name p2mp_fuzz -use-ld=lld \
    Tests/Fuzz/Entry/*.swift "$OUT"/objects/*.o -o "$BIN"
}

run() {
  local targets=${*:-$TARGETS_ALL} total=0 failed="" target log executions rate length
  mkdir -p "$OUT/log"
  : > "$OUT/summary.txt"
  for target in $targets; do
    mkdir -p "$OUT/corpus/$target" "Tests/Fuzz/Crashes/$target"
    log=$OUT/log/$target.log
    # Datagrams and names need no more than a few kilobytes to reach every check.
    case $target in
      native | classic | fleet | fleetfile | secure) length=2048 ;;
      *) length=8192 ;;
    esac
    echo "== $target: fuzzing for ${FUZZ_SECONDS}s"
    if ! P2MP_FUZZ_TARGET=$target "$BIN" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
      -max_len="$length" -print_final_stats=1 -artifact_prefix="Tests/Fuzz/Crashes/$target/" \
      "$OUT/corpus/$target" "Tests/Fuzz/Corpus/$target" > "$log" 2>&1; then
      failed="$failed $target"
      grep -E "ERROR|property violated|SUMMARY|artifact_prefix|Test unit written" "$log" | head -20 || true
    fi
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    executions=${executions:-0}
    rate=$((executions / (FUZZ_SECONDS > 0 ? FUZZ_SECONDS : 1)))
    total=$((total + executions))
    printf '%-10s %12d executions  (~%d/s)\n' "$target" "$executions" "$rate" | tee -a "$OUT/summary.txt"
  done
  printf '%-10s %12d executions\n' total "$total" | tee -a "$OUT/summary.txt"
  if [ -n "$failed" ]; then
    echo "== FAILED:$failed (crash files in Tests/Fuzz/Crashes/, logs in $OUT/log/)" >&2
    exit 1
  fi
  echo "== OK: no crash"
}

case "${1:-}" in
  build) build ;;
  run) shift; build; run "$@" ;;
  *) echo "usage: $0 build | run [TARGET...]" >&2; exit 2 ;;
esac

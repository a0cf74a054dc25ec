#!/usr/bin/env bash
# The whole Swift test suite under one sanitizer: `address` or `thread` (make sanitize runs
# both). Each builds into a directory of its own (.build/address, .build/thread), so the
# ordinary debug build is left alone; the integration tests run the daemon and the client
# built the same way (they are found beside the test bundle). A report fails the run.
#
#   scripts/sanitize.sh address|thread [swift test arguments, e.g. --filter Spool]
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: $0 address|thread [swift test arguments]}
shift
case $kind in
  address | thread) ;;
  *) echo "usage: $0 address|thread [swift test arguments]" >&2; exit 2 ;;
esac
SWIFT=${SWIFT:-swift}
scratch=.build/$kind
# Leaks are not reported here: the Swift runtime and Foundation keep allocations for the
# life of the process that LeakSanitizer would list at exit. The fuzz binary checks the
# parsers for leaks (scripts/fuzz.sh).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:abort_on_error=1}
export SWIFT_BACKTRACE=enable=no
start=$(date +%s)
echo "== $kind: building into $scratch"
$SWIFT build --build-tests --scratch-path "$scratch" --sanitize="$kind"
built=$(date +%s)
echo "== $kind: running the Swift test suite"
$SWIFT test --skip-build --scratch-path "$scratch" --sanitize="$kind" "$@"
end=$(date +%s)
echo "== $kind: clean; build $((built - start)) s, tests $((end - built)) s"

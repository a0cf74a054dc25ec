# sdns-test-lib.sh: helpers shared by systemd-test.sh and deb-test.sh (sourced, not run);
# testbed-test.sh uses its reporting helpers only.
# The sourcing script sets SDNS (the harness), N (the instance name) and UNIT before it
# calls the instance helpers, and passed=0 failed=0 before it reports.

# --- reporting: PASS/FAIL lines and the closing "N passed, M failed" ---------------
pass() { echo "PASS  $*"; passed=$((passed + 1)); }
fail() { echo "FAIL  $*"; failed=$((failed + 1)); }
info() { echo "INFO  $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
summary() { echo "$passed passed, $failed failed"; }

# --- the instance ----------------------------------------------------------------
x() { timeout "${XT:-30}" "$SDNS" exec "$N" "$@"; }            # run inside the instance
prop() { x systemctl show -P "$1" "${2:-$UNIT}" 2>/dev/null; }
within() { local t=$1; shift; local end=$(( $(date +%s%N) + t * 1000000000 ))
  until "$@"; do (( $(date +%s%N) > end )) && return 1; sleep 0.2; done; }
prop_is() { [[ $(prop "$1" "${3:-$UNIT}") == "$2" ]]; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b-a)/1e9}'; }

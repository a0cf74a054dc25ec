#!/usr/bin/env bash
# testbed-test.sh: the WAN testbed (bench/testbed) and its delay forwarder.
#
# Builds a two-hop testbed (sender - r1 - delay - r2 - 2 receivers) with 10 ms each way on
# the core link and checks: the echo RTT is within 15 % of 20 ms and each one-way delay
# within 15 % of 10 ms; a bounded burst (20,000 datagrams at 100 Mbit/s, echoed back)
# loses nothing in the forwarder and every lost datagram is one a tbf queue dropped; a
# seed transfer (p2mpd PORT FILE P on both receivers, p2mpsend HOST... PORT FILE MSS)
# arrives byte-identical; after teardown no namespace, forwarder or echo server is left.
#
#   usage: [BIN=DIR] scripts/testbed-test.sh
#   BIN  directory holding p2mpd and p2mpsend (default: swift build --show-bin-path)
#
# Needs root and network namespaces; without them it prints "SKIP  <reason>" and exits 0.
# Every step is bounded (timeout); the last line is "N passed, M failed", exit 0 if none failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
passed=0 failed=0
source "$HERE/sdns-test-lib.sh"  # pass, fail, summary

if [[ $(id -u) != 0 ]]; then echo "SKIP  testbed: not root"; exit 0; fi
probe_ns=tbt$$probe
if ! err=$(ip netns add "$probe_ns" 2>&1); then echo "SKIP  testbed: cannot create a network namespace: $err"; exit 0; fi
ip netns del "$probe_ns"

if [[ -z ${BIN:-} ]]; then
    BIN=$(cd "$ROOT" && timeout 120 swift build --show-bin-path) || { fail "swift build --show-bin-path"; summary; exit 1; }
fi
for b in p2mpd p2mpsend; do
    [[ -x $BIN/$b ]] || { fail "no executable $BIN/$b (build first, or set BIN=)"; summary; exit 1; }
done

TB_ID=tbt$$ TB_RECEIVERS=2 TB_RTT_MS=20
source "$ROOT/bench/testbed/testbed.sh"
work=$(mktemp -d /tmp/p2mp-testbed-test.XXXXXX)
TB_WORK=$work/testbed
torn_down=0 interrupted=0
exec 3>&1 4>&2   # a signal may land while a step's output is redirected: report on these
finish() {
    trap - EXIT INT TERM
    exec 1>&3 2>&4
    [[ $torn_down == 1 ]] || tb_down >/dev/null 2>&1
    rm -rf "$work"
    [[ $interrupted == 1 ]] && fail "interrupted by a signal (testbed torn down)"
    summary
    [[ $failed == 0 ]]
}
trap 'finish; exit $?' EXIT
trap 'interrupted=1; exit 130' INT TERM

# within PERCENT MEASURED EXPECTED: |measured - expected| <= percent of expected
within_percent() { awk -v p="$1" -v m="$2" -v e="$3" 'BEGIN { d = m - e; if (d < 0) d = -d; exit !(d <= e * p / 100) }'; }

# --- build ---------------------------------------------------------------------------
if ! tb_up 2> "$work/up.log"; then
    fail "testbed up: $(tail -n 3 "$work/up.log" | tr '\n' ' ')"
    exit 1
fi
pass "two-hop testbed up: $(ip netns list | grep -c "^${TB_ID}[a-z]") namespaces, routers $TB_NS_ROUTERS, delay 10 ms each way on the core link"
forwarder_pids=("${TB_FORWARDER_PIDS[@]}")
echo_pids=()
for ns in $TB_NS_RECEIVERS; do echo_pids+=($(ip netns pids "$ns")); done

# --- RTT and one-way delays through the forwarder ---------------------------------------
if tb_probe 100 > "$work/probe.out" 2>&1; then
    sed 's/^/INFO  /' "$work/probe.out"
    rtt_ok=1 measured=()
    while read -r line; do
        rtt=$(sed -n 's/.*rtt_avg_us=\([0-9]*\).*/\1/p' <<< "$line")
        fwd=$(sed -n 's/.*forward_avg_us=\([0-9]*\).*/\1/p' <<< "$line")
        rev=$(sed -n 's/.*reverse_avg_us=\([0-9]*\).*/\1/p' <<< "$line")
        measured+=("RTT ${rtt} us, ${fwd} us out, ${rev} us back")
        within_percent 15 "$rtt" 20000 && within_percent 15 "$fwd" 10000 && within_percent 15 "$rev" 10000 || rtt_ok=0
    done < <(grep '^probe' "$work/probe.out")
    lost=$TB_PROBE_LOST
    if [[ $rtt_ok == 1 && $lost == 0 ]]; then
        pass "RTT through the forwarder within 15 % of 20 ms, one-way delays within 15 % of 10 ms, no probe lost"
    else
        fail "asked for 20 ms RTT, 10 ms each way (15 % tolerance), measured: ${measured[*]}; $lost probes lost"
    fi
else
    fail "probe did not complete: $(tail -n 3 "$work/probe.out" | tr '\n' ' ')"
fi

# --- a bounded burst: no drop of the forwarder's own -------------------------------------
tb_forwarder_stats > "$work/before.out" 2>&1
if tb_burst 20000 100 1200 > "$work/burst.out" 2>&1 && tb_forwarder_stats > "$work/after.out" 2>&1; then
    tb_queue_drops > "$work/queues.out"
    cat "$work/burst.out" "$work/after.out" "$work/queues.out" | sed 's/^/INFO  /'
    down=$(sed -n 's/.*down \([0-9]*\)\/\([0-9]*\) frames.*/\1 \2/p' "$work/after.out")
    up=$(sed -n 's/.*up \([0-9]*\)\/\([0-9]*\),.*/\1 \2/p' "$work/after.out")
    if [[ $TB_FORWARDER_DROPS == 0 && ${down% *} == "${down#* }" && ${up% *} == "${up#* }" ]] &&
        ((TB_BURST_LOST == TB_QUEUE_DROPS)); then
        pass "burst of 20000 datagrams at 100 Mbit/s: forwarder dropped none of its own, forwarded every frame it received; $TB_BURST_LOST datagrams lost, $TB_QUEUE_DROPS dropped by tbf queues"
    else
        fail "burst: forwarder own drops $TB_FORWARDER_DROPS, frames down ${down/ //}, up ${up/ //}, $TB_BURST_LOST datagrams lost of which $TB_QUEUE_DROPS in tbf queues"
    fi
else
    fail "burst did not complete: $(cat "$work/burst.out" "$work/after.out" | tail -n 3 | tr '\n' ' ')"
fi

# --- a seed transfer through the testbed -------------------------------------------------
head -c 150000 /dev/urandom > "$work/input.bin"
port=7735
set -- $TB_NS_RECEIVERS
receivers=("$@")
rpids=()
for i in 1 2; do
    # not through tb_exec: $! must be p2mpd itself, for `wait`
    ip netns exec "${receivers[i - 1]}" timeout 60 "$BIN/p2mpd" "$port" "$work/out$i.bin" 0.02 --linger 0.5 \
        > "$work/p2mpd$i.log" 2>&1 &
    rpids+=($!)
done
bound=1
for i in 1 2; do
    for _ in $(seq 500); do
        tb_exec "${receivers[i - 1]}" ss -Hlun "sport = :$port" | grep -q . && continue 2
        sleep 0.01
    done
    bound=0
done
if [[ $bound == 0 ]]; then
    fail "p2mpd did not bind UDP $port in the receivers' namespaces"
else
    tb_exec "$TB_NS_SENDER" timeout 90 "$BIN/p2mpsend" $TB_ADDR_RECEIVERS "$port" "$work/input.bin" 1000 \
        > "$work/p2mpsend.log" 2>&1
    status=$?
    for pid in "${rpids[@]}"; do wait "$pid"; done
    grep -v '^Timeout' "$work/p2mpsend.log" | sed 's/^/INFO  /'
    if [[ $status == 0 ]] && cmp -s "$work/input.bin" "$work/out1.bin" && cmp -s "$work/input.bin" "$work/out2.bin"; then
        pass "seed transfer of 150000 bytes (MSS 1000, p = 0.02) to both receivers through the testbed: byte-identical"
    else
        fail "seed transfer: p2mpsend exit $status; $(tail -n 2 "$work/p2mpsend.log" | tr '\n' ' ')"
    fi
fi

# --- teardown ------------------------------------------------------------------------------
if tb_down 2> "$work/down.log"; then torn_down=1; fi
left_ns=$(ip netns list | grep "^${TB_ID}[a-z]" | tr '\n' ' ')
left_pids=()
for pid in "${forwarder_pids[@]}" "${echo_pids[@]}" "${rpids[@]}"; do
    kill -0 "$pid" 2>/dev/null && left_pids+=("$pid")
done
if [[ $torn_down == 1 && -z $left_ns && ${#left_pids[@]} == 0 ]]; then
    pass "teardown: no namespace named ${TB_ID}*, forwarder ${forwarder_pids[*]} and echo servers ${echo_pids[*]} gone"
else
    fail "teardown left namespaces '${left_ns}' and processes '${left_pids[*]}' $(cat "$work/down.log")"
fi

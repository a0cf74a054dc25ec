#!/usr/bin/env bash
# The quick-start demo. Part 1, the main job: three p2mpd daemons on 127.0.0.1, .2 and .3
# (embedded defaults, 10 % simulated loss) receive one authenticated, encrypted push from
# p2mpsend: the demo makes the operator's key, trusts it on each daemon, pins each daemon's
# host key in a fleet file, pushes, and checks every copy. Part 2: the seed's
# Stop-and-Wait protocol on the same three addresses.
# Knobs: DEMO_SIZE_MIB (16), DEMO_LOSS (0.1), DEMO_PORT (first free from 7735).
set -euo pipefail

bin=${BIN:-$(swift build --show-bin-path)}
size_mib=${DEMO_SIZE_MIB:-16}
loss=${DEMO_LOSS:-0.1}
port=${DEMO_PORT:-7735}
while ss -Hlun "sport = :$port" 2>/dev/null | grep -q .; do port=$((port + 1)); done

work=$(mktemp -d /tmp/p2mp-demo.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
fail() {
    echo "== FAILED: $*" >&2
    exit 1
}

head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$work/sample.bin"
: > "$work/empty.toml"  # embedded defaults, whatever /etc/p2mp holds on this machine
echo "== p2mp demo, part 1: p2mpsend push of ${size_mib} MiB to 3 daemons on loopback, simulated loss p = $loss"
echo "   (files and logs in $work)"
echo "== p2mpsend keygen -o $work/id_ed25519   (the operator's key; the daemons trust it)"
"$bin/p2mpsend" keygen -o "$work/id_ed25519" --comment demo@p2mp 2> /dev/null > "$work/trusted-senders" \
    || fail "p2mpsend keygen exited $?"
cat "$work/trusted-senders"
: > "$work/fleet"
for i in 1 2 3; do
    daemon=(--config "$work/empty.toml" --spool "$work/spool$i" --host-key "$work/host$i"
        --trusted-senders "$work/trusted-senders")
    # each daemon's host key, pinned on its line of the fleet file (as known_hosts would)
    echo "127.0.0.$i:$port $("$bin/p2mpd" "${daemon[@]}" --show-host-key)" >> "$work/fleet" \
        || fail "p2mpd --show-host-key exited $?"
    "$bin/p2mpd" "${daemon[@]}" --listen "127.0.0.$i:$port" --loss "$loss" 2> "$work/p2mpd$i.log" &
    pids+=($!)
done
echo "== the fleet file, each daemon's host key pinned:"
cut -c1-80 "$work/fleet" | sed 's/$/…/'
for i in 1 2 3; do
    for _ in $(seq 50); do grep -q "listening on" "$work/p2mpd$i.log" && break; sleep 0.1; done
    grep -q "listening on" "$work/p2mpd$i.log" || fail "p2mpd on 127.0.0.$i did not start: $(cat "$work/p2mpd$i.log")"
done
echo "== p2mpsend push sample.bin --fleet fleet --identity id_ed25519"
(cd "$work" && "$bin/p2mpsend" push sample.bin --fleet fleet --identity id_ed25519 --known-hosts known_hosts) \
    || fail "p2mpsend push exited $?"
for i in 1 2 3; do
    kill -TERM "${pids[$((i - 1))]}"
    wait "${pids[$((i - 1))]}" || fail "p2mpd on 127.0.0.$i exited $? after SIGTERM"
    losses=$(grep -c 'p2mp_event=loss' "$work/p2mpd$i.log" || true)
    echo "== p2mpd 127.0.0.$i: $losses loss events logged, e.g."
    grep -m1 'p2mp_event=loss' "$work/p2mpd$i.log" | cut -c1-150 || true
    grep -m1 'p2mp_event=session' "$work/p2mpd$i.log" | cut -c1-150
    grep -m1 'p2mp_event=complete' "$work/p2mpd$i.log" | cut -c1-150
done
pids=()
echo "== SHA-256"
(cd "$work" && sha256sum sample.bin spool1/sample.bin spool2/sample.bin spool3/sample.bin)
for i in 1 2 3; do
    cmp -s "$work/sample.bin" "$work/spool$i/sample.bin" || fail "spool$i/sample.bin differs from sample.bin"
done
echo "== OK: all three daemons hold a byte-identical copy"

echo
echo "== p2mp demo, part 2: the seed protocol (Stop-and-Wait), 512 KiB to the same three addresses"
head -c $((512 * 1024)) "$work/sample.bin" > "$work/seed.bin"
for i in 1 2 3; do
    "$bin/p2mpd" "$port" "$work/seed$i.bin" "$loss" --bind "127.0.0.$i" --linger 1 > "$work/seed$i.log" 2>&1 &
    pids+=($!)
done
for i in 1 2 3; do   # wait until each seed receiver has bound its socket
    for _ in $(seq 100); do ss -H -uln "src 127.0.0.$i:$port" | grep -q . && break; sleep 0.05; done
done
"$bin/p2mpsend" 127.0.0.1 127.0.0.2 127.0.0.3 "$port" "$work/seed.bin" 1000 > "$work/seed-sender.log" 2>&1 \
    || fail "seed p2mpsend exited $?: $(tail -3 "$work/seed-sender.log")"
grep -m2 '^Timeout' "$work/seed-sender.log" || true
echo "   ... $(grep -c '^Timeout' "$work/seed-sender.log" || true) timeout lines in all"
grep -v '^Timeout' "$work/seed-sender.log"
for i in 1 2 3; do
    wait "${pids[$((i - 1))]}" || fail "seed p2mpd on 127.0.0.$i exited $?"
    echo "   127.0.0.$i: $(grep -c '^Packet loss' "$work/seed$i.log" || true) 'Packet loss' lines, e.g. $(grep -m1 '^Packet loss' "$work/seed$i.log" || echo none)"
    cmp -s "$work/seed.bin" "$work/seed$i.bin" || fail "seed$i.bin differs"
done
pids=()
echo "== OK: the seed protocol delivered three byte-identical copies too"
rm -rf "$work"

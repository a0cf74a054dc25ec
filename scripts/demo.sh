#!/usr/bin/env bash
# The quick-start demo: three receivers on 127.0.0.1, .2 and .3 with simulated loss, one
# push of a random sample file, and a check that every copy is byte-identical.
# Knobs: DEMO_SIZE_MIB (2), DEMO_LOSS (0.1), DEMO_MSS (1000), DEMO_PORT (first free from 7735).
set -euo pipefail

bin=${BIN:-$(swift build --show-bin-path)}
size_mib=${DEMO_SIZE_MIB:-2}
loss=${DEMO_LOSS:-0.1}
mss=${DEMO_MSS:-1000}
port=${DEMO_PORT:-7735}
while ss -Hlun "sport = :$port" 2>/dev/null | grep -q .; do port=$((port + 1)); done

work=$(mktemp -d /tmp/p2mp-demo.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$work/sample.bin"
echo "== p2mp demo: ${size_mib} MiB to 3 receivers on loopback, simulated loss p = $loss, MSS $mss, UDP port $port"
echo "   (files and logs in $work)"
for i in 1 2 3; do
    "$bin/p2mpd" "$port" "$work/receiver$i.bin" "$loss" --bind "127.0.0.$i" --linger 1 > "$work/receiver$i.log" 2>&1 &
    pids+=($!)
done
sleep 0.5

echo "== p2mpsend 127.0.0.1 127.0.0.2 127.0.0.3 $port sample.bin $mss"
status=0
"$bin/p2mpsend" 127.0.0.1 127.0.0.2 127.0.0.3 "$port" "$work/sample.bin" "$mss" > "$work/sender.log" 2>&1 || status=$?
grep '^Timeout' "$work/sender.log" | head -3 || true
echo "   ... $(grep -c '^Timeout' "$work/sender.log" || true) timeout lines in all"
grep -v '^Timeout' "$work/sender.log"

for i in 1 2 3; do
    wait "${pids[$((i - 1))]}" || status=$?
    echo "== receiver 127.0.0.$i: $(grep -c '^Packet loss' "$work/receiver$i.log" || true) 'Packet loss' lines, e.g. $(grep -m1 '^Packet loss' "$work/receiver$i.log" || echo none)"
    tail -n 1 "$work/receiver$i.log"
done
pids=()

echo "== SHA-256"
(cd "$work" && sha256sum sample.bin receiver1.bin receiver2.bin receiver3.bin)
for i in 1 2 3; do
    if ! cmp -s "$work/sample.bin" "$work/receiver$i.bin"; then
        echo "== FAILED: receiver$i.bin differs from sample.bin" >&2
        exit 1
    fi
done
[ "$status" -eq 0 ] || { echo "== FAILED: a program exited with status $status" >&2; exit 1; }
echo "== OK: all three copies are byte-identical to the sample"
rm -rf "$work"

#!/usr/bin/env bash
# The live progress display of `p2mpsend push` on a real terminal (a tmux pane) against the
# same push's plain output on a pipe (scripts/progress-pty-test.sh does the comparing).
# Three daemons on loopback; each run pushes under a fresh name so both runs send data.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$(cd "$root" && swift build --show-bin-path)}
command -v tmux >/dev/null || { echo "skipped: tmux is not installed (make prerequisites installs it)"; exit 0; }

work=$(mktemp -d /tmp/p2mp-progress.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
port=47700
while ss -Hlun "sport = :$port" 2>/dev/null | grep -q .; do port=$((port + 1)); done
for i in 1 2 3; do
    "$bin/p2mpd" --config /dev/null --listen "127.0.4.$i:$port" --spool "$work/spool$i" 2> "$work/p2mpd$i.log" &
    pids+=($!)
done
for i in 1 2 3; do
    for _ in $(seq 50); do grep -q "listening on" "$work/p2mpd$i.log" && break; sleep 0.1; done
done
head -c $((24 << 20)) /dev/urandom > "$work/payload.bin"
cat > "$work/push.sh" <<PUSH
#!/bin/sh
exec "$bin/p2mpsend" push "$work/payload.bin" 127.0.4.1:$port 127.0.4.2:$port 127.0.4.3:$port --rate 100M --name "run-\$\$.bin"
PUSH
chmod +x "$work/push.sh"
timeout 120 "$root/scripts/progress-pty-test.sh" -- "$work/push.sh"

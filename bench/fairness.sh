#!/usr/bin/env bash
# Fairness: a p2mp push and one TCP flow (CUBIC, then BBR) share one bottleneck of the WAN
# testbed (bench/testbed, 20 ms RTT), each to its own receiver: the push to h1, iperf3 to h2.
# The bottleneck is a router's queue (the core link at 100 Mbit/s behind a 200 Mbit/s sender
# link), or with BENCH_FAIR_BOTTLENECK=sender the sender's own 200 Mbit/s link, whose queue
# is in the sender's host (where TCP's small-queue limits keep its packets out of it). Both orders: TCP running when the push starts, and the push running when TCP
# starts. Each receiver's received bytes are sampled every 250 ms in its namespace
# (/proc/net/dev), and the shares are taken over the time both flows ran (their first and
# last second left out). Writes bench/results/fairness.md. See bench/README.md.
#
# Knobs (environment): BIN (default: build release), BENCH_FAIR_BOTTLENECK (core or sender),
# BENCH_FAIR_RTT_MS (20), BENCH_FAIR_LOSS (0), BENCH_FAIR_SECONDS (12: how long the two flows overlap, about), BENCH_FAIR_CC
# ("cubic bbr"), BENCH_FAIR_P2MP_FLAGS (extra p2mpsend push flags), BENCH_REPEAT (3),
# BENCH_PORT (47200), BENCH_FAIR_ID (namespace prefix, default bf<PID>).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
say() { echo "== $*" >&2; }

[[ $(id -u) -eq 0 ]] || { say "needs root (network namespaces)"; exit 1; }
seconds=${BENCH_FAIR_SECONDS:-12}
repeat=${BENCH_REPEAT:-3}
ccs=${BENCH_FAIR_CC:-cubic bbr}
port=${BENCH_PORT:-47200}
read -ra p2mp_flags <<< "${BENCH_FAIR_P2MP_FLAGS:-}"
command -v iperf3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 >/dev/null 2>&1; }
command -v iperf3 >/dev/null || { say "iperf3 is required"; exit 1; }
if [[ -z ${BIN:-} ]]; then
    (cd "$repo" && swift build -c release >&2) || { say "release build failed"; exit 1; }
    BIN=$(cd "$repo" && swift build -c release --show-bin-path)
fi

TB_ID=${BENCH_FAIR_ID:-bf$$} TB_TOPOLOGY=wan TB_RECEIVERS=2 TB_RTT_MS=${BENCH_FAIR_RTT_MS:-20}
TB_LOSS=${BENCH_FAIR_LOSS:-0}
bottleneck=${BENCH_FAIR_BOTTLENECK:-core}
case $bottleneck in
    core) TB_LINKS="core:rate=100" ;;
    sender) TB_LINKS="" ;;
    *) say "BENCH_FAIR_BOTTLENECK '$bottleneck' is not core or sender"; exit 2 ;;
esac
source "$here/testbed/testbed.sh"
work=$(mktemp -d /tmp/p2mp-fairness.XXXXXX)
TB_WORK=$work/testbed
started=()
cleanup() {
    trap '' INT TERM
    local p
    for p in "${started[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${started[@]}"; do wait "$p" 2>/dev/null; done
    tb_down
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tb_up || exit 1
tb_probe 20 >&2
read -r h1 h2 <<< "$TB_NS_RECEIVERS"
read -r a1 a2 <<< "$TB_ADDR_RECEIVERS"
: > "$work/empty.toml"
# The receiver is off loopback: it serves only a trusted sender.
"$BIN/p2mpsend" keygen -o "$work/id" > /dev/null 2>&1 || { say "p2mpsend keygen failed"; exit 1; }
cp "$work/id.pub" "$work/trusted-senders"
# A rate of 23 MB/s alone: files sized so the push outlasts (or fits inside) the TCP flow.
head -c $((48 * seconds * 1024 * 1024)) /dev/urandom > "$work/long.bin"
head -c $((12 * seconds * 1024 * 1024)) /dev/urandom > "$work/short.bin"

# sample OUT: every 250 ms, the time and the bytes h1 and h2 have received, until stopped.
sample() {
    while :; do
        printf '%s %s %s\n' "$(date +%s.%N)" \
            "$(ip netns exec "$h1" awk -v d="${TB_ID}h1b:" '$1 == d { print $2 }' /proc/net/dev)" \
            "$(ip netns exec "$h2" awk -v d="${TB_ID}h2b:" '$1 == d { print $2 }' /proc/net/dev)"
        sleep 0.25
    done > "$1"
}

results=$work/results.tsv
: > "$results"
# one CC ORDER ROUND: both flows, in ORDER (tcp-first or p2mp-first), then their shares.
one() {
    local cc=$1 order=$2 round=$3 d=$work/$1-$2-$3
    mkdir -p "$d/spool"
    ip netns exec "$h1" timeout 300 "$BIN/p2mpd" --config "$work/empty.toml" --listen "$a1:$port" --spool "$d/spool" \
        --trusted-senders "$work/trusted-senders" > "$d/p2mpd.log" 2>&1 &
    local daemon=$!
    ip netns exec "$h2" timeout 300 iperf3 -s -1 -B "$a2" -p "$port" > "$d/iperf3-server.log" 2>&1 &
    local server=$!
    started=("$daemon" "$server")
    local i
    for ((i = 0; i < 100; i++)); do
        ip netns exec "$h1" ss -Hlun "sport = :$port" | grep -q . && ip netns exec "$h2" ss -Hltn "sport = :$port" | grep -q . && break
        sleep 0.05
    done
    sample "$d/samples" &
    local sampler=$!
    started+=("$sampler")
    local tcp push file tcp_seconds
    if [[ $order == tcp-first ]]; then file=$work/short.bin tcp_seconds=$((seconds + 4)); else file=$work/long.bin tcp_seconds=$seconds; fi
    start_tcp() {
        ip netns exec "$TB_NS_SENDER" timeout 300 iperf3 -c "$a2" -p "$port" -C "$cc" -t "$tcp_seconds" > "$d/iperf3.log" 2>&1 &
        tcp=$!
    }
    start_push() {
        XDG_CACHE_HOME=$work/cache ip netns exec "$TB_NS_SENDER" timeout 300 "$BIN/p2mpsend" push "$file" "$a1:$port" \
            --quiet --identity "$work/id" --known-hosts "$d/known_hosts" --accept-new-host-keys "${p2mp_flags[@]}" \
            > "$d/push.log" 2>&1 &
        push=$!
    }
    if [[ $order == tcp-first ]]; then start_tcp; sleep 2; start_push; else start_push; sleep 2; start_tcp; fi
    local rc_tcp=0 rc_push=0
    wait "$tcp" || rc_tcp=$?
    wait "$push" || rc_push=$?
    kill -TERM "$sampler" "$daemon" "$server" 2>/dev/null
    wait "$sampler" "$daemon" "$server" 2>/dev/null
    started=()
    local status=ok
    cmp -s "$file" "$d/spool/$(basename "$file")" || status="FAILED: p2mp copy differs or missing (push exit $rc_push)"
    [[ $rc_tcp -ne 0 ]] && status="FAILED: iperf3 exited $rc_tcp"
    # Shares over the samples where both flows moved, without the first and last second.
    python3 - "$d/samples" "$cc" "$order" "$round" "$status" >> "$results" <<'EOF'
import sys
path, cc, order, rnd, status = sys.argv[1:6]
rows = []
for line in open(path):
    f = line.split()
    if len(f) == 3 and f[1].isdigit() and f[2].isdigit():
        rows.append((float(f[0]), int(f[1]), int(f[2])))
both = [i for i in range(1, len(rows)) if rows[i][1] > rows[i - 1][1] and rows[i][2] > rows[i - 1][2]]
if len(both) < 12:
    print(f"{cc}\t{order}\t{rnd}\tFAILED: the flows overlapped for less than 3 s\t-\t-\t-")
    sys.exit()
first, last = both[0] + 4, both[-1] - 4
t = rows[last][0] - rows[first][0]
p2mp = (rows[last][1] - rows[first][1]) / t / 1e6
tcp = (rows[last][2] - rows[first][2]) / t / 1e6
print(f"{cc}\t{order}\t{rnd}\t{status}\t{t:.1f}\t{p2mp:.2f}\t{tcp:.2f}")
EOF
    say "$cc $order round $round: $(tail -n 1 "$results" | cut -f4-)"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((round = 1; round <= repeat; round++)); do
    for cc in $ccs; do
        for order in tcp-first p2mp-first; do one "$cc" "$order" "$round"; done
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$here/results"
python3 - "$results" "$here/results/fairness-$bottleneck.md" "bottleneck: $([[ $bottleneck == core ]] && echo "the core router's link, 100 Mbit/s" || echo "the sender's link, 200 Mbit/s"), RTT ${TB_RTT_MS} ms, loss ${TB_LOSS}, $repeat rounds, BIN=$BIN, load average before $load_before, after $load_after" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
groups = {}
for cc, order, rnd, status, t, p2mp, tcp in rows:
    groups.setdefault((cc, order), []).append((status, t, p2mp, tcp))
out = ["| TCP | order | p2mp MB/s | TCP MB/s | p2mp share | TCP share | both ≥ 1/3 | runs (p2mp/TCP MB/s) |",
       "|---|---|--:|--:|--:|--:|---|---|"]
for (cc, order), runs in groups.items():
    ok = [r for r in runs if r[0] == "ok"]
    detail = ", ".join(f"{r[2]}/{r[3]}" if r[0] == "ok" else r[0] for r in runs)
    if not ok:
        out.append(f"| {cc} | {order} | – | – | – | – | FAILED | {detail} |")
        continue
    shares = sorted(((float(r[2]) / (float(r[2]) + float(r[3])), r) for r in ok), key=lambda x: x[0])
    share, med = shares[len(shares) // 2]
    fair = all(1 / 3 <= s <= 2 / 3 for s, _ in shares) and len(ok) == len(runs)
    out.append(f"| {cc} | {order} | {float(med[2]):.2f} | {float(med[3]):.2f} | {share:.0%} | {1 - share:.0%} | "
               f"{'yes' if fair else 'no'} | {detail} |")
text = "\n".join(out)
print(text)
print(sys.argv[3])
with open(sys.argv[2], "w") as f:
    f.write(f"# p2mp and one TCP flow sharing a bottleneck\n\n{sys.argv[3]}.\n\n{text}\n\n"
            "Rates from each receiver's interface counters over the time both flows ran (median share of the "
            "runs); a share is p2mp / (p2mp + TCP). 'both ≥ 1/3' holds when every run gave each flow a third or more.\n")
EOF

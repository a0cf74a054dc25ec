#!/usr/bin/env bash
# `make bench`, second part: one file pushed over emulated LAN and WAN paths (bench/testbed:
# network namespaces, tbf at 200 Mbit/s on every link, the delay forwarder, nftables loss at
# each receiver) to 1 and to 4 receivers with p2mp, uftp (unicast, -R -1, one sender per
# receiver), a TCP fan-out with BBR and with CUBIC (socat), and udpcast (multicast, LAN
# only). Every copy is checked; rounds interleave the tools; the table shows medians.
# Writes bench/results/paths.md. See bench/README.md.
#
# Knobs (environment): BIN (p2mp binaries; default: build release), BENCH_PATHS ("lan:0
# lan:0.01 wan:0 wan:0.01 wan:0.05": topology:loss), BENCH_PATH_RTT_MS (20, the WAN's RTT),
# BENCH_PATH_RECEIVERS ("1 4"), BENCH_PATH_TOOLS ("p2mp uftp tcp-bbr tcp-cubic udpcast";
# also p2mp-aimd), BENCH_PATH_MIB (64), BENCH_PATH_LIMIT (90 s per run: a TCP run still
# going then counts what arrived), BENCH_REPEAT (3), BENCH_PORT (47100), BENCH_PATH_ID
# (prefix of the testbed's namespaces, default bp<PID>).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
say() { echo "== $*" >&2; }

[[ $(id -u) -eq 0 ]] || { say "needs root (network namespaces)"; exit 1; }
size_mib=${BENCH_PATH_MIB:-64}
repeat=${BENCH_REPEAT:-3}
limit=${BENCH_PATH_LIMIT:-90}
paths=${BENCH_PATHS:-lan:0 lan:0.01 wan:0 wan:0.01 wan:0.05}
counts=${BENCH_PATH_RECEIVERS:-1 4}
tools=${BENCH_PATH_TOOLS:-p2mp uftp tcp-bbr tcp-cubic udpcast}
rtt=${BENCH_PATH_RTT_MS:-20}
port=${BENCH_PORT:-47100}
max_receivers=0
for n in $counts; do ((n > max_receivers)) && max_receivers=$n; done

# Prerequisites: uftp, udpcast, socat (Debian packages, apt-get as root).
missing=()
command -v uftp >/dev/null && command -v uftpd >/dev/null || missing+=(uftp)
command -v udp-sender >/dev/null && command -v udp-receiver >/dev/null || missing+=(udpcast)
command -v socat >/dev/null || missing+=(socat)
if [[ ${#missing[@]} -gt 0 ]] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; }
fi
if [[ -z ${BIN:-} ]]; then
    say "BIN not set: swift build -c release"
    (cd "$repo" && swift build -c release >&2) || { say "release build failed"; exit 1; }
    BIN=$(cd "$repo" && swift build -c release --show-bin-path)
fi
for b in p2mpd p2mpsend; do [[ -x $BIN/$b ]] || { say "no $BIN/$b"; exit 1; }; done

TB_ID=${BENCH_PATH_ID:-bp$$}
source "$here/testbed/testbed.sh"
work=$(mktemp -d /tmp/p2mp-paths.XXXXXX)
rows=$work/rows.tsv
: > "$rows"
jobs_in_testbed=()
cleanup() {
    trap '' INT TERM
    stop_all
    tb_down
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Processes started in the testbed (through `ip netns exec … timeout …`, so SIGTERM reaches
# the program through timeout) are stopped and reaped here.
stop_all() {
    local p
    for p in "${jobs_in_testbed[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${jobs_in_testbed[@]}"; do wait "$p" 2>/dev/null; done
    jobs_in_testbed=()
}
in_ns() { local ns=$1; shift; ip netns exec "$ns" timeout "$limit" "$@"; }
# start_in NS CMD...: in_ns in the background; its PID (timeout's, which passes SIGTERM on to
# CMD) in `started`. (A backgrounded function would be a subshell that a signal ends
# without reaching CMD.)
start_in() { local ns=$1; shift; ip netns exec "$ns" timeout "$limit" "$@" & started=$!; }
now() { date +%s.%N; }
# wait_listening NS PROTO PORT: up to 5 s until something listens on PORT in NS.
wait_listening() {
    local i
    for ((i = 0; i < 100; i++)); do
        ip netns exec "$1" ss -Hl"$2"n "sport = :$3" | grep -q . && return 0
        sleep 0.05
    done
    return 1
}
# row PATH N TOOL STATUS WALL BYTES_PER_RECEIVER NOTE
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$rows"; }
# verify COPY...: empty when every copy equals the input, else which differ
verify() {
    local bad=() c
    for c in "$@"; do cmp -s "$input" "$c" || bad+=("$(basename "$c")"); done
    [[ ${#bad[@]} -eq 0 ]] || echo "copy differs or missing: ${bad[*]}"
}
# finish PATH N TOOL RC START END NOTE COPY...: the row of one run from its exit status and copies
finish() {
    local path=$1 n=$2 tool=$3 rc=$4 start=$5 end=$6 note=$7 status=ok why
    shift 7
    why=$(verify "$@")
    [[ $rc -eq 124 ]] && status="FAILED: over the ${limit} s limit"
    [[ $rc -ne 0 && $rc -ne 124 ]] && status="FAILED: exit $rc"
    [[ $status == ok && -n $why ]] && status="FAILED: $why"
    row "$path" "$n" "$tool" "$status" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$size" "$note"
    say "$path x$n $tool: $status"
    if [[ $status != ok ]]; then   # what the programs said, for the reader of the log
        local log
        for log in "$work"/run/*.log "$work"/run/*.json; do
            [[ -s $log ]] && { echo "-- $(basename "$log"):"; tail -n 5 "$log"; } >&2
        done
    fi
}

run_p2mp() {   # PATH N TOOL [FLAG...]
    local path=$1 n=$2 tool=$3 d=$work/run i targets=() copies=()
    shift 3
    rm -rf "$d"; mkdir -p "$d"
    rm -f "$work/known_hosts"   # every run's daemons make new host keys
    for ((i = 1; i <= n; i++)); do
        start_in "${receivers_ns[i]}" "$BIN/p2mpd" --config "$work/empty.toml" --listen "${receivers_addr[i]}:$port" \
            --spool "$d/spool$i" --trusted-senders "$work/trusted-senders" > "$d/p2mpd$i.log" 2>&1
        jobs_in_testbed+=("$started")
        targets+=("${receivers_addr[i]}:$port")
        copies+=("$d/spool$i/input.bin")
    done
    for ((i = 1; i <= n; i++)); do
        wait_listening "${receivers_ns[i]}" u "$port" || { stop_all; row "$path" "$n" "$tool" "FAILED: p2mpd did not start" - "$size" ""; return; }
    done
    local start end rc
    start=$(now)
    XDG_CACHE_HOME=$work/cache in_ns "$TB_NS_SENDER" "$BIN/p2mpsend" push "$input" "${targets[@]}" --json "${trust[@]}" "$@" > "$d/send.json" 2> "$d/send.log"
    rc=$?; end=$(now)
    stop_all
    finish "$path" "$n" "$tool" "$rc" "$start" "$end" "$(summary_p2mp "$d/send.json")" "${copies[@]}"
}
# Retransmissions and losses from p2mpsend's JSON report.
summary_p2mp() {
    python3 - "$1" <<'EOF' 2>/dev/null
import json, sys
try:
    r = json.load(open(sys.argv[1]))["receivers"]
    print("retransmissions " + " ".join(str(x.get("retransmissions", "?")) for x in r))
except Exception:
    pass
EOF
}

run_uftp() {   # PATH N: one unicast uftp per receiver, in parallel
    local path=$1 n=$2 d=$work/run i copies=() pids=() rc=0
    rm -rf "$d"; mkdir -p "$d"
    for ((i = 1; i <= n; i++)); do
        mkdir -p "$d/r$i"
        start_in "${receivers_ns[i]}" uftpd -d -U "0x0000000$i" -D "$d/r$i" -p "$port" > "$d/uftpd$i.log" 2>&1
        jobs_in_testbed+=("$started")
        copies+=("$d/r$i/input.bin")
    done
    for ((i = 1; i <= n; i++)); do wait_listening "${receivers_ns[i]}" u "$port" || true; done
    local start end
    start=$(now)
    for ((i = 1; i <= n; i++)); do
        start_in "$TB_NS_SENDER" uftp -M "${receivers_addr[i]}" -p "$port" -R -1 -H "0x0000000$i" "$input" > "$d/uftp$i.log" 2>&1
        pids+=("$started")
    done
    for i in "${pids[@]}"; do wait "$i" || rc=$?; done
    end=$(now)
    stop_all
    finish "$path" "$n" uftp "$rc" "$start" "$end" "unicast, -R -1, one uftp per receiver" "${copies[@]}"
}

run_tcp() {   # PATH N CC: one socat connection per receiver, each with TCP congestion control CC (TCP_CONGESTION)
    local path=$1 n=$2 cc=$3 d=$work/run i copies=() senders=() receivers=() rc=0
    rm -rf "$d"; mkdir -p "$d"
    grep -qw "$cc" /proc/sys/net/ipv4/tcp_available_congestion_control ||
        { row "$path" "$n" "tcp-$cc" "not available: no $cc in this kernel" - "$size" ""; return; }
    for ((i = 1; i <= n; i++)); do
        start_in "${receivers_ns[i]}" socat -u "TCP-LISTEN:$port,bind=${receivers_addr[i]},reuseaddr" \
            "OPEN:$d/out$i.bin,creat,trunc" > "$d/recv$i.log" 2>&1
        receivers+=("$started")
        copies+=("$d/out$i.bin")
    done
    for ((i = 1; i <= n; i++)); do wait_listening "${receivers_ns[i]}" t "$port" || true; done
    local start end
    start=$(now)
    for ((i = 1; i <= n; i++)); do
        start_in "$TB_NS_SENDER" socat -u "OPEN:$input" "TCP:${receivers_addr[i]}:$port,setsockopt-string=6:13:$cc" \
            > "$d/send$i.log" 2>&1
        senders+=("$started")
    done
    for i in "${senders[@]}" "${receivers[@]}"; do wait "$i" || rc=$?; done
    end=$(now)
    if [[ $rc -eq 124 ]]; then
        # Over the limit (CUBIC on a lossy WAN): the rate of what arrived, as a lower bound.
        local got=0 c
        for c in "${copies[@]}"; do got=$((got + $(stat -c %s "$c" 2>/dev/null || echo 0))); done
        row "$path" "$n" "tcp-$cc" "partial" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" \
            "$((got / n))" "stopped at the ${limit} s limit with $((got / n / 1048576)) of $size_mib MiB per receiver"
        say "$path x$n tcp-$cc: partial ($got bytes in ${limit} s)"
        return
    fi
    finish "$path" "$n" "tcp-$cc" "$rc" "$start" "$end" "socat, one connection per receiver" "${copies[@]}"
}

# udpcast's default rendezvous, 224.0.0.1, never connected here (the sender's socket, bound to
# its interface's address, does not get it); any other group does. Unpaced it floods the
# link's queue and never finishes, so it sends at 95 % of the link.
udpcast_rendezvous=234.4.4.4
udpcast_rate="$((TB_RATE_MBIT * 95 / 100))m"
run_udpcast() {   # PATH N: multicast on the LAN's bridge
    local path=$1 n=$2 d=$work/run i copies=() receivers=() rc=0
    if [[ $TB_TOPOLOGY != lan ]]; then row "$path" "$n" udpcast "not available: multicast is not routed on the WAN" - "$size" ""; return; fi
    rm -rf "$d"; mkdir -p "$d"
    for ((i = 1; i <= n; i++)); do
        start_in "${receivers_ns[i]}" udp-receiver --file "$d/out$i.bin" --interface "${TB_ID}h${i}b" --portbase "$port" \
            --mcast-rdv-address "$udpcast_rendezvous" --nokbd > "$d/recv$i.log" 2>&1
        receivers+=("$started")
        copies+=("$d/out$i.bin")
    done
    local start end
    start=$(now)
    in_ns "$TB_NS_SENDER" udp-sender --file "$input" --interface "${TB_ID}sa" --portbase "$port" --min-receivers "$n" \
        --mcast-rdv-address "$udpcast_rendezvous" --max-bitrate "$udpcast_rate" --nokbd > "$d/send.log" 2>&1 || rc=$?
    for i in "${receivers[@]}"; do wait "$i" || [[ $rc -ne 0 ]] || rc=$?; done
    end=$(now)
    finish "$path" "$n" udpcast "$rc" "$start" "$end" "multicast, --max-bitrate $udpcast_rate; wall includes the rendezvous" \
        "${copies[@]}"
}

input=$work/input.bin
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$input"
size=$(stat -c %s "$input")
: > "$work/empty.toml"
# Receivers off loopback serve only trusted senders: one key pair for p2mpsend, its public
# line in every daemon's trusted-senders file, host keys recorded on first contact.
"$BIN/p2mpsend" keygen -o "$work/id" > /dev/null 2>&1 || { say "p2mpsend keygen failed"; exit 1; }
cp "$work/id.pub" "$work/trusted-senders"
trust=(--identity "$work/id" --known-hosts "$work/known_hosts" --accept-new-host-keys)
# The file's digest into p2mpsend's cache once, as for a repeated push: a loopback push.
mkdir -p "$work/prime"
"$BIN/p2mpd" --config "$work/empty.toml" --listen "127.0.0.1:$port" --spool "$work/prime" > "$work/prime.log" 2>&1 &
prime=$!
XDG_CACHE_HOME=$work/cache "$BIN/p2mpsend" push "$input" "127.0.0.1:$port" --quiet > /dev/null 2>&1 ||
    say "priming the digest cache failed; the first p2mp run hashes the file"
kill -TERM "$prime" 2>/dev/null; wait "$prime" 2>/dev/null
rm -rf "$work/prime"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "input ${size_mib} MiB; paths: $paths; receivers: $counts; tools: $tools; $repeat rounds; BIN=$BIN"
for spec in $paths; do
    topology=${spec%%:*} loss=${spec#*:}
    path="$topology $(awk -v l="$loss" 'BEGIN { printf "%g%%", l * 100 }')"
    [[ $topology == wan ]] && path="wan ${rtt} ms $(awk -v l="$loss" 'BEGIN { printf "%g%%", l * 100 }')"
    TB_TOPOLOGY=$topology TB_LOSS=$loss TB_RECEIVERS=$max_receivers
    TB_RTT_MS=$([[ $topology == wan ]] && echo "$rtt" || echo 0)
    unset TB_DELAY_LINK
    TB_WORK=$work/testbed-$topology-$loss
    tb_up || { say "testbed for $path failed"; exit 1; }
    tb_probe 20 >&2 || say "probe of $path incomplete"
    read -ra receivers_ns <<< "- $TB_NS_RECEIVERS"
    read -ra receivers_addr <<< "- $TB_ADDR_RECEIVERS"
    for ((round = 1; round <= repeat; round++)); do
        say "$path: round $round of $repeat"
        for n in $counts; do
            for t in $tools; do
                case $t in
                    p2mp) run_p2mp "$path" "$n" p2mp ;;
                    p2mp-aimd) run_p2mp "$path" "$n" p2mp-aimd --congestion-control aimd ;;
                    uftp) run_uftp "$path" "$n" ;;
                    tcp-bbr) run_tcp "$path" "$n" bbr ;;
                    tcp-cubic) run_tcp "$path" "$n" cubic ;;
                    udpcast) run_udpcast "$path" "$n" ;;
                    *) say "unknown tool $t" ;;
                esac
            done
        done
    done
    tb_queue_drops >&2
    tb_down
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$here/results"
python3 "$here/paths.py" "$rows" "$here/results/paths.md" \
    "input ${size_mib} MiB, $repeat rounds, BIN=$BIN, $(nproc) cores, load average before $load_before, after $load_after"

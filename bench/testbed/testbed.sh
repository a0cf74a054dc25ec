#!/usr/bin/env bash
# testbed.sh: a sender, N receivers and the links between them, in network namespaces of
# this machine, with rate limits (tbf), one-way delay and jitter (delayfwd, a user-space
# forwarder: this kernel has no netem) and random loss (nftables) on chosen links.
# Interface and variables: bench/testbed/README.md.
#
#   bench/testbed/testbed.sh [OPTIONS] -- COMMAND [ARG...]   build, probe, run COMMAND, tear down
#   bench/testbed/testbed.sh [OPTIONS] --check               build, probe, burst, tear down
#   source bench/testbed/testbed.sh                           tb_up / tb_probe / tb_down ...
#
# Every namespace, interface and nft table is named after TB_ID (default tb<PID>); nothing
# is created in the caller's namespace and no address outside these namespaces is used.
# The command form tears everything down on exit, error, Ctrl-C and SIGTERM; a script
# that sources this file calls tb_down from its own EXIT trap.

TB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_REPO=$(cd "$TB_HERE/../.." && pwd)

: "${TB_ID:=tb$$}"
: "${TB_TOPOLOGY:=wan}"
: "${TB_RECEIVERS:=3}"
: "${TB_RTT_MS:=20}"
: "${TB_JITTER_MS:=0}"
: "${TB_REORDER:=0}"
: "${TB_RATE_MBIT:=200}"
: "${TB_QUEUE_MS:=25}"
: "${TB_LOSS:=0}"
: "${TB_LINKS:=}"
: "${TB_ECHO_PORT:=7}"
: "${TB_PROBES:=50}"
: "${TB_PROBE_INTERVAL_MS:=20}"
: "${TB_SEED:=1}"
: "${TB_BUILD:=$TB_REPO/.build/testbed}"
: "${TB_RT_PRIORITY:=50}"

tb_say() { echo "testbed: $*" >&2; }
tb_die() { tb_say "error: $*"; return 1; }

# tb_exec NS COMMAND...: run COMMAND inside namespace NS.
tb_exec() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# --- tools -------------------------------------------------------------------------------
# Compiles delayfwd and udpprobe (gcc -O2) into TB_BUILD when missing or older than the source.
tb_build_tools() {
    mkdir -p "$TB_BUILD" || return 1
    local tool
    for tool in delayfwd udpprobe; do
        if [[ ! -x $TB_BUILD/$tool || $TB_HERE/$tool.c -nt $TB_BUILD/$tool ]]; then
            gcc -O2 -Wall -Wextra -Werror -o "$TB_BUILD/$tool.new" "$TB_HERE/$tool.c" -lm &&
                mv "$TB_BUILD/$tool.new" "$TB_BUILD/$tool" || { tb_die "cannot compile $tool.c"; return 1; }
        fi
    done
}

# Installs what the testbed needs (root, apt-get) when it is missing.
tb_prerequisites() {
    local missing=()
    command -v nft >/dev/null || missing+=(nftables)
    command -v ethtool >/dev/null || missing+=(ethtool)
    command -v tc >/dev/null || missing+=(iproute2)
    command -v gcc >/dev/null || missing+=(gcc)
    command -v chrt >/dev/null || missing+=(util-linux)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null || { tb_die "missing ${missing[*]}"; return 1; }
    tb_say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; } ||
        { tb_die "apt-get install ${missing[*]} failed"; return 1; }
}

# --- link parameters ---------------------------------------------------------------------
# tb_link_param LINK KEY DEFAULT: the value of KEY for LINK from TB_LINKS
# ("core:delay=10,jitter=1 h2:loss=0.01 ..."), else DEFAULT.
tb_link_param() {
    local link=$1 key=$2 value=$3 spec pair
    for spec in $TB_LINKS; do
        [[ ${spec%%:*} == "$link" ]] || continue
        local IFS=,
        for pair in ${spec#*:}; do
            [[ ${pair%%=*} == "$key" ]] && value=${pair#*=}
        done
    done
    echo "$value"
}

# Validates TB_LINKS and the scalar parameters before anything is created.
tb_validate() {
    local number='^[0-9]+([.][0-9]+)?$' spec pair key
    [[ $TB_ID =~ ^[a-z][a-z0-9]{1,9}$ ]] || { tb_die "TB_ID '$TB_ID' must be 2-10 lowercase letters and digits"; return 1; }
    [[ $TB_TOPOLOGY == wan || $TB_TOPOLOGY == lan ]] || { tb_die "topology '$TB_TOPOLOGY' is not wan or lan"; return 1; }
    [[ $TB_RECEIVERS =~ ^[0-9]+$ ]] && ((TB_RECEIVERS >= 1 && TB_RECEIVERS <= 99)) ||
        { tb_die "receivers '$TB_RECEIVERS' is not in 1-99"; return 1; }
    for key in TB_RTT_MS TB_JITTER_MS TB_RATE_MBIT TB_QUEUE_MS TB_LOSS; do
        [[ ${!key} =~ $number ]] || { tb_die "$key '${!key}' is not a non-negative number"; return 1; }
    done
    for spec in $TB_LINKS; do
        local link=${spec%%:*}
        [[ $link == sender || $link == core || $link =~ ^h[0-9]+$ ]] ||
            { tb_die "link '$link' in TB_LINKS is not sender, core or hN"; return 1; }
        [[ $link == core && $TB_TOPOLOGY == lan ]] && { tb_die "a lan testbed has no core link"; return 1; }
        local IFS=,
        for pair in ${spec#*:}; do
            key=${pair%%=*}
            [[ $key =~ ^(rate|delay|jitter|loss|rloss)$ ]] ||
                { tb_die "key '$key' in TB_LINKS is not rate, delay, jitter, loss or rloss"; return 1; }
            [[ ${pair#*=} =~ $number ]] || { tb_die "value '${pair#*=}' of $link:$key is not a number"; return 1; }
        done
    done
}

# --- building blocks ---------------------------------------------------------------------
TB_NAMESPACES=()
TB_FORWARDER_PIDS=()
TB_FORWARDER_TAGS=()

tb_ns_add() {
    ip netns add "$1" || return 1
    TB_NAMESPACES+=("$1")
    tb_exec "$1" ip link set lo up
    tb_exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
}

# Wire-sized, complete packets everywhere: with GSO/GRO on, tbf, nft and the forwarder
# would see 64 KB super-packets, and with checksum offload ("tx") a frame leaves a veth
# with its UDP/TCP checksum unfilled, which delayfwd would pass on as a corrupt frame.
# ethtool fails for features a device lacks; those are off already.
tb_plain_interface() {
    local ns=$1 dev=$2 feature
    for feature in tx gso gro tso tx-udp-segmentation; do
        tb_exec "$ns" ethtool -K "$dev" "$feature" off >/dev/null 2>&1
    done
    tb_exec "$ns" ip link set "$dev" gso_max_segs 1 2>/dev/null
    tb_exec "$ns" ip link set "$dev" up
}

# tb_rate NS DEV MBIT: tbf on DEV's egress (nothing for 0).
tb_rate() {
    local ns=$1 dev=$2 mbit=$3
    [[ $mbit == 0 ]] && return 0
    local burst
    burst=$(awk -v m="$mbit" 'BEGIN { b = m * 1e6 / 8 / 1000; if (b < 3028) b = 3028; printf "%d", b }')
    tb_exec "$ns" tc qdisc replace dev "$dev" root tbf rate "${mbit}mbit" burst "$burst" latency "${TB_QUEUE_MS}ms"
}

# tb_loss NS FAMILY DEV P: drop each packet arriving on DEV with probability P, in NS's
# prerouting hook (FAMILY inet for hosts and routers, bridge for the LAN switch).
tb_loss() {
    local ns=$1 family=$2 dev=$3 p=$4 ppm
    ppm=$(awk -v p="$p" 'BEGIN { printf "%d", p * 1000000 + 0.5 }')
    ((ppm == 0)) && return 0
    ((ppm <= 1000000)) || { tb_die "loss $p on $dev is above 1"; return 1; }
    local table=${TB_ID}loss
    if ! tb_exec "$ns" nft list table "$family" "$table" >/dev/null 2>&1; then
        tb_exec "$ns" nft add table "$family" "$table" &&
            tb_exec "$ns" nft add chain "$family" "$table" pre "{ type filter hook prerouting priority -300; }" || return 1
    fi
    tb_exec "$ns" nft add rule "$family" "$table" pre iifname "$dev" numgen random mod 1000000 "<" "$ppm" counter drop
}

# tb_forwarder NS IF_A IF_B DELAY_MS JITTER_MS TAG: delayfwd between IF_A and IF_B in NS,
# at real-time priority. (Threaded NAPI does not apply: a veth with GRO off has no NAPI.)
tb_forwarder() {
    local ns=$1 a=$2 b=$3 delay=$4 jitter=$5 tag=$6
    local delay_us jitter_us stats=$TB_WORK/forwarder-$tag.stats
    delay_us=$(awk -v d="$delay" 'BEGIN { printf "%d", d * 1000 + 0.5 }')
    jitter_us=$(awk -v d="$jitter" 'BEGIN { printf "%d", d * 1000 + 0.5 }')
    local reorder=()
    [[ $TB_REORDER == 1 ]] && reorder=(--reorder)
    rm -f "$stats"
    # not through tb_exec: $! must be delayfwd itself (ip netns exec and chrt exec it)
    ip netns exec "$ns" chrt -f "$TB_RT_PRIORITY" "$TB_BUILD/delayfwd" --a "$a" --b "$b" --delay-us "$delay_us" \
        --jitter-us "$jitter_us" --seed "$((TB_SEED + ${#TB_FORWARDER_PIDS[@]}))" "${reorder[@]}" \
        --stats "$stats" 2>>"$TB_WORK/forwarder-$tag.log" &
    TB_FORWARDER_PIDS+=($!)
    TB_FORWARDER_TAGS+=("$tag")
    local i
    for ((i = 0; i < 500; i++)); do   # its first stats file says it is bridging
        [[ -s $stats ]] && return 0
        kill -0 "${TB_FORWARDER_PIDS[-1]}" 2>/dev/null || break
        sleep 0.01
    done
    tb_die "delayfwd on link $tag did not start: $(tail -n 3 "$TB_WORK/forwarder-$tag.log" 2>/dev/null)"
}

# tb_link TAG NS_A ADDR_A NS_B ADDR_B [a-bridge|b-bridge]: a link from NS_A (toward the
# sender) to NS_B (toward the receivers), interfaces ${TB_ID}${TAG}a and ...b, ADDR in CIDR
# form or "-" for none; a-bridge/b-bridge makes that side a port of the switch's bridge.
# With a delay, a namespace ${TB_ID}d${TAG} sits in the middle (interfaces ...x toward A,
# ...y toward B) and delayfwd holds every frame for the one-way delay, each way. The rate
# applies at A's and B's egress; loss to what arrives at B (downstream), rloss to what
# arrives at A (upstream).
tb_link() {
    local tag=$1 ns_a=$2 addr_a=$3 ns_b=$4 addr_b=$5 mode=${6:-}
    local a=${TB_ID}${tag}a b=${TB_ID}${tag}b
    local link=$tag delay jitter rate loss rloss default_delay=0 default_jitter=0 default_loss=0
    [[ $tag == s ]] && link=sender
    [[ $tag == c ]] && link=core
    if [[ $link == "$TB_DELAY_LINK" ]]; then
        default_delay=$(awk -v r="$TB_RTT_MS" 'BEGIN { print r / 2 }')
        default_jitter=$TB_JITTER_MS
    fi
    [[ $link == h* ]] && default_loss=$TB_LOSS
    delay=$(tb_link_param "$link" delay "$default_delay")
    jitter=$(tb_link_param "$link" jitter "$default_jitter")
    rate=$(tb_link_param "$link" rate "$TB_RATE_MBIT")
    loss=$(tb_link_param "$link" loss "$default_loss")
    rloss=$(tb_link_param "$link" rloss 0)
    if awk -v d="$delay" -v j="$jitter" 'BEGIN { exit !(d > 0 || j > 0) }'; then
        local nd=${TB_ID}d${tag} x=${TB_ID}${tag}x y=${TB_ID}${tag}y
        tb_ns_add "$nd" || return 1
        ip link add "$a" netns "$ns_a" type veth peer name "$x" netns "$nd" || return 1
        ip link add "$y" netns "$nd" type veth peer name "$b" netns "$ns_b" || return 1
        tb_plain_interface "$nd" "$x"
        tb_plain_interface "$nd" "$y"
        tb_forwarder "$nd" "$x" "$y" "$delay" "$jitter" "$tag" || return 1
    else
        ip link add "$a" netns "$ns_a" type veth peer name "$b" netns "$ns_b" || return 1
    fi
    local family_a=inet family_b=inet
    if [[ $mode == a-bridge ]]; then tb_exec "$ns_a" ip link set "$a" master "${TB_ID}br"; family_a=bridge; fi
    if [[ $mode == b-bridge ]]; then tb_exec "$ns_b" ip link set "$b" master "${TB_ID}br"; family_b=bridge; fi
    tb_plain_interface "$ns_a" "$a"
    tb_plain_interface "$ns_b" "$b"
    [[ $addr_a != - ]] && tb_exec "$ns_a" ip addr add "$addr_a" dev "$a"
    [[ $addr_b != - ]] && tb_exec "$ns_b" ip addr add "$addr_b" dev "$b"
    tb_rate "$ns_a" "$a" "$rate" && tb_rate "$ns_b" "$b" "$rate" || return 1
    tb_loss "$ns_b" "$family_b" "$b" "$loss" && tb_loss "$ns_a" "$family_a" "$a" "$rloss" || return 1
    echo "$link: delay ${delay} ms each way, jitter ${jitter} ms, rate ${rate} Mbit/s, loss $loss down, $rloss up" \
        >> "$TB_WORK/links"
}

# --- topologies --------------------------------------------------------------------------
# wan: sender -- r1 -- (core link, delay) -- r2 -- one access link per receiver.
#   sender 10.1.0.2/24 via r1 10.1.0.1; core 10.2.0.1 (r1) - 10.2.0.2 (r2);
#   receiver i 10.3.i.2/24 via r2 10.3.i.1. Two router hops, static routes.
tb_up_wan() {
    local s=${TB_ID}s r1=${TB_ID}r1 r2=${TB_ID}r2 i
    tb_ns_add "$s" && tb_ns_add "$r1" && tb_ns_add "$r2" || return 1
    tb_exec "$r1" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
    tb_exec "$r2" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
    tb_link s "$s" 10.1.0.2/24 "$r1" 10.1.0.1/24 || return 1
    tb_link c "$r1" 10.2.0.1/24 "$r2" 10.2.0.2/24 || return 1
    tb_exec "$s" ip route add default via 10.1.0.1
    tb_exec "$r1" ip route add 10.3.0.0/16 via 10.2.0.2
    tb_exec "$r2" ip route add 10.1.0.0/24 via 10.2.0.1
    TB_NS_SENDER=$s
    TB_ADDR_SENDER=10.1.0.2
    TB_NS_ROUTERS="$r1 $r2"
    TB_NS_RECEIVERS="" TB_ADDR_RECEIVERS=""
    for ((i = 1; i <= TB_RECEIVERS; i++)); do
        local h=${TB_ID}h$i
        tb_ns_add "$h" || return 1
        tb_link "h$i" "$r2" "10.3.$i.1/24" "$h" "10.3.$i.2/24" || return 1
        tb_exec "$h" ip route add default via "10.3.$i.1"
        TB_NS_RECEIVERS+="${TB_NS_RECEIVERS:+ }$h"
        TB_ADDR_RECEIVERS+="${TB_ADDR_RECEIVERS:+ }10.3.$i.2"
    done
}

# lan: sender and receivers on one bridge (namespace ${TB_ID}b, bridge ${TB_ID}br), one
# subnet 10.4.0.0/16 with a multicast route: sender 10.4.0.1, receiver i 10.4.1.i.
tb_up_lan() {
    local s=${TB_ID}s sw=${TB_ID}b i
    tb_ns_add "$s" && tb_ns_add "$sw" || return 1
    tb_exec "$sw" ip link add "${TB_ID}br" type bridge mcast_snooping 0 &&
        tb_exec "$sw" ip link set "${TB_ID}br" up || return 1
    tb_link s "$s" 10.4.0.1/16 "$sw" - b-bridge || return 1
    tb_exec "$s" ip route add 224.0.0.0/4 dev "${TB_ID}sa"
    TB_NS_SENDER=$s
    TB_ADDR_SENDER=10.4.0.1
    TB_NS_ROUTERS=""
    TB_NS_RECEIVERS="" TB_ADDR_RECEIVERS=""
    for ((i = 1; i <= TB_RECEIVERS; i++)); do
        local h=${TB_ID}h$i
        tb_ns_add "$h" || return 1
        tb_link "h$i" "$sw" - "$h" "10.4.1.$i/16" a-bridge || return 1
        tb_exec "$h" ip route add 224.0.0.0/4 dev "${TB_ID}h${i}b"
        TB_NS_RECEIVERS+="${TB_NS_RECEIVERS:+ }$h"
        TB_ADDR_RECEIVERS+="${TB_ADDR_RECEIVERS:+ }10.4.1.$i"
    done
}

# --- life cycle --------------------------------------------------------------------------
# Builds the testbed described by the TB_* variables; exports TB_NS_SENDER,
# TB_ADDR_SENDER, TB_NS_RECEIVERS, TB_ADDR_RECEIVERS, TB_NS_ROUTERS, TB_WORK.
tb_up() {
    tb_validate && tb_prerequisites && tb_build_tools || return 1
    [[ $(id -u) -eq 0 ]] || { tb_die "needs root (network namespaces)"; return 1; }
    if ip netns list | grep -q "^${TB_ID}[a-z]"; then
        tb_die "namespaces named ${TB_ID}* exist already"
        return 1
    fi
    TB_WORK=${TB_WORK:-$(mktemp -d "/tmp/$TB_ID.XXXXXX")}
    mkdir -p "$TB_WORK" && : > "$TB_WORK/links"
    : "${TB_DELAY_LINK:=$([[ $TB_TOPOLOGY == wan ]] && echo core || echo sender)}"
    if [[ $TB_TOPOLOGY == wan ]]; then tb_up_wan; else tb_up_lan; fi || { tb_die "building the testbed failed"; return 1; }
    local h
    for h in $TB_NS_RECEIVERS; do
        ip netns exec "$h" chrt -f "$TB_RT_PRIORITY" "$TB_BUILD/udpprobe" echo "$TB_ECHO_PORT" &
    done
    export TB_ID TB_WORK TB_NS_SENDER TB_ADDR_SENDER TB_NS_RECEIVERS TB_ADDR_RECEIVERS TB_NS_ROUTERS
    tb_say "$TB_ID: $TB_TOPOLOGY, $TB_RECEIVERS receivers ($TB_ADDR_RECEIVERS), sender $TB_ADDR_SENDER"
    sed 's/^/testbed:   link /' "$TB_WORK/links" >&2
}


# tb_forwarder_stats: asks every delayfwd for its counters (SIGUSR1; it rewrites its stats
# file with the next generation) and prints one line per forwarder; sets TB_FORWARDER_DROPS
# to the sum of their own drops. Returns 1 when a forwarder is gone or does not answer.
tb_forwarder_stats() {
    TB_FORWARDER_DROPS=0
    local k status=0
    for k in "${!TB_FORWARDER_PIDS[@]}"; do
        local pid=${TB_FORWARDER_PIDS[$k]} tag=${TB_FORWARDER_TAGS[$k]} file=$TB_WORK/forwarder-${TB_FORWARDER_TAGS[$k]}.stats
        local before i
        before=$(sed -n 's/^generation=//p' "$file" 2>/dev/null)
        if ! kill -USR1 "$pid" 2>/dev/null; then
            tb_say "forwarder $tag (pid $pid) is not running"; status=1; continue
        fi
        for ((i = 0; i < 500; i++)); do
            [[ $(sed -n 's/^generation=//p' "$file" 2>/dev/null) != "$before" ]] && break
            sleep 0.01
        done
        if ((i == 500)); then tb_say "forwarder $tag did not report"; status=1; continue; fi
        local -A v=()
        local key value
        while IFS='=' read -r key value; do v[$key]=$value; done < "$file"
        echo "forwarder $tag: down ${v[ab_forwarded]}/${v[ab_received]} frames, up ${v[ba_forwarded]}/${v[ba_received]}," \
            "own drops ${v[drops]} (queue full $((v[ab_queue_full] + v[ba_queue_full])), socket $((v[ab_kernel_drops] + v[ba_kernel_drops])), oversize $((v[ab_oversize] + v[ba_oversize])), send errors $((v[ab_send_errors] + v[ba_send_errors])))"
        TB_FORWARDER_DROPS=$((TB_FORWARDER_DROPS + v[drops]))
    done
    return $status
}

# tb_queue_drops: prints the packets every tbf of the testbed dropped (a full queue: the
# offered rate exceeded the link's) and sets TB_QUEUE_DROPS to their sum.
tb_queue_drops() {
    TB_QUEUE_DROPS=0
    local ns dev dropped report=()
    for ns in "${TB_NAMESPACES[@]}"; do
        while read -r dev dropped; do
            ((dropped > 0)) && report+=("$dev $dropped")
            TB_QUEUE_DROPS=$((TB_QUEUE_DROPS + dropped))
        done < <(tb_exec "$ns" tc -s qdisc show 2>/dev/null | awk '
            $1 == "qdisc" && $2 == "tbf" { dev = $5 }
            $1 == "Sent" && dev != "" { for (i = 1; i <= NF; i++) if ($i == "(dropped") { d = $(i + 1); sub(",", "", d); print dev, d }; dev = "" }')
    done
    echo "tbf drops: $TB_QUEUE_DROPS${report:+ (${report[*]})}"
}

# tb_probe [COUNT]: a UDP echo from the sender to every receiver (COUNT probes each,
# TB_PROBE_INTERVAL_MS apart, all receivers at once) and the forwarders' drops. The probe
# and the echo servers run SCHED_FIFO like the forwarders: they are the instrument, and on
# a loaded machine a wait for a CPU would count as path delay. Prints one
# line per receiver; samples go to $TB_WORK/probe-hN.samples ("rtt forward reverse" in us).
# Sets TB_RTT_US (mean RTT over receivers) and TB_PROBE_LOST.
tb_probe() {
    local count=${1:-$TB_PROBES} i=0 addr pids=()
    for addr in $TB_ADDR_RECEIVERS; do   # warm-up: ARP along the path, not measured
        tb_exec "$TB_NS_SENDER" "$TB_BUILD/udpprobe" rtt "$addr" "$TB_ECHO_PORT" 2 0 > /dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    pids=()
    i=0
    for addr in $TB_ADDR_RECEIVERS; do
        i=$((i + 1))
        tb_exec "$TB_NS_SENDER" chrt -f "$TB_RT_PRIORITY" "$TB_BUILD/udpprobe" rtt "$addr" "$TB_ECHO_PORT" "$count" "$TB_PROBE_INTERVAL_MS" 64 \
            "$TB_WORK/probe-h$i.samples" > "$TB_WORK/probe-h$i.out" &
        pids+=($!)
    done
    local status=0
    for i in "${pids[@]}"; do wait "$i" || status=1; done
    local total=0 lost=0 n=0 line
    i=0
    for addr in $TB_ADDR_RECEIVERS; do
        i=$((i + 1))
        line=$(cat "$TB_WORK/probe-h$i.out")
        echo "probe h$i ($addr): $line"
        local avg sent answered
        avg=$(sed -n 's/.*rtt_avg_us=\([0-9]*\).*/\1/p' <<< "$line")
        sent=$(sed -n 's/^sent=\([0-9]*\).*/\1/p' <<< "$line")
        answered=$(sed -n 's/.* answered=\([0-9]*\).*/\1/p' <<< "$line")
        [[ -n $avg && -n $sent && -n $answered ]] || { status=1; continue; }
        total=$((total + avg)); n=$((n + 1)); lost=$((lost + sent - answered))
    done
    TB_RTT_US=$((n > 0 ? total / n : 0))
    TB_PROBE_LOST=$lost
    tb_forwarder_stats || status=1
    return $status
}

# tb_burst COUNT MBIT [SIZE]: COUNT datagrams paced at MBIT from the sender to receiver 1's
# echo and back; prints the result, sets TB_BURST_LOST.
tb_burst() {
    local addr=${TB_ADDR_RECEIVERS%% *} line
    line=$(tb_exec "$TB_NS_SENDER" chrt -f "$TB_RT_PRIORITY" "$TB_BUILD/udpprobe" burst "$addr" "$TB_ECHO_PORT" "$1" "$2" "${3:-1200}") || return 1
    echo "burst to h1 ($addr): $line"
    TB_BURST_LOST=$(sed -n 's/.* lost=\([0-9]*\).*/\1/p' <<< "$line")
}

# tb_down: stops every process in the testbed's namespaces (the forwarders, echo servers
# and whatever the caller started there), deletes the namespaces (their interfaces and nft
# tables go with them) and checks that none is left. Safe to call more than once.
tb_down() {
    local ns pid left=() i
    for ns in "${TB_NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
    done
    for ((i = 0; i < 200; i++)); do   # up to 2 s for them to exit
        left=()
        for ns in "${TB_NAMESPACES[@]}"; do left+=($(ip netns pids "$ns" 2>/dev/null)); done
        [[ ${#left[@]} -eq 0 ]] && break
        sleep 0.01
    done
    for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    for pid in "${TB_FORWARDER_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    for ns in "${TB_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    TB_NAMESPACES=()
    TB_FORWARDER_PIDS=()
    TB_FORWARDER_TAGS=()
    if ip netns list | grep -q "^${TB_ID}[a-z]"; then
        tb_say "namespaces left behind: $(ip netns list | grep "^${TB_ID}[a-z]" | tr '\n' ' ')"
        return 1
    fi
}

# --- command line ------------------------------------------------------------------------
tb_usage() {
    cat <<'USAGE'
usage: testbed.sh [OPTIONS] -- COMMAND [ARG...]    build, probe, run COMMAND, tear down
       testbed.sh [OPTIONS] --check                 build, probe, 200 Mbit/s burst, tear down
options (each also a TB_* variable, see bench/testbed/README.md):
  --topology wan|lan   routed (sender, 2 routers, receivers) or one bridge   [wan]
  --receivers N        receivers h1..hN                                       [3]
  --rtt MS             RTT added on the delay link (core; lan: sender link)   [20]
  --jitter MS          +- uniform jitter per direction on that link           [0]
  --reorder            let jitter reorder frames
  --rate MBIT          tbf rate on every link, both directions; 0 for none    [200]
  --loss P             random loss of what arrives at each receiver           [0]
  --link NAME:K=V,...  per link (sender, core, hN): rate, delay, jitter, loss, rloss
  --id ID              name prefix of namespaces, interfaces, nft tables      [tb<PID>]
USAGE
}

# The command form's COMMAND runs in the caller's namespace: on an early exit (error,
# Ctrl-C, SIGTERM) it gets SIGTERM and up to 10 s before the testbed goes away.
tb_stop_command() {
    [[ -n ${TB_COMMAND_PID:-} ]] || return 0
    kill -TERM "$TB_COMMAND_PID" 2>/dev/null
    local i
    for ((i = 0; i < 1000; i++)); do
        kill -0 "$TB_COMMAND_PID" 2>/dev/null || break
        sleep 0.01
    done
    kill -KILL "$TB_COMMAND_PID" 2>/dev/null
    wait "$TB_COMMAND_PID" 2>/dev/null
}

tb_main() {
    local check=0
    while [[ $# -gt 0 ]]; do
        case $1 in
            --topology) TB_TOPOLOGY=$2; shift 2 ;;
            --receivers) TB_RECEIVERS=$2; shift 2 ;;
            --rtt) TB_RTT_MS=$2; shift 2 ;;
            --jitter) TB_JITTER_MS=$2; shift 2 ;;
            --reorder) TB_REORDER=1; shift ;;
            --rate) TB_RATE_MBIT=$2; shift 2 ;;
            --loss) TB_LOSS=$2; shift 2 ;;
            --link) TB_LINKS+="${TB_LINKS:+ }$2"; shift 2 ;;
            --id) TB_ID=$2; shift 2 ;;
            --check) check=1; shift ;;
            --) shift; break ;;
            -h | --help) tb_usage; return 0 ;;
            *) tb_say "unknown option '$1'"; tb_usage >&2; return 2 ;;
        esac
    done
    if [[ $check == 0 && $# -eq 0 ]]; then tb_usage >&2; return 2; fi
    TB_COMMAND_PID=
    trap 'tb_stop_command; tb_down' EXIT
    trap 'exit 130' INT TERM
    tb_up || return 1
    tb_probe || return 1
    local status=0
    if [[ $check == 1 ]]; then
        tb_burst 20000 "$(awk -v r="$TB_RATE_MBIT" 'BEGIN { print (r > 0 && r < 200) ? int(r / 2) : 100 }')" 1200 ||
            status=1
        tb_forwarder_stats || status=1
        tb_queue_drops
        [[ ${TB_BURST_LOST:-1} == 0 && $TB_FORWARDER_DROPS == 0 ]] || status=1
    else
        export TB_RTT_US
        "$@" &
        TB_COMMAND_PID=$!
        wait "$TB_COMMAND_PID" || status=$?
        TB_COMMAND_PID=
        tb_forwarder_stats
        tb_queue_drops
    fi
    return $status
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -uo pipefail
    tb_main "$@"
    exit $?
fi

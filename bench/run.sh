#!/usr/bin/env bash
# `make bench`: push one file over loopback to 1 and to 4 receivers with p2mp (native and
# Stop-and-Wait), uftp and a TCP fan-out with socat; print a table of wall time, goodput,
# CPU and peak RSS, and write it to bench/results/latest.md. See bench/README.md.
#
# Knobs (environment): BIN (p2mp binaries; default: build release), BENCH_SIZE_MIB (1024),
# BENCH_QUICK=1 (64 MiB), BENCH_SAW_MIB (64), BENCH_PORT (47000), BENCH_DIR (/tmp),
# BENCH_TIMEOUT (600 s per process), BENCH_TOOLS ("uftp uftp-8800 p2mp-cold p2mp p2mp-auth p2mp-1400 saw
# socat"),
# BENCH_REPEAT (3 runs of each, reported as the median).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
fmt='%e %U %S %M'
tmo=${BENCH_TIMEOUT:-600}
# Run a command in the background and wait for it, so that a trapped INT/TERM is handled at
# once (bash defers traps until a foreground command ends). Returns the command's status.
fgw() { "$@" & wait $!; }

# ---------------------------------------------------------------------------------------
# Inner mode: uftp to 4 receivers, run inside a private network namespace (unshare -n).
# uftp unicast (-M 127.0.0.1) reaches only one client, and uftpd always binds 0.0.0.0:PORT
# without SO_REUSEADDR, so 4 receivers on one host need multicast on lo plus a tiny
# LD_PRELOAD shim that sets SO_REUSEADDR before bind(). The namespace has nothing but lo:
# no datagram can leave the machine, and the host's lo is not modified.
# Args: OUT_DIR FILE PORT SHIM BLOCK
if [ "${1:-}" = "--uftp-multicast-inner" ]; then
    out=$2 file=$3 port=$4 shim=$5 block=$6
    ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || {
        echo "cannot set up multicast on lo in the namespace" > "$out/reason"; exit 1; }
    tpids=()
    trap 'trap "" INT TERM; for p in "${tpids[@]}" $(jobs -p); do pkill -TERM -P "$p" 2>/dev/null; done; wait' EXIT
    trap 'exit 130' INT TERM
    for n in 1 2 3 4; do
        mkdir -p "$out/r$n"
        LD_PRELOAD=$shim /usr/bin/time -o "$out/recv$n.time" -f "$fmt" \
            timeout "$tmo" uftpd -d -I lo -U "0x0000000$n" -D "$out/r$n" -p "$port" > "$out/recv$n.log" 2>&1 &
        tpids+=($!)
    done
    sleep 0.5
    start=$(date +%s.%N)
    fgw /usr/bin/time -o "$out/send.time" -f "$fmt" timeout "$tmo" uftp -I lo -M 230.4.4.1 -P 230.5.5.1 \
        -p "$port" -R -1 -b "$block" -H 0x00000001,0x00000002,0x00000003,0x00000004 "$file" > "$out/send.log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    echo "$start $end $rc" > "$out/wall"
    sleep 0.2
    for p in "${tpids[@]}"; do pkill -TERM -P "$p" 2>/dev/null; done
    wait
    trap - EXIT
    exit 0
fi

# ---------------------------------------------------------------------------------------
quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then size_mib=${BENCH_SIZE_MIB:-64}; else size_mib=${BENCH_SIZE_MIB:-1024}; fi
saw_mib=${BENCH_SAW_MIB:-64}
repeat=${BENCH_REPEAT:-3}
[ "$saw_mib" -gt "$size_mib" ] && saw_mib=$size_mib
base_port=${BENCH_PORT:-47000}
tools=${BENCH_TOOLS:-uftp uftp-8800 p2mp-cold p2mp p2mp-auth p2mp-1400 saw socat}

say() { echo "== $*" >&2; }

# Prerequisites: uftp, socat, GNU time (apt-get as root).
missing=()
command -v uftp >/dev/null && command -v uftpd >/dev/null || missing+=(uftp)
command -v socat >/dev/null || missing+=(socat)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        say "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; }
    else
        say "missing ${missing[*]} (run as root to install them with apt-get)"
    fi
fi
[ -x /usr/bin/time ] || { say "GNU time (/usr/bin/time) is required"; exit 1; }

# p2mp binaries: BIN, or one release build of every product.
if [ -z "${BIN:-}" ]; then
    say "BIN not set: swift build -c release"
    if (cd "$repo" && swift build -c release >&2); then
        BIN=$(cd "$repo" && swift build -c release --show-bin-path)
    else
        BIN=/nonexistent; say "release build failed: p2mp rows will be 'not available'"
    fi
fi

work=$(mktemp -d "${BENCH_DIR:-/tmp}/p2mp-bench.XXXXXX")
rows=$work/rows.tsv
: > "$rows"
tpids=()   # /usr/bin/time wrappers of daemons still running
stop_daemons() {   # SIGTERM reaches the daemon through `timeout`, which forwards it
    for p in "${tpids[@]}"; do pkill -TERM -P "$p" 2>/dev/null; done
    for p in "${tpids[@]}"; do wait "$p" 2>/dev/null; done
    tpids=()
}
cleanup() {
    trap '' INT TERM
    stop_daemons
    local left i
    left=$(jobs -p)
    for p in $left; do pkill -TERM -P "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
    for i in $(seq 1 50); do   # up to 5 s for the children (uftp's namespace) to clean up
        [ -n "$(jobs -pr)" ] || break
        sleep 0.1
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# First port >= $1 that nothing listens on, UDP or TCP, on any address.
free_port() {
    local p=$1
    while ss -Hlun "sport = :$p" | grep -q . || ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
    echo "$p"
}
port_native=$(free_port "$base_port")
port_saw=$(free_port $((port_native + 1)))
port_uftp=$(free_port $((port_saw + 1)))
port_socat=$(free_port $((port_uftp + 1)))

mkfile() { head -c $(($2 * 1024 * 1024)) /dev/urandom > "$1"; cat "$1" > /dev/null; }
say "input: ${size_mib} MiB (Stop-and-Wait: ${saw_mib} MiB) in $work; BIN=$BIN; ports $port_native/$port_saw/$port_uftp/$port_socat"
mkfile "$work/input.bin" "$size_mib"
if [ "$saw_mib" = "$size_mib" ]; then ln "$work/input.bin" "$work/saw.bin"; else mkfile "$work/saw.bin" "$saw_mib"; fi

now() { date +%s.%N; }
# row TOOL N SIZE STATUS START END SENDER_TIMES RECEIVER_TIMES RSS_AGG NOTE
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$rows"; }
na() { row "$1" "$2" "$3" "not available: $4" - - - - max "${5:-}"; say "$1 x$2: not available: $4"; }
# verify FILE COPY...: empty if all copies are byte-identical, else a reason
verify() {
    local src=$1 bad=(); shift
    for c in "$@"; do cmp -s "$src" "$c" || bad+=("$(basename "$(dirname "$c")")/$(basename "$c")"); done
    [ ${#bad[@]} -eq 0 ] || echo "copy differs or missing: ${bad[*]}"
}
last_line() { [ -s "$1" ] && grep -v '^\s*$' "$1" | tail -n 1 | cut -c1-120 | tr '\t' ' '; }
prepare() { stop_daemons; rm -rf "$1"; mkdir -p "$1"; sync; }   # sync: no writeback from the last run

# --- uftp --------------------------------------------------------------------------------
# run_uftp N BLOCK TOOL: uftp with BLOCK-byte data blocks, reported as TOOL.
run_uftp() {
    local n=$1 block=$2 tool=$3 d=$work/round$round/$3-$1 file=$work/input.bin
    prepare "$d"
    if ! command -v uftp >/dev/null; then na "$tool" "$n" "$(stat -c %s "$file")" "uftp not installed"; return; fi
    local start end rc note
    if [ "$n" = 1 ]; then
        mkdir -p "$d/r1"
        /usr/bin/time -o "$d/recv1.time" -f "$fmt" timeout "$tmo" uftpd -d -U 0x00000001 -D "$d/r1" -p "$port_uftp" > "$d/recv1.log" 2>&1 &
        tpids+=($!)
        sleep 0.5
        start=$(now)
        fgw /usr/bin/time -o "$d/send.time" -f "$fmt" timeout "$tmo" uftp -M 127.0.0.1 -p "$port_uftp" -R -1 -b "$block" \
            -H 0x00000001 "$file" > "$d/send.log" 2>&1
        rc=$?; end=$(now)
        sleep 0.2; stop_daemons
        note="unicast"
    else
        if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
            na "$tool" "$n" "$(stat -c %s "$file")" "needs root for unshare -n (multicast on a private lo)"; return; fi
        if ! command -v cc >/dev/null; then
            na "$tool" "$n" "$(stat -c %s "$file")" "needs cc for the SO_REUSEADDR shim"; return; fi
        cat > "$d/reuse.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>
/* bench shim: SO_REUSEADDR on every IPv4 UDP socket before bind(), so that several uftpd
   can share one port and each receive the multicast data. */
int bind(int fd, const struct sockaddr *a, socklen_t l) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    int type = 0, one = 1; socklen_t tl = sizeof type;
    if (a && a->sa_family == AF_INET && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_DGRAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    return real(fd, a, l);
}
EOF
        cc -shared -fPIC -O2 -o "$d/reuse.so" "$d/reuse.c" -ldl 2> "$d/cc.log" || {
            na "$tool" "$n" "$(stat -c %s "$file")" "shim build failed: $(last_line "$d/cc.log")"; return; }
        fgw timeout --foreground $((tmo + 30)) unshare -n -- bash "$here/run.sh" --uftp-multicast-inner "$d" "$file" "$port_uftp" "$d/reuse.so" "$block"
        if [ ! -s "$d/wall" ]; then
            na "$tool" "$n" "$(stat -c %s "$file")" "multicast namespace run failed: $(cat "$d/reason" 2>/dev/null)"; return; fi
        read -r start end rc < "$d/wall"
        note="multicast on lo in a private netns, 4 uftpd share the port (SO_REUSEADDR shim)"
    fi
    local t; t=$(grep -m1 'Total elapsed time' "$d/send.log" | awk '{print $4}')
    [ -n "$t" ] && note="$note; uftp-reported transfer ${t} s"
    local copies=(); for i in $(seq 1 "$n"); do copies+=("$d/r$i/input.bin"); done
    local status=ok why; why=$(verify "$file" "${copies[@]}")
    [ "$rc" -ne 0 ] && status="FAILED: uftp exited $rc ($(last_line "$d/send.log"))"
    [ -n "$why" ] && [ "$status" = ok ] && status="FAILED: $why"
    row "$tool" "$n" "$(stat -c %s "$file")" "$status" "$start" "$end" "$d/send.time" \
        "$(ls "$d"/recv*.time 2>/dev/null | tr '\n' ' ')" max "$note; -b $block"
    say "$tool x$n: $status"
    rm -rf "$d"/r*/
}

# --- p2mp native (daemon + push) ---------------------------------------------------------
# run_p2mp N TOOL [SEGMENT] [FLAG] [auth]: p2mp native with the default segment size or
# SEGMENT (empty for the default), and FLAG if given, as TOOL. p2mpsend's digest cache lives
# in the work directory: `p2mp-cold` hashes the file (--rehash) and primes it for the other
# rows. With `auth` the daemons trust a key of the bench's and the push authenticates with
# it (every datagram sealed with AES-256-GCM); without, they serve loopback in clear.
run_p2mp() {
    local n=$1 tool=$2 d=$work/round$round/$2-$1 file=$work/input.bin size
    local segment=(); [ -n "${3:-}" ] && segment=(--segment-size "$3")
    local flag=(); [ -n "${4:-}" ] && flag=("$4")
    local trust=() identity=()
    if [ "${5:-}" = auth ]; then
        [ -e "$work/id" ] || "$BIN/p2mpsend" keygen -o "$work/id" --comment bench > "$work/trusted" 2> /dev/null
        trust=(--trusted-senders "$work/trusted")
        identity=(--identity "$work/id" --known-hosts "$d/known_hosts" --accept-new-host-keys)
    fi
    size=$(stat -c %s "$file")
    prepare "$d"
    if [ ! -x "$BIN/p2mpd" ] || [ ! -x "$BIN/p2mpsend" ]; then na "$tool" "$n" "$size" "no p2mpd/p2mpsend in $BIN"; return; fi
    local targets=() i
    for i in $(seq 1 "$n"); do
        mkdir -p "$d/spool$i"
        /usr/bin/time -o "$d/recv$i.time" -f "$fmt" timeout "$tmo" \
            "$BIN/p2mpd" --listen "127.0.0.$i:$port_native" --spool "$d/spool$i" "${trust[@]}" \
            > "$d/recv$i.log" 2>&1 &
        tpids+=($!)
        targets+=("127.0.0.$i:$port_native")
    done
    local waited=0 up why
    while :; do   # up to 5 s until every daemon listens; give up at once if one has exited
        up=0
        for i in $(seq 1 "$n"); do
            if ! kill -0 "${tpids[$((i - 1))]}" 2>/dev/null; then
                why=$(last_line "$d/recv$i.log"); stop_daemons
                na "$tool" "$n" "$size" "p2mpd --listen exited at start (${why:-no output})"; return
            fi
            ss -Hlun "src 127.0.0.$i:$port_native" | grep -q . && up=$((up + 1))
        done
        [ "$up" -eq "$n" ] && break
        if [ "$waited" -ge 50 ]; then
            stop_daemons; na "$tool" "$n" "$size" "p2mpd --listen: not listening on UDP 127.0.0.x:$port_native after 5 s"; return
        fi
        sleep 0.1; waited=$((waited + 1))
    done
    local start end rc
    start=$(now)
    XDG_CACHE_HOME=$work/cache fgw /usr/bin/time -o "$d/send.time" -f "$fmt" timeout "$tmo" \
        "$BIN/p2mpsend" push "$file" "${targets[@]}" "${segment[@]}" "${flag[@]}" "${identity[@]}" > "$d/send.log" 2>&1
    rc=$?; end=$(now)
    stop_daemons
    if [ "$rc" -ne 0 ]; then na "$tool" "$n" "$size" "p2mpsend push exited $rc ($(last_line "$d/send.log"))"; return; fi
    local copies=(); for i in $(seq 1 "$n"); do copies+=("$d/spool$i/input.bin"); done
    local status=ok why; why=$(verify "$file" "${copies[@]}")
    [ -n "$why" ] && status="FAILED: $why"
    local note="default segment size (8,944 bytes on loopback)"
    [ -n "${3:-}" ] && note="--segment-size $3"
    if [ -n "${4:-}" ]; then note="$note; $4: hashes the file before the OFFER"
    else note="$note; digest from the cache when p2mp-cold ran before"; fi
    [ "${5:-}" = auth ] && note="$note; authenticated, every datagram sealed (AES-256-GCM)"
    row "$tool" "$n" "$size" "$status" "$start" "$end" "$d/send.time" "$(ls "$d"/recv*.time | tr '\n' ' ')" max "$note"
    say "$tool x$n: $status"
    rm -rf "$d"/spool*/
}

# --- p2mp Stop-and-Wait (seed command lines) ---------------------------------------------
run_saw() {
    local n=$1 d=$work/round$round/saw$1 file=$work/saw.bin size
    size=$(stat -c %s "$file")
    prepare "$d"
    if [ ! -x "$BIN/p2mpd" ] || [ ! -x "$BIN/p2mpsend" ]; then na p2mp-saw "$n" "$size" "no p2mpd/p2mpsend in $BIN"; return; fi
    local hosts=() pids=() i
    for i in $(seq 1 "$n"); do
        /usr/bin/time -o "$d/recv$i.time" -f "$fmt" timeout "$tmo" \
            "$BIN/p2mpd" "$port_saw" "$d/out$i.bin" 0 --bind "127.0.0.$i" --linger 0.5 > "$d/recv$i.log" 2>&1 &
        pids+=($!); hosts+=("127.0.0.$i")
    done
    sleep 0.5
    local start end rc
    start=$(now)
    fgw /usr/bin/time -o "$d/send.time" -f "$fmt" timeout "$tmo" "$BIN/p2mpsend" "${hosts[@]}" "$port_saw" "$file" 1400 > "$d/send.log" 2>&1
    rc=$?; end=$(now)
    local rrc=0
    for p in "${pids[@]}"; do wait "$p" || rrc=$?; done   # they exit by themselves after the linger
    local copies=(); for i in $(seq 1 "$n"); do copies+=("$d/out$i.bin"); done
    local status=ok why; why=$(verify "$file" "${copies[@]}")
    [ "$rc" -ne 0 ] && status="FAILED: p2mpsend exited $rc ($(last_line "$d/send.log"))"
    [ "$status" = ok ] && [ "$rrc" -ne 0 ] && status="FAILED: a p2mpd exited $rrc"
    [ "$status" = ok ] && [ -n "$why" ] && status="FAILED: $why"
    row p2mp-saw "$n" "$size" "$status" "$start" "$end" "$d/send.time" "$(ls "$d"/recv*.time | tr '\n' ' ')" max \
        "seed Stop-and-Wait, MSS 1400; receiver CPU includes the 0.5 s linger"
    say "p2mp-saw x$n: $status"
    rm -f "$d"/out*.bin
}

# --- TCP fan-out with socat ----------------------------------------------------------------
run_socat() {
    local n=$1 d=$work/round$round/socat$1 file=$work/input.bin size
    size=$(stat -c %s "$file")
    prepare "$d"
    if ! command -v socat >/dev/null; then na socat "$n" "$size" "socat not installed"; return; fi
    local rpids=() spids=() i
    for i in $(seq 1 "$n"); do
        /usr/bin/time -o "$d/recv$i.time" -f "$fmt" timeout "$tmo" \
            socat -u "TCP-LISTEN:$port_socat,bind=127.0.0.$i,reuseaddr" "OPEN:$d/out$i.bin,creat,trunc" > "$d/recv$i.log" 2>&1 &
        rpids+=($!)
    done
    sleep 0.5
    local start end rc=0
    start=$(now)
    for i in $(seq 1 "$n"); do
        /usr/bin/time -o "$d/send$i.time" -f "$fmt" timeout "$tmo" \
            socat -u "OPEN:$file" "TCP:127.0.0.$i:$port_socat" > "$d/send$i.log" 2>&1 &
        spids+=($!)
    done
    for p in "${spids[@]}" "${rpids[@]}"; do wait "$p" || rc=$?; done   # until every copy is written
    end=$(now)
    local copies=(); for i in $(seq 1 "$n"); do copies+=("$d/out$i.bin"); done
    local status=ok why; why=$(verify "$file" "${copies[@]}")
    [ "$rc" -ne 0 ] && status="FAILED: a socat exited $rc"
    [ "$status" = ok ] && [ -n "$why" ] && status="FAILED: $why"
    row socat "$n" "$size" "$status" "$start" "$end" "$(ls "$d"/send*.time | tr '\n' ' ')" \
        "$(ls "$d"/recv*.time | tr '\n' ' ')" sum "TCP, one connection per receiver; sender CPU and RSS summed over $n socat"
    say "socat x$n: $status"
    rm -f "$d"/out*.bin
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Rounds interleave the tools, so that a noisy moment does not fall on one tool's runs.
for round in $(seq 1 "$repeat"); do
    [ "$repeat" -gt 1 ] && say "round $round of $repeat"
    for n in 1 4; do
        for t in $tools; do
            case $t in
                uftp) run_uftp "$n" 1300 uftp ;; uftp-8800) run_uftp "$n" 8800 uftp-8800 ;;
                p2mp-cold) run_p2mp "$n" p2mp-cold "" --rehash ;;
                p2mp) run_p2mp "$n" p2mp ;; p2mp-1400) run_p2mp "$n" p2mp-1400 1400 ;;
                p2mp-auth) run_p2mp "$n" p2mp-auth "" "" auth ;;
                saw) run_saw "$n" ;; socat) run_socat "$n" ;;
                *) say "unknown tool $t" ;;
            esac
        done
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$here/results"
python3 "$here/measure.py" "$rows" "$here/results/latest.md" \
    "input ${size_mib} MiB (Stop-and-Wait ${saw_mib} MiB), BIN=$BIN, $(nproc) cores, load average before $load_before, after $load_after"

#!/usr/bin/env bash
# ack-allocations.sh: heap allocations of p2mpd per ACK it sends, on the receive path.
#
#   usage: [BIN=DIR] [BASE_BIN=DIR] bench/ack-allocations.sh
#
# Runs p2mpd with an allocation counter (bench/malloc-count.c, preloaded: valgrind 3.19
# cannot run these Swift binaries) in a private network namespace,
# pushes a small and a large file to it, counts the daemon's outgoing datagrams with an
# nftables counter (one per ACK or reply), and prints
#   (allocations(large) - allocations(small)) / (datagrams(large) - datagrams(small)),
# the allocations one more ACK costs. With BASE_BIN, the same for those binaries, side by
# side. Bounded: every process runs under `timeout`. Needs root (unshare -n) and gcc.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$HERE/../.build/release}
PORT=47735
MIB=${MIB:-16}
RATE=${RATE:-40M}

if [[ ${ACK_ALLOC_INNER:-} != 1 ]]; then
  command -v gcc >/dev/null || { echo "gcc is not installed"; exit 1; }
  [[ $(id -u) == 0 ]] || { echo "needs root (a private network namespace with an nftables counter)"; exit 1; }
  for bin in ${BASE_BIN:+"$BASE_BIN"} "$BIN"; do
    ACK_ALLOC_INNER=1 BIN=$bin timeout 900 unshare -n "$0"
  done
  exit 0
fi

ip link set lo up
nft add table inet acks
nft add chain inet acks out '{ type filter hook output priority 0; }'
nft add rule inet acks out udp sport $PORT counter
nft add chain inet acks in '{ type filter hook input priority 0; }'
nft add rule inet acks in udp dport $PORT counter
work=$(mktemp -d /tmp/p2mp-ack-allocations.XXXXXX)
trap 'rm -rf "$work"' EXIT
gcc -O2 -shared -fPIC -o "$work/malloc-count.so" "$HERE/malloc-count.c"

head -c $((MIB << 20)) /dev/urandom > "$work/f.bin"

# measure LABEL [PUSH OPTIONS]: prints "ALLOCATIONS DATA-IN ACKS-OUT" for one push.
measure() {
  local mib=$1 spool="$work/spool-$1" count="$work/allocations-$1"
  shift
  nft reset counters table inet acks > /dev/null
  timeout 600 env P2MP_MALLOC_COUNT_FILE="$count" LD_PRELOAD="$work/malloc-count.so" "$BIN/p2mpd" \
    --listen 127.0.0.1:$PORT --spool "$spool" > "$work/p2mpd-$mib.log" 2>&1 &
  local daemon=$!
  for _ in $(seq 600); do grep -q "listening on" "$work/p2mpd-$mib.log" 2>/dev/null && break; sleep 0.1; done
  timeout 600 "$BIN/p2mpsend" push "$work/f.bin" 127.0.0.1:$PORT --segment-size 1400 "$@" > "$work/push-$mib.log" 2>&1
  kill -TERM $daemon; wait $daemon || true
  local counters
  counters=$(nft list table inet acks | sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p' | tr '\n' ' ')
  read -r acks data <<<"$counters"
  echo "$(cat "$count") $data $acks"
}

read -r fast_allocations fast_data fast_acks < <(measure fast)
read -r paced_allocations paced_data paced_acks < <(measure paced --rate "$RATE")
awk -v bin="$BIN" -v fa="$fast_allocations" -v fd="$fast_data" -v fk="$fast_acks" \
  -v pa="$paced_allocations" -v pd="$paced_data" -v pk="$paced_acks" -v mib="$MIB" -v rate="$RATE" 'BEGIN {
    printf "%s, %s MiB in segments of 1400\n", bin, mib
    printf "  full speed:  %7d allocations, %6d DATA in, %6d ACKs out\n", fa, fd, fk
    printf "  --rate %s: %7d allocations, %6d DATA in, %6d ACKs out\n", rate, pa, pd, pk
    printf "  allocations per additional ACK: %.2f\n", (pa - fa) / (pk - fk)
  }'

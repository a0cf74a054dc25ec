#!/usr/bin/env bash
# `make experiments`: the seed's three experiments (delay against receivers, MSS and loss)
# with the seed's command lines (Stop-and-Wait) and with the native protocol, on a WAN
# testbed of network namespaces (bench/testbed), then the model, plots and tables.
# What it measures and why these parameters: docs/EXPERIMENTS.md.
#
#   make experiments                      # full run (about 14 minutes here)
#   EXPERIMENTS_QUICK=1 make experiments  # fewer points and runs (a few minutes)
#   BIN=.build/release bench/experiments/run.sh
#
# Knobs: BIN (p2mpd/p2mpsend; default: swift build -c release), EXPERIMENTS_QUICK (0),
# EXPERIMENTS_FILE_BYTES (1000000; quick 200000), EXPERIMENTS_REPEAT (5; quick 2),
# EXPERIMENTS_CALIBRATION_REPEAT (2; quick 1), EXPERIMENTS_PARALLEL (12 transfers at once),
# EXPERIMENTS_RTT_MS (20), EXPERIMENTS_RATE_MBIT (200), EXPERIMENTS_SERIES ("saw native"),
# EXPERIMENTS_LIMIT (1500 s for all transfers), EXPERIMENTS_OUT (results directory;
# default bench/experiments/results, quick: bench/experiments/results/quick),
# EXPERIMENTS_FIGURES (PNG directory; default docs/experiments, quick: the results directory).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
say() { echo "== $*" >&2; }

[[ $(id -u) -eq 0 ]] || { say "needs root (network namespaces)"; exit 1; }
quick=${EXPERIMENTS_QUICK:-0}
if [[ $quick == 1 ]]; then
    file_bytes=${EXPERIMENTS_FILE_BYTES:-200000} repeat=${EXPERIMENTS_REPEAT:-2}
    calibration=${EXPERIMENTS_CALIBRATION_REPEAT:-1} points=quick
    out=${EXPERIMENTS_OUT:-$here/results/quick}
    figures=${EXPERIMENTS_FIGURES:-$out}
else
    file_bytes=${EXPERIMENTS_FILE_BYTES:-1000000} repeat=${EXPERIMENTS_REPEAT:-5}
    calibration=${EXPERIMENTS_CALIBRATION_REPEAT:-2} points=full
    out=${EXPERIMENTS_OUT:-$here/results}
    figures=${EXPERIMENTS_FIGURES:-$repo/docs/experiments}
fi
rtt=${EXPERIMENTS_RTT_MS:-20}
rate=${EXPERIMENTS_RATE_MBIT:-200}

# matplotlib for the plots: Debian's python3-matplotlib, used through /usr/bin/python3.
python=/usr/bin/python3
if ! "$python" -c 'import matplotlib' 2>/dev/null; then
    say "installing python3-matplotlib"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-matplotlib >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-matplotlib >/dev/null 2>&1; } ||
        { say "cannot install python3-matplotlib"; exit 1; }
fi

if [[ -z ${BIN:-} ]]; then
    say "BIN not set: swift build -c release"
    (cd "$repo" && swift build -c release >&2) || { say "release build failed"; exit 1; }
    BIN=$(cd "$repo" && swift build -c release --show-bin-path)
fi
BIN=$(cd "$BIN" && pwd)
for b in p2mpd p2mpsend; do [[ -x $BIN/$b ]] || { say "no $BIN/$b"; exit 1; }; done

mkdir -p "$out" "$figures"
work=$(mktemp -d /tmp/p2mp-experiments.XXXXXX)
trap 'rm -rf "$work"' EXIT
say "$points run: ${file_bytes}-byte file, $repeat runs per point, RTT $rtt ms, $rate Mbit/s; results in $out"
started=$(date +%s)

# The testbed prints its RTT probe and the forwarder's drops before the runner starts and
# the forwarder's and queues' drops after it ends; all of it goes to testbed.log.
EXP_BIN=$BIN EXP_FILE_BYTES=$file_bytes EXP_REPEAT=$repeat EXP_CALIBRATION_REPEAT=$calibration \
EXP_PARALLEL=${EXPERIMENTS_PARALLEL:-12} EXP_POINTS=$points EXP_SERIES=${EXPERIMENTS_SERIES:-saw native} \
EXP_LIMIT=${EXPERIMENTS_LIMIT:-1500} EXP_CSV=$out/runs.csv EXP_WORK=$work EXP_PROBE=$out/probe.samples \
PYTHONPATH=$here \
    "$repo/bench/testbed/testbed.sh" --receivers 5 --rtt "$rtt" --rate "$rate" -- \
    "$python" "$here/runner.py" 2>&1 | tee "$out/testbed.log"
status=${PIPESTATUS[0]}
say "transfers finished after $(( $(date +%s) - started )) s (status $status)"

"$python" "$here/plot.py" --runs "$out/runs.csv" --probe "$out/probe.samples" --log "$out/testbed.log" \
    --figures "$figures" --tables "$out/tables.md" || status=1
say "done after $(( $(date +%s) - started )) s; tables: $out/tables.md, figures: $figures"
exit "$status"

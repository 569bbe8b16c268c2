#!/usr/bin/env bash
# What `pollscope trace` costs the traced program, side by side in one run with interleaved
# rounds (the machine is noisy: read the ratios):
#   1. interposer_cost: median ns per epoll_ctl MOD, per epoll_ctl ADD+DEL pair and per
#      epoll_wait (timeout 0, one event ready), without and with the interposer loaded;
#   2. `pollscope run` of ping_pong_same_loop (bound by epoll_wait) and toggle (bound by epoll_ctl),
#      without and under `pollscope trace`: events per second.
#
# Usage: scripts/interposer_cost.sh [PAIRS]      PAIRS interleaved pairs of runs (default 3)
# Environment: BUILD_DIR (default build; needs the targets pollscope and interposer_cost).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
pairs="${1:-3}"
pollscope="$build/cli/pollscope"
cost="$build/tests/pollscope/interposer_cost"
library="$build/cli/interposer/libpollscope_trace.so"
for file in "$pollscope" "$cost" "$library"; do
  [ -e "$file" ] || { echo "interposer_cost.sh: $file is missing (build it first)" >&2; exit 2; }
done
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
field() { awk -v name="$1" '{ for (i = 1; i < NF; ++i) if ($i == name) print $(i + 1) }'; }

for _ in $(seq "$pairs"); do
  "$cost" >> "$scratch/plain"
  mkdir -p "$scratch/logs"
  POLLSCOPE_TRACE_DIR="$scratch/logs" LD_PRELOAD="$library" "$cost" >> "$scratch/traced"
  rm -rf "$scratch/logs"
done
echo "per call (median over $pairs interleaved pairs of runs, each the median of 15 rounds):"
for name in mod_ns add_del_ns wait_ns; do
  plain=$(field "$name" < "$scratch/plain" | median)
  traced=$(field "$name" < "$scratch/traced" | median)
  awk -v n="$name" -v p="$plain" -v t="$traced" \
    'BEGIN { printf "  %-11s %8d ns plain  %8d ns traced  x%.2f\n", n, p, t, t / p }'
done

events_per_second() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["overall"]["events_per_second"])' "$1"
}
echo "pollscope run, events per second (median over $pairs interleaved pairs):"
for scenario in ping_pong_same_loop toggle; do
  : > "$scratch/$scenario.plain"
  : > "$scratch/$scenario.traced"
  for _ in $(seq "$pairs"); do
    "$pollscope" run "$root/scenarios/$scenario.json" -q -o "$scratch/report.json" || true
    events_per_second "$scratch/report.json" >> "$scratch/$scenario.plain"
    "$pollscope" trace -q -- "$pollscope" run "$root/scenarios/$scenario.json" -q \
      -o "$scratch/report.json" || true
    events_per_second "$scratch/report.json" >> "$scratch/$scenario.traced"
  done
  plain=$(median < "$scratch/$scenario.plain")
  traced=$(median < "$scratch/$scenario.traced")
  awk -v n="$scenario" -v p="$plain" -v t="$traced" \
    'BEGIN { printf "  %-11s %10.0f plain  %10.0f traced  x%.2f\n", n, p, t, t / p }'
done

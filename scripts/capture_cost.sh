#!/usr/bin/env bash
# What capturing a run's own packets (`pollscope run --capture`) costs it, side by side in one
# run with interleaved rounds (the machine is noisy: read the ratios), on the shipped scenarios
# that can be captured: throughput (messages per second) and latency p99 without and with the capture, what the kernel
# dropped, and how well the two clocks agreed (p50 and p99 of wire_latency_ns.clock_difference).
# Prints a Markdown table (medians over the rounds). Needs root or CAP_NET_RAW.
#
# Usage: scripts/capture_cost.sh [ROUNDS]      ROUNDS interleaved pairs of runs (default 3)
# Environment: BUILD_DIR (default build; needs the target pollscope).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
rounds="${1:-3}"
pollscope="$build/cli/pollscope"
[ -x "$pollscope" ] || { echo "capture_cost.sh: $pollscope is missing (build it first)" >&2; exit 2; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

scenarios=(default ping_pong_same_loop udp_fan_in)
for round in $(seq "$rounds"); do
  for scenario in "${scenarios[@]}"; do
    # Alternate which goes first, so that neither side always runs on a warmer machine.
    sides=(off on)
    [ $((round % 2)) -eq 0 ] && sides=(on off)
    for side in "${sides[@]}"; do
      flags=()
      [ "$side" = on ] && flags=(--capture lo)
      "$pollscope" run "$root/scenarios/$scenario.json" -q "${flags[@]}" \
        --out "$scratch/$scenario.$side.$round.json"
    done
  done
done

python3 - "$scratch" "$rounds" "${scenarios[@]}" <<'PYTHON'
import json, statistics, sys
scratch, rounds, scenarios = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def load(scenario, side):
    return [json.load(open(f"{scratch}/{scenario}.{side}.{r}.json"))["overall"]
            for r in range(1, rounds + 1)]
def median(values):
    return statistics.median(values)
print("| scenario | messages/s off | messages/s on | ratio | p99 off (us) | p99 on (us) | ratio |"
      " kernel drops | clock difference p50 / p99 (ns) | wire -> dispatch p50 (us) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for scenario in scenarios:
    off, on = load(scenario, "off"), load(scenario, "on")
    rate_off = median([o["messages_per_second"] for o in off])
    rate_on = median([o["messages_per_second"] for o in on])
    p99_off = median([o["latency_ns"]["p99"] for o in off])
    p99_on = median([o["latency_ns"]["p99"] for o in on])
    drops = sum(o["capture"]["kernel_drops"] + o["capture"]["interface_drops"] for o in on)
    unmatched = sum(o["messages"] - o["capture"]["matched_messages"] for o in on)
    clock = [o["wire_latency_ns"]["clock_difference"] for o in on]
    wire = median([o["wire_latency_ns"]["wire_to_dispatch"]["p50"] for o in on])
    print(f"| {scenario} | {rate_off:,.0f} | {rate_on:,.0f} | {rate_on / rate_off:.2f} |"
          f" {p99_off / 1e3:.1f} | {p99_on / 1e3:.1f} | {p99_on / p99_off:.2f} | {drops} |"
          f" {median([c['p50'] for c in clock]):.0f} / {median([c['p99'] for c in clock]):.0f} |"
          f" {wire / 1e3:.1f} |" + (f" ({unmatched} unmatched)" if unmatched else ""))
PYTHON

#!/usr/bin/env bash
# How often the performance gate (`pollscope ab`, default settings) flags what it should and
# nothing else, on this machine: each trial runs the whole gate between two "builds", the same
# Release pollscope behind wrapper scripts that load the test-only slowdown shim
# (tests/pollscope/shim/slowdown_shim.c) into the candidate.
#
#   scripts/gate_trials.sh [--trials N] [--build DIR] [--out DIR] [CASE...]
#
# Cases (default: all, in this order):
#   same          the same build against itself                        (must not be flagged)
#   same-stress   the same, while `stress-ng --cpu 2` loads both cores (must not be flagged)
#   slow10        work added per event costing about 10% of throughput  (must be flagged)
#   slow3         work costing about 3%                                  (must be flagged)
#   syscall       one extra system call (getppid) per event          (must be flagged by count)
# The work is the shim's dependent arithmetic, POLLSCOPE_SHIM_WORK rounds per event, sized from
# the shim's own calibration here to GATE_TRIALS_COST10_NS and GATE_TRIALS_COST3_NS ns of CPU
# per event (defaults 900 and 250: a tenth of, and 3% of, the default scenario's 8-9 us of CPU
# per event on the 2-core CI VM). The gate runs with the options scripts/perf-gate.sh gives it
# (--instructions where valgrind is installed); GATE_TRIALS_AB_ARGS replaces them. Every
# trial's comparison is kept in OUT/CASE-N.json; OUT/trials.tsv has one line per trial, and
# the table is printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
trials=20
build=$root/build-release
out=$root/gate-trials
cases=()
while [ $# -gt 0 ]; do
  case $1 in
    --trials) trials=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    same|same-stress|slow10|slow3|syscall) cases+=("$1"); shift ;;
    *) echo "gate_trials.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ ${#cases[@]} -eq 0 ] && cases=(same same-stress slow10 slow3 syscall)
cost10=${GATE_TRIALS_COST10_NS:-900}
cost3=${GATE_TRIALS_COST3_NS:-250}
default_ab_args=
command -v valgrind >/dev/null && default_ab_args=--instructions
ab_args=${GATE_TRIALS_AB_ARGS-$default_ab_args}

if [ "$(id -u)" -eq 0 ] && [ -d /sys/kernel/tracing ] && [ ! -e /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing || true
fi
if [ ! -x "$build/cli/pollscope" ] || [ ! -f "$build/tests/pollscope/libpollscope_slowdown_shim.so" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIBPOLL_BUILD_TESTS=ON \
    -DLIBPOLL_BUILD_BENCH=OFF >/dev/null
  cmake --build "$build" --target pollscope pollscope_slowdown_shim >/dev/null
fi
pollscope=$build/cli/pollscope
shim=$build/tests/pollscope/libpollscope_slowdown_shim.so
mkdir -p "$out"

wrapper() {  # NAME SETTINGS...: a "build" that is pollscope with the shim and these settings
  local path=$out/$1
  shift
  printf '#!/bin/sh\nexec env %s LD_PRELOAD=%s %s "$@"\n' "$*" "$shim" "$pollscope" >"$path"
  chmod +x "$path"
  echo "$path"
}
base=$(wrapper base.sh POLLSCOPE_SHIM_WORK=0)
ns_per_round=$(POLLSCOPE_SHIM_CALIBRATE=1 LD_PRELOAD=$shim /bin/true)
rounds_for() { awk "BEGIN { printf \"%d\", $1 / $ns_per_round + 0.5 }"; }
work10=$(rounds_for "$cost10")
work3=$(rounds_for "$cost3")
echo "gate_trials: one round of work takes $ns_per_round ns: slow10 = $work10 rounds per event, slow3 = $work3; ab options: ${ab_args:-none}" >&2

settings_of() {
  case $1 in
    same|same-stress) echo POLLSCOPE_SHIM_WORK=0 ;;
    slow10) echo "POLLSCOPE_SHIM_WORK=$work10" ;;
    slow3) echo "POLLSCOPE_SHIM_WORK=$work3" ;;
    syscall) echo POLLSCOPE_SHIM_EXTRA_SYSCALL=1 ;;
  esac
}

# One line per trial: case, trial, exit code, verdict, seconds, throughput ratio, CPU per event
# ratio, system calls per event (base -> candidate) and their verdict, instructions per event
# and their verdict, what regressed.
summarize_trial() {  # CASE N EXIT SECONDS FILE
  python3 - "$@" <<'PY'
import json, sys
case, n, code, seconds, path = sys.argv[1:]
doc = json.load(open(path))
timings = {row["metric"]: row for row in doc["timings"]}
counts = {row["metric"]: row for row in doc["counts"]}
sc = counts["cost.syscalls_per_event"]
ins = counts.get("cost.instructions_per_event")
ins_text = "%.0f->%.0f" % (ins["base"], ins["candidate"]) if ins else "-"
ins_verdict = ins["verdict"] if ins else "-"
regressed = [r["metric"] for r in doc["timings"] + doc["counts"] if r["verdict"] == "regressed"]
print("\t".join([case, n, code, doc["verdict"], seconds,
                 "%.4f" % timings["events_per_second"]["ratio"],
                 "%.4f" % timings["cost.cpu_ns_per_event"]["ratio"],
                 "%.3f->%.3f" % (sc["base"], sc["candidate"]), sc["verdict"],
                 ins_text, ins_verdict, ",".join(regressed) or "-"]))
PY
}

: >"$out/trials.tsv"
for case in "${cases[@]}"; do
  candidate=$(wrapper "candidate-$case.sh" "$(settings_of "$case")")
  for n in $(seq 1 "$trials"); do
    stress=
    if [ "$case" = same-stress ]; then
      stress-ng --cpu 2 --timeout 600 >/dev/null 2>&1 &
      stress=$!
    fi
    start=$(date +%s%N)
    code=0
    # An earlier invocation's comparison of this trial must not stand in for one ab did not write.
    rm -f "$out/$case-$n.json"
    # shellcheck disable=SC2086  # the options are split on purpose
    "$pollscope" ab --base "$base" --candidate "$candidate" --out "$out/$case-$n.json" -q \
      $ab_args || code=$?
    seconds=$(awk "BEGIN { printf \"%.1f\", ($(date +%s%N) - $start) / 1e9 }")
    if [ -n "$stress" ]; then kill "$stress"; wait "$stress" 2>/dev/null || true; fi
    if [ ! -f "$out/$case-$n.json" ]; then
      printf '%s\t%s\t%s\tfailed\n' "$case" "$n" "$code" | tee -a "$out/trials.tsv"
      continue
    fi
    summarize_trial "$case" "$n" "$code" "$seconds" "$out/$case-$n.json" | tee -a "$out/trials.tsv"
  done
done

echo
python3 - "$out/trials.tsv" <<'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
# A trial whose ab wrote no comparison (it failed: exit 3 or 4) is counted apart, and left out of
# the figures.
print("| case | trials | failed | regressed | inconclusive | by syscall count | by instructions | by timings | throughput ratio (median) | CPU/event ratio (median) | gate wall time (median, max) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
timing = ("events_per_second", "cost.cpu_ns_per_event", "latency_ns.p50", "latency_ns.p99")
for case in dict.fromkeys(r[0] for r in rows):
    mine = [r for r in rows if r[0] == case and len(r) > 4]
    failed = sum(1 for r in rows if r[0] == case and r[3] == "failed")
    if not mine:
        print("| %s | %d | %d |%s" % (case, failed, failed, " - |" * 8))
        continue
    seconds = [float(r[4]) for r in mine]
    print("| %s | %d | %d | %d | %d | %d | %d | %d | %.3f | %.3f | %.0f s, %.0f s |" % (
        case, len(mine) + failed, failed, sum(r[3] == "regressed" for r in mine),
        sum(r[3] == "inconclusive" for r in mine), sum(r[8] == "regressed" for r in mine),
        sum(r[10] == "regressed" for r in mine),
        sum(any(t in r[11].split(",") for t in timing) for r in mine),
        statistics.median(float(r[5]) for r in mine), statistics.median(float(r[6]) for r in mine),
        statistics.median(seconds), max(seconds)))
PY

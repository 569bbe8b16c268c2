#!/usr/bin/env bash
# pollscope's cross-process ping_pong (scenarios/ping_pong.json: one TCP pair over 127.0.0.1, its
# peer in a process of its own, one 64-byte message in flight) beside sockperf's ping-pong over
# the same loopback with the same message size, run back to back, alternately, on this machine.
# Prints each run's p50 and p99 and the medians:
#   sockperf   its latency: half the round trip (client and server in two processes; with one
#              connection each blocks in recvfrom(2), sockperf's way, where pollscope's sides
#              wait in epoll_wait or poll(2) and then read);
#   pollscope  round_trip_ns / 2, the same quantity, and latency_ns, the one-way figure (send
#              stamp to the poll's return on the other side, on a shared clock).
# The claim checked: pollscope's one-way p50 within 20% of sockperf's p50.
#
# Usage: scripts/latency_reference.sh [--rounds N] [--seconds S] [--backend epoll|poll]
# Environment: BUILD_DIR (default build: pollscope is built there, Release, when missing),
#   PORT (sockperf's, default 11211).
# Installs sockperf (and the build tools) through scripts/setup.sh. About 2 x N x (S + 1) seconds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=3
seconds=3
backend=epoll
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    *) echo "latency_reference.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
build=${BUILD_DIR:-$root/build}
port=${PORT:-11211}

"$root/scripts/setup.sh"
if [ ! -x "$build/cli/pollscope" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target pollscope >/dev/null
fi
pollscope=$build/cli/pollscope

scratch=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT

sockperf server --tcp -i 127.0.0.1 -p "$port" >"$scratch/server.log" 2>&1 &
server=$!
# The server listens within a moment; the client's own warm-up covers the rest.
for _ in $(seq 50); do
  grep -q "127.0.0.1" "$scratch/server.log" 2>/dev/null && break
  sleep 0.1
done

# The scenario at the asked length.
python3 - "$root/scenarios/ping_pong.json" "$seconds" >"$scratch/ping_pong.json" <<'PY'
import json, sys
scenario = json.load(open(sys.argv[1]))
scenario["phases"][0]["duration_ms"] = int(float(sys.argv[2]) * 1000)
print(json.dumps(scenario))
PY

sockperf_run() {
  sockperf ping-pong --tcp -i 127.0.0.1 -p "$port" -m 64 -t "$seconds" 2>&1 |
    sed 's/\x1b\[[0-9;]*m//g' |
    awk '/percentile 50.000/ {p50 = $NF} /percentile 99.000/ {p99 = $NF}
         END {if (p50 == "" || p99 == "") exit 1; printf "%.2f %.2f\n", p50, p99}'
}

pollscope_run() {
  "$pollscope" run "$scratch/ping_pong.json" --backend "$backend" -q --out "$scratch/report.json"
  python3 - "$scratch/report.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))["overall"]
one, rt = o["latency_ns"], o["round_trip_ns"]
print("%.2f %.2f %.2f %.2f" % (one["p50"] / 1e3, one["p99"] / 1e3, rt["p50"] / 2e3, rt["p99"] / 2e3))
PY
}

echo "round  sockperf p50/p99 (half RTT, µs)  pollscope one-way p50/p99  half RTT p50/p99 (µs)"
: >"$scratch/sockperf"
: >"$scratch/pollscope"
for round in $(seq "$rounds"); do
  read -r s50 s99 < <(sockperf_run)
  read -r o50 o99 h50 h99 < <(pollscope_run)
  echo "$s50 $s99" >>"$scratch/sockperf"
  echo "$o50 $o99 $h50 $h99" >>"$scratch/pollscope"
  printf "%5d  %14s / %-14s  %10s / %-12s  %8s / %s\n" "$round" "$s50" "$s99" "$o50" "$o99" "$h50" "$h99"
done

python3 - "$scratch/sockperf" "$scratch/pollscope" <<'PY'
import statistics, sys
sock = [list(map(float, line.split())) for line in open(sys.argv[1])]
ours = [list(map(float, line.split())) for line in open(sys.argv[2])]
med = lambda rows, i: statistics.median(row[i] for row in rows)
s50, s99 = med(sock, 0), med(sock, 1)
o50, o99, h50, h99 = (med(ours, i) for i in range(4))
print(f"median  sockperf p50 {s50:.2f} µs, p99 {s99:.2f} µs")
print(f"median  pollscope one-way p50 {o50:.2f} µs, p99 {o99:.2f} µs; "
      f"half round trip p50 {h50:.2f} µs, p99 {h99:.2f} µs")
ratio = o50 / s50
verdict = "within" if abs(ratio - 1) <= 0.20 else "NOT within"
print(f"pollscope one-way p50 / sockperf p50 = {ratio:.2f} ({verdict} 20%); "
      f"half round trip p50 ratio {h50 / s50:.2f}")
PY

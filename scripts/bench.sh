#!/usr/bin/env bash
# Builds chain_bench (Release, in build-bench/) and compares libpoll with raw epoll:
#   1. wall time: median ns per event at 100, 1000 and 9984 socket pairs, rounds interleaved;
#   2. callgrind: user-space instructions per event inside run_raw_round and run_libpoll_round,
#      batched (the default, about 100 events per poll) and with one event per poll (--active 1).
#
# Usage: scripts/bench.sh [extra chain_bench flags for the timed run, e.g. --active 1]
# Environment: ROUNDS (timed rounds, default 200), CG_PAIRS (default 1000), CG_ROUNDS (default 20).
# Installs what it needs (the build tools and valgrind) through scripts/setup.sh.
# Takes under two minutes on a 2-core machine (about 30 s once built).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-bench"
out="$build/bench-results"
rounds="${ROUNDS:-200}"
cg_pairs="${CG_PAIRS:-1000}"
cg_rounds="${CG_ROUNDS:-20}"

die() {
  echo "bench.sh: $*" >&2
  exit 1
}

"$root/scripts/setup.sh" valgrind

echo "== configuring and building chain_bench (Release) in $build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIBPOLL_BUILD_TESTS=OFF \
  >/dev/null
cmake --build "$build" --target chain_bench
bench="$build/libpoll/bench/chain_bench"
mkdir -p "$out"

echo
echo "== wall time: $rounds rounds per implementation, interleaved"
"$bench" --pairs 100,1000,9984 --rounds "$rounds" "$@" | tee "$out/timed.txt"

# Runs one implementation under callgrind, collecting only inside its round function, and prints
# "<Ir> <events>". Lazy binding is resolved at start-up (LD_BIND_NOW) so that the dynamic
# linker's first-call work is not counted in the first round.
callgrind_run() {
  local name="$1" impl="$2"
  shift 2
  local file="$out/callgrind.$name.$impl.out" log="$out/callgrind.$name.$impl.log"
  LD_BIND_NOW=1 valgrind --tool=callgrind --callgrind-out-file="$file" \
    --toggle-collect="chain_bench::run_${impl}_round(*" \
    "$bench" --impl "$impl" --pairs "$cg_pairs" --rounds "$cg_rounds" "$@" >"$log" 2>"$log.valgrind" ||
    die "callgrind run failed, see $log.valgrind"
  local ir events
  ir="$(awk '/^totals:/ { print $2; found = 1 } END { if (!found) exit 1 }' "$file" ||
    awk '/^summary:/ { print $2 }' "$file")"
  events="$(awk -v fn="run_${impl}_round" '$1 == "totals:" && $2 == fn {
      for (i = 3; i <= NF; i++) if ($i ~ /^events=/) { sub(/^events=/, "", $i); print $i } }' "$log")"
  [[ -n "$ir" && -n "$events" && "$events" -gt 0 ]] || die "no totals in $file or $log"
  echo "$ir $events"
}

echo
echo "== callgrind: user-space instructions per event inside the round functions"
echo "   ($cg_pairs pairs, $cg_rounds rounds + warm-up; callgrind output in $out)"
: >"$out/callgrind.txt"
printf '%-28s %12s %12s %14s %14s %12s\n' "workload" "events" "raw Ir" "raw Ir/event" \
  "libpoll Ir/ev" "difference"
for workload in "batched:" "one-event-per-poll:--active 1"; do
  name="${workload%%:*}"
  flags="${workload#*:}"
  # shellcheck disable=SC2086 # flags is a list of words
  raw="$(callgrind_run "$name" raw $flags)"
  # shellcheck disable=SC2086
  lp="$(callgrind_run "$name" libpoll $flags)"
  read -r raw_ir raw_events <<<"$raw"
  read -r lp_ir lp_events <<<"$lp"
  [[ "$raw_events" == "$lp_events" ]] ||
    die "$name: raw epoll handled $raw_events events, libpoll $lp_events"
  awk -v name="$name" -v events="$raw_events" -v raw="$raw_ir" -v lp="$lp_ir" 'BEGIN {
    printf "%-28s %12d %12d %14.2f %14.2f %+12.2f\n", name, events, raw, raw / events,
           lp / events, (lp - raw) / events }' | tee -a "$out/callgrind.txt"
done
echo "(difference: instructions per event that libpoll adds over raw epoll)"

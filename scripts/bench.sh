#!/usr/bin/env bash
# Builds the benchmarks (Release, in build-bench/) and runs three comparisons, each side by side
# in one process with interleaved rounds (the machine is noisy: read the ratios):
#   chain     chain_bench, libpoll against raw epoll:
#             1. wall time: median ns per event at 100, 1000 and 9984 socket pairs;
#             2. callgrind: user-space instructions per event inside run_raw_round and
#                run_libpoll_round, batched (the default, about 100 events per poll) and with one
#                event per poll (--active 1).
#   registry  registry_bench, Registry calls against bare epoll_ctl at 1000 descriptors:
#             1. wall time: median ns per register, reregister, deregister, register+deregister;
#             2. callgrind: user-space instructions per operation of each kind, where they go, and
#                what the book costs (against a build with it compiled out, in $BUILD_DIR-bookless).
#   backends  chain_bench --compare libpoll,libpoll-poll: libpoll's poll(2) backend against its
#             epoll backend, ns per event at 100, 1000 and 9984 pairs. Skipped, with a note, when
#             this build of libpoll has no poll(2) backend.
#
#   peers     peers_bench: libpoll (epoll, and io_uring with shared and with bound rings:
#             PollOptions::single_thread; raw descriptors through SourceFd, and its
#             own sockets; and its own sockets read ahead: PollOptions::receive_ahead) beside raw epoll, libev, libuv, libevent and the completion floor (raw
#             io_uring with multishot recv: no read call per event), interleaved in each of
#             PEER_RUNS processes: dispatch and churn (a reregister on every event) at 100, 1000
#             and 9984 socket pairs, register/deregister at 9984 (the table gives the median of
#             the processes' ratios to raw epoll, a second table their interquartile ranges: one
#             process's ratios move by a few hundredths from the next's); ping-pong round-trip p50, in
#             PEER_PINGPONG_RUNS processes of its own (a trip takes one of two paths about 3 us
#             apart, half each, and one process can keep an implementation's p50 on either:
#             the table gives the median of the processes' paired ratios, p50 and mean, and
#             their range); then
#             callgrind, user-space instructions per event of dispatch and churn at 1000 pairs;
#             prints the ratio table (ratios to raw epoll) and, with --json FILE, writes it.
#
#   baseline  (only with --baseline REV) callgrind of the chain and registry workloads, raw epoll,
#             libpoll at git revision REV and libpoll of this tree in one run: instructions per
#             event and per registry call, side by side, and this tree's change over REV.
#
# Usage: scripts/bench.sh [--json FILE] [--only chain|registry|backends|peers] [extra chain_bench
#        flags for the chain part's timed run, e.g. --active 1]
#        scripts/bench.sh --baseline REV   (REV's benchmarks are built in $BUILD_DIR-baseline)
# Environment: BUILD_DIR (default build-bench); chain: ROUNDS (timed rounds, default 200),
#   CG_PAIRS (default 1000), CG_ROUNDS (default 20); registry: REG_FDS (default 1000), REG_ROUNDS
#   (default 200), REG_CG_ROUNDS (default 20); backends: POLL_ROUNDS (timed rounds at
#   100,1000,9984 pairs, default "200 100 30"), POLL_TIME_LIMIT (seconds per size, default 60);
#   peers: PEER_ROUNDS (timed rounds per size, default 200), PEER_RUNS (processes of the
#   dispatch, churn and register rounds, default 15), PEER_TRIPS (ping-pong round trips per
#   process, default 2000), PEER_PINGPONG_RUNS (ping-pong processes, default 15), PEER_IMPLS
#   (default: all twelve).
# Installs what it needs (the build tools, valgrind, libev, libuv, libevent) through
# scripts/setup.sh.
# Takes about four minutes on a 2-core machine once built (chain 45 s, registry 10 s,
# backends 30 s when the poll(2) backend is present, peers 2.5 min, its 15 ping-pong processes
# included); the build adds about two.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
out="$build/bench-results"
rounds="${ROUNDS:-200}"
cg_pairs="${CG_PAIRS:-1000}"
cg_rounds="${CG_ROUNDS:-20}"
reg_fds="${REG_FDS:-1000}"
reg_rounds="${REG_ROUNDS:-200}"
reg_cg_rounds="${REG_CG_ROUNDS:-20}"
read -r -a poll_rounds <<<"${POLL_ROUNDS:-200 100 30}"
poll_time_limit="${POLL_TIME_LIMIT:-60}"
poll_pairs=(100 1000 9984)

die() {
  echo "bench.sh: $*" >&2
  exit 1
}

only=""
baseline=""
json=""
# bench.sh's own options, in any order; what follows them goes to chain_bench's timed run.
while [[ $# -gt 0 ]]; do
  case "$1" in
    --json)
      [[ $# -ge 2 ]] || die "--json needs a file name"
      json="$2"
      shift 2
      ;;
    --baseline)
      [[ $# -ge 2 ]] || die "--baseline needs a git revision"
      baseline="$2"
      only="baseline"
      shift 2
      ;;
    --only)
      [[ $# -ge 2 ]] || die "--only needs chain, registry, backends or peers"
      only="$2"
      shift 2
      ;;
    --only=*)
      only="${1#--only=}"
      shift
      ;;
    *) break ;;
  esac
done
case "$only" in
  "" | chain | registry | backends | peers | baseline) ;;
  *) die "--only must be chain, registry, backends or peers, not '$only'" ;;
esac
[[ "${#poll_rounds[@]}" -eq "${#poll_pairs[@]}" ]] ||
  die "POLL_ROUNDS needs ${#poll_pairs[@]} counts, one per pair count (${poll_pairs[*]})"
wanted() { [[ -z "$only" || "$only" == "$1" ]]; }

"$root/scripts/setup.sh" valgrind libev-dev libuv1-dev libevent-dev

echo "== configuring and building chain_bench, registry_bench and peers_bench (Release) in $build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIBPOLL_BUILD_TESTS=OFF \
  >/dev/null
cmake --build "$build" --target chain_bench registry_bench peers_bench
chain="$build/libpoll/bench/chain_bench"
registry="$build/libpoll/bench/registry_bench"
mkdir -p "$out"

# Runs a program under callgrind, collecting only inside the function $function (and what it
# calls), and prints "<Ir> <count>", count being the field $field of the program's
# "totals: $function ..." line. Lazy binding is resolved at start-up (LD_BIND_NOW) so that the
# dynamic linker's first-call work is not counted in the first round.
callgrind_count() {
  local name="$1" function="$2" field="$3"
  shift 3
  local file="$out/callgrind.$name.out" log="$out/callgrind.$name.log"
  LD_BIND_NOW=1 valgrind --tool=callgrind --callgrind-out-file="$file" \
    --toggle-collect="$function(*" "$@" >"$log" 2>"$log.valgrind" ||
    die "callgrind run failed, see $log.valgrind"
  local ir count
  ir="$(awk '/^totals:/ { print $2; found = 1 } END { if (!found) exit 1 }' "$file" ||
    awk '/^summary:/ { print $2 }' "$file")"
  count="$(awk -v fn="${function##*::}" -v field="$field" '$1 == "totals:" && $2 == fn {
      for (i = 3; i <= NF; i++) if (index($i, field "=") == 1) { print substr($i, length(field) + 2) } }' "$log")"
  [[ -n "$ir" && -n "$count" && "$count" -gt 0 ]] || die "no totals in $file or $log"
  echo "$ir $count"
}

# Splits a callgrind output's self cost by where it was spent and prints "<book> <selector>
# <libc> <rest>", each divided by $2: libpoll's book (libpoll::detail: the owner slots, the
# entries, the token counts, the call counts), its selector (libpoll::sys: on epoll, the change
# table), the C and C++ runtime (the system calls' stubs, the allocator), and the rest (the
# registry's layers above the book and the benchmark's own loop).
self_cost_split() {
  local file="$1" per="$2"
  callgrind_annotate --inclusive=no --threshold=100 "$file" 2>/dev/null | awk -v per="$per" '
    /^ *[0-9,]+ \(/ && !/PROGRAM TOTALS/ {
      ir = $1; gsub(",", "", ir)
      place = $0; sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", place)
      object = place; sub(/^.*\[/, "", object)
      symbol = place; sub(/^[^:]*:/, "", symbol)
      if (symbol ~ /^libpoll::detail::/) book += ir
      else if (symbol ~ /^libpoll::sys::/) selector += ir
      else if (object ~ /\/lib(c|stdc\+\+)\.so/) runtime += ir
      else rest += ir
    }
    END { printf "%.2f %.2f %.2f %.2f\n", book / per, selector / per, runtime / per, rest / per }'
}

if wanted chain; then
  echo
  echo "== chain: wall time, $rounds rounds per implementation, interleaved"
  "$chain" --pairs 100,1000,9984 --rounds "$rounds" "$@" | tee "$out/timed.txt"

  echo
  echo "== chain: callgrind, user-space instructions per event inside the round functions"
  echo "   ($cg_pairs pairs, $cg_rounds rounds + warm-up; callgrind output in $out)"
  : >"$out/callgrind.txt"
  printf '%-28s %12s %12s %14s %14s %12s\n' "workload" "events" "raw Ir" "raw Ir/event" \
    "libpoll Ir/ev" "difference"
  for workload in "batched:" "one-event-per-poll:--active 1"; do
    name="${workload%%:*}"
    flags="${workload#*:}"
    # shellcheck disable=SC2086 # flags is a list of words
    raw="$(callgrind_count "$name.raw" "chain_bench::run_raw_round" events \
      "$chain" --impl raw --pairs "$cg_pairs" --rounds "$cg_rounds" $flags)"
    # shellcheck disable=SC2086
    lp="$(callgrind_count "$name.libpoll" "chain_bench::run_libpoll_round" events \
      "$chain" --impl libpoll --pairs "$cg_pairs" --rounds "$cg_rounds" $flags)"
    read -r raw_ir raw_events <<<"$raw"
    read -r lp_ir lp_events <<<"$lp"
    [[ "$raw_events" == "$lp_events" ]] ||
      die "$name: raw epoll handled $raw_events events, libpoll $lp_events"
    awk -v name="$name" -v events="$raw_events" -v raw="$raw_ir" -v lp="$lp_ir" 'BEGIN {
      printf "%-28s %12d %12d %14.2f %14.2f %+12.2f\n", name, events, raw, raw / events,
             lp / events, (lp - raw) / events }' | tee -a "$out/callgrind.txt"
  done
  echo "(difference: instructions per event that libpoll adds over raw epoll)"
fi

if wanted registry; then
  echo
  echo "== registry: wall time, $reg_fds descriptors per implementation, $reg_rounds rounds each," \
    "interleaved"
  "$registry" --fds "$reg_fds" --rounds "$reg_rounds" | tee "$out/registry-timed.txt"

  echo
  echo "== registry: callgrind, user-space instructions per operation inside the phase functions"
  echo "   ($reg_fds descriptors, $reg_cg_rounds rounds + warm-up; callgrind output in $out)"
  : >"$out/registry-callgrind.txt"
  printf '%-22s %12s %14s %14s %12s\n' "operation" "operations" "raw Ir/op" "libpoll Ir/op" \
    "difference" | tee -a "$out/registry-callgrind.txt"
  declare -A per_op=()
  for phase in register reregister deregister; do
    for impl in raw libpoll; do
      result="$(callgrind_count "registry.$phase.$impl" "registry_bench::run_${impl}_${phase}" \
        operations "$registry" --impl "$impl" --fds "$reg_fds" --rounds "$reg_cg_rounds")"
      read -r ir ops <<<"$result"
      per_op[$phase.$impl]="$(awk -v ir="$ir" -v ops="$ops" 'BEGIN { printf "%.2f", ir / ops }')"
      per_op[$phase.ops]="$ops"
    done
  done
  per_op[register+deregister.ops]="${per_op[register.ops]}"
  for impl in raw libpoll; do
    per_op[register+deregister.$impl]="$(awk -v a="${per_op[register.$impl]}" \
      -v b="${per_op[deregister.$impl]}" 'BEGIN { printf "%.2f", a + b }')"
  done
  for row in register reregister deregister register+deregister; do
    awk -v name="$row" -v ops="${per_op[$row.ops]}" -v raw="${per_op[$row.raw]}" \
      -v lp="${per_op[$row.libpoll]}" 'BEGIN {
      printf "%-22s %12d %14.2f %14.2f %+12.2f\n", name, ops, raw, lp, lp - raw }' |
      tee -a "$out/registry-callgrind.txt"
  done
  echo "(difference: instructions per operation that the registration book adds over epoll_ctl)"

  echo
  echo "== registry: where libpoll's instructions per operation go (callgrind's self cost)"
  split_row() { # name, then the row's four figures
    printf '%-22s %10s %10s %10s %10s\n' "$@" | tee -a "$out/registry-callgrind.txt"
  }
  split_row "operation" "book" "selector" "libc" "rest"
  for phase in register reregister deregister; do
    # shellcheck disable=SC2046 # the four figures, as words
    split_row "$phase" $(self_cost_split "$out/callgrind.registry.$phase.libpoll.out" \
      "${per_op[$phase.ops]}")
  done
  # shellcheck disable=SC2046
  split_row "raw epoll_ctl" $(self_cost_split "$out/callgrind.registry.register.raw.out" \
    "${per_op[register.ops]}")
  echo "(book: libpoll::detail, the owner slots, entries, token and call counts; selector:"
  echo " libpoll::sys, on epoll the change table; libc: the system call's stub; rest: the"
  echo " registry's layers and the benchmark's loop)"

  # What the book costs: the same calls on a build with the book compiled out
  # (LIBPOLL_BENCH_WITHOUT_BOOK), whose registry calls go straight to the selector.
  bookless="$build-bookless"
  echo
  echo "== registry: what the book costs (user-space instructions per operation, with the book"
  echo "   and with it compiled out; the bookless registry_bench is built in $bookless)"
  cmake -S "$root" -B "$bookless" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIBPOLL_BUILD_TESTS=OFF \
    -DLIBPOLL_BUILD_EXAMPLES=OFF -DLIBPOLL_BUILD_POLLSCOPE=OFF -DLIBPOLL_BUILD_BENCH=ON \
    -DLIBPOLL_BENCH_WITHOUT_BOOK=ON >/dev/null 2>&1 || die "configuring $bookless failed"
  cmake --build "$bookless" --target registry_bench >/dev/null || die "building $bookless failed"
  printf '%-22s %14s %16s %12s\n' "operation" "libpoll Ir/op" "no book Ir/op" "book" |
    tee -a "$out/registry-callgrind.txt"
  for phase in register reregister deregister; do
    result="$(callgrind_count "registry.$phase.bookless" "registry_bench::run_libpoll_${phase}" \
      operations "$bookless/libpoll/bench/registry_bench" --impl libpoll --fds "$reg_fds" \
      --rounds "$reg_cg_rounds")"
    read -r ir ops <<<"$result"
    awk -v name="$phase" -v with="${per_op[$phase.libpoll]}" -v ir="$ir" -v ops="$ops" 'BEGIN {
      printf "%-22s %14.2f %16.2f %+12.2f\n", name, with, ir / ops, with - ir / ops }' |
      tee -a "$out/registry-callgrind.txt"
  done
  echo "(book: what the owner slots, the entries, the token and call counts and the checks that"
  echo " need them add to each call, its frame included)"
fi

# "<name> <Ir per counted unit>" for one program under callgrind (see callgrind_count).
per_unit() {
  local name="$1"
  shift
  local result ir count
  result="$(callgrind_count "$name" "$@")"
  read -r ir count <<<"$result"
  awk -v ir="$ir" -v count="$count" 'BEGIN { printf "%.2f", ir / count }'
}

if [[ "$only" == "baseline" ]]; then
  base_src="$build-baseline/src"
  base_build="$build-baseline/build"
  git -C "$root" rev-parse --verify --quiet "$baseline^{commit}" >/dev/null ||
    die "--baseline: '$baseline' is not a commit of this repository"
  echo
  echo "== baseline: building chain_bench and registry_bench at $baseline in $base_build"
  rm -rf "$base_src"
  mkdir -p "$base_src"
  git -C "$root" archive "$baseline" | tar -x -C "$base_src"
  cmake -S "$base_src" -B "$base_build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DLIBPOLL_BUILD_TESTS=OFF >/dev/null
  cmake --build "$base_build" --target chain_bench registry_bench
  base_bench="$base_build/libpoll/bench"
  echo
  echo "== baseline: callgrind, user-space instructions per event / per call ($cg_pairs pairs," \
    "$reg_fds descriptors, $cg_rounds rounds + warm-up; output in $out)"
  printf '%-22s %10s %12s %12s %12s\n' "workload" "raw" "$baseline" "this tree" "change" |
    tee "$out/baseline.txt"
  row() {
    awk -v name="$1" -v raw="$2" -v base="$3" -v now="$4" 'BEGIN {
      printf "%-22s %10.2f %12.2f %12.2f %+12.2f\n", name, raw, base, now, now - base }' |
      tee -a "$out/baseline.txt"
  }
  chain_args=(--pairs "$cg_pairs" --rounds "$cg_rounds")
  row "dispatch, per event" \
    "$(per_unit base.chain.raw chain_bench::run_raw_round events "$chain" --impl raw "${chain_args[@]}")" \
    "$(per_unit base.chain.base chain_bench::run_libpoll_round events "$base_bench/chain_bench" \
      --impl libpoll "${chain_args[@]}")" \
    "$(per_unit base.chain.now chain_bench::run_libpoll_round events "$chain" --impl libpoll \
      "${chain_args[@]}")"
  reg_args=(--fds "$reg_fds" --rounds "$reg_cg_rounds")
  for phase in register reregister deregister; do
    row "$phase, per call" \
      "$(per_unit "base.$phase.raw" "registry_bench::run_raw_$phase" operations "$registry" \
        --impl raw "${reg_args[@]}")" \
      "$(per_unit "base.$phase.base" "registry_bench::run_libpoll_$phase" operations \
        "$base_bench/registry_bench" --impl libpoll "${reg_args[@]}")" \
      "$(per_unit "base.$phase.now" "registry_bench::run_libpoll_$phase" operations "$registry" \
        --impl libpoll "${reg_args[@]}")"
  done
  echo "(raw: the hand-written epoll loop or bare epoll_ctl; change: this tree minus $baseline)"
fi

if wanted backends; then
  echo
  echo "== backends: libpoll on poll(2) against libpoll on epoll, wall time, interleaved"
  probe_status=0
  "$chain" --impl libpoll-poll --pairs 1 --rounds 1 --warmup 0 >/dev/null \
    2>"$out/backends-probe.err" || probe_status=$?
  if [[ "$probe_status" -eq 3 ]]; then
    echo "skipped: $(sed 's/^chain_bench: //' "$out/backends-probe.err")"
  elif [[ "$probe_status" -ne 0 ]]; then
    die "the poll(2) backend probe failed: $(cat "$out/backends-probe.err")"
  else
    # One run per size, so that each gets its own round count: a poll(2) wait costs
    # O(registered descriptors), and at 9984 pairs a round takes far longer than on epoll.
    echo "   (both read until would-block; rounds per size: ${poll_rounds[*]} for" \
      "${poll_pairs[*]} pairs, at most $poll_time_limit s each; ratio = poll(2)/epoll)"
    : >"$out/backends.txt"
    for i in "${!poll_pairs[@]}"; do
      "$chain" --compare libpoll,libpoll-poll --pairs "${poll_pairs[$i]}" \
        --poll-rounds "${poll_rounds[$i]}" --warmup 2 --time-limit "$poll_time_limit" \
        >"$out/backends.${poll_pairs[$i]}.txt"
      # The column header once, then each size's row and notes.
      if [[ "$i" -eq 0 ]]; then sed -n '2p' "$out/backends.${poll_pairs[$i]}.txt"; fi
      grep -E '^ *[0-9]|^note:' "$out/backends.${poll_pairs[$i]}.txt" || true
    done | tee "$out/backends.txt"
  fi
fi

if wanted peers; then
  peers="$build/libpoll/bench/peers_bench"
  peer_impls="${PEER_IMPLS:-raw,libpoll,libpoll-own,libpoll-io_uring,libpoll-io_uring-own,libpoll-io_uring-bound,libpoll-io_uring-bound-own,libpoll-io_uring-ahead-own,libev,libuv,libevent,raw-io_uring-recv}"
  wall_runs="${PEER_RUNS:-15}"
  [[ "$wall_runs" =~ ^[1-9][0-9]*$ ]] || die "PEER_RUNS must be a positive count"
  echo
  echo "== peers: wall time, ${PEER_ROUNDS:-200} rounds per size and implementation, interleaved," \
    "in each of $wall_runs processes"
  : >"$out/peers.txt"
  for ((run = 1; run <= wall_runs; ++run)); do
    "$peers" --impls "$peer_impls" --pairs 100,1000,9984 --rounds "${PEER_ROUNDS:-200}" \
      --work dispatch,churn,register | sed "s/^result /run $run /" | tee -a "$out/peers.txt"
  done
  pingpong_runs="${PEER_PINGPONG_RUNS:-15}"
  [[ "$pingpong_runs" =~ ^[1-9][0-9]*$ ]] || die "PEER_PINGPONG_RUNS must be a positive count"
  echo
  echo "== peers: ping-pong, ${PEER_TRIPS:-2000} round trips per implementation, in each of" \
    "$pingpong_runs processes"
  : >"$out/peers-pingpong.txt"
  for ((run = 1; run <= pingpong_runs; ++run)); do
    "$peers" --impls "$peer_impls" --work pingpong --trips "${PEER_TRIPS:-2000}" |
      sed "s/^result /run $run /" | tee -a "$out/peers-pingpong.txt"
  done

  echo
  echo "== peers: callgrind, user-space instructions per event inside dispatch_round, and per call"
  echo "   inside register_round"
  echo "   ($cg_pairs pairs, $cg_rounds rounds + warm-up; callgrind output in $out)"
  : >"$out/peers-callgrind.txt"
  IFS=, read -r -a impl_list <<<"$peer_impls"
  for impl in "${impl_list[@]}"; do
    case "$impl" in
      raw) class=RawLoop ;;
      raw-io_uring-recv) class=UringRecvLoop ;;
      libpoll*) class=LibpollLoop ;;
      libev) class=LibevLoop ;;
      libuv) class=LibuvLoop ;;
      libevent) class=LibeventLoop ;;
      *) die "no round function known for $impl" ;;
    esac
    # Skipped, as in the timed run, where this build or kernel lacks the implementation.
    grep -q "^run 1 dispatch [0-9]* $impl " "$out/peers.txt" || continue
    for work in dispatch churn; do
      ir_per_event="$(per_unit "peers.$work.$impl" \
        "peers::(anonymous namespace)::$class::dispatch_round" events "$peers" --impl "$impl" \
        --work "$work" --pairs "$cg_pairs" --rounds "$cg_rounds")"
      echo "instructions $work $impl $ir_per_event" | tee -a "$out/peers-callgrind.txt"
    done
    # Registers and deregisters, each round with the loop iteration that makes what is deferred.
    ir_per_call="$(per_unit "peers.register.$impl" "(anonymous namespace)::register_round" calls \
      "$peers" --impl "$impl" --work register --pairs "$cg_pairs" --rounds "$cg_rounds")"
    echo "instructions register $impl $ir_per_call" | tee -a "$out/peers-callgrind.txt"
  done

  echo
  echo "== peers: ratios to raw epoll (wall time; instructions: per event over raw's)"
  python3 - "$out/peers.txt" "$out/peers-callgrind.txt" "$json" "$out/peers-pingpong.txt" \
    <<'PYTHON'
import json, os, statistics, sys, tempfile

# Wall time: each process's ratio to the raw loop of the same process, by (work, size,
# implementation); the table gives their median, the spread table their interquartile range.
results, wall_ratios, instructions, pingpong_runs, raw_pingpong_ns = {}, {}, {}, {}, []
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 6 and parts[0] == "run":
        results.setdefault(int(parts[1]), {})[(parts[2], int(parts[3]), parts[4])] = float(parts[5])
for run in results.values():
    for (work, size, impl), ns in run.items():
        raw = run.get((work, size, "raw"))
        if raw:
            wall_ratios.setdefault((work, size, impl), []).append(ns / raw)
# Each ping-pong process's paired ratio (the median over its blocks of each block's p50 over
# raw epoll's in the same block), by implementation.
for line in open(sys.argv[4]):
    parts = line.split()
    if len(parts) == 6 and parts[0] == "run" and parts[2] in ("pingpong_paired",
                                                              "pingpong_mean_paired"):
        pingpong_runs.setdefault((parts[2], parts[4]), []).append(float(parts[5]))
    elif len(parts) == 6 and parts[0] == "run" and parts[2] == "pingpong" and parts[4] == "raw":
        raw_pingpong_ns.append(float(parts[5]))
for line in open(sys.argv[2]):
    parts = line.split()
    if len(parts) == 4 and parts[0] == "instructions":
        instructions[(parts[1], parts[2])] = float(parts[3])

names = {"libpoll": "libpoll", "libpoll-own": "libpoll, own sockets",
         "libpoll-io_uring": "io_uring", "libpoll-io_uring-own": "io_uring, own sockets",
         "libpoll-io_uring-bound": "io_uring, bound ring",
         "libpoll-io_uring-bound-own": "io_uring, bound ring, own sockets",
         "libpoll-io_uring-ahead-own": "io_uring, receive-ahead, own sockets",
         "libev": "libev", "libuv": "libuv", "libevent": "libevent",
         "raw-io_uring-recv": "floor: io_uring recv"}
impls = [i for i in names if any(key[2] == i for key in wall_ratios)]
sizes = sorted({key[1] for key in wall_ratios if key[0] == "dispatch"})
big = max(sizes)

def quartiles(values):
    return statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3

def ratio(work, size, impl):
    runs = wall_ratios.get((work, size, impl))
    return round(statistics.median(runs), 2) if runs else None

def spread(work, size, impl):
    runs = wall_ratios.get((work, size, impl))
    if not runs:
        return None
    low, _, high = quartiles(runs)
    return f"{low:.2f}–{high:.2f}"

def text(value, sign=False):
    if value is None:
        return ""
    return f"{value:+.0f}" if sign else f"{value:.2f}"

table = {"unit": "ratio to raw epoll, lower is faster", "implementations": impls, "rows": {}}
rows, spreads = [], []
for work, label in (("dispatch", "dispatch"), ("churn", "churn: reregister on every event")):
    per = {i: [ratio(work, s, i) for s in sizes] for i in impls}
    table["rows"][work] = {"pairs": sizes, **per}
    rows.append((f"{label}, {' / '.join(f'{s:,}' for s in sizes)} socketpairs",
                 [" / ".join(text(v) for v in per[i]) for i in impls]))
    spreads.append((rows[-1][0], [" / ".join(spread(work, s, i) or "" for s in sizes)
                                  for i in impls]))
    raw_ir = instructions.get((work, "raw"))
    if raw_ir:
        extra = {i: (instructions[(work, i)] - raw_ir if (work, i) in instructions else None)
                 for i in impls}
        table["rows"][work + "_instructions"] = {"raw_per_event": raw_ir, **extra}
        rows.append((f"user-space instructions per {'churned ' if work == 'churn' else ''}event"
                     f" (raw: {raw_ir:.0f})", [text(extra[i], True) for i in impls]))
per = {i: [ratio("register", big, i), ratio("deregister", big, i)] for i in impls}
table["rows"]["register_deregister"] = {"fds": big, **per}
rows.append((f"register / deregister per fd, {big:,} fds",
             [" / ".join(text(v) for v in per[i]) for i in impls]))
spreads.append((rows[-1][0], [" / ".join(spread(w, big, i) or "" for w in ("register",
                                                                           "deregister"))
                              for i in impls]))
raw_ir = instructions.get(("register", "raw"))
if raw_ir:
    extra = {i: (instructions[("register", i)] - raw_ir if ("register", i) in instructions
                 else None) for i in impls}
    table["rows"]["register_instructions"] = {"raw_per_call": raw_ir, **extra}
    rows.append((f"user-space instructions per register or deregister (raw: {raw_ir:.0f})",
                 [text(extra[i], True) for i in impls]))
# The median over the processes of each one's paired ratio, and their range: one process can
# hold an implementation on one side of the p50's two paths for all its blocks.
for key, label, what in (("pingpong_p50", "pingpong_paired", "p50"),
                         ("pingpong_mean", "pingpong_mean_paired", "mean")):
    runs = {i: pingpong_runs.get((label, i), []) for i in impls}
    per = {i: statistics.median(runs[i]) if runs[i] else None for i in impls}
    table["rows"][key] = per
    table["rows"][key + "_runs"] = runs
    count = max((len(r) for r in runs.values()), default=0)
    rows.append((f"ping-pong round trip {what}, median of {count} processes (their range)",
                 [f"{text(per[i])} ({min(runs[i]):.2f}–{max(runs[i]):.2f})" if runs[i] else ""
                  for i in impls]))
table["wall_runs"] = {f"{w}/{s}/{i}": runs for (w, s, i), runs in wall_ratios.items()
                     if i != "raw"}
table["raw_ns"] = {f"{w}/{s}": statistics.median(run[(w, s, i)] for run in results.values()
                                                 if (w, s, i) in run)
                   for (w, s, i) in wall_ratios if i == "raw"}
table["raw_ns"]["pingpong_runs"] = raw_pingpong_ns

print("| work | " + " | ".join(names[i] for i in impls) + " |")
print("|---|" + "---|" * len(impls))
for label, cells in rows:
    print(f"| {label} | " + " | ".join(cells) + " |")
print(f"\nWall-time rows: the median of {len(results)} processes' ratios; their interquartile"
      " ranges:\n")
print("| work | " + " | ".join(names[i] for i in impls) + " |")
print("|---|" + "---|" * len(impls))
for label, cells in spreads:
    print(f"| {label} | " + " | ".join(cells) + " |")
if sys.argv[3]:
    target = os.path.abspath(sys.argv[3])
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".bench-")
    with os.fdopen(handle, "w") as stream:
        json.dump(table, stream, indent=2)
        stream.write("\n")
    os.replace(temporary, target)
    print(f"(written to {sys.argv[3]})")
PYTHON
fi

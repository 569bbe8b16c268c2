#!/usr/bin/env bash
# The performance gate: builds BASE_REF (default origin/main, else main) in a git worktree and
# this tree, both in Release, and runs `pollscope ab` between them: the two builds alternately,
# ABBA, each run a fresh process, then judged together (see the README, "A gate that holds on a
# noisy machine"). With valgrind installed, each build also runs once under callgrind, and
# instructions per event are compared.
#
#   scripts/perf-gate.sh [BASE_REF]
#
# Environment:
#   PERF_GATE_OUT       where the reports go (default: perf-gate/ in this tree): ab.json,
#                       junit.xml, summary.md, benchmark-smaller.json, benchmark-bigger.json,
#                       bencher.json and every run's report under reports/
#   PERF_GATE_SCENARIO  the scenario file (default: the built-in default scenario)
#   PERF_GATE_ROUNDS    runs per side (default: ab's, 10)
#   PERF_GATE_ARGS      more options for `pollscope ab`, e.g. --strict
#   PERF_GATE_BUILD     the candidate's build directory (default: build-release in this tree)
#
# Exits as `pollscope ab` does: 0 no regression, 1 a regression, 2 bad usage or input, 3 a run
# failed, 4 inconclusive with --strict; 5 when a build failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

base_ref=${1:-}
if [ -z "$base_ref" ]; then
  if git rev-parse --verify -q origin/main >/dev/null; then base_ref=origin/main; else base_ref=main; fi
fi
base_commit=$(git rev-parse --verify "$base_ref^{commit}") || {
  echo "perf-gate: '$base_ref' names no commit" >&2
  exit 2
}
out=${PERF_GATE_OUT:-$root/perf-gate}
candidate_build=${PERF_GATE_BUILD:-$root/build-release}
mkdir -p "$out"
# What an earlier gate left: a gate that fails before writing its own (a run failed, exit 3)
# must not leave the last one's verdict to be read as its own, in the folder, in a test reporter
# or in $GITHUB_STEP_SUMMARY.
rm -rf "$out/reports"
rm -f "$out/ab.json" "$out/junit.xml" "$out/summary.md" "$out/benchmark-smaller.json" \
  "$out/benchmark-bigger.json" "$out/bencher.json"

# The system call counter reads the raw_syscalls tracepoint's id from tracefs: mount it where
# the kernel has it but nothing mounted it (as root; else the counts fall back to libpoll's own).
if [ "$(id -u)" -eq 0 ] && [ -d /sys/kernel/tracing ] && [ ! -e /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing ||
    echo "perf-gate: warning: cannot mount tracefs; system calls counted by libpoll only" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/perf-gate.XXXXXX")
cleanup() {
  git -C "$root" worktree remove --force "$work/base" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

release_build() {  # SOURCE BUILD_DIR
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIBPOLL_BUILD_TESTS=OFF \
    -DLIBPOLL_BUILD_BENCH=OFF -DLIBPOLL_BUILD_EXAMPLES=OFF >/dev/null &&
    cmake --build "$2" --target pollscope >/dev/null
}

echo "perf-gate: base $base_ref ($(git rev-parse --short "$base_commit")), candidate $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + changes')" >&2
git worktree add --detach "$work/base" "$base_commit" >/dev/null 2>&1
release_build "$work/base" "$work/base-build" || { echo "perf-gate: the base did not build" >&2; exit 5; }
release_build "$root" "$candidate_build" || { echo "perf-gate: the candidate did not build" >&2; exit 5; }

args=(ab --base "$work/base-build/cli/pollscope" --candidate "$candidate_build/cli/pollscope"
  --out "$out/ab.json" --keep-reports "$out/reports"
  --format "junit=$out/junit.xml" --format "markdown=$out/summary.md"
  --format "benchmark-smaller=$out/benchmark-smaller.json"
  --format "benchmark-bigger=$out/benchmark-bigger.json" --format "bencher=$out/bencher.json")
[ -n "${PERF_GATE_ROUNDS:-}" ] && args+=(--rounds "$PERF_GATE_ROUNDS")
command -v valgrind >/dev/null && args+=(--instructions)
[ -n "${PERF_GATE_SCENARIO:-}" ] && args+=("$PERF_GATE_SCENARIO")
# shellcheck disable=SC2206  # PERF_GATE_ARGS is split on purpose
[ -n "${PERF_GATE_ARGS:-}" ] && args+=($PERF_GATE_ARGS)

status=0
"$candidate_build/cli/pollscope" "${args[@]}" || status=$?
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/summary.md" ]; then
  cat "$out/summary.md" >>"$GITHUB_STEP_SUMMARY"
fi
exit $status

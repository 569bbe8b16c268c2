#!/usr/bin/env bash
# The main job: builds pollscope alone (not the tests: scripts/test.sh builds those), then runs
# it on its built-in default scenario (TCP loopback pairs under a closed-loop load, with a leak
# check), printing the JSON report on stdout and a summary on stderr. Arguments go to
# `pollscope run`, e.g.
#   scripts/run.sh scenarios/c10k.json --out report.json
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
# Release, as scripts/test.sh builds the same tree: the quick start's two commands share it.
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j "$(nproc)" --target pollscope >/dev/null
exec "$root/build/cli/pollscope" run "$@"

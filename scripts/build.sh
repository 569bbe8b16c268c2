#!/usr/bin/env bash
# Configures and builds one libpoll build tree.
#   scripts/build.sh DIR [cmake options...]      e.g. scripts/build.sh build-asan -DLIBPOLL_SANITIZE='address;undefined'
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
cmake -S "$root" -B "$root/$dir" -G Ninja "$@" >/dev/null
cmake --build "$root/$dir" -j "$(nproc)"

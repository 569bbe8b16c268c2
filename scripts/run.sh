#!/usr/bin/env bash
# The main job: builds what is missing and runs the example program, which polls real loopback
# sockets with libpoll and prints every event it saw. Arguments go to the program.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
exec "$root/build/libpoll/examples/tcp_echo" "$@"

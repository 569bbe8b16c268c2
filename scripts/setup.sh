#!/usr/bin/env bash
# Installs, from Debian 12's packages, whatever building and testing libpoll and pollscope need
# and the machine lacks (valgrind: instructions per event; stress-ng: the gate's trials under
# load). Extra package names may be given as arguments.
# sockperf is the reference that scripts/latency_reference.sh holds pollscope's ping_pong against.
#   scripts/setup.sh [--build-only] [PACKAGE...]
# --build-only: only what building and running libpoll and pollscope needs, not the tests' tools
# (the Dockerfile's image).
# Safe to run again: it installs nothing when everything is present.
set -euo pipefail

# Building and running: the compiler and the libraries CMake finds; valgrind for callgrind's
# client requests (pollscope run --instructions).
packages=(g++ cmake ninja-build pkgconf libcli11-dev nlohmann-json3-dev libfmt-dev libpcap-dev
  libdw-dev liburing-dev valgrind)
if [ "${1:-}" = --build-only ]; then
  shift
else
  # Testing: GoogleTest, the schema validator of the end-to-end tests, tcpdump (a capture read
  # back), libuv (a traced program), sockperf and stress-ng (the latency reference, the gate).
  packages+=(libgtest-dev python3-jsonschema tcpdump libuv1-dev sockperf stress-ng)
fi
packages+=("$@")
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

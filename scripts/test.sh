#!/usr/bin/env bash
# Builds and runs every test: a normal build (all suites on every backend, then each backend
# forced through LIBPOLL_TEST_BACKEND, as mio's CI does), an AddressSanitizer +
# UndefinedBehaviorSanitizer build of all suites, and a ThreadSanitizer build of the threaded
# suites.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    the normal build only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=0
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    *) echo "test.sh: unknown option '$arg' (use --quick)" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
backends=(epoll)
ctest_args=(--output-on-failure --timeout 60 -j "$(nproc)")

echo "== normal build"
scripts/build.sh build -DLIBPOLL_BUILD_TESTS=ON
ctest --test-dir build "${ctest_args[@]}"
for backend in "${backends[@]}"; do
  echo "== all suites forced onto $backend"
  LIBPOLL_TEST_BACKEND=$backend ctest --test-dir build "${ctest_args[@]}" -L 'single|threaded'
done
[ $quick -eq 1 ] && exit 0

echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
scripts/build.sh build-asan -DLIBPOLL_BUILD_TESTS=ON -DLIBPOLL_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=Debug -DLIBPOLL_SANITIZE='address;undefined'
ctest --test-dir build-asan "${ctest_args[@]}"

echo "== ThreadSanitizer (threaded suites)"
cmake -S . -B build-tsan -G Ninja -DLIBPOLL_BUILD_TESTS=ON -DLIBPOLL_BUILD_BENCH=OFF \
  -DLIBPOLL_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=Debug -DLIBPOLL_SANITIZE=thread >/dev/null
cmake --build build-tsan --target libpoll_thread_tests
ctest --test-dir build-tsan "${ctest_args[@]}" -L threaded

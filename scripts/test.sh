#!/usr/bin/env bash
# Builds and runs every test:
#   - a normal build: every suite, parameterised suites once per backend;
#   - every suite again with each backend forced: LIBPOLL_BACKEND moves every `automatic` Poll
#     onto it, LIBPOLL_TEST_BACKEND keeps only its instances of libpoll's parameterised suites
#     (io_uring's twice: shared rings, and single-issuer ones); pollscope's suites and the
#     programs run under ctest with it;
#   - the libpoll binaries with LIBPOLL_BATCH_CHANGES=0 (no io_uring batch of epoll changes);
#   - an AddressSanitizer + UndefinedBehaviorSanitizer build of every suite;
#   - a ThreadSanitizer build of the threaded suites.
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
backends=(epoll poll)
ctest_args=(--output-on-failure --timeout 60 -j "$(nproc)")

echo "== normal build"
# Release, as scripts/run.sh builds the same tree. Without debug information pollscope_core
# compiles in about three quarters of RelWithDebInfo's time; the sanitizer builds below keep line
# tables for their reports.
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DLIBPOLL_BUILD_TESTS=ON
ctest --test-dir build "${ctest_args[@]}"
# io_uring too where this build has it and the kernel allows it: its instances are listed then.
if [[ "$(build/tests/libpoll_tests --gtest_list_tests)" == */io_uring* ]]; then
  backends+=(io_uring)
fi
for backend in "${backends[@]}"; do
  # The binaries themselves, not ctest: ctest's test names were fixed when the tests were
  # discovered, and would silently skip the instances this variable leaves out.
  echo "== the libpoll test binaries forced onto $backend"
  for binary in build/tests/libpoll_tests build/tests/libpoll_thread_tests; do
    LIBPOLL_BACKEND=$backend LIBPOLL_TEST_BACKEND=$backend timeout 300 "$binary" --gtest_brief=1
  done
  if [ "$backend" = io_uring ]; then
    # Again with single-issuer rings, each bound to the thread that first polls it (asked for
    # with LIBPOLL_IO_URING_SINGLE_ISSUER=1).
    echo "== the libpoll test binaries forced onto io_uring, LIBPOLL_IO_URING_SINGLE_ISSUER=1"
    for binary in build/tests/libpoll_tests build/tests/libpoll_thread_tests; do
      LIBPOLL_IO_URING_SINGLE_ISSUER=1 LIBPOLL_BACKEND=io_uring LIBPOLL_TEST_BACKEND=io_uring \
        timeout 300 "$binary" --gtest_brief=1
    done
    # And with every byte stream read ahead (LIBPOLL_IO_URING_RECEIVE_AHEAD=1): the streams'
    # reads then take what recv requests received.
    echo "== the libpoll test binaries forced onto io_uring, LIBPOLL_IO_URING_RECEIVE_AHEAD=1"
    for binary in build/tests/libpoll_tests build/tests/libpoll_thread_tests; do
      LIBPOLL_IO_URING_RECEIVE_AHEAD=1 LIBPOLL_BACKEND=io_uring LIBPOLL_TEST_BACKEND=io_uring \
        timeout 300 "$binary" --gtest_brief=1
    done
  fi
  # The programs, and pollscope's suites but on epoll (what `automatic` picks, which the normal
  # run above covered): every `automatic` Poll they make moved onto the backend.
  # Not trace's suites on programs that never run libpoll (C, Python, libuv): the backend moves
  # nothing in them (TraceLibpollProgram, the shipped example, runs).
  labels='programs|pollscope'
  [ "$backend" = epoll ] && labels=programs
  echo "== ctest -L '$labels' forced onto $backend"
  LIBPOLL_BACKEND=$backend ctest --test-dir build "${ctest_args[@]}" -L "$labels" \
    -E '^(TraceCli|TraceEscapes)\.'
done
# epoll's registers and deregisters without the io_uring batch: each change its own epoll_ctl,
# as where the kernel has no io_uring (and as pollscope trace runs a libpoll program).
echo "== the libpoll test binaries with LIBPOLL_BATCH_CHANGES=0"
for binary in build/tests/libpoll_tests build/tests/libpoll_thread_tests; do
  LIBPOLL_BATCH_CHANGES=0 timeout 300 "$binary" --gtest_brief=1
done
[ $quick -eq 1 ] && exit 0

# The sanitizer builds are for what they find at run time: libpoll and pollscope compile in
# unity batches (the suites do not: tests/CMakeLists.txt), with line tables only (-g1, file and
# line in every report): pollscope_core in about a third of the time of a file-by-file build with
# full debug information.
# The normal build above keeps every file compiling on its own.
# Their suites run in shards, eight per binary, each shard one process (LIBPOLL_TEST_SHARDS, see
# tests/CMakeLists.txt): a sanitized process is slow to start, and a process per test was most of
# the AddressSanitizer run (616 s of ctest against 172 s in shards).
sanitizer_build=(-DCMAKE_BUILD_TYPE=Debug -DCMAKE_UNITY_BUILD=ON -DCMAKE_CXX_FLAGS_DEBUG=-g1
  -DCMAKE_C_FLAGS_DEBUG=-g1 -DLIBPOLL_TEST_SHARDS=8)
echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
scripts/build.sh build-asan -DLIBPOLL_BUILD_TESTS=ON -DLIBPOLL_BUILD_BENCH=OFF \
  "${sanitizer_build[@]}" -DLIBPOLL_SANITIZE='address;undefined'
ctest --test-dir build-asan "${ctest_args[@]}"

echo "== ThreadSanitizer (threaded suites, and pollscope's poller threads)"
# tests/tsan.supp says why each suppression is not a bug.
# history_size=7 keeps enough history to restore the earlier access's stack: a report whose
# stack TSan could not restore cannot be matched against a suppression.
export TSAN_OPTIONS="suppressions=$root/tests/tsan.supp history_size=7 ${TSAN_OPTIONS:-}"
cmake -S . -B build-tsan -G Ninja -DLIBPOLL_BUILD_TESTS=ON -DLIBPOLL_BUILD_BENCH=OFF \
  -DLIBPOLL_BUILD_EXAMPLES=OFF "${sanitizer_build[@]}" -DLIBPOLL_SANITIZE=thread >/dev/null
cmake --build build-tsan --target libpoll_thread_tests pollscope_engine_tests
ctest --test-dir build-tsan "${ctest_args[@]}" -L threaded
# The engine's threads share only the process (the fd claim table, the clock, the stop flag):
# its tests with several poller threads, a peer thread, wake-ups from another thread, and a test
# thread playing the far side of a pair (ScriptedPeerTest), on both backends.
timeout 300 build-tsan/tests/pollscope/pollscope_engine_tests --gtest_brief=1 \
  --gtest_filter='*EngineTest.*Thread*:*PeerPlacementTest.*thread:*WakeupTest.*:*ScriptedPeerTest.*'

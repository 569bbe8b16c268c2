#pragma once

// peers_bench's event loops: one workload, written once against this interface, run through raw
// epoll, libpoll (epoll, io_uring; raw descriptors or its own sockets), libev, libuv and
// libevent. Each loop watches the read ends of the pairs for readability, and its handler reads
// what arrived (and, when churning, changes the watch the way that library's users do).
// Every round function is its own symbol, so that callgrind can count inside it alone.

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench_support.hpp"

namespace peers {

class Loop {
 public:
  Loop() = default;
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  virtual ~Loop() = default;

  // Watches every read end of `pairs` (pair.first) for readability; `watch_all` then
  // `unwatch_all` are the register/deregister workload.
  virtual void watch_all(std::vector<bench::StreamPair>& pairs) = 0;
  virtual void unwatch_all() = 0;
  // One loop iteration that waits for nothing: it makes whatever changes the loop defers to
  // its next iteration (libev, libuv), so that register and deregister are timed with it.
  virtual void apply() = 0;
  // Untimed clean-up after unwatch_all (libuv closes its handles here).
  virtual void settle() {}
  // Runs the loop until `expected` readable events were handled (each read drains one source);
  // with `churn`, every handled source is watched anew (a reregister). Returns the events.
  virtual std::size_t dispatch_round(std::size_t expected, bool churn) = 0;
  // Serves echo on the watched read end of pairs[0]: each byte read is written back; a 'q'
  // stops it. Called on a thread of its own after watch_all.
  virtual void serve_echo() = 0;
};

// "raw", "raw-io_uring-recv", "libpoll", "libpoll-own", "libpoll-io_uring",
// "libpoll-io_uring-own", "libev", "libuv", "libevent"; nullptr for an unknown name or a backend
// this build or kernel lacks.
std::unique_ptr<Loop> make_loop(std::string_view name);

// The completion floor (uring_recv_loop.cpp, built with liburing): nullptr where the kernel
// refuses its ring.
std::unique_ptr<Loop> make_uring_recv_loop();

// Reads one source and, in echo mode, answers it; true when it read a stop byte.
bool drain_one(int fd, bool echo) noexcept;

}  // namespace peers

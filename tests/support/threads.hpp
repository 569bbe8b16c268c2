#pragma once

// Helpers for tests where one thread must be blocked inside the selector while another acts, and
// for handshakes between a test's threads.

#include <sys/types.h>

#include <chrono>
#include <thread>

namespace libpoll::testing {

/// The calling thread's kernel id, to hand to wait_until_blocked_in_poll.
pid_t current_thread_id();

/// Waits (bounded by `deadline`) until thread `tid` of this process sits in a readiness system
/// call (epoll_wait, epoll_pwait, poll, ppoll), as /proc/self/task/TID/syscall shows. Returns
/// false on timeout. This observes the kernel instead of guessing with a sleep.
bool wait_until_blocked_in_poll(pid_t tid, std::chrono::milliseconds deadline);

/// Yields until `ready()` holds or `deadline` passes; false on the deadline. For handshakes on
/// atomics between a test's threads: a broken handshake fails the test instead of hanging it.
template <typename Ready>
bool spin_until(Ready ready, std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace libpoll::testing

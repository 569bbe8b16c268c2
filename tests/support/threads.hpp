#pragma once

// Helpers for tests where one thread must be blocked inside the selector while another acts.

#include <sys/types.h>

#include <chrono>

namespace libpoll::testing {

/// The calling thread's kernel id, to hand to wait_until_blocked_in_poll.
pid_t current_thread_id();

/// Waits (bounded by `deadline`) until thread `tid` of this process sits in a readiness system
/// call (epoll_wait, epoll_pwait, poll, ppoll), as /proc/self/task/TID/syscall shows. Returns
/// false on timeout. This observes the kernel instead of guessing with a sleep.
bool wait_until_blocked_in_poll(pid_t tid, std::chrono::milliseconds deadline);

}  // namespace libpoll::testing

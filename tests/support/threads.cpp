#include "support/threads.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace libpoll::testing {

pid_t current_thread_id() {
  return static_cast<pid_t>(::syscall(SYS_gettid));
}

namespace {

bool in_readiness_syscall(pid_t tid) {
  std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long number = -1;
  if (!(file >> number)) return false;
  switch (number) {
#ifdef SYS_epoll_wait
    case SYS_epoll_wait:
#endif
#ifdef SYS_poll
    case SYS_poll:
#endif
    case SYS_epoll_pwait:
    case SYS_ppoll:
    case SYS_io_uring_enter:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool wait_until_blocked_in_poll(pid_t tid, std::chrono::milliseconds deadline) {
  const auto give_up = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < give_up) {
    if (in_readiness_syscall(tid)) return true;
    std::this_thread::yield();
  }
  return false;
}

}  // namespace libpoll::testing

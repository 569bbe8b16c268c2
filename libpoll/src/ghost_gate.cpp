#include "ghost_gate.hpp"

#include <pthread.h>

namespace libpoll::detail {

namespace {

// Runs in the parent and in the child after each fork: both now share every epoll instance.
void count_fork() noexcept {
  fork_count.fetch_add(1, std::memory_order_relaxed);
}

void count_child() noexcept {
  count_fork();
  child_generation.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

bool fork_hook_installed() noexcept {
  static const bool installed = ::pthread_atfork(nullptr, count_fork, count_child) == 0;
  return installed;
}

}  // namespace libpoll::detail

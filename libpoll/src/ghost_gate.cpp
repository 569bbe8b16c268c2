#include "ghost_gate.hpp"

#include <pthread.h>

namespace libpoll::detail {

namespace {

std::atomic<std::uint64_t> forks{0};

// Runs in the parent and in the child after each fork: both now share every epoll instance.
void count_fork() noexcept {
  forks.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

bool fork_hook_installed() noexcept {
  static const bool installed = ::pthread_atfork(nullptr, count_fork, count_fork) == 0;
  return installed;
}

std::uint64_t forks_seen() noexcept {
  return forks.load(std::memory_order_relaxed);
}

}  // namespace libpoll::detail

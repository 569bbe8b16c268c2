#pragma once

// The registration book's lock. Every registry operation takes it, and std::mutex's lock and
// unlock through pthread cost about 75 instructions per operation, a twentieth of an epoll_ctl
// here. This is the classic three-state futex mutex (Drepper, "Futexes Are Tricky"): an
// uncontended lock and unlock are one atomic instruction each; a contended lock sleeps in the
// kernel (std::atomic::wait) rather than spinning, since the holder may be inside a system call.

#include <atomic>
#include <cstdint>

namespace libpoll::detail {

class FutexMutex {
 public:
  void lock() noexcept {
    std::uint32_t expected = kUnlocked;
    if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire)) return;
    // Announce a waiter, then sleep until the holder's unlock wakes us.
    while (state_.exchange(kContended, std::memory_order_acquire) != kUnlocked) {
      state_.wait(kContended, std::memory_order_relaxed);
    }
  }

  void unlock() noexcept {
    if (state_.exchange(kUnlocked, std::memory_order_release) == kContended) state_.notify_one();
  }

 private:
  static constexpr std::uint32_t kUnlocked = 0;
  static constexpr std::uint32_t kLocked = 1;     // no waiter
  static constexpr std::uint32_t kContended = 2;  // maybe waiters: unlock must wake one

  std::atomic<std::uint32_t> state_{kUnlocked};
};

}  // namespace libpoll::detail

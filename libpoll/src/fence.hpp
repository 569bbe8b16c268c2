#pragma once

// std::atomic_thread_fence, except under ThreadSanitizer, which does not model fences (GCC warns
// that it does not support them): there it is a compiler barrier, and the atomic accesses around
// it are what the sanitizer checks.

#include <atomic>

namespace libpoll::detail {

inline void fence(std::memory_order order) noexcept {
#if defined(__SANITIZE_THREAD__)
  std::atomic_signal_fence(order);
#else
  std::atomic_thread_fence(order);
#endif
}

}  // namespace libpoll::detail

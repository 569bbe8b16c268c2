#pragma once

namespace libpoll::detail {

// Tells live threads apart without a system call: each has its own tag while it runs (a tag may
// be reused by a thread started after its holder ended).
[[nodiscard]] inline const void* this_thread_tag() noexcept {
#if defined(__x86_64__) || defined(__aarch64__)
  // The thread's own control block: one register read, where a thread_local's address costs
  // the compiler spills around the TLS access on every registry call.
  return __builtin_thread_pointer();
#else
  thread_local const char tag = 0;
  return &tag;
#endif
}

}  // namespace libpoll::detail

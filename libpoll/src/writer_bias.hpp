#pragma once

// Read-modify-writes on the words registry calls share (a descriptor slot's claim bit, a token's
// count) without a locked instruction while one thread makes all of them. Right after a system
// call a locked instruction costs the machines this was measured on about 15 ns, and a registry
// call made one or two (README, "Where a registry call's wall time goes"); most programs make
// their registry calls from one thread, the one that polls.
//
// The first thread that writes claims the bias, and then writes with a plain load and store, each
// inside a section it marks (`busy_`). A second thread that needs to write revokes the bias for
// good: it marks it revoking, makes every running thread of the process pass a full memory
// barrier (membarrier(2), MEMBARRIER_CMD_PRIVATE_EXPEDITED), waits for the owner's section to end,
// and marks the bias shared; from then on every thread uses locked instructions. This is the
// asymmetric Dekker of RCU and of folly's hazard pointers: the owner's side is a store, a compiler
// barrier and a load, and the barrier forced on it stands for the fence it does not pay. Either
// the owner's section began before that barrier (its mark is then seen, and waited for) or after
// it (it then sees the revocation and takes the locked path).
//
// Where membarrier is refused when the bias would be claimed (an old kernel, seccomp), nobody
// claims it. One refused later (a sandbox entered since) is replaced by a TLB shootdown, which
// interrupts every CPU running the process. A forked child, whose one thread may not be the owner,
// starts shared. Registry calls are not async-signal-safe, so a section is never interrupted by
// another on the same thread.

#include <atomic>
#include <cstdint>

#include "thread_tag.hpp"

namespace libpoll::detail {

class WriterBias {
 public:
  // Whether the calling thread may make its next read-modify-write with a plain load and store;
  // if so, it calls end() right after the store. False: it uses a locked instruction.
  [[nodiscard, gnu::always_inline]] bool begin() noexcept {
    const std::uintptr_t me = tag();
    // Acquire: once shared, the owner's last section happened before this thread's writes.
    const std::uintptr_t owner = owner_.load(std::memory_order_acquire);
    if (owner != me) [[unlikely]]
      return owner == kShared ? false : begin_slow(me);
    busy_.store(true, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // the revoker's barrier is the fence
    if (owner_.load(std::memory_order_relaxed) == me) [[likely]]
      return true;
    busy_.store(false, std::memory_order_release);
    return begin_slow(me);
  }
  void end() noexcept { busy_.store(false, std::memory_order_release); }
  // begin() for the thread that holds the bias already, which makes no call: false for any other
  // thread, and when a revocation is under way, whose caller then takes its path through
  // begin() (which claims the bias, or waits the revocation out). With no call on the way, a
  // registry call's common path keeps its arguments in the registers they came in.
  [[nodiscard, gnu::always_inline]] bool begin_if_owner() noexcept {
    const std::uintptr_t me = tag();
    if (owner_.load(std::memory_order_acquire) != me) [[unlikely]]
      return false;
    busy_.store(true, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // as in begin()
    if (owner_.load(std::memory_order_relaxed) == me) [[likely]]
      return true;
    busy_.store(false, std::memory_order_release);
    return false;
  }

  // Whether the calling thread holds the bias (tests).
  [[nodiscard]] bool held() const noexcept {
    return owner_.load(std::memory_order_acquire) == tag();
  }
  // Whether a second thread has begun to revoke the bias, or revoked it (tests).
  [[nodiscard]] bool revoked() const noexcept {
    const std::uintptr_t owner = owner_.load(std::memory_order_acquire);
    return owner == kRevoking || owner == kShared;
  }
  // Every thread uses locked instructions from now on (a forked child's first act).
  void share() noexcept {
    owner_.store(kShared, std::memory_order_release);
    busy_.store(false, std::memory_order_release);
  }

 private:
  // Owner values besides a thread's tag (a control block's address, never 0, 1 or 2).
  static constexpr std::uintptr_t kNobody = 0;
  static constexpr std::uintptr_t kRevoking = 1;
  static constexpr std::uintptr_t kShared = 2;

  [[nodiscard]] static std::uintptr_t tag() noexcept {
    return reinterpret_cast<std::uintptr_t>(this_thread_tag());
  }
  // Claims the bias, waits out a revocation, or revokes it.
  [[gnu::noinline]] bool begin_slow(std::uintptr_t me) noexcept;

  std::atomic<std::uintptr_t> owner_{kNobody};  // a thread's tag, kNobody, kRevoking or kShared
  std::atomic<bool> busy_{false};               // the owner is inside a section
};

// The bias of every slot and token count in the process (constant-initialized: no guard).
inline constinit WriterBias process_bias{};
[[nodiscard]] inline WriterBias& process_writer_bias() noexcept {
  return process_bias;
}

// A read-modify-write of `word`, plain under the bias: `change` maps the value read to the one
// to store, or returns it unchanged to store nothing. Returns the value read.
// `word` is a std::atomic<std::uint64_t> or a std::atomic_ref to one.
template <typename Word, typename Change>
[[gnu::always_inline]] inline std::uint64_t biased_update(WriterBias& bias, Word& word,
                                                          std::memory_order order,
                                                          Change change) noexcept {
  if (bias.begin()) [[likely]] {
    const std::uint64_t now = word.load(std::memory_order_acquire);
    const std::uint64_t next = change(now);
    if (next != now) word.store(next, std::memory_order_release);
    bias.end();
    return now;
  }
  std::uint64_t now = word.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint64_t next = change(now);
    if (next == now || word.compare_exchange_weak(now, next, order, std::memory_order_relaxed))
      return now;
  }
}

}  // namespace libpoll::detail

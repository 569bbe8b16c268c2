#pragma once

// Whether a batch of events may hold a ghost: an event under a token the book does not hold.
// The ghost count looks every event's token up, which is most of what the book costs per event;
// on epoll, a batch can hold a ghost only in the cases below, so the lookup runs only then.
// The io_uring and poll(2) selectors build their batches under their lock from their own tables
// (an entry live, of the generation the result is for) and take each event's token from the
// entry; a removal takes its entry out under that lock before its end is counted. Their table
// plays the kernel's list below, and the same gate applies.
//
// The kernel delivers an event under a token the book does not hold only if it holds a
// registration the book does not. That takes one of:
// - a registration the book retired while the kernel may still hold it (closed without
//   deregister, its file kept open by a duplicate), or one whose token changed (a recorded
//   change that fails after the call leaves the kernel the old token), or one whose recorded
//   deregister failed when the next poll made it (its descriptor closed behind its source);
// - a registration made behind the book's back, through the descriptor Poll::as_raw_fd hands
//   out, or by a forked process that shares the epoll instance;
// - a deregister (or token change) racing a poll: the kernel gave the event to epoll_wait before
//   the registration went, and the book let the token go before the poll looked it up.
// The first two are lasting: once one happens, every batch is looked up (`make_possible`, and
// any fork counted by the pthread_atfork hook). The third is transient: a removal that began
// since the last quiet point (every removal begun was done) may have its last event in this
// batch; a batch whose wait began after a quiet point cannot, as the kernel gave those
// registrations up before the removals were done.
//
// A removal's begin and end are counted in the Poll's registry counts (`RegistryCounts`: a
// release store each, in the writer-bias owner's row or the thread's own block, no locked
// instruction); it is done when its token left the book (a deregister) or its call failed. The
// polling thread sums the begun counts, then the done counts. Each row's and block's counts only
// grow, so a begun sum equal to the quiet point means no thread's begin was
// seen since. A removal whose begin the check could not see raced the check, as it could race the
// single locked count this replaces: the check stands for the lookup it skips, made at that
// moment. The sums are read block by block while removals go on, so a done sum can equal the
// begun sum read before it while a removal counted as begun is still under way: only if a removal
// begun after that read is done and counted instead. That removal's begin happened before its
// end, which the sum acquired, so the next check's begun sum is past the quiet point it set and
// its batch is looked up: a quiet point set that way is never acted on.

#include <atomic>
#include <cstdint>

#include "fence.hpp"
#include "registry_counts.hpp"

namespace libpoll::detail {

// Forks of this process (and, in a child, of its parent) since the hook was installed.
inline std::atomic<std::uint64_t> fork_count{0};
// How many forks made this process, counted in each child: what was set up before it changed
// may share memory with another process (an io_uring's queues).
inline std::atomic<std::uint64_t> child_generation{0};

// Installs, once, the pthread_atfork hook that counts forks; false if it could not be.
[[nodiscard]] bool fork_hook_installed() noexcept;
[[nodiscard]] inline std::uint64_t forks_seen() noexcept {
  return fork_count.load(std::memory_order_relaxed);
}
[[nodiscard]] inline std::uint64_t generation() noexcept {
  return child_generation.load(std::memory_order_relaxed);
}

class GhostGate {
 public:
  // `removal_lost`: the selector's flag for a recorded deregister that failed after its call.
  // `counts`: where removals are counted (the Poll's registry counts), which outlive the gate.
  GhostGate(const std::atomic<bool>* removal_lost, RegistryCounts& counts) noexcept
      : possible_(!fork_hook_installed()),
        removal_lost_(removal_lost),
        forks_(forks_seen()),
        removals_(counts) {}

  // Registry calls, any thread, count each removal in `counts`: kRemovalsBegun before its
  // system call, followed by a fence (begin_fence), then kDeregisters once its token left the
  // book, or kRemovalsFailed.
  static void begin_fence() noexcept {
    // The removal's system call and its token's leaving stay after its begin (free on x86).
    fence(std::memory_order_acq_rel);
  }
  // A lasting cause (see above).
  void make_possible() noexcept { possible_.store(true, std::memory_order_release); }

  // The polling thread, once per batch, after its wait returned.
  [[nodiscard]] bool batch_may_hold_ghosts() noexcept {
    if (possible_.load(std::memory_order_acquire)) [[unlikely]]
      return true;
    if (forks_seen() != forks_ ||
        (removal_lost_ != nullptr && removal_lost_->load(std::memory_order_acquire))) [[unlikely]] {
      make_possible();
      return true;
    }
    const std::uint64_t begun = removals_.total(kRemovalsBegun);
    if (begun == quiet_at_) [[likely]]
      return false;
    // Later batches wait only after every removal begun so far was done: none of theirs.
    const std::uint64_t done = removals_.total(kDeregisters) + removals_.total(kRemovalsFailed);
    if (done == begun) quiet_at_ = begun;
    return true;
  }

 private:
  std::atomic<bool> possible_;
  const std::atomic<bool>* removal_lost_;
  const std::uint64_t forks_;
  std::uint64_t quiet_at_ = 0;  // the polling thread's alone
  RegistryCounts& removals_;    // no locked instruction
};

}  // namespace libpoll::detail

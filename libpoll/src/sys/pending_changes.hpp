#pragma once

// The epoll selector's change table: what the kernel holds for each registration, and the
// changes the polling thread made since its last poll, which are made at the start of the next
// one. Between two polls nothing reads the kernel's registrations, so only the final state of
// each descriptor needs a system call, and none when it is what the kernel holds already:
// readable, then readable|writable, then readable again costs nothing, and so does a register
// undone by a deregister. What is left is made with one system call for the whole table where
// io_uring can carry epoll_ctl calls (EpollCtlRing), and one per descriptor elsewhere.
//
// Registers and deregisters are recorded only for libpoll's own sources (IoSource), which
// deregister before they close and make a recorded removal before their descriptor closes
// (flush_recorded), so that no recorded change ever reaches a number reused since. Reregisters
// are recorded for the same sources; a foreign descriptor's changes are made at once, so that
// the kernel answers them.
//
// A modify to the mask the kernel holds is not quite nothing under EPOLLET: the kernel polls
// the file again and re-reports it if it is still ready. So such a change is skipped only when
// the source was found drained (a would-block, or a short read of a byte stream) by an I/O call
// that began after the last poll returned. Readiness that came after that drain woke the epoll
// instance and sits in its ready list until the next epoll_wait, so the re-report would add
// nothing. The poll count that dates drains (the clock) is shared with libpoll's sources
// (detail::EdgeLink), which read it before each I/O call; a foreign descriptor's user reports
// drains through Registry::drained, which counts only on the polling thread between polls. A
// deregister followed by a register of the same source is a fresh registration: the kernel is
// asked again, as it reports a ready source to a new registration.
//
// Threads: a change is recorded only when it is made on the thread that polls, which is never
// blocked in epoll_wait while it makes one. Any other thread's change is made at once, after
// whatever was recorded for its descriptor, so that a poll blocked meanwhile sees it (the
// Waker-free path). The table's lock orders the two: select() names its thread and makes the
// recorded changes under it.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "futex_mutex.hpp"
#include "ghost_gate.hpp"
#include "libpoll/result.hpp"
#include "sys/epoll_ctl_ring.hpp"
#include "sys/selector.hpp"

namespace libpoll::sys {

class PendingChanges {
 public:
  explicit PendingChanges(int epoll_fd);

  [[nodiscard]] std::shared_ptr<const std::atomic<std::uint64_t>> clock() const noexcept {
    return clock_;
  }
  [[nodiscard]] ChangeCounts counts() const noexcept;

  // select(), before it waits: this thread polls; every recorded change is made. Without a
  // lock when the thread polled last time too and has recorded nothing since: only the polling
  // thread records changes, so nothing can be waiting.
  void begin_poll() noexcept {
    if (poller_.load(std::memory_order_relaxed) == this_thread_tag() &&
        !recorded_.load(std::memory_order_acquire)) [[likely]]
      return;
    begin_poll_locked();
  }
  // select(), once the wait returned: a drain dated before now predates its events. (select()
  // runs on one thread at a time, the clock's only writer: no read-modify-write is needed.)
  void end_poll() noexcept {
    clock_->store(clock_->load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  // Makes every recorded change now, from any thread (the audit reads the kernel's list).
  void flush() noexcept;
  // The same, when something is recorded: a libpoll source about to close its descriptor. A
  // forked child leaves what its parent recorded alone, and takes no lock a thread of the
  // parent may have held at the fork.
  void flush_recorded() noexcept {
    if (recorded_.load(std::memory_order_acquire) && !inherited()) flush();
  }
  // Set, for good, when a recorded deregister failed: the kernel may still hold that
  // registration, under a token the book has let go.
  [[nodiscard]] const std::atomic<bool>& removal_lost() const noexcept { return removal_lost_; }

  // A register of `fd` for `state`, and a deregister. `may_defer`: a libpoll source's, which
  // may wait for the next poll. Errors are the kernel's, from a change made at once; a
  // recorded one that fails later is counted in late failures (and the audit finds it).
  Result<void> add(int fd, KernelState state, bool may_defer) noexcept;
  Result<void> remove(int fd, bool may_defer) noexcept;

  // A reregister to `wanted`. `drained_at`: the clock when every kind of the wanted interest was
  // last found drained, or 0. `may_defer`: the change may wait for the next poll (a libpoll
  // source, whose descriptor is open while it lives). Errors are the kernel's, from a change
  // made at once.
  Result<void> change(int fd, KernelState wanted, std::uint64_t drained_at,
                      bool may_defer) noexcept;
  // A reregister of a foreign descriptor to `wanted` (for `interest`), made at once so that the
  // kernel answers it, or skipped as change() would skip it, using the drains its user reported
  // (drained()); a skip first checks that the descriptor is open, as the kernel would have.
  Result<void> change_foreign(int fd, KernelState wanted, Interest interest) noexcept;

  // A foreign descriptor's user found `kind` drained (Registry::drained); counts only on the
  // polling thread, between polls.
  void drained(int fd, Interest kind) noexcept;

 private:
  struct Entry {
    KernelState held;    // what the kernel has, when `in_kernel`
    KernelState wanted;  // what it should have once the recorded change is made, when `wants`
    std::uint64_t drained_at = 0;
    std::uint64_t read_drained = 0;  // foreign descriptors' stamps (Registry::drained)
    std::uint64_t write_drained = 0;
    // A foreign descriptor's file (device, inode) as of a modify the kernel accepted: what a
    // skip compares the number's file with (skip_foreign).
    std::uint64_t file_device = 0;
    std::uint64_t file_inode = 0;
    bool file_known = false;
    bool known = false;      // registered here, and `in_kernel` and `held` are right
    bool in_kernel = false;  // the kernel has the registration
    bool wants = false;      // the registration should be there (false: a deregister waits)
    bool pending = false;    // a change is recorded
    bool fresh = false;      // the recorded change registers anew: the kernel is asked again
  };

  [[nodiscard]] Entry* find(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= entries_.size()) return nullptr;
    Entry& entry = entries_[static_cast<std::size_t>(fd)];
    return entry.known ? &entry : nullptr;
  }
  [[nodiscard]] bool current(std::uint64_t drained_at) const noexcept {
    return drained_at != 0 && drained_at == clock_->load(std::memory_order_relaxed);
  }
  [[nodiscard]] bool on_polling_thread() const noexcept {
    return poller_.load(std::memory_order_relaxed) == this_thread_tag();
  }
  // Whether `entry`, with no change recorded, can stay as it is for `wanted`.
  [[nodiscard]] bool can_skip(const Entry& entry, KernelState wanted,
                              std::uint64_t drained_at) const noexcept {
    return entry.in_kernel && !entry.fresh && entry.held == wanted && current(drained_at);
  }
  // Whether a register or deregister may be recorded now: on the polling thread, which has a
  // ring to make them in one system call.
  [[nodiscard]] bool may_record() noexcept {
    if (!on_polling_thread()) return false;
    if (poller_ring_generation_ != detail::generation()) [[unlikely]]
      look_up_poller_ring();
    return poller_ring_ != nullptr;
  }
  void look_up_poller_ring() noexcept;
  // Marks `entry` as having a recorded change; false, with nothing recorded, without memory for
  // it (the change is then made at once).
  bool try_record(int fd, Entry& entry) noexcept {
    if (inherited()) [[unlikely]]
      drop_inherited();
    if (!entry.pending) {
      if (pending_.size() == pending_.capacity() && !grow_pending()) [[unlikely]]
        return false;
      pending_.push_back(fd);  // within capacity: cannot throw
      entry.pending = true;
    }
    recorded_.store(true, std::memory_order_relaxed);
    return true;
  }
  [[gnu::noinline]] bool grow_pending() noexcept;
  // Whether what is recorded was recorded by the parent of this forked process: the epoll
  // instance is shared, so making it here would change the parent's registrations behind its
  // back (late, and perhaps to a token it has given up since).
  [[nodiscard]] bool inherited() const noexcept {
    return recorded_in_.load(std::memory_order_relaxed) != detail::generation();
  }
  // Forgets what the parent recorded: each entry goes back to what the kernel held at the fork.
  [[gnu::noinline]] void drop_inherited() noexcept;
  // Records a reregister of `entry` to `wanted` for the next poll, when this is the polling
  // thread; false when it is made at once instead.
  bool record_change(int fd, Entry& entry, KernelState wanted, std::uint64_t drained_at) noexcept {
    if (!on_polling_thread() || !try_record(fd, entry)) return false;
    entry.wanted = wanted;
    entry.wants = true;
    entry.drained_at = drained_at;
    return true;
  }
  // The epoll_ctl call that takes the kernel from `entry.held` to `entry.wanted`; op 0: none.
  [[nodiscard]] EpollCtl call_for(int fd, const Entry& entry) const noexcept;
  // Records the result of `call` in `entry`; false if it failed.
  bool settle(Entry& entry, const EpollCtl& call) noexcept;
  // Makes `entry`'s change now, with its own system call.
  Result<void> apply(int fd, Entry& entry) noexcept;
  // The same for a registration the kernel holds, to `entry.wanted` (the common reregister).
  [[gnu::always_inline]] inline Result<void> modify_now(int fd, Entry& entry) noexcept;
  // change(), when `fd` has no entry or has a change recorded.
  [[gnu::noinline]] Result<void> change_otherwise(int fd, Entry* entry, KernelState wanted,
                                                  std::uint64_t drained_at,
                                                  bool may_defer) noexcept;
  // change_foreign(), when the kernel holds `entry.wanted` already and its user drained it.
  [[gnu::noinline]] Result<void> skip_foreign(int fd, Entry& entry) noexcept;
  // remove(), when `fd` has no entry, or its register is still recorded.
  [[gnu::noinline]] Result<void> remove_otherwise(int fd, Entry* entry) noexcept;
  // An EPOLL_CTL_DEL made at once.
  [[gnu::always_inline]] inline Result<void> remove_now(int fd) noexcept;
  // Makes the change recorded for `entry` before a change made at once.
  void make_recorded(int fd, Entry& entry) noexcept;
  // `fd`'s entry, made room for; nullptr without memory for it.
  [[nodiscard]] Entry* slot(int fd) noexcept {
    if (static_cast<std::size_t>(fd) < entries_.size()) [[likely]]
      return &entries_[static_cast<std::size_t>(fd)];
    return grown_slot(fd);
  }
  [[nodiscard]] Entry* grown_slot(int fd) noexcept;
  // add(), when `fd` has no entry or has a change recorded.
  [[gnu::noinline]] Result<void> add_otherwise(int fd, Entry* entry, KernelState state,
                                               bool may_defer) noexcept;
  // A register of `fd`, with nothing recorded for it: recorded, or made at once.
  [[gnu::always_inline]] inline Result<void> add_known(int fd, Entry& entry, KernelState state,
                                                       bool may_defer) noexcept;
  // A register of `fd` while its deregister is recorded.
  Result<void> undo_removal(int fd, Entry& entry, KernelState state, bool may_defer) noexcept;
  void flush_locked() noexcept;
  void begin_poll_locked() noexcept;

  const int epoll_fd_;
  std::shared_ptr<std::atomic<std::uint64_t>> clock_;
  mutable detail::FutexMutex mutex_;  // guards everything below
  std::vector<Entry> entries_;        // indexed by fd
  std::vector<int> pending_;          // fds with a recorded change (or one undone since)
  std::vector<EpollCtl> batch_;       // flush's calls, kept for the next
  // The polling thread's ring (EpollCtlRing::of_this_thread), looked up at its first register
  // or deregister, and the process generation it was looked up in (a forked child has its own).
  static constexpr std::uint64_t kNotLookedUp = ~std::uint64_t{0};
  EpollCtlRing* poller_ring_ = nullptr;
  std::uint64_t poller_ring_generation_ = kNotLookedUp;
  std::atomic<bool> removal_lost_{false};
  // Written under the lock, read without it by begin_poll's fast path.
  std::atomic<const void*> poller_{nullptr};
  std::atomic<bool> recorded_{false};  // pending_ is not empty
  // detail::generation() of the process that recorded pending_ (written under the lock).
  std::atomic<std::uint64_t> recorded_in_{detail::generation()};
  std::uint64_t applied_ = 0;
  std::uint64_t skipped_ = 0;
  std::uint64_t late_failures_ = 0;
};

}  // namespace libpoll::sys

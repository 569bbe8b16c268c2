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
//
// Every call on a descriptor comes from the book with that descriptor's slot bit held
// (detail::FdSlot), so calls on one descriptor never overlap. The lock is therefore needed only
// where a change is recorded or one recorded is made: an entry with nothing recorded is written
// by nobody but the call holding the bit, which works on it without the lock (the common
// register, reregister and deregister of a source from a thread that is not polling, and every
// skip). An entry's `pending` flag is set and cleared under the lock, and cleared last, with
// release order, once the flush has settled the entry.

#include <sys/epoll.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>
#include <vector>

#include "futex_mutex.hpp"
#include "ghost_gate.hpp"
#include "libpoll/interest.hpp"
#include "libpoll/result.hpp"
#include "libpoll/token.hpp"
#include "sys/epoll_ctl_ring.hpp"
#include "sys/selector.hpp"
#include "thread_counters.hpp"

namespace libpoll::sys {

class PendingChanges {
 public:
  explicit PendingChanges(int epoll_fd);  // throws std::bad_alloc
  ~PendingChanges();
  PendingChanges(const PendingChanges&) = delete;
  PendingChanges& operator=(const PendingChanges&) = delete;

  // What the kernel is asked to hold for `interest` under `token`: edge-triggered, and
  // EPOLLRDHUP with readable, so that a peer's half-close is reported as read-closed.
  [[nodiscard]] static KernelState state_of(Token token, Interest interest) noexcept {
    return KernelState{.events = bits_of(kEpollBits, interest),
                       .data = static_cast<std::uint64_t>(token.value)};
  }

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

  // Every call below on `fd` is made with `fd`'s slot bit held (see the file's comment).
  //
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
  static constexpr InterestBits kEpollBits =
      interest_bits(EPOLLET, EPOLLIN | EPOLLRDHUP, EPOLLOUT, EPOLLPRI);

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
    bool fresh = false;      // the recorded change registers anew: the kernel is asked again
    // Whether a change is recorded (kRecorded; kInBatch while a flush waits for the kernel's
    // answer to it). Written under the lock only; while it is kNone, the entry belongs to the
    // call that holds its descriptor's slot bit (see the file's comment).
    static constexpr std::uint8_t kNone = 0;
    static constexpr std::uint8_t kRecorded = 1;
    static constexpr std::uint8_t kInBatch = 2;
    std::atomic<std::uint8_t> pending{kNone};

    // Everything but `pending` back to nothing known.
    void forget() noexcept {
      held = {};
      wanted = {};
      drained_at = read_drained = write_drained = file_device = file_inode = 0;
      file_known = known = in_kernel = wants = fresh = false;
    }
    // A registration the kernel has just taken, as `state`: every field is set once.
    void start(KernelState state) noexcept {
      held = wanted = state;
      drained_at = read_drained = write_drained = file_device = file_inode = 0;
      known = in_kernel = wants = true;
      file_known = fresh = false;
    }
    [[nodiscard]] bool is_pending() const noexcept {
      return pending.load(std::memory_order_acquire) != kNone;
    }
    void set_pending(bool recorded) noexcept {
      pending.store(recorded ? kRecorded : kNone, std::memory_order_release);
    }
  };

  // Entries live in chunks that never move, found through a table mapped once from zero pages,
  // so that the call holding a slot bit reaches its entry without the lock. A chunk is made
  // under the lock the first time a number in its range is registered.
  static constexpr std::size_t kChunkBits = 10;
  static constexpr std::size_t kChunkSize = std::size_t{1} << kChunkBits;
  static constexpr std::size_t kChunks = std::size_t{1} << 14;

  [[nodiscard]] Entry* existing(int fd) const noexcept {
    const auto index = static_cast<std::size_t>(static_cast<unsigned>(fd));
    if (index >= (kChunks << kChunkBits)) [[unlikely]]
      return nullptr;
    Entry* chunk =
        std::atomic_ref<Entry*>(chunks_[index >> kChunkBits]).load(std::memory_order_acquire);
    return chunk == nullptr ? nullptr : chunk + (index & (kChunkSize - 1));
  }
  // `fd`'s entry when it is registered here; read under the lock, or by the holder of the bit.
  [[nodiscard]] Entry* find(int fd) const noexcept {
    Entry* entry = existing(fd);
    return entry != nullptr && entry->known ? entry : nullptr;
  }
  // `fd`'s entry, made room for (under the lock); nullptr without memory for it.
  [[nodiscard]] Entry* slot(int fd) noexcept {
    Entry* entry = existing(fd);
    return entry != nullptr ? entry : grown_slot(fd);
  }
  [[nodiscard]] Entry* grown_slot(int fd) noexcept;

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
  static void count(std::atomic<std::uint64_t>& counter) noexcept {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  // Whether a register or deregister may be recorded now (under the lock): on the polling
  // thread, which has a ring to make them in one system call.
  [[nodiscard]] bool may_record() noexcept {
    if (!on_polling_thread()) return false;
    if (poller_ring_generation_ != detail::generation()) [[unlikely]]
      look_up_poller_ring();
    return poller_ring_ != nullptr;
  }
  void look_up_poller_ring() noexcept;
  // Marks `entry` as having a recorded change (under the lock); false, with nothing recorded,
  // without memory for it (the change is then made at once).
  bool try_record(int fd, Entry& entry) noexcept {
    if (inherited()) [[unlikely]]
      drop_inherited();
    if (!entry.pending.load(std::memory_order_relaxed)) {
      if (pending_.size() == pending_.capacity() && !grow_pending()) [[unlikely]]
        return false;
      pending_.push_back(fd);  // within capacity: cannot throw
      entry.set_pending(true);
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
  // Records a reregister of `entry` to `wanted` for the next poll (under the lock), when this is
  // the polling thread; false when it is made at once instead.
  bool record_change(int fd, Entry& entry, KernelState wanted, std::uint64_t drained_at) noexcept {
    if (!on_polling_thread() || !try_record(fd, entry)) return false;
    entry.wanted = wanted;
    entry.wants = true;
    entry.drained_at = drained_at;
    return true;
  }
  [[nodiscard]] static EpollCtl call_of(int op, int fd, KernelState state = {}) noexcept {
    EpollCtl call;
    call.op = op;
    call.fd = fd;
    call.state = state;
    return call;
  }
  [[nodiscard]] static Result<void> result_of(int result) noexcept {
    if (result == 0) return {};
    return Unexpected(std::error_code(-result, std::system_category()));
  }
  // The epoll_ctl call that takes the kernel from `entry.held` to `entry.wanted`; op 0: none.
  [[nodiscard]] EpollCtl call_for(int fd, const Entry& entry) const noexcept;
  // Records the result of `call` in `entry`; false if it failed.
  bool settle(Entry& entry, const EpollCtl& call) noexcept;
  // Makes `entry`'s recorded change now, with its own system call.
  Result<void> apply(int fd, Entry& entry) noexcept;
  // The same for a registration the kernel holds, to `entry.wanted` (the common reregister).
  [[gnu::always_inline]] inline Result<void> modify_now(int fd, Entry& entry) noexcept;
  // An EPOLL_CTL_ADD made at once, for an entry with nothing recorded.
  [[gnu::always_inline]] inline Result<void> add_now(int fd, Entry& entry,
                                                     KernelState state) noexcept;
  // An EPOLL_CTL_DEL made at once.
  [[gnu::always_inline]] inline Result<void> remove_now(int fd) noexcept;
  // The calls under the lock: something is recorded for `fd`, this call may record, or `fd`
  // has no entry yet.
  [[gnu::noinline]] Result<void> add_locked(int fd, KernelState state, bool may_defer) noexcept;
  [[gnu::noinline]] Result<void> change_locked(int fd, KernelState wanted, std::uint64_t drained_at,
                                               bool may_defer) noexcept;
  [[gnu::noinline]] Result<void> remove_locked(int fd, bool may_defer) noexcept;
  [[gnu::noinline]] Result<void> change_foreign_locked(int fd, KernelState wanted,
                                                       Interest interest) noexcept;
  // change_foreign() on a known entry with nothing recorded.
  Result<void> change_foreign_known(int fd, Entry& entry, KernelState wanted,
                                    Interest interest) noexcept;
  // change_foreign(), when the kernel holds `entry.wanted` already and its user drained it.
  [[gnu::noinline]] Result<void> skip_foreign(int fd, Entry& entry) noexcept;
  // Makes the change recorded for `entry` before a change made at once.
  void make_recorded(int fd, Entry& entry) noexcept;
  // A register of `fd` while its deregister is recorded.
  Result<void> undo_removal(int fd, Entry& entry, KernelState state, bool may_defer) noexcept;
  void flush_locked() noexcept;
  void begin_poll_locked() noexcept;

  const int epoll_fd_;
  std::shared_ptr<std::atomic<std::uint64_t>> clock_;
  Entry** chunks_ = nullptr;          // kChunks pointers, read through std::atomic_ref
  mutable detail::FutexMutex mutex_;  // guards everything below, and recording (see above)
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
  // Counted by calls with or without the lock, from any thread: the common ones per thread,
  // late failures with locked adds.
  enum Change : std::size_t { kApplied, kSkipped, kChanges };
  detail::ThreadCounters<kChanges> changes_;
  std::atomic<std::uint64_t> late_failures_{0};
};

}  // namespace libpoll::sys

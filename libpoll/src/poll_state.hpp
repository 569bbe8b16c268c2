#pragma once

// What a Poll and all its Registry clones share: the selector, the registration book and the
// loop's counters. The book lives here, above the selector contract, so that every backend gets
// the same misuse checks, sites, listing, audit and ghost-event count. Its entries live in the
// process-wide slot of each descriptor number (fd_owners.hpp), so that a registry call takes no
// lock but its slot's bit, and the claim that catches a number registered with two Polls comes
// with it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <span>
#include <utility>
#include <vector>

#include "audit_join.hpp"
#include "fd_owners.hpp"
#include "ghost_gate.hpp"
#include "libpoll/audit.hpp"
#include "libpoll/detail/io_result.hpp"
#include "libpoll/metrics.hpp"
#include "libpoll/poll.hpp"
#include "libpoll/registration_info.hpp"
#include "registry_counts.hpp"
#include "sys/handed_out_rings.hpp"
#include "sys/pending_changes.hpp"
#include "sys/selector.hpp"
#include "token_counts.hpp"

namespace libpoll::detail {

// registry_bench's measure of what the book costs (scripts/bench.sh): built with
// LIBPOLL_BENCH_WITHOUT_BOOK, each registry call goes straight to the selector, as in a library
// without a book; nothing else is fit to run on such a build.
#if defined(LIBPOLL_BENCH_WITHOUT_BOOK)
inline constexpr bool kWithoutBook = true;
#else
inline constexpr bool kWithoutBook = false;
#endif

class PollState {
 public:
  [[nodiscard]] static Result<std::shared_ptr<PollState>> create(
      const PollOptions& options) noexcept;
  ~PollState();
  PollState(const PollState&) = delete;
  PollState& operator=(const PollState&) = delete;

  [[nodiscard]] sys::Selector& selector() const noexcept { return *selector_; }
  // The selector's descriptor for the user (Poll::as_raw_fd): what they register through it
  // the book cannot know, so every batch's tokens are looked up from then on.
  // An io_uring ring handed out is listed, so that registering it is refused (see
  // sys/handed_out_rings.hpp).
  [[nodiscard]] int hand_out_handle() noexcept {
    ghosts_.make_possible();
    const int handle = selector_->native_handle();
    if (handle >= 0 && selector_->backend() == Backend::io_uring)
      sys::handed_out_rings::add(handle);
    return handle;
  }

  // `edge`: where a libpoll source wants the link to an edge-emulating selector (IoSource).
  Result<void> register_fd(int fd, Token token, Interest interest, sys::IoPath path,
                           EdgeLink* edge = nullptr) noexcept {
    return register_slot(fd, token, interest, path, edge);
  }
  // The Poll's own Waker: one per Poll, kept out of registrations() and the leak reports.
  Result<void> register_waker_fd(int fd, Token token) noexcept;
  [[nodiscard]] bool has_waker() const noexcept;
  // `path`, `drained_at`: see sys::Selector::reregister_fd.
  Result<void> reregister_fd(int fd, Token token, Interest interest,
                             sys::IoPath path = sys::IoPath::foreign,
                             std::uint64_t drained_at = 0) noexcept;
  // `may_defer`: from a libpoll source (see sys::Selector::register_fd).
  Result<void> deregister_fd(int fd, bool may_defer = false) noexcept;
  // The user's own I/O on a registered foreign fd returned would-block for `kinds`.
  Result<void> drained(int fd, Interest kinds) noexcept;

  Result<void> select(Events& events, int timeout_ms) noexcept;

  [[nodiscard]] std::vector<RegistrationInfo> registrations() const;
  [[nodiscard]] Result<AuditReport> audit() const;
  [[nodiscard]] PollMetrics metrics() const noexcept;

  // Any thread, no lock held.
  void count_guard_failure() noexcept { count(guard_failures_); }

  // For another Poll's registry call that holds the bit of `fd`'s slot, owned by this Poll:
  // whether this Poll's selector really watches the file now at `fd`.
  [[nodiscard]] bool holds(int fd) noexcept { return selector_->holds(fd); }
  // The same call found this Poll's registration stale (closed without deregister, the number
  // reused) and takes the number: the registration is retired and reported as taken.
  [[nodiscard]] RegistrationInfo retire_taken(int fd, const BookEntry& entry) noexcept;
  // Passes a registration the book lost to the leak handler (or prints it). No lock held.
  void report_lost(const RegistrationInfo& lost) noexcept;

  // Empty: the default handler, which prints; a handler holding no target: silence.
  void set_leak_handler(std::optional<LeakHandler> handler);
  // The Poll is being destroyed: its live registrations go to the leak handler.
  void report_leaks() noexcept;

 private:
  // A registration the book lost track of without a deregister: its fd was closed (and perhaps
  // reused) first. Kept, bounded, for the audit to classify.
  struct Retired {
    int fd;
    BookEntry entry;
    Retirement reason;
  };
  static constexpr std::size_t kMaxRetired = audit_history;
  // A registration lost on the way, to report once the slot is free again.
  struct Lost {
    std::shared_ptr<PollState> owner;  // whose leak handler hears of it; nullptr: this Poll's
    RegistrationInfo info;
  };

  PollState(std::shared_ptr<sys::Selector> selector, const PollOptions& options);

  // Registry counters may be bumped by any thread: a relaxed add on this Poll's own line.
  static void count(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) noexcept {
    counter.fetch_add(by, std::memory_order_relaxed);
  }
  // Poll counters have one writer, the polling thread: a relaxed load and store is enough.
  static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  // A call counted with its claim that the selector then refused is counted back: release, so
  // that a reader that sees it (metrics(), which reads these first) sees the count it undoes.
  static void count_refused(std::atomic<std::uint64_t>& counter) noexcept {
    counter.fetch_add(1, std::memory_order_release);
  }
  Result<void> fail(std::error_code error) noexcept {
    count(failed_operations_);
    return Unexpected(error);
  }

  // The registry's calls are split: a short common path that inlines nothing rare, and the
  // rest in functions of their own, so that the common path keeps few values alive across its
  // system call.
  Result<void> register_slot(int fd, Token token, Interest interest, sys::IoPath path,
                             EdgeLink* edge) noexcept;
  // The number was free and is claimed: the bit is held. Inlined into its callers, so that a
  // register makes one call into the book, not two. register_counted: the token is counted too.
  [[gnu::always_inline]] inline Result<void> register_claimed(int fd, FdSlot& slot, Token token,
                                                              Interest interest, bool own,
                                                              sys::IoPath path,
                                                              EdgeLink* edge) noexcept;
  // `counted`: the call was counted with the claim (in a section of the writer bias).
  [[gnu::always_inline]] inline Result<void> register_counted(int fd, FdSlot& slot, Token token,
                                                              Interest interest, bool own,
                                                              sys::IoPath path, EdgeLink* edge,
                                                              bool counted) noexcept;
  // Everything but the common register: without the writer bias, a token beyond TokenCounts'
  // array, a number whose chunk of slots is not made yet, io_uring rings handed out, or the
  // Poll's own Waker (`own`). The claim with a compare-and-swap, counts per thread.
  [[gnu::noinline]] Result<void> register_unbiased(int fd, Token token, Interest interest, bool own,
                                                   sys::IoPath path, EdgeLink* edge) noexcept;
  // The selector refused the register: the slot is free again, the token uncounted.
  [[gnu::noinline]] Result<void> register_refused(FdSlot& slot, std::error_code error,
                                                  bool counted) noexcept;
  // The slot is owned, busy, or out of reach.
  [[gnu::noinline]] Result<void> register_contested(int fd, FdSlot* slot, Token token,
                                                    Interest interest, bool own, sys::IoPath path,
                                                    EdgeLink* edge) noexcept;
  // On success the caller holds the bit of a slot it may take; `lost` names a stale
  // registration it replaced.
  Result<void> take_slot(int fd, FdSlot& slot, std::optional<Lost>& lost) noexcept;
  // A reregister's arguments, passed on to the slower paths whole.
  struct Reregistration {
    Token token;
    Interest interest;
    sys::IoPath path;
    std::uint64_t drained_at;
  };
  [[gnu::noinline]] Result<void> reregister_waiting(int fd, FdSlot* slot,
                                                    const Reregistration& change) noexcept;
  // Without the writer bias: the bit taken with a compare-and-swap, or waited for.
  [[gnu::noinline]] Result<void> reregister_unbiased(int fd, FdSlot* slot,
                                                     const Reregistration& change) noexcept;
  // The selector refused a reregister counted with its claim.
  [[gnu::noinline]] Result<void> reregister_refused(FdSlot& slot, std::error_code error) noexcept;
  // The bit held: the general case, a new token included.
  [[gnu::noinline]] Result<void> reregister_locked(int fd, FdSlot& slot,
                                                   const Reregistration& change) noexcept;
  // A deregister whose slot bit is held and whose removal is counted as begun. `token_left`:
  // the token's count was taken already; `bias_owner`: this thread owns the writer bias's row.
  // Inlined into the common path, whose frame then holds only what the call needs after the
  // system call; the rarer paths call it from functions of their own.
  [[gnu::always_inline]] inline Result<void> deregister_begun(int fd, FdSlot& slot, bool may_defer,
                                                              bool token_left,
                                                              bool bias_owner) noexcept;
  // The bias held, and a token beyond TokenCounts' array.
  [[gnu::noinline]] Result<void> deregister_large_token(int fd, FdSlot& slot,
                                                        bool may_defer) noexcept;
  // Without the bias: the bit taken with a compare-and-swap (or waited for), counts per thread.
  [[gnu::noinline]] Result<void> deregister_unbiased(int fd, FdSlot* slot, bool may_defer) noexcept;
  // The selector refused the deregister: the book goes back to what it held.
  [[gnu::noinline]] Result<void> deregister_refused(FdSlot& slot, std::error_code error,
                                                    bool token_left) noexcept;
  // The selector refused a call on a slot whose bit is held.
  [[gnu::noinline]] Result<void> failed_on_slot(FdSlot& slot, std::error_code error) noexcept;
  // Reregister and deregister of a slot this Poll does not hold at once: the bit held by
  // another call (then this one waits), or the number not registered here.
  [[gnu::noinline]] Result<void> locked_or_refused(int fd, FdSlot* slot) noexcept;
  Result<void> refuse(int fd) noexcept;
  // The selector's register, reregister and deregister, straight to epoll's change table when
  // that is the backend (most Polls): one call less on every registry call.
  Result<void> kernel_register(int fd, Token token, Interest interest, sys::IoPath path,
                               bool may_defer) noexcept {
    if (epoll_changes_ != nullptr) [[likely]]
      return epoll_changes_->add(fd, sys::PendingChanges::state_of(token, interest), may_defer);
    return selector_->register_fd(fd, token, interest, path, may_defer);
  }
  Result<void> kernel_reregister(int fd, Token token, Interest interest, sys::IoPath path,
                                 std::uint64_t drained_at) noexcept {
    if (epoll_changes_ == nullptr) [[unlikely]]
      return selector_->reregister_fd(fd, token, interest, path, drained_at);
    const auto wanted = sys::PendingChanges::state_of(token, interest);
    if (path == sys::IoPath::libpoll) return epoll_changes_->change(fd, wanted, drained_at, true);
    return epoll_changes_->change_foreign(fd, wanted, interest);
  }
  Result<void> kernel_deregister(int fd, bool may_defer) noexcept {
    if (epoll_changes_ != nullptr) [[likely]]
      return epoll_changes_->remove(fd, may_defer);
    return selector_->deregister_fd(fd, may_defer);
  }
  // The slot's registration is gone from the kernel (its fd closed): retire it, free the slot.
  void retire_lost(int fd, FdSlot& slot) noexcept;
  RegistrationInfo retire(int fd, const BookEntry& entry, Retirement reason) noexcept;
  // `fd` was registered again: this Poll's lost records of it become replaced ones, each
  // reported once to the leak handler and counted as stale, as a registration replaced at the
  // claim is. No lock held.
  [[gnu::noinline]] void replace_lost(int fd) noexcept;
  // Calls `visit(fd, slot)` with the bit held for every slot this Poll owns; `visit` clears it.
  // Numbers for which `skip(fd)` holds are passed over (their bits are the caller's).
  template <typename Visit, typename Skip>
  void for_each_owned(Visit&& visit, Skip&& skip) const;
  template <typename Visit>
  void for_each_owned(Visit&& visit) const {
    for_each_owned(std::forward<Visit>(visit), [](int) { return false; });
  }
  // The book's live and retired records, the slots of `held` (sorted numbers whose bits the
  // caller holds, with their owners) read without locking them again.
  void book_records(std::span<const std::pair<int, std::uint64_t>> held,
                    std::vector<BookRecord>& live, std::vector<BookRecord>& retired) const;
  // One audit of `held`'s view of the book against the selector's list.
  [[nodiscard]] Result<AuditReport> audit_once(
      std::span<const std::pair<int, std::uint64_t>> held) const;
  // Audits again with the bits of every number `first` named held, so that no registry call
  // on them can land between the book's snapshot and the selector's list: what `first` found
  // only because a call raced it is gone. Findings on other numbers are left out (they raced).
  [[nodiscard]] Result<AuditReport> confirm(const AuditReport& first) const;
  // The registrations retired as lost (closed before deregister) and never reported.
  [[nodiscard]] std::vector<RegistrationInfo> lost_registrations() const;
  [[nodiscard]] RegistrationInfo info_of(int fd, const BookEntry& entry) const;
  // Fills each listed registration's file from its selector: poll(2) and io_uring took it at
  // registration; epoll's kernel lists it while it holds the registration.
  void attach_files(std::vector<RegistrationInfo>& list) const;

  std::shared_ptr<sys::Selector> selector_;
  sys::PendingChanges* const epoll_changes_;  // selector_'s, when it is epoll's
  const bool links_sources_;   // the selector wants a link from each libpoll source (EdgeLink)
  const bool receives_ahead_;  // the selector reads byte streams ahead (receive_ahead)
  const std::uint64_t id_;

  TokenCounts tokens_;
  // Written by registry calls, from any thread: the successful calls and the ghost gate's
  // removals (every call counts, with no locked instruction), the rarer counts below with
  // locked adds.
  RegistryCounts counts_;
  GhostGate ghosts_;  // whether a batch's tokens need looking up
  std::atomic<int> waker_fd_{-1};

  mutable std::mutex retired_mutex_;  // guards retired_ alone
  std::vector<Retired> retired_;
  std::atomic<std::size_t> lost_records_{0};  // retired_'s lost ones: read by every register

  mutable std::mutex handler_mutex_;  // guards leak_handler_ alone: handlers run unlocked
  std::optional<LeakHandler> leak_handler_;

  alignas(64) std::atomic<std::uint64_t> failed_operations_{0};
  std::atomic<std::uint64_t> guard_failures_{0};
  std::atomic<std::uint64_t> stale_registrations_{0};
  std::atomic<std::uint64_t> refused_registers_{0};  // counted back (count_refused)
  std::atomic<std::uint64_t> refused_reregisters_{0};

  // Written by the polling thread alone.
  alignas(64) std::atomic<std::uint64_t> polls_{0};
  std::atomic<std::uint64_t> events_{0};
  std::atomic<std::uint64_t> ghost_events_{0};
  std::array<std::atomic<std::uint64_t>, 16> events_per_poll_{};
  std::atomic<std::int64_t> blocked_ns_{0};

  const bool measure_blocked_time_;
  const std::chrono::steady_clock::time_point created_;
};

template <typename Visit, typename Skip>
void PollState::for_each_owned(Visit&& visit, Skip&& skip) const {
  // Every slot made so far: a number this Poll holds had its slot made before its register.
  const int highest = highest_slot_number.load(std::memory_order_acquire);
  for (int fd = 0; fd <= highest; ++fd) {
    FdSlot* slot = existing_slot_of(fd);
    if (slot == nullptr) {
      fd |= (1 << kSlotChunkBits) - 1;  // no slot of this chunk was ever used
      continue;
    }
    if (slot->owner() != id_ || skip(fd)) continue;
    const std::uint64_t owner = slot->lock();
    if (owner == id_) {
      visit(fd, *slot);  // leaves the bit clear, with whatever owner it chose
    } else {
      slot->unlock(owner);
    }
  }
}

}  // namespace libpoll::detail

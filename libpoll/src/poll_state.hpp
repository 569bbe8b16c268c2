#pragma once

// What a Poll and all its Registry clones share: the selector, the registration book and the
// loop's counters. The book lives here, above the selector contract, so that every backend gets
// the same misuse checks, sites, listing, audit and ghost-event count.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <vector>

#include "futex_mutex.hpp"
#include "libpoll/audit.hpp"
#include "libpoll/detail/io_result.hpp"
#include "libpoll/metrics.hpp"
#include "libpoll/poll.hpp"
#include "libpoll/registration_info.hpp"
#include "sys/selector.hpp"
#include "token_counts.hpp"

namespace libpoll::detail {

class PollState {
 public:
  [[nodiscard]] static Result<std::shared_ptr<PollState>> create(
      const PollOptions& options) noexcept;
  ~PollState();
  PollState(const PollState&) = delete;
  PollState& operator=(const PollState&) = delete;

  [[nodiscard]] sys::Selector& selector() const noexcept { return *selector_; }

  // `edge`: where a libpoll source wants the link to an edge-emulating selector (IoSource).
  Result<void> register_fd(int fd, Token token, Interest interest, sys::IoPath path,
                           EdgeLink* edge = nullptr) noexcept;
  // The Poll's own Waker: one per Poll, kept out of registrations() and the leak reports.
  Result<void> register_waker_fd(int fd, Token token) noexcept;
  [[nodiscard]] bool has_waker() const noexcept;
  // `path`, `drained_at`: see sys::Selector::reregister_fd.
  Result<void> reregister_fd(int fd, Token token, Interest interest,
                             sys::IoPath path = sys::IoPath::foreign,
                             std::uint64_t drained_at = 0) noexcept;
  Result<void> deregister_fd(int fd) noexcept;
  // The user's own I/O on a registered foreign fd returned would-block for `kinds`.
  Result<void> drained(int fd, Interest kinds) noexcept;

  Result<void> select(Events& events, int timeout_ms) noexcept;

  [[nodiscard]] std::vector<RegistrationInfo> registrations() const;
  [[nodiscard]] Result<AuditReport> audit() const;
  [[nodiscard]] PollMetrics metrics() const noexcept;

  // Any thread, no lock held: the one counter that needs a read-modify-write.
  void count_guard_failure() noexcept { guard_failures_.fetch_add(1, std::memory_order_relaxed); }

  // For another Poll that finds `fd` claimed by this one: true when this Poll really holds the
  // file now at `fd`; otherwise the claim was stale (closed without deregister) and is retired.
  bool confirm_or_retire(int fd) noexcept;
  // The same question without retiring anything.
  [[nodiscard]] bool holds_live(int fd) noexcept;

  // Empty: the default handler, which prints; a handler holding no target: silence.
  void set_leak_handler(std::optional<LeakHandler> handler);
  // The Poll is being destroyed: its live registrations go to the leak handler.
  void report_leaks() noexcept;

 private:
  // One registration in the book. Entries are indexed by fd: descriptor numbers are small and
  // dense, so this is a vector index, not a hash lookup.
  struct Entry {
    bool live = false;
    bool own = false;  // the Poll's Waker, not a user registration
    Token token{0};
    Interest interest = Interest::readable;
    std::source_location site;
    std::optional<FileIdentity> file;  // fstat at registration: it outlives a close
  };
  // A registration the book lost track of without a deregister: its fd was closed (and perhaps
  // reused) first. Kept, bounded, for the audit to classify.
  struct Retired {
    int fd;
    Entry entry;
    bool replaced;  // reported once when replaced: kept only to name a zombie, never `vanished`
  };
  static constexpr std::size_t kMaxRetired = audit_history;

  PollState(std::shared_ptr<sys::Selector> selector, const PollOptions& options) noexcept;

  // Only the thread holding mutex_ (registry counters) or the polling thread (poll counters)
  // writes a counter, so a relaxed load and store is enough; readers on other threads see a
  // recent value.
  static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  [[nodiscard]] Entry* live_entry(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= entries_.size()) return nullptr;
    Entry& entry = entries_[static_cast<std::size_t>(fd)];
    return entry.live ? &entry : nullptr;
  }
  Result<void> register_entry(int fd, Entry entry, sys::IoPath path,
                              EdgeLink* edge = nullptr) noexcept;
  Result<void> register_locked(int fd, const Entry& wanted, sys::IoPath path, EdgeLink* edge,
                               std::optional<RegistrationInfo>& replaced) noexcept;
  void add_entry(int fd, const Entry& entry);
  // Drops a registration whose fd was closed before deregister. `replaced`: its number is
  // registered again, so it is reported once (returned for the leak handler, counted) and never
  // again as `vanished`; otherwise the caller got an error and audits keep naming it.
  RegistrationInfo retire(int fd, bool replaced) noexcept;
  void forget(int fd) noexcept;
  Result<void> claim(int fd) noexcept;
  [[nodiscard]] bool held_by_another_poll(int fd) const noexcept;
  [[nodiscard]] RegistrationInfo info_of(int fd, const Entry& entry) const;
  void report_lost(const RegistrationInfo& lost) noexcept;

  std::shared_ptr<sys::Selector> selector_;
  const bool links_sources_;  // the selector wants a link from each libpoll source (EdgeLink)
  const std::uint64_t id_;

  mutable FutexMutex mutex_;  // guards the book: entries_, tokens_, retired_, live_count_
  std::vector<Entry> entries_;
  TokenCounts tokens_;
  std::vector<Retired> retired_;
  std::size_t live_count_ = 0;
  int waker_fd_ = -1;

  mutable std::mutex handler_mutex_;  // guards leak_handler_ alone: handlers run unlocked
  std::optional<LeakHandler> leak_handler_;

  std::atomic<std::uint64_t> polls_{0};
  std::atomic<std::uint64_t> events_{0};
  std::atomic<std::uint64_t> ghost_events_{0};
  std::atomic<std::uint64_t> registers_{0};
  std::atomic<std::uint64_t> reregisters_{0};
  std::atomic<std::uint64_t> deregisters_{0};
  std::atomic<std::uint64_t> failed_operations_{0};
  std::atomic<std::uint64_t> guard_failures_{0};
  std::atomic<std::uint64_t> stale_registrations_{0};
  std::array<std::atomic<std::uint64_t>, 16> events_per_poll_{};

  const bool measure_blocked_time_;
  const std::chrono::steady_clock::time_point created_;
  std::atomic<std::int64_t> blocked_ns_{0};
};

}  // namespace libpoll::detail

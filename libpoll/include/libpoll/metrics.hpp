#pragma once

/// \file
/// `PollMetrics`: what a `Poll`'s loop has done, readable at any time from any thread.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

namespace libpoll {

/// A snapshot of one `Poll`'s counters (`Poll::metrics()`). The counters are cheap enough to be
/// always on: each is a relaxed store by the thread that owns it.
struct PollMetrics {
  /// `Poll::poll` calls that returned successfully.
  std::uint64_t polls = 0;
  /// Events those calls returned.
  std::uint64_t events = 0;
  /// Events whose token matched no live registration when they were returned: a source closed
  /// without deregister whose file lives on (dup, fork), or a deregister racing the poll.
  std::uint64_t ghost_events = 0;

  /// Successful registry operations by kind (epoll's add, modify and delete). A register or
  /// reregister under way on another thread may be counted before the kernel answers it; one the
  /// kernel refuses is counted back.
  std::uint64_t registers = 0;
  std::uint64_t reregisters = 0;
  std::uint64_t deregisters = 0;
  /// Registry operations that returned an error (misuse, or the kernel's refusal).
  std::uint64_t failed_operations = 0;
  /// `Registration` guards whose deregister failed in their destructor.
  std::uint64_t guard_failures = 0;
  /// What the selector did with reregisters: changes it made in the kernel (`EPOLL_CTL_MOD`
  /// calls on epoll, queue entries on io_uring; none on poll(2), whose table is its own), changes
  /// it skipped because the kernel already held that state and nothing could be lost (see
  /// `Registry`, "Reregistering"), and recorded changes that failed when the next poll made
  /// them, after the call had returned success (a descriptor closed, or its number reused,
  /// between the call and that poll).
  std::uint64_t kernel_changes = 0;
  std::uint64_t skipped_changes = 0;
  std::uint64_t late_change_failures = 0;
  /// Completions of receive requests that brought bytes (`PollOptions::receive_ahead`): reads
  /// the user's loop did not have to make.
  std::uint64_t received_ahead = 0;
  /// Registrations the book replaced because their descriptor had been closed before
  /// deregister and the number was registered again (each also passed to the leak handler).
  std::uint64_t stale_registrations = 0;

  /// Polls by number of events returned: bucket 0 counts polls that returned none (timeouts),
  /// bucket b > 0 counts polls that returned [2^(b-1), 2^b) events; the last bucket is open.
  std::array<std::uint64_t, 16> events_per_poll{};

  /// Time spent blocked in the selector, and the wall time over which it was measured (since
  /// the Poll was created); both empty unless the Poll was created with
  /// `PollOptions::measure_blocked_time`.
  std::optional<std::chrono::nanoseconds> blocked_time;
  std::optional<std::chrono::nanoseconds> measured_time;

  /// Mean events per poll call (0 before the first poll).
  [[nodiscard]] double events_per_wakeup() const noexcept {
    return polls == 0 ? 0.0 : static_cast<double>(events) / static_cast<double>(polls);
  }
  /// The share of the measured wall time the loop spent outside the selector, in [0, 1]; empty
  /// when blocked time is not measured or nothing was measured yet.
  [[nodiscard]] std::optional<double> busy_ratio() const noexcept {
    if (!blocked_time || !measured_time || measured_time->count() <= 0) return std::nullopt;
    const double busy = 1.0 - static_cast<double>(blocked_time->count()) /
                                  static_cast<double>(measured_time->count());
    return busy < 0.0 ? 0.0 : (busy > 1.0 ? 1.0 : busy);
  }
};

}  // namespace libpoll

#pragma once

/// \file
/// `Poll`: waits for readiness events on registered sources.

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "libpoll/audit.hpp"
#include "libpoll/backend.hpp"
#include "libpoll/detail/timeout.hpp"
#include "libpoll/events.hpp"
#include "libpoll/metrics.hpp"
#include "libpoll/registration_info.hpp"
#include "libpoll/registry.hpp"
#include "libpoll/result.hpp"

namespace libpoll {

/// How `Poll::create` sets a poll up.
struct PollOptions {
  Backend backend = Backend::automatic;
  /// Measure the time spent blocked in the selector (two clock reads per poll), so that
  /// `PollMetrics::busy_ratio` can be derived.
  bool measure_blocked_time = false;
  /// This Poll is polled by one thread all its life. On io_uring (Linux 6.1 and later) its first
  /// poll then moves it to a ring that the polling thread makes and alone may enter
  /// (`IORING_SETUP_SINGLE_ISSUER`, `IORING_SETUP_DEFER_TASKRUN`), which makes each event
  /// cheaper. Registry calls from other threads still work, but a deregister from another thread
  /// lets the file go only at the next poll, and a poll from another thread moves the
  /// registrations to a new ring, whose old one's closing may end one wait of the old thread, if
  /// it lives, with `EINTR`. Other backends ignore it. `LIBPOLL_IO_URING_SINGLE_ISSUER=1` in the
  /// environment sets it for every io_uring Poll.
  bool single_thread = false;
  /// On io_uring, read libpoll's byte streams (`TcpStream`, `UnixStream`) ahead of their user:
  /// each one registered for readable (and not for priority: reading past urgent data would end
  /// it) gets a multishot receive request, so the kernel copies
  /// arriving data into buffers this Poll provides, and the stream's `read`, `readv` and `peek`
  /// take it from there, with no system call per event. Readable events mean what they mean on
  /// the other backends: bytes to read, the end of the stream, or an error (a reset, a refused
  /// connection), which the next read (or `take_error`) returns. Read such a stream only through
  /// those calls: the descriptor's own reads would miss what was received ahead. A stream whose
  /// unread bytes pass 64 KiB stops being read ahead until they are read (its peer then meets a
  /// full socket buffer, as it would without this). A deregistered stream keeps the bytes it was
  /// sent before the deregister, and reads them first; registered again with a receive-ahead
  /// Poll it is reported readable at once, while another backend reports only new data, so read
  /// it until would-block before moving it to one. The ring is never bound to a thread
  /// (`single_thread` is ignored). Where the kernel cannot receive ahead (before Linux 6.0) the
  /// Poll works by readiness; `PollMetrics::received_ahead` counts what it received. Other
  /// backends ignore it. `LIBPOLL_IO_URING_RECEIVE_AHEAD=1` in the environment sets it for every
  /// io_uring Poll.
  bool receive_ahead = false;
};

/// Receives registrations that were never deregistered: the live registrations of a `Poll`
/// that is being destroyed, or one registration the book dropped because its descriptor had
/// been closed before deregister and the number was registered again (see `Poll`).
using LeakHandler = std::function<void(std::span<const RegistrationInfo> leaked)>;

/// Owns a selector (epoll, or portable poll(2): see `Backend`) and waits on it for readiness of
/// registered sources.
///
/// ```cpp
/// auto poll = libpoll::Poll::create().value();
/// auto listener = libpoll::net::TcpListener::bind(addr).value();
/// poll.registry().register_source(listener, kServer, libpoll::Interest::readable).value();
/// libpoll::Events events(128);
/// for (;;) {
///   if (auto polled = poll.poll(events, std::nullopt); !polled) {
///     if (polled.error() == std::errc::interrupted) continue;
///     return polled.error();
///   }
///   for (const libpoll::Event& event : events) { /* accept until would-block */ }
/// }
/// ```
///
/// ## Edge-triggered
/// Readiness is always edge-triggered: one event is delivered when a source becomes ready, and
/// no other until it becomes ready again. After an event, keep reading (or writing, or
/// accepting) until the call fails with would-block (`is_would_block`); stopping earlier can
/// leave data that no event will ever announce.
///
/// ## Spurious events
/// An event is a hint. A read after a readable event may still return would-block, and several
/// readiness changes may be merged into one event. Always handle would-block.
///
/// ## Threads
/// `poll` is called from one thread at a time. The `Registry` may be used concurrently from any
/// thread (through `registry().clone()`), and `Waker` wakes a blocked `poll` from any thread.
///
/// ## Registrations, audit and metrics
/// The `Poll` keeps a book of its live registrations (see `Registry`): `registrations()` lists
/// them, `audit()` holds them against the kernel's own list, and `metrics()` counts what the
/// loop did.
///
/// ## Destroying a Poll
/// Destroying the `Poll` closes its selector once the last `Registry` clone is gone. Sources
/// registered with it are not closed and their registrations die with the selector. Sources
/// still registered at that moment are leaks by the contract (deregister first): they are
/// passed to the leak handler, which by default prints each with its registration site to
/// stderr. The `Poll`'s own `Waker` is not a user registration and is never reported.
///
/// ## Fork
/// A forked child's copy of a `Poll` shares the parent's selector where the kernel shares it: on
/// epoll its registry calls and polls reach the parent's epoll instance (a deregister there
/// removes the parent's registration too), on poll(2) the child has its own table. An io_uring
/// ring cannot be shared (each process keeps its own view of its queues): in the child, `poll`,
/// `register_source` and `reregister_source` fail with `std::errc::operation_not_supported`,
/// and `deregister_source` only forgets the child's record. A child that polls creates its own
/// `Poll`; destroying the copy never touches the parent's registrations.
///
/// ## Closed before deregister
/// A registration whose descriptor was closed first is `vanished` in audits (also after a
/// deregister or reregister that failed with `EBADF`/`ENOENT`, within the last `audit_history`
/// of them) until its number is registered again, which replaces it. The replaced registration
/// then goes once to the leak handler (on the thread that registered), is counted in
/// `PollMetrics::stale_registrations`, and later audits do not report it again.
///
/// A moved-from `Poll` may only be destroyed or assigned to; its `poll` fails with
/// `std::errc::bad_file_descriptor`.
class Poll {
 public:
  /// A selector of the requested backend.
  ///
  /// Errors: the selector's creation errors (`EMFILE` when the process is out of descriptors);
  /// `std::errc::function_not_supported` for a backend this platform lacks;
  /// `std::errc::invalid_argument` for `automatic` when `LIBPOLL_BACKEND` names no backend.
  [[nodiscard]] static Result<Poll> create(Backend backend = Backend::automatic) noexcept;
  [[nodiscard]] static Result<Poll> create(const PollOptions& options) noexcept;

  Poll(Poll&&) noexcept = default;
  /// Reports this poll's leaks (as the destructor does), then takes over `other`.
  Poll& operator=(Poll&& other) noexcept;
  /// Reports live registrations to the leak handler.
  ~Poll();

  /// Clears `events`, then waits until at least one registered source is ready or `timeout`
  /// passes, and stores up to `events.capacity()` events.
  ///
  /// - `std::nullopt`: wait with no time limit.
  /// - zero (or negative): do not wait, but still collect every event that is ready now.
  /// - any other duration, of any `std::chrono::duration` type: rounded *up* to whole
  ///   milliseconds, so that a sub-millisecond timeout waits rather than spins, and capped at
  ///   `INT_MAX` milliseconds (about 24.8 days), `milliseconds::max()` and the like included.
  ///
  /// Returns with no events when the timeout passes. A signal delivered to this thread ends the
  /// wait with `std::errc::interrupted`, which is returned and not retried, so that the caller
  /// can look at whatever the signal handler recorded.
  Result<void> poll(Events& events, std::optional<std::chrono::nanoseconds> timeout) noexcept {
    return poll_for_milliseconds(events, detail::timeout_to_milliseconds(timeout));
  }
  // Every other duration type is taken as it is: converted to nanoseconds at the call, a long
  // one (`std::chrono::seconds::max()`) would overflow and not wait at all.
  template <typename Rep, typename Period>
  Result<void> poll(Events& events, std::chrono::duration<Rep, Period> timeout) noexcept {
    return poll_for_milliseconds(events, detail::timeout_to_milliseconds(timeout));
  }
  template <typename Rep, typename Period>
  Result<void> poll(Events& events,
                    std::optional<std::chrono::duration<Rep, Period>> timeout) noexcept {
    return poll_for_milliseconds(events, detail::timeout_to_milliseconds(timeout));
  }

  /// The registry of this poll's selector.
  [[nodiscard]] const Registry& registry() const noexcept { return registry_; }

  /// The backend this poll runs (never `Backend::automatic`).
  [[nodiscard]] Backend backend() const noexcept;

  /// The live registrations, with their files' identities as the selector recorded them.
  [[nodiscard]] std::vector<RegistrationInfo> registrations() const;

  /// Holds the book against the selector's own list: on epoll the kernel's, read from
  /// `/proc/self/fdinfo/<epoll fd>`; on poll(2) its table and the process's open descriptors.
  /// Errors: reading fdinfo failed.
  [[nodiscard]] Result<AuditReport> audit() const;

  /// A snapshot of the counters; callable from any thread.
  [[nodiscard]] PollMetrics metrics() const noexcept;

  /// Replaces the handler that hears of registrations never deregistered (an empty handler
  /// silences it). Shared with every `Registry` clone; it may be called on any thread that
  /// registers. Do not call the `Registry` from it.
  void set_leak_handler(LeakHandler handler);
  /// Restores the default handler, which prints each registration with its site to stderr.
  void reset_leak_handler();

  /// The selector's descriptor: the epoll fd, the io_uring ring's, or -1 on poll(2).
  ///
  /// An epoll `Poll` nests: registered (readable) with another `Poll`, its descriptor is
  /// reported once one of its sources is ready; then poll it, without waiting, until it has no
  /// events. An io_uring `Poll` does not: its registrations reach the kernel only with its own
  /// next `poll`, and until then its ring cannot become readable for them, so registering its
  /// descriptor (or a duplicate) with any `Poll` fails with `Errc::nested_io_uring_poll`
  /// (`std::errc::operation_not_supported`).
  [[nodiscard]] int as_raw_fd() const noexcept;

 private:
  void report_leaks() noexcept;

  Result<void> poll_for_milliseconds(Events& events, int timeout_ms) noexcept;

  explicit Poll(Registry registry) noexcept;

  Registry registry_;
};

}  // namespace libpoll

#pragma once

/// \file
/// `Registry`: registers sources with a `Poll`.

#include <cstdint>
#include <memory>
#include <source_location>

#include "libpoll/detail/registration_site.hpp"
#include "libpoll/interest.hpp"
#include "libpoll/result.hpp"
#include "libpoll/source.hpp"
#include "libpoll/token.hpp"

namespace libpoll {

namespace detail {
class EdgeLink;
class PollState;
}  // namespace detail

class IoSource;
class Poll;
class Registration;
class SourceFd;
class Waker;

/// Registers, reregisters and deregisters event sources with the selector of one `Poll`.
///
/// Obtained from `Poll::registry()`. All calls are thread-safe: a `clone()` may be handed to
/// other threads, and a source registered from one thread while another is blocked in
/// `Poll::poll` is reported by that very call.
///
/// ## The registration book
/// Every registry of a `Poll` shares one book of its live registrations: descriptor, token,
/// interest and the call site of `register_source` (a defaulted `std::source_location`). The book
/// catches misuse before the kernel is asked, in every build type, and lets the `Poll` list,
/// audit and report its registrations (`Poll::registrations`, `Poll::audit`, the leak handler).
///
/// ## Errors
/// Misuse errors are `libpoll::Errc` values, equal to the `std::errc` in brackets:
/// - registering a source that is already registered: `Errc::already_registered`
///   (`std::errc::file_exists`);
/// - registering, reregistering or deregistering a source that another `Poll` has registered:
///   `Errc::registered_with_another_poll` (`std::errc::file_exists`);
/// - reregistering or deregistering a source that no `Poll` has registered:
///   `Errc::not_registered` (`std::errc::no_such_file_or_directory`);
/// - a source whose descriptor is closed or invalid: `std::errc::bad_file_descriptor`;
/// - a file the kernel cannot watch for readiness (a regular file under epoll):
///   `std::errc::operation_not_permitted`;
/// - a moved-from registry: `std::errc::bad_file_descriptor`.
///
/// ## Reregistering
/// `reregister_source` replaces both the token and the interest. Readiness that is already
/// pending for the new interest is reported (under the new token) by the next poll; pending
/// readiness for an interest that was removed is not. A source that is still ready is reported
/// again, as epoll's modify does, unless it was drained since its last event (below).
///
/// ## Coalesced changes
/// A reregister made on the thread that polls, between two of its polls, is recorded and made
/// at the start of the next poll (epoll; io_uring queues every change for its next submission
/// anyway; poll(2) keeps its table in user space), so that several changes of one source cost
/// at most one system call, and none when they end where they began: readable, then
/// readable|writable, then readable again. A change to the token and interest the kernel already
/// holds is skipped when the source was found drained by an I/O call begun after the last poll
/// returned: by libpoll's own reads and writes (a would-block, a read of a stream or pipe that
/// returned fewer bytes than asked for, or a write of one that took fewer than it was given),
/// or, for a `SourceFd`, by the caller's own I/O
/// reported through `drained` on the polling thread. Readiness that came after such a drain is
/// queued for the next poll already, so the skipped modify could not have added an event; a
/// source that was not drained is modified, and re-reported. A short read is taken for a drain
/// although a stream read also stops early at a boundary it keeps: urgent data (`MSG_OOB`, on
/// TCP and on Unix streams), or descriptors or credentials passed on a Unix stream. After such
/// a read a reregister is skipped, and what follows the boundary is reported with the next data
/// only; a loop that reads until `WouldBlock`, as edge triggering asks, never meets this. A
/// reregister from any other thread is made at once, so that a poll blocked meanwhile sees it
/// (no `Waker` needed).
/// `PollMetrics` counts the changes made (`kernel_changes`) and skipped (`skipped_changes`).
///
/// Errors are found at the call as before: the book's misuse errors, and for a `SourceFd` the
/// kernel's answer (a change that would be skipped first checks that the descriptor is open,
/// with a cheaper call than the modify). An owning source's descriptor is open while it lives.
/// What can only fail later is a recorded change of a descriptor closed (or its number reused)
/// behind libpoll's back between the call and the next poll: that poll drops the change, counts
/// it in `PollMetrics::late_change_failures`, and the audit reports the registration as
/// `vanished`. A recorded change never outlives its registration: after `deregister_source`
/// nothing recorded for that descriptor is made, so a reused number never receives it. The
/// audit (`Poll::audit`) makes recorded changes before it reads the kernel's list.
///
/// ## Batched registers and deregisters
/// On epoll, a register or deregister of one of libpoll's own sources (every `IoSource`: the
/// net types and pipes) made on the polling thread between two polls is recorded too, and the
/// next poll makes every recorded change with one `io_uring_enter` carrying an epoll_ctl request
/// per descriptor, where a loop of calls would make one system call each. A register undone by
/// a deregister before the poll costs no system call at all; a deregister followed by a register
/// of the same source is made as a fresh registration (a ready source is reported again). Calls
/// from other threads, and every call through a `SourceFd`, are made at once, as above.
/// - What a user sees does not change: a registered ready source is reported by the next poll,
///   and a deregistered one never is. The source makes whatever is recorded for it before it
///   closes its descriptor (its destructor, move assignment and `into_raw_fd`), so a deregister
///   recorded just before the close still removes the registration even if a duplicate keeps
///   the file open.
/// - The book's misuse errors come at the call. The kernel's own errors for such a source
///   (there is little left to refuse: its descriptor is open and watchable) come at the next
///   poll: the change is dropped, counted in `PollMetrics::late_change_failures`, and the audit
///   reports the registration (`vanished`). A recorded deregister that fails (its descriptor was
///   closed behind the source's back) makes the ghost count look every later batch up.
/// - Between the call and the next poll, the kernel's own list (`/proc/PID/fdinfo`, and a
///   tool that reads it from outside the process) lags the book; `Poll::registrations` and
///   `Poll::audit` make the recorded changes first.
/// - The batching needs io_uring's `IORING_OP_EPOLL_CTL` (Linux 5.19 for the ring's setup flags);
///   without it, or with the environment variable `LIBPOLL_BATCH_CHANGES=0` (for a tool that
///   interposes or traces epoll_ctl; `pollscope trace` sets it), each change is made with its
///   own epoll_ctl at the call. Each thread that makes a batch holds one io_uring descriptor,
///   kept for the next threads once it ends.
///
/// ## Deregistering
/// After `deregister_source` returns, polls no longer return events for the source. Events that
/// an earlier poll already stored in an `Events` buffer stay there. The source itself is left
/// untouched and may be registered again, with this or another `Poll`.
class Registry {
 public:
  Registry(Registry&&) noexcept = default;
  Registry& operator=(Registry&&) noexcept = default;
  ~Registry() = default;

  /// Starts watching `source` for `interest`; its events carry `token`. `site` is recorded in
  /// the book; leave it defaulted.
  Result<void> register_source(
      Source& source, Token token, Interest interest,
      const std::source_location& site = std::source_location::current()) const noexcept {
    detail::RegistrationSiteScope scope(site);
    return source.register_source(*this, token, interest);
  }
  /// For a borrowed descriptor: `register_source(SourceFd(fd), token, interest)`. (Owning
  /// sources are taken by reference only, so that a temporary cannot be registered and closed
  /// in one expression.)
  Result<void> register_source(
      SourceFd source, Token token, Interest interest,
      const std::source_location& site = std::source_location::current()) const noexcept;

  /// Replaces the token and interest of a registered source.
  Result<void> reregister_source(Source& source, Token token, Interest interest) const noexcept {
    return source.reregister_source(*this, token, interest);
  }
  Result<void> reregister_source(SourceFd source, Token token, Interest interest) const noexcept;

  /// Stops watching `source`.
  Result<void> deregister_source(Source& source) const noexcept {
    return source.deregister_source(*this);
  }
  Result<void> deregister_source(SourceFd source) const noexcept;

  /// Tells the selector that the caller's own reads (or writes) of a `SourceFd` just failed
  /// with would-block for `kinds` (or, for a stream, a read returned fewer bytes than asked
  /// for): the descriptor is drained, as libpoll's own sources report by themselves. On epoll
  /// and io_uring it lets a following reregister to an unchanged interest be skipped (see
  /// "Coalesced changes"; it counts when made on the polling thread). On poll(2) a descriptor
  /// registered through `SourceFd` is reported at every poll while it stays ready (level-triggered,
  /// so that no edge is lost) until the first `drained` call for it; from then on it gets one event
  /// per edge, as on epoll, and each drain must be reported. Errors: `Errc::not_registered`.
  ///
  /// ```cpp
  /// while (::read(fd, buffer, size) > 0) {}
  /// if (errno == EAGAIN) registry.drained(libpoll::SourceFd(fd), libpoll::Interest::readable);
  /// ```
  Result<void> drained(SourceFd source, Interest kinds) const noexcept;

  /// Another handle to the same selector, usable from any thread. It keeps the selector alive
  /// (not the `Poll`): registering through a clone after the `Poll` is gone succeeds but no
  /// one polls the events.
  [[nodiscard]] Registry clone() const noexcept { return Registry(state_); }

 private:
  friend class IoSource;
  friend class Poll;
  friend class Registration;
  friend class SourceFd;
  friend class Waker;

  explicit Registry(std::shared_ptr<detail::PollState> state) noexcept : state_(std::move(state)) {}

  // A descriptor whose reads and writes the user makes (SourceFd).
  Result<void> register_fd(int fd, Token token, Interest interest) const noexcept;
  // A descriptor whose reads and writes go through libpoll (IoSource): on success `edge` links
  // the source to the selector when it emulates edges, so that each would-block reaches it.
  Result<void> register_io_fd(int fd, Token token, Interest interest,
                              detail::EdgeLink& edge) const noexcept;
  // The Poll's own Waker: one per Poll, kept out of the listings and the leak reports.
  Result<void> register_waker_fd(int fd, Token token) const noexcept;
  Result<void> reregister_fd(int fd, Token token, Interest interest) const noexcept;
  // An IoSource's descriptor (open while the source lives), with the poll count at which every
  // kind of `interest` was last found drained by its own I/O (0: not since it registered).
  Result<void> reregister_io_fd(int fd, Token token, Interest interest,
                                std::uint64_t drained_at) const noexcept;
  Result<void> deregister_fd(int fd) const noexcept;
  // An IoSource's descriptor, which the source closes only after whatever the selector
  // recorded for it was made (detail::EdgeLink::before_close).
  Result<void> deregister_io_fd(int fd) const noexcept;

  std::shared_ptr<detail::PollState> state_;
};

}  // namespace libpoll

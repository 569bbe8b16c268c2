#pragma once

/// \file
/// `Registry`: registers sources with a `Poll`.

#include <memory>

#include "libpoll/interest.hpp"
#include "libpoll/result.hpp"
#include "libpoll/source.hpp"
#include "libpoll/token.hpp"

namespace libpoll {

namespace sys {
class Selector;
}

class Poll;
class SourceFd;
class Waker;

/// Registers, reregisters and deregisters event sources with the selector of one `Poll`.
///
/// Obtained from `Poll::registry()`. All calls are thread-safe: a `clone()` may be handed to
/// other threads, and a source registered from one thread while another is blocked in
/// `Poll::poll` is reported by that very call.
///
/// ## Errors
/// - registering a source that is already registered: `std::errc::file_exists`;
/// - reregistering or deregistering a source that is not registered:
///   `std::errc::no_such_file_or_directory`;
/// - a source whose descriptor is closed or invalid: `std::errc::bad_file_descriptor`;
/// - a file the kernel cannot watch for readiness (a regular file under epoll):
///   `std::errc::operation_not_permitted`;
/// - a moved-from registry: `std::errc::bad_file_descriptor`.
///
/// ## Reregistering
/// `reregister_source` replaces both the token and the interest. Readiness that is already
/// pending for the new interest is reported (under the new token) by the next poll; pending
/// readiness for an interest that was removed is not.
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

  /// Starts watching `source` for `interest`; its events carry `token`.
  Result<void> register_source(Source& source, Token token, Interest interest) const noexcept {
    return source.register_source(*this, token, interest);
  }
  /// For a borrowed descriptor: `register_source(SourceFd(fd), token, interest)`. (Owning
  /// sources are taken by reference only, so that a temporary cannot be registered and closed
  /// in one expression.)
  Result<void> register_source(SourceFd source, Token token, Interest interest) const noexcept;

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

  /// Another handle to the same selector, usable from any thread. It keeps the selector alive
  /// (not the `Poll`): registering through a clone after the `Poll` is gone succeeds but no
  /// one polls the events.
  [[nodiscard]] Registry clone() const noexcept { return Registry(selector_); }

 private:
  friend class Poll;
  friend class SourceFd;
  friend class Waker;

  explicit Registry(std::shared_ptr<sys::Selector> selector) noexcept
      : selector_(std::move(selector)) {}

  Result<void> register_fd(int fd, Token token, Interest interest) const noexcept;
  Result<void> reregister_fd(int fd, Token token, Interest interest) const noexcept;
  Result<void> deregister_fd(int fd) const noexcept;

  std::shared_ptr<sys::Selector> selector_;
};

}  // namespace libpoll

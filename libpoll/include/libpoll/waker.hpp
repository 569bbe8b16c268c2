#pragma once

/// \file
/// `Waker`: wakes a blocked `Poll::poll` from another thread.

#include <memory>
#include <source_location>

#include "libpoll/registry.hpp"
#include "libpoll/result.hpp"
#include "libpoll/token.hpp"

namespace libpoll {

namespace sys {
class WakerHandle;
}

/// Makes `Poll::poll` return a readable event under the waker's token, from any thread.
///
/// It is an `eventfd` on the epoll backend and a pipe on the poll(2) backend, registered with
/// the poll when the waker is created and deregistered when it is destroyed. It is the `Poll`'s
/// own registration: `Poll::registrations()` and the leak report leave it out. One waker per
/// `Poll` may be alive at a time: share it (e.g. through a `std::shared_ptr`).
///
/// - Wakes coalesce: any number of `wake()` calls before the next poll give one event.
/// - Wakes are not sticky: once a poll has returned the event, the next poll does not return it
///   again until another `wake()`.
///
/// ```cpp
/// auto waker = std::make_shared<libpoll::Waker>(
///     libpoll::Waker::create(poll.registry(), kWake).value());
/// std::thread([waker] { waker->wake().value(); }).detach();
/// poll.poll(events, std::nullopt).value();  // returns an event with token kWake
/// ```
class Waker {
 public:
  /// Creates the wake-up handle and registers it under `token`. Errors: `Errc::waker_exists`
  /// (equal to `std::errc::file_exists`) while another `Waker` of this `Poll` is alive; the
  /// registry's errors.
  [[nodiscard]] static Result<Waker> create(
      const Registry& registry, Token token,
      const std::source_location& site = std::source_location::current()) noexcept;

  Waker(Waker&&) noexcept;
  Waker& operator=(Waker&&) noexcept;
  /// Deregisters from the registry and closes the handle.
  ~Waker();

  /// Wakes the poll. Thread-safe; may be called from a signal handler on Linux.
  Result<void> wake() const noexcept;

 private:
  Waker(Registry registry, std::unique_ptr<sys::WakerHandle> handle) noexcept;
  void close() noexcept;

  Registry registry_;
  std::unique_ptr<sys::WakerHandle> handle_;
};

}  // namespace libpoll

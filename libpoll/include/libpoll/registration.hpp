#pragma once

/// \file
/// `Registration`: a registration that deregisters itself when destroyed.

#include <optional>
#include <source_location>

#include "libpoll/interest.hpp"
#include "libpoll/registry.hpp"
#include "libpoll/result.hpp"
#include "libpoll/source.hpp"
#include "libpoll/token.hpp"

namespace libpoll {

/// An optional guard over one registration: what mio's documentation says Rust's drop cannot
/// do. Destroying it deregisters the source; a failure there is counted in the `Poll`'s
/// `PollMetrics::guard_failures`, never thrown.
///
/// The guard refers to the source, which must outlive it (declare the guard after the source),
/// and should not outlive its `Poll`, whose leak report would list its registration:
///
/// ```cpp
/// auto stream = libpoll::net::TcpStream::connect(addr).value();
/// auto registration = libpoll::Registration::create(poll.registry(), stream, kClient,
///                                                   libpoll::Interest::readable).value();
/// ```
///
/// Move-only. A moved-from, released or deregistered guard is empty and does nothing.
class Registration {
 public:
  /// Registers `source` with `registry` and guards the registration.
  [[nodiscard]] static Result<Registration> create(
      const Registry& registry, Source& source, Token token, Interest interest,
      const std::source_location& site = std::source_location::current()) noexcept;

  Registration(Registration&& other) noexcept;
  /// Deregisters what this guard held (a failure is counted, as in the destructor), then takes
  /// over `other`'s registration.
  Registration& operator=(Registration&& other) noexcept;
  /// Deregisters; a failure is counted, not thrown.
  ~Registration();

  /// Replaces the token and interest.
  Result<void> reregister(Token token, Interest interest) noexcept;
  /// Deregisters now and returns the result; the guard is empty afterwards, whatever the result.
  Result<void> deregister() noexcept;
  /// Detaches the guard: the source stays registered and the caller deregisters it.
  void release() noexcept;

  /// Whether the guard still holds a registration.
  [[nodiscard]] bool active() const noexcept { return source_ != nullptr; }

 private:
  Registration(Registry registry, Source& source) noexcept;
  // The destructor's deregister: a failure is counted in the Poll's metrics.
  void deregister_counting_failure() noexcept;

  std::optional<Registry> registry_;
  Source* source_ = nullptr;
};

}  // namespace libpoll

#pragma once

/// \file
/// `Backend`: which kernel interface a `Poll` waits with.

#include <optional>
#include <string_view>

namespace libpoll {

/// The selector behind a `Poll`. Every backend gives the same edge-triggered semantics.
///
/// - `automatic`: epoll on Linux, unless the `LIBPOLL_BACKEND` environment variable names
///   another backend (`LIBPOLL_BACKEND=poll` moves a whole program, or test suite, onto poll(2)).
/// - `epoll`: Linux epoll; cost per wait independent of the number of registrations.
/// - `poll`: portable poll(2), with edges emulated in user space; cost per wait grows with the
///   number of registrations.
enum class Backend {
  automatic,
  epoll,
  poll,
};

/// "automatic", "epoll", "poll".
[[nodiscard]] std::string_view to_string(Backend backend) noexcept;

/// The backend named `name` ("automatic", "epoll", "poll"), or nothing.
[[nodiscard]] std::optional<Backend> parse_backend(std::string_view name) noexcept;

}  // namespace libpoll

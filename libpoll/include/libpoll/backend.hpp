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
/// - `io_uring`: Linux io_uring, one multishot poll request per registration; registration
///   changes are batched and submitted with the next wait in one system call. Present when
///   libpoll was built with liburing; `Poll::create` fails with `Errc::backend_unavailable`
///   where it was not, or where the kernel refuses io_uring (too old, disabled by sysctl
///   kernel.io_uring_disabled, a seccomp filter). `automatic` never picks it unless
///   `LIBPOLL_BACKEND=io_uring` asks.
enum class Backend {
  automatic,
  epoll,
  poll,
  io_uring,
};

/// "automatic", "epoll", "poll", "io_uring".
[[nodiscard]] std::string_view to_string(Backend backend) noexcept;

/// The backend named `name` ("automatic", "epoll", "poll", "io_uring"), or nothing.
[[nodiscard]] std::optional<Backend> parse_backend(std::string_view name) noexcept;

}  // namespace libpoll

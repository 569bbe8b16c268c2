#pragma once

/// \file
/// libpoll's own error codes: misuse of a `Registry` that the registration book catches before
/// the kernel is asked.

#include <system_error>
#include <type_traits>

namespace libpoll {

/// Misuse errors. Each compares equal to the `std::errc` a kernel would give for it
/// (`already_registered == std::errc::file_exists`), so code written against plain errno values
/// keeps working, while `message()` says what really happened.
enum class Errc {
  /// The source is registered with this `Poll` already.
  already_registered = 1,
  /// The source is registered with another `Poll`; deregister it there first.
  registered_with_another_poll,
  /// The source is not registered with this `Poll`.
  not_registered,
  /// The `Poll` has a live `Waker` already; share that one.
  waker_exists,
  /// The backend asked for is not available here: libpoll was built without it, or the kernel
  /// refuses it (too old, disabled by sysctl, a seccomp filter). Choose epoll or poll.
  backend_unavailable,
  /// The descriptor is an io_uring `Poll`'s (`Poll::as_raw_fd`), which no `Poll` can watch: its
  /// ring is readable only once its own `poll` has submitted its registrations. Nest an epoll
  /// `Poll`, or poll the io_uring one from its own thread.
  nested_io_uring_poll,
};

[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(Errc error) noexcept {
  return {static_cast<int>(error), error_category()};
}

}  // namespace libpoll

template <>
struct std::is_error_code_enum<libpoll::Errc> : std::true_type {};

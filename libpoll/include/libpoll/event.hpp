#pragma once

/// \file
/// `Event`: one readiness notification returned by `Poll::poll`.

#include <cstdint>
#include <string>

#include "libpoll/detail/readiness.hpp"
#include "libpoll/token.hpp"

// On x86-64 the kernel's epoll_event is packed (12 bytes); Event shares its layout so that the
// epoll selector can hand the kernel's array to the caller as it is.
#if defined(__x86_64__)
#define LIBPOLL_EVENT_PACKED __attribute__((packed))
#else
#define LIBPOLL_EVENT_PACKED
#endif

namespace libpoll {

namespace detail {
struct EventAccess;
}

/// Readiness of one registered source, as reported by one call to `Poll::poll`.
///
/// Events are hints, not promises ("spurious events"): an event may say readable and the read
/// still return would-block, and one event may stand for several changes. Treat it as "try the
/// operation now", and keep going until it returns would-block ("draining readiness"):
/// readiness is edge-triggered, so no new event comes for data that was already there.
///
/// The `is_*` queries follow mio's mapping of the kernel flags, on every backend:
/// - `is_readable`: data, a connection to accept, or a priority condition (`EPOLLIN|EPOLLPRI`).
/// - `is_writable`: room to write (`EPOLLOUT`).
/// - `is_error`: an error is pending on the socket (`EPOLLERR`); `take_error()` fetches it.
/// - `is_read_closed`: the peer will send no more (`EPOLLHUP`, or `EPOLLIN` with `EPOLLRDHUP`).
/// - `is_write_closed`: nothing more can be written (`EPOLLHUP`, `EPOLLOUT` with `EPOLLERR`, or
///   `EPOLLERR` alone, which is how a pipe reports that its reading end closed).
/// - `is_priority`: out-of-band or priority data (`EPOLLPRI`).
class LIBPOLL_EVENT_PACKED Event {
 public:
  /// The token the source was registered (or last reregistered) with.
  [[nodiscard]] Token token() const noexcept { return Token{static_cast<std::size_t>(token_)}; }

  [[nodiscard]] bool is_readable() const noexcept {
    return any(detail::readiness::in | detail::readiness::pri);
  }
  [[nodiscard]] bool is_writable() const noexcept { return any(detail::readiness::out); }
  [[nodiscard]] bool is_error() const noexcept { return any(detail::readiness::err); }
  [[nodiscard]] bool is_read_closed() const noexcept {
    return any(detail::readiness::hup) ||
           (any(detail::readiness::in) && any(detail::readiness::rdhup));
  }
  [[nodiscard]] bool is_write_closed() const noexcept {
    return any(detail::readiness::hup) ||
           (any(detail::readiness::out) && any(detail::readiness::err)) ||
           bits_ == detail::readiness::err;
  }
  [[nodiscard]] bool is_priority() const noexcept { return any(detail::readiness::pri); }

 private:
  friend struct detail::EventAccess;
  using readiness_bits = std::uint32_t;

  [[nodiscard]] bool any(readiness_bits mask) const noexcept { return (bits_ & mask) != 0; }

  readiness_bits bits_;
  std::uint64_t token_;
};

/// "Event { token: 3, readable, read_closed }", for logs and test failure messages.
std::string to_string(const Event& event);

namespace detail {
// Lets selectors build and inspect events; not for users.
struct EventAccess {
  static Event make(Token token, std::uint32_t bits) noexcept {
    Event event;
    event.bits_ = bits;
    event.token_ = token.value;
    return event;
  }
  static std::uint32_t bits(const Event& event) noexcept { return event.bits_; }
};
}  // namespace detail

}  // namespace libpoll

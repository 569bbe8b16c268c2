#pragma once

// The rings of io_uring Polls whose descriptor Poll::as_raw_fd handed out, so that registering
// one with a Poll is refused (Errc::nested_io_uring_poll). A ring's descriptor is readable while
// its completion queue holds entries, but an io_uring Poll submits its registrations with its
// next poll: until the inner Poll polls, the kernel has no request that could post one, and the
// outer Poll would wait for events that cannot come. (An epoll Poll's descriptor is readable as
// soon as a registered source is, and nests.)
//
// Process-wide and tiny: the list is empty unless some io_uring Poll's descriptor was asked for,
// and then only registrations pay for the check.

#include <atomic>

namespace libpoll::sys::handed_out_rings {

namespace detail {
inline std::atomic<int> listed{0};
}  // namespace detail

// Lists `ring_fd` (once, however often it is handed out).
void add(int ring_fd) noexcept;
// Forgets `ring_fd`: its selector is being destroyed.
void remove(int ring_fd) noexcept;
// Whether any ring is listed: a relaxed load, for the registry's common path.
[[nodiscard]] inline bool any() noexcept {
  return detail::listed.load(std::memory_order_relaxed) != 0;
}
// Whether `fd` refers to a listed ring: its number, or a duplicate of it where kcmp can tell.
[[nodiscard]] bool names_one(int fd) noexcept;

}  // namespace libpoll::sys::handed_out_rings

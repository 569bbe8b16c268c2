#pragma once

// Results of reads and writes on a source's descriptor. They differ from syscall_result in one
// way: a backend that emulates edges (poll(2)) learns of every would-block (the source is
// drained) and of every transfer (the user acted on the last event), so that the source's next
// readiness is a new edge. The source carries the link to that backend itself, set when it is
// registered with one: a source registered with epoll, or with nothing, pays one null check and
// no process-wide state is ever touched.

#include <sys/types.h>

#include <cstddef>
#include <memory>

#include "libpoll/interest.hpp"
#include "libpoll/result.hpp"

namespace libpoll::sys {
class Selector;
}

namespace libpoll::detail {

/// The edge-emulating selector a source is registered with, or nothing. Weak, so that a source
/// outliving its Poll (a leak) keeps no selector, and no descriptor of it, alive.
class EdgeLink {
 public:
  [[nodiscard]] bool linked() const noexcept { return !selector_.expired(); }
  void link(std::weak_ptr<sys::Selector> selector) noexcept { selector_ = std::move(selector); }
  void unlink() noexcept { selector_.reset(); }
  /// Tells the selector, if it is still alive, that `fd` is drained or made progress for `kind`.
  void rearm(int fd, Interest kind) const noexcept;

 private:
  std::weak_ptr<sys::Selector> selector_;
};

/// errno as an error; on would-block, also re-arms `kind` of `fd` through `edge`.
[[nodiscard]] Unexpected io_error(int fd, Interest kind, const EdgeLink& edge) noexcept;

/// For reads, receives and accepts on `fd`. A read of 0 (end of stream) is not progress: no new
/// data will come, and re-arming would report the end again and again.
[[nodiscard]] inline Result<std::size_t> read_result(ssize_t rc, int fd,
                                                     const EdgeLink& edge) noexcept {
  if (rc < 0) [[unlikely]]
    return io_error(fd, Interest::readable, edge);
  if (rc > 0 && edge.linked()) [[unlikely]]
    edge.rearm(fd, Interest::readable);
  return static_cast<std::size_t>(rc);
}

/// For writes and sends on `fd`.
[[nodiscard]] inline Result<std::size_t> write_result(ssize_t rc, int fd,
                                                      const EdgeLink& edge) noexcept {
  if (rc < 0) [[unlikely]]
    return io_error(fd, Interest::writable, edge);
  if (rc > 0 && edge.linked()) [[unlikely]]
    edge.rearm(fd, Interest::writable);
  return static_cast<std::size_t>(rc);
}

}  // namespace libpoll::detail

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

/// The edge-emulating selector a source is registered with, or nothing. The raw pointer makes
/// the check on every read and write a single load; the weak one is what keeps it safe: a source
/// outliving its Poll (a leak) keeps neither the selector nor its descriptors alive.
class EdgeLink {
 public:
  [[nodiscard]] bool linked() const noexcept { return target_ != nullptr; }
  void link(std::weak_ptr<sys::Selector> selector, int fd) noexcept {
    owner_ = std::move(selector);
    fd_ = fd;
    target_ = owner_.lock().get();
  }
  void unlink() noexcept {
    target_ = nullptr;
    owner_.reset();
  }
  /// Tells the selector, if it is still alive, that the linked fd is drained or made progress
  /// for `kind`.
  void rearm(Interest kind) const noexcept;

 private:
  sys::Selector* target_ = nullptr;  // only ever used through owner_.lock()
  std::weak_ptr<sys::Selector> owner_;
  int fd_ = -1;  // as registered, so that the hot path need not keep the source's at hand
};

/// errno as an error; on would-block, also re-arms `kind` through `edge`.
[[nodiscard]] Unexpected io_error(Interest kind, const EdgeLink& edge) noexcept;

/// For reads, receives and accepts. A read of 0 (end of stream) is not progress: no new
/// data will come, and re-arming would report the end again and again.
[[nodiscard]] inline Result<std::size_t> read_result(ssize_t rc, const EdgeLink& edge) noexcept {
  if (rc < 0) [[unlikely]]
    return io_error(Interest::readable, edge);
  if (rc > 0 && edge.linked()) [[unlikely]]
    edge.rearm(Interest::readable);
  return static_cast<std::size_t>(rc);
}

/// For writes and sends.
[[nodiscard]] inline Result<std::size_t> write_result(ssize_t rc, const EdgeLink& edge) noexcept {
  if (rc < 0) [[unlikely]]
    return io_error(Interest::writable, edge);
  if (rc > 0 && edge.linked()) [[unlikely]]
    edge.rearm(Interest::writable);
  return static_cast<std::size_t>(rc);
}

}  // namespace libpoll::detail

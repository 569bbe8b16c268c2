#pragma once

/// \file
/// `SourceFd`: registers a raw file descriptor that the caller owns.

#include "libpoll/registry.hpp"
#include "libpoll/source.hpp"

namespace libpoll {

/// A `Source` for a file descriptor that something else owns and will close.
///
/// `SourceFd` only borrows the descriptor: it never closes it, and the caller must deregister
/// before closing. Use it for descriptors from other libraries (a pcap handle's selectable fd,
/// a timerfd, a signalfd), and to implement `Source` for types that own an fd.
///
/// On the poll(2) backend, libpoll cannot see the reads and writes made on such a descriptor, so
/// it cannot tell a drained one from one left ready: a `SourceFd` that stays ready is reported
/// again at every poll (level-triggered), so that no edge is ever lost. Register it for writable
/// only while there is something to write. (On epoll it is edge-triggered like every source.)
///
/// ```cpp
/// int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
/// registry.register_source(libpoll::SourceFd(fd), kTimer, libpoll::Interest::readable);
/// ```
class SourceFd final : public Source {
 public:
  explicit SourceFd(int fd) noexcept : fd_(fd) {}
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  Result<void> register_source(const Registry& registry, Token token,
                               Interest interest) noexcept override {
    return registry.register_fd(fd_, token, interest);
  }
  Result<void> reregister_source(const Registry& registry, Token token,
                                 Interest interest) noexcept override {
    return registry.reregister_fd(fd_, token, interest);
  }
  Result<void> deregister_source(const Registry& registry) noexcept override {
    return registry.deregister_fd(fd_);
  }

  int fd_;
};

}  // namespace libpoll

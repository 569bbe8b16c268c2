#pragma once

/// \file
/// `OwnedFd`: a file descriptor that closes itself.

#include <utility>

namespace libpoll {

/// Owns one file descriptor and closes it when destroyed. Move-only; a moved-from or default
/// `OwnedFd` holds -1.
///
/// Closing is never retried: after `close()` fails with `EINTR` on Linux the descriptor is
/// already gone, and retrying could close a descriptor another thread has just been given.
class OwnedFd {
 public:
  OwnedFd() noexcept = default;
  explicit OwnedFd(int fd) noexcept : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~OwnedFd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool is_valid() const noexcept { return fd_ >= 0; }
  /// Gives up ownership without closing.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  /// Closes the current descriptor (if any) and takes `fd`.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

}  // namespace libpoll

#pragma once

// Portable waker: a non-blocking pipe. wake() writes one byte; the read end stays readable until
// drain() empties it, so that wakes made before a poll coalesce into one event.

#include <memory>

#include "libpoll/owned_fd.hpp"
#include "sys/waker_handle.hpp"

namespace libpoll::sys {

class PipeWaker final : public WakerHandle {
 public:
  static Result<std::unique_ptr<PipeWaker>> create() noexcept;

  // The read end: the descriptor to watch for readable.
  [[nodiscard]] int fd() const noexcept override { return read_.get(); }
  Result<void> wake() noexcept override;

  // Reads until would-block, so that the next wake() makes the pipe readable again.
  void drain() noexcept { drain(fd()); }
  // The same, for a waker's read end held by someone else (the selector keeps only the fd).
  static void drain(int read_fd) noexcept;

 private:
  PipeWaker(OwnedFd read, OwnedFd write) noexcept
      : read_(std::move(read)), write_(std::move(write)) {}

  OwnedFd read_;
  OwnedFd write_;
};

}  // namespace libpoll::sys

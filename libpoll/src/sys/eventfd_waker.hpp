#pragma once

// Linux waker: an eventfd counter. Each write is a new edge for epoll, and writes made before
// the poll coalesce into one event because the counter stays readable until someone reads it.

#include <memory>

#include "libpoll/owned_fd.hpp"
#include "sys/waker_handle.hpp"

namespace libpoll::sys {

class EventfdWaker final : public WakerHandle {
 public:
  static Result<std::unique_ptr<EventfdWaker>> create() noexcept;

  [[nodiscard]] int fd() const noexcept override { return fd_.get(); }
  Result<void> wake() noexcept override;
  // Reads the counter back to zero (a backend's internal wake-up is drained when reported).
  Result<void> reset() noexcept;

 private:
  explicit EventfdWaker(OwnedFd fd) noexcept : fd_(std::move(fd)) {}

  OwnedFd fd_;
};

}  // namespace libpoll::sys

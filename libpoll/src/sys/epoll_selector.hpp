#pragma once

// The Linux backend: one epoll instance, every registration edge-triggered.

#include <memory>

#include "libpoll/owned_fd.hpp"
#include "sys/selector.hpp"

namespace libpoll::sys {

class EpollSelector final : public Selector {
 public:
  static Result<std::unique_ptr<EpollSelector>> create() noexcept;

  [[nodiscard]] Backend backend() const noexcept override { return Backend::epoll; }
  Result<void> select(Events& events, int timeout_ms) noexcept override;
  Result<void> register_fd(int fd, Token token, Interest interest, IoPath path) noexcept override;
  Result<void> reregister_fd(int fd, Token token, Interest interest) noexcept override;
  Result<void> deregister_fd(int fd) noexcept override;
  [[nodiscard]] bool holds(int fd) noexcept override;
  [[nodiscard]] Result<std::vector<KernelRegistration>> registrations() const override;
  [[nodiscard]] std::uint32_t mask_for(Interest interest) const noexcept override;
  [[nodiscard]] int native_handle() const noexcept override { return epoll_fd_.get(); }
  Result<std::unique_ptr<WakerHandle>> make_waker() noexcept override;

 private:
  explicit EpollSelector(OwnedFd epoll_fd) noexcept : epoll_fd_(std::move(epoll_fd)) {}

  OwnedFd epoll_fd_;
};

}  // namespace libpoll::sys

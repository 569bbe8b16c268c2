#pragma once

// The Linux backend: one epoll instance, every registration edge-triggered. Changes made on the
// polling thread are recorded and made at the start of the next select() (PendingChanges).

#include <memory>

#include "libpoll/owned_fd.hpp"
#include "sys/pending_changes.hpp"
#include "sys/selector.hpp"

namespace libpoll::sys {

class EpollSelector final : public Selector {
 public:
  static Result<std::unique_ptr<EpollSelector>> create() noexcept;

  [[nodiscard]] Backend backend() const noexcept override { return Backend::epoll; }
  Result<void> select(Events& events, int timeout_ms) noexcept override;
  Result<void> register_fd(int fd, Token token, Interest interest, IoPath path,
                           bool may_defer) noexcept override;
  Result<void> reregister_fd(int fd, Token token, Interest interest, IoPath path,
                             std::uint64_t drained_at) noexcept override;
  Result<void> deregister_fd(int fd, bool may_defer) noexcept override;
  [[nodiscard]] PendingChanges* epoll_changes() noexcept override { return &changes_; }
  void flush_recorded() noexcept override { changes_.flush_recorded(); }
  [[nodiscard]] const std::atomic<bool>* removal_lost() const noexcept override {
    return &changes_.removal_lost();
  }
  [[nodiscard]] bool holds(int fd) noexcept override;
  [[nodiscard]] Result<std::vector<KernelRegistration>> registrations() const override;
  [[nodiscard]] std::uint32_t mask_for(Interest interest) const noexcept override;
  void rearm_foreign(int fd, Interest kind) noexcept override { changes_.drained(fd, kind); }
  [[nodiscard]] std::shared_ptr<const std::atomic<std::uint64_t>> drain_clock()
      const noexcept override {
    return changes_.clock();
  }
  [[nodiscard]] ChangeCounts change_counts() const noexcept override { return changes_.counts(); }
  [[nodiscard]] int native_handle() const noexcept override { return epoll_fd_.get(); }
  Result<std::unique_ptr<WakerHandle>> make_waker() noexcept override;

 private:
  explicit EpollSelector(OwnedFd epoll_fd)
      : epoll_fd_(std::move(epoll_fd)), changes_(epoll_fd_.get()) {}

  OwnedFd epoll_fd_;
  mutable PendingChanges changes_;  // the audit's registrations() makes recorded changes first
};

}  // namespace libpoll::sys

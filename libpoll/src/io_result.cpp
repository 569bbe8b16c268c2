#include "libpoll/detail/io_result.hpp"

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <utility>

#include "sys/selector.hpp"

namespace libpoll::detail {

EdgeLink& EdgeLink::operator=(EdgeLink&& other) noexcept {
  if (this == &other) return *this;
  target_ = std::exchange(other.target_, nullptr);
  owner_ = std::move(other.owner_);
  clock_ = std::move(other.clock_);
  read_drained_.store(other.read_drained_.exchange(0, std::memory_order_relaxed),
                      std::memory_order_relaxed);
  write_drained_.store(other.write_drained_.exchange(0, std::memory_order_relaxed),
                       std::memory_order_relaxed);
  fd_ = std::exchange(other.fd_, -1);
  transfers_ = std::exchange(other.transfers_, false);
  return *this;
}

void EdgeLink::link(std::weak_ptr<sys::Selector> selector, int fd) noexcept {
  owner_ = std::move(selector);
  fd_ = fd;
  auto target = owner_.lock();
  target_ = target.get();
  transfers_ = target && target->emulates_edges();
  clock_ = target ? target->drain_clock() : nullptr;
  read_drained_.store(0, std::memory_order_relaxed);
  write_drained_.store(0, std::memory_order_relaxed);
}

void EdgeLink::unlink() noexcept {
  target_ = nullptr;
  owner_.reset();
  clock_.reset();
  transfers_ = false;
}

void EdgeLink::rearm(Interest kind) const noexcept {
  if (auto selector = owner_.lock()) selector->rearm(fd_, kind);
}

std::uint64_t EdgeLink::drained_at(Interest interest) const noexcept {
  if (!clock_) return 0;
  return oldest_drain(interest, read_drained_.load(std::memory_order_relaxed),
                      write_drained_.load(std::memory_order_relaxed));
}

Unexpected io_error(Interest kind, const EdgeLink& edge, std::uint64_t stamp) noexcept {
  const int error = errno;  // before anything below can change it
  if ((error == EAGAIN || error == EWOULDBLOCK) && edge.linked()) {
    if (edge.wants_transfers()) {
      edge.rearm(kind);
    } else {
      edge.drained(kind, stamp);
    }
  }
  return Unexpected(std::error_code(error, std::system_category()));
}

}  // namespace libpoll::detail

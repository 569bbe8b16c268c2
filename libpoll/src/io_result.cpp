#include "libpoll/detail/io_result.hpp"

#include <cerrno>
#include <cstdint>
#include <new>
#include <system_error>
#include <utility>

#include "received_bytes.hpp"
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
  owner_emulates_edges_ = std::exchange(other.owner_emulates_edges_, false);
  byte_stream_ = other.byte_stream_;
  received_ = std::move(other.received_);
  return *this;
}

std::shared_ptr<ReceivedBytes> EdgeLink::receiver() noexcept {
  if (!received_) {
    try {
      received_ = std::make_shared<ReceivedBytes>();
    } catch (const std::bad_alloc&) {
      return nullptr;  // the Poll reads this stream by readiness instead
    }
  }
  return received_;
}

ssize_t EdgeLink::read_received(int fd, std::span<const iovec> buffers, bool peek) const noexcept {
  return received_->read(fd, buffers, peek);
}

int EdgeLink::take_received_error() const noexcept {
  return received_ ? received_->take_error() : 0;
}

void EdgeLink::relink(const std::shared_ptr<sys::Selector>& selector) noexcept {
  // What the last selector recorded for this source (a deregister waiting for its next poll) is
  // made now, since only the current one is asked at the close.
  if (auto previous = owner_.lock()) previous->flush_recorded();
  owner_ = selector;
  clock_ = selector->drain_clock();
  owner_emulates_edges_ = selector->emulates_edges();
}

void EdgeLink::unlink() noexcept {
  // The references are kept for a later link to the same selector; unlinked, nothing uses them
  // (every use checks linked() or wants_transfers() first), and the weak one keeps nothing alive.
  target_ = nullptr;
  transfers_ = false;
}

void EdgeLink::before_close() const noexcept {
  if (auto selector = owner_.lock()) selector->flush_recorded();
}

void EdgeLink::rearm(Interest kind) const noexcept {
  if (auto selector = owner_.lock()) selector->rearm(fd_, kind);
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

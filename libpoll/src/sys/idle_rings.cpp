#include "sys/idle_rings.hpp"

#include <unistd.h>

namespace libpoll::sys {

IdleRings& IdleRings::instance() noexcept {
  static IdleRings rings;
  return rings;
}

IdleRings::IdleRings() noexcept : owner_(::getpid()) {}

bool IdleRings::take(io_uring& ring) noexcept {
  const std::scoped_lock lock(mutex_);
  // A forked child would share the parent's rings (their queues are shared mappings).
  if (owner_ != ::getpid()) {
    for (std::size_t i = 0; i < count_; ++i) io_uring_queue_exit(&rings_[i]);
    count_ = 0;
    owner_ = ::getpid();
  }
  if (count_ == 0) return false;
  ring = rings_[--count_];
  return true;
}

bool IdleRings::put(const io_uring& ring) noexcept {
  const std::scoped_lock lock(mutex_);
  if (count_ == rings_.size() || owner_ != ::getpid()) return false;
  rings_[count_++] = ring;
  return true;
}

}  // namespace libpoll::sys

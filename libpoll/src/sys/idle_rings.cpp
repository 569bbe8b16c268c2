#include "sys/idle_rings.hpp"

#include <unistd.h>

namespace libpoll::sys {

IdleRings& IdleRings::instance() noexcept {
  static IdleRings rings;
  return rings;
}

IdleRings::IdleRings() noexcept : owner_(::getpid()) {}

bool IdleRings::take(io_uring& ring, bool single_issuer, const void* here,
                     bool cooperative) noexcept {
  const std::scoped_lock lock(mutex_);
  // A forked child would share the parent's rings (their queues are shared mappings).
  if (owner_ != ::getpid()) {
    for (std::size_t i = 0; i < count_; ++i) io_uring_queue_exit(&rings_[i].ring);
    count_ = 0;
    owner_ = ::getpid();
  }
  for (std::size_t i = count_; i-- > 0;) {
    const unsigned flags = rings_[i].ring.flags;
    const bool kind = (flags & IORING_SETUP_SINGLE_ISSUER) != 0;
    const bool cooperates = (flags & IORING_SETUP_COOP_TASKRUN) != 0;
    if (kind != single_issuer || (!kind && cooperates != cooperative) ||
        (rings_[i].issuer != nullptr && rings_[i].issuer != here)) {
      continue;
    }
    ring = rings_[i].ring;
    rings_[i] = rings_[--count_];
    return true;
  }
  return false;
}

bool IdleRings::put(const io_uring& ring, const void* issuer) noexcept {
  const std::scoped_lock lock(mutex_);
  if (count_ == rings_.size() || owner_ != ::getpid()) return false;
  rings_[count_++] = Kept{ring, issuer};
  return true;
}

}  // namespace libpoll::sys

#pragma once

// Rings of destroyed io_uring selectors, kept for the next (see ~IoUringSelector): closing a
// ring interrupts the waits of every thread that entered it, so a process keeps up to eight
// idle ones. Their requests are all cancelled; a late completion of one is dropped, its
// generation (process-wide) matching no registration. A single-issuer ring bound to a thread
// goes only to a selector made on that thread (its `issuer`, a thread tag; nullptr: any).

#include <liburing.h>
#include <sys/types.h>

#include <array>
#include <cstddef>
#include <mutex>

namespace libpoll::sys {

class IdleRings {
 public:
  static IdleRings& instance() noexcept;
  // An idle ring of this process of the kind asked for (`single_issuer`; `cooperative`: made
  // with IORING_SETUP_COOP_TASKRUN) that the calling thread (`here`) may enter, into `ring`;
  // false when there is none.
  bool take(io_uring& ring, bool single_issuer, const void* here, bool cooperative = true) noexcept;
  // Keeps `ring` for the next selector; false when there is no room (the caller closes it).
  bool put(const io_uring& ring, const void* issuer) noexcept;

 private:
  struct Kept {
    io_uring ring;
    const void* issuer;
  };
  std::mutex mutex_;
  std::array<Kept, 8> rings_{};
  std::size_t count_ = 0;
  pid_t owner_;
  IdleRings() noexcept;
};

}  // namespace libpoll::sys

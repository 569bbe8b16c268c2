#pragma once

// The portable backend: poll(2), with edge-triggered semantics emulated in user space.

#include <memory>

#include "sys/selector.hpp"

namespace libpoll::sys {

class PollSelector final : public Selector {
 public:
  static Result<std::unique_ptr<PollSelector>> create() noexcept;

  // Called on every would-block of libpoll's own I/O (detail::io_error): re-arms `kind` of `fd`
  // in whichever live PollSelector has it registered. Costs one relaxed load when none is alive.
  static void rearm_everywhere(int fd, Interest kind) noexcept;
};

}  // namespace libpoll::sys

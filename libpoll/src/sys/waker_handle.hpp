#pragma once

// What a Waker needs from the platform: a descriptor that becomes readable when woken.

#include "libpoll/result.hpp"

namespace libpoll::sys {

class WakerHandle {
 public:
  WakerHandle() = default;
  WakerHandle(const WakerHandle&) = delete;
  WakerHandle& operator=(const WakerHandle&) = delete;
  virtual ~WakerHandle() = default;

  [[nodiscard]] virtual int fd() const noexcept = 0;
  virtual Result<void> wake() noexcept = 0;
};

}  // namespace libpoll::sys

#pragma once

// Poll timeouts in whole milliseconds for epoll_wait/poll. Inline and constexpr so that the
// usual constant timeout folds away at the call site.

#include <chrono>
#include <climits>
#include <optional>

namespace libpoll::detail {

/// nullopt is -1 (block); zero or negative is 0; anything else is rounded *up*, so that a
/// sub-millisecond wait does not become a busy spin.
[[nodiscard]] constexpr int timeout_to_milliseconds(
    std::optional<std::chrono::nanoseconds> timeout) noexcept {
  if (!timeout) return -1;
  if (*timeout <= std::chrono::nanoseconds::zero()) return 0;
  // ceil cannot overflow: the value is positive and milliseconds are coarser.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*timeout).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

}  // namespace libpoll::detail

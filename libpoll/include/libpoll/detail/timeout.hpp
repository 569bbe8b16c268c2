#pragma once

// Poll timeouts in whole milliseconds for epoll_wait/poll. Inline and constexpr so that the
// usual constant timeout folds away at the call site.

#include <chrono>
#include <climits>
#include <optional>
#include <ratio>

namespace libpoll::detail {

/// Zero, negative or NaN is 0; anything else is rounded *up*, so that a sub-millisecond wait
/// does not become a busy spin, and capped at INT_MAX. Any duration type: converting
/// `std::chrono::milliseconds::max()` to nanoseconds first would overflow (to a negative value,
/// a poll that does not wait), so the cap is decided before any integer conversion.
template <typename Rep, typename Period>
[[nodiscard]] constexpr int timeout_to_milliseconds(
    std::chrono::duration<Rep, Period> timeout) noexcept {
  if (!(timeout > std::chrono::duration<Rep, Period>::zero())) return 0;
  // long double holds every 64-bit count exactly, and no duration overflows it.
  const long double ms = std::chrono::duration<long double, std::milli>(timeout).count();
  if (ms >= static_cast<long double>(INT_MAX)) return INT_MAX;
  if constexpr (std::chrono::treat_as_floating_point_v<Rep>) {
    const int whole = static_cast<int>(ms);
    return static_cast<long double>(whole) < ms ? whole + 1 : whole;
  } else {
    // Exact, and within range: the value is below INT_MAX milliseconds.
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(timeout).count());
  }
}

/// nullopt is -1 (block); any other value as above.
template <typename Rep, typename Period>
[[nodiscard]] constexpr int timeout_to_milliseconds(
    std::optional<std::chrono::duration<Rep, Period>> timeout) noexcept {
  return timeout ? timeout_to_milliseconds(*timeout) : -1;
}
[[nodiscard]] constexpr int timeout_to_milliseconds(
    std::optional<std::chrono::nanoseconds> timeout) noexcept {
  return timeout ? timeout_to_milliseconds(*timeout) : -1;
}

}  // namespace libpoll::detail

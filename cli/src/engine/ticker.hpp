#pragma once

// A steady cadence on the engine's clock: open-loop sends and toggles at a rate each fire once
// per interval, catching up on the ticks a slow poll made them miss.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

namespace pollscope {

// An open-loop send this long after its tick is late (the report's late_sends).
inline constexpr std::uint64_t kLateSendNs = 1'000'000;

class Ticker {
 public:
  Ticker() = default;  // never due
  // `per_second` ticks a second from `start_ns`; the first is due at `start_ns + first_after`
  // intervals. A rate so small that its interval is no finite number of nanoseconds never ticks
  // (its first tick would be NaN, which every comparison calls due).
  Ticker(double per_second, std::uint64_t start_ns, double first_after)
      : interval_ns_(per_second > 0 && std::isfinite(1e9 / per_second) ? 1e9 / per_second : 0),
        next_ns_(static_cast<double>(start_ns) + first_after * interval_ns_) {}

  [[nodiscard]] bool active() const noexcept { return interval_ns_ > 0; }
  // The time of a tick due at `now_ns`, if any, moving on to the next one.
  std::optional<double> take(std::uint64_t now_ns) noexcept {
    if (!active() || static_cast<double>(now_ns) < next_ns_) return std::nullopt;
    const double due = next_ns_;
    next_ns_ += interval_ns_;
    return due;
  }
  // `wake_at`, or the next tick when it comes sooner.
  [[nodiscard]] double sooner(double wake_at) const noexcept {
    return active() ? std::min(wake_at, next_ns_) : wake_at;
  }

 private:
  double interval_ns_ = 0;
  double next_ns_ = 0;
};

// How long a poll may wait, in whole milliseconds (at most 100), for what is due in `wait_ms`.
// A send keeps to its time (an open loop's rate, a replay's recorded times): the poll waits the
// whole milliseconds short of it, and the loop then polls without waiting until it is due.
// Rounded up, every send would go out up to a millisecond late, and the latency, counted from
// the intended time, would be mostly that lateness. Anything else (a toggle at a rate, the
// progress line) may come late by a fraction of a millisecond: its wait is rounded up.
[[nodiscard]] inline int poll_wait_ms(double wait_ms, bool send_due) noexcept {
  if (wait_ms <= 0) return 0;
  const int whole = static_cast<int>(std::min(wait_ms, 100.0));
  return send_due ? whole : std::min(whole + 1, 100);
}

}  // namespace pollscope

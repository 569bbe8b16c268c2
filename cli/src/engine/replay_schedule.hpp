#pragma once

// A replay's schedule on one poller: the messages of the flows its active pairs carry (flow i on
// active pair i of the run, wrapping round when there are more flows than pairs), each due at
// the phase's start plus its recorded offset divided by the speed. Like the Ticker, it hands out
// what is due, catching up after a slow poll, and says when the next is due.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "replay/replay_trace.hpp"

namespace pollscope {

class ReplaySchedule {
 public:
  struct Slot {
    std::uint64_t due_ns;
    std::size_t pair;  // this poller's
    std::uint32_t bytes;
  };
  // Which active pairs of the run a poller holds: `count` from `first`, of `run_active`.
  struct Pairs {
    std::size_t first = 0;
    std::size_t count = 0;
    std::size_t run_active = 0;
  };

  ReplaySchedule() = default;  // nothing due
  // The messages for `pairs` that `sends(pair)` says can be sent, from `start_ns`.
  template <typename CanSend>
  ReplaySchedule(const ReplayTrace& trace, double speed, std::uint64_t start_ns, Pairs pairs,
                 CanSend&& sends) {
    for (const ReplayMessage& message : trace.messages) {
      const std::size_t pair = message.flow % pairs.run_active;
      if (pair < pairs.first || pair >= pairs.first + pairs.count) continue;
      if (!sends(pair - pairs.first)) continue;
      slots_.push_back({due_at(start_ns, static_cast<double>(message.offset_ns) / speed),
                        pair - pairs.first, message.bytes});
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }
  // The slot due at `now_ns`, if any, moving on to the next one.
  std::optional<Slot> take(std::uint64_t now_ns) noexcept {
    if (next_ == slots_.size() || now_ns < slots_[next_].due_ns) return std::nullopt;
    return slots_[next_++];
  }
  // When the next slot is due, if any is left.
  [[nodiscard]] std::optional<std::uint64_t> next_due() const noexcept {
    if (next_ == slots_.size()) return std::nullopt;
    return slots_[next_].due_ns;
  }
  // `wake_at`, or the next slot when it comes sooner.
  [[nodiscard]] double sooner(double wake_at) const noexcept {
    if (next_ == slots_.size()) return wake_at;
    return std::min(wake_at, static_cast<double>(slots_[next_].due_ns));
  }

 private:
  // `start_ns` plus `offset_ns`; never, past what 64 bits hold (a phase with duration_ms may
  // replay at a speed so slow that its later messages are due after the end of time: converting
  // such an offset would be undefined).
  static std::uint64_t due_at(std::uint64_t start_ns, double offset_ns) noexcept {
    if (!(offset_ns < 0x1p63)) return UINT64_MAX;  // NaN too
    const auto offset = static_cast<std::uint64_t>(offset_ns);
    return offset > UINT64_MAX - start_ns ? UINT64_MAX : start_ns + offset;
  }

  std::vector<Slot> slots_;
  std::size_t next_ = 0;
};

}  // namespace pollscope

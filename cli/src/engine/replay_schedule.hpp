#pragma once

// A replay's schedule on one poller: the messages of the flows its active pairs carry (flow i on
// active pair i of the run, wrapping round when there are more flows than pairs), each due at
// the phase's start plus its recorded offset divided by the speed. Like the Ticker, it hands out
// what is due, catching up after a slow poll, and says when the next is due. Its start is set
// once it is built (begin): a trace of millions of messages takes a while to lay out, and that
// time is not the traffic's (counted from the start, it was the first messages' latency).

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
  // The messages for `pairs` that `sends(pair)` says can be sent; none is due before begin.
  template <typename CanSend>
  ReplaySchedule(const ReplayTrace& trace, double speed, Pairs pairs, CanSend&& sends) {
    for (const ReplayMessage& message : trace.messages) {
      const std::size_t pair = message.flow % pairs.run_active;
      if (pair < pairs.first || pair >= pairs.first + pairs.count) continue;
      if (!sends(pair - pairs.first)) continue;
      slots_.push_back({offset_of(static_cast<double>(message.offset_ns) / speed),
                        pair - pairs.first, message.bytes});
    }
  }

  // The schedule runs from `start_ns` on.
  void begin(std::uint64_t start_ns) noexcept { start_ns_ = start_ns; }
  [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }
  // The slots handed out (or dropped) so far.
  [[nodiscard]] std::size_t taken() const noexcept { return next_; }
  // The slot due at `now_ns`, if any, moving on to the next one.
  std::optional<Slot> take(std::uint64_t now_ns) noexcept {
    if (next_ == slots_.size() || now_ns < due(next_)) return std::nullopt;
    const Slot& slot = slots_[next_];
    return Slot{due(next_++), slot.pair, slot.bytes};
  }
  // Drops the slots due before `end_ns` that were not taken, and says how many: when the phase
  // ends, they were due and are never sent.
  std::size_t drop_due_before(std::uint64_t end_ns) noexcept {
    const std::size_t from = next_;
    while (next_ < slots_.size() && due(next_) < end_ns) ++next_;
    return next_ - from;
  }
  // When the next slot is due, if any is left.
  [[nodiscard]] std::optional<std::uint64_t> next_due() const noexcept {
    if (next_ == slots_.size()) return std::nullopt;
    return due(next_);
  }
  // `wake_at`, or the next slot when it comes sooner.
  [[nodiscard]] double sooner(double wake_at) const noexcept {
    if (next_ == slots_.size()) return wake_at;
    return std::min(wake_at, static_cast<double>(due(next_)));
  }

 private:
  // An offset in whole nanoseconds; never (UINT64_MAX), past what 64 bits hold (a phase with
  // duration_ms may replay at a speed so slow that its later messages are due after the end of
  // time: converting such an offset would be undefined).
  static std::uint64_t offset_of(double offset_ns) noexcept {
    if (!(offset_ns < 0x1p63)) return UINT64_MAX;  // NaN too
    return static_cast<std::uint64_t>(offset_ns);
  }
  // Slot i's time: the start plus its offset, never past the end of time (nor before begin).
  [[nodiscard]] std::uint64_t due(std::size_t i) const noexcept {
    const std::uint64_t offset = slots_[i].due_ns;
    return offset > UINT64_MAX - start_ns_ ? UINT64_MAX : start_ns_ + offset;
  }

  std::vector<Slot> slots_;  // each due_ns an offset from the start
  std::uint64_t start_ns_ = UINT64_MAX;
  std::size_t next_ = 0;
};

}  // namespace pollscope

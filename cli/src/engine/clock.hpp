#pragma once

// The engine's clock, read twice per message (the send stamp and the dispatch time), so its
// cost is most of what measuring costs. Where the kernel itself keeps time with the CPU's
// time-stamp counter (clocksource "tsc", and the counter is invariant: a constant rate, running
// in every sleep state, the same on every CPU), the engine reads the counter directly and scales
// it to nanoseconds: about 12 ns a read here against about 31 ns for the vDSO's
// clock_gettime(CLOCK_MONOTONIC), which adds a seqlock and the kernel's own scaling. Anywhere
// else it is clock_gettime(CLOCK_MONOTONIC).
//
// Readings are nanoseconds on a monotonic scale private to the process (their origin is not
// CLOCK_MONOTONIC's): only differences and deadlines mean anything.

#include <cstdint>
#include <string_view>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace pollscope {

class Clock {
  __extension__ using Wide = unsigned __int128;  // GCC and Clang's; -Wpedantic knows it

 public:
  // The process's clock, chosen and calibrated on first use (a few milliseconds).
  static const Clock& get();

  [[nodiscard]] std::uint64_t now_ns() const noexcept {
#if defined(__x86_64__)
    if (use_counter_) {
      const std::uint64_t ticks = __rdtsc() - origin_ticks_;
      // 32.32 fixed point: exact enough (the scale is calibrated to about 1e-5) and no division.
      return static_cast<std::uint64_t>((static_cast<Wide>(ticks) * scale_) >> 32);
    }
#endif
    return monotonic_ns();
  }

  // "tsc" or "clock_monotonic", for the report's context.
  [[nodiscard]] std::string_view name() const noexcept {
    return use_counter_ ? "tsc" : "clock_monotonic";
  }

  static std::uint64_t monotonic_ns() noexcept;

 private:
  Clock();

  bool use_counter_ = false;
  std::uint64_t origin_ticks_ = 0;
  std::uint64_t scale_ = 0;  // nanoseconds per tick, times 2^32
};

}  // namespace pollscope

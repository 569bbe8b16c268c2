#include "engine/clock.hpp"

#include <time.h>

#include <fstream>
#include <string>

namespace pollscope {

namespace {

std::string first_line(const char* path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

// The kernel tested the counter at boot and keeps time with it; and the CPU says the counter's
// rate does not change with frequency scaling or sleep states.
bool counter_is_trusted() {
#if defined(__x86_64__)
  if (first_line("/sys/devices/system/clocksource/clocksource0/current_clocksource") != "tsc") {
    return false;
  }
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    const auto has = [&](const char* flag) {
      return (line + ' ').find(std::string(" ") + flag + ' ') != std::string::npos;
    };
    return has("constant_tsc") && has("nonstop_tsc");
  }
#endif
  return false;
}

}  // namespace

std::uint64_t Clock::monotonic_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(now.tv_nsec);
}

const Clock& Clock::get() {
  static const Clock clock;
  return clock;
}

Clock::Clock() {
#if defined(__x86_64__)
  if (!counter_is_trusted()) return;
  // The rate is measured against CLOCK_MONOTONIC over 5 ms. Each end is bracketed by two
  // counter reads, so that a preemption between the paired reads shows as a wide bracket and
  // is retried.
  constexpr std::uint64_t kSpanNs = 5'000'000;
  const auto paired = [](std::uint64_t& ticks, std::uint64_t& ns) {
    for (int attempt = 0;; ++attempt) {
      const std::uint64_t before = __rdtsc();
      ns = monotonic_ns();
      const std::uint64_t after = __rdtsc();
      ticks = before + (after - before) / 2;
      if (after - before < 2000 || attempt == 100) return;
    }
  };
  std::uint64_t ticks0 = 0, ns0 = 0, ticks1 = 0, ns1 = 0;
  paired(ticks0, ns0);
  do {
    paired(ticks1, ns1);
  } while (ns1 - ns0 < kSpanNs);
  if (ticks1 <= ticks0) return;  // a counter that does not move: keep clock_gettime
  scale_ = static_cast<std::uint64_t>((static_cast<Wide>(ns1 - ns0) << 32) / (ticks1 - ticks0));
  origin_ticks_ = ticks0;
  use_counter_ = scale_ != 0;
#endif
}

}  // namespace pollscope

// The descriptors a scenario needs in each process, and the limit raised to hold them.

#include <sys/resource.h>

#include <string>

#include "base/failure.hpp"
#include "engine/engine.hpp"
#include "scenario/split.hpp"

namespace pollscope {

std::uint64_t descriptors_needed(const Scenario& scenario) {
  const std::uint64_t pairs = largest_share(scenario.sockets.count, scenario.workers);
  // Two per pair, plus the selector, its wake pipe, listeners, stdio and a margin.
  return pairs * 2 + 64;
}

void raise_fd_limit(const Scenario& scenario) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  const auto needed = descriptors_needed(scenario);
  if (limit.rlim_cur < needed && limit.rlim_max >= needed) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur >= needed) return;
  const auto per_process = limit.rlim_max > 64 ? limit.rlim_max - 64 : 1;
  const auto fds = std::uint64_t{scenario.sockets.count} * 2;
  throw Failure::environment(
      "scenario \"" + scenario.name + "\" needs " + std::to_string(needed) +
      " descriptors per process (sockets.count " + std::to_string(scenario.sockets.count) +
      " pairs over " + std::to_string(scenario.workers) + " worker(s)), but RLIMIT_NOFILE allows " +
      std::to_string(limit.rlim_max) + "; set \"workers\" to at least " +
      std::to_string((fds + per_process - 1) / per_process));
}

}  // namespace pollscope

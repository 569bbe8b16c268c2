// The descriptors a scenario needs in each process, and the limit raised to hold them.

#include <sys/resource.h>

#include <string>

#include "engine/engine.hpp"
#include "scenario/split.hpp"

namespace pollscope {

std::uint64_t descriptors_needed(const Scenario& scenario) {
  const std::uint64_t pairs = largest_share(scenario.sockets.count, scenario.workers);
  // Two per pair, plus the selector, its wake pipe, listeners, stdio and a margin.
  return pairs * 2 + 64;
}

namespace {

// What to change so that the scenario fits: more workers, up to the most allowed; past that,
// fewer pairs.
std::string fd_limit_advice(const Scenario& scenario, std::uint64_t hard_limit) {
  const std::uint64_t per_process = hard_limit > 64 ? hard_limit - 64 : 0;
  const std::uint64_t fds = std::uint64_t{scenario.sockets.count} * 2;
  if (per_process < 2) return "raise the hard limit (ulimit -Hn)";
  const std::uint64_t workers = (fds + per_process - 1) / per_process;
  if (workers <= kMaxWorkers) return "set \"workers\" to at least " + std::to_string(workers);
  return "even " + std::to_string(kMaxWorkers) + " workers cannot hold " +
         std::to_string(scenario.sockets.count) + " pairs: lower sockets.count to at most " +
         std::to_string(per_process / 2 * kMaxWorkers) + " or raise the hard limit";
}

}  // namespace

std::optional<std::string> raise_fd_limit(const Scenario& scenario) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  const auto needed = descriptors_needed(scenario);
  if (limit.rlim_cur < needed && limit.rlim_max >= needed) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur >= needed) return std::nullopt;
  return std::string(
      "scenario \"" + scenario.name + "\" needs " + std::to_string(needed) +
      " descriptors per process (sockets.count " + std::to_string(scenario.sockets.count) +
      " pairs over " + std::to_string(scenario.workers) + " worker(s)), but RLIMIT_NOFILE allows " +
      std::to_string(limit.rlim_max) + "; " + fd_limit_advice(scenario, limit.rlim_max));
}

}  // namespace pollscope

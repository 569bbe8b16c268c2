// The descriptors a scenario needs in each process, and the limit raised to hold them.

#include <sys/resource.h>

#include <algorithm>
#include <string>

#include "engine/engine.hpp"
#include "scenario/split.hpp"

namespace pollscope {

namespace {

// What each poller holds besides its pairs, per Poll (the peer's poller has its own): the
// selector, its waker (two for a pipe, on poll(2)) and the io_uring ring its thread batches
// registry changes in; a capture's packet socket and wake-up; with the peer elsewhere, the two
// ends of the channel between them.
constexpr std::uint64_t kPerPoll = 4;
constexpr std::uint64_t kPerCapture = 2;
constexpr std::uint64_t kPerChannel = 2;
// The process's own: stdio, TCP listeners, the supervisor's Poll and pipes, and a margin.
constexpr std::uint64_t kPerProcess = 64;

std::uint64_t per_poller(const Scenario& scenario) {
  const bool peer = scenario.sockets.peer != PeerPlacement::same_loop;
  const std::uint64_t per_poll = kPerPoll + (scenario.capture ? kPerCapture : 0);
  return peer ? 2 * per_poll + kPerChannel : per_poll;
}

// One process holding `pairs` pairs: two descriptors each, and its pollers' own (one poller per
// thread, none without a pair of its own).
std::uint64_t needed_for(const Scenario& scenario, std::uint64_t pairs) {
  const std::uint64_t pollers =
      std::max<std::uint64_t>(1, std::min<std::uint64_t>(scenario.threads, pairs));
  return pairs * 2 + pollers * per_poller(scenario) + kPerProcess;
}

}  // namespace

std::uint64_t descriptors_needed(const Scenario& scenario) {
  return needed_for(scenario, largest_share(scenario.sockets.count, scenario.workers));
}

namespace {

// What to change so that the scenario fits: more workers, up to the most allowed; past that,
// fewer pairs.
std::string fd_limit_advice(const Scenario& scenario, std::uint64_t hard_limit) {
  for (std::uint64_t workers = scenario.workers + 1; workers <= kMaxWorkers; ++workers) {
    if (needed_for(scenario, largest_share(scenario.sockets.count, workers)) <= hard_limit) {
      return "set \"workers\" to at least " + std::to_string(workers);
    }
  }
  // The most pairs one process holds, each poller with pairs to spare.
  const std::uint64_t own = scenario.threads * per_poller(scenario) + kPerProcess;
  const std::uint64_t per_process = hard_limit > own ? (hard_limit - own) / 2 : 0;
  if (per_process == 0) return "raise the hard limit (ulimit -Hn)";
  return "even " + std::to_string(kMaxWorkers) + " workers cannot hold " +
         std::to_string(scenario.sockets.count) + " pairs: lower sockets.count to at most " +
         std::to_string(per_process * kMaxWorkers) + " or raise the hard limit";
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

// Poller threads: each a Poller with its own Poll over its part of the process's pairs, merged
// like worker processes. A failure in any thread fails the run, with that thread's message.

#include <algorithm>
#include <exception>
#include <thread>

#include "base/failure.hpp"
#include "engine/poller.hpp"
#include "scenario/split.hpp"

namespace pollscope {

RunOutcome run_threads(const Scenario& scenario, const RunOptions& options, std::size_t pairs,
                       std::size_t active, bool faults) {
  const std::size_t threads =
      std::max<std::size_t>(1, std::min<std::size_t>(scenario.threads, pairs));
  std::vector<RunOutcome> outcomes(threads);
  std::vector<std::exception_ptr> failures(threads);
  const auto run_one = [&](std::size_t t) {
    try {
      injected_failure_point("engine.thread");
      RunOptions thread_options = options;
      if (t != 0) thread_options.progress = nullptr;
      outcomes[t] = Poller(scenario, thread_options, share_of(pairs, threads, t),
                           share_of(active, threads, t), faults && t == 0)
                        .run();
    } catch (...) {
      failures[t] = std::current_exception();
    }
  };
  if (threads == 1) {
    run_one(0);
  } else {
    std::vector<std::thread> running;
    for (std::size_t t = 0; t < threads; ++t) running.emplace_back(run_one, t);
    for (auto& thread : running) thread.join();
  }
  for (const auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
  for (std::size_t t = 1; t < threads; ++t) outcomes[0].merge(outcomes[t]);
  return std::move(outcomes[0]);
}

}  // namespace pollscope

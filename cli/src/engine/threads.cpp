// Poller threads: each a Poller with its own Poll over its part of the process's pairs, merged
// like worker processes. A failure in any thread fails the run, with that thread's message (the
// cause's, when another thread's only follows from it).

#include <algorithm>
#include <exception>
#include <thread>

#include "base/failure.hpp"
#include "engine/fan_out.hpp"
#include "engine/poller.hpp"
#include "scenario/split.hpp"

namespace pollscope {

namespace {

bool is_consequent(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const ConsequentFailure&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

RunOutcome run_side_by_side(std::size_t count, const std::function<RunOutcome(std::size_t)>& job) {
  std::vector<RunOutcome> outcomes(count);
  std::vector<std::exception_ptr> failures(count);
  const auto run_one = [&](std::size_t t) {
    try {
      injected_failure_point("engine.thread");
      outcomes[t] = job(t);
    } catch (...) {
      failures[t] = std::current_exception();
    }
  };
  if (count == 1) {
    run_one(0);
  } else {
    std::vector<std::thread> running;
    for (std::size_t t = 0; t < count; ++t) running.emplace_back(run_one, t);
    for (auto& thread : running) thread.join();
  }
  // The cause first: a near side's "the peer ended" hides why its peer did (say, EMFILE).
  for (const auto& failure : failures) {
    if (failure && !is_consequent(failure)) std::rethrow_exception(failure);
  }
  for (const auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
  for (std::size_t t = 1; t < count; ++t) outcomes[0].merge(outcomes[t]);
  return std::move(outcomes[0]);
}

RunOutcome run_threads(const Scenario& scenario, const RunOptions& options, PairShare share,
                       bool faults) {
  if (scenario.sockets.peer != PeerPlacement::same_loop) {
    return run_with_peers(scenario, options, share, faults);
  }
  const std::size_t threads =
      std::max<std::size_t>(1, std::min<std::size_t>(scenario.threads, share.pairs));
  return run_side_by_side(threads, [&](std::size_t t) {
    RunOptions thread_options = options;
    if (t != 0) thread_options.progress = nullptr;
    return Poller(scenario, thread_options, share_of(share.pairs, threads, t),
                  share_of(share.active, threads, t),
                  share.first_active + start_of(share.active, threads, t), faults && t == 0)
        .run();
  });
}

}  // namespace pollscope

#pragma once

// How the engine fans pollers out and merges them: jobs side by side on threads of their own,
// jobs in forked processes (watched by a Supervisor), and pollers whose peers run on a thread or
// in a process of their own. One piece of machinery for poller threads, worker processes and
// peers alike.

#include <cstddef>
#include <functional>

#include "base/failure.hpp"
#include "engine/engine.hpp"
#include "engine/supervisor.hpp"

namespace pollscope {

// A failure that only follows from another's: a near side whose peer ended (because the peer
// failed). run_side_by_side reports the other.
class ConsequentFailure : public Failure {
 public:
  using Failure::Failure;
};

// Runs `count` jobs side by side, each on a thread of its own (a single one on the calling
// thread), and merges their outcomes in order. A failure in any fails the run, with the first
// one's message (in job order), a ConsequentFailure only when no job failed otherwise.
[[nodiscard]] RunOutcome run_side_by_side(std::size_t count,
                                          const std::function<RunOutcome(std::size_t)>& job);

// Forks a process that runs `job` and sends its outcome (or the Failure it threw) to the parent
// through a pipe (wire.hpp); it dies with its parent. The parent adopts it into a Supervisor.
[[nodiscard]] WorkerProcess spawn_process(std::size_t index,
                                          const std::function<RunOutcome()>& job);

// One process's share of the pairs, as run_threads, with each poller's far ends on a poller
// thread or in a process of their own (sockets.peer "thread" or "process").
[[nodiscard]] RunOutcome run_with_peers(const Scenario& scenario, const RunOptions& options,
                                        PairShare share, bool faults);

}  // namespace pollscope

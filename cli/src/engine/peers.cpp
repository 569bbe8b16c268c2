// Pollers whose far ends run elsewhere (sockets.peer "thread" or "process"). The pairs are made
// here, and each poller's share is split: the near part holds the registered ends, the far part
// their peers, with a channel between the two (peer_channel.hpp). The far parts run on poller
// threads of their own, or all in one forked process, made before any thread starts and watched
// by a Supervisor like a worker; either way each with its own Poll, driven by the same Poller
// code as the near side, so that both sides are measured alike.

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/failure.hpp"
#include "engine/clock.hpp"
#include "engine/fan_out.hpp"
#include "engine/poller.hpp"
#include "scenario/split.hpp"

namespace pollscope {

namespace {

struct Parts {
  std::vector<PollerPart> near;
  std::vector<PollerPart> far;
};

Parts split_parts(const Scenario& scenario, const RunOptions& options, PairShare share, bool faults,
                  std::size_t pollers) {
  Parts parts;
  for (std::size_t t = 0; t < pollers; ++t) {
    auto [near_channel, far_channel] = PeerChannel::make();
    const std::size_t part_active = share_of(share.active, pollers, t);
    const std::size_t first = share.first_active + start_of(share.active, pollers, t);
    const bool part_faults = faults && t == 0;
    PollerPart near{{}, part_active, first, part_faults, Side::near, std::move(near_channel)};
    PollerPart far{{}, part_active, first, part_faults, Side::far, std::move(far_channel)};
    for (LinkPair& pair : make_pairs_until_stopped(
             scenario.sockets.kind, share_of(share.pairs, pollers, t), options.stop)) {
      near.pairs.push_back(LinkPair{nullptr, std::move(pair.b), pair.two_way});
      far.pairs.push_back(LinkPair{std::move(pair.a), nullptr, pair.two_way});
    }
    parts.near.push_back(std::move(near));
    parts.far.push_back(std::move(far));
  }
  return parts;
}

RunOutcome run_part(const Scenario& scenario, const RunOptions& options, PollerPart part,
                    bool with_progress) {
  RunOptions part_options = options;
  if (!with_progress) part_options.progress = nullptr;
  return Poller(scenario, part_options, std::move(part)).run();
}

// The peer process: the far parts, one poller thread each. It closes the near ends it inherited,
// so that a reset or a close is the peer's alone, as across two real programs.
RunOutcome run_peer_process(const Scenario& scenario, const RunOptions& options, Parts& parts) {
  parts.near.clear();
  return run_side_by_side(parts.far.size(), [&](std::size_t t) {
    return run_part(scenario, options, std::move(parts.far[t]), false);
  });
}

// The peer process's outcome, as its Supervisor collected it; its end is not a worker's, and a
// failure names it as the peer process. Killed for not answering the user's stop, it sent
// nothing: the run is interrupted, and the near side's figures stand.
RunOutcome watch_peer_process(Supervisor& supervisor) {
  std::optional<RunOutcome> peer = supervisor.collect();
  for (const WorkerEnd& end : supervisor.ends()) {
    if (end.failed && !end.unanswered_stop) {
      throw Failure::environment(fmt::format("the peer process (pid {}) {}", end.pid, end.how));
    }
  }
  RunOutcome outcome = peer ? std::move(*peer) : RunOutcome();
  outcome.workers.clear();
  outcome.peak_rss_kib = 0;
  return outcome;
}

}  // namespace

RunOutcome run_with_peers(const Scenario& scenario, const RunOptions& options, PairShare share,
                          bool faults) {
  const std::size_t pollers =
      std::max<std::size_t>(1, std::min<std::size_t>(scenario.threads, share.pairs));
  // Calibrated before a peer process forks, which then reads the very same clock: one-way
  // latencies subtract stamps taken on both sides.
  (void)Clock::get();
  Parts parts = split_parts(scenario, options, share, faults, pollers);
  if (scenario.sockets.peer == PeerPlacement::thread) {
    // Near part t is job 2t, its peer job 2t + 1.
    return run_side_by_side(2 * pollers, [&](std::size_t job) {
      auto& side = job % 2 == 0 ? parts.near : parts.far;
      return run_part(scenario, options, std::move(side[job / 2]), job == 0);
    });
  }
  Supervisor supervisor(options, hang_deadline_ms(scenario));
  supervisor.adopt(spawn_process(0, [&] { return run_peer_process(scenario, options, parts); }));
  parts.far.clear();
  // Job 0 watches the peer process, so that its death is the failure reported when the near
  // pollers fail for the want of it.
  return run_side_by_side(pollers + 1, [&](std::size_t job) {
    if (job == 0) return watch_peer_process(supervisor);
    return run_part(scenario, options, std::move(parts.near[job - 1]), job == 1);
  });
}

}  // namespace pollscope

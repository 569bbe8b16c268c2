#include "scenario/memory.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace pollscope {

namespace {

constexpr std::uint64_t kStampBytes = 16;  // what a message owed holds until the socket takes it
constexpr std::uint64_t kReplayOwedBytes = 20;    // a replayed message owed also keeps its size
constexpr std::uint64_t kReplayHeaderBytes = 28;  // the smallest replayed message (padded)

// A replay may owe its whole schedule on one pair, should that pair fall behind.
std::uint64_t replay_buffering_bytes(const Scenario& scenario, const ReplayTrace& trace) {
  const std::uint64_t largest = std::max<std::uint64_t>(trace.largest, kReplayHeaderBytes);
  return std::uint64_t{scenario.sockets.active} * 2 * largest +
         trace.messages.size() * kReplayOwedBytes;
}

// The messages one pair may owe at once: its in-flight count in a closed loop; in an open loop,
// a second of the whole schedule, should one pair carry it all (faults silenced the others). The
// engine owes a pair no more than a second of its schedule (engine/traffic.cpp): the rest of a
// loop that far behind is not sent, but counted late.
std::uint64_t messages_owed(const Phase& phase) {
  if (const auto* closed = std::get_if<ClosedLoop>(&phase.load)) return closed->in_flight;
  return static_cast<std::uint64_t>(std::ceil(std::get<OpenLoop>(phase.load).rate_per_second));
}

}  // namespace

std::uint64_t phase_buffering_bytes(const Scenario& scenario, const Phase& phase) {
  if (const Replay* replay = replay_of(phase)) {
    return replay->trace ? replay_buffering_bytes(scenario, *replay->trace) : 0;
  }
  const std::uint64_t per_pair = 2 * std::uint64_t{phase.payload_bytes} +  // one out, one in
                                 messages_owed(phase) * kStampBytes;
  return std::uint64_t{scenario.sockets.active} * per_pair;
}

std::optional<Problem> check_memory_budget(const Scenario& scenario, const std::string& file,
                                           std::uint64_t budget_mib) {
  const std::uint64_t budget = budget_mib << 20;
  for (std::size_t i = 0; i < scenario.phases.size(); ++i) {
    const Phase& phase = scenario.phases[i];
    const std::uint64_t bytes = phase_buffering_bytes(scenario, phase);
    if (bytes <= budget) continue;
    // What the figure is made of (a replay owes messages of many sizes).
    const Replay* replay = replay_of(phase);
    const std::string parts =
        replay != nullptr
            ? fmt::format(
                  "{} active pairs x 2 x {} bytes of its largest message + {} messages "
                  "owed x {} bytes",
                  scenario.sockets.active,
                  std::max<std::uint64_t>(replay->trace->largest, kReplayHeaderBytes),
                  replay->trace->messages.size(), kReplayOwedBytes)
            : fmt::format("{} active pairs x (2 x {} payload bytes + {} messages owed x {} bytes)",
                          scenario.sockets.active, phase.payload_bytes, messages_owed(phase),
                          kStampBytes);
    return Problem{file, fmt::format("/phases/{}", i),
                   fmt::format("phase \"{}\" may buffer {} MiB ({}), over the {} MiB memory budget "
                               "(--memory-budget MIB raises it)",
                               phase.name, (bytes + (1 << 20) - 1) >> 20, parts, budget_mib)};
  }
  return std::nullopt;
}

}  // namespace pollscope

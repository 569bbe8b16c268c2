#include "scenario/memory.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "capture/capture_session.hpp"
#include "capture/wire_matcher.hpp"
#include "engine/replay_schedule.hpp"
#include "scenario/split.hpp"

namespace pollscope {

namespace {

constexpr std::uint64_t kStampBytes = 16;  // what a message owed holds until the socket takes it
constexpr std::uint64_t kReplayOwedBytes = 20;    // a replayed message owed also keeps its size
constexpr std::uint64_t kReplayHeaderBytes = 28;  // the smallest replayed message (padded)
constexpr std::uint64_t kSlotBytes = sizeof(ReplaySchedule::Slot);
constexpr std::uint64_t kTraceMessageBytes = sizeof(ReplayMessage);
// A flow in the table the trace is read with (replay/replay_trace.hpp). Only the flows replayed
// are known here, not those without a payload in their first direction.
constexpr std::uint64_t kFlowReadBytes = kReadFlowBytes;

std::uint64_t largest_message(const ReplayTrace& trace) {
  return std::max<std::uint64_t>(trace.largest, kReplayHeaderBytes);
}

// The slots a schedule of `messages` holds at its peak: built by push_back, its capacity doubles
// (1, 2, 4...) to the power of two at or past `messages`, and the last growth holds the old half
// and the new whole at once while it copies.
std::uint64_t peak_slots(std::uint64_t messages) {
  const std::uint64_t capacity = std::bit_ceil(messages);
  return messages == 0 ? 0 : capacity + capacity / 2;
}

std::uint64_t workers_of(const Scenario& scenario) {
  return std::max<std::uint64_t>(1, scenario.workers);
}

// The poller threads of worker `w`: one a pair at most, as engine/processes.cpp and threads.cpp
// share the pairs out.
std::uint64_t pollers_of(const Scenario& scenario, std::uint64_t w) {
  const std::uint64_t pairs = share_of(scenario.sockets.count, workers_of(scenario), w);
  return std::max<std::uint64_t>(1, std::min<std::uint64_t>(scenario.threads, pairs));
}

// The schedules' slots at their peak, poller by poller as the run places them: flow i on active
// pair i mod active; the active pairs shared out among the workers, then each worker's among its
// poller threads.
std::uint64_t schedule_slots(const Scenario& scenario, const ReplayTrace& trace) {
  const std::uint64_t active = scenario.sockets.active;
  if (active == 0) return 0;
  std::vector<std::uint64_t> per_pair(active, 0);
  for (const ReplayMessage& message : trace.messages) ++per_pair[message.flow % active];
  std::uint64_t slots = 0;
  const std::uint64_t workers = workers_of(scenario);
  for (std::uint64_t w = 0; w < workers; ++w) {
    const std::uint64_t pollers = pollers_of(scenario, w);
    const std::uint64_t worker_active = share_of(active, workers, w);
    const std::uint64_t worker_first = start_of(active, workers, w);
    for (std::uint64_t t = 0; t < pollers; ++t) {
      const std::uint64_t first = worker_first + start_of(worker_active, pollers, t);
      const auto begin = per_pair.begin() + static_cast<std::ptrdiff_t>(first);
      const auto count = static_cast<std::ptrdiff_t>(share_of(worker_active, pollers, t));
      slots += peak_slots(std::accumulate(begin, begin + count, std::uint64_t{0}));
    }
  }
  return slots;
}

// The messages one pair may owe at once: its in-flight count in a closed loop; in an open loop,
// a second of the whole schedule, should one pair carry it all (faults silenced the others). The
// engine owes a pair no more than a second of its schedule (engine/traffic.cpp): the rest of a
// loop that far behind is not sent, but counted late.
std::uint64_t messages_owed(const Phase& phase) {
  if (const auto* closed = std::get_if<ClosedLoop>(&phase.load)) return closed->in_flight;
  return static_cast<std::uint64_t>(std::ceil(std::get<OpenLoop>(phase.load).rate_per_second));
}

std::uint64_t mib_rounded_up(std::uint64_t bytes) {
  return (bytes + (1 << 20) - 1) >> 20;
}

std::uint64_t most_demanding_phase(const Scenario& scenario) {
  std::uint64_t most = 0;
  for (const Phase& phase : scenario.phases) {
    most = std::max(most, phase_buffering_bytes(scenario, phase));
  }
  return most;
}

// What the capture adds to a refusal: what it needs for the whole run.
std::string capture_parts(const CaptureMemory& capture) {
  if (capture.pollers == 0) return "";
  const std::string flows =
      capture.flows == 0
          ? ""
          : fmt::format(" and {} flows x {} bytes", capture.flows / WireMatcher::kFlowBytes,
                        WireMatcher::kFlowBytes);
  return fmt::format(", beside the capture's {} MiB ({} pollers x a {} MiB ring{})",
                     mib_rounded_up(capture.fixed()), capture.pollers, capture.ring >> 20, flows);
}

// What a replay phase's figure is made of, for the refusal.
std::string replay_parts(const Scenario& scenario, const ReplayTrace& trace) {
  const ReplayMemory memory = replay_memory(scenario, trace);
  return fmt::format(
      "the trace {} MiB: {} message slots x {} bytes; the pollers' schedules {} MiB: {} slots x "
      "{} bytes at their peak, grown by doubling; {} messages owed x {} bytes; {} active pairs x "
      "2 x {} bytes of its largest message; {} flows x {} bytes while read",
      mib_rounded_up(memory.trace), trace.messages.capacity(), kTraceMessageBytes,
      mib_rounded_up(memory.schedules), memory.schedule_slots, kSlotBytes, trace.messages.size(),
      kReplayOwedBytes, scenario.sockets.active, largest_message(trace), trace.flows,
      kFlowReadBytes);
}

}  // namespace

// A replay holds, at worst at once: its trace, as read (16 bytes a message, the capacity the
// read left it); each sending poller's schedule (24 bytes a slot, at its peak while built: this
// also covers the read's own peak, the trace growing by doubling, which comes and goes before);
// its whole schedule owed, should the pairs fall behind; a message out and one in per active
// pair; and the flow table it was read with.
ReplayMemory replay_memory(const Scenario& scenario, const ReplayTrace& trace) {
  ReplayMemory memory;
  memory.pairs = std::uint64_t{scenario.sockets.active} * 2 * largest_message(trace);
  memory.owed = trace.messages.size() * kReplayOwedBytes;
  memory.trace = trace.messages.capacity() * kTraceMessageBytes;
  memory.schedule_slots = schedule_slots(scenario, trace);
  memory.schedules = memory.schedule_slots * kSlotBytes;
  memory.flows = std::uint64_t{trace.flows} * kFlowReadBytes;
  return memory;
}

std::uint64_t phase_buffering_bytes(const Scenario& scenario, const Phase& phase) {
  if (const Replay* replay = replay_of(phase)) {
    return replay->trace ? replay_memory(scenario, *replay->trace).total() : 0;
  }
  const std::uint64_t per_pair = 2 * std::uint64_t{phase.payload_bytes} +  // one out, one in
                                 messages_owed(phase) * kStampBytes;
  return std::uint64_t{scenario.sockets.active} * per_pair;
}

std::optional<Problem> check_memory_budget(const Scenario& scenario, const std::string& file,
                                           std::uint64_t budget_mib) {
  const std::uint64_t budget = budget_mib << 20;
  const CaptureMemory capture = capture_memory(scenario, budget_mib);
  for (std::size_t i = 0; i < scenario.phases.size(); ++i) {
    const Phase& phase = scenario.phases[i];
    const std::uint64_t bytes = phase_buffering_bytes(scenario, phase);
    if (bytes + capture.fixed() <= budget) continue;
    // What the figure is made of (a replay owes messages of many sizes).
    const Replay* replay = replay_of(phase);
    const std::string parts =
        replay != nullptr
            ? replay_parts(scenario, *replay->trace)
            : fmt::format("{} active pairs x (2 x {} payload bytes + {} messages owed x {} bytes)",
                          scenario.sockets.active, phase.payload_bytes, messages_owed(phase),
                          kStampBytes);
    return Problem{
        file, fmt::format("/phases/{}", i),
        fmt::format("phase \"{}\" may buffer {} MiB ({}){}, over the {} MiB memory "
                    "budget (--memory-budget MIB raises it)",
                    phase.name, mib_rounded_up(bytes), parts, capture_parts(capture), budget_mib)};
  }
  return std::nullopt;
}

std::uint64_t CaptureMemory::total() const {
  return fixed() + pollers * records * WireMatcher::kRecordBytes;
}

// The rings and flows are what a capture cannot do without (check_memory_budget refuses a run
// they do not fit); the matchers share what is left, each up to its limit: past it, a message
// goes unmatched, counted in capture.messages_over_limit, and the run keeps to its budget.
CaptureMemory capture_memory(const Scenario& scenario, std::uint64_t budget_mib) {
  if (!scenario.capture) return {};
  CaptureMemory memory;
  for (std::uint64_t w = 0; w < workers_of(scenario); ++w)
    memory.pollers += pollers_of(scenario, w);
  memory.ring = ring_bytes(snapshot_for(scenario));
  if (scenario.sockets.kind == SocketKind::tcp) {
    memory.flows = 2 * std::uint64_t{scenario.sockets.count} * WireMatcher::kFlowBytes;
  }
  const std::uint64_t budget = budget_mib << 20;
  const std::uint64_t needed = most_demanding_phase(scenario) + memory.fixed();
  const std::uint64_t room = budget > needed ? budget - needed : 0;
  memory.records = std::min<std::uint64_t>(WireMatcher::kMostRecords,
                                           room / memory.pollers / WireMatcher::kRecordBytes);
  return memory;
}

std::uint64_t budget_left(const Scenario& scenario, std::uint64_t budget_mib) {
  const std::uint64_t most =
      most_demanding_phase(scenario) + capture_memory(scenario, budget_mib).total();
  const std::uint64_t budget = budget_mib << 20;
  return budget > most ? budget - most : 0;
}

}  // namespace pollscope

#pragma once

// What a scenario may hold in pollscope's own buffers at worst, against a stated budget: a
// scenario that would grow past it is refused by `validate` and `run`, naming the figures,
// instead of growing until the machine runs out of memory.

#include <cstdint>
#include <optional>
#include <string>

#include "base/failure.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {

inline constexpr std::uint64_t kDefaultMemoryBudgetMib = 1024;

// What a replay phase may hold, term by term, in bytes.
struct ReplayMemory {
  std::uint64_t pairs = 0;      // each active pair: one message out, one in, of the largest size
  std::uint64_t owed = 0;       // every message owed at once (a pair that fell behind)
  std::uint64_t trace = 0;      // the trace, kept for the whole run
  std::uint64_t schedules = 0;  // each sending poller's schedule, at its peak while built
  std::uint64_t flows = 0;      // the table of flows the trace was read with
  std::uint64_t schedule_slots = 0;  // a count: the schedules' slots at their peak, all pollers
  [[nodiscard]] std::uint64_t total() const { return pairs + owed + trace + schedules + flows; }
};

// What replaying `trace` in `scenario` may hold: see memory.cpp for each term.
[[nodiscard]] ReplayMemory replay_memory(const Scenario& scenario, const ReplayTrace& trace);

// The most bytes the phase may hold in pollscope's own buffers at once. A pair holds at most one
// message partly written and one partly read; messages due while its socket is full wait as
// their 16-byte stamps: in a closed loop its in-flight count, in an open loop a second of the
// schedule. A replay also holds its trace and schedules (replay_memory). The socket buffers are
// the kernel's, not counted here.
[[nodiscard]] std::uint64_t phase_buffering_bytes(const Scenario& scenario, const Phase& phase);

// A Problem naming the phase and its figures when a phase's buffering, beside what the capture
// needs for the whole run (its rings and flows), would exceed `budget_mib` MiB; `file` is the
// scenario's name in the message.
[[nodiscard]] std::optional<Problem> check_memory_budget(const Scenario& scenario,
                                                         const std::string& file,
                                                         std::uint64_t budget_mib);

// What the captures of a run hold (`run --capture`), each poller's: the kernel's ring as mapped
// into the process (capture_session.cpp) and the wire matcher's TCP flows (two a pair), for the
// whole run; and the matcher's tables, up to WireMatcher::kMostRecords messages a phase, fewer
// when `budget_mib` leaves less room once the most demanding phase, the rings and the flows are
// counted. All 0 without a capture.
struct CaptureMemory {
  std::uint64_t pollers = 0;
  std::uint64_t ring = 0;     // a poller's ring
  std::uint64_t flows = 0;    // the flows of all the pairs
  std::uint64_t records = 0;  // a count: what a poller's matcher keeps a phase at most
  [[nodiscard]] std::uint64_t fixed() const { return pollers * ring + flows; }
  [[nodiscard]] std::uint64_t total() const;
};
[[nodiscard]] CaptureMemory capture_memory(const Scenario& scenario, std::uint64_t budget_mib);

// What `budget_mib` MiB leave once the most demanding phase and the capture are counted (0 when
// nothing): the room for what a run keeps from start to end, such as the packets of
// `run --pcap-out`.
[[nodiscard]] std::uint64_t budget_left(const Scenario& scenario, std::uint64_t budget_mib);

}  // namespace pollscope

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

// The most bytes the phase may hold in pollscope's own buffers at once. A pair holds at most one
// message partly written and one partly read; messages due while its socket is full wait as
// their 16-byte stamps: in a closed loop its in-flight count, in an open loop a second of the
// schedule. The socket buffers are the kernel's, not counted here.
[[nodiscard]] std::uint64_t phase_buffering_bytes(const Scenario& scenario, const Phase& phase);

// A Problem naming the phase and its figures when a phase's buffering would exceed
// `budget_mib` MiB; `file` is the scenario's name in the message.
[[nodiscard]] std::optional<Problem> check_memory_budget(const Scenario& scenario,
                                                         const std::string& file,
                                                         std::uint64_t budget_mib);

}  // namespace pollscope

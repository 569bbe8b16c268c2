#pragma once

// The gate's comparison as JSON (kind "ab" in cli/comparison.schema.json) and as lines for a
// person.

#include <string>

#include <nlohmann/json.hpp>

#include "gate/gate.hpp"

namespace pollscope {

// `rounds`: the ABBA rounds that made the reports (0 when compare was given the reports).
[[nodiscard]] nlohmann::json gate_document(const GateComparison& comparison, int rounds);

// One line per figure ("latency_ns.p50: 1.12x [1.08, 1.15], p = 0.0002: regressed") and a
// verdict line, each starting with `prefix`.
[[nodiscard]] std::string gate_summary(const GateComparison& comparison, std::string_view prefix);

}  // namespace pollscope

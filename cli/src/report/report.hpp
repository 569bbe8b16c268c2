#pragma once

// The report of a run: JSON (format described by cli/report.schema.json) with a context block,
// per-phase and overall figures whose keys carry their units (written from the catalogue of
// figures), the leak checks, the thresholds with pass or fail, and a verdict. Never NaN or
// infinity.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "outcome/outcome.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {

inline constexpr int kReportFormat = 1;

struct Verdict {
  bool thresholds_passed = true;
  bool interrupted = false;
};

// Builds the report. `start_time` is ISO 8601 UTC.
[[nodiscard]] nlohmann::json make_report(const Scenario& scenario, const RunOutcome& outcome,
                                         const std::string& start_time);

// The context block: where, with what and when the run happened.
[[nodiscard]] nlohmann::json context_block(const Scenario& scenario, const RunOutcome& outcome,
                                           const std::string& start_time);

// The scenario's hash in the report's context: FNV-1a, 64 bits, of its canonical JSON (`source`),
// as "fnv1a64:<16 hex digits>".
[[nodiscard]] std::string scenario_hash(const nlohmann::json& source);

// A block of figures from the catalogue: a phase's (`overall` false) or the whole run's.
[[nodiscard]] nlohmann::json figures_block(const Figures& figures, bool overall);
// A leak check's block: a count per kind, their total, and each finding.
[[nodiscard]] nlohmann::json leaks_block(const std::vector<LeakFinding>& leaks);

// Reads the verdict back from a report made by make_report.
[[nodiscard]] Verdict verdict_of(const nlohmann::json& report);

// A few lines for a person, from the catalogue's summary lines: throughput, latency,
// correctness, leaks, thresholds, then `before_verdict` (the comparison with a baseline), and
// the verdict.
[[nodiscard]] std::string human_summary(const nlohmann::json& report,
                                        std::string_view before_verdict = {});

}  // namespace pollscope

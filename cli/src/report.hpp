#pragma once

// The report of a run: JSON (format described by cli/report.schema.json) with a context block,
// per-phase and overall figures whose keys carry their units, the leak check, the thresholds
// with pass or fail, and a verdict. Never NaN or infinity; written atomically.

#include <iosfwd>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine.hpp"
#include "scenario.hpp"

namespace pollscope {

inline constexpr int kReportFormat = 1;

struct Verdict {
  bool thresholds_passed = true;
  bool interrupted = false;
};

// Builds the report. `start_time` is ISO 8601 UTC.
[[nodiscard]] nlohmann::json make_report(const Scenario& scenario, const RunOutcome& outcome,
                                         const std::string& start_time);

// The scenario's hash in the report's context: FNV-1a, 64 bits, of its canonical JSON (`source`),
// as "fnv1a64:<16 hex digits>".
[[nodiscard]] std::string scenario_hash(const nlohmann::json& source);

// Reads the verdict back from a report made by make_report.
[[nodiscard]] Verdict verdict_of(const nlohmann::json& report);

// The value of a figure named as in a threshold ("latency_ns.p99", "leaks.total",
// "phases.steady.events_per_second"), or nothing when the report has no such figure.
[[nodiscard]] std::optional<double> figure(const nlohmann::json& report, const std::string& name);

// A few lines for a person: throughput, latency, leaks, thresholds, the comparison with a
// baseline when the report has one, verdict.
[[nodiscard]] std::string human_summary(const nlohmann::json& report);

// Writes `text` to `path` through a temporary file in the same directory and a rename, so that
// `path` never holds a partial report. Throws std::runtime_error naming the file and the reason.
void write_atomically(const std::string& path, const std::string& text);

// Writes a command's JSON document: atomically to `out_path` when given, else to `out`. False,
// after one line on `err` naming the file and the reason, when the file could not be written.
bool write_document(const std::string& text, const std::optional<std::string>& out_path,
                    std::ostream& out, std::ostream& err);

}  // namespace pollscope

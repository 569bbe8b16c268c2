#include "gate/gate_json.hpp"

#include <cmath>

#include <fmt/format.h>

#include "base/terminal_text.hpp"

namespace pollscope {

namespace {

// JSON has no infinity or NaN; a ratio that is neither is what every consumer can read.
double finite(double value) {
  return std::isfinite(value) ? value : 0;
}

nlohmann::json timing_json(const TimingRow& row) {
  const auto& judgement = row.judgement;
  nlohmann::json json = {{"metric", row.figure.metric},
                         {"direction", to_string(row.figure.direction)},
                         {"tolerance_percent", row.figure.tolerance_percent},
                         {"base", row.base},
                         {"candidate", row.candidate},
                         {"ratio", nullptr},
                         {"ratio_low", nullptr},
                         {"ratio_high", nullptr},
                         {"confidence", nullptr},
                         {"p_value", judgement.test.p_value},
                         {"exact_test", judgement.test.exact},
                         {"verdict", stats::to_string(judgement.verdict)}};
  // No ratio (a side with a zero) is null, not a ratio of 1 that was never measured.
  if (const auto& interval = judgement.interval) {
    json["ratio"] = finite(interval->ratio);
    json["ratio_low"] = finite(interval->low);
    json["ratio_high"] = finite(interval->high);
    json["confidence"] = interval->confidence;
  }
  return json;
}

nlohmann::json count_json(const CountRow& row) {
  nlohmann::json json = {{"metric", row.figure.metric},
                         {"tolerance", row.figure.tolerance},
                         {"tolerance_percent", row.figure.tolerance_percent},
                         {"base", row.base},
                         {"candidate", row.candidate},
                         {"exact", row.figure.exact},
                         {"verdict", stats::to_string(row.verdict)}};
  if (row.verdict != stats::Verdict::unchanged) json["change"] = describe_change(row);
  return json;
}

}  // namespace

nlohmann::json gate_document(const GateComparison& comparison, int rounds) {
  nlohmann::json timings = nlohmann::json::array();
  for (const TimingRow& row : comparison.timings) timings.push_back(timing_json(row));
  nlohmann::json counts = nlohmann::json::array();
  for (const CountRow& row : comparison.counts) counts.push_back(count_json(row));
  nlohmann::json thresholds = nlohmann::json::array();
  for (const ThresholdRow& row : comparison.thresholds) {
    thresholds.push_back({{"threshold", row.threshold},
                          {"runs", row.runs},
                          {"failed", row.failed},
                          {"base_runs", row.base_runs},
                          {"base_failed", row.base_failed},
                          {"verdict", stats::to_string(row.verdict())}});
  }
  return {{"format", 1},
          {"tool", "pollscope"},
          {"kind", "ab"},
          {"scenario", comparison.scenario},
          {"rounds", rounds},
          {"base_reports", comparison.base_files},
          {"candidate_reports", comparison.candidate_files},
          {"timings", timings},
          {"counts", counts},
          {"thresholds", thresholds},
          {"warnings", comparison.warnings},
          {"verdict", stats::to_string(comparison.verdict())}};
}

std::string gate_summary(const GateComparison& comparison, std::string_view prefix) {
  std::string text;
  for (const TimingRow& row : comparison.timings) {
    text +=
        fmt::format("{}{}: {}, p = {:.2g}: {}\n", prefix, row.figure.metric, describe_ratio(row),
                    row.judgement.test.p_value, stats::to_string(row.judgement.verdict));
  }
  for (const CountRow& row : comparison.counts) {
    text += fmt::format("{}{}: {}\n", prefix, describe_change(row), stats::to_string(row.verdict));
  }
  // A threshold only when it failed somewhere: passing ones would bury the figures.
  for (const ThresholdRow& row : comparison.thresholds) {
    if (row.failed == 0 && row.base_failed == 0) continue;
    // The threshold's text as the report has it: one line, whatever a hand-edited one holds.
    text += fmt::format("{}threshold {}: failed in {} of {} candidate and {} of {} base runs: {}\n",
                        prefix, one_line_text(row.threshold), row.failed, row.runs, row.base_failed,
                        row.base_runs, stats::to_string(row.verdict()));
  }
  for (const std::string& warning : comparison.warnings) {
    text += fmt::format("{}warning: {}\n", prefix, one_line_text(warning));
  }
  text += fmt::format("{}verdict: {} ({} base and {} candidate reports)\n", prefix,
                      stats::to_string(comparison.verdict()), comparison.base_files.size(),
                      comparison.candidate_files.size());
  return text;
}

}  // namespace pollscope

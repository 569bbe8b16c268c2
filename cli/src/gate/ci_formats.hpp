#pragma once

// The gate's comparison in the formats CI systems read, each to its own file
// (`--format KIND=FILE`, several allowed):
//   junit              JUnit XML: each threshold and each compared figure a test case; a
//                      regression a failure, an inconclusive figure skipped (GitLab, Jenkins,
//                      GitHub test reporters)
//   markdown           a summary table for $GITHUB_STEP_SUMMARY or a pull-request comment
//   benchmark-smaller  github-action-benchmark's customSmallerIsBetter JSON: the candidate's
//                      medians of the figures where lower is better
//   benchmark-bigger   customBiggerIsBetter: those where higher is better
//   bencher            Bencher Metric Format JSON: the candidate's medians with their range

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gate/gate.hpp"

namespace pollscope {

struct FormatRequest {
  std::string kind;
  std::string path;
};

// "KIND=FILE"; a Problem naming --format when the kind is unknown or the file missing.
[[nodiscard]] std::variant<FormatRequest, Problem> parse_format(const std::string& text);
// Checks every --format before any run, so that a typo costs no run.
[[nodiscard]] std::optional<Problem> check_formats(const std::vector<std::string>& formats);
// Writes each format to its file, atomically.
void write_formats(const GateComparison& comparison, const std::vector<std::string>& formats);

[[nodiscard]] std::string junit_xml(const GateComparison& comparison);
[[nodiscard]] std::string markdown_summary(const GateComparison& comparison);
[[nodiscard]] nlohmann::json benchmark_action_json(const GateComparison& comparison,
                                                   Direction better);
[[nodiscard]] nlohmann::json bencher_json(const GateComparison& comparison);

}  // namespace pollscope

#pragma once

// Comparing a run's report with a baseline report, figure by figure, so that CI can fail on a
// performance regression: the work behind `pollscope compare` and `pollscope run --baseline`.
//
// Each compared figure has a direction (higher or lower is better) and a relative tolerance in
// percent. It regressed when it moved the bad way by more than its tolerance, and improved when
// it moved the good way by more. Correctness counts (spurious, missed and ghost events, leaks)
// take no tolerance: any increase over the baseline is a regression. Each figure's direction and
// default tolerance, and the figures compared by default, come from the catalogue of figures.
// The comparison's JSON is described by cli/comparison.schema.json.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/failure.hpp"
#include "figures/catalogue.hpp"

namespace pollscope {

inline constexpr int kComparisonFormat = 1;

// What to compare, as given on the command line; compare_reports checks it against the baseline.
struct CompareOptions {
  // "METRIC=PERCENT" (a trailing % allowed): that figure's tolerance. A figure not compared
  // otherwise is added; an overall figure's tolerance also applies to the same figure of each
  // phase, unless "phases.NAME.FIGURE=PERCENT" says otherwise. The last one for a figure wins.
  std::vector<std::string> tolerances;
  // When any: only these figures are compared, in this order (any figure of the baseline).
  std::vector<std::string> metrics;
  // Compare reports of scenarios whose hashes differ (a warning instead of an error).
  bool allow_different_scenario = false;
};

// One compared figure.
struct ComparisonRow {
  std::string metric;              // as in a threshold: "latency_ns.p99", "phases.steady.events"
  std::optional<double> baseline;  // none: the baseline report has no such figure
  std::optional<double> current;   // none: the current report has no such figure
  Direction direction = Direction::lower_is_better;
  double tolerance_percent = 0;
  // current / baseline; 0 when the baseline is 0 or a side is missing; past the range of a
  // double (a baseline near 0), the largest finite one of its sign.
  double ratio = 0;
  double change_percent = 0;  // (current - baseline) / baseline, in percent; 0 and largest likewise
  bool regressed = false;
  bool improved = false;

  // A figure missing on either side is reported, and neither regressed nor improved.
  [[nodiscard]] bool missing() const { return !baseline || !current; }
};

// Which run a report came from: its file and the context that tells runs apart.
struct ReportIdentity {
  std::string file;
  std::string scenario;
  std::string scenario_hash;
  std::string backend;
  bool single_thread_polls = false;
  bool receive_ahead = false;
  std::string build_type;
  std::string git_revision;
  std::string start_time;
};

struct ReportComparison {
  ReportIdentity baseline;
  ReportIdentity current;
  std::vector<ComparisonRow> rows;
  // Differences that do not stop the comparison but may explain it: another backend or build
  // type, another scenario (with allow_different_scenario), a phase only one report has.
  std::vector<std::string> warnings;

  [[nodiscard]] std::size_t regressions() const;
  [[nodiscard]] std::size_t improvements() const;
  [[nodiscard]] bool regressed() const { return regressions() > 0; }
};

// Reads a report written by `pollscope run` and checks that it can be compared (check_report).
[[nodiscard]] std::variant<nlohmann::json, Problem> load_report(const std::string& path);

// Checks that `report` is a pollscope run report of format 1 whose figures can be read: an
// object with tool, format, context (with its strings), overall, leaks and phases each named by
// a name no other phase of its block has (a duplicate is refused at its "name"); its
// thresholds (each with its text and pass) and repetitions (each with these blocks), if any. An
// interrupted run is refused: its figures cover only part of its scenario. `file` names it.
[[nodiscard]] std::optional<Problem> check_report(const nlohmann::json& report,
                                                  std::string_view file);

// Compares `current` with `baseline`. Never throws: a malformed report, a figure of the wrong
// type, an option naming no figure of the baseline or reports of different scenarios (unless
// allowed) give a Problem. The file names only name the reports in errors and in the result.
[[nodiscard]] std::variant<ReportComparison, Problem> compare_reports(
    const nlohmann::json& baseline, std::string_view baseline_file, const nlohmann::json& current,
    std::string_view current_file, const CompareOptions& options);

// What `run --baseline` checks before running, so that a bad baseline costs no run: everything
// compare_reports would check on the baseline's side, and that it is a run of the scenario whose
// hash is `scenario_hash` (unless allowed). `scenario_file` names the scenario in errors.
[[nodiscard]] std::optional<Problem> check_baseline(const nlohmann::json& baseline,
                                                    std::string_view baseline_file,
                                                    const std::string& scenario_hash,
                                                    std::string_view scenario_file,
                                                    const CompareOptions& options);

// load_report, then check_baseline: the baseline of `run --baseline`, read and checked.
[[nodiscard]] std::variant<nlohmann::json, Problem> load_baseline(const std::string& path,
                                                                  const std::string& scenario_hash,
                                                                  std::string_view scenario_file,
                                                                  const CompareOptions& options);

// The comparison as JSON, as `run --baseline` puts it under "baseline": baseline, current, rows,
// regressions, improvements, warnings and verdict ("pass" or "regressed"). Never NaN or infinity.
[[nodiscard]] nlohmann::json to_json(const ReportComparison& comparison);
// What `pollscope compare` writes: to_json plus format, tool and kind.
[[nodiscard]] nlohmann::json comparison_document(const ReportComparison& comparison);

// For a person, from to_json's block: a line per regressed, improved or missing figure and a
// verdict line, each starting with `prefix`.
[[nodiscard]] std::string comparison_summary(const nlohmann::json& block, std::string_view prefix);

}  // namespace pollscope

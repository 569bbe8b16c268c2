#include "gate/gate.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report/lookup.hpp"

namespace pollscope {

namespace {

using stats::Verdict;

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// The samples of one report: its repetitions' figures when it kept them, else its own.
std::vector<const nlohmann::json*> samples_of(const GateInput& input) {
  std::vector<const nlohmann::json*> samples;
  const auto repetitions = input.report.find("repetitions");
  if (repetitions != input.report.end() && repetitions->is_array() && !repetitions->empty()) {
    for (const auto& repetition : *repetitions) samples.push_back(&repetition);
  } else {
    samples.push_back(&input.report);
  }
  return samples;
}

// The samples' values of `metric`; with `optional`, only those of the samples that have it.
std::variant<std::vector<double>, Problem> values_of(const std::vector<GateInput>& side,
                                                     const std::string& metric,
                                                     bool optional = false) {
  std::vector<double> values;
  for (const GateInput& input : side) {
    if (input.instructions_only && !optional) continue;
    for (const nlohmann::json* sample : samples_of(input)) {
      const auto value = figure(*sample, metric);
      if (!value && optional) continue;
      if (!value) return Problem{input.file, metric, "the report has no such figure"};
      values.push_back(*value);
    }
  }
  return values;
}

std::string scenario_hash_of(const GateInput& input) {
  // check_report has checked that the context holds its strings.
  return input.report.at("context").value("scenario_hash", "");
}

std::optional<Problem> check_inputs(const std::vector<GateInput>& base,
                                    const std::vector<GateInput>& candidate) {
  if (base.empty()) return Problem{"(base)", "", "no report for the base"};
  if (candidate.empty()) return Problem{"(candidate)", "", "no report for the candidate"};
  const std::string hash = scenario_hash_of(base.front());
  for (const auto* side : {&base, &candidate}) {
    for (const GateInput& input : *side) {
      if (scenario_hash_of(input) != hash) {
        return Problem{input.file, "context.scenario_hash",
                       fmt::format("is a run of another scenario than {}", base.front().file)};
      }
    }
  }
  return std::nullopt;
}

Verdict count_verdict(const GateCount& figure, double base, double candidate) {
  const double change = std::abs(candidate - base);
  if (change <= figure.tolerance || change <= std::abs(base) * figure.tolerance_percent / 100) {
    return Verdict::unchanged;
  }
  return candidate > base ? Verdict::regressed : Verdict::improved;
}

// The thresholds of the candidate's runs (each repetition one run).
std::vector<ThresholdRow> thresholds_of(const std::vector<GateInput>& candidate) {
  std::vector<ThresholdRow> rows;
  for (const GateInput& input : candidate) {
    if (input.instructions_only) continue;
    for (const nlohmann::json* sample : samples_of(input)) {
      const auto thresholds = sample->find("thresholds");
      if (thresholds == sample->end() || !thresholds->is_array()) continue;
      for (std::size_t i = 0; i < thresholds->size(); ++i) {
        const nlohmann::json& threshold = (*thresholds)[i];
        if (rows.size() <= i) rows.push_back({threshold.value("threshold", ""), 0, 0});
        ++rows[i].runs;
        if (!threshold.value("pass", false)) ++rows[i].failed;
      }
    }
  }
  return rows;
}

}  // namespace

std::vector<GateTiming> default_gate_timings() {
  return {{"events_per_second", Direction::higher_is_better, 1},
          {"cost.cpu_ns_per_event", Direction::lower_is_better, 1},
          {"latency_ns.p50", Direction::lower_is_better, 5},
          {"latency_ns.p99", Direction::lower_is_better, 10}};
}

std::vector<GateCount> default_gate_counts() {
  return {{"cost.syscalls_per_event", 0.25},
          {"cost.polls_per_event", 0.25},
          {"cost.registry_calls_per_event", 0.05},
          {"cost.instructions_per_event", 0, 2, true}};
}

Verdict GateComparison::verdict() const {
  std::vector<Verdict> all;
  for (const TimingRow& row : timings) all.push_back(row.judgement.verdict);
  for (const CountRow& row : counts) all.push_back(row.verdict);
  for (const Verdict verdict : {Verdict::regressed, Verdict::inconclusive, Verdict::improved}) {
    if (std::find(all.begin(), all.end(), verdict) != all.end()) return verdict;
  }
  return Verdict::unchanged;
}

std::variant<GateComparison, Problem> compare_repeated(const std::vector<GateInput>& base,
                                                       const std::vector<GateInput>& candidate,
                                                       const GateOptions& options) {
  if (auto problem = check_inputs(base, candidate)) return *problem;
  GateComparison comparison;
  comparison.scenario = base.front().report.at("context").value("scenario", "");
  comparison.thresholds = thresholds_of(candidate);
  for (const GateInput& input : base) comparison.base_files.push_back(input.file);
  for (const GateInput& input : candidate) comparison.candidate_files.push_back(input.file);
  for (const GateTiming& timing : options.timings) {
    auto base_values = values_of(base, timing.metric);
    if (auto* problem = std::get_if<Problem>(&base_values)) return *problem;
    auto candidate_values = values_of(candidate, timing.metric);
    if (auto* problem = std::get_if<Problem>(&candidate_values)) return *problem;
    TimingRow row{
        timing, std::get<0>(std::move(base_values)), std::get<0>(std::move(candidate_values)), {}};
    const stats::TimingRule rule{timing.direction, timing.tolerance_percent, options.level};
    row.judgement = stats::judge_timing(row.base, row.candidate, rule);
    comparison.timings.push_back(std::move(row));
  }
  for (const GateCount& count : options.counts) {
    auto base_values = values_of(base, count.metric, count.optional);
    if (auto* problem = std::get_if<Problem>(&base_values)) return *problem;
    auto candidate_values = values_of(candidate, count.metric, count.optional);
    if (auto* problem = std::get_if<Problem>(&candidate_values)) return *problem;
    const bool one_side_only =
        std::get<0>(base_values).empty() != std::get<0>(candidate_values).empty();
    if (one_side_only) {
      comparison.warnings.push_back(count.metric + " was measured on one side only");
    }
    if (std::get<0>(base_values).empty() || std::get<0>(candidate_values).empty()) continue;
    CountRow row{count, median(std::get<0>(base_values)), median(std::get<0>(candidate_values))};
    row.verdict = count_verdict(count, row.base, row.candidate);
    comparison.counts.push_back(row);
  }
  return comparison;
}

std::string describe_change(const CountRow& row) {
  std::string_view name = row.figure.metric;
  if (name.starts_with("cost.")) name.remove_prefix(5);
  if (name.ends_with("_per_event")) name.remove_suffix(10);
  return fmt::format("{} per event {:.6g} \u2192 {:.6g}", name, row.base, row.candidate);
}

}  // namespace pollscope

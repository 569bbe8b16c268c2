#include "gate/gate.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/json_text.hpp"
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

// One run's figures: a report's own, or one of its repetitions'.
struct Sample {
  const nlohmann::json* figures = nullptr;
  std::string at;  // where in the report: "" or "/repetitions/N"

  const nlohmann::json& operator*() const { return *figures; }
  const nlohmann::json* operator->() const { return figures; }
};

// The samples of one report: its repetitions' figures when it kept them, else its own.
std::vector<Sample> samples_of(const GateInput& input) {
  std::vector<Sample> samples;
  const auto repetitions = input.report.find("repetitions");
  if (repetitions != input.report.end() && repetitions->is_array() && !repetitions->empty()) {
    for (std::size_t index = 0; index < repetitions->size(); ++index) {
      samples.push_back({&(*repetitions)[index], json_child("/repetitions", index)});
    }
  } else {
    samples.push_back({&input.report, ""});
  }
  return samples;
}

// The sample's value of `metric`: none when the sample has no such figure, a Problem naming
// what is there when it is not a number (a boolean counts as 1 or 0, as in thresholds) or is
// negative: every figure the gate compares is a count, a rate or a time, and a negative one (a
// hand-edited or broken report) would read as an improvement, or leave a throughput
// inconclusive where it cannot be measured.
std::variant<std::optional<double>, Problem> sample_value(const GateInput& input,
                                                          const Sample& sample,
                                                          const std::string& metric) {
  const FigureLookup found = look_up(*sample, metric);
  if (found.blocked != nullptr) {
    return Problem{
        input.file, sample.at + found.pointer,
        fmt::format("is {}, not an object holding {}", describe(*found.blocked), metric)};
  }
  if (found.node == nullptr) return std::optional<double>();
  if (!found.node->is_number() && !found.node->is_boolean()) {
    return Problem{input.file, sample.at + found.pointer,
                   fmt::format("is {}, not a number", describe(*found.node))};
  }
  const auto value = figure(*sample, metric);
  if (value && *value < 0) {
    return Problem{
        input.file, sample.at + found.pointer,
        fmt::format("is {}: a figure the gate compares is never negative", shown(*found.node))};
  }
  return value;
}

// A figure per event: meaningless in a run that handled no event, whose report says 0.
bool per_event(const std::string& metric) {
  return metric.ends_with("_per_event");
}

// A run that handled no event (a report without the count is taken to have some).
bool without_events(const nlohmann::json& sample) {
  const auto events = figure(sample, "events");
  return events && *events <= 0;
}

// A figure the sample has no value of, although its report says 0: one per event of a run that
// handled no event, or a statistic of a histogram that recorded nothing (latencies).
bool empty_figure(const nlohmann::json& sample, const std::string& metric) {
  if (per_event(metric)) return without_events(sample);
  const auto found = find_figure(metric);
  if (!found || found->spec->shape != Shape::histogram || found->statistic == "count") return false;
  const auto count = figure(sample, std::string(found->spec->name) + ".count");
  return count && *count <= 0;
}

// The samples' values of `metric`; with `optional`, only those of the samples that have it. A
// value of another type than a number is a Problem naming it, optional or not.
std::variant<std::vector<double>, Problem> values_of(const std::vector<GateInput>& side,
                                                     const std::string& metric,
                                                     bool optional = false) {
  std::vector<double> values;
  for (const GateInput& input : side) {
    if (input.instructions_only && !optional) continue;
    for (const Sample& sample : samples_of(input)) {
      if (empty_figure(*sample, metric)) continue;
      auto read = sample_value(input, sample, metric);
      if (auto* problem = std::get_if<Problem>(&read)) return std::move(*problem);
      const auto value = std::get<std::optional<double>>(read);
      if (!value && optional) continue;
      if (!value) {
        return Problem{input.file, sample.at + look_up(*sample, metric).pointer,
                       fmt::format("missing: the gate compares {}", metric)};
      }
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
        return Problem{input.file, "/context/scenario_hash",
                       fmt::format("is a run of another scenario than {}", base.front().file)};
      }
    }
  }
  return std::nullopt;
}

// Paced by a schedule (open loop, replay): a run whose overall target rate is positive.
bool paced(const std::vector<GateInput>& side) {
  for (const GateInput& input : side) {
    for (const Sample& sample : samples_of(input)) {
      const auto rate = figure(*sample, "target_rate_per_second");
      if (rate && *rate > 0) return true;
    }
  }
  return false;
}

// A warning for the runs of a side that handled no event, whose figures per event are left out.
void note_runs_without_events(const std::vector<GateInput>& side, std::string_view name,
                              std::vector<std::string>& warnings) {
  int runs = 0, idle = 0;
  for (const GateInput& input : side) {
    if (input.instructions_only) continue;
    for (const Sample& sample : samples_of(input)) {
      ++runs;
      idle += without_events(*sample);
    }
  }
  if (idle > 0) {
    warnings.push_back(fmt::format(
        "{} of {} {} runs handled no event: their figures per event and latencies are left out",
        idle, runs, name));
  }
}

Verdict count_verdict(const GateCount& figure, double base, double candidate) {
  const double change = std::abs(candidate - base);
  if (change <= figure.tolerance || change <= std::abs(base) * figure.tolerance_percent / 100) {
    return Verdict::unchanged;
  }
  return candidate > base ? Verdict::regressed : Verdict::improved;
}

// Counts the thresholds of `side`'s runs (each repetition one run) into `rows`, matched by
// their text.
void count_thresholds(const std::vector<GateInput>& side, bool base,
                      std::vector<ThresholdRow>& rows) {
  for (const GateInput& input : side) {
    if (input.instructions_only) continue;
    for (const Sample& sample : samples_of(input)) {
      const auto thresholds = sample->find("thresholds");
      if (thresholds == sample->end() || !thresholds->is_array()) continue;
      for (const nlohmann::json& threshold : *thresholds) {
        const std::string text = threshold.value("threshold", "");
        auto row = std::find_if(rows.begin(), rows.end(),
                                [&](const ThresholdRow& known) { return known.threshold == text; });
        if (row == rows.end()) row = rows.insert(rows.end(), ThresholdRow{text});
        const bool failed = !threshold.value("pass", false);
        ++(base ? row->base_runs : row->runs);
        (base ? row->base_failed : row->failed) += failed;
      }
    }
  }
}

// The timing's row, unless a side has no sample of it (only runs without events).
std::optional<Problem> add_timing(const std::vector<GateInput>& base,
                                  const std::vector<GateInput>& candidate, const GateTiming& timing,
                                  double level, GateComparison& comparison) {
  auto base_values = values_of(base, timing.metric);
  if (auto* problem = std::get_if<Problem>(&base_values)) return *problem;
  auto candidate_values = values_of(candidate, timing.metric);
  if (auto* problem = std::get_if<Problem>(&candidate_values)) return *problem;
  TimingRow row{
      timing, std::get<0>(std::move(base_values)), std::get<0>(std::move(candidate_values)), {}};
  if (row.base.empty() || row.candidate.empty()) return std::nullopt;
  const stats::TimingRule rule{timing.direction, timing.tolerance_percent, level};
  row.judgement = stats::judge_timing(row.base, row.candidate, rule);
  comparison.timings.push_back(std::move(row));
  return std::nullopt;
}

std::optional<Problem> add_count(const std::vector<GateInput>& base,
                                 const std::vector<GateInput>& candidate, const GateCount& count,
                                 GateComparison& comparison) {
  auto base_values = values_of(base, count.metric, count.optional);
  if (auto* problem = std::get_if<Problem>(&base_values)) return *problem;
  auto candidate_values = values_of(candidate, count.metric, count.optional);
  if (auto* problem = std::get_if<Problem>(&candidate_values)) return *problem;
  const auto& base_side = std::get<0>(base_values);
  const auto& candidate_side = std::get<0>(candidate_values);
  if (count.optional && base_side.empty() != candidate_side.empty()) {
    comparison.warnings.push_back(count.metric + " was measured on one side only");
  }
  if (base_side.empty() || candidate_side.empty()) return std::nullopt;
  // A correctness count's worst run, so that one bad run is never voted away.
  const auto summary = [&](const std::vector<double>& values) {
    return count.exact ? *std::max_element(values.begin(), values.end()) : median(values);
  };
  CountRow row{count, summary(base_side), summary(candidate_side)};
  row.verdict = count_verdict(count, row.base, row.candidate);
  comparison.counts.push_back(row);
  return std::nullopt;
}

}  // namespace

std::vector<GateTiming> default_gate_timings() {
  return {{"events_per_second", Direction::higher_is_better, 1},
          {"cost.cpu_ns_per_event", Direction::lower_is_better, 1},
          {"latency_ns.p50", Direction::lower_is_better, 5},
          {"latency_ns.p99", Direction::lower_is_better, 10}};
}

std::vector<GateCount> default_gate_counts() {
  return {{.metric = "cost.syscalls_per_event", .tolerance = 0.25, .paced_tolerance_percent = 25},
          {.metric = "cost.polls_per_event", .tolerance = 0.25, .paced_tolerance_percent = 25},
          {.metric = "cost.registry_calls_per_event", .tolerance = 0.05},
          {.metric = "cost.instructions_per_event", .tolerance_percent = 2, .optional = true},
          {.metric = "missed_events", .exact = true},
          {.metric = "spurious_events", .exact = true},
          {.metric = "loop.ghost_events", .exact = true},
          {.metric = "leaks.total", .exact = true}};
}

Verdict ThresholdRow::verdict() const {
  if (failed > 0) return base_failed > 0 ? Verdict::unchanged : Verdict::regressed;
  return base_failed > 0 ? Verdict::improved : Verdict::unchanged;
}

Verdict GateComparison::verdict() const {
  std::vector<Verdict> all;
  for (const TimingRow& row : timings) all.push_back(row.judgement.verdict);
  for (const CountRow& row : counts) all.push_back(row.verdict);
  for (const ThresholdRow& row : thresholds) all.push_back(row.verdict());
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
  count_thresholds(candidate, false, comparison.thresholds);
  count_thresholds(base, true, comparison.thresholds);
  for (const GateInput& input : base) comparison.base_files.push_back(input.file);
  for (const GateInput& input : candidate) comparison.candidate_files.push_back(input.file);
  note_runs_without_events(base, "base", comparison.warnings);
  note_runs_without_events(candidate, "candidate", comparison.warnings);
  for (const GateTiming& timing : options.timings) {
    if (auto problem = add_timing(base, candidate, timing, options.level, comparison)) {
      return *problem;
    }
  }
  const bool any_paced = paced(base) || paced(candidate);
  for (const GateCount& count : options.counts) {
    auto problem =
        any_paced && count.paced_tolerance_percent > 0
            ? add_timing(base, candidate,
                         {count.metric, Direction::lower_is_better, count.paced_tolerance_percent},
                         options.level, comparison)
            : add_count(base, candidate, count, comparison);
    if (problem) return *problem;
  }
  return comparison;
}

std::string describe_change(const CountRow& row) {
  std::string_view name = row.figure.metric;
  if (!per_event(row.figure.metric)) {
    return fmt::format("{} {:.6g} \u2192 {:.6g}", name, row.base, row.candidate);
  }
  if (name.starts_with("cost.")) name.remove_prefix(5);
  name.remove_suffix(10);
  return fmt::format("{} per event {:.6g} \u2192 {:.6g}", name, row.base, row.candidate);
}

std::string describe_ratio(const TimingRow& row) {
  const auto& interval = row.judgement.interval;
  if (!interval) {
    return fmt::format("no ratio (medians {:.6g} \u2192 {:.6g}; a zero has none)", median(row.base),
                       median(row.candidate));
  }
  return fmt::format("{:.3f}x [{:.3f}, {:.3f}] ({:.0f}% interval)", interval->ratio, interval->low,
                     interval->high, interval->confidence * 100);
}

}  // namespace pollscope

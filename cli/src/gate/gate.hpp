#pragma once

// The performance gate: several reports of each build, judged figure by figure. Timings are
// judged by their distribution across repetitions (stats/verdict.hpp), so one slow run on a
// busy machine moves a median, not a verdict; counts per event that the machine's load cannot
// move (system calls, waits, registry calls) are compared by their medians with a small stated
// tolerance, and a change names itself ("cost.registry_calls_per_event 0 -> 1").

#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/failure.hpp"
#include "figures/catalogue.hpp"
#include "stats/verdict.hpp"

namespace pollscope {

struct GateTiming {
  std::string metric;  // as in a threshold: "events_per_second", "latency_ns.p50"
  Direction direction = Direction::lower_is_better;
  double tolerance_percent = 0;
};

struct GateCount {
  std::string metric;
  double tolerance = 0;          // per event, absolute: a change within it is no change
  double tolerance_percent = 0;  // or within this share of the base's value
  // Compared only when both sides have reports that measured it (instructions need valgrind).
  bool optional = false;
};

// What the gate judges unless told otherwise: throughput and CPU time per event within 1%,
// latency p50 within 5% and p99 within 10%; system calls and waits per event within 0.25,
// registry calls within 0.05; instructions per event, where counted, within 2% (a CPU load
// on both cores moved them by up to 1.3% between runs of one build).
[[nodiscard]] std::vector<GateTiming> default_gate_timings();
[[nodiscard]] std::vector<GateCount> default_gate_counts();

struct GateOptions {
  std::vector<GateTiming> timings = default_gate_timings();
  std::vector<GateCount> counts = default_gate_counts();
  double level = 0.95;  // of each ratio's confidence interval
};

struct TimingRow {
  GateTiming figure;
  std::vector<double> base;
  std::vector<double> candidate;
  stats::TimingJudgement judgement;
};

struct CountRow {
  GateCount figure;
  double base = 0;  // medians across repetitions
  double candidate = 0;
  stats::Verdict verdict = stats::Verdict::unchanged;  // regressed, improved or unchanged
};

// One of the scenario's thresholds, over the candidate's runs.
struct ThresholdRow {
  std::string threshold;  // as written: "latency_ns.p99 < 50000000"
  int runs = 0;
  int failed = 0;  // runs that failed it
};

struct GateComparison {
  std::string scenario;  // its name, from the reports' context
  std::vector<std::string> base_files;
  std::vector<std::string> candidate_files;
  std::vector<TimingRow> timings;
  std::vector<CountRow> counts;
  std::vector<ThresholdRow> thresholds;
  std::vector<std::string> warnings;

  // Regressed when any figure did; else inconclusive when any timing is; else improved when
  // any figure improved; else unchanged.
  [[nodiscard]] stats::Verdict verdict() const;
};

// A report's samples: the report's own figures, or one per repetition when it has
// "repetitions" (pollscope run --repeat).
struct GateInput {
  std::string file;
  nlohmann::json report;
  // A run under callgrind: its timings are callgrind's, so it gives only the optional counts.
  bool instructions_only = false;
};

// Compares the candidate's reports with the base's. A Problem when a side has no report, a
// report lacks a compared figure, or the reports are of different scenarios.
[[nodiscard]] std::variant<GateComparison, Problem> compare_repeated(
    const std::vector<GateInput>& base, const std::vector<GateInput>& candidate,
    const GateOptions& options);

// "cost.registry_calls_per_event 0 -> 1": how a changed count names itself.
[[nodiscard]] std::string describe_change(const CountRow& row);

}  // namespace pollscope

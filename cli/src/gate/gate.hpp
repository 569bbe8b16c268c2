#pragma once

// The performance gate: several reports of each build, judged figure by figure. Timings are
// judged by their distribution across repetitions (stats/verdict.hpp), so one slow run on a
// busy machine moves a median, not a verdict; counts per event that the machine's load cannot
// move (system calls, waits, registry calls) are compared by their medians with a small stated
// tolerance, and a change names itself ("cost.registry_calls_per_event 0 -> 1"). In runs paced
// by a schedule (open loop, replay) the waits per event depend on when messages arrive, so on
// the load: there those counts are judged as timings. Correctness counts (missed, spurious and
// ghost events, leaks) may not grow at all, and a scenario threshold the candidate fails where the
// base passed it is a regression.

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
  // When any run is paced (a phase of open loop or replay): judged as a timing (lower is
  // better) within this percent instead; 0: compared as a count there too.
  double paced_tolerance_percent = 0;
  // A correctness count: each side's worst run, and any increase regresses.
  bool exact = false;
};

// What the gate judges unless told otherwise: throughput and CPU time per event within 1%,
// latency p50 within 5% and p99 within 10%; system calls and waits per event within 0.25
// (in paced runs, as timings within 25%: one build's medians of three runs of
// scenarios/udp_fan_in.json differed by up to 21%), registry calls within 0.05; instructions
// per event, where counted, within 2% (a CPU load on both cores moved them by up to 1.3%
// between runs of one build); missed, spurious and ghost events (libpoll's loop.ghost_events)
// and leaks, no increase.
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
  double base = 0;  // medians across repetitions; an exact count's worst repetition
  double candidate = 0;
  stats::Verdict verdict = stats::Verdict::unchanged;  // regressed, improved or unchanged
};

// One of the scenario's thresholds, over each side's runs.
struct ThresholdRow {
  std::string threshold;  // as written: "latency_ns.p99 < 50000000"
  int runs = 0;           // the candidate's
  int failed = 0;         // runs of the candidate that failed it
  int base_runs = 0;
  int base_failed = 0;

  // Regressed when a candidate run failed it and no base run did; improved the other way
  // round; else unchanged (failing on both sides, it failed before the change too).
  [[nodiscard]] stats::Verdict verdict() const;
};

struct GateComparison {
  std::string scenario;  // its name, from the reports' context
  std::vector<std::string> base_files;
  std::vector<std::string> candidate_files;
  std::vector<TimingRow> timings;
  std::vector<CountRow> counts;
  std::vector<ThresholdRow> thresholds;
  std::vector<std::string> warnings;

  // Regressed when any figure or threshold did; else inconclusive when any timing is; else
  // improved when any figure or threshold improved; else unchanged.
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
// report lacks a compared figure or holds one that is not a number or is negative (named at its
// JSON pointer, in a repetition at "/repetitions/N/..."), or the reports are of different
// scenarios. A figure per event
// or a latency of a run that handled no event is no figure (0 would read as "improved"): left
// out, with a warning, and a row with no sample left on a side is left out.
[[nodiscard]] std::variant<GateComparison, Problem> compare_repeated(
    const std::vector<GateInput>& base, const std::vector<GateInput>& candidate,
    const GateOptions& options);

// "cost.registry_calls_per_event 0 -> 1": how a changed count names itself.
[[nodiscard]] std::string describe_change(const CountRow& row);

// "1.002x [0.958, 1.443] (97% interval)", or why there is no ratio.
[[nodiscard]] std::string describe_ratio(const TimingRow& row);

}  // namespace pollscope

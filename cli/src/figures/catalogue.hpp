#pragma once

// The catalogue of figures: each figure of the report is declared once, with its dotted name
// (as thresholds, `compare` and `--metric` name it), its unit, which way is better, its default
// comparison rule, how it merges across phases, threads and worker processes, and where it
// appears. The report writer, threshold validation, compare's rules, the merge, the wire
// between worker processes and the human summary all read this table; adding a figure is one
// entry in catalogue.cpp plus the code that measures it.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "figures/figures.hpp"

namespace pollscope {

enum class Direction { higher_is_better, lower_is_better };

// How a value is written in the report.
enum class Shape {
  count,      // an integer
  real,       // a finite number
  flag,       // true or false (1 or 0 to thresholds and compare)
  histogram,  // a summary object: one value per statistic (histogram_statistics())
};

// Where a figure appears.
enum class Scope {
  phase_and_overall,  // in each phase's block and in "overall"
  overall,            // in "overall" only
  leak_check,         // in a leak check's block: the report's "leaks", and a checked phase's
  internal,           // measured and merged, not reported: it feeds a recomputed figure
};

// How two measurements of a figure combine: phases one after another ("sequential") into the
// overall figures, and pollers side by side ("parallel": threads, worker processes).
enum class Merge {
  sum,             // counts add, both ways
  wall_time,       // sequential: add; parallel: the longest
  rate,            // sequential: mean weighted by wall time; parallel: add
  per_event_mean,  // a mean per event: weighted by events, both ways
  histogram,       // bucket by bucket, both ways
  recomputed,      // a ratio of other figures: computed from the merged ones
  leak_findings,   // counted from the leak check's findings, which are concatenated
};

enum class Combine { sequential, parallel };

// How compare judges a figure when nothing says otherwise. An exact figure is a correctness
// count: no tolerance, any move the bad way regresses, and --tolerance cannot loosen it.
struct Judgement {
  Direction direction = Direction::lower_is_better;
  double tolerance_percent = 0;
  bool exact = false;
};

// A figure compared when no --metric is given, in the catalogue's order: `statistic` of a
// histogram ("" for a plain figure), with its own tolerance; `per_phase` also compares it for
// each phase both reports have.
struct Watch {
  std::string_view statistic;
  double tolerance_percent = 0;
  bool per_phase = false;
};

// The line of the human summary a figure is shown on.
enum class SummaryLine { none, throughput, latency, correctness, leaks };

using Count = std::uint64_t Figures::*;
using Real = double Figures::*;
using Distribution = Histogram Figures::*;
using Derived = double (*)(const Figures&);
struct LeakKind {
  std::string_view kind;  // as libpoll's audit names it; "" for the total
};
using Reading = std::variant<Count, Real, Distribution, Derived, LeakKind>;

struct FigureSpec {
  std::string_view name;  // dotted, within its block: "latency_ns", "loop.polls", "leaks.total"
  std::string_view unit;  // "count", "ns", "s", "1/s", "ratio", "bool"
  Shape shape = Shape::count;
  Scope scope = Scope::phase_and_overall;
  Merge merge = Merge::sum;
  Reading reading;
  Judgement judgement;
  std::vector<Watch> watched = {};  // compared by default
  // Threshold names: a plain figure's own (when true), a histogram's name.STATISTIC for these.
  bool threshold = true;
  std::vector<std::string_view> threshold_statistics = {};
  SummaryLine summary = SummaryLine::none;
  Derived shown_when = nullptr;  // non-zero when the figure is reported; none: always
};

// Every figure, in the order compare's default rows follow.
[[nodiscard]] std::span<const FigureSpec> figure_catalogue();
// The statistics of a histogram's summary: count, min, mean, p50 ... max.
[[nodiscard]] std::span<const std::string_view> histogram_statistics();

// The figure `name` (a phase's without "phases.NAME.") is, or is a statistic of.
struct FoundFigure {
  const FigureSpec* spec = nullptr;
  std::string_view statistic;  // "" for a plain figure
};
[[nodiscard]] std::optional<FoundFigure> find_figure(std::string_view name);

// The figures a threshold may name: the overall ones; those measured for each phase too
// ("phases.<name>.<figure>"); the counts of a leak check.
[[nodiscard]] const std::vector<std::string>& known_metrics();
[[nodiscard]] const std::vector<std::string>& known_phase_metrics();
[[nodiscard]] const std::vector<std::string>& leak_metrics();

// Adds `from` into `into` as each figure's merge rule says.
void merge_figures(Figures& into, const Figures& from, Combine how);

// A recomputed or stored figure's value (not for histograms or leak counts).
[[nodiscard]] double value_of(const FigureSpec& spec, const Figures& figures);

[[nodiscard]] std::string_view to_string(Direction direction);  // "higher_is_better", ...

}  // namespace pollscope

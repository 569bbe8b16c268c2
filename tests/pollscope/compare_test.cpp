// The baseline comparison (cli/src/compare.hpp) on report literals: directions, tolerances and
// their overrides, correctness counts, zero baselines, missing figures, phases, the chosen
// figures, scenario and context checks, and malformed reports, which give an error and never
// an exception.

#include "compare/compare.hpp"

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

namespace pollscope {
namespace {

using json = nlohmann::json;

// A report as `pollscope run` writes it, cut down to what a comparison reads.
json sample_report() {
  return json::parse(R"({
    "format": 1,
    "tool": "pollscope",
    "context": {
      "scenario": "tiny",
      "scenario_hash": "fnv1a64:0123456789abcdef",
      "backend": "epoll",
      "build_type": "Release",
      "git_revision": "445153b6c14c",
      "start_time": "2026-11-27T10:00:00Z"
    },
    "phases": [
      {"name": "steady", "events_per_second": 100000, "messages_per_second": 50000,
       "latency_ns": {"p50": 1000, "p99": 5000, "p99_9": 9000},
       "spurious_events": 0, "missed_events": 0}
    ],
    "overall": {
      "events_per_second": 100000,
      "messages_per_second": 50000,
      "achieved_rate_ratio": 1.0,
      "latency_ns": {"p50": 1000, "p99": 5000, "p99_9": 9000},
      "registry_ns": {"register": {"p99": 2000}, "reregister": {"p99": 0},
                      "deregister": {"p99": 1500}},
      "loop": {"ghost_events": 0, "busy_ratio": 0.5},
      "overhead_ns_per_event": 40,
      "spurious_events": 0,
      "missed_events": 0,
      "correct": true
    },
    "leaks": {"leaked": 0, "total": 0},
    "thresholds": [],
    "interrupted": false,
    "verdict": "pass"
  })");
}

// The sample with `change` applied.
json changed(const std::function<void(json&)>& change) {
  json report = sample_report();
  change(report);
  return report;
}

CompareOptions with_tolerances(std::vector<std::string> tolerances) {
  CompareOptions options;
  options.tolerances = std::move(tolerances);
  return options;
}

CompareOptions with_metrics(std::vector<std::string> metrics) {
  CompareOptions options;
  options.metrics = std::move(metrics);
  return options;
}

CompareOptions allowing_another_scenario() {
  CompareOptions options;
  options.allow_different_scenario = true;
  return options;
}

std::variant<ReportComparison, Problem> compare(const json& baseline, const json& current,
                                                const CompareOptions& options = {}) {
  return compare_reports(baseline, "base.json", current, "cur.json", options);
}

// The comparison, or a test failure (and an empty comparison) when there is an error.
ReportComparison compared(const json& baseline, const json& current,
                          const CompareOptions& options = {}) {
  auto result = compare(baseline, current, options);
  if (auto* error = std::get_if<Problem>(&result)) {
    ADD_FAILURE() << "unexpected error: " << error->to_string();
    return {};
  }
  return std::get<ReportComparison>(std::move(result));
}

// The error, or a test failure (and an empty error) when the comparison succeeds.
Problem error_of(const json& baseline, const json& current, const CompareOptions& options = {}) {
  std::variant<ReportComparison, Problem> result;
  EXPECT_NO_THROW(result = compare(baseline, current, options));
  if (auto* error = std::get_if<Problem>(&result)) return *error;
  ADD_FAILURE() << "compared without an error";
  return {};
}

// The row of `metric`, or a test failure (and an empty row).
ComparisonRow row_of(const ReportComparison& comparison, const std::string& metric) {
  for (const ComparisonRow& row : comparison.rows) {
    if (row.metric == metric) return row;
  }
  ADD_FAILURE() << "no row for " << metric;
  return {};
}

bool has_row(const ReportComparison& comparison, const std::string& metric) {
  return std::any_of(comparison.rows.begin(), comparison.rows.end(),
                     [&](const ComparisonRow& row) { return row.metric == metric; });
}

std::vector<std::string> metrics_of(const ReportComparison& comparison) {
  std::vector<std::string> metrics;
  for (const ComparisonRow& row : comparison.rows) metrics.push_back(row.metric);
  return metrics;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(CompareReports, EqualReportsPassWithNoRegression) {
  const ReportComparison comparison = compared(sample_report(), sample_report());
  EXPECT_EQ(metrics_of(comparison),
            (std::vector<std::string>{
                "events_per_second", "achieved_rate_ratio", "latency_ns.p50", "latency_ns.p99",
                "latency_ns.p99_9", "registry_ns.register.p99", "registry_ns.reregister.p99",
                "registry_ns.deregister.p99", "overhead_ns_per_event", "spurious_events",
                "missed_events", "loop.ghost_events", "leaks.total",
                "phases.steady.events_per_second", "phases.steady.latency_ns.p99"}));
  for (const ComparisonRow& row : comparison.rows) {
    SCOPED_TRACE(row.metric);
    EXPECT_FALSE(row.regressed);
    EXPECT_FALSE(row.improved);
    EXPECT_FALSE(row.missing());
    EXPECT_EQ(row.change_percent, 0.0);
    EXPECT_EQ(row.ratio, *row.baseline == 0 ? 0.0 : 1.0);
  }
  EXPECT_EQ(comparison.regressions(), 0u);
  EXPECT_EQ(comparison.improvements(), 0u);
  EXPECT_TRUE(comparison.warnings.empty());
  const json block = to_json(comparison);
  EXPECT_EQ(block.at("verdict"), "pass");
  EXPECT_EQ(block.at("regressions"), 0);
  EXPECT_EQ(block.at("baseline").at("file"), "base.json");
  EXPECT_EQ(block.at("current").at("file"), "cur.json");
  EXPECT_EQ(block.at("current").at("scenario_hash"), "fnv1a64:0123456789abcdef");
}

TEST(CompareReports, DirectionsAndDefaultTolerancesFollowTheTable) {
  const ReportComparison comparison = compared(sample_report(), sample_report());
  const auto expect_rule = [&](const std::string& metric, Direction direction, double percent) {
    const ComparisonRow row = row_of(comparison, metric);
    EXPECT_EQ(row.direction, direction) << metric;
    EXPECT_EQ(row.tolerance_percent, percent) << metric;
  };
  expect_rule("events_per_second", Direction::higher_is_better, 15);
  expect_rule("achieved_rate_ratio", Direction::higher_is_better, 15);
  expect_rule("latency_ns.p50", Direction::lower_is_better, 25);
  expect_rule("latency_ns.p99", Direction::lower_is_better, 25);
  expect_rule("latency_ns.p99_9", Direction::lower_is_better, 500);
  expect_rule("registry_ns.register.p99", Direction::lower_is_better, 150);
  expect_rule("overhead_ns_per_event", Direction::lower_is_better, 50);
  expect_rule("loop.ghost_events", Direction::lower_is_better, 0);
  expect_rule("leaks.total", Direction::lower_is_better, 0);
  expect_rule("phases.steady.events_per_second", Direction::higher_is_better, 15);
  expect_rule("phases.steady.latency_ns.p99", Direction::lower_is_better, 25);
}

TEST(CompareReports, ThroughputDownTwentyPercentRegressesAtTenPercentButNotAtThirty) {
  const json slower = changed([](json& report) { report["overall"]["events_per_second"] = 80000; });

  const ReportComparison tight =
      compared(sample_report(), slower, with_tolerances({"events_per_second=10"}));
  const ComparisonRow row = row_of(tight, "events_per_second");
  EXPECT_TRUE(row.regressed);
  EXPECT_FALSE(row.improved);
  EXPECT_EQ(row.tolerance_percent, 10);
  EXPECT_DOUBLE_EQ(row.ratio, 0.8);
  EXPECT_DOUBLE_EQ(row.change_percent, -20);
  EXPECT_EQ(tight.regressions(), 1u);
  EXPECT_EQ(to_json(tight).at("verdict"), "regressed");

  const ReportComparison loose =
      compared(sample_report(), slower, with_tolerances({"events_per_second=30"}));
  EXPECT_FALSE(row_of(loose, "events_per_second").regressed);
  EXPECT_EQ(loose.regressions(), 0u);

  // Exactly at the tolerance is still within it.
  EXPECT_FALSE(row_of(compared(sample_report(), slower, with_tolerances({"events_per_second=20"})),
                      "events_per_second")
                   .regressed);
}

TEST(CompareReports, P99UpThirtyPercentRegressesAtTheDefaultTwentyFivePercent) {
  const json up30 = changed([](json& report) { report["overall"]["latency_ns"]["p99"] = 6500; });
  const ComparisonRow row = row_of(compared(sample_report(), up30), "latency_ns.p99");
  EXPECT_EQ(row.tolerance_percent, 25);
  EXPECT_TRUE(row.regressed);
  EXPECT_DOUBLE_EQ(row.change_percent, 30);

  const json up20 = changed([](json& report) { report["overall"]["latency_ns"]["p99"] = 6000; });
  EXPECT_FALSE(row_of(compared(sample_report(), up20), "latency_ns.p99").regressed);
}

TEST(CompareReports, ImprovementsAreFlaggedAndAreNotRegressions) {
  const json better = changed([](json& report) {
    report["overall"]["events_per_second"] = 150000;
    report["overall"]["latency_ns"]["p99"] = 2500;
    report["overall"]["latency_ns"]["p50"] = 900;  // 10% better: within the tolerance
  });
  const ReportComparison comparison = compared(sample_report(), better);
  EXPECT_TRUE(row_of(comparison, "events_per_second").improved);
  EXPECT_TRUE(row_of(comparison, "latency_ns.p99").improved);
  EXPECT_FALSE(row_of(comparison, "latency_ns.p50").improved);
  EXPECT_EQ(comparison.improvements(), 2u);
  EXPECT_EQ(comparison.regressions(), 0u);
  EXPECT_EQ(to_json(comparison).at("verdict"), "pass");
}

TEST(CompareReports, AnyIncreaseOfACorrectnessCountRegresses) {
  for (const std::string metric :
       {"loop.ghost_events", "spurious_events", "missed_events", "leaks.total"}) {
    SCOPED_TRACE(metric);
    const json worse = changed([&](json& report) {
      if (metric == "loop.ghost_events") {
        report["overall"]["loop"]["ghost_events"] = 1;
      } else if (metric == "leaks.total") {
        report["leaks"]["total"] = 1;
      } else {
        report["overall"][metric] = 1;
      }
    });
    const ReportComparison comparison = compared(sample_report(), worse);
    const ComparisonRow row = row_of(comparison, metric);
    EXPECT_TRUE(row.regressed);
    EXPECT_EQ(row.tolerance_percent, 0);
    EXPECT_EQ(row.ratio, 0);  // the baseline is 0
    EXPECT_EQ(comparison.regressions(), 1u);

    // Back to 0 from 1 is an improvement.
    EXPECT_TRUE(row_of(compared(worse, sample_report()), metric).improved);
  }
}

TEST(CompareReports, ACorrectnessCountTakesNoTolerance) {
  const Problem error =
      error_of(sample_report(), sample_report(), with_tolerances({"loop.ghost_events=50"}));
  EXPECT_EQ(error.subject, "--tolerance loop.ghost_events=50");
  EXPECT_TRUE(contains(error.reason, "correctness")) << error.to_string();
}

TEST(CompareReports, AZeroBaselineGivesRatioZeroNeverNaN) {
  // reregister p99 is 0 in the sample (no reregistrations); now 500 ns.
  const json current =
      changed([](json& report) { report["overall"]["registry_ns"]["reregister"]["p99"] = 500; });
  const ReportComparison comparison = compared(sample_report(), current);
  const ComparisonRow row = row_of(comparison, "registry_ns.reregister.p99");
  EXPECT_EQ(row.ratio, 0.0);
  EXPECT_EQ(row.change_percent, 0.0);
  EXPECT_TRUE(row.regressed);  // from nothing to something, the bad way

  const json block = to_json(comparison);
  for (const json& row_json : block.at("rows")) {
    EXPECT_TRUE(row_json.at("ratio").is_number()) << row_json.dump();
    EXPECT_TRUE(std::isfinite(row_json.at("ratio").get<double>())) << row_json.dump();
    EXPECT_TRUE(std::isfinite(row_json.at("change_percent").get<double>())) << row_json.dump();
  }
  EXPECT_FALSE(contains(block.dump(), "NaN"));
}

// |baseline| * percent overflowed to infinity first: then nothing could exceed the tolerance.
TEST(CompareReports, AHugeBaselineStillRegressesPastItsTolerance) {
  const auto p99 = [](double value) {
    return changed([value](json& report) { report["overall"]["latency_ns"]["p99"] = value; });
  };
  const ComparisonRow row = row_of(compared(p99(1e308), p99(1.5e308)), "latency_ns.p99");
  EXPECT_EQ(row.tolerance_percent, 25);
  EXPECT_TRUE(row.regressed);
  EXPECT_FALSE(row_of(compared(p99(1e308), p99(1.2e308)), "latency_ns.p99").regressed);
}

TEST(CompareReports, ExtremeValuesStayFinite) {
  const json tiny = changed([](json& report) { report["overall"]["latency_ns"]["p50"] = 1e-300; });
  const json huge = changed([](json& report) { report["overall"]["latency_ns"]["p50"] = 1e300; });
  const ReportComparison comparison = compared(tiny, huge);
  const ComparisonRow row = row_of(comparison, "latency_ns.p50");
  EXPECT_TRUE(row.regressed);
  EXPECT_TRUE(std::isfinite(row.ratio));
  EXPECT_TRUE(std::isfinite(row.change_percent));
  const json block = to_json(comparison);
  for (const json& row_json : block.at("rows")) {
    EXPECT_TRUE(row_json.at("ratio").is_number()) << row_json.dump();
    EXPECT_TRUE(row_json.at("change_percent").is_number()) << row_json.dump();
  }
}

// (1e300 - 1e-300) / 1e-300 overflows: the change once read "+0.0%" in the text and 0 in the
// JSON. The JSON keeps the largest finite number of the change's sign; the text says how large.
TEST(CompareReports, AChangeTooLargeForADoubleReadsAsHugeNotAsZero) {
  const auto p50 = [](double value) {
    return changed([value](json& report) { report["overall"]["latency_ns"]["p50"] = value; });
  };
  const ReportComparison up = compared(p50(1e-300), p50(1e300));
  const ComparisonRow row = row_of(up, "latency_ns.p50");
  EXPECT_EQ(row.change_percent, std::numeric_limits<double>::max());
  EXPECT_EQ(row.ratio, std::numeric_limits<double>::max());
  const json block = to_json(up);
  const std::string text = comparison_summary(block, "");
  EXPECT_TRUE(contains(text, "regressed: latency_ns.p50: 1e-300 -> 1e+300 (>+1e9%; tolerance 25%"))
      << text;
  EXPECT_FALSE(contains(text, "+0.0%")) << text;
  EXPECT_FALSE(contains(block.dump(), "null")) << "NaN and infinity would be written as null";

  // Down, a figure that is never negative moves by -100% at most: -1e300 is refused, not shown.
  const Problem down = error_of(p50(1e-300), p50(-1e300));
  EXPECT_EQ(down.subject, "cur.json");
  EXPECT_EQ(down.path, "/overall/latency_ns/p50");
  // Short of a billion percent, the digits are shown.
  const std::string large = comparison_summary(to_json(compared(p50(1), p50(5e6))), "");
  EXPECT_TRUE(contains(large, "1 -> 5000000 (+499999900.0%;")) << large;
}

// Every figure is a count, a rate or a time: a negative one (a hand-edited report) once read as
// "improved", or as a baseline let any current value pass. Refused on either side, as the gate
// refuses it, naming its place; 0 and -0 are figures like any other.
TEST(CompareReports, ANegativeFigureIsInvalidOnEitherSide) {
  const json negative = changed([](json& report) { report["overall"]["missed_events"] = -3; });
  const Problem as_current = error_of(sample_report(), negative);
  EXPECT_EQ(as_current.to_string(),
            "cur.json: /overall/missed_events: is -3: a figure is never negative");
  const Problem as_baseline = error_of(negative, sample_report());
  EXPECT_EQ(as_baseline.subject, "base.json");
  EXPECT_EQ(as_baseline.path, "/overall/missed_events");

  const json phase =
      changed([](json& report) { report["phases"][0]["events_per_second"] = -1e300; });
  EXPECT_EQ(error_of(sample_report(), phase).path, "/phases/0/events_per_second");
  const json asked = changed([](json& report) { report["overall"]["messages_per_second"] = -1; });
  EXPECT_EQ(error_of(sample_report(), asked, with_metrics({"messages_per_second"})).path,
            "/overall/messages_per_second");

  const json zero = changed([](json& report) { report["overall"]["latency_ns"]["p50"] = -0.0; });
  EXPECT_FALSE(row_of(compared(sample_report(), zero), "latency_ns.p50").regressed);
}

TEST(CompareReports, AFigureMissingFromOneReportIsReportedButNotARegression) {
  const json without =
      changed([](json& report) { report["overall"].erase("overhead_ns_per_event"); });

  const ReportComparison newer = compared(sample_report(), without);
  const ComparisonRow gone = row_of(newer, "overhead_ns_per_event");
  EXPECT_TRUE(gone.missing());
  EXPECT_EQ(gone.baseline, 40.0);
  EXPECT_FALSE(gone.current.has_value());
  EXPECT_FALSE(gone.regressed);
  EXPECT_FALSE(gone.improved);
  EXPECT_EQ(newer.regressions(), 0u);

  const ComparisonRow added = row_of(compared(without, sample_report()), "overhead_ns_per_event");
  EXPECT_TRUE(added.missing());
  EXPECT_FALSE(added.baseline.has_value());
  EXPECT_EQ(added.current, 40.0);

  const json block = to_json(newer);
  const auto row_json =
      std::find_if(block.at("rows").begin(), block.at("rows").end(),
                   [](const json& row) { return row.at("metric") == "overhead_ns_per_event"; });
  ASSERT_NE(row_json, block.at("rows").end());
  EXPECT_EQ(row_json->at("missing"), true);
  EXPECT_TRUE(row_json->at("current").is_null());
  EXPECT_EQ(row_json->at("baseline"), 40);
  EXPECT_EQ(row_json->at("ratio"), 0);
  EXPECT_TRUE(contains(comparison_summary(block, "> "),
                       "> missing: overhead_ns_per_event: not in cur.json\n"));
}

TEST(CompareReports, EachPhaseInBothReportsIsComparedAndTheOthersAreWarnedAbout) {
  const json baseline = changed([](json& report) {
    json warmup = report["phases"][0];
    warmup["name"] = "warmup";
    report["phases"].insert(report["phases"].begin(), warmup);
  });
  const json current = changed([](json& report) {
    report["phases"][0]["latency_ns"]["p99"] = 10000;  // steady's p99 doubled
    json cooldown = report["phases"][0];
    cooldown["name"] = "cooldown";
    report["phases"].push_back(cooldown);
  });
  const ReportComparison comparison = compared(baseline, current);
  EXPECT_TRUE(has_row(comparison, "phases.steady.events_per_second"));
  EXPECT_FALSE(has_row(comparison, "phases.warmup.events_per_second"));
  EXPECT_FALSE(has_row(comparison, "phases.cooldown.events_per_second"));
  const ComparisonRow p99 = row_of(comparison, "phases.steady.latency_ns.p99");
  EXPECT_TRUE(p99.regressed);
  EXPECT_EQ(p99.tolerance_percent, 25);
  EXPECT_FALSE(row_of(comparison, "latency_ns.p99").regressed);  // overall unchanged
  ASSERT_EQ(comparison.warnings.size(), 2u);
  EXPECT_TRUE(contains(comparison.warnings[0], "\"warmup\" is only in base.json"));
  EXPECT_TRUE(contains(comparison.warnings[1], "\"cooldown\" is only in cur.json"));
}

TEST(CompareReports, AGivenToleranceOverridesTheDefaultForTheFigureAndItsPhases) {
  const json current = changed([](json& report) {
    report["overall"]["latency_ns"]["p99"] = 6500;    // +30%
    report["phases"][0]["latency_ns"]["p99"] = 6500;  // +30%
  });
  const ReportComparison relaxed =
      compared(sample_report(), current, with_tolerances({"latency_ns.p99=50"}));
  EXPECT_EQ(row_of(relaxed, "latency_ns.p99").tolerance_percent, 50);
  EXPECT_FALSE(row_of(relaxed, "latency_ns.p99").regressed);
  EXPECT_EQ(row_of(relaxed, "phases.steady.latency_ns.p99").tolerance_percent, 50);
  EXPECT_FALSE(row_of(relaxed, "phases.steady.latency_ns.p99").regressed);

  // A phase's own tolerance wins over the overall figure's, whatever the order; a "%" is allowed;
  // the last tolerance given for a figure wins.
  const ReportComparison mixed =
      compared(sample_report(), current,
               with_tolerances(
                   {"phases.steady.latency_ns.p99=10%", "latency_ns.p99=5", "latency_ns.p99=50"}));
  EXPECT_EQ(row_of(mixed, "latency_ns.p99").tolerance_percent, 50);
  EXPECT_EQ(row_of(mixed, "phases.steady.latency_ns.p99").tolerance_percent, 10);
  EXPECT_TRUE(row_of(mixed, "phases.steady.latency_ns.p99").regressed);
  EXPECT_EQ(mixed.regressions(), 1u);
}

TEST(CompareReports, AToleranceOnAFigureNotComparedAddsIt) {
  const ReportComparison comparison =
      compared(sample_report(), sample_report(), with_tolerances({"loop.busy_ratio=5"}));
  const ComparisonRow row = row_of(comparison, "loop.busy_ratio");
  EXPECT_EQ(row.tolerance_percent, 5);
  EXPECT_EQ(row.direction, Direction::lower_is_better);
  EXPECT_EQ(comparison.rows.back().metric, "loop.busy_ratio");
}

TEST(CompareReports, MetricChoosesTheComparedFiguresInTheTableOrNot) {
  // In the given order, once each, and nothing else: no default figure, no phase.
  const ReportComparison comparison = compared(
      sample_report(), sample_report(),
      with_metrics({"latency_ns.p99", "messages_per_second", "phases.steady.messages_per_second",
                    "leaks.leaked", "correct", "latency_ns.p99"}));
  EXPECT_EQ(
      metrics_of(comparison),
      (std::vector<std::string>{"latency_ns.p99", "messages_per_second",
                                "phases.steady.messages_per_second", "leaks.leaked", "correct"}));
  // Throughput by its name, correctness counts by theirs; anything else is better lower.
  EXPECT_EQ(row_of(comparison, "messages_per_second").direction, Direction::higher_is_better);
  EXPECT_EQ(row_of(comparison, "messages_per_second").tolerance_percent, 15);
  EXPECT_EQ(row_of(comparison, "phases.steady.messages_per_second").direction,
            Direction::higher_is_better);
  EXPECT_EQ(row_of(comparison, "leaks.leaked").tolerance_percent, 0);
  EXPECT_EQ(row_of(comparison, "correct").direction, Direction::higher_is_better);
  EXPECT_EQ(row_of(comparison, "correct").tolerance_percent, 0);
}

// Events and messages are counted over the phase's time: fewer is less throughput, not less
// work, so halving them regresses (and --metric can name them like any figure).
TEST(CompareReports, FewerEventsOrMessagesRegress) {
  const auto counts = [](double scale) {
    return changed([scale](json& report) {
      for (json* block : {&report["overall"], &report["phases"][0]}) {
        (*block)["events"] = 1000 * scale;
        (*block)["messages"] = 500 * scale;
      }
    });
  };
  const ReportComparison halved =
      compared(counts(1), counts(0.5), with_metrics({"events", "phases.steady.messages"}));
  EXPECT_EQ(row_of(halved, "events").direction, Direction::higher_is_better);
  EXPECT_TRUE(row_of(halved, "events").regressed);
  EXPECT_TRUE(row_of(halved, "phases.steady.messages").regressed);
  EXPECT_TRUE(halved.regressed());
  const ReportComparison doubled =
      compared(counts(1), counts(2), with_metrics({"events", "phases.steady.messages"}));
  EXPECT_FALSE(doubled.regressed());
  EXPECT_TRUE(row_of(doubled, "events").improved);
}

TEST(CompareReports, AFigureTheBaselineDoesNotHaveIsAUsageErrorNamingIt) {
  for (const std::string metric :
       {"bogus", "latency_ns", "latency_ns.p42", "phases.nope.events_per_second", "phases.steady",
        "leaks.nothing"}) {
    SCOPED_TRACE(metric);
    const Problem by_metric = error_of(sample_report(), sample_report(), with_metrics({metric}));
    EXPECT_EQ(by_metric.subject, "--metric " + metric);
    EXPECT_TRUE(contains(by_metric.reason, metric + " is not a figure of base.json"))
        << by_metric.to_string();

    const Problem by_tolerance =
        error_of(sample_report(), sample_report(), with_tolerances({metric + "=10"}));
    EXPECT_EQ(by_tolerance.subject, "--tolerance " + metric + "=10");
    EXPECT_TRUE(contains(by_tolerance.reason, metric)) << by_tolerance.to_string();
  }
}

TEST(CompareReports, AToleranceThatIsNotMetricEqualsPercentIsAUsageError) {
  for (const std::string text : {"x=abc", "latency_ns.p99", "=5", "latency_ns.p99=-1",
                                 "latency_ns.p99=", "latency_ns.p99=nan", "latency_ns.p99=inf",
                                 "latency_ns.p99=5x", "latency_ns.p99=%"}) {
    SCOPED_TRACE(text);
    const Problem error = error_of(sample_report(), sample_report(), with_tolerances({text}));
    EXPECT_EQ(error.subject, "--tolerance " + text);
    EXPECT_EQ(error.path, "");
    EXPECT_FALSE(error.reason.empty());
    EXPECT_EQ(error.to_string().find('\n'), std::string::npos);
  }
  // A control character in it is escaped: the error stays on one line.
  const Problem error = error_of(sample_report(), sample_report(), with_tolerances({"x\n=1"}));
  EXPECT_EQ(error.to_string().find('\n'), std::string::npos) << error.to_string();
}

TEST(CompareReports, DifferentScenariosAreAnInputErrorUnlessAllowed) {
  const json other = changed([](json& report) {
    report["context"]["scenario"] = "other";
    report["context"]["scenario_hash"] = "fnv1a64:fedcba9876543210";
  });
  const Problem error = error_of(sample_report(), other);
  EXPECT_EQ(error.subject, "base.json");
  EXPECT_EQ(error.path, "/context/scenario_hash");
  const std::string line = error.to_string();
  EXPECT_TRUE(contains(line, "fnv1a64:0123456789abcdef")) << line;
  EXPECT_TRUE(contains(line, "cur.json")) << line;
  EXPECT_TRUE(contains(line, "fnv1a64:fedcba9876543210")) << line;
  EXPECT_TRUE(contains(line, "--allow-different-scenario")) << line;

  const ReportComparison allowed = compared(sample_report(), other, allowing_another_scenario());
  ASSERT_EQ(allowed.warnings.size(), 1u);
  EXPECT_TRUE(contains(allowed.warnings[0], "the scenarios differ")) << allowed.warnings[0];
  EXPECT_EQ(allowed.regressions(), 0u);
}

TEST(CompareReports, AnotherBackendOrBuildTypeIsAWarning) {
  const json other = changed([](json& report) {
    report["context"]["backend"] = "poll";
    report["context"]["build_type"] = "Debug";
  });
  const ReportComparison comparison = compared(sample_report(), other);
  ASSERT_EQ(comparison.warnings.size(), 2u);
  EXPECT_EQ(comparison.warnings[0],
            "the backends differ: base.json ran on epoll, cur.json on poll");
  EXPECT_EQ(comparison.warnings[1],
            "the build types differ: base.json was built Release, cur.json Debug");
  EXPECT_EQ(to_json(comparison).at("warnings").size(), 2u);
}

// A report from before single_thread_polls existed ran shared Polls: no warning against false.
TEST(CompareReports, SingleThreadPollsOnOneSideIsAWarning) {
  const json single =
      changed([](json& report) { report["context"]["single_thread_polls"] = true; });
  const json shared =
      changed([](json& report) { report["context"]["single_thread_polls"] = false; });
  json older = sample_report();
  older["context"].erase("single_thread_polls");

  const ReportComparison comparison = compared(older, single);
  ASSERT_EQ(comparison.warnings.size(), 1u);
  EXPECT_EQ(comparison.warnings[0],
            "the Polls differ: base.json ran shared Polls, cur.json single-thread");
  EXPECT_TRUE(to_json(comparison).at("current").at("single_thread_polls").get<bool>());
  EXPECT_TRUE(compared(older, shared).warnings.empty());

  const json garbled = changed([](json& report) { report["context"]["single_thread_polls"] = 1; });
  const Problem problem = error_of(garbled, sample_report());
  EXPECT_EQ(problem.path, "/context/single_thread_polls");
  EXPECT_EQ(problem.reason, "expected a boolean, got an integer");
}

// Likewise receive_ahead: absent is false; a difference is a warning; not a boolean, an error.
TEST(CompareReports, ReceiveAheadOnOneSideIsAWarning) {
  const json ahead = changed([](json& report) { report["context"]["receive_ahead"] = true; });
  json older = sample_report();
  older["context"].erase("receive_ahead");

  const ReportComparison comparison = compared(older, ahead);
  ASSERT_EQ(comparison.warnings.size(), 1u);
  EXPECT_EQ(comparison.warnings[0],
            "the reads differ: base.json's streams were read by readiness, cur.json's received "
            "ahead");
  EXPECT_TRUE(to_json(comparison).at("current").at("receive_ahead").get<bool>());
  EXPECT_TRUE(compared(older, sample_report()).warnings.empty());

  const json garbled = changed([](json& report) { report["context"]["receive_ahead"] = "yes"; });
  const Problem problem = error_of(garbled, sample_report());
  EXPECT_EQ(problem.path, "/context/receive_ahead");
  EXPECT_EQ(problem.reason, "expected a boolean, got a string");
}

TEST(CompareReports, AnInterruptedReportOnEitherSideCannotBeCompared) {
  const json interrupted = changed([](json& report) {
    report["interrupted"] = true;
    report["verdict"] = "interrupted";
  });
  const Problem baseline = error_of(interrupted, sample_report());
  EXPECT_EQ(baseline.subject, "base.json");
  EXPECT_EQ(baseline.path, "/interrupted");
  EXPECT_TRUE(contains(baseline.reason, "interrupted")) << baseline.to_string();
  const Problem current = error_of(sample_report(), interrupted);
  EXPECT_EQ(current.subject, "cur.json");
  EXPECT_EQ(current.path, "/interrupted");
}

struct Malformed {
  std::string what;
  std::function<void(json&)> change;
  std::string path;    // where the error points
  std::string reason;  // a part of it
};

TEST(CompareReports, MalformedReportsGiveAnErrorAndNeverAnException) {
  const std::vector<Malformed> cases = {
      {"not an object", [](json& r) { r = json::array(); }, "", "not a pollscope report"},
      {"overall missing", [](json& r) { r.erase("overall"); }, "/overall", "missing"},
      {"overall an array", [](json& r) { r["overall"] = json::array(); }, "/overall",
       "expected an object, got an array"},
      {"a figure a string", [](json& r) { r["overall"]["events_per_second"] = "fast"; },
       "/overall/events_per_second", "expected a number, got a string"},
      {"a figure null", [](json& r) { r["overall"]["latency_ns"]["p99"] = nullptr; },
       "/overall/latency_ns/p99", "expected a number, got null"},
      {"a histogram a number", [](json& r) { r["overall"]["latency_ns"] = 5; },
       "/overall/latency_ns", "expected an object, got an integer"},
      {"a phase's figure an object", [](json& r) { r["phases"][0]["events_per_second"] = {}; },
       "/phases/0/events_per_second", "expected a number"},
      {"leaks a string", [](json& r) { r["leaks"] = "none"; }, "/leaks",
       "expected an object, got a string"},
      {"phases an object", [](json& r) { r["phases"] = json::object(); }, "/phases",
       "expected an array"},
      {"a phase a string", [](json& r) { r["phases"][0] = "steady"; }, "/phases/0",
       "expected an object"},
      {"a phase without a name", [](json& r) { r["phases"][0].erase("name"); }, "/phases/0/name",
       "missing"},
      {"a phase name a number", [](json& r) { r["phases"][0]["name"] = 3; }, "/phases/0/name",
       "expected a string"},
      {"context missing", [](json& r) { r.erase("context"); }, "/context", "missing"},
      {"scenario_hash a number", [](json& r) { r["context"]["scenario_hash"] = 7; },
       "/context/scenario_hash", "expected a string"},
      {"another tool", [](json& r) { r["tool"] = "mio"; }, "/tool", "not a pollscope report"},
      {"no tool", [](json& r) { r.erase("tool"); }, "/tool", "missing"},
      {"format 2", [](json& r) { r["format"] = 2; }, "/format", "unsupported report format 2"},
      {"format a string", [](json& r) { r["format"] = "1"; }, "/format", "unsupported"},
      {"interrupted a string", [](json& r) { r["interrupted"] = "no"; }, "/interrupted",
       "expected a boolean"},
      {"a comparison", [](json& r) { r["kind"] = "comparison"; }, "/kind", "not a run's report"},
      // A scenario refuses two phases of one name; a hand-edited report's figures of that name
      // would be either phase's.
      {"two phases of one name", [](json& r) { r["phases"].push_back(r["phases"][0]); },
       "/phases/1/name", "duplicate phase name \"steady\" (also /phases/0/name)"},
      {"two phases of one name among others",
       [](json& r) {
         json other = r["phases"][0];
         other["name"] = "warmup";
         r["phases"].insert(r["phases"].begin(), other);
         r["phases"].push_back(other);
       },
       "/phases/2/name", "duplicate phase name \"warmup\" (also /phases/0/name)"},
  };
  for (const Malformed& bad : cases) {
    SCOPED_TRACE(bad.what);
    const json report = changed(bad.change);
    for (const bool as_baseline : {true, false}) {
      const Problem error =
          as_baseline ? error_of(report, sample_report()) : error_of(sample_report(), report);
      EXPECT_EQ(error.subject, as_baseline ? "base.json" : "cur.json");
      EXPECT_EQ(error.path, bad.path) << error.to_string();
      EXPECT_TRUE(contains(error.reason, bad.reason)) << error.to_string();
    }
  }
}

// The figures of the first phase of a name were once compared with those of the last.
TEST(CompareReports, TwoPhasesOfOneNameAreRefusedNotReadAsTheLast) {
  const json doubled = changed([](json& report) {
    json slow = report["phases"][0];
    slow["latency_ns"]["p99"] = 5000000;
    report["phases"].push_back(slow);
  });
  for (const bool as_baseline : {true, false}) {
    SCOPED_TRACE(as_baseline ? "baseline" : "current");
    const Problem error =
        as_baseline ? error_of(doubled, sample_report()) : error_of(sample_report(), doubled);
    EXPECT_EQ(error.to_string(),
              std::string(as_baseline ? "base.json" : "cur.json") +
                  ": /phases/1/name: duplicate phase name \"steady\" (also /phases/0/name): its "
                  "figures would be ambiguous");
  }
  const auto baseline = check_baseline(doubled, "base.json", "fnv1a64:0123456789abcdef",
                                       "tiny.json", with_metrics({"latency_ns.p99"}));
  ASSERT_TRUE(baseline.has_value());
  EXPECT_EQ(baseline->path, "/phases/1/name");
}

// A phase's name is part of its figures' names: the lines for a person keep it on one line and
// without a terminal's escapes, as a hand-edited report may hold them.
TEST(ComparisonSummary, AFigureNamedAfterAPhaseStaysOneLine) {
  const auto named = [](double p99) {
    return changed([p99](json& report) {
      report["phases"][0]["name"] = "st\x1b[31meady\nx";
      report["phases"][0]["latency_ns"]["p99"] = p99;
    });
  };
  const std::string summary =
      comparison_summary(to_json(compared(named(5000), named(50000))), "> ");
  EXPECT_TRUE(contains(summary,
                       "> regressed: phases.st\\x1b[31meady\\x0ax.latency_ns.p99: 5000 "
                       "-> 50000"))
      << summary;
  EXPECT_EQ(summary.find('\x1b'), std::string::npos) << summary;
  EXPECT_EQ(std::count(summary.begin(), summary.end(), '\n'), 2) << summary;
}

TEST(CheckBaseline, RefusesABaselineOfAnotherScenarioBeforeTheRun) {
  const auto error =
      check_baseline(sample_report(), "base.json", "fnv1a64:ffffffffffffffff", "tiny.json", {});
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->path, "/context/scenario_hash");
  EXPECT_TRUE(contains(error->reason, "tiny.json hashes to fnv1a64:ffffffffffffffff"))
      << error->to_string();
  EXPECT_FALSE(check_baseline(sample_report(), "base.json", "fnv1a64:ffffffffffffffff", "tiny.json",
                              allowing_another_scenario())
                   .has_value());
}

TEST(CheckBaseline, ChecksTheOptionsAndEveryComparedFigureOfTheBaseline) {
  const std::string hash = "fnv1a64:0123456789abcdef";
  EXPECT_FALSE(check_baseline(sample_report(), "base.json", hash, "tiny.json", {}).has_value());
  const auto bad_tolerance =
      check_baseline(sample_report(), "base.json", hash, "tiny.json", with_tolerances({"x=abc"}));
  ASSERT_TRUE(bad_tolerance.has_value());
  EXPECT_EQ(bad_tolerance->subject, "--tolerance x=abc");
  const auto unknown =
      check_baseline(sample_report(), "base.json", hash, "tiny.json", with_metrics({"bogus"}));
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->subject, "--metric bogus");
  const json stringly = changed([](json& r) { r["phases"][0]["latency_ns"]["p99"] = "5000"; });
  const auto wrong_type = check_baseline(stringly, "base.json", hash, "tiny.json", {});
  ASSERT_TRUE(wrong_type.has_value());
  EXPECT_EQ(wrong_type->to_string(),
            "base.json: /phases/0/latency_ns/p99: expected a number, got a string");
  const json interrupted = changed([](json& r) { r["interrupted"] = true; });
  EXPECT_TRUE(check_baseline(interrupted, "base.json", hash, "tiny.json", {}).has_value());
}

TEST(ComparisonJson, TheDocumentAddsFormatToolAndKindToTheBlock) {
  const json slower = changed([](json& report) { report["overall"]["events_per_second"] = 50000; });
  const ReportComparison comparison = compared(sample_report(), slower);
  const json document = comparison_document(comparison);
  EXPECT_EQ(document.at("format"), 1);
  EXPECT_EQ(document.at("tool"), "pollscope");
  EXPECT_EQ(document.at("kind"), "comparison");
  EXPECT_EQ(document.at("verdict"), "regressed");
  EXPECT_EQ(document.at("regressions"), 1);
  json block = document;
  for (const char* key : {"format", "tool", "kind"}) block.erase(key);
  EXPECT_EQ(block, to_json(comparison));
  const json& row = document.at("rows").at(0);
  EXPECT_EQ(row.at("metric"), "events_per_second");
  EXPECT_EQ(row.at("baseline"), 100000);
  EXPECT_EQ(row.at("current"), 50000);
  EXPECT_EQ(row.at("ratio"), 0.5);
  EXPECT_EQ(row.at("direction"), "higher_is_better");
  EXPECT_EQ(row.at("tolerance_percent"), 15);
  EXPECT_EQ(row.at("change_percent"), -50.0);
  EXPECT_EQ(row.at("regressed"), true);
  EXPECT_EQ(row.at("improved"), false);
  EXPECT_EQ(row.at("missing"), false);
}

TEST(ComparisonSummary, ALinePerRegressionAndImprovementThenTheVerdict) {
  const json current = changed([](json& report) {
    report["overall"]["events_per_second"] = 50000;
    report["overall"]["latency_ns"]["p50"] = 500;
    report["overall"]["loop"]["ghost_events"] = 2;
  });
  const std::string summary = comparison_summary(to_json(compared(sample_report(), current)), "> ");
  EXPECT_EQ(summary,
            "> regressed: events_per_second: 100000 -> 50000 (-50.0%; tolerance 15%, higher is "
            "better)\n"
            "> improved: latency_ns.p50: 1000 -> 500 (-50.0%; tolerance 25%, lower is better)\n"
            "> regressed: loop.ghost_events: 0 -> 2 (from 0; tolerance 0%, lower is better)\n"
            "> verdict: regressed: 2 regressions, 1 improvement, 15 figures compared (base.json "
            "-> cur.json)\n");
}

// A file in a fresh directory, removed at the end of the test.
class ReportFile {
 public:
  explicit ReportFile(const std::string& text) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "pollscope_compare_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    directory_ = pattern;
    path_ = (directory_ / "report.json").string();
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~ReportFile() {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  ReportFile(const ReportFile&) = delete;
  ReportFile& operator=(const ReportFile&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::filesystem::path directory_;
  std::string path_;
};

// The error load_report gives for a file holding `text`.
std::string load_error(const std::string& text) {
  const ReportFile file(text);
  auto loaded = load_report(file.path());
  if (auto* error = std::get_if<Problem>(&loaded)) {
    EXPECT_EQ(error->subject, file.path());
    return error->to_string().substr(file.path().size());
  }
  ADD_FAILURE() << "loaded: " << text;
  return "";
}

TEST(LoadReport, ReadsAReportFile) {
  const ReportFile file(sample_report().dump(2));
  auto loaded = load_report(file.path());
  ASSERT_TRUE(std::holds_alternative<json>(loaded)) << std::get<Problem>(loaded).to_string();
  EXPECT_EQ(std::get<json>(loaded), sample_report());
}

TEST(LoadReport, AFileThatIsNotAReportIsOneErrorNamingIt) {
  EXPECT_EQ(load_error(""), ": not valid JSON: the file is empty");
  EXPECT_TRUE(load_error("{\"format\": 1,").starts_with(": not valid JSON: "));
  EXPECT_TRUE(load_error("not json").starts_with(": not valid JSON: "));
  EXPECT_EQ(load_error("[1, 2]"),
            ": not a pollscope report: the document is an array, not an object");
  EXPECT_EQ(load_error("{\"format\": 1}"), ": /tool: missing: not a pollscope report");

  auto missing = load_report("/nonexistent/base.json");
  ASSERT_TRUE(std::holds_alternative<Problem>(missing));
  EXPECT_EQ(std::get<Problem>(missing).to_string(),
            "/nonexistent/base.json: cannot read: No such file or directory");
}

}  // namespace
}  // namespace pollscope

// The gate over several reports per side: timings judged by their spread, counts per event by
// their medians, and a changed count naming itself.

#include <gtest/gtest.h>

#include "gate/ci_formats.hpp"
#include "gate/gate.hpp"
#include "gate/gate_json.hpp"
#include "verbs/ab.hpp"

namespace pollscope {
namespace {

// A report as check_report sees one, with just the figures the gate reads.
GateInput report(int index, double rate, double registry_calls) {
  nlohmann::json overall = {{"events_per_second", rate},
                            {"latency_ns", {{"p50", 1000.0 + index}, {"p99", 5000.0 + index}}},
                            {"cost",
                             {{"cpu_ns_per_event", 1e9 / rate},
                              {"syscalls_per_event", 3.0 + registry_calls},
                              {"polls_per_event", 0.05},
                              {"registry_calls_per_event", registry_calls}}}};
  return {"r" + std::to_string(index) + ".json",
          {{"context", {{"scenario_hash", "abc"}}}, {"overall", overall}}};
}

std::vector<GateInput> side(double rate, double registry_calls) {
  std::vector<GateInput> reports;
  for (int i = 0; i < 8; ++i)
    reports.push_back(report(i, rate * (1 + 0.002 * (i % 4)), registry_calls));
  return reports;
}

TEST(GateTest, OneMoreRegistryCallPerEventNamesItself) {
  const auto compared = compare_repeated(side(1000, 0), side(1000, 1), GateOptions{});
  const auto& comparison = std::get<GateComparison>(compared);
  EXPECT_EQ(comparison.verdict(), stats::Verdict::regressed);
  const CountRow& registry = comparison.counts.back();
  EXPECT_EQ(registry.verdict, stats::Verdict::regressed);
  EXPECT_EQ(describe_change(registry), "registry_calls per event 0 \u2192 1");
  EXPECT_EQ(gate_document(comparison, 8)["verdict"], "regressed");
  EXPECT_EQ(exit_code_of(comparison.verdict(), false), kExitRegressed);
}

TEST(GateTest, TenPercentLessThroughputRegressesAndTheSameBuildDoesNot) {
  const auto slower = std::get<GateComparison>(compare_repeated(side(1000, 0), side(900, 0), {}));
  EXPECT_EQ(slower.timings.front().judgement.verdict, stats::Verdict::regressed);
  const auto same = std::get<GateComparison>(compare_repeated(side(1000, 0), side(1000, 0), {}));
  EXPECT_NE(same.verdict(), stats::Verdict::regressed);
  EXPECT_EQ(exit_code_of(stats::Verdict::inconclusive, false), kExitPassed);
  EXPECT_EQ(exit_code_of(stats::Verdict::inconclusive, true), kExitInconclusive);
}

TEST(GateTest, ReportsOfAnotherScenarioOrWithoutAFigureAreRefused) {
  auto other = side(1000, 0);
  other[3].report["context"]["scenario_hash"] = "def";
  const auto compared = compare_repeated(side(1000, 0), other, {});
  ASSERT_TRUE(std::holds_alternative<Problem>(compared));
  EXPECT_EQ(std::get<Problem>(compared).subject, "r3.json");
  auto missing = side(1000, 0);
  missing[0].report["overall"].erase("cost");
  EXPECT_TRUE(std::holds_alternative<Problem>(compare_repeated(missing, side(1000, 0), {})));
  EXPECT_TRUE(std::holds_alternative<Problem>(compare_repeated({}, side(1000, 0), {})));
}

// A run under callgrind on each side: its instructions compared within 2%, its timings unused.
GateInput instructions_report(double instructions) {
  GateInput input = report(99, 1, 0);  // a callgrind run's throughput: nothing like the others
  input.report["overall"]["cost"]["instructions_per_event"] = instructions;
  input.instructions_only = true;
  return input;
}

TEST(GateTest, InstructionsAreComparedWithinTwoPercentAndOnlyWhereCounted) {
  auto base = side(1000, 0), candidate = side(1000, 0);
  const auto without = std::get<GateComparison>(compare_repeated(base, candidate, {}));
  EXPECT_EQ(without.counts.size(), 3u);  // no row for a figure neither side counted
  EXPECT_TRUE(without.warnings.empty());

  base.push_back(instructions_report(10000));
  candidate.push_back(instructions_report(10190));  // +1.9%
  auto within = std::get<GateComparison>(compare_repeated(base, candidate, {}));
  ASSERT_EQ(within.counts.size(), 4u);
  EXPECT_EQ(within.counts.back().verdict, stats::Verdict::unchanged);
  // The callgrind run's throughput (1/s) is no sample of the timings.
  EXPECT_EQ(within.timings.front().candidate.size(), 8u);
  EXPECT_NE(within.verdict(), stats::Verdict::regressed);

  candidate.back() = instructions_report(10210);  // +2.1%
  auto beyond = std::get<GateComparison>(compare_repeated(base, candidate, {}));
  EXPECT_EQ(beyond.counts.back().verdict, stats::Verdict::regressed);
  EXPECT_EQ(describe_change(beyond.counts.back()), "instructions per event 10000 \u2192 10210");

  candidate.pop_back();
  auto one_side = std::get<GateComparison>(compare_repeated(base, candidate, {}));
  EXPECT_EQ(one_side.counts.size(), 3u);
  ASSERT_EQ(one_side.warnings.size(), 1u);
  EXPECT_EQ(one_side.warnings[0], "cost.instructions_per_event was measured on one side only");
}

TEST(GateTest, ThresholdsAreCountedOverTheCandidatesRuns) {
  auto candidate = side(1000, 0);
  for (std::size_t i = 0; i < candidate.size(); ++i) {
    candidate[i].report["thresholds"] = {{{"threshold", "missed_events == 0"}, {"pass", i != 2}}};
  }
  const auto comparison = std::get<GateComparison>(compare_repeated(side(1000, 0), candidate, {}));
  ASSERT_EQ(comparison.thresholds.size(), 1u);
  EXPECT_EQ(comparison.thresholds[0].threshold, "missed_events == 0");
  EXPECT_EQ(comparison.thresholds[0].runs, 8);
  EXPECT_EQ(comparison.thresholds[0].failed, 1);
}

TEST(CiFormatsTest, KindEqualsFileIsParsedAndAnythingElseIsNamed) {
  const auto parsed = parse_format("junit=out/gate.xml");
  ASSERT_TRUE(std::holds_alternative<FormatRequest>(parsed));
  EXPECT_EQ(std::get<FormatRequest>(parsed).kind, "junit");
  EXPECT_EQ(std::get<FormatRequest>(parsed).path, "out/gate.xml");
  for (const char* bad : {"junit", "junit=", "xml=a.xml", "=a.xml"}) {
    SCOPED_TRACE(bad);
    const auto problem = parse_format(bad);
    ASSERT_TRUE(std::holds_alternative<Problem>(problem));
    EXPECT_EQ(std::get<Problem>(problem).subject, "--format");
  }
  EXPECT_FALSE(check_formats({"markdown=a.md", "bencher=b.json"}).has_value());
  EXPECT_TRUE(check_formats({"markdown=a.md", "html=b.html"}).has_value());
}

TEST(CiFormatsTest, ARegressionIsAJunitFailureAndEachFigureAnEntry) {
  // One more registry call per event, and so one more system call.
  auto candidate = side(1000, 1);
  const auto comparison = std::get<GateComparison>(compare_repeated(side(1000, 0), candidate, {}));
  const std::string xml = junit_xml(comparison);
  EXPECT_NE(xml.find("tests=\"7\" failures=\"2\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"cost.registry_calls_per_event\""), std::string::npos);
  EXPECT_NE(xml.find("<failure message=\"regressed: registry_calls per event 0 \u2192 1\""),
            std::string::npos)
      << xml;
  const std::string markdown = markdown_summary(comparison);
  EXPECT_NE(markdown.find("### pollscope performance gate: regressed"), std::string::npos);
  const auto bigger = benchmark_action_json(comparison, Direction::higher_is_better);
  ASSERT_EQ(bigger.size(), 1u);
  EXPECT_EQ(bigger[0]["name"], ": events_per_second");
  const auto smaller = benchmark_action_json(comparison, Direction::lower_is_better);
  EXPECT_EQ(smaller.size(), 3u + 3u);  // cpu, p50, p99 and the three counts
  const auto bmf = bencher_json(comparison);
  EXPECT_DOUBLE_EQ(bmf["pollscope"]["cost-registry-calls-per-event"]["value"].get<double>(), 1);
}

TEST(CiFormatsTest, XmlSpecialCharactersInAThresholdAreEscaped) {
  auto candidate = side(1000, 0);
  for (auto& input : candidate) {
    input.report["thresholds"] = {{{"threshold", "latency_ns.p99 < 5 & \"x\""}, {"pass", true}}};
  }
  const auto comparison = std::get<GateComparison>(compare_repeated(side(1000, 0), candidate, {}));
  const std::string xml = junit_xml(comparison);
  EXPECT_NE(xml.find("name=\"latency_ns.p99 &lt; 5 &amp; &quot;x&quot;\""), std::string::npos)
      << xml;
}

}  // namespace
}  // namespace pollscope

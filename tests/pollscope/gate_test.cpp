// The gate over several reports per side: timings judged by their spread, counts per event by
// their medians, and a changed count naming itself.

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace pollscope

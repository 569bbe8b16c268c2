// Several runs as one report (run --repeat): medians as headline figures, the worst value of a
// correctness count, the leak check that found most, thresholds passing only when every run
// passed; and callgrind's count read from its output file (run --instructions).

#include <gtest/gtest.h>

#include "repeat/repetitions.hpp"
#include "verbs/run_parts.hpp"

namespace pollscope {
namespace {

using json = nlohmann::json;

json run_report(double rate, std::uint64_t missed, std::uint64_t leaked, bool passed) {
  const json figures = {{"events", std::uint64_t{1000}},
                        {"events_per_second", rate},
                        {"missed_events", missed},
                        {"latency_ns", {{"p50", rate / 10}}}};
  json phase = figures;
  phase["name"] = "steady";
  return {
      {"format", 1},
      {"context", {{"start_time", "t" + std::to_string(rate)}}},
      {"phases", json::array({phase})},
      {"overall", figures},
      {"leaks", {{"total", leaked}, {"findings", json::array()}}},
      {"thresholds", {{{"threshold", "missed_events == 0"}, {"actual", missed}, {"pass", passed}}}},
      {"interrupted", false},
      {"verdict", passed ? "pass" : "fail"}};
}

TEST(RepetitionsTest, HeadlineFiguresAreMediansAndCorrectnessCountsTheWorst) {
  const json combined = combine_repetitions(
      {run_report(300, 0, 0, true), run_report(100, 2, 1, false), run_report(200, 0, 0, true)});
  EXPECT_DOUBLE_EQ(combined["overall"]["events_per_second"].get<double>(), 200);
  EXPECT_DOUBLE_EQ(combined["overall"]["latency_ns"]["p50"].get<double>(), 20);
  EXPECT_DOUBLE_EQ(combined["phases"][0]["events_per_second"].get<double>(), 200);
  EXPECT_EQ(combined["phases"][0]["name"], "steady");
  EXPECT_EQ(combined["overall"]["missed_events"].get<std::uint64_t>(), 2u);  // not the median, 0
  EXPECT_TRUE(combined["overall"]["events"].is_number_unsigned());
  EXPECT_EQ(combined["leaks"]["total"].get<std::uint64_t>(), 1u);
  EXPECT_FALSE(combined["thresholds"][0]["pass"].get<bool>());
  EXPECT_EQ(combined["verdict"], "fail");
  ASSERT_EQ(combined["repetitions"].size(), 3u);
  EXPECT_EQ(combined["repetitions"][1]["overall"]["events_per_second"].get<double>(), 100);
  EXPECT_EQ(combined["repetitions"][2]["start_time"], "t200.000000");
  EXPECT_EQ(combined["context"]["start_time"], "t300.000000");  // the first repetition's
}

TEST(RepetitionsTest, AnEvenNumberOfRunsAveragesTheMiddleTwoExceptForCounts) {
  const json combined =
      combine_repetitions({run_report(100, 0, 0, true), run_report(200, 0, 0, true),
                           run_report(400, 0, 0, true), run_report(300, 0, 0, true)});
  EXPECT_DOUBLE_EQ(combined["overall"]["events_per_second"].get<double>(), 250);
  EXPECT_EQ(combined["verdict"], "pass");
  std::vector<double> counts = {3, 1, 4, 2};
  EXPECT_DOUBLE_EQ(median_of(counts, true), 2);  // a count stays a count
  std::vector<double> none;
  EXPECT_DOUBLE_EQ(median_of(none), 0);
}

TEST(RepetitionsTest, AnInterruptedRepetitionMakesTheWholeInterrupted) {
  json stopped = run_report(100, 0, 0, true);
  stopped["verdict"] = "interrupted";
  const json combined = combine_repetitions({run_report(200, 0, 0, true), stopped});
  EXPECT_EQ(combined["verdict"], "interrupted");
  EXPECT_TRUE(combined["interrupted"].get<bool>());
}

TEST(CallgrindTotalTest, TheSummaryLineIsTheCount) {
  EXPECT_EQ(callgrind_total("version: 1\nevents: Ir\nfl=(1) a.c\n0 5\nsummary: 123456\n"),
            123456.0);
  EXPECT_EQ(callgrind_total("events: Ir\ntotals: 42\n"), 42.0);
  EXPECT_FALSE(callgrind_total("events: Ir\n0 5\n").has_value());
  EXPECT_FALSE(callgrind_total("summary: lots\n").has_value());
}

}  // namespace
}  // namespace pollscope

// The gate over several reports per side: timings judged by their spread, counts per event by
// their medians (as timings in paced runs), correctness counts and thresholds that may not get
// worse, runs without events, and a changed count naming itself.

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "gate/ci_formats.hpp"
#include "gate/gate.hpp"
#include "gate/gate_json.hpp"
#include "report/report.hpp"
#include "verbs/ab.hpp"

namespace pollscope {
namespace {

// A report as check_report sees one, with just the figures the gate reads.
GateInput report(int index, double rate, double registry_calls) {
  nlohmann::json overall = {{"events", rate},
                            {"events_per_second", rate},
                            {"missed_events", 0},
                            {"spurious_events", 0},
                            {"loop", {{"ghost_events", 0}}},
                            {"latency_ns", {{"p50", 1000.0 + index}, {"p99", 5000.0 + index}}},
                            {"cost",
                             {{"cpu_ns_per_event", 1e9 / rate},
                              {"syscalls_per_event", 3.0 + registry_calls},
                              {"polls_per_event", 0.05},
                              {"registry_calls_per_event", registry_calls}}}};
  return {
      "r" + std::to_string(index) + ".json",
      {{"context", {{"scenario_hash", "abc"}}}, {"overall", overall}, {"leaks", {{"total", 0}}}}};
}

// The count row of `metric`, or a test failure (and a null pointer).
const CountRow* count_of(const GateComparison& comparison, const std::string& metric) {
  for (const CountRow& row : comparison.counts) {
    if (row.figure.metric == metric) return &row;
  }
  ADD_FAILURE() << "no count row for " << metric;
  return nullptr;
}

const TimingRow* timing_of(const GateComparison& comparison, const std::string& metric) {
  for (const TimingRow& row : comparison.timings) {
    if (row.figure.metric == metric) return &row;
  }
  return nullptr;
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
  const CountRow& registry = *count_of(comparison, "cost.registry_calls_per_event");
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

nlohmann::json json_array() {
  return nlohmann::json::array();
}

// The Problem compare_repeated gives when the candidate's fourth report is changed by `change`,
// as its line; "" when it gives none.
std::string refusal(const std::function<void(nlohmann::json&)>& change) {
  auto candidate = side(1000, 0);
  change(candidate[3].report);
  const auto compared = compare_repeated(side(1000, 0), candidate, {});
  const auto* problem = std::get_if<Problem>(&compared);
  return problem != nullptr ? problem->to_string() : "";
}

// A figure of the wrong type once read "the report has no such figure", named by its dotted
// name: now it says what is there, at its JSON pointer.
TEST(GateTest, AFigureOfTheWrongTypeSaysWhatItIs) {
  EXPECT_EQ(refusal([](auto& r) { r["overall"]["cost"]["syscalls_per_event"] = "3.5"; }),
            "r3.json: /overall/cost/syscalls_per_event: is a string, not a number");
  EXPECT_EQ(refusal([](auto& r) {
              r["overall"]["events_per_second"] = {{"value", 1}};
            }),
            "r3.json: /overall/events_per_second: is an object, not a number");
  EXPECT_EQ(refusal([](auto& r) { r["overall"]["latency_ns"]["p99"] = nullptr; }),
            "r3.json: /overall/latency_ns/p99: is null, not a number");
  EXPECT_EQ(refusal([](auto& r) { r["overall"]["cost"] = 7; }),
            "r3.json: /overall/cost: is an integer, not an object holding cost.cpu_ns_per_event");
  EXPECT_EQ(refusal([](auto& r) { r["leaks"]["total"] = json_array(); }),
            "r3.json: /leaks/total: is an array, not a number");
  // An optional figure too: one of the wrong type is not "not measured".
  EXPECT_EQ(refusal([](auto& r) { r["overall"]["cost"]["instructions_per_event"] = "656"; }),
            "r3.json: /overall/cost/instructions_per_event: is a string, not a number");
  // A missing one is named by where it would be.
  EXPECT_EQ(refusal([](auto& r) { r["overall"]["cost"].erase("polls_per_event"); }),
            "r3.json: /overall/cost/polls_per_event: missing: the gate compares "
            "cost.polls_per_event");
  // A boolean counts as 1 or 0, as in thresholds.
  EXPECT_EQ(refusal([](auto& r) { r["leaks"]["total"] = false; }), "");
}

// In a report of `run --repeat`, the place is the repetition's.
TEST(GateTest, AFigureOfTheWrongTypeInARepetitionIsNamedThere) {
  auto candidate = side(1000, 0);
  const auto overall = candidate[1].report["overall"];
  candidate[1].report["repetitions"] = {{{"overall", overall}, {"leaks", {{"total", 0}}}},
                                        {{"overall", overall}, {"leaks", {{"total", "0"}}}}};
  const auto compared = compare_repeated(side(1000, 0), candidate, {});
  ASSERT_TRUE(std::holds_alternative<Problem>(compared));
  EXPECT_EQ(std::get<Problem>(compared).to_string(),
            "r1.json: /repetitions/1/leaks/total: is a string, not a number");
}

// A negative count once read as an improvement (syscalls per event 0.5 -> -1), and a negative
// throughput left the throughput inconclusive: no figure the gate compares can be negative.
TEST(GateTest, ANegativeFigureIsRefused) {
  EXPECT_EQ(refusal([](auto& r) { r["overall"]["cost"]["syscalls_per_event"] = -1; }),
            "r3.json: /overall/cost/syscalls_per_event: is -1: a figure the gate compares is "
            "never negative");
  EXPECT_EQ(refusal([](auto& r) { r["overall"]["events_per_second"] = -1000.5; }),
            "r3.json: /overall/events_per_second: is -1000.5: a figure the gate compares is "
            "never negative");
  EXPECT_EQ(refusal([](auto& r) { r["overall"]["missed_events"] = -3; }),
            "r3.json: /overall/missed_events: is -3: a figure the gate compares is never "
            "negative");
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
  EXPECT_EQ(without.counts.size(), 7u);  // no row for a figure neither side counted
  EXPECT_TRUE(without.warnings.empty());

  base.push_back(instructions_report(10000));
  candidate.push_back(instructions_report(10190));  // +1.9%
  auto within = std::get<GateComparison>(compare_repeated(base, candidate, {}));
  ASSERT_EQ(within.counts.size(), 8u);
  EXPECT_EQ(count_of(within, "cost.instructions_per_event")->verdict, stats::Verdict::unchanged);
  // The callgrind run's throughput (1/s) is no sample of the timings.
  EXPECT_EQ(within.timings.front().candidate.size(), 8u);
  EXPECT_NE(within.verdict(), stats::Verdict::regressed);

  candidate.back() = instructions_report(10210);  // +2.1%
  auto beyond = std::get<GateComparison>(compare_repeated(base, candidate, {}));
  const CountRow* instructions = count_of(beyond, "cost.instructions_per_event");
  EXPECT_EQ(instructions->verdict, stats::Verdict::regressed);
  EXPECT_EQ(describe_change(*instructions), "instructions per event 10000 \u2192 10210");

  candidate.pop_back();
  auto one_side = std::get<GateComparison>(compare_repeated(base, candidate, {}));
  EXPECT_EQ(one_side.counts.size(), 7u);
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
  EXPECT_EQ(comparison.thresholds[0].base_runs, 0);
}

// Every run of `reports` with `threshold` passed or failed.
void set_threshold(std::vector<GateInput>& reports, const std::string& threshold, bool pass) {
  for (GateInput& input : reports) {
    input.report["thresholds"] = {{{"threshold", threshold}, {"pass", pass}}};
  }
}

TEST(GateTest, AThresholdOnlyTheCandidateFailsRegressesAndIsShown) {
  auto base = side(1000, 0), candidate = side(1000, 0);
  set_threshold(base, "leaks.total == 0", true);
  set_threshold(candidate, "leaks.total == 0", false);
  const auto comparison = std::get<GateComparison>(compare_repeated(base, candidate, {}));
  ASSERT_EQ(comparison.thresholds.size(), 1u);
  EXPECT_EQ(comparison.thresholds[0].base_runs, 8);
  EXPECT_EQ(comparison.thresholds[0].base_failed, 0);
  EXPECT_EQ(comparison.thresholds[0].verdict(), stats::Verdict::regressed);
  EXPECT_EQ(comparison.verdict(), stats::Verdict::regressed);
  EXPECT_EQ(exit_code_of(comparison.verdict(), false), kExitRegressed);
  const auto document = gate_document(comparison, 8);
  EXPECT_EQ(document["verdict"], "regressed");
  EXPECT_EQ(document["thresholds"][0]["verdict"], "regressed");
  EXPECT_EQ(document["thresholds"][0]["base_failed"], 0);
  const std::string summary = gate_summary(comparison, "p: ");
  EXPECT_NE(summary.find("p: threshold leaks.total == 0: failed in 8 of 8 candidate and 0 of 8 "
                         "base runs: regressed\n"),
            std::string::npos)
      << summary;
  EXPECT_NE(junit_xml(comparison).find("failures=\"1\""), std::string::npos);

  // Failing on both sides, it failed before the change: not the candidate's regression.
  set_threshold(base, "leaks.total == 0", false);
  const auto both = std::get<GateComparison>(compare_repeated(base, candidate, {}));
  EXPECT_EQ(both.thresholds[0].verdict(), stats::Verdict::unchanged);
  EXPECT_NE(both.verdict(), stats::Verdict::regressed);
  EXPECT_NE(junit_xml(both).find("failures=\"0\""), std::string::npos);
}

TEST(GateTest, MoreMissedEventsOrLeaksRegressAsExactCounts) {
  auto candidate = side(1000, 0);
  candidate[5].report["overall"]["missed_events"] = 40;  // one bad run is never voted away
  candidate[2].report["leaks"]["total"] = 7;
  const auto comparison = std::get<GateComparison>(compare_repeated(side(1000, 0), candidate, {}));
  const CountRow* missed = count_of(comparison, "missed_events");
  ASSERT_NE(missed, nullptr);
  EXPECT_EQ(missed->verdict, stats::Verdict::regressed);
  EXPECT_EQ(describe_change(*missed), "missed_events 0 \u2192 40");
  EXPECT_EQ(count_of(comparison, "leaks.total")->verdict, stats::Verdict::regressed);
  EXPECT_EQ(count_of(comparison, "spurious_events")->verdict, stats::Verdict::unchanged);
  EXPECT_EQ(comparison.verdict(), stats::Verdict::regressed);
  const auto document = gate_document(comparison, 8);
  bool found = false;
  for (const auto& row : document["counts"]) {
    if (row["metric"] != "leaks.total") continue;
    found = true;
    EXPECT_EQ(row["exact"], true);
    EXPECT_EQ(row["change"], "leaks.total 0 \u2192 7");
  }
  EXPECT_TRUE(found);
}

// Events under a token no live registration carries are a correctness count in two-report
// compare; the gate once left loop.ghost_events out, so a build that leaked them passed.
TEST(GateTest, MoreGhostEventsRegressAsAnExactCount) {
  auto candidate = side(1000, 0);
  candidate[3].report["overall"]["loop"]["ghost_events"] = 2;  // one bad run is enough
  const auto comparison = std::get<GateComparison>(compare_repeated(side(1000, 0), candidate, {}));
  const CountRow* ghosts = count_of(comparison, "loop.ghost_events");
  ASSERT_NE(ghosts, nullptr);
  EXPECT_TRUE(ghosts->figure.exact);
  EXPECT_EQ(ghosts->verdict, stats::Verdict::regressed);
  EXPECT_EQ(describe_change(*ghosts), "loop.ghost_events 0 \u2192 2");
  EXPECT_EQ(comparison.verdict(), stats::Verdict::regressed);
  EXPECT_EQ(exit_code_of(comparison.verdict(), false), kExitRegressed);

  auto fewer = side(1000, 0);
  for (GateInput& input : fewer) input.report["overall"]["loop"]["ghost_events"] = 1;
  const auto better = std::get<GateComparison>(compare_repeated(fewer, side(1000, 0), {}));
  EXPECT_EQ(count_of(better, "loop.ghost_events")->verdict, stats::Verdict::improved);
}

// A report without the count is refused, as for the other correctness counts: a gate that
// silently skipped it would pass a build whose runs never said.
TEST(GateTest, AReportWithoutGhostEventsIsInvalid) {
  auto candidate = side(1000, 0);
  candidate[1].report["overall"].erase("loop");
  const auto compared = compare_repeated(side(1000, 0), candidate, {});
  const auto* problem = std::get_if<Problem>(&compared);
  ASSERT_NE(problem, nullptr);
  EXPECT_EQ(problem->subject, "r1.json");
  EXPECT_NE(problem->to_string().find("missing: the gate compares loop.ghost_events"),
            std::string::npos)
      << problem->to_string();
}

// A candidate that handled no event: its throughput 0 in every run, and its figures per event
// and latencies the 0 its report gives for "no events". Its throughput regressed, with no ratio
// made up, and no figure per event or latency is called improved.
TEST(GateTest, ACandidateWithoutEventsRegressesWithNoRatioAndNoFigurePerEvent) {
  auto candidate = side(1000, 0);
  for (GateInput& input : candidate) {
    auto& overall = input.report["overall"];
    overall["events"] = 0;
    overall["events_per_second"] = 0.0;
    overall["latency_ns"] = {{"count", 0}, {"p50", 0}, {"p99", 0}};  // an empty histogram
    for (auto& [name, value] : overall["cost"].items()) value = 0.0;
  }
  const auto comparison = std::get<GateComparison>(compare_repeated(side(1000, 0), candidate, {}));
  const TimingRow* throughput = timing_of(comparison, "events_per_second");
  ASSERT_NE(throughput, nullptr);
  EXPECT_EQ(throughput->judgement.verdict, stats::Verdict::regressed);
  EXPECT_FALSE(throughput->judgement.interval.has_value());
  for (const char* metric : {"cost.cpu_ns_per_event", "latency_ns.p50", "latency_ns.p99"}) {
    EXPECT_EQ(timing_of(comparison, metric), nullptr) << metric;
  }
  for (const CountRow& row : comparison.counts) {
    EXPECT_FALSE(row.figure.metric.ends_with("_per_event")) << row.figure.metric;
    EXPECT_NE(row.verdict, stats::Verdict::improved) << row.figure.metric;
  }
  ASSERT_EQ(comparison.warnings.size(), 1u);
  EXPECT_EQ(
      comparison.warnings[0],
      "8 of 8 candidate runs handled no event: their figures per event and latencies are left out");
  EXPECT_EQ(comparison.verdict(), stats::Verdict::regressed);
  const auto row = gate_document(comparison, 8)["timings"][0];
  EXPECT_TRUE(row["ratio"].is_null() && row["ratio_low"].is_null() && row["confidence"].is_null())
      << row.dump();
  EXPECT_NE(gate_summary(comparison, "").find("events_per_second: no ratio (medians "),
            std::string::npos);
}

// Eight runs' waits (and system calls) per event around `polls`, a few per cent apart, paced by
// a schedule or not.
std::vector<GateInput> waits(double polls, bool paced) {
  auto reports = side(1000, 0);
  for (std::size_t i = 0; i < reports.size(); ++i) {
    auto& overall = reports[i].report["overall"];
    overall["cost"]["polls_per_event"] = polls * (1 + 0.01 * double(i % 4));
    overall["cost"]["syscalls_per_event"] = polls * (1 + 0.01 * double(i % 4));
    if (paced) overall["target_rate_per_second"] = 20000.0;
  }
  return reports;
}

// In open loop a wait returns what arrived since the last one, so waits per event follow the
// load: runs of one build gave medians 26.2 and 29.6. There they are judged as timings within
// 25%; in closed loop they stay exact counts within 0.25.
TEST(GateTest, WaitsPerEventOfPacedRunsAreJudgedAsTimings) {
  const auto same_build =
      std::get<GateComparison>(compare_repeated(waits(26.2, true), waits(29.6, true), {}));
  const TimingRow* polls = timing_of(same_build, "cost.polls_per_event");
  ASSERT_NE(polls, nullptr);
  EXPECT_EQ(polls->figure.tolerance_percent, 25);
  EXPECT_EQ(polls->judgement.verdict, stats::Verdict::unchanged);
  EXPECT_NE(same_build.verdict(), stats::Verdict::regressed);
  for (const CountRow& row : same_build.counts) {
    EXPECT_NE(row.figure.metric, "cost.polls_per_event");
    EXPECT_NE(row.figure.metric, "cost.syscalls_per_event");
  }

  const auto doubled =
      std::get<GateComparison>(compare_repeated(waits(26.2, true), waits(52.4, true), {}));
  EXPECT_EQ(timing_of(doubled, "cost.syscalls_per_event")->judgement.verdict,
            stats::Verdict::regressed);

  const auto closed =
      std::get<GateComparison>(compare_repeated(waits(26.2, false), waits(29.6, false), {}));
  EXPECT_EQ(timing_of(closed, "cost.polls_per_event"), nullptr);
  EXPECT_EQ(count_of(closed, "cost.polls_per_event")->verdict, stats::Verdict::regressed);
}

// One report a side: an "interval" of one ratio covers nothing, so it is no evidence that a
// timing is unchanged, and --strict must say so.
TEST(GateTest, OneReportASideIsInconclusiveNotUnchanged) {
  const auto comparison = std::get<GateComparison>(
      compare_repeated({report(0, 1000, 0)}, {report(0, 1000 / 1.004, 0)}, {}));
  for (const TimingRow& row : comparison.timings) {
    EXPECT_EQ(row.judgement.verdict, stats::Verdict::inconclusive) << row.figure.metric;
  }
  EXPECT_EQ(comparison.verdict(), stats::Verdict::inconclusive);
  EXPECT_EQ(exit_code_of(comparison.verdict(), true), kExitInconclusive);
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
  // 4 timings, 3 counts per event, 4 correctness counts.
  EXPECT_NE(xml.find("tests=\"11\" failures=\"2\""), std::string::npos) << xml;
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
  EXPECT_EQ(smaller.size(), 3u + 7u);          // cpu, p50, p99 and the seven counts
  EXPECT_EQ(smaller.back()["unit"], "count");  // leaks.total
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

// What XML 1.0 allows: tab, newline, carriage return and characters from U+0020, less U+FFFE
// and U+FFFF (checked on the UTF-8 bytes).
bool xml_characters_only(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r') return false;
    if (byte == 0xef && text.compare(i, 3, "\xef\xbf\xbe") == 0) return false;
    if (byte == 0xef && text.compare(i, 3, "\xef\xbf\xbf") == 0) return false;
  }
  return true;
}

// A hand-edited or foreign report (read by `compare --base`) may hold any string in a
// threshold's text or the scenario's name: control characters once made the JUnit file
// malformed XML, and a newline or a backtick broke the Markdown summary.
TEST(CiFormatsTest, ControlCharactersAndBackticksFromAReportKeepEachFormatWellFormed) {
  auto base = side(1000, 0), candidate = side(1000, 0);
  const std::string threshold = "missed_events == 0\x01 ]]> `x` \xef\xbf\xbe\nnext";
  set_threshold(base, threshold, true);
  set_threshold(candidate, threshold, false);
  auto comparison = std::get<GateComparison>(compare_repeated(base, candidate, {}));
  comparison.scenario = "quick\x07\x1b[31m";
  comparison.warnings.push_back("a warning\nwith a second line");

  const std::string xml = junit_xml(comparison);
  EXPECT_TRUE(xml_characters_only(xml)) << xml;
  EXPECT_NE(xml.find("name=\"missed_events == 0\\x01 ]]&gt; `x` \\ufffe\\x0anext\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<testsuite name=\"pollscope gate: quick\\x07\\x1b[31m\""), std::string::npos)
      << xml;

  const std::string markdown = markdown_summary(comparison);
  EXPECT_TRUE(
      markdown.starts_with("### pollscope performance gate: regressed (`quick\\x07\\x1b[31m`)\n"))
      << markdown;
  EXPECT_NE(markdown.find("\nThreshold ``missed_events == 0\\x01 ]]> `x` \\ufffe\\x0anext`` "
                          "failed in 8 of 8"),
            std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("\n> a warning\\x0awith a second line\n"), std::string::npos) << markdown;
  EXPECT_EQ(markdown.find('\x1b'), std::string::npos);

  // The lines for a person too.
  const std::string summary = gate_summary(comparison, "p: ");
  EXPECT_NE(summary.find("p: threshold missed_events == 0\\x01 ]]> `x` \xef\xbf\xbe\\x0anext: "
                         "failed in 8 of 8"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("p: warning: a warning\\x0awith a second line\n"), std::string::npos)
      << summary;
}

// A report check_report accepts, with a threshold and two repetitions of its blocks.
nlohmann::json checked_report() {
  const nlohmann::json blocks = {
      {"overall", nlohmann::json::object()},
      {"leaks", nlohmann::json::object()},
      {"phases", {{{"name", "p"}}}},
      {"thresholds", {{{"threshold", "missed_events == 0"}, {"pass", true}}}}};
  nlohmann::json report = blocks;
  report.update({{"tool", "pollscope"}, {"format", kReportFormat}, {"interrupted", false}});
  for (const char* key :
       {"scenario", "scenario_hash", "backend", "build_type", "git_revision", "start_time"}) {
    report["context"][key] = "x";
  }
  report["repetitions"] = {blocks, blocks};
  return report;
}

// The gate reads each threshold's text and verdict, and each repetition's blocks: a report
// where they are of another type is a Problem at its place, never an exception (exit 3).
TEST(GateReportCheckTest, MalformedThresholdsAndRepetitionsAreProblemsAtTheirPlace) {
  ASSERT_EQ(check_report(checked_report(), "r.json"), std::nullopt);
  using Pointer = nlohmann::json::json_pointer;
  struct Case {
    std::string at;
    nlohmann::json value;  // null: erased
    std::string path;
    std::string reason;
  };
  for (const Case& bad : std::vector<Case>{
           {"/thresholds/0", 1, "/thresholds/0", "expected an object, got an integer"},
           {"/thresholds/0/pass", "yes", "/thresholds/0/pass", "expected a boolean, got a string"},
           {"/repetitions", "x", "/repetitions", "expected an array, got a string"},
           {"/repetitions/1", 1, "/repetitions/1", "expected an object, got an integer"},
           {"/repetitions/0/overall", nullptr, "/repetitions/0/overall", "missing"},
           {"/repetitions/1/thresholds/0/threshold", 5, "/repetitions/1/thresholds/0/threshold",
            "expected a string, got an integer"},
           // Two phases of one name in a repetition: its figures would be either phase's.
           {"/repetitions/1/phases/1",
            {{"name", "p"}},
            "/repetitions/1/phases/1/name",
            "duplicate phase name \"p\" (also /repetitions/1/phases/0/name): its figures would "
            "be ambiguous"}}) {
    SCOPED_TRACE(bad.at);
    nlohmann::json report = checked_report();
    if (bad.value.is_null()) {
      const Pointer at(bad.at);
      report.at(at.parent_pointer()).erase(at.back());
    } else {
      report[Pointer(bad.at)] = bad.value;
    }
    const auto problem = check_report(report, "r.json");
    ASSERT_TRUE(problem.has_value());
    EXPECT_EQ(problem->to_string(), "r.json: " + bad.path + ": " + bad.reason);
  }
}

}  // namespace
}  // namespace pollscope

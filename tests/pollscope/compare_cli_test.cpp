// `pollscope compare` and `pollscope run --baseline` end to end: real runs of a quick scenario,
// compared as they are and after doctoring a copy (throughput halved or ten times higher,
// another scenario's hash, an interrupted run), with exit codes, one-line errors, and the
// outputs checked against cli/comparison.schema.json and cli/report.schema.json.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "child_process.hpp"

namespace pollscope {
namespace {

using namespace test_support;
using json = nlohmann::json;

// 4 Unix pairs, 2 of them active, one phase of 200 ms.
constexpr const char* kQuickScenario = R"({
  "format": 1,
  "name": "quick",
  "description": "four unix pairs, two active, 200 ms",
  "sockets": {"kind": "unix", "count": 4, "active": 2},
  "phases": [{"name": "steady", "duration_ms": 200}]
})";

// Tolerances that no two runs of the quick scenario exceed, however noisy the machine: the
// throughput may fall to nothing, the times may grow a thousandfold. The correctness counts take
// none: they stay at 0 on a correct library. `except` keeps its default tolerance.
std::vector<std::string> generous_tolerances(const std::string& except = "") {
  std::vector<std::string> args;
  for (const std::string metric :
       {"events_per_second", "achieved_rate_ratio", "latency_ns.p50", "latency_ns.p99",
        "latency_ns.p99_9", "registry_ns.register.p99", "registry_ns.reregister.p99",
        "registry_ns.deregister.p99", "overhead_ns_per_event"}) {
    if (metric != except) args.insert(args.end(), {"--tolerance", metric + "=100000"});
  }
  return args;
}

std::vector<std::string> concat(std::vector<std::string> first,
                                const std::vector<std::string>& second) {
  first.insert(first.end(), second.begin(), second.end());
  return first;
}

json read_json(const std::string& path) {
  return parse_report(read_file(path));
}

void write_json(const std::string& path, const json& document) {
  std::ofstream(path, std::ios::binary) << document.dump(2) << "\n";
}

// A directory with the quick scenario and what the tests make of it.
class PollscopeCompare : public ::testing::Test {
 protected:
  void SetUp() override { scenario_ = dir_.write("quick.json", kQuickScenario); }

  // Runs the quick scenario into `name` (a file in the directory) and returns its path.
  std::string run_report(const std::string& name) {
    const std::string path = dir_ / name;
    const Outcome outcome = pollscope({"run", scenario_, "--out", path, "-q"});
    EXPECT_TRUE(exited_with(outcome, 0));
    return path;
  }

  // A copy of the report at `from`, changed by `change`, written to `name`.
  std::string doctored(const std::string& from, const std::string& name,
                       const std::function<void(json&)>& change) {
    json report = read_json(from);
    change(report);
    const std::string path = dir_ / name;
    write_json(path, report);
    return path;
  }

  TempDir dir_;
  std::string scenario_;
};

TEST_F(PollscopeCompare, TwoRunsOfOneScenarioPassWithGenerousTolerances) {
  const std::string baseline = run_report("baseline.json");
  const std::string current = run_report("current.json");
  const std::string comparison_path = dir_ / "comparison.json";

  const Outcome outcome = pollscope(
      concat({"compare", baseline, current, "--out", comparison_path}, generous_tolerances()));
  ASSERT_TRUE(exited_with(outcome, 0));
  EXPECT_EQ(outcome.out, "");
  const auto lines = lines_of(outcome.err);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(lines.back().starts_with("pollscope: verdict: pass: 0 regressions")) << outcome.err;

  const json comparison = read_json(comparison_path);
  ASSERT_TRUE(comparison.is_object());
  EXPECT_EQ(comparison.value("kind", ""), "comparison");
  EXPECT_EQ(comparison.value("verdict", ""), "pass");
  EXPECT_EQ(comparison.value("regressions", -1), 0);
  EXPECT_EQ(comparison.at("baseline").value("file", ""), baseline);
  EXPECT_EQ(comparison.at("current").value("file", ""), current);
  std::set<std::string> metrics;
  for (const json& row : comparison.at("rows")) {
    metrics.insert(row.value("metric", ""));
    EXPECT_FALSE(row.value("missing", true)) << row.dump();
  }
  for (const char* metric :
       {"events_per_second", "latency_ns.p99", "loop.ghost_events", "leaks.total",
        "phases.steady.events_per_second", "phases.steady.latency_ns.p99"}) {
    EXPECT_TRUE(metrics.contains(metric)) << metric;
  }
  expect_valid_against(kComparisonSchema, comparison_path);
}

TEST_F(PollscopeCompare, HalvedThroughputRegressesAndIsNamed) {
  const std::string baseline = run_report("baseline.json");
  const std::string halved = doctored(baseline, "halved.json", [](json& report) {
    report["overall"]["events_per_second"] =
        report["overall"]["events_per_second"].get<double>() / 2;
  });

  const Outcome outcome = pollscope({"compare", baseline, halved});
  ASSERT_TRUE(exited_with(outcome, 1));
  EXPECT_TRUE(contains(outcome.err, "pollscope: regressed: events_per_second: ")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "pollscope: verdict: regressed: 1 regression,")) << outcome.err;
  const json comparison = parse_report(outcome.out);
  ASSERT_TRUE(comparison.is_object());
  EXPECT_EQ(comparison.value("verdict", ""), "regressed");
  EXPECT_EQ(comparison.value("regressions", 0), 1);
  for (const json& row : comparison.at("rows")) {
    EXPECT_EQ(row.value("regressed", false), row.value("metric", "") == "events_per_second")
        << row.dump();
  }
  const std::string comparison_path = dir_.write("comparison.json", outcome.out);
  expect_valid_against(kComparisonSchema, comparison_path);

  // --quiet keeps the summary off stderr, not the exit code.
  const Outcome quiet = pollscope({"compare", baseline, halved, "--quiet"});
  ASSERT_TRUE(exited_with(quiet, 1));
  EXPECT_EQ(quiet.err, "");
}

TEST_F(PollscopeCompare, AMissingBaselineIsOneLineNamingIt) {
  const std::string current = run_report("current.json");
  const std::string missing = dir_ / "missing.json";
  const Outcome outcome = pollscope({"compare", missing, current});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_EQ(outcome.err, "pollscope: " + missing + ": cannot read: No such file or directory\n");
  EXPECT_EQ(outcome.out, "");
}

TEST_F(PollscopeCompare, ReportsOfDifferentScenariosAreRefusedUnlessAllowed) {
  const std::string baseline = run_report("baseline.json");
  const std::string hash = read_json(baseline).at("context").value("scenario_hash", "");
  const std::string other = doctored(baseline, "other.json", [](json& report) {
    report["context"]["scenario_hash"] = "fnv1a64:0000000000000000";
  });

  const Outcome refused = pollscope({"compare", baseline, other});
  ASSERT_TRUE(exited_with(refused, 2));
  EXPECT_TRUE(one_line(refused.err));
  for (const std::string& part : {baseline, other, hash, std::string("fnv1a64:0000000000000000")}) {
    EXPECT_TRUE(contains(refused.err, part)) << "no " << part << " in: " << refused.err;
  }
  EXPECT_EQ(refused.out, "");

  const Outcome allowed =
      pollscope({"compare", baseline, other, "--allow-different-scenario", "-q"});
  ASSERT_TRUE(exited_with(allowed, 0));
  EXPECT_TRUE(allowed.err.starts_with("pollscope: warning: the scenarios differ: ")) << allowed.err;
  EXPECT_TRUE(one_line(allowed.err));
  const json comparison = parse_report(allowed.out);
  ASSERT_TRUE(comparison.is_object());
  EXPECT_EQ(comparison.at("warnings").size(), 1u);
}

TEST_F(PollscopeCompare, BadToleranceSyntaxIsAUsageError) {
  const std::string report = run_report("report.json");
  for (const std::string tolerance : {"x=abc", "latency_ns.p99", "latency_ns.p99=-5", "=10"}) {
    SCOPED_TRACE(tolerance);
    const Outcome outcome = pollscope({"compare", report, report, "--tolerance", tolerance});
    ASSERT_TRUE(exited_with(outcome, 2));
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(outcome.err.starts_with("pollscope: --tolerance " + tolerance + ": "))
        << outcome.err;
    EXPECT_EQ(outcome.out, "");
  }
  const Outcome unknown = pollscope({"compare", report, report, "--metric", "bogus"});
  ASSERT_TRUE(exited_with(unknown, 2));
  EXPECT_TRUE(one_line(unknown.err));
  EXPECT_TRUE(contains(unknown.err, "bogus is not a figure of " + report)) << unknown.err;
}

// --base/--candidate judge as ab does: the options of two reports' comparison would silently
// change nothing, so each is refused, in one line naming it, before any report is read.
TEST_F(PollscopeCompare, OptionsOfTwoReportsAreRefusedWithBaseAndCandidate) {
  const std::vector<std::vector<std::string>> options = {{"--tolerance", "events_per_second=50"},
                                                         {"--metric", "latency_ns.p99"},
                                                         {"--allow-different-scenario"}};
  for (const auto& option : options) {
    SCOPED_TRACE(option.front());
    const Outcome outcome = pollscope(concat(
        {"compare", "--base", dir_ / "a.json", "--candidate", dir_ / "b.json", "-q"}, option));
    ASSERT_TRUE(exited_with(outcome, 2));
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(outcome.err.starts_with("pollscope: " + option.front() +
                                        ": applies to BASELINE CURRENT, not to --base/--candidate"))
        << outcome.err;
    EXPECT_EQ(outcome.out, "");
  }
}

// The gate's options mean nothing to two reports: --format once wrote no file and --strict
// changed nothing, silently. Each is refused in one line naming it, and nothing is written.
TEST_F(PollscopeCompare, OptionsOfTheGateAreRefusedWithTwoReports) {
  const std::string report = run_report("report.json");
  const std::string junit = dir_ / "gate.xml";
  const std::vector<std::vector<std::string>> options = {
      {"--format", "junit=" + junit}, {"--format", "bogus"}, {"--strict"}};
  for (const auto& option : options) {
    SCOPED_TRACE(option.front());
    const Outcome outcome = pollscope(concat({"compare", report, report, "-q"}, option));
    ASSERT_TRUE(exited_with(outcome, 2)) << outcome.err;
    EXPECT_EQ(outcome.err, "pollscope: " + option.front() +
                               ": applies to --base/--candidate (judged as ab judges), not to "
                               "BASELINE CURRENT\n");
    EXPECT_EQ(outcome.out, "");
  }
  EXPECT_FALSE(std::filesystem::exists(junit));
}

// A scenario refuses two phases of one name; a report that has them (hand-edited, or from
// elsewhere) was compared with the figures of the last of them. Wherever reports are read
// (compare, the gate's compare --base, run --baseline) it is bad input, one line naming the file,
// the second phase's name and why.
TEST_F(PollscopeCompare, AReportWithTwoPhasesOfOneNameIsRefusedEverywhere) {
  const std::string report = run_report("report.json");
  const std::string doubled = doctored(report, "doubled.json", [](json& document) {
    json slow = document["phases"][0];
    slow["latency_ns"]["p99"] = slow["latency_ns"]["p99"].get<double>() * 1000;
    document["phases"].push_back(slow);
  });
  const std::string refusal = "pollscope: " + doubled +
                              ": /phases/1/name: duplicate phase name \"steady\" (also "
                              "/phases/0/name): its figures would be ambiguous\n";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"compare", doubled, report},
           {"compare", report, doubled},
           {"compare", "--base", report, "--candidate", doubled},
           {"compare", "--base", doubled, "--candidate", report},
           {"run", scenario_, "--out", dir_ / "new.json", "--baseline", doubled}}) {
    SCOPED_TRACE(args.back());
    const Outcome outcome = pollscope(concat(args, {"-q"}));
    ASSERT_TRUE(exited_with(outcome, 2)) << outcome.err;
    EXPECT_EQ(outcome.err, refusal);
    EXPECT_EQ(outcome.out, "");
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "new.json"));

  // In a repetition of `run --repeat` too, named at its place.
  const std::string repeated = dir_ / "repeated.json";
  ASSERT_TRUE(
      exited_with(pollscope({"run", scenario_, "--repeat", "2", "--out", repeated, "-q"}), 0));
  const std::string twice = doctored(repeated, "twice.json", [](json& document) {
    json& phases = document["repetitions"][1]["phases"];
    phases.push_back(phases[0]);
  });
  const Outcome outcome = pollscope({"compare", "--base", repeated, "--candidate", twice, "-q"});
  ASSERT_TRUE(exited_with(outcome, 2)) << outcome.err;
  EXPECT_EQ(outcome.err, "pollscope: " + twice +
                             ": /repetitions/1/phases/1/name: duplicate phase name \"steady\" "
                             "(also /repetitions/1/phases/0/name): its figures would be "
                             "ambiguous\n");
}

// The gate once said "the report has no such figure" of a figure that is there, of another
// type; it says what is there, at its place.
TEST_F(PollscopeCompare, TheGateNamesAFigureOfTheWrongType) {
  const std::string report = run_report("report.json");
  const std::string stringly = doctored(report, "stringly.json", [](json& document) {
    document["overall"]["cost"]["syscalls_per_event"] = "3.5";
  });
  const Outcome outcome = pollscope({"compare", "--base", report, "--candidate", stringly, "-q"});
  ASSERT_TRUE(exited_with(outcome, 2)) << outcome.err;
  EXPECT_EQ(outcome.err, "pollscope: " + stringly +
                             ": /overall/cost/syscalls_per_event: is a string, not a number\n");
  EXPECT_EQ(outcome.out, "");
}

// Two outputs in one place would leave only the last one written: refused before any report is
// read, and the file already there is left as it was.
TEST_F(PollscopeCompare, AFormatFileWhereTheComparisonGoesIsRefused) {
  const std::string out = dir_ / "gate.json";
  { std::ofstream(out) << "kept\n"; }
  const std::vector<std::vector<std::string>> cases = {
      {"-o", out, "--format", "markdown=" + out},
      {"--format", "markdown=" + out, "--format", "junit=" + out},
      {"--format", "markdown=/dev/stdout"}};
  for (const auto& outputs : cases) {
    SCOPED_TRACE(outputs.back());
    const Outcome outcome = pollscope(concat(
        {"compare", "--base", dir_ / "a.json", "--candidate", dir_ / "b.json", "-q"}, outputs));
    ASSERT_TRUE(exited_with(outcome, 2)) << outcome.err;
    EXPECT_TRUE(one_line(outcome.err)) << outcome.err;
    EXPECT_TRUE(contains(outcome.err, "--format ")) << outcome.err;
    EXPECT_EQ(read_file(out), "kept\n");
  }
}

TEST_F(PollscopeCompare, ReportsThatCannotBeComparedAreOneLineErrors) {
  const std::string report = run_report("report.json");
  const std::string not_json = dir_.write("not_json.json", "{\"format\": 1,");
  const std::string interrupted = doctored(report, "interrupted.json", [](json& document) {
    document["interrupted"] = true;
    document["verdict"] = "interrupted";
  });
  const std::string stringly = doctored(report, "stringly.json", [](json& document) {
    document["overall"]["latency_ns"]["p99"] = "fast";
  });
  const std::string arrayed = doctored(report, "arrayed.json", [](json& document) {
    document["overall"] = {1, 2};
  });
  // A negative figure once read as an improvement (or, as the baseline, let anything pass).
  const std::string negative = doctored(report, "negative.json", [](json& document) {
    document["overall"]["latency_ns"]["p99"] = -1;
  });
  struct Case {
    std::string file;
    std::string message;
  };
  for (const Case& bad : std::vector<Case>{
           {not_json, ": not valid JSON: "},
           {interrupted, ": /interrupted: the run was interrupted"},
           {stringly, ": /overall/latency_ns/p99: expected a number, got a string"},
           {arrayed, ": /overall: expected an object, got an array"},
           {negative, ": /overall/latency_ns/p99: is -1: a figure is never negative"},
       }) {
    SCOPED_TRACE(bad.file);
    for (const bool as_baseline : {true, false}) {
      const Outcome outcome = as_baseline ? pollscope({"compare", bad.file, report})
                                          : pollscope({"compare", report, bad.file});
      ASSERT_TRUE(exited_with(outcome, 2));
      EXPECT_TRUE(one_line(outcome.err));
      EXPECT_TRUE(outcome.err.starts_with("pollscope: " + bad.file + bad.message)) << outcome.err;
      EXPECT_EQ(outcome.out, "");
    }
  }
}

// 50,000 arrays deep: dumping or checking it recursively would overflow the stack.
TEST_F(PollscopeCompare, ADeeplyNestedReportIsRefusedNotACrash) {
  const std::string report = run_report("report.json");
  const std::string deep = dir_.write(
      "deep.json", "{\"tool\": " + std::string(50'000, '[') + std::string(50'000, ']') + "}");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"compare", deep, report},
           {"compare", report, deep},
           {"run", scenario_, "-q", "--out", dir_ / "new.json", "--baseline", deep}}) {
    SCOPED_TRACE(args.front());
    const Outcome outcome = pollscope(args);
    ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_EQ(outcome.err, "pollscope: " + deep + ": nested deeper than 64 levels\n");
  }
  EXPECT_EQ(dir_.entries(), (std::set<std::string>{"quick.json", "report.json", "deep.json"}));
}

TEST_F(PollscopeCompare, AnUnwritableOutIsAnEnvironmentError) {
  const std::string report = run_report("report.json");
  const std::string out = "/proc/self/comparison.json";  // nobody may create a file there
  const Outcome outcome = pollscope({"compare", report, report, "--out", out, "-q"});
  ASSERT_TRUE(exited_with(outcome, 3));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, out)) << outcome.err;
}

TEST_F(PollscopeCompare, RunWithATenTimesFasterBaselineFails) {
  const std::string real = run_report("real.json");
  const std::string baseline = doctored(real, "baseline.json", [](json& report) {
    auto& overall = report["overall"]["events_per_second"];
    overall = overall.get<double>() * 10;
    for (json& phase : report["phases"]) {
      phase["events_per_second"] = phase["events_per_second"].get<double>() * 10;
    }
  });
  const std::string report_path = dir_ / "report.json";

  // Throughput keeps its default tolerance; the rest is generous, so that only it can regress.
  const Outcome outcome =
      pollscope(concat({"run", scenario_, "--out", report_path, "--baseline", baseline},
                       generous_tolerances("events_per_second")));
  ASSERT_TRUE(exited_with(outcome, 1));
  EXPECT_EQ(outcome.out, "");
  const json report = read_json(report_path);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("verdict", ""), "fail");
  ASSERT_TRUE(report.contains("baseline"));
  const json& block = report.at("baseline");
  EXPECT_EQ(block.value("verdict", ""), "regressed");
  EXPECT_EQ(block.at("baseline").value("file", ""), baseline);
  EXPECT_EQ(block.at("current").value("file", ""), report_path);
  EXPECT_FALSE(block.contains("format"));
  EXPECT_FALSE(block.contains("kind"));
  EXPECT_EQ(block.value("regressions", 0), 2);  // overall and the phase
  for (const json& row : block.at("rows")) {
    const std::string metric = row.value("metric", "");
    EXPECT_EQ(row.value("regressed", false),
              metric == "events_per_second" || metric == "phases.steady.events_per_second")
        << row.dump();
  }
  EXPECT_TRUE(contains(outcome.err, "  baseline: regressed: events_per_second: ")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "  verdict: fail\n")) << outcome.err;
  expect_valid_report(report_path);

  // The block is what `pollscope compare` writes, without format, tool and kind.
  json document = block;
  document["format"] = 1;
  document["tool"] = "pollscope";
  document["kind"] = "comparison";
  expect_valid_against(kComparisonSchema, dir_.write("block.json", document.dump(2)));
}

TEST_F(PollscopeCompare, RunRefusesABadBaselineBeforeRunning) {
  const std::string report_path = dir_ / "report.json";
  const std::string missing = dir_ / "missing.json";
  const Outcome no_file =
      pollscope({"run", scenario_, "--out", report_path, "--baseline", missing, "-q"});
  ASSERT_TRUE(exited_with(no_file, 2));
  EXPECT_EQ(no_file.err, "pollscope: " + missing + ": cannot read: No such file or directory\n");

  const std::string baseline = run_report("baseline.json");
  const Outcome bad_tolerance = pollscope(
      {"run", scenario_, "--out", report_path, "--baseline", baseline, "--tolerance", "x=abc"});
  ASSERT_TRUE(exited_with(bad_tolerance, 2));
  EXPECT_TRUE(one_line(bad_tolerance.err));
  EXPECT_TRUE(bad_tolerance.err.starts_with("pollscope: --tolerance x=abc: ")) << bad_tolerance.err;

  const Outcome no_baseline = pollscope({"run", scenario_, "--tolerance", "latency_ns.p99=5"});
  ASSERT_TRUE(exited_with(no_baseline, 2));
  EXPECT_TRUE(one_line(no_baseline.err));
  EXPECT_TRUE(contains(no_baseline.err, "--baseline")) << no_baseline.err;
  EXPECT_EQ(no_baseline.out, "");

  // Nothing ran: no report was written.
  EXPECT_EQ(dir_.entries(), (std::set<std::string>{"quick.json", "baseline.json"}));
}

TEST_F(PollscopeCompare, RunRefusesABaselineOfAnotherScenarioUnlessAllowed) {
  const std::string baseline = run_report("baseline.json");
  json other_scenario = json::parse(kQuickScenario);
  other_scenario["name"] = "other";
  const std::string other_path = dir_.write("other.json", other_scenario.dump(2));
  const std::string report_path = dir_ / "report.json";

  const Outcome refused =
      pollscope({"run", other_path, "--out", report_path, "--baseline", baseline, "-q"});
  ASSERT_TRUE(exited_with(refused, 2));
  EXPECT_TRUE(one_line(refused.err));
  EXPECT_TRUE(refused.err.starts_with("pollscope: " + baseline + ": /context/scenario_hash: "))
      << refused.err;
  EXPECT_TRUE(contains(refused.err, other_path + " hashes to fnv1a64:")) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(report_path));

  const Outcome allowed = pollscope(concat({"run", other_path, "--out", report_path, "--baseline",
                                            baseline, "--allow-different-scenario", "-q"},
                                           generous_tolerances()));
  ASSERT_TRUE(exited_with(allowed, 0));
  EXPECT_TRUE(allowed.err.starts_with("pollscope: warning: the scenarios differ: ")) << allowed.err;
  const json report = read_json(report_path);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("verdict", ""), "pass");
  EXPECT_EQ(report.at("baseline").at("warnings").size(), 1u);
}

TEST(PollscopeCompareSchemas, TheReportSchemaHoldsTheComparisonSchemasDefinitions) {
  const json report_schema = parse_report(read_file(kReportSchema));
  const json comparison_schema = parse_report(read_file(kComparisonSchema));
  ASSERT_TRUE(report_schema.is_object());
  ASSERT_TRUE(comparison_schema.is_object());
  for (const char* name : {"comparison", "comparison_side", "comparison_row"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(comparison_schema.at("$defs").contains(name));
    EXPECT_EQ(report_schema.at("$defs").value(name, json()), comparison_schema.at("$defs").at(name))
        << "cli/report.schema.json and cli/comparison.schema.json differ in $defs/" << name;
  }
  EXPECT_EQ(report_schema.at("properties").at("baseline").value("$ref", ""), "#/$defs/comparison");
}

}  // namespace
}  // namespace pollscope

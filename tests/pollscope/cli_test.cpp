// The pollscope binary end to end: each test runs it as a child process (child_process.hpp:
// posix_spawn, stdout and stderr captured through pipes, a bounded wait) and checks its exit
// code, its output and the report it writes: usage errors, the malformed scenarios under
// bad_scenarios/, the shipped scenarios, a small run whose report is checked against
// cli/report.schema.json, failing thresholds, unwritable reports, the leak check and an
// interrupted run.

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bad_scenarios_table.hpp"
#include "child_process.hpp"
#include "libpoll/poll.hpp"

namespace pollscope {
namespace {

using namespace test_support;
using json = nlohmann::json;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kInterruptLimit{10'000};

const fs::path kShippedDir = kSourceDir / "scenarios";
const fs::path kBadScenariosDir = kSourceDir / "tests" / "pollscope" / "bad_scenarios";

// 4 TCP pairs, 2 of them active, one phase of 300 messages: well under a second.
std::string tiny_scenario(const std::string& thresholds = R"(["leaks.total == 0"])") {
  return R"({
    "format": 1,
    "name": "tiny",
    "description": "four TCP pairs, two active, 300 messages",
    "sockets": {"kind": "tcp", "count": 4, "active": 2},
    "phases": [{"name": "steady", "messages": 300}],
    "thresholds": )" +
         thresholds + "\n}\n";
}

// The shipped scenario files (not the schema), by name.
std::set<std::string> shipped_scenario_names() {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(kShippedDir)) {
    const fs::path& path = entry.path();
    if (path.extension() == ".json" && !contains(path.filename().string(), ".schema.")) {
      names.insert(path.stem().string());
    }
  }
  return names;
}

TEST(PollscopeUsage, HelpListsTheSubcommandsAndTheExitCodes) {
  const Outcome outcome = pollscope({"--help"});
  ASSERT_TRUE(exited_with(outcome, 0));
  for (const char* subcommand : {"run", "validate", "scenarios", "compare"}) {
    bool listed = false;
    for (const std::string& line : lines_of(outcome.out)) {
      listed = listed || line.starts_with(std::string("  ") + subcommand + " ");
    }
    EXPECT_TRUE(listed) << subcommand << " is not listed in:\n" << outcome.out;
  }
  const auto block = outcome.out.find("Exit codes:\n");
  ASSERT_NE(block, std::string::npos) << outcome.out;
  const auto codes = lines_of(outcome.out.substr(block));
  for (const char* code : {"0", "1", "2", "3", "130"}) {
    const std::string prefix = std::string("  ") + code + " ";
    EXPECT_TRUE(std::any_of(codes.begin(), codes.end(),
                            [&](const std::string& line) { return line.starts_with(prefix); }))
        << "exit code " << code << " is not described in:\n"
        << outcome.out;
  }
}

TEST(PollscopeUsage, VersionPrintsTheToolAndItsVersion) {
  const Outcome outcome = pollscope({"--version"});
  ASSERT_TRUE(exited_with(outcome, 0));
  ASSERT_TRUE(one_line(outcome.out));
  const std::string prefix = "pollscope ";
  ASSERT_TRUE(outcome.out.starts_with(prefix)) << outcome.out;
  const std::string version =
      outcome.out.substr(prefix.size(), outcome.out.size() - 1 - prefix.size());
  ASSERT_FALSE(version.empty());
  EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(version[0]))) << version;
  EXPECT_EQ(std::count(version.begin(), version.end(), '.'), 2) << version;
}

TEST(PollscopeUsage, NoSubcommandIsAUsageError) {
  const Outcome outcome = pollscope({});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(outcome.err.starts_with("pollscope: ")) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

TEST(PollscopeUsage, UnknownFlagIsAUsageErrorNamingIt) {
  const Outcome outcome = pollscope({"run", "--bogus"});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "--bogus")) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

TEST(PollscopeUsage, UnknownBackendIsAUsageError) {
  const Outcome outcome = pollscope({"run", "--backend", "kqueue"});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "kqueue")) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

// An empty value is a mistake (an unset variable in a CI script), never "no value": a
// --baseline "" that compared nothing would let any regression pass.
TEST(PollscopeUsage, EmptyValuesAreRefusedNotTakenAsAbsent) {
  const TempDir dir;
  const std::string scenario = dir.write("tiny.json", tiny_scenario());
  const std::string report = dir / "report.json";
  struct Case {
    std::vector<std::string> args;
    std::string option;
  };
  for (const Case& empty : std::vector<Case>{
           {{"run", scenario, "-q", "--out", report, "--baseline", ""}, "--baseline"},
           {{"run", "", "-q", "--out", report}, "scenario"},
           {{"run", scenario, "-q", "--out", ""}, "--out"},
           {{"run", scenario, "-q", "--out", report, "--capture", "--pcap-out", ""}, "--pcap-out"},
           {{"compare", "", report}, "baseline"},
           {{"compare", report, report, "-o", ""}, "--out"},
           {{"compare", "--base", "", "--candidate", report}, "--base"},
           {{"ab", "--base", POLLSCOPE_BINARY, "--candidate", POLLSCOPE_BINARY, ""}, "scenario"},
           {{"ab", "--base", POLLSCOPE_BINARY, "--candidate", POLLSCOPE_BINARY, "--keep-reports",
             ""},
            "--keep-reports"},
           {{"validate", ""}, "scenario"},
           {{"trace", "-o", "", "--", "true"}, "--out"},
       }) {
    SCOPED_TRACE(empty.args.front() + " " + empty.option);
    const Outcome outcome = pollscope(empty.args);
    ASSERT_TRUE(exited_with(outcome, 2));
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(outcome.err.starts_with("pollscope: " + empty.option + ": is empty"))
        << outcome.err;
    EXPECT_EQ(outcome.out, "");
  }
  EXPECT_EQ(dir.entries(), std::set<std::string>{"tiny.json"});
}

TEST(PollscopeUsage, MissingScenarioFileIsOneLineNamingIt) {
  const Outcome outcome = pollscope({"run", "/nonexistent.json"});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "/nonexistent.json")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "cannot read")) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

using test_support::BadScenario;

std::vector<BadScenario> read_bad_scenarios_readme() {
  return test_support::read_bad_scenarios_table(kBadScenariosDir / "README.md");
}

std::vector<std::string> bad_scenario_files() {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(kBadScenariosDir, error)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(PollscopeBadScenarios, AreThereToTest) {
  // The parameterized suite below has one test per file: none would pass silently.
  EXPECT_GE(bad_scenario_files().size(), 14u) << kBadScenariosDir;
}

class PollscopeBadScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(PollscopeBadScenario, ValidateAndRunRejectItWithTheSameLine) {
  const std::string& name = GetParam();
  const auto rows = read_bad_scenarios_readme();
  const auto row = std::find_if(rows.begin(), rows.end(), [&](const BadScenario& candidate) {
    return candidate.file == name;
  });
  ASSERT_NE(row, rows.end()) << name << " has no row in " << kBadScenariosDir / "README.md";
  const std::string file = (kBadScenariosDir / name).string();

  const Outcome validated = pollscope({"validate", file});
  ASSERT_TRUE(exited_with(validated, 2));
  ASSERT_TRUE(one_line(validated.err));
  EXPECT_EQ(validated.out, "");
  // README: "FILE: PATH: REASON", or "FILE: REASON" when the path is empty.
  const std::string prefix =
      "pollscope: " + file + ": " + (row->path.empty() ? "" : row->path + ": ");
  EXPECT_TRUE(validated.err.starts_with(prefix))
      << "wanted a line starting \"" << prefix << "\", got: " << validated.err;
  for (const std::string& fragment : row->fragments) {
    EXPECT_TRUE(contains(validated.err, fragment))
        << "missing \"" << fragment << "\" in: " << validated.err;
  }

  const Outcome ran = pollscope({"run", file});
  ASSERT_TRUE(exited_with(ran, 2));
  EXPECT_EQ(ran.err, validated.err);
  EXPECT_EQ(ran.out, "");
}

std::string test_name_of(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = fs::path(info.param).stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Files, PollscopeBadScenario, ::testing::ValuesIn(bad_scenario_files()),
                         test_name_of);

TEST(PollscopeShipped, ValidateAcceptsEachShippedScenario) {
  const auto names = shipped_scenario_names();
  ASSERT_EQ(names.size(), 12u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const std::string file = (kShippedDir / (name + ".json")).string();
    const Outcome outcome = pollscope({"validate", file});
    EXPECT_TRUE(exited_with(outcome, 0));
    EXPECT_TRUE(one_line(outcome.out));
    EXPECT_TRUE(outcome.out.starts_with(file + ": valid: scenario \"" + name + "\""))
        << outcome.out;
    EXPECT_EQ(outcome.err, "");
  }
}

TEST(PollscopeShipped, ScenariosListsEachOnOneLineStartingWithItsName) {
  const auto names = shipped_scenario_names();
  const Outcome outcome = pollscope({"scenarios", "--dir", kShippedDir.string()});
  ASSERT_TRUE(exited_with(outcome, 0));
  EXPECT_EQ(outcome.err, "");
  const auto lines = lines_of(outcome.out);
  ASSERT_EQ(lines.size(), 12u) << outcome.out;
  std::set<std::string> listed;
  for (const std::string& line : lines) {
    const std::string name = line.substr(0, line.find(' '));
    EXPECT_TRUE(names.contains(name)) << "not a shipped scenario: " << line;
    EXPECT_TRUE(listed.insert(name).second) << name << " is listed twice";
    EXPECT_GT(line.size(), name.size() + 1) << "no description: " << line;
  }
  EXPECT_EQ(listed, names);
}

TEST(PollscopeRun, WritesAValidReportToOutAtomically) {
  const TempDir scenarios;
  const TempDir reports;
  const std::string scenario = scenarios.write("tiny.json", tiny_scenario());
  const std::string report_path = reports / "report.json";

  const Outcome outcome = pollscope({"run", scenario, "--out", report_path, "-q"});
  ASSERT_TRUE(exited_with(outcome, 0));
  EXPECT_EQ(outcome.out, "");
  EXPECT_EQ(outcome.err, "");
  ASSERT_TRUE(fs::is_regular_file(report_path));
  // Written through a temporary file and a rename: nothing else is left beside it.
  EXPECT_EQ(reports.entries(), std::set<std::string>{"report.json"});

  const json report = parse_report(read_file(report_path));
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("verdict", ""), "pass");
  EXPECT_EQ(report.value("interrupted", true), false);
  EXPECT_EQ(report.at("context").value("scenario", ""), "tiny");
  ASSERT_EQ(report.at("phases").size(), 1u);
  EXPECT_EQ(report.at("phases").at(0).value("name", ""), "steady");
  EXPECT_GE(report.at("overall").value("messages", 0u), 300u);
  EXPECT_EQ(report.at("leaks").value("total", 1u), 0u);

  // Last, as the only part that needs python3-jsonschema (scripts/setup.sh installs it).
  if (!have_jsonschema()) GTEST_SKIP() << "python3 -c 'import jsonschema' fails: not checked";
  expect_valid_report(report_path);
}

// --backend io_uring runs on libpoll's io_uring backend, and the report passes the schema; where
// this kernel offers no usable io_uring, the run is refused with one line naming the backend.
TEST(PollscopeRun, BackendIoUringRunsThereOrIsRefusedNamingIt) {
  const TempDir scenarios;
  const TempDir reports;
  const std::string scenario = scenarios.write("tiny.json", tiny_scenario());
  const std::string report_path = reports / "report.json";
  const Outcome outcome =
      pollscope({"run", scenario, "--backend", "io_uring", "--out", report_path, "-q"});

  libpoll::PollOptions options;
  options.backend = libpoll::Backend::io_uring;
  if (!libpoll::Poll::create(options)) {
    ASSERT_TRUE(exited_with(outcome, 3));
    EXPECT_TRUE(one_line(outcome.err)) << outcome.err;
    EXPECT_TRUE(contains(outcome.err, "io_uring")) << outcome.err;
    EXPECT_EQ(reports.entries(), std::set<std::string>{});
    return;
  }
  ASSERT_TRUE(exited_with(outcome, 0));
  const json report = parse_report(read_file(report_path));
  EXPECT_EQ(report.at("context").value("backend", ""), "io_uring");
  EXPECT_EQ(report.value("verdict", ""), "pass");
  EXPECT_EQ(report.at("leaks").value("total", 1u), 0u);
  if (!have_jsonschema()) GTEST_SKIP() << "python3 -c 'import jsonschema' fails: not checked";
  expect_valid_report(report_path);
}

// `pollscope run ARGS --out REPORT_PATH`, which must succeed: its report, and its stderr (the
// summary line).
std::pair<json, std::string> run_with_report(const std::string& report_path,
                                             const std::vector<std::string>& args) {
  std::vector<std::string> command = {"run", "--out", report_path};
  command.insert(command.end(), args.begin(), args.end());
  const Outcome outcome = pollscope(command);
  EXPECT_TRUE(exited_with(outcome, 0)) << outcome.err;
  return {parse_report(read_file(report_path)), outcome.err};
}

// Two poller threads on io_uring, each Poll single-threaded (its ring bound to its thread): asked
// by the scenario or by the flag, the run delivers every message and the report says so; without
// either it says false.
TEST(PollscopeRun, SingleThreadPollsRunOnIoUringAndTheReportSaysSo) {
  libpoll::PollOptions options;
  options.backend = libpoll::Backend::io_uring;
  if (!libpoll::Poll::create(options)) GTEST_SKIP() << "no usable io_uring here";
  const TempDir scenarios;
  const TempDir reports;
  json document = json::parse(tiny_scenario());
  document["backend"] = "io_uring";
  document["threads"] = 2;
  const std::string shared = scenarios.write("shared.json", document.dump());
  document["single_thread_polls"] = true;
  const std::string single = scenarios.write("single.json", document.dump());

  // The summary on stderr names the kind of Poll too.
  const auto run = [&](const std::vector<std::string>& args, const std::string& name) {
    const auto [report, summary] = run_with_report(reports / name, args);
    EXPECT_EQ(contains(summary, "pollscope: tiny on io_uring, single-thread Polls ("),
              report.at("context").value("single_thread_polls", false))
        << summary;
    return report;
  };
  for (const json& report : {run({single}, "by-scenario.json"),
                             run({shared, "--single-thread-polls"}, "by-flag.json")}) {
    EXPECT_EQ(report.at("context").value("backend", ""), "io_uring");
    EXPECT_TRUE(report.at("context").value("single_thread_polls", false));
    EXPECT_EQ(report.value("verdict", ""), "pass");
    EXPECT_EQ(report.at("overall").value("messages", 0u), 300u);
    EXPECT_EQ(report.at("leaks").value("total", 1u), 0u);
  }
  const json plain = run({shared}, "shared.json");
  EXPECT_FALSE(plain.at("context").value("single_thread_polls", true));
  EXPECT_EQ(plain.value("verdict", ""), "pass");
  if (!have_jsonschema()) GTEST_SKIP() << "python3 -c 'import jsonschema' fails: not checked";
  expect_valid_report(reports / "by-flag.json");
}

// Receive-ahead on io_uring: asked by the scenario or by the flag, every message arrives, the
// report says so, and its summary line names it; without either the report says false.
TEST(PollscopeRun, ReceiveAheadRunsOnIoUringAndTheReportSaysSo) {
  libpoll::PollOptions options;
  options.backend = libpoll::Backend::io_uring;
  if (!libpoll::Poll::create(options)) GTEST_SKIP() << "no usable io_uring here";
  const TempDir scenarios;
  const TempDir reports;
  json document = json::parse(tiny_scenario());
  document["backend"] = "io_uring";
  document["sockets"]["kind"] = "unix";
  const std::string plain = scenarios.write("plain.json", document.dump());
  document["receive_ahead"] = true;
  const std::string ahead = scenarios.write("ahead.json", document.dump());

  const auto run = [&](const std::vector<std::string>& args, const std::string& name) {
    return run_with_report(reports / name, args);
  };
  for (const auto& [report, summary] :
       {run({ahead}, "by-scenario.json"), run({plain, "--receive-ahead"}, "by-flag.json")}) {
    EXPECT_TRUE(report.at("context").value("receive_ahead", false));
    EXPECT_TRUE(contains(summary, "on io_uring, receive-ahead (")) << summary;
    EXPECT_EQ(report.value("verdict", ""), "pass");
    EXPECT_EQ(report.at("overall").value("messages", 0u), 300u);
    EXPECT_EQ(report.at("leaks").value("total", 1u), 0u);
  }
  const json readiness = run({plain}, "plain.json").first;
  EXPECT_FALSE(readiness.at("context").value("receive_ahead", true));
  EXPECT_EQ(readiness.value("verdict", ""), "pass");
  if (!have_jsonschema()) GTEST_SKIP() << "python3 -c 'import jsonschema' fails: not checked";
  expect_valid_report(reports / "by-flag.json");
}

TEST(PollscopeRun, WritesTheReportToStdoutWithoutOut) {
  const TempDir scenarios;
  const std::string scenario = scenarios.write("tiny.json", tiny_scenario());

  const Outcome outcome = pollscope({"run", scenario});
  ASSERT_TRUE(exited_with(outcome, 0));
  const json report = parse_report(outcome.out);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("verdict", ""), "pass");
  // Without -q, a summary for a person goes to stderr (and nothing else to stdout).
  EXPECT_TRUE(contains(outcome.err, "verdict: pass")) << outcome.err;
  EXPECT_EQ(scenarios.entries(), std::set<std::string>{"tiny.json"});
}

// The revision is taken at each build, not when the build was configured: a report names the
// commit it was built from (with "-dirty" when tracked files differed), or "unknown" outside a
// git checkout.
TEST(PollscopeRun, ReportNamesTheRevisionItWasBuiltFrom) {
  const TempDir scenarios;
  const std::string scenario = scenarios.write("tiny.json", tiny_scenario());
  const Outcome outcome = pollscope({"run", scenario, "-q"});
  ASSERT_TRUE(exited_with(outcome, 0));
  const std::string revision =
      parse_report(outcome.out).at("context").value("git_revision", std::string());

  const Outcome head =
      run_program({"git", "-C", kSourceDir.string(), "rev-parse", "--short=12", "HEAD"});
  if (!head.started || !head.exited || head.exit_code != 0) {
    EXPECT_EQ(revision, "unknown") << describe(head);
    return;
  }
  const std::string commit = head.out.substr(0, head.out.find('\n'));
  ASSERT_EQ(commit.size(), 12u) << head.out;
  EXPECT_TRUE(revision == commit || revision == commit + "-dirty") << revision << " at " << commit;
}

TEST(PollscopeRun, FailingThresholdExitsOneWithVerdictFail) {
  const TempDir scenarios;
  const TempDir reports;
  // A latency is never below 0: the first threshold cannot hold.
  const std::string scenario =
      scenarios.write("tiny.json", tiny_scenario(R"(["latency_ns.p50 < 0", "leaks.total == 0"])"));
  const std::string report_path = reports / "report.json";

  const Outcome outcome = pollscope({"run", scenario, "--out", report_path, "-q"});
  ASSERT_TRUE(exited_with(outcome, 1));
  EXPECT_EQ(outcome.out, "");
  expect_valid_report(report_path);
  const json report = parse_report(read_file(report_path));
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("verdict", ""), "fail");
  ASSERT_EQ(report.at("thresholds").size(), 2u);
  EXPECT_EQ(report.at("thresholds").at(0).value("metric", ""), "latency_ns.p50");
  EXPECT_EQ(report.at("thresholds").at(0).value("pass", true), false);
  EXPECT_EQ(report.at("thresholds").at(1).value("pass", false), true);
}

TEST(PollscopeRun, OutInAMissingDirectoryIsRefusedBeforeTheRun) {
  const TempDir scenarios;
  const TempDir reports;
  const std::string scenario = scenarios.write("tiny.json", tiny_scenario());
  const std::string report_path = reports / "missing/report.json";

  const Outcome outcome = pollscope({"run", scenario, "--out", report_path});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(outcome.err.starts_with("pollscope: ")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, report_path)) << outcome.err;
  EXPECT_EQ(outcome.out, "");
  EXPECT_EQ(reports.entries(), std::set<std::string>{});
}

// The machine's limit, named in the scenario's terms: its file and the figure to change.
TEST(PollscopeRun, ADescriptorLimitTooLowNamesTheFileAndItsSocketCount) {
  const TempDir dir;
  const std::string scenario = dir.write("many.json", R"({"format": 1, "name": "many",
    "description": "a thousand unix pairs", "sockets": {"kind": "unix", "count": 1000, "active": 2},
    "phases": [{"name": "p", "duration_ms": 50}]})");
  const std::string report = dir / "report.json";
  // ulimit -n without -S or -H lowers the hard limit too, which root could raise again.
  const Outcome outcome = run_program(
      {"sh", "-c",
       "ulimit -n 256 && exec " POLLSCOPE_BINARY " run -q " + scenario + " -o " + report});
  ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "pollscope: " + scenario + ": /sockets/count: "))
      << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "RLIMIT_NOFILE allows 256")) << outcome.err;
  EXPECT_EQ(dir.entries(), std::set<std::string>{"many.json"});
}

TEST(PollscopeRun, InvalidScenarioLeavesAnExistingReportUntouched) {
  const TempDir reports;
  const std::string sentinel = "an earlier report, kept\n";
  const std::string report_path = reports.write("report.json", sentinel);
  const std::string scenario = (kBadScenariosDir / "wrong_type.json").string();

  const Outcome outcome = pollscope({"run", scenario, "--out", report_path, "-q"});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_EQ(read_file(report_path), sentinel);
  EXPECT_EQ(reports.entries(), std::set<std::string>{"report.json"});
}

class PollscopeLeakInjection : public ::testing::TestWithParam<std::string> {};

TEST_P(PollscopeLeakInjection, FindsExactlyTheInjectedMistakes) {
  const std::string& backend = GetParam();
  const std::string scenario = (kShippedDir / "leak_injection.json").string();

  const Outcome outcome = pollscope({"run", scenario, "--backend", backend, "-q"});
  ASSERT_TRUE(exited_with(outcome, 0));
  const json report = parse_report(outcome.out);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.at("context").value("backend", ""), backend);
  const json& leaks = report.at("leaks");
  EXPECT_EQ(leaks.value("leaked", 0u), 3u);
  EXPECT_EQ(leaks.value("vanished", 0u), 2u);
  EXPECT_EQ(leaks.value("zombie", 0u), 1u);
  EXPECT_EQ(leaks.value("total", 0u), 6u);
  ASSERT_TRUE(leaks.at("details").is_array());
  EXPECT_EQ(leaks.at("details").size(), 6u);
  for (const json& detail : leaks.at("details")) {
    EXPECT_NE(detail.value("site", ""), "") << detail.dump();
  }
  // The faults went in under the second phase's load: its own check saw the closed and the
  // dup'd descriptors, the reset reached its end, and the dropped sources' tokens came back.
  const json& faulted = report.at("phases").at(1);
  EXPECT_EQ(faulted.value("name", ""), "faulted");
  EXPECT_EQ(faulted.at("leaks").value("vanished", 0u), 2u);
  EXPECT_EQ(faulted.at("leaks").value("zombie", 0u), 1u);
  EXPECT_EQ(faulted.at("leaks").value("total", 0u), 3u);
  EXPECT_EQ(faulted.value("peer_resets_observed", 0u), 1u);
  EXPECT_GT(faulted.value("ghost_events", 0u), 0u);
  EXPECT_EQ(report.at("phases").at(0).value("ghost_events", 1u), 0u);
  EXPECT_EQ(report.at("overall").value("missed_events", 1u), 0u);
  EXPECT_EQ(report.value("verdict", ""), "pass");
}

INSTANTIATE_TEST_SUITE_P(Backends, PollscopeLeakInjection, ::testing::Values("epoll", "poll"),
                         test_name_of);

// The descriptors `pid` has open now (0 once it has ended).
std::size_t open_descriptors(pid_t pid) {
  std::error_code error;
  std::size_t count = 0;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error), end;
       !error && it != end; it.increment(error)) {
    ++count;
  }
  return count;
}

TEST(PollscopeRun, SigintEndsTheRunWithAPartialReport) {
  const TempDir scenarios;
  const TempDir reports;
  const std::string scenario = scenarios.write("long.json", R"({
    "format": 1,
    "name": "long",
    "description": "fifty TCP pairs, ten active, for twenty seconds unless interrupted",
    "sockets": {"kind": "tcp", "count": 50, "active": 10},
    "phases": [{"name": "steady", "duration_ms": 20000}],
    "thresholds": ["leaks.total == 0"]
  })");
  const std::string report_path = reports / "report.json";

  Child child({POLLSCOPE_BINARY, "run", scenario, "--out", report_path, "-q"});
  ASSERT_TRUE(child.started()) << child.spawn_error();
  // The run is under way once its 100 sockets are open (the handler for SIGINT is installed
  // before the first one): wait for that, a bounded wait on what /proc shows.
  const auto deadline = steady_clock::now() + milliseconds(10'000);
  std::size_t descriptors = 0;
  while ((descriptors = open_descriptors(child.pid())) <= 100 && steady_clock::now() < deadline) {
    sleep_briefly(milliseconds(2));
  }
  ASSERT_GT(descriptors, 100u) << "the run did not open its sockets within 10 s";

  ASSERT_EQ(::kill(child.pid(), SIGINT), 0) << std::strerror(errno);
  const Outcome outcome = child.wait(kInterruptLimit);
  ASSERT_TRUE(exited_with(outcome, 130));
  EXPECT_EQ(outcome.out, "");

  ASSERT_TRUE(fs::is_regular_file(report_path));
  EXPECT_EQ(reports.entries(), std::set<std::string>{"report.json"});
  expect_valid_report(report_path);
  const json report = parse_report(read_file(report_path));
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("interrupted", false), true);
  EXPECT_EQ(report.value("verdict", ""), "interrupted");
  // Torn down as usual: every registration was deregistered.
  EXPECT_EQ(report.at("leaks").value("total", 1u), 0u);
  EXPECT_LT(report.at("overall").value("duration_s", 20.0), 15.0);
}

// With worker processes, a SIGINT sent to the parent alone (not to the whole process group, as a
// terminal's Ctrl-C would) still ends every worker: the parent passes it on.
TEST(PollscopeRun, SigintToTheParentAloneStopsEveryWorker) {
  const TempDir scenarios;
  const TempDir reports;
  const std::string scenario = scenarios.write("workers.json", R"({
    "format": 1,
    "name": "workers",
    "description": "two worker processes for twenty seconds unless interrupted",
    "workers": 2,
    "sockets": {"kind": "unix", "count": 40, "active": 4},
    "phases": [{"name": "steady", "duration_ms": 20000}]
  })");
  const std::string report_path = reports / "report.json";

  Child child({POLLSCOPE_BINARY, "run", scenario, "--out", report_path, "-q"});
  ASSERT_TRUE(child.started()) << child.spawn_error();
  // Under way once both workers hold their 40 descriptors: read the parent's children from
  // /proc, a bounded wait on what the kernel shows.
  const auto children_descriptors = [&] {
    std::ifstream list("/proc/" + std::to_string(child.pid()) + "/task/" +
                       std::to_string(child.pid()) + "/children");
    std::size_t total = 0;
    for (pid_t worker = 0; list >> worker;) total += open_descriptors(worker);
    return total;
  };
  const auto deadline = steady_clock::now() + milliseconds(10'000);
  while (children_descriptors() <= 80 && steady_clock::now() < deadline) {
    sleep_briefly(milliseconds(2));
  }
  ASSERT_GT(children_descriptors(), 80u) << "the workers did not open their sockets within 10 s";

  ASSERT_EQ(::kill(child.pid(), SIGINT), 0) << std::strerror(errno);
  const Outcome outcome = child.wait(kInterruptLimit);
  ASSERT_TRUE(exited_with(outcome, 130));
  const json report = parse_report(read_file(report_path));
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("verdict", ""), "interrupted");
  EXPECT_EQ(report.at("leaks").value("total", 1u), 0u);
  EXPECT_LT(report.at("overall").value("duration_s", 20.0), 15.0);
}

// What validate and scenarios print goes to standard output; a full disk there loses it, and
// that is exit 3 and one line, never exit 0. `exec` keeps the shell out of it.
TEST(PollscopeStdout, AListingStdoutCannotTakeIsExitThree) {
  const std::string scenario = (kShippedDir / "leak_injection.json").string();
  const std::vector<std::vector<std::string>> commands = {
      {"validate", scenario}, {"scenarios", "--dir", kShippedDir.string()}};
  for (const auto& command : commands) {
    SCOPED_TRACE(command.front());
    std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" > /dev/full",
                                     POLLSCOPE_BINARY};
    argv.insert(argv.end(), command.begin(), command.end());
    const auto outcome = run_program(argv);
    EXPECT_TRUE(exited_with(outcome, 3));
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(contains(outcome.err, "pollscope: (stdout): cannot write: No space left on device"))
        << outcome.err;
  }
}

}  // namespace
}  // namespace pollscope

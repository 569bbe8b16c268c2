// `--suppress` and `--suppressions` end to end: trace and inspect keep the findings a rule
// matches out of the counts, the details and --fail-on-*, list each rule with what it kept out,
// and refuse a bad rule before running or reading anything.

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "held_program.hpp"
#include "trace_cli.hpp"

namespace pollscope::test_support {
namespace {

using namespace std::chrono_literals;

const std::string kPrograms = EPOLL_PROGRAMS;

using SuppressionCli = TraceCli;

TEST_F(SuppressionCli, TraceKeepsWhatRulesMatchOutOfTheCountsAndTheExitCode) {
  // The planted program's five findings: vanished, zombie, token_collision,
  // closed_with_registrations and leaked, each planted by a function of its own.
  const auto report = trace({kPrograms, "planted"}, 1,
                            {"--suppress", "vanished:plant_vanished", "--suppress", "leaked",
                             "--suppress", "zombie:no_such_function", "--fail-on-warnings"});
  const auto& leaks = report.at("leaks");
  EXPECT_EQ(count(report, "vanished"), 0u) << report.dump(2);
  EXPECT_EQ(count(report, "leaked"), 0u);
  EXPECT_EQ(count(report, "zombie"), 1u);
  EXPECT_EQ(count(report, "total"), 3u);
  EXPECT_EQ(count(report, "errors"), 2u);
  EXPECT_EQ(count(report, "warnings"), 1u);
  EXPECT_EQ(count(report, "suppressed"), 2u);
  EXPECT_EQ(leaks.at("details").size(), 3u);
  for (const auto& detail : leaks.at("details")) {
    EXPECT_NE(detail.at("kind"), "vanished");
    EXPECT_NE(detail.at("kind"), "leaked");
  }
  const auto& rules = leaks.at("suppressions");
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules.at(0).at("rule"), "vanished:plant_vanished");
  EXPECT_EQ(rules.at(0).at("findings"), 1);
  EXPECT_EQ(rules.at(1).at("findings"), 1);
  EXPECT_EQ(rules.at(2).at("findings"), 0);
  EXPECT_TRUE(contains(outcome_.err, "2 errors, 1 warning, 2 suppressed")) << outcome_.err;
}

TEST_F(SuppressionCli, TraceWithEveryFindingSuppressedPassesFailOnWarnings) {
  const auto rules = dir_ / "rules.txt";
  std::ofstream(rules) << "# the planted program's findings, all of them\n"
                          "*:epoll_programs   # the program's file name\n";
  const auto report =
      trace({kPrograms, "planted"}, 0, {"--suppressions", rules, "--fail-on-warnings"});
  EXPECT_EQ(count(report, "total"), 0u) << report.dump(2);
  EXPECT_EQ(count(report, "suppressed"), 5u);
  EXPECT_TRUE(report.at("leaks").at("details").empty());
}

TEST_F(SuppressionCli, ABadRuleIsRefusedBeforeTheCommandRuns) {
  const auto marker = dir_ / "ran";
  const auto refused = pollscope({"trace", "--suppress", "vanishd", "--", "touch", marker});
  EXPECT_TRUE(exited_with(refused, 2));
  EXPECT_TRUE(one_line(refused.err)) << refused.err;
  EXPECT_TRUE(contains(refused.err, "--suppress 'vanishd': unknown finding kind")) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(marker));

  const auto rules = dir_ / "rules.txt";
  std::ofstream(rules) << "vanished\nzombie:\n";
  const auto in_file = pollscope({"trace", "--suppressions", rules, "--", "touch", marker});
  EXPECT_TRUE(exited_with(in_file, 2));
  EXPECT_TRUE(contains(in_file.err, rules + ":2: the pattern after ':' is empty")) << in_file.err;
  EXPECT_FALSE(std::filesystem::exists(marker));

  // An unset variable in a CI script is no file of rules, not an absent option.
  const auto empty = pollscope({"trace", "--suppressions", "", "--", "touch", marker});
  EXPECT_TRUE(exited_with(empty, 2));
  EXPECT_TRUE(contains(empty.err, "is empty")) << empty.err;
  EXPECT_FALSE(std::filesystem::exists(marker));

  const auto inspect = pollscope({"inspect", "--suppressions", dir_ / "missing", "1"});
  EXPECT_TRUE(exited_with(inspect, 2));
  EXPECT_TRUE(one_line(inspect.err)) << inspect.err;
}

TEST(SuppressionInspectCli, InspectKeepsWhatRulesMatchOutOfTheCountsAndTheExitCode) {
  HeldProgram program({kPrograms, "planted"});
  ASSERT_TRUE(program.first_line(10s).has_value());
  const auto pid = std::to_string(program.pid());
  const auto failing = pollscope({"inspect", pid, "--json", "--fail-on-findings"});
  EXPECT_TRUE(exited_with(failing, 1));
  // The zombie by kind, the token collision by the program's name (/proc/PID/comm).
  const auto passing = pollscope({"inspect", pid, "--json", "--fail-on-findings", "--suppress",
                                  "zombie", "--suppress", "token_collision:epoll_prog*"});
  EXPECT_TRUE(exited_with(passing, 0)) << passing.err;
  const auto leaks = parse_report(passing.out).at("leaks");
  EXPECT_EQ(leaks.at("zombie"), 0);
  EXPECT_EQ(leaks.at("token_collision"), 0);
  EXPECT_EQ(leaks.at("errors"), 0);
  EXPECT_EQ(leaks.at("suppressed"), 2);
  TempDir dir;
  const auto written =
      pollscope({"inspect", pid, "--out", dir / "findings.json", "--suppress", "zombie"});
  EXPECT_TRUE(exited_with(written, 0));
  EXPECT_TRUE(contains(written.err, "1 suppressed)")) << written.err;
  expect_valid_against(kSourceDir / "cli" / "findings.schema.json", dir / "findings.json");
  EXPECT_EQ(program.release(10s), 0);
}

}  // namespace
}  // namespace pollscope::test_support

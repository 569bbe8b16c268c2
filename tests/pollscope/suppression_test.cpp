// Suppression rules (cli/src/inspect/suppression.hpp): what a rule matches (its kind, and its
// pattern against a stack frame's module, function and source file, the site and the program),
// the tally per rule, and the refusal of a rule or a file that is not one.

#include "inspect/suppression.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include "base/failure.hpp"

namespace pollscope {
namespace {

Finding finding_of(std::string kind, pid_t pid = 10) {
  Finding finding;
  finding.kind = std::move(kind);
  finding.pid = pid;
  finding.site = "event_loop_add (src/loop.c:42)";
  finding.stack = {
      {"/usr/lib/x86_64-linux-gnu/libev.so.4", 0x72fb, "", "", 0},
      {"/opt/app/bin/server", 0x1234, "Server::watch(int)", "/src/app/server.cpp", 88}};
  return finding;
}

SuppressionRule rule_of(const std::string& text) {
  auto rules = load_suppressions({text}, {});
  EXPECT_EQ(rules.size(), 1u);
  return rules.front();
}

// The one-line message of the Failure `load` throws, and that it is bad input.
template <typename Load>
std::string refusal(Load&& load) {
  try {
    load();
  } catch (const Failure& failure) {
    EXPECT_EQ(failure.code(), kExitInvalidInput);
    return failure.what();
  }
  ADD_FAILURE() << "not refused";
  return {};
}

TEST(Suppression, AKindAloneMatchesEveryFindingOfThatKindAndNoOther) {
  EXPECT_TRUE(suppresses(rule_of("vanished"), finding_of("vanished"), "server"));
  EXPECT_FALSE(suppresses(rule_of("vanished"), finding_of("zombie"), "server"));
  EXPECT_TRUE(suppresses(rule_of("*"), finding_of("zombie"), ""));
}

TEST(Suppression, APatternMatchesAFramesModuleFunctionOrFileTheSiteOrTheProgram) {
  const auto vanished = finding_of("vanished");
  for (const char* text : {"vanished:libev.so*", "vanished:*/libev.so.4", "vanished:Server::watch*",
                           "vanished:server.cpp", "vanished:/src/app/*", "vanished:event_loop_add*",
                           "vanished:python3*", "*:*libev*"}) {
    EXPECT_TRUE(suppresses(rule_of(text), vanished, "/usr/bin/python3.11")) << text;
  }
  for (const char* text :
       {"vanished:libuv*", "vanished:watch", "zombie:libev.so*", "vanished:*/bin/node"}) {
    EXPECT_FALSE(suppresses(rule_of(text), vanished, "/usr/bin/python3.11")) << text;
  }
}

TEST(Suppression, AFindingWithoutStackOrProgramMatchesOnlyRulesWithoutPattern) {
  Finding growing;
  growing.kind = "growing";
  EXPECT_FALSE(suppresses(rule_of("growing:*"), growing, ""));
  EXPECT_TRUE(suppresses(rule_of("growing"), growing, ""));
}

TEST(Suppression, EachFindingCountsForTheFirstRuleThatMatchesIt) {
  std::vector<Finding> findings = {finding_of("vanished", 1), finding_of("vanished", 2),
                                   finding_of("zombie", 1), finding_of("leaked", 2)};
  const auto rules = load_suppressions({"vanished:libev*", "*:libev*", "growing"}, {});
  const auto programs = [](pid_t pid) { return pid == 1 ? "one" : "two"; };
  const auto tally = suppress(rules, programs, findings);
  EXPECT_EQ(tally.total, 4u);
  EXPECT_EQ(tally.per_rule, (std::vector<std::size_t>{2, 2, 0}));
  EXPECT_TRUE(findings.empty());

  std::vector<Finding> kept = {finding_of("vanished", 1), finding_of("zombie", 2)};
  const auto by_program = suppress(load_suppressions({"*:one"}, {}), programs, kept);
  EXPECT_EQ(by_program.total, 1u);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept.front().kind, "zombie");

  nlohmann::json leaks;
  add_suppressions(leaks, rules, tally);
  EXPECT_EQ(leaks.at("suppressed"), 4);
  EXPECT_EQ(leaks.at("suppressions").at(1).at("rule"), "*:libev*");
  EXPECT_EQ(leaks.at("suppressions").at(1).at("findings"), 2);
  EXPECT_EQ(suppressed_text(tally), ", 4 suppressed");
  EXPECT_EQ(suppressed_text({}), "");
}

TEST(Suppression, ABadRuleIsRefusedNamingItAndTheReason) {
  EXPECT_EQ(refusal([] {
              (void)load_suppressions({"vanishd:libev*"}, {});
            }).rfind("--suppress 'vanishd:libev*': unknown finding kind 'vanishd'", 0),
            0u);
  EXPECT_EQ(refusal([] { (void)load_suppressions({"vanished: "}, {}); }),
            "--suppress 'vanished: ': the pattern after ':' is empty");
  EXPECT_NE(refusal([] { (void)load_suppressions({":libev*"}, {}); }).find("kind is missing"),
            std::string::npos);
}

TEST(Suppression, AFileHoldsARulePerLineWithCommentsAndBlankLines) {
  const auto path = ::testing::TempDir() + "suppression_test_rules.txt";
  {
    std::ofstream file(path);
    file << "# libev removes a stopped watcher lazily\n"
            "vanished:libev.so*   # by design\n"
            "\n"
            "   \t\n"
            "zombie\r\n";
  }
  const auto rules = load_suppressions({"leaked"}, {path});
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].text, "leaked");
  EXPECT_EQ(rules[1].kind, "vanished");
  EXPECT_EQ(rules[1].pattern, "libev.so*");
  EXPECT_EQ(rules[2].text, "zombie");

  {
    std::ofstream file(path);
    file << "vanished\n# fine\nzombi:x\n";
  }
  EXPECT_EQ(refusal([&] {
              (void)load_suppressions({}, {path});
            }).rfind(path + ":3: unknown finding kind 'zombi'", 0),
            0u);
  EXPECT_EQ(refusal([] { (void)load_suppressions({}, {"/nonexistent/rules"}); }),
            "/nonexistent/rules: No such file or directory");
  EXPECT_EQ(refusal([] { (void)load_suppressions({}, {"/tmp"}); }),
            "/tmp: is a directory, not a suppressions file");
}

}  // namespace
}  // namespace pollscope

// `pollscope inspect` end to end, on small raw-epoll programs held running
// (programs/epoll_programs.c): each class the kernel can show found exactly once, nothing on a
// correct program (pipe ends, eventfds, timerfd, signalfd), growth over samples, and the exit
// codes for a missing process and missing rights.

#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "child_process.hpp"
#include "held_program.hpp"

namespace pollscope::test_support {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::string kPrograms = EPOLL_PROGRAMS;

// Whether this kernel lets a process compare open files with kcmp(2) (a container's seccomp
// profile may refuse it): without it, inspect falls back to inodes as documented.
bool kcmp_allowed() {
  const long pid = ::getpid();
  return ::syscall(SYS_kcmp, pid, pid, KCMP_FILE, 1, 1) == 0;
}

std::size_t count_kind(const json& leaks, const std::string& kind) {
  return leaks.at(kind).get<std::size_t>();
}

json inspect_json(pid_t pid) {
  const auto outcome = pollscope({"inspect", std::to_string(pid), "--json"});
  EXPECT_TRUE(exited_with(outcome, 0));
  return parse_report(outcome.out);
}

TEST(InspectCli, PlantedProgramShowsEachKernelVisibleClassOnce) {
  HeldProgram program({kPrograms, "planted"});
  ASSERT_TRUE(program.first_line(10s).has_value());
  const auto report = inspect_json(program.pid());
  const auto& leaks = report.at("leaks");
  // Without kcmp, two descriptors of one eventfd cannot be told from two eventfds: the
  // documented fallback takes them as distinct.
  const std::size_t duplicates = kcmp_allowed() ? 1 : 0;
  EXPECT_EQ(count_kind(leaks, "zombie"), 1u);
  EXPECT_EQ(count_kind(leaks, "duplicate_target"), duplicates);
  EXPECT_EQ(count_kind(leaks, "token_collision"), 1u);
  EXPECT_EQ(count_kind(leaks, "total"), 2u + duplicates);
  EXPECT_EQ(count_kind(leaks, "errors"), 2u);
  for (const auto& detail : leaks.at("details")) {
    const auto kind = detail.at("kind").get<std::string>();
    if (kind == "zombie") {
      EXPECT_EQ(detail.at("token").get<int>(), 2);
      EXPECT_TRUE(contains(detail.at("detail").get<std::string>(), "keeps the file open"));
    }
    if (kind == "token_collision") {
      EXPECT_EQ(detail.at("token").get<int>(), 9);
    }
    if (kind == "duplicate_target") {
      EXPECT_EQ(detail.at("token").get<int>(), 4);
    }
  }
  EXPECT_EQ(report.at("processes").at(0).at("epoll_sets").size(), 2u);
  TempDir dir;
  const auto written =
      pollscope({"inspect", std::to_string(program.pid()), "--out", dir / "findings.json"});
  EXPECT_TRUE(exited_with(written, 0));
  EXPECT_TRUE(contains(written.err, "findings (2 errors, ")) << written.err;
  expect_valid_against(kSourceDir / "cli" / "findings.schema.json", dir / "findings.json");
  EXPECT_EQ(program.release(10s), 0);
}

TEST(InspectCli, CorrectProgramSharingInodesHasNoFindings) {
  HeldProgram program({kPrograms, "correct"});
  ASSERT_TRUE(program.first_line(10s).has_value());
  const auto report = inspect_json(program.pid());
  EXPECT_EQ(count_kind(report.at("leaks"), "total"), 0u) << report.dump(2);
  const auto& set = report.at("processes").at(0).at("epoll_sets").at(0);
  ASSERT_EQ(set.at("registrations").size(), 7u);
  for (const auto& registration : set.at("registrations"))
    EXPECT_EQ(registration.at("state"), "live");
  EXPECT_EQ(set.at("compared_by_inode").get<bool>(), !kcmp_allowed());
  const auto text = pollscope({"inspect", std::to_string(program.pid())});
  EXPECT_TRUE(exited_with(text, 0));
  EXPECT_TRUE(contains(text.out, "anon_inode:[signalfd]")) << text.out;
  EXPECT_TRUE(contains(text.out, "0 findings")) << text.out;
  EXPECT_EQ(program.release(10s), 0);
}

TEST(InspectCli, WatchReportsASetThatOnlyGrows) {
  HeldProgram program({kPrograms, "growing"});
  ASSERT_TRUE(program.first_line(10s).has_value());
  const auto outcome = pollscope(
      {"inspect", std::to_string(program.pid()), "--json", "--watch", "0.05", "--samples", "4"});
  ASSERT_TRUE(exited_with(outcome, 0));
  const auto watched = parse_report(outcome.out);
  EXPECT_EQ(count_kind(watched.at("leaks"), "growing"), 1u) << watched.dump(2);
  const auto& set = watched.at("processes").at(0).at("epoll_sets").at(0);
  const auto sizes = set.at("sizes").get<std::vector<std::size_t>>();
  ASSERT_EQ(sizes.size(), 4u);
  EXPECT_TRUE(std::is_sorted(sizes.begin(), sizes.end()));
  EXPECT_GT(sizes.back(), sizes.front());
  EXPECT_GT(set.at("growth_per_second").get<double>(), 0.0);
  EXPECT_EQ(program.release(10s), 0);
}

// What another program names its files and itself is its choice: a newline, an escape sequence or
// a byte that is not UTF-8 in them is escaped in the text, so that every line is one of inspect's
// own; the JSON holds the names as they are, but for that byte (U+FFFD: JSON is UTF-8).
TEST(InspectCli, NamesHoldingNewlinesAndControlCharactersStayOnTheirLine) {
  TempDir dir;
  HeldProgram program({kPrograms, "odd_names", dir.path().string()});
  ASSERT_TRUE(program.first_line(10s).has_value());
  const auto text = pollscope({"inspect", std::to_string(program.pid())});
  ASSERT_TRUE(exited_with(text, 0)) << describe(text);
  EXPECT_FALSE(contains(text.out, "\x1b[")) << "an escape sequence reached the terminal";
  const std::string name = "fifo\\x0aline\\x1b[2J\\xff";
  std::size_t naming = 0;
  for (const auto& line : lines_of(text.out)) {
    SCOPED_TRACE(line);
    naming += contains(line, name) ? 1 : 0;
    EXPECT_TRUE(line.starts_with("pid ") || line.starts_with("  fd ") ||
                line.starts_with("  error zombie: ") || line.ends_with("(1 error, 0 warnings)"));
  }
  EXPECT_EQ(naming, 2u) << "the live registration's line and the zombie's detail:\n" << text.out;
  EXPECT_TRUE(contains(text.out, "(odd\\x0acomm) epoll fd ")) << text.out;

  const auto report = inspect_json(program.pid());
  const auto& process = report.at("processes").at(0);
  EXPECT_EQ(process.at("command"), "odd\ncomm");
  const std::string path = dir / "fifo\nline\x1b[2J\xef\xbf\xbd";
  std::size_t live = 0;
  for (const auto& registration : process.at("epoll_sets").at(0).at("registrations")) {
    if (registration.at("data") != 1) continue;
    EXPECT_EQ(registration.at("names_now"), path);
    ++live;
  }
  EXPECT_EQ(live, 1u) << report.dump(2);
  EXPECT_EQ(program.release(10s), 0);
}

TEST(InspectCli, FailOnFindingsExitsOneOnAnError) {
  HeldProgram program({kPrograms, "planted"});
  ASSERT_TRUE(program.first_line(10s).has_value());
  EXPECT_TRUE(
      exited_with(pollscope({"inspect", std::to_string(program.pid()), "--fail-on-findings"}), 1));
  EXPECT_EQ(program.release(10s), 0);
}

TEST(InspectCli, AllFindsAHeldProgramAmongEveryProcess) {
  HeldProgram program({kPrograms, "correct"});
  ASSERT_TRUE(program.first_line(10s).has_value());
  const auto outcome = pollscope({"inspect", "--all", "--json"});
  ASSERT_TRUE(exited_with(outcome, 0));
  std::vector<pid_t> pids;
  const auto report = parse_report(outcome.out);
  for (const auto& process : report.at("processes")) pids.push_back(process.at("pid").get<pid_t>());
  EXPECT_NE(std::find(pids.begin(), pids.end(), program.pid()), pids.end())
      << program.pid() << " not in " << ::testing::PrintToString(pids);
  EXPECT_EQ(program.release(10s), 0);
}

TEST(InspectCli, NoSuchProcessIsInvalidInput) {
  const auto outcome = pollscope({"inspect", "999999999"});
  EXPECT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "no process 999999999")) << outcome.err;
}

TEST(InspectCli, AWatchIntervalThatIsNotAFiniteNumberIsRefused) {
  for (const std::string seconds : {"nan", "inf"}) {
    SCOPED_TRACE(seconds);
    const auto outcome = pollscope({"inspect", std::to_string(::getpid()), "--watch", seconds});
    EXPECT_TRUE(exited_with(outcome, 2));
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(contains(outcome.err, "--watch: must be a finite number")) << outcome.err;
  }
}

TEST(InspectCli, MissingRightsExitThreeNamingWhatIsNeeded) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run pollscope as another user";
  // As nobody, this test process (root's) may not be inspected.
  const auto outcome = run_program({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                    POLLSCOPE_BINARY, "inspect", std::to_string(::getpid())});
  EXPECT_TRUE(exited_with(outcome, 3));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "same user or CAP_SYS_PTRACE")) << outcome.err;
}

}  // namespace
}  // namespace pollscope::test_support

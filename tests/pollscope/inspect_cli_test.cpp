// `pollscope inspect` end to end, on small raw-epoll programs held running
// (programs/epoll_programs.c): each class the kernel can show found exactly once, nothing on a
// correct program (pipe ends, eventfds, timerfd, signalfd), a set shared across a fork, a
// disarmed EPOLLONESHOT zombie, no zombie on a busy correct program, growth over samples, and the
// exit codes for a missing process and missing rights.

#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

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

// The registration with data word `data` of the set `epoll_fd` in an inspection of one process.
json registration_with(const json& report, int epoll_fd, std::uint64_t data) {
  for (const auto& set : report.at("processes").at(0).at("epoll_sets")) {
    if (set.at("fd") != epoll_fd) continue;
    for (const auto& registration : set.at("registrations"))
      if (registration.at("data") == data) return registration;
  }
  ADD_FAILURE() << "no registration with data " << data << " in " << report.dump(2);
  return json::object();
}

// A forked child shares its parent's epoll set: each registers a file of its own under the same
// number (the child closed its copy of the parent's first). Each registration is live in the
// process that holds its file, not a zombie of the other; a file held only by a process that
// does not share the set is still a zombie.
TEST(InspectCli, ASetSharedAcrossAForkIsLiveInTheProcessHoldingEachFile) {
  if (!kcmp_allowed()) GTEST_SKIP() << "telling processes that share a set apart needs kcmp";
  HeldProgram program({kPrograms, "shared_fork"});
  const auto line = program.first_line(10s);
  ASSERT_TRUE(line.has_value());
  int epoll_fd = -1;
  pid_t child = 0;
  ASSERT_EQ(std::sscanf(line->c_str(), "ready %d %d", &epoll_fd, &child), 2) << *line;

  const auto in_child = inspect_json(child);
  EXPECT_EQ(count_kind(in_child.at("leaks"), "total"), 0u) << in_child.dump(2);
  EXPECT_EQ(registration_with(in_child, epoll_fd, 22).at("state"), "live");
  const auto parents = registration_with(in_child, epoll_fd, 11);
  EXPECT_EQ(parents.at("state"), "live_elsewhere") << parents.dump();
  EXPECT_EQ(parents.value("live_in", 0), program.pid());

  const auto in_parent = inspect_json(program.pid());
  const auto& leaks = in_parent.at("leaks");
  EXPECT_EQ(count_kind(leaks, "total"), 1u) << in_parent.dump(2);
  ASSERT_EQ(count_kind(leaks, "zombie"), 1u) << in_parent.dump(2);
  const auto& zombie = leaks.at("details").at(0);
  EXPECT_EQ(zombie.at("token"), 33) << "the set the child closed";
  EXPECT_TRUE(contains(zombie.at("detail").get<std::string>(), "another process does"));
  EXPECT_EQ(registration_with(in_parent, epoll_fd, 11).at("state"), "live");
  const auto childs = registration_with(in_parent, epoll_fd, 22);
  EXPECT_EQ(childs.at("state"), "live_elsewhere") << childs.dump();
  EXPECT_EQ(childs.value("live_in", 0), child);
  EXPECT_EQ(program.release(10s), 0);
}

// An EPOLLONESHOT registration that fired is disarmed: a zombie still (the set keeps it while
// the file is open), but no event can arrive under its token.
TEST(InspectCli, ADisarmedOneshotZombieSaysNoEventCanArrive) {
  HeldProgram program({kPrograms, "oneshot"});
  ASSERT_TRUE(program.first_line(10s).has_value());
  const auto report = inspect_json(program.pid());
  const auto& leaks = report.at("leaks");
  ASSERT_EQ(count_kind(leaks, "zombie"), 1u) << report.dump(2);
  const auto& zombie = leaks.at("details").at(0);
  EXPECT_EQ(zombie.at("token"), 100);
  EXPECT_EQ(zombie.at("interest"), "EPOLLONESHOT");
  const auto detail = zombie.at("detail").get<std::string>();
  EXPECT_TRUE(contains(detail, "disarmed, so no event can arrive under token 100")) << detail;
  EXPECT_FALSE(contains(detail, "still arrive")) << detail;
  EXPECT_EQ(program.release(10s), 0);
}

// A correct program that adds, deletes and closes without pause, beside 800 other descriptors:
// its table and its set are read one after the other, and however they interleave with the
// program, no inspection may call a registration a zombie.
TEST(InspectCli, ABusyCorrectProgramIsNeverTakenForAZombie) {
  HeldProgram program({kPrograms, "churn"});
  ASSERT_TRUE(program.first_line(10s).has_value());
  // A fixed count, not as many as fit in a time: a loaded machine inspects more slowly, and the
  // program churns all the while.
  for (int inspection = 0; inspection < 20; ++inspection) {
    const auto outcome = pollscope({"inspect", std::to_string(program.pid()), "--json"}, 10s);
    ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
    const auto report = parse_report(outcome.out);
    ASSERT_EQ(count_kind(report.at("leaks"), "total"), 0u) << report.dump(2);
  }
  EXPECT_EQ(program.release(10s), 0);
}

// Thousands of eventfds share the one anonymous inode, so inodes cannot tell them apart: inspect
// orders them by open file (kcmp) instead of comparing each pair with a walk of the set (cubic:
// 64 s for 2,000 of them). The duplicate and the zombie's keeper are still found among them.
TEST(InspectCli, ThousandsOfEventfdsInOneSetAreInspectedInSeconds) {
  HeldProgram program({kPrograms, "many_eventfds", "3000"});
  const auto line = program.first_line(20s);
  ASSERT_TRUE(line.has_value());
  int epoll_fd = -1;
  std::size_t registrations = 0;
  int keeper = -1;
  ASSERT_EQ(std::sscanf(line->c_str(), "ready %d %zu %d", &epoll_fd, &registrations, &keeper), 3)
      << *line;
  if (registrations < 2000) GTEST_SKIP() << "the descriptor limit holds " << registrations;
  const auto start = std::chrono::steady_clock::now();
  const auto outcome = pollscope({"inspect", std::to_string(program.pid()), "--json"}, 30s);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  EXPECT_LT(took, 15s) << "quadratic or worse in the eventfds";
  const auto report = parse_report(outcome.out);
  const auto& set = report.at("processes").at(0).at("epoll_sets").at(0);
  EXPECT_EQ(set.at("registrations").size(), registrations);
  const auto& leaks = report.at("leaks");
  const bool kcmp = kcmp_allowed();
  EXPECT_EQ(count_kind(leaks, "zombie"), 1u) << leaks.dump(2);
  EXPECT_EQ(count_kind(leaks, "duplicate_target"), kcmp ? 1u : 0u) << leaks.dump(2);
  EXPECT_EQ(count_kind(leaks, "token_collision"), 0u) << leaks.dump(2);
  for (const auto& detail : leaks.at("details")) {
    const auto text = detail.at("detail").get<std::string>();
    if (detail.at("kind") == "zombie") {
      EXPECT_EQ(detail.at("token"), 7);
      if (kcmp) {
        EXPECT_TRUE(contains(
            text, "fd " + std::to_string(keeper) + " (anon_inode:[eventfd]) of this process keeps"))
            << text;
      }
    } else {
      EXPECT_EQ(detail.at("token"), 8);
      EXPECT_TRUE(contains(text, "are one open file")) << text;
    }
  }
  EXPECT_EQ(program.release(10s), 0);
}

// A report that stdout cannot take (a full disk) is lost: exit 3 and one line, as for --out,
// never exit 0. `exec` keeps the shell out of it: its status is pollscope's.
TEST(InspectCli, AReportStdoutCannotTakeIsExitThree) {
  HeldProgram program({kPrograms, "correct"});
  ASSERT_TRUE(program.first_line(10s).has_value());
  for (const bool as_json : {false, true}) {
    SCOPED_TRACE(as_json ? "--json" : "text");
    std::vector<std::string> argv = {"/bin/sh",        "-c",      "exec \"$0\" \"$@\" > /dev/full",
                                     POLLSCOPE_BINARY, "inspect", std::to_string(program.pid())};
    if (as_json) argv.emplace_back("--json");
    const auto outcome = run_program(argv);
    EXPECT_TRUE(exited_with(outcome, 3));
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(contains(outcome.err, "pollscope: (stdout): cannot write: No space left on device"))
        << outcome.err;
  }
  EXPECT_EQ(program.release(10s), 0);
}

// An --out that cannot be written is refused before the first sample, as trace and run refuse
// theirs: a --watch of minutes is not spent first (the limit is far shorter than the watch).
TEST(InspectCli, AnOutInAMissingFolderIsRefusedBeforeWatching) {
  HeldProgram program({kPrograms, "correct"});
  ASSERT_TRUE(program.first_line(10s).has_value());
  TempDir dir;
  const auto outcome = pollscope({"inspect", std::to_string(program.pid()), "--watch", "60",
                                  "--samples", "10", "--out", dir / "missing/w.json"},
                                 10s);
  EXPECT_TRUE(exited_with(outcome, 2)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "does not exist")) << outcome.err;
  EXPECT_EQ(outcome.out, "");
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

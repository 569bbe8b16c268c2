// `pollscope trace` end to end on what slips past a wrapper of the obvious name
// (programs/traced_escapes.c, traced_uring.c) and on a program run under several spellings of
// its path (programs/traced_paths.c).

#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "trace_cli.hpp"

namespace pollscope::test_support {
namespace {

// What slips past a wrapper of the obvious name (traced_escapes.c).
class TraceEscapes : public TraceCli {};

// glibc's closefrom calls close_range inline: the log must survive it, and the records after it
// must reach the log, never a file the program opened at the log's old number.
TEST_F(TraceEscapes, ClosefromKeepsTheLogOutOfTheProgramsFiles) {
  const std::string files = dir_ / "files";
  std::filesystem::create_directory(files);
  const auto report = trace({TRACED_ESCAPES, "closefrom", files}, 0);
  EXPECT_EQ(count(report, "closed_with_registrations"), 1u) << report.dump(2);
  EXPECT_EQ(only(report, "closed_with_registrations").at("token"), 7);
  EXPECT_EQ(count(report, "vanished"), 1u);
  EXPECT_EQ(only(report, "vanished").at("token"), 8);  // recorded after the closefrom
}

// A close no wrapper sees (the instruction itself): the log is found closed and opened again.
TEST_F(TraceEscapes, ALogClosedBehindTheInterposersBackIsNeverWrittenThrough) {
  const std::string files = dir_ / "files";
  std::filesystem::create_directory(files);
  const auto report = trace({TRACED_ESCAPES, "closefrom-raw", files}, 0);
  bool found = false;
  for (const auto& detail : report.at("leaks").at("details"))
    found |= detail.at("kind") == "vanished" && detail.at("token") == 8;
  EXPECT_TRUE(found) << report.dump(2);
}

// A close holds the lock until it has counted what the kernel lists under the number; an ADD on
// another thread of the file given that number meanwhile must not be counted as the closed
// registration living on.
TEST_F(TraceEscapes, ThreadsReusingClosedNumbersMakeNoFalseZombies) {
  const auto report = trace({TRACED_ESCAPES, "race"}, 0);
  EXPECT_EQ(count(report, "zombie"), 0u) << report.at("leaks").at("details").at(0).dump(2);
  EXPECT_EQ(count(report, "vanished"), 12000u);
  EXPECT_EQ(count(report, "errors"), 0u);
}

// A program the interposer cannot enter, started through a launcher, is named, and the run is
// not clean.
TEST_F(TraceEscapes, AStaticProgramStartedThroughALauncherIsAnUntracedError) {
  const std::vector<std::vector<std::string>> launchers = {{"/bin/sh", "-c", STATIC_PROGRAM},
                                                           {"/usr/bin/env", STATIC_PROGRAM}};
  for (const auto& command : launchers) {
    SCOPED_TRACE(command.front());
    const auto report = trace(command, 1, {"--fail-on-findings"});
    ASSERT_EQ(count(report, "untraced"), 1u) << report.dump(2);
    const auto& untraced = only(report, "untraced");
    EXPECT_EQ(untraced.at("severity"), "error");
    const auto detail = untraced.at("detail").get<std::string>();
    // Named as the kernel names it: absolute, with its links resolved.
    EXPECT_TRUE(contains(detail, std::filesystem::canonical(STATIC_PROGRAM).string())) << detail;
    EXPECT_TRUE(contains(detail, "statically linked")) << detail;
    EXPECT_TRUE(contains(outcome_.err, "1 error")) << outcome_.err;
  }
  // A traced exec is no finding.
  const auto traced = trace({"/bin/sh", "-c", std::string(TRACED_SHAPES) + " vanish"}, 0);
  EXPECT_EQ(count(traced, "untraced"), 0u) << traced.dump(2);
  EXPECT_EQ(count(traced, "vanished"), 1u);
}

TEST_F(TraceEscapes, ExecWithAnEnvironmentOfItsOwnPassesTheInterposerOn) {
  for (const char* how : {"execle", "fexecve", "execveat"}) {
    SCOPED_TRACE(how);
    const auto report = trace({TRACED_ESCAPES, how}, 0);
    EXPECT_EQ(count(report, "total"), 1u) << report.dump(2);
    EXPECT_EQ(only(report, "vanished").at("token"), 77);
  }
}

TEST_F(TraceEscapes, GhostEventsFetchedWithSyscallAreCounted) {
  const auto report = trace({TRACED_ESCAPES, "syscall-wait"}, 1, {"--fail-on-findings"});
  const auto& zombie = only(report, "zombie");
  EXPECT_EQ(zombie.at("token"), 42) << report.dump(2);
  EXPECT_EQ(zombie.at("ghost_events"), 1);
  EXPECT_EQ(zombie.at("severity"), "error");
}

// No atfork handler runs for these: the child is adopted when it first calls a wrapper.
TEST_F(TraceEscapes, AChildForkedWithoutForkIsTraced) {
  for (const char* how : {"raw-fork", "_Fork", "asm-fork"}) {
    SCOPED_TRACE(how);
    const auto report = trace({TRACED_ESCAPES, how}, 1, {"--fail-on-findings"});
    EXPECT_EQ(report.at("processes").size(), 2u) << report.dump(2);
    const auto& zombie = only(report, "zombie");
    EXPECT_EQ(zombie.at("token"), 43);
    EXPECT_EQ(zombie.at("ghost_events"), 1);
  }
}

// A dup of the epoll descriptor keeps the set when its first number closes.
TEST_F(TraceEscapes, AnEpollSetMovedToAnotherNumberLivesOn) {
  const auto report = trace({TRACED_ESCAPES, "dup-epoll"}, 1, {"--fail-on-findings"});
  EXPECT_EQ(count(report, "closed_with_registrations"), 0u) << report.dump(2);
  EXPECT_EQ(count(report, "total"), 1u);
  const auto& zombie = only(report, "zombie");
  EXPECT_EQ(zombie.at("token"), 44);
  EXPECT_EQ(zombie.at("ghost_events"), 1);
}

TEST_F(TraceEscapes, AnIoUringInstanceIsAWarning) {
  if (run_program({TRACED_ESCAPES, "uring"}).exit_code == 77)
    GTEST_SKIP() << "the kernel refuses io_uring here";
  const auto report = trace({TRACED_ESCAPES, "uring"}, 0);
  ASSERT_EQ(count(report, "io_uring"), 1u) << report.dump(2);
  EXPECT_EQ(only(report, "io_uring").at("severity"), "warning");
  EXPECT_TRUE(
      contains(only(report, "io_uring").at("detail").get<std::string>(), "IORING_OP_EPOLL_CTL"));
}

// A ring made after the first wait and closed before the exit, which no look at the process's
// descriptors finds: it is recorded when it is made, through syscall(2) and through liburing.
TEST_F(TraceEscapes, ARingMadeAfterTheFirstWaitAndClosedBeforeTheExitIsAWarning) {
  int tried = 0;
  for (const char* how : {"syscall", "setup", "queue-init", "queue-init-params"}) {
    SCOPED_TRACE(how);
    if (run_program({TRACED_URING, how}).exit_code == 77) continue;  // no io_uring, or liburing
    ++tried;
    const auto report = trace({TRACED_URING, how}, 0);
    ASSERT_EQ(count(report, "io_uring"), 1u) << report.dump(2);
    EXPECT_EQ(count(report, "total"), 1u);
    // The program printed "ring fd N": the finding names that descriptor.
    const auto fd = outcome_.out.substr(0, outcome_.out.find('\n')).substr(8);
    EXPECT_TRUE(contains(only(report, "io_uring").at("detail").get<std::string>(),
                         "instance (fd " + fd + ")"))
        << outcome_.out << report.dump(2);
  }
  if (tried == 0) GTEST_SKIP() << "the kernel refuses io_uring here";
}

// One program run as /DIR/./BASE, ./BASE, ../DIRNAME/BASE, /DIR/../DIRNAME/BASE, through
// posix_spawn and through a symbolic link: each untraced run names it once, as the kernel names
// a running program (/proc/PID/exe), and so does the process list.
TEST_F(TraceEscapes, AProgramRunUnderManySpellingsOfItsPathIsReportedUnderOneName) {
  const std::string link = dir_ / "link_to_static_program";
  std::filesystem::create_symlink(STATIC_PROGRAM, link);
  const auto report = trace({TRACED_PATHS, STATIC_PROGRAM, link}, 0);
  const auto name = std::filesystem::canonical(STATIC_PROGRAM).string();
  ASSERT_EQ(count(report, "untraced"), 6u) << report.dump(2);
  EXPECT_EQ(count(report, "total"), 6u);
  const auto spelled_otherwise = [&](const std::string& text) {
    return contains(text, "/./") || contains(text, "/../") || contains(text, link);
  };
  for (const auto& finding : report.at("leaks").at("details")) {
    const auto detail = finding.at("detail").get<std::string>();
    EXPECT_TRUE(contains(detail, name + ", which is statically linked")) << detail;
    EXPECT_FALSE(spelled_otherwise(detail)) << detail;
  }
  std::set<std::string> executables;
  for (const auto& process : report.at("processes"))
    executables.insert(process.at("executable").get<std::string>());
  // traced_paths and its forked children, and the vfork child, whose log starts with its exec.
  EXPECT_EQ(executables.size(), 2u) << report.at("processes").dump(2);
  EXPECT_TRUE(executables.contains(name)) << report.at("processes").dump(2);
  for (const auto& executable : executables) EXPECT_FALSE(spelled_otherwise(executable));
}

}  // namespace
}  // namespace pollscope::test_support

// Grading the interposer's records (cli/src/trace/grader.cpp) from literal logs, and the growth
// rule of `pollscope inspect --watch`: what is a finding, how severe, and what is not.

#include <set>

#include <gtest/gtest.h>

#include "inspect/inspect.hpp"
#include "trace/across_processes.hpp"
#include "trace/grade.hpp"

namespace pollscope {
namespace {

std::vector<Finding> grade(const std::string& log, bool finished = true) {
  Symbolizer symbolizer;
  TracedProcess process;
  return grade_process(parse_trace_records(log), finished, symbolizer, process);
}

std::size_t count_kind(const std::vector<Finding>& findings, const std::string& kind) {
  return static_cast<std::size_t>(std::count_if(findings.begin(), findings.end(),
                                                [&](const Finding& f) { return f.kind == kind; }));
}

// An exec recorded (E) and followed by no image of its own (I) did not load the interposer; one
// that failed (R) or was followed by its image is no finding.
TEST(TraceGrade, AnExecWithNoImageAfterItIsAnUntracedError) {
  const auto untraced = grade("I 10 1 /bin/sh\nE 10 1 /nonexistent/static_tool\n");
  ASSERT_EQ(untraced.size(), 1u);
  EXPECT_EQ(untraced[0].kind, "untraced");
  EXPECT_EQ(untraced[0].severity, Severity::kError);
  EXPECT_EQ(untraced[0].pid, 10);
  EXPECT_NE(untraced[0].detail.find("/nonexistent/static_tool"), std::string::npos);
  EXPECT_TRUE(grade("I 10 1 /bin/sh\nE 10 1 /bin/x\nR 2\n").empty());
  EXPECT_TRUE(grade("I 10 1 /bin/sh\nE 10 1 /bin/x\nI 10 1 /bin/x\n").empty());
  // A vfork child's log: its exec is its first record.
  const auto vforked = grade("E 11 10 /nonexistent/static_tool\n");
  ASSERT_EQ(vforked.size(), 1u);
  EXPECT_EQ(vforked[0].pid, 11);
}

// A registration the image never removed is a leak when the image ends; one that executed
// another program says so (its set may even live on in the new image, which cannot know it).
TEST(TraceGrade, ALeakOfAnImageThatExecutedAnotherSaysSo) {
  const auto executed = grade("I 10 1 /bin/x\nC 3\nA 3 5 1 7 0 0\nE 10 1 /bin/y\nI 10 1 /bin/y\n");
  ASSERT_EQ(executed.size(), 1u);
  EXPECT_EQ(executed[0].kind, "leaked");
  EXPECT_EQ(executed[0].severity, Severity::kWarning);
  EXPECT_NE(executed[0].detail.find("when the process executed /bin/y"), std::string::npos)
      << executed[0].detail;
  const auto ended = grade("I 10 1 /bin/x\nC 3\nA 3 5 1 7 0 0\n");
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_NE(ended[0].detail.find("when the process ended"), std::string::npos) << ended[0].detail;
}

// N: the number a set was known by closed while a dup of it lives; the set goes on under it.
TEST(TraceGrade, ASetRenumberedLivesOnUnderItsNewNumber) {
  const auto findings = grade("I 10 1 /bin/x\nC 3\nA 3 5 1 7 0 0\nN 3 6\nZ 6 5 9 1 7 0\nG 6 7 1\n");
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].kind, "zombie");
  EXPECT_EQ(findings[0].ghost_events, 1u);
  EXPECT_EQ(findings[0].epoll_fd, 6);
}

TEST(TraceGrade, AnIoUringInstanceIsOneWarning) {
  const auto findings = grade("I 10 1 /bin/x\nQ 4\nQ 4\n");
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].kind, "io_uring");
  EXPECT_EQ(findings[0].severity, Severity::kWarning);
  EXPECT_NE(findings[0].detail.find("(fd 4)"), std::string::npos) << findings[0].detail;
  // A ring kept with no descriptor (IORING_SETUP_REGISTERED_FD_ONLY) is no fd -1.
  const auto unnumbered = grade("I 10 1 /bin/x\nQ -1\n");
  ASSERT_EQ(unnumbered.size(), 1u);
  EXPECT_NE(unnumbered[0].detail.find("with no descriptor"), std::string::npos)
      << unnumbered[0].detail;
}

// An exec (E) and a spawn (P) name the program as the kernel would: one name however the path
// was spelled.
TEST(TraceGrade, AProgramIsNamedByItsNormalPath) {
  Symbolizer symbolizer;
  TracedProcess parent;
  const auto untraced =
      grade_process(parse_trace_records("I 10 1 /bin/sh\nP 12 /nonexistent/./a/../tool\nE 10 1 "
                                        "/nonexistent//b/../tool\n"),
                    true, symbolizer, parent);
  ASSERT_EQ(untraced.size(), 1u);
  EXPECT_NE(untraced[0].detail.find("executed /nonexistent/tool, which"), std::string::npos)
      << untraced[0].detail;
  ASSERT_EQ(parent.spawned.size(), 1u);
  EXPECT_EQ(parent.spawned[0].second, "/nonexistent/tool");
  TracedProcess vforked;  // its log starts with its exec
  const auto records = parse_trace_records("E 11 10 /nonexistent/./tool\n");
  EXPECT_EQ(grade_process(records, true, symbolizer, vforked).size(), 1u);
  EXPECT_EQ(vforked.executable, "/nonexistent/tool");
}

TEST(TraceGrade, FailedCtlThatTheProgramHandledIsNotAFinding) {
  // libuv's way: ADD fails with EEXIST (17), MOD succeeds, then DEL.
  const auto findings = grade(
      "I 10 1 /bin/x\nC 3\nA 3 5 1 5 0 0\nA 3 5 1 5 -1 17\nM 3 5 1 5 0 0\nD 3 5 0 0 0 0\nX 3\n");
  EXPECT_TRUE(findings.empty());
}

TEST(TraceGrade, VanishedAtTeardownSaysTheSetWasClosedAfterwards) {
  const auto findings = grade("I 10 1 /bin/x\nC 3\nA 3 5 1 7 0 0\nV 3 5 1 7 0\nX 3\n");
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].kind, "vanished");
  EXPECT_EQ(findings[0].severity, Severity::kWarning);
  EXPECT_EQ(findings[0].token, 7u);
  EXPECT_NE(findings[0].detail.find("loop's teardown"), std::string::npos);
}

TEST(TraceGrade, ZombieIsAnErrorCountingGhostEvents) {
  const auto findings =
      grade("I 10 1 /bin/x\nC 3\nA 3 5 1 7 0 0\nZ 3 5 9 1 7 0\nG 3 7 2\nG 3 7 1\nD 3 9 0 0 -1 2\n");
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].kind, "zombie");
  EXPECT_EQ(findings[0].severity, Severity::kError);
  EXPECT_EQ(findings[0].ghost_events, 3u);
  EXPECT_NE(findings[0].detail.find("fd 9 (a dup)"), std::string::npos);
}

// A K record: the zombie's keeper closed and ended it. Its token is free again, and with no
// change between the close and the keeper's, nothing happened under it: a warning.
TEST(TraceGrade, AZombieEndedByItsKeepersCloseFreesItsToken) {
  const auto findings = grade(
      "I 10 1 /bin/x\nC 3\nA 3 5 1 7 0 0\nZ 3 5 9 1 7 0\nK 3 5 7 9\nA 3 6 1 7 0 0\nD 3 6 0 0 0 "
      "0\n");
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].kind, "zombie");
  EXPECT_EQ(findings[0].severity, Severity::kWarning);
  EXPECT_NE(findings[0].detail.find("it ended when fd 9"), std::string::npos);
}

TEST(TraceGrade, ZombieShowsTheMaskItsCloseRecorded) {
  // Added for EPOLLOUT (4); a MOD to EPOLLIN under the same token leaves no record of its own.
  const auto findings = grade("I 10 1 /bin/x\nC 3\nA 3 5 4 7 0 0\nZ 3 5 9 1 7 0\n");
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].interest, "EPOLLIN");
}

TEST(TraceGrade, ZombieOnlyFollowedByItsSetsCloseIsAWarning) {
  const auto teardown = grade("I 10 1 /bin/x\nC 3\nA 3 5 1 7 0 0\nZ 3 5 -1 1 7 0\nX 3\n");
  ASSERT_EQ(teardown.size(), 1u);
  EXPECT_EQ(teardown[0].severity, Severity::kWarning);
  EXPECT_NE(teardown[0].detail.find("loop's teardown"), std::string::npos);
  // An event under its token, or another change before the close: the zombie did harm.
  for (const char* between : {"G 3 7 1\n", "A 3 6 1 8 0 0\n"}) {
    const auto findings = grade(std::string("I 10 1 /bin/x\nC 3\nA 3 5 1 7 0 0\nZ 3 5 -1 1 7 0\n") +
                                between + "X 3\n");
    EXPECT_EQ(findings[0].severity, Severity::kError) << between;
  }
}

TEST(TraceGrade, ZombiesUnderOneTokenEachHaveTheirDetailAndShareItsEvents) {
  // fd 4 under token 4 twice over (a number reused, the token being the number), both zombies.
  const auto findings = grade(
      "I 10 1 /bin/x\nC 3\nA 3 4 1 4 0 0\nZ 3 4 8 1 4 0\nA 3 4 1 4 0 0\nZ 3 4 6 1 4 0\nG 3 4 2\n");
  ASSERT_EQ(count_kind(findings, "zombie"), 2u);
  EXPECT_EQ(count_kind(findings, "token_collision"), 1u);  // the second ADD took a zombie's token
  std::uint64_t ghosts = 0;
  for (const auto& finding : findings) {
    if (finding.kind != "zombie") continue;
    EXPECT_FALSE(finding.detail.empty());
    ghosts += finding.ghost_events;
  }
  EXPECT_EQ(ghosts, 2u);
}

TEST(TraceGrade, AnInheritedCopyClosedWhileTheParentHoldsTheFileIsNoFindingUntilEventsArrive) {
  // A forked child's log: no A for the parent's registration of fd 4 under token 11.
  const std::string child = "I 11 10 /bin/x\n";
  EXPECT_TRUE(grade(child + "Z 3 4 -1 1 11 1\n").empty());
  // Events under the token reached the child, or a dup of the child's keeps the file: errors.
  const auto ghosts = grade(child + "Z 3 4 -1 1 11 1\nG 3 11 2\n");
  ASSERT_EQ(ghosts.size(), 1u);
  EXPECT_EQ(ghosts[0].kind, "zombie");
  EXPECT_EQ(ghosts[0].token, 11u);
  EXPECT_EQ(ghosts[0].severity, Severity::kError);
  EXPECT_EQ(ghosts[0].ghost_events, 2u);
  EXPECT_NE(ghosts[0].detail.find("its parent"), std::string::npos);
  const auto kept = grade(child + "Z 3 4 6 1 11 1\n");
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].severity, Severity::kError);
  // Whatever the child inherited and never ended is not its leak.
  EXPECT_TRUE(grade(child + "X 3\n").empty());
}

TEST(TraceGrade, WhatAChildRemovedFromASharedSetIsNotItsParentsLeak) {
  Symbolizer symbolizer;
  std::vector<TracedProcess> processes(3);
  auto findings = grade_process(parse_trace_records("I 10 1 /bin/x\nC 3\nA 3 4 1 7 0 0\n"
                                                    "A 3 5 1 8 0 0\n"),
                                true, symbolizer, processes[0]);
  ASSERT_EQ(count_kind(findings, "leaked"), 2u);
  // The child (pid 11) removed fd 4's registration; an unrelated process (pid 12) removed fd 5's.
  auto child = grade_process(parse_trace_records("I 11 10 /bin/x\nD 3 4 0 0 0 0\n"), true,
                             symbolizer, processes[1]);
  auto stranger = grade_process(parse_trace_records("I 12 1 /bin/x\nD 3 5 0 0 0 0\n"), true,
                                symbolizer, processes[2]);
  EXPECT_TRUE(child.empty() && stranger.empty());
  end_what_children_removed(processes, findings);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].fd, 5);
}

TEST(TraceGrade, WhatAParentAddsAfterItsChildRemovedItIsItsOwnFinding) {
  Symbolizer symbolizer;
  std::vector<TracedProcess> processes(2);
  // Times last in A and D. Fds 4 and 5 added at 100, 6 at 150 (after the fork); the child
  // removes them at 200; the parent adds 4 and 5 again at 300 (tokens 10, 11) and closes 5.
  // Fd 7's first registration (token 12) vanished at a close; the number's second, added at 150
  // (token 13), is the one the child removed.
  auto findings = grade_process(
      parse_trace_records("I 10 1 /bin/x\nC 3\nA 3 4 1 7 0 0 100\nA 3 5 1 8 0 0 100\n"
                          "A 3 7 1 12 0 0 100\nV 3 7 1 12 0\nA 3 7 1 13 0 0 150\n"
                          "A 3 6 1 9 0 0 150\nA 3 4 1 10 0 0 300\nA 3 5 1 11 0 0 300\n"
                          "V 3 5 1 11 0\n"),
      true, symbolizer, processes[0]);
  auto child = grade_process(parse_trace_records("I 11 10 /bin/x\nD 3 4 0 0 0 0 200\n"
                                                 "D 3 5 0 0 0 0 200\nD 3 6 0 0 0 0 200\n"
                                                 "D 3 7 0 0 0 0 200\n"),
                             true, symbolizer, processes[1]);
  EXPECT_TRUE(child.empty());
  end_what_children_removed(processes, findings);
  std::multiset<std::pair<std::string, std::uint64_t>> left;
  for (const auto& finding : findings) left.insert({finding.kind, finding.token});
  EXPECT_EQ(left, (std::multiset<std::pair<std::string, std::uint64_t>>{
                      {"leaked", 10}, {"vanished", 11}, {"vanished", 12}}));
}

TEST(TraceGrade, ACtlRecordsTimeComesBeforeItsStack) {
  const auto records = parse_trace_records("A 3 4 1 7 0 0 123 /bin/x@1f\nD 3 4 0 0 0 0\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].time, 123u);
  EXPECT_EQ(records[0].frames, std::vector<std::string>{"/bin/x@1f"});
  EXPECT_EQ(records[1].time, 0u);  // a hand-written log may leave it out
}

TEST(TraceGrade, SetThatOnlyGrowsIsAnError) {
  std::string log = "I 10 1 /bin/x\nC 3\n";
  for (std::size_t fd = 4; fd < 4 + kGrowingSize; ++fd)
    log += "A 3 " + std::to_string(fd) + " 1 " + std::to_string(fd) + " 0 0\n";
  const auto findings = grade(log);
  EXPECT_EQ(count_kind(findings, "growing"), 1u);
  EXPECT_EQ(count_kind(findings, "leaked"), kGrowingSize);
  EXPECT_TRUE(grade(log + "D 3 4 0 0 0 0\n").size() == kGrowingSize - 1);  // it shrank once
}

TEST(TraceGrade, WhileRunningWhatIsStillRegisteredIsNotLeaked) {
  EXPECT_TRUE(grade("I 10 1 /bin/x\nC 3\nA 3 5 1 7 0 0\n", false).empty());
  EXPECT_EQ(count_kind(grade("I 10 1 /bin/x\nC 3\nA 3 5 1 7 0 0\n", true), "leaked"), 1u);
}

TEST(TraceGrade, ExecEndsTheEarlierImage) {
  const auto findings = grade("I 10 1 /bin/x\nC 3\nA 3 5 1 7 0 0\nI 10 1 /bin/y\n");
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].kind, "leaked");
}

TEST(TraceGrade, MalformedLinesAreSkipped) {
  // W is no record kind; Q (an io_uring instance) needs its descriptor.
  EXPECT_EQ(parse_trace_records("I 10 1 /bin/x\nA 3 x\nW 1\nQ\nC\nC 3\n").size(), 2u);
}

TEST(InspectGrowth, OnlyASetThatGrewAndNeverShrankOverThreeSamples) {
  std::vector<Finding> findings;
  find_growth({{1, 3, {0, 1, 2}, {1, 2, 3}},
               {1, 4, {0, 1, 2}, {1, 3, 2}},
               {1, 5, {0, 1}, {1, 2}},
               {1, 6, {0, 1, 2}, {2, 2, 2}}},
              findings);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].kind, "growing");
  EXPECT_EQ(findings[0].epoll_fd, 3);
  EXPECT_EQ(findings[0].severity, Severity::kError);
}

}  // namespace
}  // namespace pollscope

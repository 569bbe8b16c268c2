// Worker processes end to end: their figures merged into one report, and under faults: a worker
// killed, stopped, orphaned, and SIGINT while one is stopped. Each fault: the exit code, one line
// naming the worker and how it ended, the report (partial, marked), no temporary file, and no
// worker left running or unreaped.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "child_process.hpp"

namespace pollscope {
namespace {

using namespace test_support;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* kWorkers = R"({"format": 1, "name": "workers",
  "description": "two worker processes for twenty seconds unless stopped",
  "workers": 2, "sockets": {"kind": "unix", "count": 40, "active": 4},
  "phases": [{"name": "steady", "duration_ms": 20000}]})";
// Noticed within 100 ms; the others stopped in a 1.5 s grace; the report written.
constexpr milliseconds kEndsWithin{2'500};

std::vector<pid_t> children_of(pid_t parent) {
  std::ifstream list("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) +
                     "/children");
  std::vector<pid_t> children;
  for (pid_t child = 0; list >> child;) children.push_back(child);
  return children;
}

std::size_t descriptors_of(pid_t pid) {
  std::error_code error;
  std::size_t count = 0;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error), end;
       !error && it != end; it.increment(error)) {
    ++count;
  }
  return count;
}

// A closed-loop phase sends as fast as it can, with no target: the overall rate ratio, merged
// over the phases and the two workers, is the open-loop phase's alone (it once counted the
// closed-loop sends against a target diluted by the closed-loop time: 40.96).
TEST(WorkersMerge, TheOverallRateRatioOfAMixedRunIsItsOpenLoopPhases) {
  TempDir dir;
  const auto scenario = dir.write("mixed.json", R"({"format": 1, "name": "mixed",
    "description": "a closed-loop phase, then an open-loop one, over two workers",
    "workers": 2, "sockets": {"kind": "unix", "count": 4, "active": 4},
    "phases": [{"name": "closed", "duration_ms": 200, "load": {"mode": "closed", "in_flight": 4}},
               {"name": "open", "duration_ms": 300,
                "load": {"mode": "open", "rate_per_second": 2000}}]})");
  const auto outcome = pollscope({"run", scenario, "-q", "--out", dir / "report.json"});
  ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  const auto report = parse_report(read_file(dir / "report.json"));
  const auto& phases = report.at("phases");
  ASSERT_EQ(phases.size(), 2u);
  EXPECT_EQ(phases.at(0).at("achieved_rate_ratio").get<double>(), 1.0);
  EXPECT_GT(phases.at(0).at("messages").get<double>(), phases.at(1).at("messages").get<double>())
      << "the closed loop outpaces the open one, or the test shows nothing";
  const double open = phases.at(1).at("achieved_rate_ratio").get<double>();
  EXPECT_GT(open, 0.5);
  EXPECT_LT(open, 1.5);
  // The one open-loop phase is all the overall ratio counts: the same sends, the same target.
  EXPECT_NEAR(report.at("overall").at("achieved_rate_ratio").get<double>(), open, 1e-9);
  expect_valid_report(dir / "report.json");
}

// A pollscope run of kWorkers, under way: both workers hold their 40 descriptors.
class WorkerFault : public ::testing::Test {
 protected:
  void SetUp() override {
    scenario_ = dir_.write("workers.json", kWorkers);
    child_ = std::make_unique<Child>(
        std::vector<std::string>{POLLSCOPE_BINARY, "run", scenario_, "-q", "--out", report_path()});
    ASSERT_TRUE(child_->started()) << child_->spawn_error();
    const auto deadline = steady_clock::now() + milliseconds(10'000);
    while (steady_clock::now() < deadline) {
      workers_ = children_of(child_->pid());
      std::size_t held = 0;
      for (pid_t worker : workers_) held += descriptors_of(worker);
      if (workers_.size() == 2 && held > 80) return;
      sleep_briefly(milliseconds(2));
    }
    FAIL() << "the workers did not open their sockets within 10 s";
  }

  [[nodiscard]] std::string report_path() const { return reports_ / "report.json"; }

  // Waits for pollscope; it ended within `limit` of now.
  Outcome wait_within(milliseconds limit) {
    const auto start = steady_clock::now();
    Outcome outcome = child_->wait(kRunLimit);
    EXPECT_LT(steady_clock::now() - start, limit) << "pollscope took too long to end";
    return outcome;
  }

  // Exit 3, one line naming the worker, the report marked, nothing left behind.
  void expect_partial_report(const Outcome& outcome, pid_t worker, const std::string& how) {
    ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(contains(outcome.err, "(pid " + std::to_string(worker) + ") " + how))
        << outcome.err;
    EXPECT_EQ(reports_.entries(), std::set<std::string>{"report.json"});
    const auto report = parse_report(read_file(report_path()));
    ASSERT_TRUE(report.is_object());
    EXPECT_TRUE(contains(report.value("incomplete", ""), how));
    EXPECT_NE(report.value("verdict", "pass"), "pass");
    std::size_t failed = 0;
    for (const auto& end : report.at("context").at("worker_ends")) {
      failed += end.value("failed", false) ? 1 : 0;
    }
    EXPECT_EQ(failed, 1u) << "the other worker sent its outcome";
    expect_valid_report(report_path());
    for (pid_t pid : workers_) {
      EXPECT_FALSE(fs::exists("/proc/" + std::to_string(pid))) << "worker " << pid << " is left";
    }
  }

  TempDir dir_;
  TempDir reports_;
  std::string scenario_;
  std::unique_ptr<Child> child_;
  std::vector<pid_t> workers_;
};

TEST_F(WorkerFault, AKilledWorkerEndsTheRunWithAMarkedPartialReport) {
  ASSERT_EQ(::kill(workers_.back(), SIGKILL), 0);
  const Outcome outcome = wait_within(kEndsWithin);
  expect_partial_report(outcome, workers_.back(), "killed by signal 9 (SIGKILL)");
}

TEST_F(WorkerFault, AStoppedWorkerIsCaughtAndKilled) {
  ASSERT_EQ(::kill(workers_.front(), SIGSTOP), 0);
  const Outcome outcome = wait_within(kEndsWithin);
  expect_partial_report(outcome, workers_.front(), "stopped by signal 19 (SIGSTOP)");
}

TEST_F(WorkerFault, SigintWhileAWorkerIsStoppedEndsWithinTwoSeconds) {
  ASSERT_EQ(::kill(workers_.front(), SIGSTOP), 0);
  ASSERT_EQ(::kill(child_->pid(), SIGINT), 0);
  const Outcome outcome = wait_within(milliseconds(2'000));
  expect_partial_report(outcome, workers_.front(), "stopped by signal 19 (SIGSTOP)");
}

// SIGTERM to one worker alone: it stops early, cleanly, and says it was interrupted; nobody
// asked it to, so its share is cut short: a failure (it once passed, exit 0, 80% of it missing).
TEST_F(WorkerFault, AWorkerStoppedEarlyByASignalOfItsOwnFailsTheRun) {
  ASSERT_EQ(::kill(workers_.back(), SIGTERM), 0);
  const Outcome outcome = wait_within(kEndsWithin);
  expect_partial_report(outcome, workers_.back(),
                        "exit 0, stopped early by a signal sent to it alone");
  const auto report = parse_report(read_file(report_path()));
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("interrupted", true), false);
}

// Every worker killed: no outcome, no report, and the message says so (it once promised "the
// report holds what the others collected", and no report was written).
TEST_F(WorkerFault, EveryWorkerKilledIsNoReportAndSaysSo) {
  for (pid_t worker : workers_) ASSERT_EQ(::kill(worker, SIGKILL), 0);
  const Outcome outcome = wait_within(kEndsWithin);
  ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "killed by signal 9 (SIGKILL)")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "no report")) << outcome.err;
  EXPECT_FALSE(contains(outcome.err, "the report holds")) << outcome.err;
  EXPECT_TRUE(reports_.entries().empty());
}

// Workers that do not answer the user's stop (SIGINT blocked, inherited from the wrapper that
// starts pollscope; SIGTERM reaches the parent) are killed after their grace: the run was still
// interrupted by the user, so a report of it, marked, and exit 130 (it once exited 3 with no
// report at all).
TEST(WorkersStop, WorkersKilledAfterTheUsersStopStillGiveAnInterruptedReport) {
  if (!run_program({"python3", "-c", "pass"}).exited) GTEST_SKIP() << "needs python3";
  TempDir dir;
  TempDir reports;
  const auto scenario = dir.write("workers.json", kWorkers);
  const std::string report_path = reports / "report.json";
  Child child({"python3", "-c",
               "import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, "
               "{signal.SIGINT}); os.execv(sys.argv[1], sys.argv[1:])",
               POLLSCOPE_BINARY, "run", scenario, "-q", "--out", report_path});
  ASSERT_TRUE(child.started()) << child.spawn_error();
  const auto deadline = steady_clock::now() + milliseconds(10'000);
  std::size_t held = 0;
  while (steady_clock::now() < deadline) {
    held = 0;
    for (pid_t worker : children_of(child.pid())) held += descriptors_of(worker);
    if (held > 80) break;
    sleep_briefly(milliseconds(2));
  }
  ASSERT_GT(held, 80u) << "the workers did not open their sockets within 10 s";
  ASSERT_EQ(::kill(child.pid(), SIGTERM), 0);
  const Outcome outcome = child.wait(kRunLimit);
  ASSERT_TRUE(exited_with(outcome, 130)) << describe(outcome);
  EXPECT_EQ(reports.entries(), std::set<std::string>{"report.json"});
  const auto report = parse_report(read_file(report_path));
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("interrupted", false), true);
  EXPECT_EQ(report.value("verdict", ""), "interrupted");
  for (const auto& end : report.at("context").at("worker_ends")) {
    EXPECT_TRUE(end.value("failed", false));
    EXPECT_TRUE(contains(end.value("how", ""), "killed: not stopped")) << end.dump();
  }
  // Their shares after the stop are missing: the report says so, as for any killed worker.
  EXPECT_TRUE(contains(report.value("incomplete", ""), "killed: not stopped")) << report.dump();
  expect_valid_report(report_path);
}

// `run --repeat`: a SIGTERM (or SIGINT) sent to the parent alone, as a CI runner sends it,
// reaches the running repetition, and the run ends at once with a report marked interrupted. It
// once waited for the repetition to run its course, then ran no more and said "pass", exit 0.
TEST(RepeatStop, ASignalToTheParentAloneStopsTheRepetitionAndMarksTheReport) {
  const TempDir dir;
  const auto scenario = dir.write("long.json", R"({"format": 1, "name": "long",
    "description": "twenty seconds unless stopped",
    "sockets": {"kind": "unix", "count": 40, "active": 4},
    "phases": [{"name": "steady", "duration_ms": 20000}]})");
  const std::string report_path = dir / "report.json";
  Child child({POLLSCOPE_BINARY, "run", scenario, "-q", "--repeat", "3", "--out", report_path});
  ASSERT_TRUE(child.started()) << child.spawn_error();
  const auto deadline = steady_clock::now() + milliseconds(10'000);
  std::size_t held = 0;
  while (steady_clock::now() < deadline) {
    held = 0;
    for (pid_t repetition : children_of(child.pid())) held += descriptors_of(repetition);
    if (held > 80) break;
    sleep_briefly(milliseconds(2));
  }
  ASSERT_GT(held, 80u) << "the first repetition did not open its sockets within 10 s";
  ASSERT_EQ(::kill(child.pid(), SIGTERM), 0);
  const Outcome outcome = child.wait(milliseconds(10'000));
  ASSERT_TRUE(exited_with(outcome, 130)) << describe(outcome);
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"long.json", "report.json"}));
  const auto report = parse_report(read_file(report_path));
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("interrupted", false), true);
  EXPECT_EQ(report.value("verdict", ""), "interrupted");
  ASSERT_EQ(report.at("repetitions").size(), 1u);
  EXPECT_EQ(report.at("repetitions").at(0).value("verdict", ""), "interrupted");
  expect_valid_report(report_path);
}

// The workers die with their parent: this test adopts them (a subreaper) to see them end.
TEST_F(WorkerFault, OrphanedWorkersDieWithTheirParent) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  ASSERT_EQ(::kill(child_->pid(), SIGKILL), 0);
  const Outcome outcome = child_->wait(kRunLimit);
  EXPECT_EQ(outcome.signal, SIGKILL);
  for (pid_t worker : workers_) {
    int status = 0;
    pid_t reaped = 0;
    const auto deadline = steady_clock::now() + milliseconds(2'000);
    while ((reaped = ::waitpid(worker, &status, WNOHANG)) == 0 && steady_clock::now() < deadline) {
      sleep_briefly(milliseconds(2));
    }
    ASSERT_EQ(reaped, worker) << "worker " << worker << " outlived its parent by 2 s";
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  // SIGKILL gives the parent no chance to remove its temporary file; the report is not there.
  EXPECT_FALSE(fs::exists(report_path()));
}

}  // namespace
}  // namespace pollscope

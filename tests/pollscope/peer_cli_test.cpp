// Peers on a thread or in a process of their own, end to end: pollscope runs a small scenario
// with each placement on each backend (and the wake-up pairs on each backend) and its report
// says where the peer ran and with which clock, holds every message, a round trip for each answer,
// no leak, and validates against cli/report.schema.json.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "child_process.hpp"

namespace pollscope {
namespace {

using namespace test_support;
using json = nlohmann::json;

std::string scenario_text(const std::string& sockets, const std::string& phase) {
  return R"({"format": 1, "name": "peers", "description": "peer placement end to end",
             "sockets": {)" +
         sockets + R"(}, "phases": [{"name": "steady", )" + phase +
         R"(, "leak_check": true}], "thresholds": ["missed_events == 0", "leaks.total == 0"]})";
}

// Runs `text` on `backend` and returns its report, checked against the schema.
json run_report(const std::string& text, const std::string& backend) {
  const TempDir dir;
  const std::string path = dir.write("peers.json", text);
  const std::string report_path = dir / "report.json";
  const Outcome outcome =
      pollscope({"run", path, "--backend", backend, "--out", report_path, "-q"});
  EXPECT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  if (have_jsonschema()) expect_valid_report(report_path);
  return parse_report(read_file(report_path));
}

using Placement = std::tuple<std::string, std::string>;  // backend, peer

class PollscopePeer : public ::testing::TestWithParam<Placement> {};

TEST_P(PollscopePeer, ReportsWhereThePeerRanAndEveryMessage) {
  const auto& [backend, peer] = GetParam();
  const json report =
      run_report(scenario_text(R"("kind": "tcp", "count": 4, "active": 2, "peer": ")" + peer + "\"",
                               R"("messages": 600)"),
                 backend);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.at("context").value("peer", ""), peer);
  EXPECT_EQ(report.at("context").value("backend", ""), backend);
  EXPECT_FALSE(report.at("context").value("clock", "").empty());
  const json& overall = report.at("overall");
  EXPECT_GE(overall.value("messages", 0u), 600u - 2);  // a side may stop short by what is in flight
  EXPECT_EQ(overall.value("missed_events", 1u), 0u);
  EXPECT_EQ(overall.value("spurious_events", 1u), 0u);
  // Two pairs started the traffic: every other message answers one.
  EXPECT_EQ(overall.at("round_trip_ns").value("count", 0u), overall.value("messages", 0u) - 2);
  EXPECT_EQ(report.at("leaks").value("total", 1u), 0u);
  EXPECT_EQ(report.value("verdict", ""), "pass");
}

INSTANTIATE_TEST_SUITE_P(BackendsAndPlacements, PollscopePeer,
                         ::testing::Combine(::testing::Values("epoll", "poll"),
                                            ::testing::Values("same_loop", "thread", "process")),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

using Wakeup = std::tuple<std::string, std::string>;  // backend, kind

class PollscopeWakeup : public ::testing::TestWithParam<Wakeup> {};

TEST_P(PollscopeWakeup, EachWakeReturnsTheBlockedPollOnce) {
  const auto& [backend, kind] = GetParam();
  const json report = run_report(
      scenario_text(R"("kind": ")" + kind + R"(", "count": 1, "active": 1, "peer": "thread")",
                    R"("messages": 2000, "payload_bytes": 16)"),
      backend);
  ASSERT_TRUE(report.is_object());
  const json& overall = report.at("overall");
  EXPECT_GE(overall.value("messages", 0u), 2000u - 1);
  EXPECT_EQ(overall.value("missed_events", 1u), 0u);
  EXPECT_EQ(overall.value("spurious_events", 1u), 0u);
  EXPECT_EQ(overall.at("latency_ns").value("count", 0u), overall.value("messages", 0u));
  EXPECT_GT(overall.at("latency_ns").value("min", 0u), 0u);
  EXPECT_EQ(report.at("leaks").value("total", 1u), 0u);
  EXPECT_EQ(report.at("phases").at(0).at("leaks").value("total", 1u), 0u);
}

INSTANTIATE_TEST_SUITE_P(BackendsAndKinds, PollscopeWakeup,
                         ::testing::Combine(::testing::Values("epoll", "poll"),
                                            ::testing::Values("waker", "eventfd")),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

// The peer process, signalled while a long ping-pong runs: the run fails (exit 3), naming the
// peer process as such (once "worker 0 ... the report holds what the others collected"), and no
// report is written. A SIGTERM to it alone is no stop of the run's (it once passed, exit 0).
class PeerProcessFault : public ::testing::TestWithParam<int> {};

TEST_P(PeerProcessFault, IsNamedAsThePeerProcessAndFailsTheRun) {
  const TempDir dir;
  const std::string path = dir.write(
      "peer.json", scenario_text(R"("kind": "tcp", "count": 2, "active": 2, "peer": "process")",
                                 R"("duration_ms": 20000)"));
  const std::string report_path = dir / "report.json";
  Child child({POLLSCOPE_BINARY, "run", path, "-q", "--out", report_path});
  ASSERT_TRUE(child.started()) << child.spawn_error();
  // The peer process is pollscope's one child: a bounded wait on what /proc shows.
  pid_t peer = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (peer == 0 && std::chrono::steady_clock::now() < deadline) {
    std::ifstream children("/proc/" + std::to_string(child.pid()) + "/task/" +
                           std::to_string(child.pid()) + "/children");
    if (!(children >> peer)) sleep_briefly(std::chrono::milliseconds(2));
  }
  ASSERT_NE(peer, 0) << "no peer process within 10 s";
  ASSERT_EQ(::kill(peer, GetParam()), 0);
  const Outcome outcome = child.wait(std::chrono::seconds(10));
  ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  const std::string named = "the peer process (pid " + std::to_string(peer) + ") ";
  EXPECT_TRUE(contains(outcome.err, named)) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, GetParam() == SIGKILL ? "killed by signal 9 (SIGKILL)"
                                                          : "stopped early by a signal"))
      << outcome.err;
  EXPECT_FALSE(contains(outcome.err, "worker")) << outcome.err;
  EXPECT_FALSE(contains(outcome.err, "the report holds")) << outcome.err;
  EXPECT_FALSE(std::filesystem::exists(report_path));
}

INSTANTIATE_TEST_SUITE_P(Signals, PeerProcessFault, ::testing::Values(SIGKILL, SIGTERM),
                         [](const auto& info) { return std::string(sigabbrev_np(info.param)); });

}  // namespace
}  // namespace pollscope

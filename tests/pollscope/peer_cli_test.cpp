// Peers on a thread or in a process of their own, end to end: pollscope runs a small scenario
// with each placement on each backend (and the wake-up pairs on each backend) and its report
// says where the peer ran and with which clock, holds every message, a round trip for each answer,
// no leak, and validates against cli/report.schema.json.

#include <string>
#include <tuple>

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

}  // namespace
}  // namespace pollscope

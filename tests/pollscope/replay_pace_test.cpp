// A phase's time and what its schedule asked for: a phase ends at duration_ms however far off
// its next send is; a replay's achieved_rate_ratio counts the slots that came due within the
// phase (per poller, summed), and those due but never sent are late sends; its schedule's clock
// starts once the schedule is built.

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "engine/engine.hpp"
#include "engine/replay_schedule.hpp"
#include "replay/replay_trace.hpp"
#include "scenario/scenario.hpp"
#include "test_pcaps.hpp"

namespace pollscope {
namespace {

namespace fs = std::filesystem;

Scenario parsed(const std::string& text, const std::string& path) {
  auto scenario = parse_scenario(nlohmann::json::parse(text), path);
  if (auto* problem = std::get_if<Problem>(&scenario)) {
    ADD_FAILURE() << problem->to_string();
    return {};
  }
  return std::get<Scenario>(std::move(scenario));
}

// One message of `bytes` per (offset, flow), in order.
std::shared_ptr<ReplayTrace> trace_of(const std::vector<ReplayMessage>& messages) {
  auto trace = std::make_shared<ReplayTrace>();
  trace->messages = messages;
  for (const ReplayMessage& message : messages) {
    trace->flows = std::max(trace->flows, message.flow + 1);
    trace->bytes += message.bytes;
    trace->largest = std::max(trace->largest, message.bytes);
  }
  trace->packets = messages.size();
  return trace;
}

class ReplayPaceTest : public ::testing::TestWithParam<const char*> {
 protected:
  ReplayPaceTest() {
    char name[] = "/tmp/pollscope-pace-XXXXXX";
    folder_ = ::mkdtemp(name);
    test_support::write_three_flows(folder_ / "three.pcap");  // parsed, then replaced
  }
  ~ReplayPaceTest() override { fs::remove_all(folder_); }

  // A replay of `trace` on `sockets`, with `top` in the scenario and `phase` in its phase.
  [[nodiscard]] Figures replay(std::shared_ptr<ReplayTrace> trace, const std::string& sockets,
                               const std::string& top = "", const std::string& phase = "") const {
    Scenario scenario = parsed(
        R"({"format": 1, "name": "pace", "description": "pace test", "backend": ")" +
            std::string(GetParam()) + R"(", )" + top + R"("sockets": )" + sockets +
            R"(, "phases": [{"name": "p", "load": {"mode": "replay", "pcap": "three.pcap"})" +
            phase + "}]}",
        folder_ / "scenario.json");
    std::get<Replay>(scenario.phases.at(0).load).trace = std::move(trace);
    return run_scenario(scenario, {}).phases.at(0).figures;
  }

  fs::path folder_;
};

double achieved(const Figures& figures) {
  return static_cast<double>(figures.open_loop_sent) / figures.open_loop_intended;
}

// The next send is 10 s off (a replay's gap, an open loop at 1 a second): the phase still ends
// near its 5 ms, not at the poll's longest wait (100 ms) after its first send.
TEST_P(ReplayPaceTest, APhaseEndsAtItsDurationHoweverFarOffItsNextSend) {
  const Figures gap = replay(trace_of({{0, 0, 100}, {10'000'000'000, 0, 100}}),
                             R"({"kind": "tcp", "count": 1})", "", R"(, "duration_ms": 5)");
  EXPECT_EQ(gap.sent, 1u);
  EXPECT_LT(gap.seconds, 0.05);
  const Figures open = run_scenario(parsed(R"({"format": 1, "name": "o", "description": "d",
      "backend": ")" + std::string(GetParam()) +
                                               R"(",
      "sockets": {"kind": "tcp", "count": 1, "active": 1},
      "phases": [{"name": "o", "duration_ms": 5, "payload_bytes": 28,
                  "load": {"mode": "open", "rate_per_second": 1}}]})",
                                           "literal"),
                                    {})
                           .phases.at(0)
                           .figures;
  EXPECT_EQ(open.sent, 1u);
  EXPECT_LT(open.seconds, 0.05);
}

// Every message sent: the ratio is 1 whether the pollers' shares of the trace end at different
// times (two threads: flows 0 and 2 on one, due at 0, 100 and 150 ms; flow 1 on the other, due
// at 50 ms) or duration_ms cuts the trace (one of its two messages due before the cut).
TEST_P(ReplayPaceTest, AReplaysAchievedRateCountsTheSlotsDueWithinThePhase) {
  const auto three =
      trace_of({{0, 0, 100}, {50'000'000, 1, 40}, {100'000'000, 0, 10}, {150'000'000, 2, 300}});
  const Figures threads =
      replay(three, R"({"kind": "tcp", "count": 2, "active": 2})", R"("threads": 2, )");
  EXPECT_EQ(threads.sent, 4u);
  EXPECT_EQ(threads.open_loop_intended, 4.0);
  EXPECT_NEAR(achieved(threads), 1.0, 0.1);
  const Figures cut = replay(trace_of({{0, 0, 100}, {10'000'000'000, 0, 100}}),
                             R"({"kind": "tcp", "count": 1})", "", R"(, "duration_ms": 50)");
  EXPECT_EQ(cut.sent, 1u);
  EXPECT_EQ(cut.open_loop_intended, 1.0);
  EXPECT_NEAR(achieved(cut), 1.0, 0.1);
}

// A million messages due at once, and 5 ms to send them: what was due and not written by the
// end (never taken from the schedule, or owed and dropped) is a late send.
TEST_P(ReplayPaceTest, MessagesDueButNeverSentAreLateSends) {
  constexpr std::size_t kMessages = 1'000'000;
  const Figures figures =
      replay(trace_of(std::vector<ReplayMessage>(kMessages, ReplayMessage{0, 0, 28})),
             R"({"kind": "tcp", "count": 1})", "", R"(, "duration_ms": 5)");
  ASSERT_LT(figures.sent, kMessages) << "every message went out within 5 ms";
  EXPECT_EQ(figures.open_loop_intended, static_cast<double>(kMessages));
  EXPECT_GE(figures.late_sends, kMessages - figures.open_loop_sent);
  EXPECT_EQ(figures.messages, figures.sent);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReplayPaceTest, ::testing::Values("epoll", "poll"));

// The schedule's clock is not its build's: built, nothing is due; begun, each slot is due at the
// start given then plus its offset.
TEST(ReplayScheduleTest, ItsTimesCountFromWhenItBegins) {
  const auto trace = trace_of({{0, 0, 100}, {1'000, 0, 200}});
  ReplaySchedule schedule(*trace, 1.0, {0, 1, 1}, [](std::size_t) { return true; });
  EXPECT_FALSE(schedule.take(UINT64_MAX - 1).has_value());
  schedule.begin(5'000'000);
  EXPECT_EQ(schedule.next_due(), 5'000'000u);
  EXPECT_EQ(schedule.take(5'000'000)->due_ns, 5'000'000u);
  EXPECT_EQ(schedule.drop_due_before(5'001'001), 1u);  // the second, due at 5'001'000
  EXPECT_EQ(schedule.taken(), 2u);
}

}  // namespace
}  // namespace pollscope

// Replay: a pcap read as a schedule (flows, directions, refusals), the schedule mapped onto the
// active pairs, and the engine sending exactly the recorded messages, at the recorded pace, on
// both backends. The shipped sample is checked to be what its generator writes.

#include <pcap/pcap.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "engine/replay_schedule.hpp"
#include "pcap_writer.hpp"
#include "replay/replay_trace.hpp"
#include "scenario/scenario.hpp"
#include "test_pcaps.hpp"

namespace pollscope {
namespace {

namespace fs = std::filesystem;
using test_support::bad_pcaps;
using test_support::BadPcap;
using test_support::kReplayed;
using test_support::write_three_flows;

// A directory of its own for the files of one test.
class Folder {
 public:
  Folder() {
    char name[] = "/tmp/pollscope-replay-XXXXXX";
    path_ = ::mkdtemp(name);
  }
  ~Folder() { fs::remove_all(path_); }
  Folder(const Folder&) = delete;
  Folder& operator=(const Folder&) = delete;
  [[nodiscard]] std::string operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::string bytes_of(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

TEST(ReplayTraceTest, ReadsEachFlowInTheDirectionOfItsFirstPacket) {
  const Folder folder;
  write_three_flows(folder / "three.pcap");
  auto read = read_replay_trace(folder / "three.pcap");
  ASSERT_TRUE(std::holds_alternative<ReplayTrace>(read)) << std::get<TraceProblem>(read).reason;
  const ReplayTrace& trace = std::get<ReplayTrace>(read);
  EXPECT_EQ(trace.packets, 14u);  // an ARP frame, two handshakes of 3 and 7 payloads
  EXPECT_EQ(trace.flows, 3u);
  EXPECT_EQ(trace.reverse_packets, 3u);
  ASSERT_EQ(trace.messages.size(), kReplayed.size());
  const std::array<std::uint32_t, 4> flows = {0, 1, 0, 2};
  for (std::size_t i = 0; i < kReplayed.size(); ++i) {
    EXPECT_EQ(trace.messages[i].bytes, kReplayed[i]) << i;
    EXPECT_EQ(trace.messages[i].flow, flows[i]) << i;
    EXPECT_EQ(trace.messages[i].offset_ns, i * 2'000'000) << i;
  }
  EXPECT_EQ(trace.bytes, 450u);
  EXPECT_EQ(trace.largest, 300u);
  EXPECT_EQ(trace.span_ns(), 6'000'000u);
}

TEST(ReplayTraceTest, BadFilesAreRefusedNamingTheFileAndThePacket) {
  const Folder folder;
  for (const BadPcap& bad : bad_pcaps()) {
    SCOPED_TRACE(bad.name);
    const std::string path = folder / (std::string(bad.name) + ".pcap");
    bad.write(path);
    auto read = read_replay_trace(path);
    ASSERT_TRUE(std::holds_alternative<TraceProblem>(read));
    const std::string& reason = std::get<TraceProblem>(read).reason;
    EXPECT_TRUE(reason.starts_with(path + ": ")) << reason;
    EXPECT_NE(reason.find(bad.reason), std::string::npos) << reason;
    EXPECT_EQ(reason.find('\n'), std::string::npos) << reason;
  }
  auto missing = read_replay_trace(folder / "absent.pcap");
  ASSERT_TRUE(std::holds_alternative<TraceProblem>(missing));
  EXPECT_NE(std::get<TraceProblem>(missing).reason.find("absent.pcap: cannot be read"),
            std::string::npos);
}

// A trace too large for the memory budget is refused as soon as reading it would hold more than
// the budget, not once it is read whole (a 3,000,000-message trace grew to 77 MiB before a 64
// MiB budget refused it): here 21,842 messages of 48 bytes, with their flow's 208, pass 1 MiB
// by packet 21,843 (the first is the flow's SYN), and the 8,158 messages after are not read.
TEST(ReplayTraceTest, ATraceTooLargeForTheBudgetIsRefusedWhileItIsRead) {
  const Folder folder;
  const std::string path = folder / "burst.pcap";
  test_support::write_burst(path, 30'000, 10);
  auto read = read_replay_trace(path, 1);
  ASSERT_TRUE(std::holds_alternative<TraceProblem>(read));
  EXPECT_EQ(std::get<TraceProblem>(read).reason,
            path +
                ": by packet 21843 the read holds 2 MiB (21842 messages x 48 bytes, 1 flows x 208 "
                "bytes), over the 1 MiB memory budget (--memory-budget MIB raises it)");

  auto within = read_replay_trace(path, 2);  // 30,000 x 48 + 208 bytes
  ASSERT_TRUE(std::holds_alternative<ReplayTrace>(within)) << std::get<TraceProblem>(within).reason;
  EXPECT_EQ(std::get<ReplayTrace>(within).messages.size(), 30'000u);
}

// Flow i drives active pair i of the run, wrapping round; a poller takes the flows of the active
// pairs it holds, each message due at its offset divided by the speed.
TEST(ReplayScheduleTest, MapsFlowIOntoActivePairIWrappingRound) {
  ReplayTrace trace;
  for (std::uint32_t flow = 0; flow < 5; ++flow) {
    trace.messages.push_back({flow * 1'000'000ULL, flow, 100 + flow});
  }
  const auto all = [](std::size_t) { return true; };
  // Three active pairs in the run; this poller holds the second and the third.
  ReplaySchedule schedule(trace, 2.0, {1, 2, 3}, all);
  schedule.begin(10'000);
  ASSERT_EQ(schedule.size(), 3u);  // flows 1, 2 and 4 (4 wraps onto pair 1)
  EXPECT_FALSE(schedule.take(10'000 + 499'999).has_value());
  const auto first = schedule.take(10'000 + 500'000);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->pair, 0u);
  EXPECT_EQ(first->bytes, 101u);
  EXPECT_EQ(first->due_ns, 510'000u);
  const auto rest = [&] {
    std::vector<std::size_t> pairs;
    while (auto slot = schedule.take(UINT64_MAX)) pairs.push_back(slot->pair);
    return pairs;
  }();
  EXPECT_EQ(rest, (std::vector<std::size_t>{1, 0}));
  // A pair without a file to send to is left out.
  ReplaySchedule without(trace, 1.0, {0, 3, 3}, [](std::size_t pair) { return pair != 1; });
  EXPECT_EQ(without.size(), 3u);  // flows 0, 2 and 3
}

// A speed so slow that later messages fall past what 64 bits of nanoseconds hold (a phase with
// duration_ms may ask for it): they are never due, rather than due at a wrapped time.
TEST(ReplayScheduleTest, MessagesPastTheEndOfTimeAreNeverDue) {
  ReplayTrace trace;
  trace.messages = {{0, 0, 100}, {1'000'000, 0, 200}};
  ReplaySchedule schedule(trace, 1e-300, {0, 1, 1}, [](std::size_t) { return true; });
  schedule.begin(10'000);
  ASSERT_EQ(schedule.size(), 2u);
  EXPECT_EQ(schedule.take(10'000)->bytes, 100u);
  EXPECT_EQ(schedule.next_due(), UINT64_MAX);
  EXPECT_FALSE(schedule.take(UINT64_MAX - 1).has_value());
}

Scenario replay_scenario(const std::string& folder, const std::string& sockets,
                         const std::string& load_extra = "", const std::string& top_extra = "",
                         const std::string& phase_extra = "") {
  const std::string text = R"({"format": 1, "name": "replayed", "description": "replay test", )" +
                           top_extra + R"("sockets": )" + sockets +
                           R"(, "phases": [{"name": "p", "load": {"mode": "replay", "pcap": )"
                           R"("three.pcap")" +
                           load_extra + "}" + phase_extra + "}]}";
  auto parsed = parse_scenario(nlohmann::json::parse(text), folder + "/scenario.json");
  if (auto* problem = std::get_if<Problem>(&parsed)) {
    ADD_FAILURE() << problem->to_string();
    return {};
  }
  return std::get<Scenario>(std::move(parsed));
}

// What the four replayed messages weigh as sent: the 10-byte one padded to the 28-byte header.
constexpr std::uint64_t kReplayedBytes = 100 + 40 + 28 + 300;

class ReplayEngineTest : public ::testing::TestWithParam<const char*> {
 protected:
  Folder folder_;
  std::string backend() const { return std::string(R"("backend": ")") + GetParam() + "\", "; }
};

TEST_P(ReplayEngineTest, SendsExactlyThePcapsMessagesWithTheirSizesOnEveryKind) {
  write_three_flows(folder_ / "three.pcap");
  for (const char* kind : {"tcp", "udp", "unix", "pipe"}) {
    for (const char* active : {"2", "4"}) {  // flow 2 wraps onto pair 0; pair 3 stays idle
      SCOPED_TRACE(std::string(kind) + " with active " + active);
      const auto outcome =
          run_scenario(replay_scenario(folder_ / "",
                                       std::string(R"({"kind": ")") + kind +
                                           R"(", "count": 4, "active": )" + active + "}",
                                       "", backend()),
                       {});
      ASSERT_EQ(outcome.phases.size(), 1u);
      const Figures& figures = outcome.phases[0].figures;
      EXPECT_EQ(figures.sent, kReplayed.size());
      EXPECT_EQ(figures.messages, kReplayed.size());
      EXPECT_EQ(figures.replay_bytes_sent, kReplayedBytes);
      EXPECT_EQ(figures.replay_bytes_received, kReplayedBytes);
      EXPECT_EQ(figures.latency.count(), kReplayed.size());
      EXPECT_EQ(figures.uncorrected.count(), kReplayed.size());
      EXPECT_EQ(figures.missed_events, 0u);
      EXPECT_TRUE(outcome.leaks.empty());
    }
  }
}

// Each poller (worker processes, threads, a peer thread) replays the flows of the active pairs
// it holds: together, every message once.
TEST_P(ReplayEngineTest, PollersSplitTheFlowsAndSendEachMessageOnce) {
  write_three_flows(folder_ / "three.pcap");
  for (const char* split : {R"("workers": 2, )", R"("threads": 3, )"}) {
    SCOPED_TRACE(split);
    const auto outcome =
        run_scenario(replay_scenario(folder_ / "", R"({"kind": "tcp", "count": 6, "active": 3})",
                                     "", backend() + split),
                     {});
    EXPECT_EQ(outcome.phases.at(0).figures.sent, kReplayed.size());
    EXPECT_EQ(outcome.phases[0].figures.replay_bytes_received, kReplayedBytes);
  }
  const auto peer =
      run_scenario(replay_scenario(folder_ / "", R"({"kind": "tcp", "count": 3, "peer": "thread"})",
                                   "", backend()),
                   {});
  EXPECT_EQ(peer.phases.at(0).figures.messages, kReplayed.size());
  EXPECT_EQ(peer.phases[0].figures.replay_bytes_sent, kReplayedBytes);
}

// The schedule, not the loop, sets the pace: 150 ms of trace take at least 150 ms at speed 1,
// and a quarter of that at speed 4, whose target rate is four times as high.
TEST_P(ReplayEngineTest, SpeedScalesTheSchedule) {
  write_three_flows(folder_ / "three.pcap", 50'000);
  const auto run_at = [&](const char* speed) {
    return run_scenario(replay_scenario(folder_ / "", R"({"kind": "udp", "count": 3})",
                                        std::string(R"(, "speed": )") + speed, backend()),
                        {})
        .phases.at(0)
        .figures;
  };
  const Figures normal = run_at("1");
  const Figures fast = run_at("4");
  EXPECT_EQ(normal.sent, kReplayed.size());
  EXPECT_EQ(fast.sent, kReplayed.size());
  EXPECT_DOUBLE_EQ(normal.target_rate, 4 / 0.15);
  EXPECT_DOUBLE_EQ(fast.target_rate, 4 * normal.target_rate);
  EXPECT_GE(normal.seconds, 0.15);
  EXPECT_GE(fast.seconds, 0.0375);
  EXPECT_LT(fast.seconds, normal.seconds);
}

// duration_ms ends a replay before its schedule does.
TEST_P(ReplayEngineTest, ADurationCutsTheScheduleShort) {
  write_three_flows(folder_ / "three.pcap", 200'000);
  const auto outcome = run_scenario(replay_scenario(folder_ / "", R"({"kind": "tcp", "count": 3})",
                                                    "", backend(), R"(, "duration_ms": 100)"),
                                    {});
  const Figures& figures = outcome.phases.at(0).figures;
  EXPECT_GE(figures.sent, 1u);  // the first, at once
  EXPECT_LT(figures.sent, kReplayed.size());
  EXPECT_EQ(figures.messages, figures.sent);
}

// A burst of 64 KiB messages, all due at once, for one TCP pair whose far end is a peer thread:
// more than the pair holds, so that the peer falls behind its socket and owes the rest.
Scenario burst_over_a_peer(const std::string& folder, const std::string& backend,
                           std::size_t messages, const std::string& phase_extra = "") {
  write_three_flows(folder + "three.pcap");  // folder ends with a slash
  Scenario scenario =
      replay_scenario(folder, R"({"kind": "tcp", "count": 1, "active": 1, "peer": "thread"})", "",
                      backend, phase_extra);
  auto burst = std::make_shared<ReplayTrace>();
  burst->messages.assign(messages, ReplayMessage{0, 0, 65536});
  burst->flows = 1;
  std::get<Replay>(scenario.phases.at(0).load).trace = burst;
  return scenario;
}

// A replay that falls behind its socket for real: 256 MiB due at once, and 5 ms to send them.
// What the socket did not take by then is dropped unsent; replay.bytes_sent counted those
// dropped messages' bytes too.
TEST_P(ReplayEngineTest, BytesSentCountOnlyTheMessagesSentWhenTheSocketFallsBehind) {
  constexpr std::size_t kMessages = 4096;
  const Figures figures =
      run_scenario(burst_over_a_peer(folder_ / "", backend(), kMessages, R"(, "duration_ms": 5)"),
                   {})
          .phases.at(0)
          .figures;
  ASSERT_LT(figures.sent, kMessages) << "the socket took the whole backlog";
  EXPECT_EQ(figures.replay_bytes_sent, figures.sent * 65536);
  EXPECT_EQ(figures.replay_bytes_received, figures.messages * 65536);
  EXPECT_EQ(figures.messages, figures.sent);
  EXPECT_EQ(figures.missed_events, 0u);
}

// A peer whose schedule is done writes what it still owes before it says what it sent (a
// drain's time at most; what is left then was never written: late sends, not sent). Before, it
// counted the messages it owed, dropped them, and the near side waited a second for them, then
// reported them missed.
TEST_P(ReplayEngineTest, APeerThatFallsBehindTellsOnlyWhatItWrote) {
  const Figures figures =
      run_scenario(burst_over_a_peer(folder_ / "", backend(), 8192), {}).phases.at(0).figures;
  EXPECT_GT(figures.sent, 0u);
  EXPECT_EQ(figures.messages, figures.sent);
  EXPECT_EQ(figures.missed_events, 0u);
  EXPECT_EQ(figures.replay_bytes_sent, figures.sent * 65536);
  EXPECT_EQ(figures.replay_bytes_received, figures.messages * 65536);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReplayEngineTest, ::testing::Values("epoll", "poll"));

// scenarios/replay.pcap is what make_sample_pcap writes, byte for byte.
TEST(ReplaySampleTest, RegeneratingItGivesTheSameBytes) {
  const Folder folder;
  test_support::write_sample_pcap(folder / "sample.pcap");
  const std::string shipped = std::string(POLLSCOPE_SOURCE_DIR) + "/scenarios/replay.pcap";
  const std::string written = bytes_of(folder / "sample.pcap");
  EXPECT_EQ(written, bytes_of(shipped)) << "regenerate it: make_sample_pcap scenarios/replay.pcap";
  EXPECT_LT(written.size(), 64u * 1024);
  auto read = read_replay_trace(shipped);
  ASSERT_TRUE(std::holds_alternative<ReplayTrace>(read)) << std::get<TraceProblem>(read).reason;
  const ReplayTrace& trace = std::get<ReplayTrace>(read);
  EXPECT_EQ(trace.flows, 6u);
  EXPECT_GT(trace.reverse_packets, trace.messages.size());  // responses outweigh requests
  EXPECT_LT(trace.span_ns(), 1'000'000'000u);
}

}  // namespace
}  // namespace pollscope

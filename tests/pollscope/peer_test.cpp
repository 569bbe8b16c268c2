// Peers on a thread or in a process of their own (sockets.peer), called directly with scenario
// literals, on loopback, on both backends: every message arrives, the counts are exact, both
// sides take part in the leak checks and the faults, and latencies cover what they say. With the
// test itself as one side (ScriptedPeerTest), what no engine side does: a message stopped half-way,
// a flood, a reader that stops reading, a peer that goes away.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "engine/engine.hpp"
#include "scenario/scenario.hpp"
#include "scripted_peer.hpp"

namespace pollscope {
namespace {

using Placement = std::tuple<const char*, const char*>;  // backend, peer

class PeerPlacementTest : public ::testing::TestWithParam<Placement> {
 protected:
  [[nodiscard]] const char* backend() const { return std::get<0>(GetParam()); }
  [[nodiscard]] const char* peer() const { return std::get<1>(GetParam()); }

  // `sockets` and `rest` are spliced into a scenario on this backend with this peer.
  [[nodiscard]] Scenario scenario(const std::string& sockets, const std::string& rest) const {
    const std::string text = R"({"format": 1, "name": "peers", "description": "peer test",
        "backend": ")" + std::string(backend()) +
                             R"(", "sockets": {)" + sockets + R"(, "peer": ")" + peer() +
                             R"("}, )" + rest + "}";
    auto parsed = parse_scenario(nlohmann::json::parse(text), "literal");
    if (auto* error = std::get_if<Problem>(&parsed)) {
      ADD_FAILURE() << error->to_string();
      return {};
    }
    return std::get<Scenario>(std::move(parsed));
  }
};

std::uint64_t count_of(const RunOutcome& outcome, const std::string& kind) {
  std::uint64_t count = 0;
  for (const auto& leak : outcome.leaks) count += leak.kind == kind;
  return count;
}

TEST_P(PeerPlacementTest, ClosedLoopDeliversEveryMessageAndClosesEveryRoundTrip) {
  for (const char* kind : {"tcp", "unix", "udp"}) {
    SCOPED_TRACE(kind);
    const auto outcome =
        run_scenario(scenario(std::string(R"("kind": ")") + kind + R"(", "count": 8, "active": 4)",
                              R"("phases": [{"name": "p", "messages": 400}])"),
                     {});
    ASSERT_EQ(outcome.phases.size(), 1u);
    const auto& figures = outcome.phases[0].figures;
    // Split between two sides, a closed loop's count stops both when either has sent its half:
    // the other may be short by what the four pairs hold in flight.
    EXPECT_GE(figures.messages, 400u - 4);
    EXPECT_EQ(figures.messages, figures.sent);
    EXPECT_EQ(figures.missed_events, 0u);
    EXPECT_EQ(figures.spurious_events, 0u);
    EXPECT_EQ(figures.latency.count(), figures.messages);
    EXPECT_GT(figures.latency.min(), 0u);
    // Every message but the four that started the traffic answers one: its round trip.
    EXPECT_EQ(figures.round_trip.count(), figures.messages - 4);
    EXPECT_GT(figures.round_trip.min(), figures.latency.min());
    EXPECT_TRUE(outcome.leaks.empty()) << outcome.leaks.front().kind;
    EXPECT_EQ(outcome.overall.book_ghost_events, 0u);
    EXPECT_EQ(outcome.overall.registers, outcome.overall.deregisters);
    EXPECT_EQ(outcome.backend, backend());
  }
}

TEST_P(PeerPlacementTest, OpenLoopFromThePeerIsOneWayOnly) {
  const auto outcome = run_scenario(scenario(R"("kind": "udp", "count": 4, "active": 4)",
                                             R"("phases": [{"name": "p", "messages": 400,
                                "load": {"mode": "open", "rate_per_second": 4000}}])"),
                                    {});
  const auto& figures = outcome.phases[0].figures;
  EXPECT_EQ(figures.sent, 400u);
  EXPECT_EQ(figures.messages, 400u);
  EXPECT_EQ(figures.missed_events, 0u);
  EXPECT_EQ(figures.round_trip.count(), 0u);
  // The rate asked for is the peer's: the near side, which only receives, asks for none.
  EXPECT_DOUBLE_EQ(figures.target_rate, 4000);
  EXPECT_EQ(figures.open_loop_sent, 400u);
  EXPECT_GE(figures.seconds, 0.09);  // the schedule set the pace
  EXPECT_TRUE(outcome.leaks.empty());
}

// Phases follow one another on both sides: each phase's messages are its own, and each side's
// leak check runs on its own Poll.
TEST_P(PeerPlacementTest, PhasesAndPollerThreadsMergeExactly) {
  const auto outcome = run_scenario(scenario(R"("kind": "tcp", "count": 6, "active": 4)",
                                             R"("threads": 2, "phases": [
                    {"name": "a", "messages": 300, "leak_check": true},
                    {"name": "b", "duration_ms": 150, "load": {"mode": "closed", "in_flight": 3},
                     "leak_check": true}])"),
                                    {});
  ASSERT_EQ(outcome.phases.size(), 2u);
  for (const auto& phase : outcome.phases) {
    SCOPED_TRACE(phase.name);
    EXPECT_EQ(phase.figures.messages, phase.figures.sent);
    EXPECT_EQ(phase.figures.missed_events, 0u);
    EXPECT_EQ(phase.figures.spurious_events, 0u);
    EXPECT_TRUE(phase.leak_checked);
    EXPECT_TRUE(phase.leaks.empty());
  }
  EXPECT_GE(outcome.phases[0].figures.messages, 300u - 4);
  EXPECT_GT(outcome.phases[1].figures.messages, 0u);
  EXPECT_TRUE(outcome.leaks.empty());
  EXPECT_EQ(outcome.overall.registers, outcome.overall.deregisters);
}

TEST_P(PeerPlacementTest, FaultsAtTeardownAreFoundExactly) {
  const auto outcome = run_scenario(scenario(R"("kind": "tcp", "count": 8, "active": 4)",
                                             R"("phases": [{"name": "p", "messages": 200}],
                  "faults": {"leak": 2, "close_before_deregister": 1, "dup_then_close": 1,
                             "peer_reset": 1})"),
                                    {});
  EXPECT_EQ(count_of(outcome, "leaked"), 2u);
  EXPECT_EQ(count_of(outcome, "vanished"), 1u);
  EXPECT_EQ(count_of(outcome, "zombie"), 1u);
  EXPECT_EQ(outcome.leaks.size(), 4u);
}

// A reset from the peer's own thread or process reaches the registered end; the dropped source's
// peer goes on sending, and its events are ghosts; nothing is missed and the leaks are exact.
TEST_P(PeerPlacementTest, FaultsUnderLoadShowAsGhostsResetsAndExactLeaks) {
  const auto outcome = run_scenario(scenario(R"("kind": "tcp", "count": 12, "active": 8)",
                                             R"("phases": [{"name": "warm", "messages": 200},
                             {"name": "hit", "duration_ms": 300, "leak_check": true,
                              "load": {"mode": "open", "rate_per_second": 4000}}],
                  "faults": {"leak": 1, "close_before_deregister": 1, "dup_then_close": 1,
                             "peer_reset": 1, "phase": "hit"})"),
                                    {});
  ASSERT_EQ(outcome.phases.size(), 2u);
  const auto& warm = outcome.phases[0];
  const auto& hit = outcome.phases[1];
  EXPECT_EQ(warm.figures.ghost_events, 0u);
  EXPECT_EQ(warm.figures.missed_events, 0u);
  EXPECT_GT(hit.figures.ghost_events, 0u);
  EXPECT_EQ(hit.figures.peer_resets_observed, 1u);
  EXPECT_EQ(hit.figures.missed_events, 0u);
  EXPECT_EQ(hit.figures.spurious_events, 0u);
  EXPECT_GT(hit.figures.messages, 0u);
  ASSERT_TRUE(hit.leak_checked);
  std::multiset<std::string> during;
  for (const auto& leak : hit.leaks) during.insert(leak.kind);
  EXPECT_EQ(during, (std::multiset<std::string>{"vanished", "zombie"}));
  EXPECT_EQ(count_of(outcome, "leaked"), 1u);
  EXPECT_EQ(count_of(outcome, "vanished"), 1u);
  EXPECT_EQ(count_of(outcome, "zombie"), 1u);
  EXPECT_EQ(outcome.leaks.size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(BackendsAndPlacements, PeerPlacementTest,
                         ::testing::Combine(::testing::Values("epoll", "poll"),
                                            ::testing::Values("same_loop", "thread", "process")),
                         [](const auto& instance) {
                           return std::string(std::get<0>(instance.param)) + "_" +
                                  std::get<1>(instance.param);
                         });

using Wakeup = std::tuple<const char*, const char*>;  // backend, kind

class WakeupTest : public ::testing::TestWithParam<Wakeup> {};

// A wake-up from the peer thread returns the poll once per message, and both Polls end with
// nothing registered (the Waker's own registration included).
TEST_P(WakeupTest, EveryWakeIsDispatchedOnceAndNothingLeaks) {
  const std::string text = R"({"format": 1, "name": "wake", "description": "wake-ups",
      "backend": ")" + std::string(std::get<0>(GetParam())) +
                           R"(", "sockets": {"kind": ")" + std::get<1>(GetParam()) +
                           R"(", "count": 1, "active": 1, "peer": "thread"},
      "phases": [{"name": "p", "messages": 1000, "payload_bytes": 16, "leak_check": true}]})";
  auto parsed = parse_scenario(nlohmann::json::parse(text), "literal");
  ASSERT_TRUE(std::holds_alternative<Scenario>(parsed)) << std::get<Problem>(parsed).to_string();
  const auto outcome = run_scenario(std::get<Scenario>(parsed), {});
  const auto& figures = outcome.phases.at(0).figures;
  EXPECT_GE(figures.messages, 1000u - 1);
  EXPECT_EQ(figures.messages, figures.sent);
  EXPECT_EQ(figures.missed_events, 0u);
  EXPECT_EQ(figures.spurious_events, 0u);
  EXPECT_EQ(figures.latency.count(), figures.messages);
  EXPECT_EQ(figures.round_trip.count(), figures.messages - 1);
  EXPECT_TRUE(outcome.phases[0].leaks.empty());
  EXPECT_TRUE(outcome.leaks.empty());
  EXPECT_EQ(outcome.overall.registers, outcome.overall.deregisters);
}

INSTANTIATE_TEST_SUITE_P(BackendsAndKinds, WakeupTest,
                         ::testing::Combine(::testing::Values("epoll", "poll"),
                                            ::testing::Values("waker", "eventfd")),
                         [](const auto& instance) {
                           return std::string(std::get<0>(instance.param)) + "_" +
                                  std::get<1>(instance.param);
                         });

// A stop during set-up ends it at once: nothing more is made or registered, and the faults of a
// set-up cut short are not injected (a worker of scale_100k once spent seconds making its pairs,
// deaf to Ctrl-C, and was killed). Here the stop comes before the first pair.
TEST(SetUpStop, AStopDuringSetUpMakesAndRegistersNothingMore) {
  // (A peer process needs pollscope's own SIGINT handler, which a test does not install.)
  for (const char* peer : {"same_loop", "thread"}) {
    const std::string text = R"({"format": 1, "name": "stop", "description": "stopped at once",
        "sockets": {"kind": "tcp", "count": 400, "active": 2, "peer": ")" +
                             std::string(peer) + R"("}, "faults": {"leak": 1},
        "phases": [{"name": "p", "duration_ms": 10000}]})";
    auto parsed = parse_scenario(nlohmann::json::parse(text), "literal");
    ASSERT_TRUE(std::holds_alternative<Scenario>(parsed)) << std::get<Problem>(parsed).to_string();
    std::atomic<bool> stop{true};
    RunOptions options;
    options.stop = &stop;
    const auto outcome = run_scenario(std::get<Scenario>(parsed), options);
    EXPECT_TRUE(outcome.interrupted) << peer;
    EXPECT_TRUE(outcome.phases.empty()) << peer;
    EXPECT_EQ(outcome.overall.registers, 0u) << peer;
    EXPECT_TRUE(outcome.leaks.empty()) << peer;
  }
}

using test_support::message_now;
using test_support::read_to_end;
using test_support::wait_for_queue;
using test_support::write_whole;

class ScriptedPeerTest : public test_support::ScriptedPeer {};

// A message half-written when its phase's drain runs out is finished in the next phase: the
// stream stays whole, and the reader frames that rest as the phase that sent it did, and drops
// it. Before, the reader dropped the head it held, and read the next phase from the middle of the
// old message: every message after it out of step, its stamps taken from the old one's zeros.
TEST_P(ScriptedPeerTest, AMessageHalfWrittenWhenAPhaseEndsLeavesTheNextPhaseInStep) {
  start(Side::near, R"([
      {"name": "a", "duration_ms": 10000, "load": {"mode": "open", "rate_per_second": 1000}},
      {"name": "b", "duration_ms": 10000, "load": {"mode": "open", "rate_per_second": 1000}}])");
  ASSERT_TRUE(channel_->await_begin(0, nullptr));
  const std::vector<std::byte> first = message_now(64);
  ASSERT_TRUE(write_whole(*pair_.a, std::span(first).first(40)));
  channel_->tell_stopped(1);  // the near side waits a second for the rest, then ends the phase
  ASSERT_TRUE(channel_->await_begin(1, nullptr));
  ASSERT_TRUE(write_whole(*pair_.a, std::span(first).subspan(40)));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(write_whole(*pair_.a, message_now(64)));
  channel_->tell_stopped(100);
  const RunOutcome outcome = finish();
  ASSERT_EQ(outcome.phases.size(), 2u);
  EXPECT_EQ(outcome.phases[0].figures.messages, 0u);
  EXPECT_EQ(outcome.phases[0].figures.missed_events, 1u);  // not whole within its phase
  const Figures& next = outcome.phases[1].figures;
  EXPECT_EQ(next.messages, 100u);
  EXPECT_EQ(next.missed_events, 0u);
  EXPECT_EQ(next.latency.count(), 100u);
  // Each sent a moment after its phase began (the old rest would have said 0: seconds ago).
  EXPECT_LT(next.latency.max(), 500'000'000u);
}

// A peer that writes as fast as it is read never lets the socket say would-block: the reader
// reads a bounded amount at a time and looks at its deadline, a stop and its peer in between.
// Here the peer has more queued than one read takes, and has already said it stopped (after one
// message): the phase ends once that is seen, with most of it unread. Before, the reader read
// to would-block first, whatever it was told meanwhile.
TEST_P(ScriptedPeerTest, AReaderSeesItsPeersStopBeforeItHasReadEverything) {
  Link& writer = *pair_.a;
  for (const int option : {SO_SNDBUFFORCE, SO_SNDBUF}) {  // the first needs CAP_NET_ADMIN
    const int bytes = 8 << 20;
    if (::setsockopt(writer.fd(), SOL_SOCKET, option, &bytes, sizeof bytes) == 0) break;
  }
  std::vector<std::byte> chunk;
  for (int i = 0; i < 4096; ++i) {
    const std::vector<std::byte> message = message_now(16);
    chunk.insert(chunk.end(), message.begin(), message.end());
  }
  std::size_t queued = 0;
  for (auto written = writer.write(chunk); written;
       written = writer.write(std::span(chunk).subspan(queued % chunk.size()))) {
    queued += *written;
  }
  if (queued < (1u << 20)) {
    GTEST_SKIP() << "the socket queues " << queued << " bytes, not more than a few reads take";
  }
  channel_->tell_stopped(1);
  start(Side::near, R"([{"name": "p", "duration_ms": 10000, "payload_bytes": 16,
                         "load": {"mode": "open", "rate_per_second": 1000}}])");
  const RunOutcome outcome = finish();
  const Figures& figures = outcome.phases.at(0).figures;
  EXPECT_GT(figures.messages, 0u);
  EXPECT_LT(figures.messages, queued / 16);
  EXPECT_EQ(figures.missed_events, 0u);
}

// A closed loop whose peer is elsewhere says, when it stops, how many messages it sent: only
// those it wrote. The messages it still owed are dropped unsent, and so, as the run ends with this
// phase, is the one its socket took part of (in an earlier phase, the next one writes its rest).
// Before, it counted all of them, and its peer, told so, waited for them in vain and reported
// them missed; the one begun was still counted and told of, though never finished.
TEST_P(ScriptedPeerTest, AClosedLoopTellsItsPeerOnlyWhatItWrote) {
  start(Side::far, R"([{"name": "p", "duration_ms": 10000, "payload_bytes": 65536,
                        "load": {"mode": "closed", "in_flight": 64}}])");
  channel_->tell_begin(0);
  // 64 messages of 64 KiB each, of which the socket takes a few: this side reads none of them.
  ASSERT_TRUE(wait_for_queue(*pair_.b, 2 * 65536));
  channel_->tell_stopped(0);
  const RunOutcome outcome = finish();
  const std::optional<std::uint64_t> told = channel_->listen().stopped_after;
  const std::size_t bytes = read_to_end(*pair_.b);
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(*told, bytes / 65536);
  EXPECT_EQ(outcome.phases.at(0).figures.sent, bytes / 65536);
}

// A peer that goes away leaves what waits for its socket unwritable: dropped, and taken back out
// of the messages sent, with any answer written after. Before, a flush that met the peer gone
// dropped the message it was writing and a send its answer, both still counted as sent.
TEST_P(ScriptedPeerTest, APeerGoneTakesBackWhatCouldNotBeWritten) {
  start(Side::near, R"([{"name": "p", "duration_ms": 10000, "payload_bytes": 65536,
                         "load": {"mode": "closed", "in_flight": 1}}])");
  ASSERT_TRUE(channel_->await_begin(0, nullptr));
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(write_whole(*pair_.a, message_now(65536)));
  // The answers fill the near side's socket (this side reads none), and wait.
  ASSERT_TRUE(wait_for_queue(*pair_.a, 2 * 65536));
  ASSERT_EQ(::shutdown(pair_.a->fd(), SHUT_RD), 0);  // its next write fails: EPIPE
  const std::size_t bytes = read_to_end(*pair_.a);
  ASSERT_TRUE(write_whole(*pair_.a, message_now(65536)));  // its answer cannot go either
  channel_->tell_stopped(17);
  const RunOutcome outcome = finish();
  const Figures& figures = outcome.phases.at(0).figures;
  EXPECT_EQ(figures.messages, 17u);
  EXPECT_EQ(figures.missed_events, 0u);
  EXPECT_EQ(figures.sent, bytes / 65536) << bytes << " bytes written";
}

INSTANTIATE_TEST_SUITE_P(Backends, ScriptedPeerTest, ::testing::Values("epoll", "poll"));

TEST(PeerScenarioCheck, RefusesWhatAPeerCannotDo) {
  const auto problem = [](const std::string& sockets, const std::string& phase) {
    const std::string text = R"({"format": 1, "name": "bad", "description": "bad",
        "sockets": {)" + sockets +
                             R"(}, "phases": [{"name": "p", "messages": 10)" + phase + "}]}";
    auto parsed = parse_scenario(nlohmann::json::parse(text), "bad.json");
    const auto* found = std::get_if<Problem>(&parsed);
    return found == nullptr ? std::string() : found->to_string();
  };
  EXPECT_NE(problem(R"("kind": "pipe", "count": 1, "peer": "process")", "")
                .find("/sockets/peer: must be \"same_loop\" for sockets.kind \"pipe\""),
            std::string::npos);
  EXPECT_NE(problem(R"("kind": "tcp", "count": 1, "peer": "elsewhere")", "")
                .find("/sockets/peer: expected one of \"same_loop\", \"thread\", \"process\""),
            std::string::npos);
  EXPECT_NE(problem(R"("kind": "waker", "count": 1, "peer": "process")", "")
                .find("/sockets/peer: must be \"thread\""),
            std::string::npos);
  EXPECT_NE(problem(R"("kind": "waker", "count": 2, "peer": "thread")", "")
                .find("/sockets/count: must be 1"),
            std::string::npos);
  EXPECT_NE(problem(R"("kind": "eventfd", "count": 2, "peer": "thread")",
                    R"(, "load": {"mode": "closed", "in_flight": 2})")
                .find("/phases/0/load: must be a closed loop with in_flight 1"),
            std::string::npos);
  EXPECT_EQ(problem(R"("kind": "eventfd", "count": 2, "peer": "thread")", ""), "");
}

}  // namespace
}  // namespace pollscope

// What a stream holds when a phase ends, and when the run does: bytes left over from phases
// before are framed as their own phase framed them, and a message the socket took only part of
// when nothing will write its rest is not sent. The test plays the other side of the pair
// (scripted_peer.hpp), or holds the far ends of crossed pipes, so that it can stop reading.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.hpp"
#include "engine/poller.hpp"
#include "libpoll/poll.hpp"
#include "scenario/scenario.hpp"
#include "scripted_peer.hpp"

namespace pollscope {
namespace {

using test_support::message_now;
using test_support::read_to_end;
using test_support::wait_for_queue;
using test_support::write_whole;

class PhaseEndScriptedPeerTest : public test_support::ScriptedPeer {};

// Three phases of 64, 100 and 40-byte messages. The far side's socket stays full through two
// drains: the first phase's message is 40 bytes in when its drain runs out, the second phase
// gets none of its own message out, and the third writes both rests, then its own messages.
// The reader frames each leftover as its own phase did (64 bytes, then 100) and drops it.
// Before, it framed both with the second phase's 100 bytes: the 64-byte message took 36 bytes
// of the next one with it, and the third phase was read out of step (99 messages, 1 missed,
// every latency 0 from stamps read out of the middle of messages).
TEST_P(PhaseEndScriptedPeerTest, BytesFromTwoPhasesBackAreFramedAsTheirOwnPhaseFramedThem) {
  start(Side::near, R"([
      {"name": "a", "duration_ms": 10000, "payload_bytes": 64,
       "load": {"mode": "open", "rate_per_second": 1000}},
      {"name": "b", "duration_ms": 10000, "payload_bytes": 100,
       "load": {"mode": "open", "rate_per_second": 1000}},
      {"name": "c", "duration_ms": 10000, "payload_bytes": 40,
       "load": {"mode": "open", "rate_per_second": 1000}}])");
  ASSERT_TRUE(channel_->await_begin(0, nullptr));
  const std::vector<std::byte> first = message_now(64);
  ASSERT_TRUE(write_whole(*pair_.a, std::span(first).first(40)));
  channel_->tell_stopped(1);  // the near side waits a second for the rest, then ends the phase
  ASSERT_TRUE(channel_->await_begin(1, nullptr));
  const std::vector<std::byte> second = message_now(100);
  channel_->tell_stopped(1);  // its drain runs out too: the stream is still in the first message
  ASSERT_TRUE(channel_->await_begin(2, nullptr));
  ASSERT_TRUE(write_whole(*pair_.a, std::span(first).subspan(40)));
  ASSERT_TRUE(write_whole(*pair_.a, second));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(write_whole(*pair_.a, message_now(40)));
  channel_->tell_stopped(100);
  const RunOutcome outcome = finish();
  ASSERT_EQ(outcome.phases.size(), 3u);
  for (std::size_t phase = 0; phase < 2; ++phase) {
    EXPECT_EQ(outcome.phases[phase].figures.messages, 0u) << phase;
    EXPECT_EQ(outcome.phases[phase].figures.missed_events, 1u) << phase;  // not whole in time
  }
  const Figures& last = outcome.phases[2].figures;
  EXPECT_EQ(last.messages, 100u);
  EXPECT_EQ(last.missed_events, 0u);
  EXPECT_EQ(last.latency.count(), 100u);
  // Each sent a moment before it arrived: stamps read out of step are in the future (0) or long
  // past.
  EXPECT_GT(last.latency.min(), 0u);
  EXPECT_LT(last.latency.max(), 500'000'000u);
}

// The far side's last phase stops with a message its socket took only part of: the socket holds
// less than one message (SO_SNDBUF 8 KiB, the kernel doubles it), and this side reads nothing
// until the run is over. Its rest is never written, so it is neither sent nor told of; an open
// loop counts it as a late send, like what it still owed. Before, it counted as sent and was
// told of (a real peer, told so, waited for it in vain and reported it missed).
TEST_P(PhaseEndScriptedPeerTest, AMessagePartlyWrittenWhenTheRunEndsIsNotSent) {
  const int small = 8192;
  ASSERT_EQ(::setsockopt(pair_.a->fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  start(Side::far, R"([{"name": "p", "duration_ms": 10000, "payload_bytes": 65536,
                        "load": {"mode": "open", "rate_per_second": 1000}}])");
  channel_->tell_begin(0);
  ASSERT_TRUE(wait_for_queue(*pair_.b, 1));  // the first message is begun, and never finished
  channel_->tell_stopped(0);                 // this side sent nothing: the far side stops
  const RunOutcome outcome = finish();
  const std::optional<std::uint64_t> told = channel_->listen().stopped_after;
  const std::size_t bytes = read_to_end(*pair_.b);
  ASSERT_GT(bytes, 0u);
  ASSERT_LT(bytes, 65536u) << "the socket took a whole message";
  const Figures& figures = outcome.phases.at(0).figures;
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(*told, 0u);
  EXPECT_EQ(figures.sent, 0u);
  EXPECT_EQ(figures.open_loop_sent, 0u);
  EXPECT_GE(figures.late_sends, 1u);
  EXPECT_EQ(figures.messages, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, PhaseEndScriptedPeerTest, ::testing::Values("epoll", "poll"));

class PhaseEndPipeTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    libpoll::PollOptions options;
    options.backend = libpoll::parse_backend(GetParam()).value_or(libpoll::Backend::automatic);
    if (!libpoll::Poll::create(options)) GTEST_SKIP() << GetParam() << " is unavailable here";
  }
};

// The same in one loop, both ends on one poller: it writes into one pipe and reads another,
// whose other ends this test holds (two pipes, crossed). The pipe it writes holds one page, and
// this test reads nothing: the first message is begun and never finished, the drain runs out,
// and the run ends. Its rest is never written: neither sent nor missed, a late send. Before, it
// counted as sent, and as missed.
TEST_P(PhaseEndPipeTest, AMessagePartlyWrittenWhenTheRunEndsIsNotSent) {
  std::vector<LinkPair> pipes = make_pairs(SocketKind::pipe, 2);
  std::swap(pipes[0].a, pipes[1].a);  // the poller's pair writes pipe 1 and reads pipe 0
  const int size = ::fcntl(pipes[0].a->fd(), F_SETPIPE_SZ, 4096);
  ASSERT_GT(size, 0);
  ASSERT_LT(size, 65536);
  const std::string text = R"({"format": 1, "name": "full", "description": "a full pipe",
      "backend": ")" + std::string(GetParam()) +
                           R"(", "sockets": {"kind": "pipe", "count": 1, "active": 1},
      "phases": [{"name": "p", "duration_ms": 50, "payload_bytes": 65536,
                  "load": {"mode": "open", "rate_per_second": 1000}}]})";
  auto parsed = parse_scenario(nlohmann::json::parse(text), "literal");
  ASSERT_TRUE(std::holds_alternative<Scenario>(parsed)) << std::get<Problem>(parsed).to_string();
  const Scenario scenario = std::get<Scenario>(std::move(parsed));
  const RunOptions options;
  PollerPart part{{}, 1, 0, false, Side::both, std::nullopt};
  part.pairs.push_back(std::move(pipes[0]));
  const RunOutcome outcome = Poller(scenario, options, std::move(part)).run();
  const std::size_t bytes = read_to_end(*pipes[1].b);  // the poller closed its writing end
  ASSERT_EQ(bytes, static_cast<std::size_t>(size)) << "the pipe took part of one message";
  const Figures& figures = outcome.phases.at(0).figures;
  EXPECT_EQ(figures.sent, 0u);
  EXPECT_EQ(figures.open_loop_sent, 0u);
  EXPECT_EQ(figures.missed_events, 0u);
  EXPECT_GE(figures.late_sends, 1u);
  EXPECT_EQ(figures.messages, 0u);
  EXPECT_TRUE(outcome.leaks.empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, PhaseEndPipeTest,
                         ::testing::Values("epoll", "poll", "io_uring"));

}  // namespace
}  // namespace pollscope

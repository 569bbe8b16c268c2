#pragma once

// The test as one side of a pair and its channel, an engine poller on the other: what no engine
// side does (a message stopped half-way, a flood, a reader that stops reading, a peer that goes
// away), with the bytes that really crossed counted by the test.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <cstdint>
#include <cstring>
#include <future>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/clock.hpp"
#include "engine/engine.hpp"
#include "engine/poller.hpp"
#include "scenario/scenario.hpp"

namespace pollscope::test_support {

inline constexpr std::uint64_t kGiveUpNs = 5'000'000'000;  // what a scripted side waits at most

// A message as the engine lays it out: its stamps (sent now, and due now), then zeros.
inline std::vector<std::byte> message_now(std::size_t bytes) {
  const std::uint64_t now = Clock::get().now_ns();
  const Stamps stamps{now, now};
  std::vector<std::byte> message(bytes);
  std::memcpy(message.data(), &stamps, sizeof stamps);
  return message;
}

// Writes all of `data`, waiting (a bounded while) for room.
inline bool write_whole(Link& link, std::span<const std::byte> data) {
  const std::uint64_t give_up = Clock::monotonic_ns() + kGiveUpNs;
  while (!data.empty()) {
    auto written = link.write(data);
    if (written) {
      data = data.subspan(*written);
      continue;
    }
    if (!libpoll::is_would_block(written.error()) || Clock::monotonic_ns() > give_up) return false;
    pollfd wait{link.fd(), POLLOUT, 0};
    (void)::poll(&wait, 1, 100);
  }
  return true;
}

// Waits (a bounded while) until `link` has at least `bytes` to read.
inline bool wait_for_queue(Link& link, int bytes) {
  const std::uint64_t give_up = Clock::monotonic_ns() + kGiveUpNs;
  for (int queued = 0; ::ioctl(link.fd(), FIONREAD, &queued) == 0;) {
    if (queued >= bytes) return true;
    if (Clock::monotonic_ns() > give_up) return false;
    pollfd wait{link.fd(), POLLIN, 0};
    (void)::poll(&wait, 1, 10);
  }
  return false;
}

// Reads until the end of the stream (its writer closed, or this end was shut for reading).
inline std::size_t read_to_end(Link& link) {
  const std::uint64_t give_up = Clock::monotonic_ns() + kGiveUpNs;
  std::vector<std::byte> buffer(65536);
  std::size_t total = 0;
  for (;;) {
    auto got = link.read(buffer);
    if (got && *got == 0) return total;
    if (got) {
      total += *got;
      continue;
    }
    if (!libpoll::is_would_block(got.error()) || Clock::monotonic_ns() > give_up) return total;
    pollfd wait{link.fd(), POLLIN, 0};
    (void)::poll(&wait, 1, 100);
  }
}

// One Unix pair and its channel, an engine poller on one side (on a thread of its own) and this
// test on the other: the test writes, reads and speaks the channel itself, so that it can do
// what no engine side does (write more than one read takes, stop reading, go away, stop half-way
// through a message) and count what really crossed.
class ScriptedPeer : public ::testing::TestWithParam<const char*> {
 protected:
  ScriptedPeer() {
    pair_ = std::move(make_pairs(SocketKind::unix_stream, 1).at(0));
    auto [engine, test] = PeerChannel::make();
    engine_channel_.emplace(std::move(engine));
    channel_.emplace(std::move(test));
  }

  // The engine's poller on `side`, with `phases`: the near side holds the registered end (b),
  // and the test the far one (a); the far side holds a, and the test b.
  void start(Side side, const std::string& phases) {
    const std::string text = R"({"format": 1, "name": "scripted", "description": "a scripted peer",
        "backend": ")" + std::string(GetParam()) +
                             R"(", "sockets": {"kind": "unix", "count": 1, "active": 1,
        "peer": "thread"}, "phases": )" +
                             phases + "}";
    auto parsed = parse_scenario(nlohmann::json::parse(text), "literal");
    ASSERT_TRUE(std::holds_alternative<Scenario>(parsed)) << std::get<Problem>(parsed).to_string();
    scenario_ = std::get<Scenario>(std::move(parsed));
    PollerPart part{{}, 1, 0, false, side, std::move(engine_channel_)};
    part.pairs.push_back(side == Side::far ? LinkPair{std::move(pair_.a), nullptr, true}
                                           : LinkPair{nullptr, std::move(pair_.b), true});
    engine_ = std::async(std::launch::async, [this, part = std::move(part)]() mutable {
      return Poller(scenario_, options_, std::move(part)).run();
    });
  }

  // The engine's outcome, once its run is over.
  [[nodiscard]] RunOutcome finish() { return engine_.get(); }

  // The poller refers to the scenario and the options, and its future waits for it: declared
  // before the test's ends, which close first, so that a poller still waiting for them ends.
  Scenario scenario_;
  RunOptions options_;
  std::future<RunOutcome> engine_;
  LinkPair pair_;
  std::optional<PeerChannel> engine_channel_;
  std::optional<PeerChannel> channel_;
};

}  // namespace pollscope::test_support

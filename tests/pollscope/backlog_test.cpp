// What a full socket or pipe could not take is written once it drains, on every backend: a
// pipe's writing end is registered (edge-triggered) while something waits for it, and a two-way
// end keeps writable in its interest while its outbox waits, whatever its toggles do.

#include <gtest/gtest.h>

#include <string>

#include "engine/engine.hpp"
#include "libpoll/poll.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {
namespace {

class BacklogTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    libpoll::PollOptions options;
    options.backend = libpoll::parse_backend(GetParam()).value_or(libpoll::Backend::automatic);
    if (!libpoll::Poll::create(options)) GTEST_SKIP() << GetParam() << " is unavailable here";
  }

  // Two pairs of `kind` and a closed loop of 256 messages of 64 KiB (a whole pipe's worth, its
  // default size), `in_flight` at once per pair, with `extra` in the phase.
  [[nodiscard]] Scenario scenario(const std::string& kind, int in_flight,
                                  const std::string& extra = "") const {
    const std::string text = R"({"format": 1, "name": "full", "description": "backlogs",
        "backend": ")" + std::string(GetParam()) +
                             R"(", "sockets": {"kind": ")" + kind +
                             R"(", "count": 2, "active": 2}, "phases": [{"name": "p",
        "messages": 256, "payload_bytes": 65536, "load": {"mode": "closed", "in_flight": )" +
                             std::to_string(in_flight) + "}" + extra + "}]}";
    auto parsed = parse_scenario(nlohmann::json::parse(text), "literal");
    if (auto* error = std::get_if<Problem>(&parsed)) {
      ADD_FAILURE() << error->to_string();
      return {};
    }
    Scenario made = std::get<Scenario>(std::move(parsed));
    made.phases.at(0).duration_ms = 2000;  // a guard: a backlog never written never ends
    return made;
  }
};

void expect_every_message_arrived(const RunOutcome& outcome) {
  const Figures& figures = outcome.phases.at(0).figures;
  EXPECT_EQ(figures.sent, 256u);
  EXPECT_EQ(figures.messages, figures.sent);
  EXPECT_EQ(figures.missed_events, 0u);
  EXPECT_EQ(figures.spurious_events, 0u);
  EXPECT_EQ(figures.ghost_events, 0u);
  EXPECT_EQ(figures.latency.count(), figures.messages);
  EXPECT_TRUE(outcome.leaks.empty()) << outcome.leaks.front().kind;
  EXPECT_EQ(outcome.overall.book_ghost_events, 0u);
  EXPECT_EQ(outcome.overall.registers, outcome.overall.deregisters);
}

// Four messages in flight on a pipe are four times what it holds: the rest wait in the outbox
// until the reader drains the pipe, whose writable edge then writes them. Before, a pipe's
// writing end was never registered, and the rest waited for good.
TEST_P(BacklogTest, AFullPipeIsWrittenAgainAsItsReaderDrainsIt) {
  const RunOutcome outcome = run_scenario(scenario("pipe", 4), {});
  expect_every_message_arrived(outcome);
  // The writing ends, registered while a pipe was full, were deregistered like the others.
  EXPECT_GT(outcome.overall.registers, 2u);
}

// A write_interest toggle adds writable around a write and takes it off after: not while what
// the socket did not take still waits for it. Before, the backlog of a full socket whose write
// was wrapped waited for good.
TEST_P(BacklogTest, AWrappedWriteLeavesWritableOnWhileTheSocketIsFull) {
  const RunOutcome outcome = run_scenario(
      scenario("unix", 16, R"(, "toggle": {"pattern": "write_interest", "every_events": 1})"), {});
  expect_every_message_arrived(outcome);
  EXPECT_GT(outcome.phases.at(0).figures.toggles, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, BacklogTest, ::testing::Values("epoll", "poll", "io_uring"));

}  // namespace
}  // namespace pollscope

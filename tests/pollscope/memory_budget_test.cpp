// The memory budget's estimate, term by term: a replay counts what the run really keeps (its
// trace, each poller's schedule as the scenario places the pairs, what it may owe), a capture its
// rings and flows, and what the budget leaves is the room the capture's matchers, then
// `run --pcap-out`, keep their messages and packets in.

#include <gtest/gtest.h>

#include <memory>

#include "scenario/memory.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {
namespace {

// `messages` replayed messages of 1000 bytes, message i on flow i mod 6.
std::shared_ptr<ReplayTrace> six_flows(std::size_t messages) {
  auto trace = std::make_shared<ReplayTrace>();
  trace->messages.reserve(messages);  // the capacity a trace read of this size may leave
  for (std::size_t i = 0; i < messages; ++i) {
    trace->messages.push_back({i * 1000, static_cast<std::uint32_t>(i % 6), 1000});
  }
  trace->flows = 6;
  trace->largest = 1000;
  return trace;
}

// `workers` of `threads` poller threads over 8 pairs, 4 active, running the one phase `phase`.
Scenario eight_pairs(std::uint32_t workers, std::uint32_t threads, Phase phase) {
  Scenario scenario;
  scenario.workers = workers;
  scenario.threads = threads;
  scenario.sockets.count = 8;
  scenario.sockets.active = 4;
  scenario.phases.push_back(std::move(phase));
  return scenario;
}

Scenario replaying(std::shared_ptr<ReplayTrace> trace, std::uint32_t workers,
                   std::uint32_t threads) {
  Phase phase;
  phase.name = "replay";
  phase.load = Replay{"t.pcap", 1, std::move(trace)};
  return eight_pairs(workers, threads, std::move(phase));
}

// 600 messages on 4 active pairs: flows 0 and 4 on pair 0, 1 and 5 on pair 1, 2 on pair 2, 3 on
// pair 3 (200, 200, 100 and 100 messages). Two workers of two pollers: one active pair each. A
// schedule of 200 grows to 256 slots, and holds 128 + 256 while it last grows: 384 slots; one of
// 100, 192.
TEST(ReplayMemoryTest, CountsTheTraceEachPollersScheduleAndWhatIsOwed) {
  const auto trace = six_flows(600);
  ASSERT_EQ(trace->messages.capacity(), 600u);
  const Scenario scenario = replaying(trace, 2, 2);
  const ReplayMemory memory = replay_memory(scenario, *trace);
  EXPECT_EQ(memory.trace, 600u * 16);
  EXPECT_EQ(memory.schedule_slots, 384u + 384 + 192 + 192);
  EXPECT_EQ(memory.schedules, (384u + 384 + 192 + 192) * 24);
  EXPECT_EQ(memory.owed, 600u * 20);
  EXPECT_EQ(memory.pairs, 4u * 2 * 1000);
  EXPECT_EQ(memory.flows, 6u * 208);
  EXPECT_EQ(memory.total(), 9600u + 27648 + 12000 + 8000 + 1248);
  EXPECT_EQ(phase_buffering_bytes(scenario, scenario.phases[0]), 58496u);
}

// One poller holds the whole schedule: 600 messages grow to 1024 slots, 1536 at the peak.
TEST(ReplayMemoryTest, OnePollerHoldsTheWholeSchedule) {
  const auto trace = six_flows(600);
  const Scenario scenario = replaying(trace, 1, 1);
  EXPECT_EQ(replay_memory(scenario, *trace).schedule_slots, 1536u);
  EXPECT_EQ(phase_buffering_bytes(scenario, scenario.phases[0]),
            9600u + 1536 * 24 + 12000 + 8000 + 1248);
}

// The estimate grows with what is kept: 60 bytes a message at least (16 in the trace, 24 in a
// schedule, 20 owed), not the 20 it counted, which let a 3,000,000-message trace that peaked at
// 175 MiB pass a 64 MiB budget.
TEST(ReplayMemoryTest, CountsSixtyBytesAMessageAtLeast) {
  for (const std::size_t messages : {6000u, 60000u}) {
    const Scenario scenario = replaying(six_flows(messages), 1, 1);
    EXPECT_GE(phase_buffering_bytes(scenario, scenario.phases[0]), messages * 60);
  }
}

// The refusal names the terms.
TEST(ReplayMemoryTest, TheRefusalNamesEachTerm) {
  const auto trace = six_flows(600);
  Scenario scenario = replaying(trace, 1, 1);
  const auto problem = check_memory_budget(scenario, "s.json", 0);
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->reason,
            "phase \"replay\" may buffer 1 MiB (the trace 1 MiB: 600 message slots x 16 bytes; "
            "the pollers' schedules 1 MiB: 1536 slots x 24 bytes at their peak, grown by "
            "doubling; 600 messages owed x 20 bytes; 4 active pairs x 2 x 1000 bytes of its "
            "largest message; 6 flows x 208 bytes while read), over the 0 MiB memory budget "
            "(--memory-budget MIB raises it)");
}

// What the budget leaves once the most demanding phase is counted: 4 pairs x (2 x 1400 + 16
// in flight x 16 bytes) = 12,224 bytes of a 16 MiB budget; nothing when the phase takes it all.
TEST(BudgetLeftTest, IsTheBudgetLessTheMostDemandingPhase) {
  Scenario scenario;
  scenario.sockets.count = 4;
  scenario.sockets.active = 4;
  Phase light;
  light.payload_bytes = 64;
  light.load = ClosedLoop{1};
  Phase heavy;
  heavy.payload_bytes = 1400;
  heavy.load = ClosedLoop{16};
  scenario.phases = {light, heavy};
  EXPECT_EQ(budget_left(scenario, 16), (std::uint64_t{16} << 20) - 12224);
  scenario.sockets.active = 1'000'000;
  EXPECT_EQ(budget_left(scenario, 1), 0u);
}

// A captured TCP scenario: `workers` of `threads` poller threads over 8 pairs, 4 active, one
// closed loop of 64-byte messages, 1 in flight: 4 x (2 x 64 + 16) = 576 bytes.
Scenario captured(std::uint32_t workers, std::uint32_t threads) {
  Phase phase;
  phase.name = "p";
  phase.load = ClosedLoop{1};
  Scenario scenario = eight_pairs(workers, threads, std::move(phase));
  scenario.capture = CaptureSpec{};
  return scenario;
}

// Each poller's ring (64 MiB as mapped for message heads) and two flows a TCP pair (168 bytes
// each) are counted for the whole run; the matchers share what the budget leaves past them and the
// phase, each up to 2^20 messages of 89 bytes, and --pcap-out has what they leave.
TEST(CaptureMemoryTest, CountsEachPollersRingAndTheMatchersShareWhatIsLeft) {
  const Scenario scenario = captured(2, 2);
  const CaptureMemory roomy = capture_memory(scenario, 1024);
  EXPECT_EQ(roomy.pollers, 4u);
  EXPECT_EQ(roomy.ring, 64u << 20);
  EXPECT_EQ(roomy.flows, 2u * 8 * 168);
  EXPECT_EQ(roomy.fixed(), (256u << 20) + 2688);
  EXPECT_EQ(roomy.records, 1u << 20);
  EXPECT_EQ(budget_left(scenario, 1024), (1024u << 20) - 576 - roomy.fixed() - 4 * (1u << 20) * 89);

  const CaptureMemory tight = capture_memory(scenario, 300);
  const std::uint64_t room = (300u << 20) - 576 - tight.fixed();
  EXPECT_EQ(tight.records, room / 4 / 89);
  EXPECT_LT(tight.records, 1u << 20);
  EXPECT_EQ(budget_left(scenario, 300), room % (4 * 89));
  EXPECT_EQ(capture_memory(scenario, 256).records, 0u);

  Scenario uncaptured = scenario;
  uncaptured.capture.reset();
  EXPECT_EQ(capture_memory(uncaptured, 1024).total(), 0u);
  EXPECT_EQ(budget_left(uncaptured, 1024), (1024u << 20) - 576);
}

// A replay over TCP captures whole packets: a ring of 256 MiB as mapped.
TEST(CaptureMemoryTest, WholePacketsTakeALargerRing) {
  Scenario scenario = replaying(six_flows(600), 1, 1);
  scenario.capture = CaptureSpec{};
  EXPECT_EQ(capture_memory(scenario, 1024).ring, 256u << 20);
}

// A run whose capture cannot fit beside its most demanding phase is refused before it starts,
// with the same one line as any other phase over the budget.
TEST(CaptureMemoryTest, ARunWhoseCaptureCannotFitIsRefused) {
  const Scenario scenario = captured(2, 2);
  const auto problem = check_memory_budget(scenario, "s.json", 256);
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->path, "/phases/0");
  EXPECT_EQ(problem->reason,
            "phase \"p\" may buffer 1 MiB (4 active pairs x (2 x 64 payload bytes + 1 messages "
            "owed x 16 bytes)), beside the capture's 257 MiB (4 pollers x a 64 MiB ring and 16 "
            "flows x 168 bytes), over the 256 MiB memory budget (--memory-budget MIB raises it)");
  EXPECT_FALSE(check_memory_budget(scenario, "s.json", 257).has_value());
}

}  // namespace
}  // namespace pollscope

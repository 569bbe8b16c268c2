// The engine, called directly with scenario literals, on loopback.

#include "engine/engine.hpp"
#include "engine/fan_out.hpp"
#include "engine/ticker.hpp"

#include "figures/catalogue.hpp"
#include "libpoll/poll.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>

#include "report/report.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {
namespace {

Scenario scenario_from(const std::string& text) {
  auto parsed = parse_scenario(nlohmann::json::parse(text), "literal");
  if (auto* error = std::get_if<Problem>(&parsed)) {
    ADD_FAILURE() << error->to_string();
    return {};
  }
  return std::get<Scenario>(std::move(parsed));
}

std::string tiny(const std::string& kind, const std::string& backend,
                 const std::string& phase_extra = "", const std::string& extra = "") {
  return R"({"format": 1, "name": "tiny", "description": "engine test", "backend": ")" + backend +
         R"(", "sockets": {"kind": ")" + kind +
         R"(", "count": 8, "active": 4}, "phases": [{"name": "p", "messages": 400)" + phase_extra +
         "}]" + extra + "}";
}

std::uint64_t count_of(const RunOutcome& outcome, const std::string& kind) {
  std::uint64_t count = 0;
  for (const auto& leak : outcome.leaks) count += leak.kind == kind;
  return count;
}

// Each test on each backend; io_uring only where this kernel offers it.
class EngineTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    libpoll::PollOptions options;
    options.backend = libpoll::parse_backend(GetParam()).value_or(libpoll::Backend::automatic);
    if (!libpoll::Poll::create(options)) GTEST_SKIP() << GetParam() << " is unavailable here";
  }
};

TEST_P(EngineTest, ClosedLoopDeliversEveryMessageOnEveryKindAndLeaksNothing) {
  for (const char* kind : {"tcp", "unix", "udp", "pipe"}) {
    SCOPED_TRACE(kind);
    const auto outcome = run_scenario(scenario_from(tiny(kind, GetParam())), {});
    ASSERT_EQ(outcome.phases.size(), 1u);
    const auto& figures = outcome.phases[0].figures;
    EXPECT_GE(figures.messages, 400u);
    EXPECT_EQ(figures.messages, figures.sent);
    EXPECT_EQ(figures.missed_events, 0u);
    EXPECT_EQ(figures.spurious_events, 0u);
    EXPECT_EQ(figures.latency.count(), figures.messages);
    EXPECT_GT(figures.latency.min(), 0u);
    EXPECT_EQ(outcome.overall.book_ghost_events, 0u);
    EXPECT_TRUE(outcome.leaks.empty()) << outcome.leaks.front().kind;
    EXPECT_EQ(outcome.backend, GetParam());
    EXPECT_EQ(outcome.overall.registers, outcome.overall.deregisters);
  }
}

TEST_P(EngineTest, InterestTogglingKeepsEveryMessageAndReportsNoSpuriousEvents) {
  for (const char* pattern :
       {"readable_writable", "write_interest", "reregister_cycle", "deregister_cycle"}) {
    SCOPED_TRACE(pattern);
    const auto outcome = run_scenario(
        scenario_from(tiny("tcp", GetParam(),
                           std::string(R"(, "toggle": {"pattern": ")") + pattern + R"("})")),
        {});
    const auto& figures = outcome.phases[0].figures;
    EXPECT_GE(figures.messages, 400u);
    EXPECT_EQ(figures.missed_events, 0u);
    EXPECT_EQ(figures.spurious_events, 0u);
    EXPECT_TRUE(outcome.leaks.empty());
    EXPECT_GT(outcome.overall.reregisters + outcome.overall.registers, 16u)
        << "the pattern changed nothing";
  }
}

// A poll waits whole milliseconds. For a send it waits the whole milliseconds short of it (the
// loop then polls without waiting until it is due), so that no send goes out late by the
// rounding; for anything else it rounds up. Before, a send due in 0.25 ms got a 1 ms wait.
TEST(PollWait, ASendIsWaitedForShortOfItsTimeAnythingElseRoundedUp) {
  EXPECT_EQ(poll_wait_ms(0.25, true), 0);
  EXPECT_EQ(poll_wait_ms(0.25, false), 1);
  EXPECT_EQ(poll_wait_ms(4.3, true), 4);
  EXPECT_EQ(poll_wait_ms(4.3, false), 5);
  EXPECT_EQ(poll_wait_ms(0, false), 0);
  EXPECT_EQ(poll_wait_ms(-2, true), 0);
  EXPECT_EQ(poll_wait_ms(250, true), 100);
  EXPECT_EQ(poll_wait_ms(250, false), 100);
  EXPECT_EQ(poll_wait_ms(99.5, false), 100);
}

// 1e9 / 1e-300 ns is infinite, and its first tick NaN, which every comparison called due: a
// tick was always due, forever. Such a rate never ticks.
TEST(TickerTest, ARateWithNoFiniteIntervalNeverTicks) {
  Ticker never(1e-300, 1'000, 0);
  EXPECT_FALSE(never.active());
  EXPECT_FALSE(never.take(UINT64_MAX / 2).has_value());
  EXPECT_EQ(never.sooner(5.0), 5.0);
  Ticker slowest(0.001, 1'000, 1);  // the slowest a scenario may ask for: one every 1000 s
  EXPECT_TRUE(slowest.active());
  EXPECT_FALSE(slowest.take(1'000).has_value());
  EXPECT_EQ(slowest.take(1'000 + 1'000'000'000'000), 1'000 + 1e12);
}

// What `job` prints, run in a child process that a hang or a crash cannot take the suite with:
// "hung" when it does not end within `seconds`, "died" when it dies.
std::string in_child(const std::function<std::string()>& job, unsigned seconds) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return "pipe failed";
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(pipe_fds[0]);
    ::alarm(seconds);
    std::string text;
    try {
      text = job();
    } catch (const std::exception& error) {
      text = error.what();
    }
    (void)!::write(pipe_fds[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string text;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGALRM ? "hung" : "died";
  return text;
}

// A rate validation refuses (it has no interval a schedule can keep), handed to the engine as it
// is: the phase sends nothing and ends at its time. It sent forever, growing until bad_alloc.
TEST(EngineBoundsTest, AnOpenLoopRateWithNoIntervalSendsNothingAndEndsOnTime) {
  Scenario scenario = scenario_from(tiny("tcp", "automatic"));
  scenario.phases[0].messages.reset();
  scenario.phases[0].duration_ms = 200;
  scenario.phases[0].load = OpenLoop{1e-300};
  const std::string result = in_child(
      [&] {
        const auto figures = run_scenario(scenario, {}).phases[0].figures;
        return fmt::format("sent {}, {}", figures.sent,
                           figures.seconds < 1.5 ? "on time" : std::to_string(figures.seconds));
      },
      20);
  EXPECT_EQ(result, "sent 0, on time");
}

// One TCP pair asked for 5,000,000 messages a second, more than it carries: what it cannot take
// is owed up to a second of its schedule (80 MB of stamps), then not sent, and counted late. It
// grew for the whole phase (1.2 GB in 10 s), and the backlog written after the phase's time
// outlasted the drain and counted as missed.
TEST(EngineBoundsTest, AnOpenLoopFasterThanItsSocketOwesASecondAtMostAndEndsOnTime) {
  const Scenario scenario = scenario_from(
      R"({"format": 1, "name": "fast", "description": "faster than one pair",
          "sockets": {"kind": "tcp", "count": 1, "active": 1},
          "phases": [{"name": "p", "duration_ms": 2500,
                      "load": {"mode": "open", "rate_per_second": 5000000}}]})");
  const std::string result = in_child(
      [&] {
        const auto status_kib = [](const char* key) {
          std::ifstream status("/proc/self/status");
          for (std::string line; std::getline(status, line);) {
            if (line.starts_with(key)) return std::stoull(line.substr(std::strlen(key)));
          }
          return 0ULL;
        };
        const auto before = status_kib("VmRSS:");
        const auto outcome = run_scenario(scenario, {});
        const auto& f = outcome.phases[0].figures;
        const auto grown_mib =
            (status_kib("VmHWM:") - std::min(before, status_kib("VmHWM:"))) >> 10;
        return fmt::format("grown {} MiB, {}, {}, {}, {}, {}", grown_mib,
                           f.messages == f.sent ? "all written arrived" : "written lost",
                           f.missed_events == 0 ? "none missed" : "missed",
                           f.late_sends > 0 ? "late counted" : "none late",
                           f.open_loop_sent == f.sent ? "ratio of written" : "ratio of queued",
                           f.seconds < 3.0 ? "on time" : fmt::format("{:.1f} s", f.seconds));
      },
      30);
  const std::string rest = result.substr(std::min(result.find(','), result.size()));
  EXPECT_EQ(rest, ", all written arrived, none missed, late counted, ratio of written, on time")
      << result;
  // 5e6 stamps of 16 bytes at most (76 MiB), and the deque's blocks.
  const auto grown = std::strtoull(result.c_str() + 6, nullptr, 10);
  EXPECT_LT(grown, 110u) << result;
}

// Faults that validation now refuses (every active pair of a phase that ends after its
// messages), handed to the engine as they are: the phase ends once nothing it sent is in flight.
// It never ended: nothing was left to send its messages, and it had no time limit.
TEST(EngineBoundsTest, APhaseWhoseFaultsLeaveNoPairForItsMessagesEnds) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"closed", R"("leak": 2)"},
      {"closed", R"("close_before_deregister": 2)"},
      {"closed", R"("dup_then_close": 2)"},
      {"closed", R"("peer_reset": 2)"},
      {"open", R"("close_before_deregister": 1, "peer_reset": 1)"},
  };
  for (const auto& [mode, faults] : cases) {
    const std::string load = mode == "closed" ? R"({"mode": "closed", "in_flight": 1})"
                                              : R"({"mode": "open", "rate_per_second": 1000})";
    Scenario scenario = scenario_from(
        R"({"format": 1, "name": "stranded", "description": "faults take every active pair",
            "sockets": {"kind": "tcp", "count": 4, "active": 2},
            "phases": [{"name": "p", "messages": 1000, "load": )" +
        load + "}], \"faults\": {" + faults + "}}");
    scenario.faults.phase = "p";  // validation refuses this: the engine must still end
    const std::string result = in_child(
        [&] {
          const auto outcome = run_scenario(scenario, {});
          return fmt::format("ended, {} leaks", outcome.leaks.size());
        },
        10);
    EXPECT_TRUE(result.starts_with("ended")) << mode << " " << faults << ": " << result;
  }
}

TEST_P(EngineTest, OpenLoopSendsOnScheduleAndMeasuresFromTheIntendedTime) {
  const auto outcome =
      run_scenario(scenario_from(tiny("udp", GetParam(),
                                      R"(, "load": {"mode": "open", "rate_per_second": 4000})")),
                   {});
  const auto& figures = outcome.phases[0].figures;
  EXPECT_EQ(figures.sent, 400u);
  EXPECT_EQ(figures.messages, 400u);
  EXPECT_DOUBLE_EQ(figures.target_rate, 4000);
  // 400 messages at 4000/s take about 0.1 s: the schedule, not the loop, set the pace.
  EXPECT_GE(figures.seconds, 0.09);
  EXPECT_GE(figures.latency.max(), figures.uncorrected.min());
}

TEST_P(EngineTest, InjectedFaultsAreFoundExactly) {
  const auto outcome =
      run_scenario(scenario_from(tiny("tcp", GetParam(), "",
                                      R"(, "faults": {"leak": 2, "close_before_deregister": 1,
                             "dup_then_close": 1, "peer_reset": 1})")),
                   {});
  EXPECT_EQ(count_of(outcome, "leaked"), 2u);
  EXPECT_EQ(count_of(outcome, "vanished"), 1u);
  EXPECT_EQ(count_of(outcome, "zombie"), 1u);
  EXPECT_EQ(outcome.leaks.size(), 4u);
  for (const auto& leak : outcome.leaks) {
    EXPECT_NE(leak.site.find("engine/"), std::string::npos) << "a site names the call";
  }
}

// A dropped or dup'd end's peer goes on sending, best effort: a message is sent when the socket
// took it whole. Nobody reads the faulted end, so its buffer fills after a few 64 KiB messages,
// and the rest are never sent (late sends, in an open loop). They all counted as sent before.
TEST_P(EngineTest, FaultedPairsCountOnlyWhatTheirSocketTook) {
  for (const char* fault : {"leak", "dup_then_close"}) {
    SCOPED_TRACE(fault);
    const auto outcome = run_scenario(
        scenario_from(R"({"format": 1, "name": "full", "description": "a faulted pair fills",
                          "backend": ")" +
                      std::string(GetParam()) + R"(",
                          "sockets": {"kind": "unix", "count": 2, "active": 2},
                          "phases": [{"name": "p", "duration_ms": 300, "payload_bytes": 65536,
                                      "load": {"mode": "open", "rate_per_second": 2000}}],
                          "faults": {")" +
                      fault + R"(": 1, "phase": "p"}})"),
        {});
    const Figures& figures = outcome.phases.at(0).figures;
    // Half of the 600 sends go to the healthy pair, and arrive; the faulted one takes a few.
    EXPECT_GT(figures.messages, 200u);
    EXPECT_EQ(figures.missed_events, 0u);
    EXPECT_LE(figures.sent, figures.messages + 16);
    EXPECT_GE(figures.late_sends, 200u);
    EXPECT_EQ(figures.open_loop_sent, figures.sent);
  }
}

// The pairs a single process can hold under the hard descriptor limit: two per pair, less the
// margin pollscope keeps for its poller's Poll, listeners and stdio (under 128).
std::uint64_t pairs_within_hard_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_max == RLIM_INFINITY) return UINT64_MAX;
  return limit.rlim_max > 128 ? (limit.rlim_max - 128) / 2 : 0;
}

// As many closed-before-deregister faults as the audit remembers, among thousands of others:
// every one is found, and nothing else. Under a hard descriptor limit too low for 2,000 pairs (a
// container builder allows 1,024) the scenario shrinks to fit, its faults in the same proportions.
TEST_P(EngineTest, ThousandsOfFaultsAreFoundExactly) {
  const std::uint64_t pairs = std::min<std::uint64_t>(2000, pairs_within_hard_limit());
  if (pairs < 100) GTEST_SKIP() << "the hard RLIMIT_NOFILE holds fewer than 100 pairs";
  if (pairs < 2000) {
    RecordProperty("shrunk_to_pairs", std::to_string(pairs));
  }
  const std::uint64_t leak = pairs / 4, vanished = pairs * 1024 / 2000, zombie = pairs / 5;
  const auto outcome = run_scenario(
      scenario_from(R"({"format": 1, "name": "many", "description": "many faults", "backend": ")" +
                    std::string(GetParam()) + R"(", "sockets": {"kind": "unix", "count": )" +
                    std::to_string(pairs) +
                    R"(, "active": 4}, "phases": [{"name": "p", "duration_ms": 50}],
                        "faults": {"leak": )" +
                    std::to_string(leak) + R"(, "close_before_deregister": )" +
                    std::to_string(vanished) + R"(, "dup_then_close": )" + std::to_string(zombie) +
                    "}}"),
      {});
  EXPECT_EQ(count_of(outcome, "leaked"), leak);
  EXPECT_EQ(count_of(outcome, "vanished"), vanished);
  EXPECT_EQ(count_of(outcome, "zombie"), zombie);
  EXPECT_EQ(outcome.leaks.size(), leak + vanished + zombie);
}

TEST_P(EngineTest, WorkerProcessesMergeTheirResultsExactly) {
  const auto outcome =
      run_scenario(scenario_from(R"({"format": 1, "name": "workers", "description": "two processes",
                        "backend": ")" +
                                 std::string(GetParam()) + R"(", "workers": 2,
                        "sockets": {"kind": "unix", "count": 10, "active": 4},
                        "phases": [{"name": "p", "duration_ms": 200}],
                        "faults": {"leak": 1}})"),
                   {});
  const auto& figures = outcome.phases[0].figures;
  EXPECT_GT(figures.messages, 0u);
  EXPECT_EQ(figures.latency.count(), figures.messages);
  EXPECT_EQ(outcome.overall.messages, figures.messages);
  EXPECT_EQ(count_of(outcome, "leaked"), 1u) << "faults go to one worker, found once";
  EXPECT_EQ(outcome.overall.registers, 20u) << "both ends of all 10 pairs, across the two workers";
}

TEST_P(EngineTest, PollerThreadsEachRunTheirOwnPollAndMergeExactly) {
  const auto outcome =
      run_scenario(scenario_from(R"({"format": 1, "name": "threads", "description": "three pollers",
                        "backend": ")" +
                                 std::string(GetParam()) + R"(", "threads": 3,
                        "sockets": {"kind": "tcp", "count": 9, "active": 6},
                        "phases": [{"name": "p", "duration_ms": 200}],
                        "faults": {"dup_then_close": 1}})"),
                   {});
  const auto& figures = outcome.phases[0].figures;
  EXPECT_GT(figures.messages, 0u);
  EXPECT_EQ(figures.latency.count(), figures.messages);
  EXPECT_EQ(figures.missed_events, 0u);
  EXPECT_EQ(count_of(outcome, "zombie"), 1u);
  EXPECT_EQ(outcome.leaks.size(), 1u);
  EXPECT_EQ(outcome.overall.registers, 18u) << "both ends of all 9 pairs, across the three threads";
}

// Every poller thread toggling at a rate under open-loop load, with faults injected mid-run in
// the first: the threads share only the process (and run under ThreadSanitizer in CI).
TEST_P(EngineTest, PollerThreadsToggleAndTakeFaultsUnderLoad) {
  const auto outcome =
      run_scenario(scenario_from(R"({"format": 1, "name": "threads", "description": "busy pollers",
                        "backend": ")" +
                                 std::string(GetParam()) + R"(", "threads": 2,
                        "sockets": {"kind": "tcp", "count": 10, "active": 8},
                        "phases": [{"name": "p", "duration_ms": 200,
                                    "load": {"mode": "open", "rate_per_second": 4000},
                                    "toggle": {"pattern": "readable_writable",
                                               "rate_per_second": 1000}}],
                        "faults": {"dup_then_close": 1, "peer_reset": 1, "phase": "p"}})"),
                   {});
  const auto& figures = outcome.phases[0].figures;
  EXPECT_GT(figures.messages, 0u);
  EXPECT_GT(figures.toggles, 0u);
  EXPECT_EQ(figures.missed_events, 0u);
  EXPECT_EQ(figures.spurious_events, 0u);
  EXPECT_EQ(figures.peer_resets_observed, 1u);
  std::string leaks;
  for (const auto& leak : outcome.leaks) {
    leaks += leak.kind + " fd " + std::to_string(leak.fd) + ": " + leak.detail + "\n";
  }
  // Another poller's registration may take the closed number first: the book then retires the
  // entry as stale, and its audit still names the zombie on every backend.
  EXPECT_EQ(count_of(outcome, "zombie"), 1u) << leaks;
  EXPECT_EQ(outcome.leaks.size(), 1u) << leaks;
}

// Faults injected at the start of a phase meet its traffic: the peers of the dropped and the
// dup'd sources go on sending, so their tokens come back as ghost events; the reset reaches its
// registered end, which deregisters and closes it; the healthy pairs lose nothing. The phase's
// leak check sees what the kernel and the book disagree on; the dropped source only counts as
// leaked at teardown, once everything else has been deregistered.
TEST_P(EngineTest, FaultsInjectedUnderLoadShowAsGhostsResetsAndExactLeaks) {
  const auto outcome = run_scenario(
      scenario_from(R"({"format": 1, "name": "midrun", "description": "faults under load",
                        "backend": ")" +
                    std::string(GetParam()) + R"(",
                        "sockets": {"kind": "tcp", "count": 12, "active": 8},
                        "phases": [{"name": "warm", "messages": 200},
                                   {"name": "hit", "duration_ms": 300, "leak_check": true,
                                    "load": {"mode": "open", "rate_per_second": 4000}}],
                        "faults": {"leak": 1, "close_before_deregister": 1,
                                   "dup_then_close": 1, "peer_reset": 1, "phase": "hit"}})"),
      {});
  ASSERT_EQ(outcome.phases.size(), 2u);
  const auto& warm = outcome.phases[0];
  const auto& hit = outcome.phases[1];
  EXPECT_EQ(warm.figures.ghost_events, 0u) << "nothing is injected before its phase";
  EXPECT_FALSE(warm.leak_checked);
  EXPECT_GT(hit.figures.ghost_events, 0u) << "the dropped source's peer goes on sending";
  EXPECT_EQ(hit.figures.peer_resets_observed, 1u);
  EXPECT_EQ(hit.figures.missed_events, 0u);
  EXPECT_EQ(hit.figures.spurious_events, 0u);
  EXPECT_GT(hit.figures.messages, 0u);
  // The zombie kept its token in libpoll's book (it was never deregistered): not a book ghost.
  EXPECT_EQ(outcome.overall.book_ghost_events, 0u);

  ASSERT_TRUE(hit.leak_checked);
  std::multiset<std::string> during;
  for (const auto& leak : hit.leaks) during.insert(leak.kind);
  EXPECT_EQ(during, (std::multiset<std::string>{"vanished", "zombie"}));

  EXPECT_EQ(count_of(outcome, "leaked"), 1u);
  EXPECT_EQ(count_of(outcome, "vanished"), 1u);
  EXPECT_EQ(count_of(outcome, "zombie"), 1u);
  EXPECT_EQ(outcome.leaks.size(), 3u);
}

// Every k events means every k writes for write_interest (it wraps writes), and every k readable
// events of an end for the others: each end counts its own.
TEST_P(EngineTest, TogglesEveryKEventsCountWhatTheyWrap) {
  const auto wrap_writes = run_scenario(
      scenario_from(tiny("tcp", GetParam(),
                         R"(, "toggle": {"pattern": "write_interest", "every_events": 4})")),
      {});
  const auto& writes = wrap_writes.phases[0].figures;
  // The 8 ends of the 4 active pairs each wrap every 4th of their own writes.
  EXPECT_LE(writes.toggles * 4, writes.sent);
  EXPECT_GE(writes.toggles * 4 + 8 * 3, writes.sent);
  EXPECT_EQ(writes.missed_events, 0u);

  const auto flip_reads = run_scenario(
      scenario_from(tiny("tcp", GetParam(),
                         R"(, "toggle": {"pattern": "reregister_cycle", "every_events": 3})")),
      {});
  const auto& reads = flip_reads.phases[0].figures;
  EXPECT_GT(reads.toggles, 0u);
  EXPECT_LE(reads.toggles * 3, reads.events);
  EXPECT_EQ(flip_reads.overall.reregisters, reads.toggles);
}

// Toggles at a rate follow their schedule whatever the traffic: a tick missed while the loop
// was busy is applied on the next turn, so the count is the rate times the sending time.
TEST_P(EngineTest, TogglesAtARateFollowTheScheduleAndLoseNothing) {
  for (const char* pattern :
       {"readable_writable", "write_interest", "reregister_cycle", "deregister_cycle"}) {
    SCOPED_TRACE(pattern);
    const auto outcome =
        run_scenario(scenario_from(tiny("tcp", GetParam(),
                                        std::string(R"(, "toggle": {"pattern": ")") + pattern +
                                            R"(", "rate_per_second": 2000})")),
                     {});
    const auto& figures = outcome.phases[0].figures;
    EXPECT_GE(figures.messages, 400u);
    EXPECT_EQ(figures.missed_events, 0u);
    EXPECT_EQ(figures.spurious_events, 0u);
    EXPECT_TRUE(outcome.leaks.empty());
    EXPECT_GT(figures.toggles, 0u);
    // Never more than the schedule allows over the whole phase (one tick of slack).
    EXPECT_LE(static_cast<double>(figures.toggles), 2000 * figures.seconds + 1);
  }

  // An idle run still churns: the ticks go round every pair when none is active.
  const auto idle = run_scenario(
      scenario_from(R"({"format": 1, "name": "idle", "description": "churn without traffic",
                        "backend": ")" +
                    std::string(GetParam()) + R"(",
                        "sockets": {"kind": "unix", "count": 20, "active": 0},
                        "phases": [{"name": "churn", "duration_ms": 200,
                                    "toggle": {"pattern": "deregister_cycle",
                                               "rate_per_second": 1000}}]})"),
      {});
  const auto& churn = idle.phases[0].figures;
  // 200 ticks are due in 200 ms; the loop catches up on any it was late for, at the end too,
  // however busy the machine kept it.
  EXPECT_GE(churn.toggles, 199u);
  EXPECT_LE(churn.toggles, 201u);
  EXPECT_EQ(idle.overall.registers, 40u + churn.toggles);
  EXPECT_EQ(churn.events, 0u);
  EXPECT_TRUE(idle.leaks.empty());
}

// An open-loop rate is the whole run's: worker processes split it (and the message count) by
// their share of the active pairs, and the merged target is the rate asked for.
TEST_P(EngineTest, WorkersSplitTheOpenLoopRateAndTheMessageCount) {
  const auto outcome = run_scenario(
      scenario_from(R"({"format": 1, "name": "split", "description": "two processes, one rate",
                        "backend": ")" +
                    std::string(GetParam()) + R"(", "workers": 2,
                        "sockets": {"kind": "udp", "count": 8, "active": 4},
                        "phases": [{"name": "p", "messages": 400,
                                    "load": {"mode": "open", "rate_per_second": 4000}}]})"),
      {});
  const auto& figures = outcome.phases[0].figures;
  EXPECT_DOUBLE_EQ(figures.target_rate, 4000);
  EXPECT_EQ(figures.sent, 400u);
  EXPECT_EQ(figures.messages, 400u);
  // 400 messages at 4000/s in total take about 0.1 s, not 0.05 s.
  EXPECT_GE(figures.seconds, 0.09);
}

INSTANTIATE_TEST_SUITE_P(Backends, EngineTest, ::testing::Values("epoll", "poll", "io_uring"));

// Phases run one after another: the overall target rate is their time-weighted mean. Workers run
// side by side: their target rates add. (The overall achieved_rate_ratio does not use it: see
// catalogue_test.cpp.)
TEST(FiguresTest, SequentialPhasesAverageTheTargetRateAndWorkersAddIt) {
  Figures first;
  first.seconds = 1;
  first.target_rate = 1000;
  Figures second;
  second.seconds = 3;
  second.target_rate = 2000;
  Figures overall = first;
  merge_figures(overall, second, Combine::sequential);
  EXPECT_DOUBLE_EQ(overall.seconds, 4);
  EXPECT_DOUBLE_EQ(overall.target_rate, 1750);

  RunOutcome worker;
  worker.overall = first;
  RunOutcome other;
  other.overall = second;
  worker.merge(other);
  EXPECT_DOUBLE_EQ(worker.overall.seconds, 3);
  EXPECT_DOUBLE_EQ(worker.overall.target_rate, 3000);
}

TEST(EngineLimitTest, MoreDescriptorsThanOneProcessMayHoldIsAClearErrorBeforeAnythingRuns) {
  const auto scenario = scenario_from(
      R"({"format": 1, "name": "huge", "description": "too big for one process",
          "sockets": {"kind": "unix", "count": 100000, "active": 1},
          "phases": [{"name": "p", "duration_ms": 10}]})");
  try {
    (void)run_scenario(scenario, {});
    FAIL() << "expected a Failure";
  } catch (const Failure& error) {
    EXPECT_EQ(error.code(), kExitEnvironment);
    const std::string message = error.what();
    EXPECT_NE(message.find("RLIMIT_NOFILE"), std::string::npos) << message;
    // Two per pair, the poller's own four and the process's 64.
    EXPECT_NE(message.find("200068"), std::string::npos) << message;
    EXPECT_NE(message.find("\"workers\""), std::string::npos) << message;
  }
}

// The failure run_scenario throws under a hard descriptor limit of `hard`, from a child process (a
// lowered hard limit cannot be raised again).
std::string failure_under_hard_limit(const Scenario& scenario, rlim_t hard) {
  return in_child(
      [&]() -> std::string {
        const rlimit limit{hard, hard};
        if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return "setrlimit";
        (void)run_scenario(scenario, {});
        return "no failure";
      },
      60);
}

// Each poller holds descriptors of its own (its Poll, and with a peer elsewhere the peer's Poll
// and their channel): 480 unix pairs fit 1,024 at 2 per pair and 64 more, but not with 32
// pollers and their peer threads. The check up front says so; the run failed later with EMFILE,
// or, worse, blamed the peer.
TEST(EngineLimitTest, PollerThreadsAndTheirPeersCountTheirOwnDescriptors) {
  const auto scenario = scenario_from(
      R"({"format": 1, "name": "edge", "description": "pairs and pollers at the limit",
          "threads": 32, "sockets": {"kind": "unix", "count": 480, "active": 32, "peer": "thread"},
          "phases": [{"name": "p", "duration_ms": 10}]})");
  EXPECT_EQ(descriptors_needed(scenario), 480u * 2 + 32 * (2 * 4 + 2) + 64);
  const std::string message = failure_under_hard_limit(scenario, 1024);
  EXPECT_NE(message.find("needs 1344 descriptors per process"), std::string::npos) << message;
  EXPECT_NE(message.find("RLIMIT_NOFILE allows 1024"), std::string::npos) << message;
}

// A near side whose peer failed fails too ("the peer ended"): the peer's failure is the one
// reported, whatever their order.
TEST(EngineLimitTest, TheCauseIsReportedRatherThanThePeerThatEndedOfIt) {
  try {
    (void)run_side_by_side(3, [](std::size_t job) -> RunOutcome {
      if (job == 2) throw Failure::environment("socketpair: Too many open files");
      throw ConsequentFailure(kExitEnvironment, "the peer (thread) ended during phase p");
    });
    FAIL() << "expected a Failure";
  } catch (const Failure& error) {
    EXPECT_STREQ(error.what(), "socketpair: Too many open files");
  }
  try {
    (void)run_side_by_side(2, [](std::size_t) -> RunOutcome {
      throw ConsequentFailure(kExitEnvironment, "the peer (thread) ended during phase p");
    });
    FAIL() << "expected a Failure";
  } catch (const Failure& error) {
    EXPECT_STREQ(error.what(), "the peer (thread) ended during phase p");
  }
}

TEST(EngineLimitTest, TheAdviceNeverAsksForMoreWorkersThanAllowed) {
  const auto scenario = scenario_from(
      R"({"format": 1, "name": "huge", "description": "too big even for 64 workers",
          "sockets": {"kind": "unix", "count": 100000, "active": 1},
          "phases": [{"name": "p", "duration_ms": 10}]})");
  const std::string message = failure_under_hard_limit(scenario, 1024);
  EXPECT_NE(message.find("RLIMIT_NOFILE allows 1024"), std::string::npos) << message;
  EXPECT_NE(message.find("even 64 workers cannot hold 100000 pairs: lower sockets.count to at "
                         "most 30592"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("set \"workers\""), std::string::npos) << message;
}

}  // namespace
}  // namespace pollscope

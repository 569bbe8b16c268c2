// `pollscope trace` end to end: a C program that plants each class once (found exactly, with its
// sites), correct programs with no findings (a raw-epoll one with a forked child, the shipped
// example, a Python asyncio echo server and client), the exact finding when a Python script
// closes a socket before unregistering it, a libuv program with no error, a statically linked
// program refused, and the traced command's exit status passed through. Then the shapes a
// tracer gets wrong: threads at once, exec and posix_spawn, fork beside busy threads, and the
// return values and errno of failing calls. What slips past a wrapper of the obvious name, and a
// program run under several spellings of its path, are in trace_escapes_cli_test.cpp.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <set>
#include <string_view>

#include <gtest/gtest.h>

#include "held_program.hpp"
#include "trace_cli.hpp"

namespace pollscope::test_support {
namespace {

const std::string kPrograms = EPOLL_PROGRAMS;
const std::string kPython = "/usr/bin/python3";
const std::string kAsyncioEcho = (kSourceDir / "tests/pollscope/programs/asyncio_echo.py").string();

TEST_F(TraceCli, PlantedProgramFindsEachClassExactlyWithItsSite) {
  const auto report = trace({kPrograms, "planted"}, 0);
  EXPECT_EQ(count(report, "vanished"), 1u) << report.dump(2);
  EXPECT_EQ(count(report, "zombie"), 1u);
  EXPECT_EQ(count(report, "token_collision"), 1u);
  EXPECT_EQ(count(report, "closed_with_registrations"), 1u);
  EXPECT_EQ(count(report, "leaked"), 1u);
  EXPECT_EQ(count(report, "total"), 5u);
  EXPECT_EQ(count(report, "errors"), 2u);
  EXPECT_EQ(count(report, "warnings"), 3u);
  const auto& zombie = only(report, "zombie");
  EXPECT_EQ(zombie.at("token"), 2);
  EXPECT_EQ(zombie.at("ghost_events"), 2);
  EXPECT_EQ(zombie.at("severity"), "error");
  const auto& vanished = only(report, "vanished");
  EXPECT_EQ(vanished.at("token"), 1);
  EXPECT_TRUE(contains(vanished.at("detail").get<std::string>(), "lived on"));
  EXPECT_EQ(only(report, "token_collision").at("token"), 9);
  EXPECT_EQ(only(report, "closed_with_registrations").at("token"), 5);
  EXPECT_EQ(only(report, "leaked").at("token"), 3);
  const std::pair<const char*, const char*> planters[] = {{"vanished", "plant_vanished"},
                                                          {"zombie", "plant_zombie"},
                                                          {"token_collision", "plant_collision"},
                                                          {"leaked", "plant_duplicate"}};
  for (const auto& [kind, function] : planters) {
    const auto& detail = only(report, kind);
    EXPECT_TRUE(contains(detail.at("site").get<std::string>(), "epoll_programs.c:")) << kind;
    bool planted_there = false;
    for (const auto& frame : detail.at("stack")) planted_there |= frame.at("function") == function;
    EXPECT_TRUE(planted_there) << kind << " not registered in " << function;
  }
}

TEST_F(TraceCli, FailFlagsTurnFindingsIntoExitOne) {
  trace({kPrograms, "planted"}, 1, {"--fail-on-findings"});
  trace({kPrograms, "correct"}, 0, {"--fail-on-warnings"});
}

TEST_F(TraceCli, CorrectRawEpollProgramAndItsForkedChildHaveNoFindings) {
  const auto report = trace({kPrograms, "correct"}, 0);
  EXPECT_EQ(count(report, "total"), 0u) << report.dump(2);
  EXPECT_EQ(report.at("processes").size(), 2u);
}

#ifdef TCP_ECHO
// The one traced program that runs libpoll, so the one trace test that LIBPOLL_BACKEND moves:
// scripts/test.sh reruns it, and not the rest of TraceCli, on each forced backend.
class TraceLibpollProgram : public TraceCli {};

TEST_F(TraceLibpollProgram, ShippedExampleHasNoFindings) {
  // In a sanitizer build the example carries ASan, whose runtime insists on coming first in the
  // library list; the interposer comes first, harmlessly, so that check is turned off.
  const char* options = std::getenv("ASAN_OPTIONS");
  const std::string asan_options =
      std::string(options != nullptr ? options : "") + ":verify_asan_link_order=0";
  ::setenv("ASAN_OPTIONS", asan_options.c_str(), 1);
  const auto report = trace({TCP_ECHO, "5"}, 0);
  // Forced onto io_uring (LIBPOLL_BACKEND), the example watches its sockets through a ring:
  // trace says, once, that it cannot see into it, and finds nothing else.
  const char* backend = std::getenv("LIBPOLL_BACKEND");
  const bool through_ring = backend != nullptr && std::string_view(backend) == "io_uring";
  EXPECT_EQ(count(report, "total"), through_ring ? 1u : 0u) << report.dump(2);
  if (through_ring) EXPECT_EQ(only(report, "io_uring").at("severity"), "warning");
}
#endif

TEST_F(TraceCli, AsyncioEchoServerAndClientHaveNoFindings) {
  const auto report = trace({kPython, kAsyncioEcho, "correct"}, 0);
  EXPECT_EQ(count(report, "total"), 0u) << report.dump(2);
}

TEST_F(TraceCli, AsyncioSocketClosedBeforeUnregisteringIsFoundExactly) {
  const auto report = trace({kPython, kAsyncioEcho, "close-early"}, 0);
  EXPECT_EQ(count(report, "total"), 1u) << report.dump(2);
  const auto& vanished = only(report, "vanished");
  EXPECT_EQ(vanished.at("severity"), "warning");
  EXPECT_EQ(vanished.at("token").get<std::uint64_t>() & 0xffffffffu,
            vanished.at("fd").get<std::uint64_t>());  // asyncio's selectors use the fd as data
}

#ifdef UV_ECHO
TEST_F(TraceCli, LibuvProgramHasNoErrorOnlyItsTeardownWarnings) {
  const auto report = trace({UV_ECHO}, 0);
  EXPECT_EQ(count(report, "errors"), 0u) << report.dump(2);
  // libuv 1.44 closes its signal pipe and async eventfd at uv_loop_close without EPOLL_CTL_DEL,
  // then the epoll fd itself (see the README).
  for (const auto& detail : report.at("leaks").at("details")) {
    EXPECT_EQ(detail.at("kind"), "vanished");
    EXPECT_TRUE(contains(detail.at("detail").get<std::string>(), "loop's teardown"));
  }
}
#endif

TEST_F(TraceCli, StaticallyLinkedProgramIsRefused) {
  const auto outcome = pollscope({"trace", "--", STATIC_PROGRAM});
  EXPECT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "statically linked")) << outcome.err;
}

TEST_F(TraceCli, IntervalWritesTheFindingsWhileTheCommandRuns) {
  using namespace std::chrono_literals;
  // pollscope's stdin is the traced program's: it runs until the test closes it.
  HeldProgram traced({POLLSCOPE_BINARY, "trace", "--quiet", "--interval", "0.05", "--out", out_,
                      "--", kPrograms, "planted"});
  ASSERT_TRUE(traced.first_line(10s).has_value());
  // The program has planted its zombie when it says "ready"; a document written before that may
  // be there already, so wait (bounded) for one written after it.
  json running;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(out_)) {
      running = parse_report(read_file(out_));
      if (count(running, "zombie") == 1u) break;
    }
    sleep_briefly(20ms);
  }
  ASSERT_TRUE(running.is_object()) << "no findings written while it ran";
  EXPECT_EQ(count(running, "zombie"), 1u) << running.dump(2);  // already happened
  EXPECT_TRUE(running.at("running").get<bool>());
  EXPECT_TRUE(running.at("exit_status").is_null());
  EXPECT_EQ(count(running, "leaked"), 0u);  // not yet: it still runs
  EXPECT_EQ(traced.release(10s), 0);
  const auto finished = parse_report(read_file(out_));
  EXPECT_FALSE(finished.at("running").get<bool>());
  EXPECT_EQ(finished.at("exit_status"), 0);
  EXPECT_EQ(count(finished, "total"), 5u);
}

// The interposer's books under eight threads churning registrations at once: every planted
// registration found, nothing invented.
TEST_F(TraceCli, ThreadsChurningAtOnceFindExactlyWhatEachPlanted) {
  const auto report = trace({TRACED_SHAPES, "threads"}, 0);
  EXPECT_EQ(count(report, "vanished"), 8u) << report.dump(2);
  EXPECT_EQ(count(report, "total"), 8u);
  EXPECT_EQ(tokens_of(report),
            (std::set<std::uint64_t>{1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007}));
}

TEST_F(TraceCli, ExecAndPosixSpawnPassTheInterposerOn) {
  for (const char* mode : {"exec", "spawn"}) {
    const auto report = trace({TRACED_SHAPES, mode}, 0);
    EXPECT_EQ(count(report, "total"), 1u) << mode << report.dump(2);
    EXPECT_EQ(only(report, "vanished").at("token"), 77) << mode;
  }
}

// close_range(2) ends registrations as close does: both found, under their tokens.
TEST_F(TraceCli, CloseRangeEndsEveryRegistrationInItsRange) {
  const auto report = trace({TRACED_SHAPES, "close-range"}, 0);
  EXPECT_EQ(count(report, "vanished"), 2u) << report.dump(2);
  EXPECT_EQ(count(report, "total"), 2u);
  EXPECT_EQ(tokens_of(report), (std::set<std::uint64_t>{78, 79}));
}

TEST_F(TraceCli, SummaryLineCountsInWords) {
  const auto outcome = pollscope({"trace", "--", TRACED_SHAPES, "vanish"});
  EXPECT_TRUE(exited_with(outcome, 0));
  EXPECT_TRUE(contains(outcome.err, "pollscope trace: 1 process, 0 errors, 1 warning\n"))
      << outcome.err;
}

// A fork while other threads are inside the interposer: the child must not inherit its lock held.
TEST_F(TraceCli, ForkBesideBusyThreadsNeverHangsTheChild) {
  const auto report = trace({TRACED_SHAPES, "fork-threads"}, 0);
  EXPECT_EQ(count(report, "total"), 0u) << report.dump(2);
  EXPECT_EQ(report.at("processes").size(), 41u);
}

TEST_F(TraceCli, FailingCallsKeepTheirReturnValuesAndErrno) {
  ASSERT_TRUE(exited_with(run_program({TRACED_SHAPES, "errno"}), 0));  // the untraced reference
  const auto report = trace({TRACED_SHAPES, "errno"}, 0);
  EXPECT_EQ(count(report, "total"), 0u) << outcome_.err;
}

// As `run` does: an --out that cannot be written is refused before the command runs, not after.
TEST_F(TraceCli, AnOutThatCannotBeWrittenIsRefusedBeforeTheCommandRuns) {
  const std::string ran = dir_ / "ran";
  const auto outcome = pollscope({"trace", "--interval", "0.01", "--out", "/nonexistent/x.json",
                                  "--", "/bin/sh", "-c", "touch " + ran});
  EXPECT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "/nonexistent/x.json: the folder /nonexistent does not exist"))
      << outcome.err;
  EXPECT_FALSE(std::filesystem::exists(ran)) << "the command ran";
}

// Checking a FIFO before the command runs must not open it: its reader would take that close
// for the end of the document, and the document's own open would then wait for no one.
TEST_F(TraceCli, AnOutFifoGetsTheWholeReport) {
  const std::string fifo = dir_ / "report.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  auto received = std::async(std::launch::async, [&fifo] { return read_file(fifo); });
  const auto outcome =
      pollscope({"trace", "--quiet", "--out", fifo, "--", "true"}, std::chrono::seconds(10));
  if (received.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    // Release a reader still waiting for a writer, so that the test ends.
    const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (writer >= 0) ::close(writer);
  }
  EXPECT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  const std::string report = received.get();
  EXPECT_TRUE(parse_report(report).is_object()) << report.substr(0, 200);
}

// CLI::Range lets NaN through; NaN seconds made an int of milliseconds out of nothing.
TEST_F(TraceCli, AnIntervalThatIsNotAFiniteNumberIsRefused) {
  for (const std::string interval : {"nan", "inf", "1e400"}) {
    SCOPED_TRACE(interval);
    const auto outcome = pollscope({"trace", "--interval", interval, "--", "true"});
    EXPECT_TRUE(exited_with(outcome, 2));
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(contains(outcome.err, "--interval: must be a finite number")) << outcome.err;
  }
}

TEST_F(TraceCli, CommandsExitStatusPassesThrough) {
  const auto outcome = pollscope({"trace", "--quiet", "--", "/bin/sh", "-c", "exit 7"});
  EXPECT_TRUE(exited_with(outcome, 7));
}

// Zombies counted as the kernel holds them (traced_zombies.c): a close under a number an earlier
// zombie still holds ends its own registration, events under a token a live registration shares
// are not ghosts, a finding shows the mask last set, every zombie of a large set is found, and a
// worker's teardown is no error.
TEST_F(TraceCli, ACloseUnderAZombiesNumberEndsItsOwnRegistration) {
  const auto report = trace({TRACED_ZOMBIES, "reuse"}, 0);
  EXPECT_EQ(count(report, "zombie"), 1u) << report.dump(2);
  EXPECT_EQ(count(report, "vanished"), 1u);
  EXPECT_EQ(only(report, "zombie").at("token"), 1);
  EXPECT_EQ(only(report, "vanished").at("token"), 2);
}

TEST_F(TraceCli, EventsUnderATokenALiveRegistrationSharesAreNoGhosts) {
  const auto report = trace({TRACED_ZOMBIES, "token"}, 0);
  EXPECT_EQ(count(report, "zombie"), 1u) << report.dump(2);
  EXPECT_EQ(count(report, "token_collision"), 1u);
  EXPECT_EQ(only(report, "zombie").at("ghost_events"), 0);
  EXPECT_TRUE(contains(only(report, "zombie").at("detail").get<std::string>(),
                       "not counting events while a live registration"));
}

TEST_F(TraceCli, AZombieShowsTheMaskLastSet) {
  const auto report = trace({TRACED_ZOMBIES, "mask"}, 0);
  EXPECT_EQ(only(report, "zombie").at("interest"), "EPOLLIN") << report.dump(2);
}

TEST_F(TraceCli, EveryZombieOfALargeSetIsFound) {
  const auto report = trace({TRACED_ZOMBIES, "many", "400"}, 0);
  EXPECT_EQ(count(report, "zombie"), 400u) << report.at("leaks").dump();
  EXPECT_EQ(count(report, "vanished"), 0u);
}

TEST_F(TraceCli, AWorkersTeardownIsAWarningNotAnError) {
  const auto report = trace({TRACED_ZOMBIES, "teardown"}, 0, {"--fail-on-findings"});
  ASSERT_EQ(count(report, "zombie"), 1u) << report.dump(2);
  const auto& zombie = only(report, "zombie");
  EXPECT_EQ(zombie.at("severity"), "warning");
  EXPECT_TRUE(contains(zombie.at("detail").get<std::string>(), "loop's teardown"));
}

// A forked child keeps the books it inherited: closing its copy of a registered file its parent
// still holds is no finding (CorrectRawEpollProgramAndItsForkedChildHaveNoFindings), and a dup of
// its own that keeps the parent's registration alive, with an event under its token, is a zombie
// error found in the child.
TEST_F(TraceCli, AForkedChildsInheritedRegistrationsAreGradedAsTheParents) {
  const auto inherited = trace({TRACED_ZOMBIES, "inherited"}, 0, {"--fail-on-warnings"});
  EXPECT_EQ(count(inherited, "total"), 0u) << inherited.dump(2);

  const auto daemon = trace({TRACED_ZOMBIES, "daemon"}, 1, {"--fail-on-findings"});
  ASSERT_EQ(count(daemon, "total"), 1u) << daemon.dump(2);
  const auto& zombie = only(daemon, "zombie");
  EXPECT_EQ(zombie.at("severity"), "error");
  EXPECT_EQ(zombie.at("token"), 32);
  EXPECT_EQ(zombie.at("ghost_events"), 1);
  // The child's: its process's parent is the other traced process.
  std::set<long> pids;
  long parent_of_zombies_process = 0;
  for (const auto& process : daemon.at("processes")) {
    pids.insert(process.at("pid").get<long>());
    if (process.at("pid") == zombie.at("pid")) parent_of_zombies_process = process.at("parent");
  }
  EXPECT_EQ(pids.count(parent_of_zombies_process), 1u) << daemon.at("processes").dump();
}

// A registration of a shared set that the child removed is not the parent's leak at its exit.
TEST_F(TraceCli, ARegistrationAChildRemovedIsNotItsParentsLeak) {
  const auto report = trace({TRACED_ZOMBIES, "handover"}, 0, {"--fail-on-warnings"});
  EXPECT_EQ(count(report, "total"), 0u) << report.dump(2);
  EXPECT_EQ(report.at("processes").size(), 2u);
}

// Only what the parent had registered when its child removed it, before the fork or after:
// registrations the parent adds again after the child's DELs are its own, and graded.
TEST_F(TraceCli, WhatAParentRegistersAgainAfterItsChildRemovedItIsGraded) {
  const auto report = trace({TRACED_ZOMBIES, "readd"}, 0);
  EXPECT_EQ(count(report, "total"), 2u) << report.dump(2);
  EXPECT_EQ(only(report, "leaked").at("token"), 38);
  EXPECT_EQ(only(report, "vanished").at("token"), 39);
  EXPECT_EQ(report.at("processes").size(), 2u);
}

// A set shared at a fork where parent and child each register a file of their own under one
// number: a close that ends one while the other's is listed is no zombie (the kernel removed it,
// though it still lists a registration under the number).
TEST_F(TraceCli, AFileOfAnotherProcessUnderTheSameNumberIsNoZombie) {
  const auto report = trace({TRACED_ZOMBIES, "same-number"}, 0);
  EXPECT_EQ(count(report, "zombie"), 0u) << report.dump(2);
  EXPECT_EQ(count(report, "vanished"), 2u);
  EXPECT_EQ(count(report, "total"), 2u);
  EXPECT_EQ(tokens_of(report), (std::set<std::uint64_t>{40, 41}));
}

// The same with one token too: the kernel lists the other process's registration under the
// number and token, so only the registered file's identity (or the count under the number, for
// eventfds, which share an inode) tells the close that ended the registration from a zombie.
TEST_F(TraceCli, AFileOfAnotherProcessUnderTheSameNumberAndTokenIsNoZombie) {
  const auto report = trace({TRACED_ZOMBIES, "same-token"}, 0);
  EXPECT_EQ(count(report, "zombie"), 0u) << report.dump(2);
  EXPECT_EQ(count(report, "vanished"), 2u);
  EXPECT_EQ(count(report, "total"), 2u);
}

// And the registration that does live on there (the parent keeps the child's file under another
// number) is still a zombie.
TEST_F(TraceCli, ARegistrationKeptByAnotherProcessUnderTheSameNumberAndTokenIsAZombie) {
  const auto report = trace({TRACED_ZOMBIES, "same-token-kept"}, 0);
  ASSERT_EQ(count(report, "zombie"), 1u) << report.dump(2);
  EXPECT_EQ(only(report, "zombie").at("token"), 44);
}

// An epoll descriptor handed to another process over a Unix socket shares the set as a fork does.
TEST_F(TraceCli, AFileOfTheProcessASetWasSentToUnderTheSameNumberAndTokenIsNoZombie) {
  const auto report = trace({TRACED_ZOMBIES, "passed-set"}, 0);
  EXPECT_EQ(count(report, "zombie"), 0u) << report.dump(2);
  EXPECT_EQ(count(report, "vanished"), 1u);
}

// A zombie's registration ends when the last descriptor keeping its file closes (traced_shapes.c
// checks the set's fdinfo): a later registration under its token is no collision with it.
TEST_F(TraceCli, AZombieEndsWithItsKeepersClose) {
  const auto report = trace({TRACED_SHAPES, "keeper-closed"}, 0);
  EXPECT_EQ(count(report, "token_collision"), 0u) << report.dump(2);
  ASSERT_EQ(count(report, "zombie"), 1u);
  EXPECT_EQ(count(report, "total"), 1u);
  const auto& zombie = only(report, "zombie");
  EXPECT_EQ(zombie.at("token"), 80);
  EXPECT_EQ(zombie.at("ghost_events"), 1);
  EXPECT_EQ(zombie.at("severity"), "error");
  EXPECT_TRUE(contains(zombie.at("detail").get<std::string>(), "it ended when fd"));
}

// Two descriptors of a registered file closed one after the other, nothing between: a warning.
TEST_F(TraceCli, AZombieWhoseKeeperClosesNextIsAWarning) {
  const auto report = trace({TRACED_SHAPES, "quiet-keeper"}, 0, {"--fail-on-findings"});
  ASSERT_EQ(count(report, "zombie"), 1u) << report.dump(2);
  EXPECT_EQ(count(report, "total"), 1u);
  EXPECT_EQ(only(report, "zombie").at("severity"), "warning");
}

// dup2 onto a registered number from another descriptor of the same file closes nothing the
// registration depends on: it is still the number's, and the DEL after it ends it.
TEST_F(TraceCli, Dup2OfARegisteredNumbersOwnFileLeavesItsRegistration) {
  const auto report = trace({TRACED_SHAPES, "dup2-same-file"}, 0, {"--fail-on-warnings"});
  EXPECT_EQ(count(report, "total"), 0u) << report.dump(2);
}

}  // namespace
}  // namespace pollscope::test_support

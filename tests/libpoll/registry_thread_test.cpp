// Registration from other threads while the polling thread is blocked in the selector.

#include <poll.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"
#include "support/threads.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using testing::PollTest;

class RegistryThreadTest : public PollTest {};

// Whether the audit of `poll` finds nothing; if it does, its first finding says what.
::testing::AssertionResult audit_is_clean(const Poll& poll) {
  auto report = poll.audit();
  if (!report) return ::testing::AssertionFailure() << "no audit: " << report.error().message();
  if (report->clean()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << (report->discrepancies.empty() ? std::string("not clean")
                                           : to_string(report->discrepancies[0]));
}

// Another thread registering and deregistering pipes of its own through a registry clone, round
// after round (at most 20,000), until stopped: changes made at once, never recorded.
class Churn {
 public:
  explicit Churn(Registry clone) : clone_(std::move(clone)), thread_([this] { run(); }) {}
  Churn(const Churn&) = delete;
  Churn& operator=(const Churn&) = delete;
  ~Churn() { (void)stop(); }

  // Stops and joins the thread; returns how many of its calls failed.
  std::size_t stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return failures_.load();
  }

 private:
  void run() {
    for (std::size_t round = 0; round < 20000 && !stop_.load(); ++round) {
      auto& receiver = churned_[round % churned_.size()].second;
      if (!clone_.register_source(receiver, Token{1000 + round}, Interest::readable) ||
          !clone_.deregister_source(receiver)) {
        failures_.fetch_add(1);
      }
    }
  }
  static std::vector<std::pair<net::PipeSender, net::PipeReceiver>> pipes() {
    std::vector<std::pair<net::PipeSender, net::PipeReceiver>> made;
    for (int i = 0; i < 8; ++i) made.push_back(net::pipe().value());
    return made;
  }

  Registry clone_;
  std::vector<std::pair<net::PipeSender, net::PipeReceiver>> churned_ = pipes();
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> failures_{0};
  std::thread thread_;  // last: it starts once everything above is made
};

// A source registered (with readiness already pending) by thread B while thread A is blocked
// in poll makes that very poll return it.
TEST_P(RegistryThreadTest, RegisterDuringABlockingPollWakesThatPoll) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(sender.write("x"));
  const Token token{5};

  std::promise<pid_t> poller_tid;
  auto polled = std::async(std::launch::async, [&] {
    poller_tid.set_value(testing::current_thread_id());
    Events events(8);
    auto result = poll().poll(events, 10s);
    std::vector<Token> tokens;
    for (const Event& event : events) tokens.push_back(event.token());
    return std::pair{result.error(), tokens};
  });

  ASSERT_TRUE(testing::wait_until_blocked_in_poll(poller_tid.get_future().get(), 5s))
      << "the poller never blocked";
  Registry other = registry().clone();
  ASSERT_TRUE(other.register_source(receiver, token, Interest::readable));

  ASSERT_EQ(polled.wait_for(5s), std::future_status::ready) << "poll was not woken";
  auto [error, tokens] = polled.get();
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(tokens, std::vector<Token>{token});
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// Three threads register, reregister and deregister through their own clones at once, while
// the main thread polls: every registration is reported, under its final token only; on epoll
// and poll(2) exactly once. On io_uring a write that lands while its request is being armed can
// post two completions (the arming finds the pipe ready, and the write's wake-up finds it
// still unread): reaped by two polls they are two events, a spurious one that the contract
// allows (as mio's does), never an event lost or under a replaced token.
TEST_P(RegistryThreadTest, ClonesWorkFromThreeThreadsAtOnce) {
  constexpr std::size_t kThreads = 3;
  constexpr std::size_t kPerThread = 100;
  using Pipe = std::pair<net::PipeSender, net::PipeReceiver>;
  std::vector<std::vector<Pipe>> pipes(kThreads);
  for (auto& group : pipes) {
    for (std::size_t i = 0; i < kPerThread; ++i) group.push_back(net::pipe().value());
  }

  std::atomic<std::size_t> failures{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t, clone = registry().clone()] {
      for (std::size_t i = 0; i < kPerThread; ++i) {
        auto& [sender, receiver] = pipes[t][i];
        const std::size_t base = (t * kPerThread + i) * 2;
        // Register under a provisional token, then move it to its final one.
        bool ok = clone.register_source(receiver, Token{base}, Interest::readable).has_value() &&
                  clone.reregister_source(receiver, Token{base + 1}, Interest::readable) &&
                  sender.write("x").has_value();
        if (!ok) failures.fetch_add(1);
      }
    });
  }

  std::vector<int> seen(kThreads * kPerThread * 2, 0);
  std::size_t reported = 0;  // registrations reported at least once
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (reported < kThreads * kPerThread && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(poll().poll(events_, 100ms));
    for (const Event& event : events_) {
      ASSERT_LT(event.token().value, seen.size());
      if (seen[event.token().value]++ == 0) ++reported;
    }
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0u);
  if (GetParam() == Backend::io_uring) {
    // A second completion may still be on its way: it counts against the bound below.
    ASSERT_TRUE(poll().poll(events_, 50ms));
    for (const Event& event : events_) {
      ASSERT_LT(event.token().value, seen.size());
      ++seen[event.token().value];
    }
  } else {
    testing::expect_no_events(poll(), events_);
  }

  EXPECT_EQ(reported, kThreads * kPerThread);
  const int most = GetParam() == Backend::io_uring ? 2 : 1;
  for (std::size_t token = 0; token < seen.size(); ++token) {
    if (token % 2 == 0) {
      EXPECT_EQ(seen[token], 0) << "token " << token << " was replaced before its write";
    } else {
      EXPECT_GE(seen[token], 1) << "token " << token;
      EXPECT_LE(seen[token], most) << "token " << token;
    }
  }

  // Deregister from the threads again, concurrently.
  threads.clear();
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t, clone = registry().clone()] {
      for (auto& [sender, receiver] : pipes[t]) {
        if (!clone.deregister_source(receiver)) failures.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0u);
  // Each thread counted its own calls (thread_counters.hpp): the totals are exact all the same.
  const PollMetrics metrics = poll().metrics();
  EXPECT_EQ(metrics.registers, kThreads * kPerThread);
  EXPECT_EQ(metrics.reregisters, kThreads * kPerThread);
  EXPECT_EQ(metrics.deregisters, kThreads * kPerThread);
  EXPECT_EQ(metrics.failed_operations, 0u);
}

// The polling thread checks each event's token against the book without taking the registry's
// lock; registrations churning on another thread meanwhile must neither race it (TSan) nor make
// a live token look like a ghost.
TEST_P(RegistryThreadTest, GhostCountStaysZeroWhileRegistrationsChurn) {
  auto [sender, receiver] = net::pipe().value();
  constexpr Token kLive{1};
  ASSERT_TRUE(registry().register_source(receiver, kLive, Interest::readable));
  Churn churn(registry().clone());

  constexpr std::size_t kRounds = 300;
  std::size_t delivered = 0;
  std::array<char, 8> buffer{};
  for (std::size_t round = 0; round < kRounds; ++round) {
    ASSERT_TRUE(sender.write("x"));
    const auto seen = testing::expect_events(poll(), events_, {{kLive, testing::kReadable}});
    delivered += seen.size();
    ASSERT_TRUE(receiver.read(std::span(buffer)));
  }
  EXPECT_EQ(churn.stop(), 0u) << "calls that failed on the churning thread";
  EXPECT_GE(delivered, kRounds);
  EXPECT_EQ(poll().metrics().ghost_events, 0u);
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// Two threads reregister one descriptor at once, each with its own token and interest. Each
// call holds the number's slot across its system call, so the calls take turns: the book ends
// exactly as the kernel does (the audit is clean) and every call is counted.
TEST_P(RegistryThreadTest, CallsOnOneDescriptorFromTwoThreadsTakeTurns) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, Token{1}, Interest::readable));
  constexpr std::size_t kCalls = 3000;
  std::atomic<std::size_t> failures{0};
  auto churn = [&](Registry clone, Token token, Interest interest) {
    for (std::size_t i = 0; i < kCalls; ++i) {
      if (!clone.reregister_source(local, token, interest)) failures.fetch_add(1);
    }
  };
  std::thread first(churn, registry().clone(), Token{2}, Interest::readable);
  std::thread second(churn, registry().clone(), Token{3}, Interest::writable);
  first.join();
  second.join();

  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(poll().metrics().reregisters, 2 * kCalls);
  const auto listed = poll().registrations();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].token == Token{2} || listed[0].token == Token{3});
  EXPECT_TRUE(audit_is_clean(poll()));
  ASSERT_TRUE(registry().deregister_source(local));
}

// Two Polls race to register one descriptor from two threads, over and over: each time exactly
// one wins, and the other is told the source is registered with another Poll.
TEST_P(RegistryThreadTest, TwoPollsRacingForOneDescriptorHaveOneWinner) {
  auto other = Poll::create(GetParam()).value();
  auto [local, peer] = net::UnixStream::pair().value();
  constexpr int kRaces = 300;
  for (int race = 0; race < kRaces; ++race) {
    std::promise<void> go;
    auto started = go.get_future().share();
    auto attempt = [&](const Registry& registry) {
      started.wait();
      return registry.register_source(local, Token{7}, Interest::readable);
    };
    auto mine = std::async(std::launch::async, attempt, std::cref(registry()));
    auto theirs = std::async(std::launch::async, attempt, std::cref(other.registry()));
    go.set_value();
    const auto my_result = mine.get();
    const auto their_result = theirs.get();
    ASSERT_NE(my_result.has_value(), their_result.has_value()) << "race " << race;
    const auto& loser = my_result ? their_result : my_result;
    EXPECT_EQ(loser.error(), Errc::registered_with_another_poll) << "race " << race;
    const Registry& winner = my_result ? registry() : other.registry();
    ASSERT_TRUE(winner.deregister_source(local));
  }
  EXPECT_TRUE(poll().registrations().empty());
  EXPECT_TRUE(other.registrations().empty());
}

// A reregister from another thread while the polling thread is blocked is made at once, even
// on the thread that polled last time (whose own changes wait for its next poll): the blocked
// poll reports the new interest without a Waker.
TEST_P(RegistryThreadTest, AReregisterFromAnotherThreadReachesABlockedPoll) {
  auto [local, peer] = net::UnixStream::pair().value();
  const Token token{7};
  ASSERT_TRUE(registry().register_source(local, token, Interest::readable));
  testing::expect_no_events(poll(), events_);  // this thread polled last

  std::promise<pid_t> poller_tid;
  auto polled = std::async(std::launch::async, [&] {
    poller_tid.set_value(testing::current_thread_id());
    Events events(8);
    auto result = poll().poll(events, 10s);
    bool writable = false;
    for (const Event& event : events) writable |= event.token() == token && event.is_writable();
    return std::pair{result.error(), writable};
  });
  ASSERT_TRUE(testing::wait_until_blocked_in_poll(poller_tid.get_future().get(), 5s))
      << "the poller never blocked";
  ASSERT_TRUE(registry().reregister_source(local, token, Interest::readable | Interest::writable));

  ASSERT_EQ(polled.wait_for(5s), std::future_status::ready) << "the change did not reach the poll";
  auto [error, writable] = polled.get();
  EXPECT_FALSE(error) << error.message();
  EXPECT_TRUE(writable);
  ASSERT_TRUE(registry().deregister_source(local));
}

// The polling thread's own changes are recorded and made by its polls while another thread
// changes, drains and audits other registrations: no race (TSan), no lost event.
TEST_P(RegistryThreadTest, RecordedChangesRaceNoOtherThread) {
  auto [local, peer] = net::UnixStream::pair().value();
  auto [other, other_peer] = net::UnixStream::pair().value();
  constexpr Token kLocal{1};
  constexpr Token kOther{2};
  ASSERT_TRUE(registry().register_source(local, kLocal, Interest::readable));
  ASSERT_TRUE(registry().register_source(other, kOther, Interest::readable));

  std::atomic<bool> stop{false};
  std::atomic<std::size_t> failures{0};
  std::thread changer([&, clone = registry().clone()] {
    for (std::size_t round = 0; round < 2000 && !stop.load(); ++round) {
      const Interest interest =
          round % 2 == 0 ? Interest::readable | Interest::writable : Interest::readable;
      if (!clone.reregister_source(other, kOther, interest)) failures.fetch_add(1);
      if (!clone.drained(SourceFd(other.as_raw_fd()), Interest::readable)) failures.fetch_add(1);
      if (round % 100 == 0 && !poll().audit()) failures.fetch_add(1);
    }
  });

  constexpr std::size_t kRounds = 300;
  std::array<std::byte, 8> buffer{};
  for (std::size_t round = 0; round < kRounds; ++round) {
    ASSERT_TRUE(peer.write(std::as_bytes(std::span("x", 1))));
    testing::expect_events(poll(), events_, {{kLocal, testing::kReadable}});
    ASSERT_TRUE(local.read(std::span(buffer)));  // a short read: drained
    const Interest interest =
        round % 2 == 0 ? Interest::readable | Interest::writable : Interest::readable;
    ASSERT_TRUE(registry().reregister_source(local, kLocal, interest));
    ASSERT_TRUE(registry().reregister_source(local, kLocal, Interest::readable));
  }
  stop = true;
  changer.join();

  EXPECT_EQ(failures.load(), 0u);
  ASSERT_TRUE(registry().deregister_source(local));
  ASSERT_TRUE(registry().deregister_source(other));
}

// One descriptor changed in turn by the polling thread (recorded until its next poll) and by
// another thread (made at once, without the change table's lock while nothing is recorded for
// it), while a third audits (which makes what is recorded, from its own thread): every call
// succeeds, no change fails late, no race (TSan), and the kernel ends with what the book says.
TEST_P(RegistryThreadTest, ADescriptorChangedByThePollerAndAnotherThreadWhileAuditedEndsAgreed) {
  auto [local, peer] = net::UnixStream::pair().value();
  constexpr Token kLocal{1};
  ASSERT_TRUE(registry().register_source(local, kLocal, Interest::readable));
  testing::expect_no_events(poll(), events_);  // this thread polls: its changes are recorded

  std::atomic<bool> stop{false};
  std::atomic<std::size_t> failures{0};
  std::thread changer([&, clone = registry().clone()] {
    for (std::size_t round = 0; round < 3000 && !stop.load(); ++round) {
      const Interest interest = round % 2 == 0 ? Interest::writable : Interest::readable;
      if (!clone.reregister_source(local, kLocal, interest)) failures.fetch_add(1);
    }
  });
  std::thread auditor([&] {
    for (std::size_t round = 0; round < 300 && !stop.load(); ++round) {
      if (!poll().audit()) failures.fetch_add(1);
    }
  });

  for (std::size_t round = 0; round < 1000; ++round) {
    const Interest interest =
        round % 2 == 0 ? Interest::readable | Interest::writable : Interest::priority;
    ASSERT_TRUE(registry().reregister_source(local, kLocal, interest));
    ASSERT_TRUE(poll().poll(events_, 0ms));
  }
  stop = true;
  changer.join();
  auditor.join();

  EXPECT_EQ(failures.load(), 0u);
  ASSERT_TRUE(poll().poll(events_, 0ms));
  EXPECT_EQ(poll().metrics().late_change_failures, 0u);
  EXPECT_TRUE(audit_is_clean(poll()));
  ASSERT_TRUE(registry().deregister_source(local));
}

// The polling thread registers, polls and deregisters sources of its own (recorded and made in
// batches with its polls, then closed), while another thread registers and deregisters other
// sources through a clone (made at once): each round's event comes under its own token, no
// event is a ghost, no change fails late, and the book and the kernel end agreed.
TEST_P(RegistryThreadTest, BatchedAndImmediateRegistrationsInterleave) {
  Churn churn(registry().clone());

  constexpr std::size_t kRounds = 200;
  for (std::size_t round = 0; round < kRounds; ++round) {
    auto [sender, receiver] = net::pipe().value();
    ASSERT_TRUE(sender.write("x"));
    const Token token{round + 1};
    ASSERT_TRUE(registry().register_source(receiver, token, Interest::readable));
    const auto seen = testing::expect_events(poll(), events_, {{token, testing::kReadable}});
    for (const Event& event : seen) ASSERT_EQ(event.token(), token);
    ASSERT_TRUE(registry().deregister_source(receiver));
  }  // each round's pipe closes here, its deregister perhaps still recorded
  EXPECT_EQ(churn.stop(), 0u) << "calls that failed on the churning thread";
  EXPECT_EQ(poll().metrics().ghost_events, 0u);
  EXPECT_EQ(poll().metrics().late_change_failures, 0u);
  auto report = poll().audit();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean());
}

// A registration that reached the kernel from a thread that has exited since (a Poll handed to
// a new polling thread) keeps reporting: io_uring's kernel ends such a thread's requests at
// their next wake-up, and the selector makes them again.
TEST_P(RegistryThreadTest, APollKeepsReportingAfterItsPollingThreadExited) {
  auto [local, peer] = net::UnixStream::pair().value();
  const Token token{7};
  ASSERT_TRUE(registry().register_source(local, token, Interest::readable));
  std::thread([&] { EXPECT_TRUE(poll().poll(events_, 0ms)); }).join();

  for (const char* message : {"first", "second"}) {
    SCOPED_TRACE(message);
    ASSERT_TRUE(peer.write(testing::bytes(message)));
    testing::expect_events(poll(), events_, {{token, testing::kReadable}});
    std::array<std::byte, 64> buffer{};
    ASSERT_TRUE(local.read(buffer));
    ASSERT_FALSE(local.read(buffer));  // drained: the next write is a new edge
  }
  ASSERT_TRUE(registry().deregister_source(local));
}

// A deregister from another thread while this one polls lets the file go: closed, the peer
// sees the hang-up. On io_uring the deregister may land while the poll is submitting the
// registration's request (the kernel does not have it yet, so the cancel finds nothing); the
// request must then be removed right after, not left to hold the file open.
TEST_P(RegistryThreadTest, ADeregisterDuringAPollLetsTheClosedFileGo) {
  std::atomic<bool> stop{false};
  std::thread poller([&] {
    Events events(64);
    while (!stop.load()) (void)poll().poll(events, 20ms);
  });
  const Registry clone = registry().clone();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::size_t kept_open = 0;
  std::size_t rounds = 0;
  for (; rounds < 4000 && std::chrono::steady_clock::now() < deadline; ++rounds) {
    auto [local, peer] = net::UnixStream::pair().value();
    if (!clone.register_source(local, Token{rounds}, Interest::readable)) {
      ADD_FAILURE() << "register failed in round " << rounds;
      break;
    }
    // A varying gap, so that the deregister meets the poll at every step of its submission.
    for (std::size_t spin = 0; spin < (rounds % 64) * 20; ++spin) asm volatile("");
    ASSERT_TRUE(clone.deregister_source(local));
    { net::UnixStream closed = std::move(local); }
    pollfd polled{.fd = peer.as_raw_fd(), .events = POLLIN, .revents = 0};
    if (::poll(&polled, 1, 2000) != 1 || (polled.revents & (POLLHUP | POLLRDHUP)) == 0) {
      ++kept_open;
    }
  }
  stop = true;
  poller.join();
  EXPECT_EQ(kept_open, 0u) << "of " << rounds << " closed files, " << kept_open
                           << " stayed open 2 s after their deregister";
}

// The polling thread records a deregister behind many registers; another thread makes what is
// recorded (registrations() does) while the next poll begins. That poll must not wait ahead of
// the deregister the other thread is still making: after deregister_source returns, no poll
// reports the source. A race: each round lines the two up a little differently, and the whole
// fails in most runs when the poll may pass the flush.
TEST_P(RegistryThreadTest, APollNeverOvertakesAnotherThreadsFlushOfItsChanges) {
  constexpr std::size_t kRounds = 40;
  constexpr std::size_t kCrowd = 300;  // recorded registers ahead of the deregister
  std::atomic<std::size_t> asked{0};
  std::atomic<std::size_t> flushing{0};
  std::thread flusher([&] {
    for (std::size_t seen = 0; seen < kRounds;) {
      asked.wait(seen);
      seen = asked.load();
      flushing.store(seen);
      flushing.notify_one();
      (void)poll().registrations();
    }
  });
  std::size_t overtaken = 0;
  for (std::size_t round = 1; round <= kRounds; ++round) {
    auto [watched, peer] = net::UnixStream::pair().value();
    constexpr Token kWatched{1};
    ASSERT_TRUE(registry().register_source(watched, kWatched, Interest::readable));
    ASSERT_TRUE(poll().poll(events_, 0ms));
    std::vector<std::pair<net::UnixStream, net::UnixStream>> crowd;
    for (std::size_t i = 0; i < kCrowd; ++i) {
      crowd.push_back(net::UnixStream::pair().value());
      ASSERT_TRUE(
          registry().register_source(crowd.back().first, Token{100 + i}, Interest::readable));
    }
    ASSERT_TRUE(peer.write(testing::bytes("x")));
    ASSERT_TRUE(registry().deregister_source(watched));
    asked.store(round);
    asked.notify_one();
    flushing.wait(round - 1);
    for (std::size_t spin = 0; spin < (round % 8) * 2000; ++spin) asm volatile("");
    ASSERT_TRUE(poll().poll(events_, 0ms));
    for (const Event& event : events_) {
      if (event.token() == kWatched) ++overtaken;
    }
    for (auto& pair : crowd) ASSERT_TRUE(registry().deregister_source(pair.first));
    ASSERT_TRUE(poll().poll(events_, 0ms));
  }
  flusher.join();
  EXPECT_EQ(overtaken, 0u) << "polls that reported a source after its deregister returned";
  EXPECT_EQ(poll().metrics().late_change_failures, 0u);
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(RegistryThreadTest);

}  // namespace
}  // namespace libpoll

#include "libpoll/events.hpp"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

#include <new>
#include <optional>
#include <set>
#include <vector>

#include "support/expect_events.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using testing::PollTest;

TEST(EventsTest, StartsEmptyWithItsCapacity) {
  Events events(16);
  EXPECT_EQ(events.capacity(), 16u);
  EXPECT_EQ(events.size(), 0u);
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(events.begin(), events.end());
}

TEST(EventsTest, MovedFromHasNoCapacity) {
  Events events(16);
  Events moved = std::move(events);
  EXPECT_EQ(moved.capacity(), 16u);
  EXPECT_EQ(events.capacity(), 0u);  // NOLINT(bugprone-use-after-move): documented state
}

class EventsPollTest : public PollTest {
 protected:
  // `count` eventfds holding `initial` (readable from birth when it is not 0), registered for
  // readable under tokens 0 to count - 1.
  void register_eventfds(std::size_t count, unsigned initial) {
    sources_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      sources_.emplace_back(::eventfd(initial, EFD_NONBLOCK | EFD_CLOEXEC));
      ASSERT_TRUE(sources_.back().is_valid()) << std::strerror(errno);
      ASSERT_TRUE(registry().register_source(SourceFd(sources_.back().get()), Token{i},
                                             Interest::readable));
    }
  }
  void deregister_all() {
    for (const OwnedFd& source : sources_) {
      ASSERT_TRUE(registry().deregister_source(SourceFd(source.get())));
    }
  }

  // Closed before the fixture counts the descriptors left open.
  void TearDown() override {
    sources_.clear();
    PollTest::TearDown();
  }

  std::vector<OwnedFd> sources_;
};

// More ready sources than the buffer holds: every poll stays within capacity, and across polls
// every source is delivered exactly once. The sources are eventfds, one descriptor each, so
// that the test fits the 1024-descriptor hard limit of some containers; each is drained when its
// event comes, as a loop does (a SourceFd left ready is reported again on the poll(2) backend).
TEST_P(EventsPollTest, ThousandSourcesAreEachDeliveredOnceAcrossSmallPolls) {
  constexpr std::size_t kSources = 1000;
  constexpr std::size_t kCapacity = 64;
  ASSERT_TRUE(testing::ensure_fd_limit(kSources + 20));
  ASSERT_NO_FATAL_FAILURE(register_eventfds(kSources, 1));
  const std::vector<OwnedFd>& sources = sources_;

  Events events(kCapacity);
  std::vector<int> seen(kSources, 0);
  std::size_t delivered = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (delivered < kSources && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(poll().poll(events, std::chrono::seconds(1)));
    ASSERT_LE(events.size(), kCapacity);
    for (const Event& event : events) {
      ASSERT_LT(event.token().value, kSources);
      EXPECT_TRUE(event.is_readable());
      ++seen[event.token().value];
      ++delivered;
      std::uint64_t count = 0;
      ASSERT_EQ(::read(sources[event.token().value].get(), &count, sizeof count), 8);
    }
  }
  EXPECT_EQ(delivered, kSources);
  for (std::size_t i = 0; i < kSources; ++i) EXPECT_EQ(seen[i], 1) << "token " << i;
  testing::expect_no_events(poll(), events);

  deregister_all();
}

// Each source wakes up many times, interleaved with the others, before a loop with a small
// buffer gets to it: it is still one event, drained when it comes and never reported again.
// (io_uring posts a completion per wake-up; those reaped while the buffer is full are kept by the
// selector and merged, not left in the ring to come back after the drain.)
TEST_P(EventsPollTest, ManyWakeUpsOfASourceMakeOneEventAcrossSmallPolls) {
  constexpr std::size_t kSources = 64;
  constexpr std::size_t kWakeUps = 10;
  constexpr std::size_t kCapacity = 8;
  ASSERT_NO_FATAL_FAILURE(register_eventfds(kSources, 0));
  const std::vector<OwnedFd>& sources = sources_;
  Events events(kCapacity);
  testing::expect_no_events(poll(), events);  // every registration is in place
  for (std::size_t round = 0; round < kWakeUps; ++round) {
    for (const OwnedFd& source : sources) {
      const std::uint64_t one = 1;
      ASSERT_EQ(::write(source.get(), &one, sizeof one), 8);
    }
  }

  std::vector<int> seen(kSources, 0);
  std::size_t delivered = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (delivered < kSources && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(poll().poll(events, std::chrono::seconds(1)));
    for (const Event& event : events) {
      ASSERT_LT(event.token().value, kSources);
      ++seen[event.token().value];
      ++delivered;
      std::uint64_t count = 0;
      ASSERT_EQ(::read(sources[event.token().value].get(), &count, sizeof count), 8);
      EXPECT_EQ(count, kWakeUps);
    }
  }
  EXPECT_EQ(delivered, kSources);
  for (std::size_t i = 0; i < kSources; ++i) EXPECT_EQ(seen[i], 1) << "token " << i;
  testing::expect_no_events(poll(), events);

  deregister_all();
}

// A loop that always has more ready sources than its buffer holds still reads every write:
// whatever a full buffer leaves is reported later, never lost.
TEST_P(EventsPollTest, ALoopAlwaysBehindItsSourcesLosesNoWrite) {
  constexpr std::size_t kSources = 32;
  constexpr std::size_t kRounds = 50;
  constexpr std::size_t kCapacity = 4;
  ASSERT_NO_FATAL_FAILURE(register_eventfds(kSources, 0));
  const std::vector<OwnedFd>& sources = sources_;
  Events events(kCapacity);
  std::uint64_t read_total = 0;
  auto handle = [&] {
    for (const Event& event : events) {
      ASSERT_LT(event.token().value, kSources);
      std::uint64_t count = 0;
      if (::read(sources[event.token().value].get(), &count, sizeof count) == 8) {
        read_total += count;
      }
    }
  };
  testing::expect_no_events(poll(), events);  // every registration is in place
  for (std::size_t round = 0; round < kRounds; ++round) {
    for (const OwnedFd& source : sources) {
      const std::uint64_t one = 1;
      ASSERT_EQ(::write(source.get(), &one, sizeof one), 8);
    }
    ASSERT_TRUE(poll().poll(events, std::chrono::milliseconds(0)));
    handle();
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (read_total < kSources * kRounds && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(poll().poll(events, std::chrono::seconds(1)));
    handle();
  }
  EXPECT_EQ(read_total, kSources * kRounds);
  deregister_all();
}

// Sources left over from a full buffer follow later registry calls: a deregistered one is not
// reported, and a reregistered one comes under its new token.
TEST_P(EventsPollTest, WhatAFullBufferLeftOverFollowsLaterRegistryCalls) {
  constexpr std::size_t kSources = 16;
  constexpr std::size_t kCapacity = 4;
  constexpr std::size_t kRenamed = 1000;
  ASSERT_NO_FATAL_FAILURE(register_eventfds(kSources, 1));
  const std::vector<OwnedFd>& sources = sources_;
  Events events(kCapacity);
  std::vector<bool> reported(kSources, false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (events.empty() && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(poll().poll(events, std::chrono::seconds(1)));
  }
  ASSERT_FALSE(events.empty());
  for (const Event& event : events) {
    reported[event.token().value] = true;
    std::uint64_t count = 0;
    ASSERT_EQ(::read(sources[event.token().value].get(), &count, sizeof count), 8);
  }

  // Of those not reported yet, the even ones are deregistered, the odd ones renamed.
  std::set<std::size_t> expected;
  for (std::size_t i = 0; i < kSources; ++i) {
    if (reported[i]) continue;
    const SourceFd source(sources[i].get());
    if (i % 2 == 0) {
      ASSERT_TRUE(registry().deregister_source(source));
    } else {
      ASSERT_TRUE(registry().reregister_source(source, Token{kRenamed + i}, Interest::readable));
      expected.insert(kRenamed + i);
    }
  }
  std::set<std::size_t> seen;
  while (seen.size() < expected.size() && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(poll().poll(events, std::chrono::seconds(1)));
    for (const Event& event : events) {
      EXPECT_TRUE(expected.count(event.token().value)) << to_string(event);
      EXPECT_TRUE(seen.insert(event.token().value).second) << "twice: " << to_string(event);
      std::uint64_t count = 0;
      ASSERT_EQ(::read(sources[event.token().value - kRenamed].get(), &count, sizeof count), 8);
    }
  }
  EXPECT_EQ(seen, expected);
  testing::expect_no_events(poll(), events);
  for (std::size_t i = 0; i < kSources; ++i) {
    if (reported[i] || i % 2 == 1) {
      ASSERT_TRUE(registry().deregister_source(SourceFd(sources[i].get())));
    }
  }
}

TEST_P(EventsPollTest, ZeroCapacityIsAnInvalidArgument) {
  Events none(0);
  auto polled = poll().poll(none, std::chrono::milliseconds(0));
  ASSERT_FALSE(polled);
  EXPECT_EQ(polled.error(), std::errc::invalid_argument);
}

// epoll_wait refuses more than INT_MAX / sizeof(epoll_event) events (EINVAL); only a capacity of
// zero is invalid here, so a larger buffer is filled as far as the kernel goes. (The buffer is
// not touched beyond the events stored: it costs address space, not memory.)
TEST_P(EventsPollTest, CapacityBeyondTheKernelsLimitIsUsedNotRefused) {
  std::optional<Events> huge;
  try {
    huge.emplace(std::size_t{200'000'000});
  } catch (const std::bad_alloc&) {
    GTEST_SKIP() << "no address space for 200 million events";
  }
  register_eventfds(1, 1);
  testing::expect_events(poll(), *huge, {{Token{0}, testing::kReadable}});
  deregister_all();
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(EventsPollTest);

}  // namespace
}  // namespace libpoll

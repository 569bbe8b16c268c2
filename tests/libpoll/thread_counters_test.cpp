// ThreadCounters, the registry's per-call counts: every thread counts in a block of its own, and
// a total is the sum of the blocks. RegistryCounts adds the writer-bias owner's row. Run under
// ThreadSanitizer with the other threaded suites.

#include "thread_counters.hpp"

#include "registry_counts.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

namespace libpoll::detail {
namespace {

enum Counter : std::size_t { kFirst, kSecond, kCount };

TEST(ThreadCountersTest, TotalsAreExactAfterManyThreadsCounted) {
  ThreadCounters<kCount> counters;
  constexpr std::size_t kThreads = 4;
  constexpr std::uint64_t kAdds = 200000;
  std::atomic<bool> go{false};
  std::atomic<bool> done{false};
  // A reader sums the blocks while the threads count: it never sees a total go down.
  std::thread reader([&] {
    std::uint64_t last = 0;
    while (!done.load()) {
      const std::uint64_t now = counters.total(kFirst);
      EXPECT_GE(now, last);
      last = now;
    }
  });
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counters, &go, t] {
      while (!go.load()) std::this_thread::yield();  // all at once, to overlap on both cores
      for (std::uint64_t i = 0; i < kAdds; ++i) {
        counters.add(kFirst);
        counters.add(kSecond, t + 1);
      }
    });
  }
  go = true;
  for (auto& thread : threads) thread.join();
  done = true;
  reader.join();
  EXPECT_EQ(counters.total(kFirst), kThreads * kAdds);
  EXPECT_EQ(counters.total(kSecond), (1 + 2 + 3 + 4) * kAdds);
}

TEST(ThreadCountersTest, OneThreadAlternatingBetweenCountersKeepsThemApart) {
  ThreadCounters<kCount> one;
  ThreadCounters<kCount> other;
  for (int i = 0; i < 100; ++i) {
    one.add(kFirst);
    other.add(kFirst, 2);
    other.add(kSecond);
  }
  EXPECT_EQ(one.total(kFirst), 100u);
  EXPECT_EQ(one.total(kSecond), 0u);
  EXPECT_EQ(other.total(kFirst), 200u);
  EXPECT_EQ(other.total(kSecond), 100u);
}

// A thread's cached block belongs to the counters it counted in last; counters made later at the
// same address start from nothing.
TEST(ThreadCountersTest, CountersMadeWhereOthersDiedStartFromZero) {
  std::optional<ThreadCounters<kCount>> counters;
  counters.emplace();
  const void* first_address = &*counters;
  counters->add(kFirst, 5);
  EXPECT_EQ(counters->total(kFirst), 5u);
  counters.reset();
  counters.emplace();
  ASSERT_EQ(&*counters, first_address);
  EXPECT_EQ(counters->total(kFirst), 0u);
  counters->add(kFirst);
  EXPECT_EQ(counters->total(kFirst), 1u);
}

// A thread that has exited leaves its counts behind.
TEST(ThreadCountersTest, CountsOfThreadsThatExitedStay) {
  ThreadCounters<kCount> counters;
  for (int round = 0; round < 3; ++round) {
    std::thread([&counters] { counters.add(kSecond, 7); }).join();
  }
  counters.add(kSecond);
  EXPECT_EQ(counters.total(kSecond), 22u);
}

// One thread counts in the row (as the bias owner does, inside its sections) while others count
// in their blocks: totals include both, and a reader never sees one go down.
TEST(RegistryCountsTest, TotalsAreTheRowAndEveryThreadsBlock) {
  RegistryCounts counts;
  constexpr std::size_t kThreads = 2;
  constexpr std::uint64_t kAdds = 100000;
  std::atomic<bool> go{false};
  std::atomic<bool> done{false};
  std::thread reader([&] {
    std::uint64_t last = 0;
    while (!done.load()) {
      const std::uint64_t now = counts.total(kRegisters);
      EXPECT_GE(now, last);
      last = now;
    }
  });
  std::thread row_writer([&] {
    while (!go.load()) std::this_thread::yield();
    for (std::uint64_t i = 0; i < kAdds; ++i) counts.add_in_section(kRegisters);
  });
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (std::uint64_t i = 0; i < kAdds; ++i) {
        counts.add(kRegisters);
        counts.add(kDeregisters);
      }
    });
  }
  go = true;
  row_writer.join();
  for (auto& thread : threads) thread.join();
  done = true;
  reader.join();
  EXPECT_EQ(counts.total(kRegisters), (kThreads + 1) * kAdds);
  EXPECT_EQ(counts.total(kDeregisters), kThreads * kAdds);
  EXPECT_EQ(counts.total(kReregisters), 0U);
}

}  // namespace
}  // namespace libpoll::detail

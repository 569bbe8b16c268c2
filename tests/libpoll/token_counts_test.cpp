// TokenCounts, the table behind the ghost-event counter, against std::map as the model.

#include "token_counts.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace libpoll::detail {
namespace {

std::vector<Event> events_for(const std::vector<std::uint64_t>& tokens) {
  std::vector<Event> events;
  for (auto token : tokens) {
    events.push_back(EventAccess::make(Token{static_cast<std::size_t>(token)}, 1));
  }
  return events;
}

TEST(TokenCountsTest, CountsAddsAndRemovesPerToken) {
  TokenCounts counts;
  EXPECT_EQ(counts.count(5), 0u);
  ASSERT_TRUE(counts.add(5));
  ASSERT_TRUE(counts.add(5));
  ASSERT_TRUE(counts.add(0));
  EXPECT_EQ(counts.count(5), 2u);
  EXPECT_EQ(counts.count(0), 1u);
  counts.remove(5);
  EXPECT_EQ(counts.count(5), 1u);
  counts.remove(5);
  counts.remove(5);  // more removes than adds change nothing
  EXPECT_EQ(counts.count(5), 0u);
  EXPECT_EQ(counts.count(0), 1u);
}

// Random adds and removes over a small key space (so that probe runs collide and deletions shift),
// small tokens counted in the direct array, the tokens either side of its limit and a few huge
// ones, checked against std::map after every step, through growth of both.
TEST(TokenCountsTest, MatchesAMapThroughGrowthAndDeletion) {
  TokenCounts counts;
  std::map<std::uint64_t, std::uint32_t> model;
  std::mt19937_64 random(42);
  std::vector<std::uint64_t> keys;
  for (std::uint64_t i = 1; i < 300; ++i) {
    keys.push_back(TokenCounts::kDirectLimit + i * 64);  // hashed, with the same low bits
    keys.push_back(i * 64);
  }
  for (std::uint64_t i = 0; i < 40; ++i) keys.push_back(i);
  keys.push_back(TokenCounts::kDirectLimit - 1);
  keys.push_back(TokenCounts::kDirectLimit);
  keys.push_back(TokenCounts::kDirectLimit * 64);
  keys.push_back(~std::uint64_t{0});
  keys.push_back(std::uint64_t{1} << 63);
  for (int step = 0; step < 20000; ++step) {
    const auto key = keys[random() % keys.size()];
    if (random() % 3 != 0) {
      ASSERT_TRUE(counts.add(key));
      ++model[key];
    } else if (model[key] > 0) {
      counts.remove(key);
      --model[key];
    }
    if (step % 97 == 0) {
      for (auto probe : keys) ASSERT_EQ(counts.count(probe), model[probe]) << "token " << probe;
    }
  }
  std::vector<std::uint64_t> asked(keys.begin(), keys.end());
  std::uint64_t unknown = 0;
  for (auto key : asked) unknown += model[key] == 0;
  const auto events = events_for(asked);
  EXPECT_EQ(counts.count_unknown(events), unknown);
  EXPECT_EQ(counts.count_unknown_locked(events), unknown);
}

}  // namespace
}  // namespace libpoll::detail

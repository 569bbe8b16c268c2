#include "libpoll/interest.hpp"

#include <poll.h>
#include <sys/epoll.h>

#include <gtest/gtest.h>

#include <type_traits>

namespace libpoll {
namespace {

// There is no way to spell an empty interest.
static_assert(!std::is_default_constructible_v<Interest>);
static_assert(std::is_trivially_copyable_v<Interest>);

TEST(InterestTest, EachConstantHasOnlyItsOwnKind) {
  EXPECT_TRUE(Interest::readable.is_readable());
  EXPECT_FALSE(Interest::readable.is_writable());
  EXPECT_FALSE(Interest::readable.is_priority());

  EXPECT_TRUE(Interest::writable.is_writable());
  EXPECT_FALSE(Interest::writable.is_readable());
  EXPECT_FALSE(Interest::writable.is_priority());

  EXPECT_TRUE(Interest::priority.is_priority());
  EXPECT_FALSE(Interest::priority.is_readable());
  EXPECT_FALSE(Interest::priority.is_writable());
}

TEST(InterestTest, CombiningKeepsBothKinds) {
  constexpr Interest both = Interest::readable | Interest::writable;
  static_assert(both.is_readable() && both.is_writable() && !both.is_priority());
  EXPECT_EQ(both, Interest::writable.add(Interest::readable));

  Interest all = Interest::readable;
  all |= Interest::writable;
  all |= Interest::priority;
  EXPECT_TRUE(all.is_readable() && all.is_writable() && all.is_priority());
  EXPECT_TRUE(all.contains(both));
  EXPECT_FALSE(both.contains(all));
}

TEST(InterestTest, RemovingLeavesTheRest) {
  const Interest both = Interest::readable | Interest::writable;
  const auto rest = both.remove(Interest::writable);
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(*rest, Interest::readable);
}

TEST(InterestTest, RemovingEverythingGivesNothing) {
  EXPECT_FALSE(Interest::readable.remove(Interest::readable).has_value());
  EXPECT_FALSE(Interest::readable.remove(Interest::readable | Interest::writable).has_value());
}

TEST(InterestTest, RemovingAnAbsentKindChangesNothing) {
  EXPECT_EQ(Interest::readable.remove(Interest::writable), Interest::readable);
}

TEST(InterestTest, PrintsItsKinds) {
  EXPECT_EQ(to_string(Interest::readable), "READABLE");
  EXPECT_EQ(to_string(Interest::readable | Interest::writable | Interest::priority),
            "READABLE | WRITABLE | PRIORITY");
}

TEST(InterestTest, BuildsFromReadinessBits) {
  EXPECT_EQ(Interest::from_readiness(EPOLLIN), Interest::readable);
  EXPECT_EQ(Interest::from_readiness(EPOLLRDHUP), Interest::readable);
  EXPECT_EQ(Interest::from_readiness(EPOLLIN | EPOLLRDHUP | EPOLLOUT),
            Interest::readable | Interest::writable);
  EXPECT_EQ(Interest::from_readiness(POLLPRI | POLLOUT), Interest::writable | Interest::priority);
  EXPECT_EQ(Interest::from_readiness(EPOLLERR | EPOLLHUP), std::nullopt) << "not interests";
  EXPECT_EQ(Interest::from_readiness(0), std::nullopt);
  static_assert(Interest::from_readiness(EPOLLOUT) == Interest::writable);
}

}  // namespace
}  // namespace libpoll

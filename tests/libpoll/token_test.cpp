#include "libpoll/token.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <unordered_set>

#include "support/expect_events.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using testing::PollTest;

TEST(TokenTest, ComparesByValue) {
  EXPECT_EQ(Token{3}, Token{3});
  EXPECT_NE(Token{3}, Token{4});
  EXPECT_LT(Token{3}, Token{4});
}

TEST(TokenTest, HashesByValue) {
  std::unordered_set<Token> tokens{Token{1}, Token{2}, Token{1}};
  EXPECT_EQ(tokens.size(), 2u);
}

class TokenRoundTripTest : public PollTest {};

// Every token value, the extremes included, comes back unchanged in the event.
TEST_P(TokenRoundTripTest, AnyValueComesBackInTheEvent) {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  for (std::size_t value : {std::size_t{0}, std::size_t{1}, kMax / 2, kMax - 1, kMax}) {
    auto ends = net::pipe().value();
    auto& [sender, receiver] = ends;
    ASSERT_TRUE(registry().register_source(receiver, Token{value}, Interest::readable));
    ASSERT_TRUE(sender.write("x"));
    testing::expect_events(poll(), events_, {{Token{value}, testing::kReadable}});
    ASSERT_TRUE(registry().deregister_source(receiver));
  }
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(TokenRoundTripTest);

}  // namespace
}  // namespace libpoll

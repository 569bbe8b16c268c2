#include "libpoll/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace libpoll {
namespace {

Result<int> half(int value) {
  if (value % 2 != 0) return Unexpected(std::errc::invalid_argument);
  return value / 2;
}

TEST(ResultTest, HoldsAValue) {
  auto result = half(8);
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(static_cast<bool>(result));
  EXPECT_EQ(*result, 4);
  EXPECT_EQ(result.value(), 4);
  EXPECT_FALSE(result.error());
}

TEST(ResultTest, HoldsAnErrorComparableWithErrc) {
  auto result = half(3);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error(), std::errc::invalid_argument);
  EXPECT_EQ(result.value_or(-1), -1);
}

TEST(ResultTest, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<std::string>> result(std::make_unique<std::string>("moved"));
  std::unique_ptr<std::string> taken = std::move(result).value();
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(*taken, "moved");
}

TEST(ResultTest, VoidResultIsSuccessUntilGivenAnError) {
  Result<void> ok;
  EXPECT_TRUE(ok.has_value());
  Result<void> failed = Unexpected(std::errc::bad_file_descriptor);
  EXPECT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error(), std::errc::bad_file_descriptor);
}

TEST(ResultTest, WouldBlockCoversBothSpellings) {
  EXPECT_TRUE(is_would_block(std::make_error_code(std::errc::resource_unavailable_try_again)));
  EXPECT_TRUE(is_would_block(std::make_error_code(std::errc::operation_would_block)));
  EXPECT_TRUE(is_would_block(std::error_code(EAGAIN, std::system_category())));
  EXPECT_FALSE(is_would_block(std::make_error_code(std::errc::interrupted)));
}

TEST(ResultDeathTest, ValueOfAnErrorAbortsWithTheMessage) {
  EXPECT_DEATH((void)half(3).value(), "value\\(\\) called on a Result holding an error");
}

}  // namespace
}  // namespace libpoll

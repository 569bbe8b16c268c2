#pragma once

// Small helpers the socket and pipe suites share.

#include <gtest/gtest.h>

#include <cstddef>
#include <ostream>
#include <span>
#include <string_view>
#include <system_error>

#include "libpoll/result.hpp"

namespace libpoll::testing {

/// Bytes of a string, for writes.
std::span<const std::byte> bytes(std::string_view text);

/// The first `size` bytes of a read buffer, as text.
std::string_view text(std::span<const char> buffer, std::size_t size);
std::string_view text(std::span<const std::byte> buffer, std::size_t size);

/// The descriptor flags every libpoll source must have from birth.
bool is_nonblocking(int fd);
bool is_close_on_exec(int fd);

/// Both of them, as one assertion: `EXPECT_TRUE(has_birth_flags(fd))`.
::testing::AssertionResult has_birth_flags(int fd);

/// Success when `result` failed with would-block; otherwise says what it returned instead.
template <class T>
::testing::AssertionResult would_block(const Result<T>& result) {
  if (!result) {
    if (is_would_block(result.error())) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "failed with " << result.error().message();
  }
  auto failure = ::testing::AssertionFailure() << "succeeded";
  if constexpr (requires(std::ostream & out) { out << *result; }) failure << " with " << *result;
  return failure;
}

/// True for the errors of a machine (often a container) without IPv6 loopback: the IPv6 tests
/// skip there rather than fail.
bool ipv6_unavailable(const std::error_code& error);

}  // namespace libpoll::testing

#pragma once

// The one conversion every system call in libpoll goes through: -1/errno becomes an error
// Result, anything else the value. Kept in one place so the mapping cannot drift.

#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <system_error>

#include "libpoll/result.hpp"

namespace libpoll::detail {

[[nodiscard]] inline Unexpected last_error() noexcept {
  return Unexpected(std::error_code(errno, std::system_category()));
}

/// For calls that return a count (read, write, send, recv...).
[[nodiscard]] inline Result<std::size_t> syscall_result(ssize_t rc) noexcept {
  if (rc < 0) return last_error();
  return static_cast<std::size_t>(rc);
}

/// For calls that return a descriptor or 0 on success.
[[nodiscard]] inline Result<int> syscall_int(int rc) noexcept {
  if (rc < 0) return last_error();
  return rc;
}

/// For calls whose only result is success.
[[nodiscard]] inline Result<void> syscall_void(int rc) noexcept {
  if (rc < 0) return last_error();
  return {};
}

}  // namespace libpoll::detail

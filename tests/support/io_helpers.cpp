#include "support/io_helpers.hpp"

#include <fcntl.h>

namespace libpoll::testing {

std::span<const std::byte> bytes(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

std::string_view text(std::span<const char> buffer, std::size_t size) {
  return {buffer.data(), size};
}

std::string_view text(std::span<const std::byte> buffer, std::size_t size) {
  return {reinterpret_cast<const char*>(buffer.data()), size};
}

bool is_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & O_NONBLOCK) != 0;
}

bool is_close_on_exec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}

::testing::AssertionResult has_birth_flags(int fd) {
  if (!is_nonblocking(fd)) return ::testing::AssertionFailure() << "fd " << fd << " blocks";
  if (!is_close_on_exec(fd)) {
    return ::testing::AssertionFailure() << "fd " << fd << " is not close-on-exec";
  }
  return ::testing::AssertionSuccess();
}

bool ipv6_unavailable(const std::error_code& error) {
  return error == std::errc::address_not_available ||
         error == std::errc::address_family_not_supported;
}

}  // namespace libpoll::testing

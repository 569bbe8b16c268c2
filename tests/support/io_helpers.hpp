#pragma once

// Small helpers the socket and pipe suites share.

#include <cstddef>
#include <span>
#include <string_view>
#include <system_error>

namespace libpoll::testing {

/// Bytes of a string, for writes.
std::span<const std::byte> bytes(std::string_view text);

/// The first `size` bytes of a read buffer, as text.
std::string_view text(std::span<const char> buffer, std::size_t size);
std::string_view text(std::span<const std::byte> buffer, std::size_t size);

/// The descriptor flags every libpoll source must have from birth.
bool is_nonblocking(int fd);
bool is_close_on_exec(int fd);

/// True for the errors of a machine (often a container) without IPv6 loopback: the IPv6 tests
/// skip there rather than fail.
bool ipv6_unavailable(const std::error_code& error);

}  // namespace libpoll::testing

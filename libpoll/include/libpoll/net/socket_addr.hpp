#pragma once

/// \file
/// `SocketAddr`: an IPv4, IPv6 or Unix-domain socket address.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "libpoll/result.hpp"

namespace libpoll::net {

/// A socket address of family `AF_INET`, `AF_INET6` or `AF_UNIX`, stored as the kernel's
/// `sockaddr_storage`.
///
/// ```cpp
/// auto addr = libpoll::net::SocketAddr::parse("127.0.0.1:0").value();   // any free port
/// auto v6 = libpoll::net::SocketAddr::parse("[::1]:8080").value();
/// auto path = libpoll::net::SocketAddr::unix_path("/tmp/app.sock").value();
/// ```
class SocketAddr {
 public:
  /// `a.b.c.d:port` or `[v6]:port`, the IPv6 address with an optional zone: `[fe80::1%2]:80`
  /// or `[fe80::1%eth0]:80` (an interface index or name). Errors: `std::errc::invalid_argument`
  /// (an unknown interface name too).
  [[nodiscard]] static Result<SocketAddr> parse(std::string_view text) noexcept;
  /// 127.0.0.1 or ::1 with the given port (0: let the kernel pick).
  [[nodiscard]] static SocketAddr loopback_v4(std::uint16_t port = 0) noexcept;
  [[nodiscard]] static SocketAddr loopback_v6(std::uint16_t port = 0) noexcept;
  /// A Unix-socket address: a filesystem path, or an abstract name (Linux) when `path` begins
  /// with a NUL. Errors: `std::errc::filename_too_long` when it does not fit `sockaddr_un` (107
  /// bytes for a path, 108 for an abstract name), `std::errc::invalid_argument` when empty or
  /// when a path (not an abstract name) holds a NUL.
  [[nodiscard]] static Result<SocketAddr> unix_path(std::string_view path) noexcept;
  /// An address as the kernel returned it (accept, recvfrom, getsockname).
  [[nodiscard]] static SocketAddr from_native(const sockaddr* addr, socklen_t length) noexcept;

  [[nodiscard]] sa_family_t family() const noexcept { return storage_.ss_family; }
  [[nodiscard]] bool is_ipv4() const noexcept { return family() == AF_INET; }
  [[nodiscard]] bool is_ipv6() const noexcept { return family() == AF_INET6; }
  [[nodiscard]] bool is_unix() const noexcept { return family() == AF_UNIX; }
  /// The port of an IP address; 0 for a Unix address.
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// The IP address without the port: "127.0.0.1", "::1"; empty for a Unix address.
  [[nodiscard]] std::string ip() const;
  /// The IP address's bytes in network order: 4 for IPv4, 16 for IPv6, none for a Unix
  /// address. They live in this object.
  [[nodiscard]] std::span<const std::byte> ip_bytes() const noexcept;
  /// The path of a Unix address, or its abstract name with the leading NUL; empty for an
  /// unnamed one or an IP address.
  [[nodiscard]] std::string path() const;
  /// "127.0.0.1:8080", "[::1]:8080", "[fe80::1%2]:8080" (with its zone's index),
  /// "unix:/tmp/app.sock", "unix:@name" (abstract: its leading NUL as '@'), "unix:(unnamed)".
  /// A Unix name's other bytes outside printable ASCII are escaped as Rust's `escape_ascii`
  /// does: a NUL as `\0`, a backslash as `\\`, any other as `\xNN` ("unix:@a\0b\x1b").
  [[nodiscard]] std::string to_string() const;

  [[nodiscard]] const sockaddr* native() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage_);
  }
  [[nodiscard]] socklen_t native_length() const noexcept { return length_; }

  friend bool operator==(const SocketAddr& a, const SocketAddr& b) noexcept;

 private:
  SocketAddr() noexcept;

  sockaddr_storage storage_;
  socklen_t length_ = 0;
};

}  // namespace libpoll::net

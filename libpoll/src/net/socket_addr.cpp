#include "libpoll/net/socket_addr.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/un.h>

#include <charconv>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

namespace libpoll::net {

namespace {

// An IPv6 zone, after the '%' of "fe80::1%eth0": an interface index, or a name.
std::optional<std::uint32_t> parse_scope(std::string_view text) noexcept {
  if (text.empty() || text.size() >= IF_NAMESIZE) return std::nullopt;
  std::uint32_t index = 0;
  const auto* end = text.data() + text.size();
  if (auto [ptr, ec] = std::from_chars(text.data(), end, index); ec == std::errc{} && ptr == end) {
    return index;
  }
  char name[IF_NAMESIZE] = {};
  text.copy(name, text.size());
  index = ::if_nametoindex(name);
  if (index == 0) return std::nullopt;
  return index;
}

std::optional<std::uint16_t> parse_port(std::string_view text) noexcept {
  unsigned value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value > 0xffff) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// A Unix name as text: printable ASCII as it is; a NUL as `\0`, a backslash as `\\` and every
// other byte as `\xNN`, as Rust's escape_ascii writes them, so that a log line or a report
// carries no control bytes, nor bytes that are not UTF-8.
void append_escaped(std::string& text, std::string_view name) {
  constexpr char kHex[] = "0123456789abcdef";
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == '\\') {
      text += "\\\\";
    } else if (byte == 0) {
      text += "\\0";
    } else if (byte >= 0x20 && byte < 0x7f) {
      text += c;
    } else {
      text += "\\x";
      text += kHex[byte >> 4];
      text += kHex[byte & 0xf];
    }
  }
}

}  // namespace

SocketAddr::SocketAddr() noexcept {
  std::memset(&storage_, 0, sizeof storage_);
}

Result<SocketAddr> SocketAddr::parse(std::string_view text) noexcept {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return Unexpected(std::errc::invalid_argument);
  const auto port = parse_port(text.substr(colon + 1));
  if (!port) return Unexpected(std::errc::invalid_argument);
  auto host = text.substr(0, colon);
  // inet_pton reads a C string: a NUL inside the text would cut the host short.
  if (host.find('\0') != std::string_view::npos) return Unexpected(std::errc::invalid_argument);

  SocketAddr addr;
  char buffer[INET6_ADDRSTRLEN] = {};
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr.storage_);
    if (const auto percent = host.find('%'); percent != std::string_view::npos) {
      const auto scope = parse_scope(host.substr(percent + 1));
      if (!scope) return Unexpected(std::errc::invalid_argument);
      v6->sin6_scope_id = *scope;
      host = host.substr(0, percent);
    }
    if (host.size() >= sizeof buffer) return Unexpected(std::errc::invalid_argument);
    host.copy(buffer, host.size());
    if (::inet_pton(AF_INET6, buffer, &v6->sin6_addr) != 1) {
      return Unexpected(std::errc::invalid_argument);
    }
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(*port);
    addr.length_ = sizeof(sockaddr_in6);
    return addr;
  }
  if (host.size() >= sizeof buffer) return Unexpected(std::errc::invalid_argument);
  host.copy(buffer, host.size());
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr.storage_);
  if (::inet_pton(AF_INET, buffer, &v4->sin_addr) != 1) {
    return Unexpected(std::errc::invalid_argument);
  }
  v4->sin_family = AF_INET;
  v4->sin_port = htons(*port);
  addr.length_ = sizeof(sockaddr_in);
  return addr;
}

SocketAddr SocketAddr::loopback_v4(std::uint16_t port) noexcept {
  SocketAddr addr;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr.storage_);
  v4->sin_family = AF_INET;
  v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  v4->sin_port = htons(port);
  addr.length_ = sizeof(sockaddr_in);
  return addr;
}

SocketAddr SocketAddr::loopback_v6(std::uint16_t port) noexcept {
  SocketAddr addr;
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr.storage_);
  v6->sin6_family = AF_INET6;
  v6->sin6_addr = in6addr_loopback;
  v6->sin6_port = htons(port);
  addr.length_ = sizeof(sockaddr_in6);
  return addr;
}

Result<SocketAddr> SocketAddr::unix_path(std::string_view path) noexcept {
  SocketAddr addr;
  auto* un = reinterpret_cast<sockaddr_un*>(&addr.storage_);
  if (path.empty()) return Unexpected(std::errc::invalid_argument);
  // An abstract name (a leading NUL) is its bytes exactly: a NUL after it would be part of the
  // name. A path keeps room for its terminating NUL, so that it reads back as a C string.
  const bool abstract = path.front() == '\0';
  // The kernel reads a path up to its first NUL: "/a\0b" would name "/a", another file.
  if (!abstract && path.find('\0') != std::string_view::npos) {
    return Unexpected(std::errc::invalid_argument);
  }
  if (path.size() > sizeof un->sun_path - (abstract ? 0 : 1)) {
    return Unexpected(std::errc::filename_too_long);
  }
  un->sun_family = AF_UNIX;
  path.copy(un->sun_path, path.size());
  addr.length_ =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return addr;
}

SocketAddr SocketAddr::from_native(const sockaddr* native, socklen_t length) noexcept {
  SocketAddr addr;
  if (length > sizeof addr.storage_) length = sizeof addr.storage_;
  std::memcpy(&addr.storage_, native, length);
  addr.length_ = length;
  return addr;
}

std::uint16_t SocketAddr::port() const noexcept {
  if (is_ipv4()) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (is_ipv6()) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string SocketAddr::path() const {
  if (!is_unix()) return {};
  const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
  const auto header = offsetof(sockaddr_un, sun_path);
  if (length_ <= header) return {};                                                 // unnamed
  if (un->sun_path[0] == '\0') return std::string(un->sun_path, length_ - header);  // abstract
  return std::string(un->sun_path, ::strnlen(un->sun_path, length_ - header));
}

std::span<const std::byte> SocketAddr::ip_bytes() const noexcept {
  if (is_ipv4()) {
    const auto& address = reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr;
    return std::as_bytes(std::span(&address, 1));
  }
  if (is_ipv6()) {
    const auto& address = reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
    return std::as_bytes(std::span(&address, 1));
  }
  return {};
}

std::string SocketAddr::ip() const {
  char host[INET6_ADDRSTRLEN] = {};
  if (!is_ipv4() && !is_ipv6()) return {};
  ::inet_ntop(family(), ip_bytes().data(), host, sizeof host);
  return host;
}

std::string SocketAddr::to_string() const {
  if (is_ipv4()) return ip() + ":" + std::to_string(port());
  if (is_ipv6()) {
    // Appended in place: GCC 12's -Wrestrict misreads `"[" + std::string&&` at -O2.
    std::string text = "[";
    text += ip();
    if (const auto scope = reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_scope_id) {
      text += '%';
      text += std::to_string(scope);
    }
    text += "]:";
    text += std::to_string(port());
    return text;
  }
  if (is_unix()) {
    const auto name = path();
    if (name.empty()) return "unix:(unnamed)";
    std::string text = "unix:";
    std::string_view rest = name;
    if (rest.front() == '\0') {
      text += '@';  // an abstract name, as ss and lsof show it
      rest.remove_prefix(1);
    }
    append_escaped(text, rest);
    return text;
  }
  return "(unspecified)";
}

bool operator==(const SocketAddr& a, const SocketAddr& b) noexcept {
  return a.length_ == b.length_ && std::memcmp(&a.storage_, &b.storage_, a.length_) == 0;
}

}  // namespace libpoll::net

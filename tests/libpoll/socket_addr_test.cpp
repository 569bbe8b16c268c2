#include "libpoll/net/socket_addr.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include "libpoll/net/unix_listener.hpp"

namespace libpoll::net {
namespace {

using namespace std::string_view_literals;

TEST(SocketAddrTest, ParsesAnIpv4AddressAndPort) {
  auto addr = SocketAddr::parse("192.168.1.20:8080");
  ASSERT_TRUE(addr) << addr.error().message();
  EXPECT_TRUE(addr->is_ipv4());
  EXPECT_FALSE(addr->is_ipv6());
  EXPECT_FALSE(addr->is_unix());
  EXPECT_EQ(addr->family(), AF_INET);
  EXPECT_EQ(addr->port(), 8080);
  EXPECT_EQ(addr->native_length(), sizeof(sockaddr_in));
  const auto* native = reinterpret_cast<const sockaddr_in*>(addr->native());
  EXPECT_EQ(ntohl(native->sin_addr.s_addr), 0xc0a80114u);
  EXPECT_EQ(ntohs(native->sin_port), 8080);
}

TEST(SocketAddrTest, ParsesAnIpv6AddressInBrackets) {
  auto addr = SocketAddr::parse("[2001:db8::1]:443");
  ASSERT_TRUE(addr) << addr.error().message();
  EXPECT_TRUE(addr->is_ipv6());
  EXPECT_EQ(addr->family(), AF_INET6);
  EXPECT_EQ(addr->port(), 443);
  EXPECT_EQ(addr->native_length(), sizeof(sockaddr_in6));
  const auto* native = reinterpret_cast<const sockaddr_in6*>(addr->native());
  in6_addr expected{};
  ASSERT_EQ(::inet_pton(AF_INET6, "2001:db8::1", &expected), 1);
  EXPECT_EQ(std::memcmp(&native->sin6_addr, &expected, sizeof expected), 0);
}

TEST(SocketAddrTest, AcceptsTheWholePortRange) {
  EXPECT_EQ(SocketAddr::parse("0.0.0.0:0").value().port(), 0);
  EXPECT_EQ(SocketAddr::parse("127.0.0.1:65535").value().port(), 65535);
  EXPECT_EQ(SocketAddr::parse("[::]:65535").value().port(), 65535);
}

TEST(SocketAddrTest, RejectsAnAddressWithoutAPort) {
  for (std::string_view text : {"127.0.0.1", "[::1]", "127.0.0.1:", "[::1]:", "localhost"}) {
    auto addr = SocketAddr::parse(text);
    ASSERT_FALSE(addr) << text << " parsed as " << addr->to_string();
    EXPECT_EQ(addr.error(), std::errc::invalid_argument) << text;
  }
}

TEST(SocketAddrTest, RejectsAPortAbove65535) {
  for (std::string_view text : {"127.0.0.1:65536", "[::1]:65536", "127.0.0.1:99999999999"}) {
    auto addr = SocketAddr::parse(text);
    ASSERT_FALSE(addr) << text << " parsed as " << addr->to_string();
    EXPECT_EQ(addr.error(), std::errc::invalid_argument) << text;
  }
}

TEST(SocketAddrTest, RejectsGarbage) {
  for (std::string_view text : {
           "garbage",
           "hello:80",
           "1.2.3:80",
           "256.0.0.1:80",
           "1.2.3.4.5:80",
           "127.0.0.1:http",
           "127.0.0.1:-1",
           "127.0.0.1:+80",
           "127.0.0.1:8o",
           " 127.0.0.1:80",
           "127.0.0.1:80 ",
           "::1:80",          // IPv6 needs brackets
           "[127.0.0.1]:80",  // brackets are for IPv6 only
           "[::1:80",
           "::1]:80",
           "[]:80",
           ":80",
           ":",
       }) {
    auto addr = SocketAddr::parse(text);
    ASSERT_FALSE(addr) << "'" << text << "' parsed as " << addr->to_string();
    EXPECT_EQ(addr.error(), std::errc::invalid_argument) << text;
  }
}

TEST(SocketAddrTest, RejectsEmptyInput) {
  auto addr = SocketAddr::parse("");
  ASSERT_FALSE(addr);
  EXPECT_EQ(addr.error(), std::errc::invalid_argument);
}

// Regression: parse hands the host to inet_pton as a C string, which stops at the first NUL, so
// "127.0.0.1\0junk:80" used to parse as 127.0.0.1:80. Every byte of the string_view counts.
TEST(SocketAddrTest, RejectsAHostWithAnEmbeddedNul) {
  for (std::string_view text : {"127.0.0.1\0junk:80"sv, "[::1\0junk]:80"sv}) {
    auto addr = SocketAddr::parse(text);
    EXPECT_FALSE(addr) << "a host with an embedded NUL parsed as " << addr->to_string();
  }
}

TEST(SocketAddrTest, ToStringRoundTripsThroughParse) {
  for (std::string_view text : {"127.0.0.1:80", "0.0.0.0:0", "10.1.2.3:65535", "[::1]:8080",
                                "[2001:db8::42]:1", "[::]:0", "[::ffff:192.0.2.1]:53"}) {
    auto addr = SocketAddr::parse(text);
    ASSERT_TRUE(addr) << text;
    EXPECT_EQ(addr->to_string(), text);
    auto again = SocketAddr::parse(addr->to_string());
    ASSERT_TRUE(again) << addr->to_string();
    EXPECT_EQ(*again, *addr);
  }
}

// A link-local address's zone (its interface) is part of it: parsed by index or name, printed
// by index, and two zones are two addresses.
TEST(SocketAddrTest, AnIpv6ZoneIsParsedAndPrinted) {
  auto by_index = SocketAddr::parse("[fe80::1%7]:80");
  ASSERT_TRUE(by_index) << by_index.error().message();
  EXPECT_EQ(reinterpret_cast<const sockaddr_in6*>(by_index->native())->sin6_scope_id, 7u);
  EXPECT_EQ(by_index->ip(), "fe80::1");
  EXPECT_EQ(by_index->to_string(), "[fe80::1%7]:80");
  EXPECT_EQ(SocketAddr::parse(by_index->to_string()).value(), *by_index);
  EXPECT_NE(SocketAddr::parse("[fe80::1%8]:80").value(), *by_index);

  const unsigned loopback = ::if_nametoindex("lo");
  ASSERT_NE(loopback, 0u) << "no interface named lo";
  auto by_name = SocketAddr::parse("[fe80::1%lo]:80");
  ASSERT_TRUE(by_name) << by_name.error().message();
  EXPECT_EQ(by_name->to_string(), "[fe80::1%" + std::to_string(loopback) + "]:80");

  for (const char* bad : {"[fe80::1%]:80", "[fe80::1%no-such-if0]:80", "[fe80::1%lo%lo]:80"}) {
    auto parsed = SocketAddr::parse(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error(), std::errc::invalid_argument) << bad;
  }
}

TEST(SocketAddrTest, ToStringWritesIpv6InItsCanonicalForm) {
  EXPECT_EQ(SocketAddr::parse("[0:0:0:0:0:0:0:1]:9").value().to_string(), "[::1]:9");
  EXPECT_EQ(SocketAddr::parse("[2001:DB8::A]:9").value().to_string(), "[2001:db8::a]:9");
}

TEST(SocketAddrTest, LoopbackHelpersGiveTheLoopbackAddresses) {
  EXPECT_EQ(SocketAddr::loopback_v4(), SocketAddr::parse("127.0.0.1:0").value());
  EXPECT_EQ(SocketAddr::loopback_v4(8080), SocketAddr::parse("127.0.0.1:8080").value());
  EXPECT_EQ(SocketAddr::loopback_v6(), SocketAddr::parse("[::1]:0").value());
  EXPECT_EQ(SocketAddr::loopback_v6(9000), SocketAddr::parse("[::1]:9000").value());
  EXPECT_EQ(SocketAddr::loopback_v4(1234).to_string(), "127.0.0.1:1234");
  EXPECT_EQ(SocketAddr::loopback_v6(1234).to_string(), "[::1]:1234");
  EXPECT_TRUE(SocketAddr::loopback_v4().is_ipv4());
  EXPECT_TRUE(SocketAddr::loopback_v6().is_ipv6());
  EXPECT_EQ(SocketAddr::loopback_v4().port(), 0);
}

TEST(SocketAddrTest, EqualityComparesFamilyAddressAndPort) {
  const auto addr = SocketAddr::parse("127.0.0.1:80").value();
  EXPECT_EQ(addr, SocketAddr::parse("127.0.0.1:80").value());
  EXPECT_NE(addr, SocketAddr::parse("127.0.0.1:81").value());
  EXPECT_NE(addr, SocketAddr::parse("127.0.0.2:80").value());
  EXPECT_NE(addr, SocketAddr::parse("[::ffff:127.0.0.1]:80").value());
  EXPECT_NE(SocketAddr::loopback_v4(80), SocketAddr::loopback_v6(80));
  EXPECT_NE(SocketAddr::unix_path("/tmp/a").value(), SocketAddr::unix_path("/tmp/b").value());
  EXPECT_NE(SocketAddr::unix_path("/tmp/a").value(), SocketAddr::unix_path("/tmp/ab").value());
  EXPECT_EQ(SocketAddr::unix_path("/tmp/a").value(), SocketAddr::unix_path("/tmp/a").value());
}

TEST(SocketAddrTest, FromNativeKeepsWhatTheKernelGave) {
  sockaddr_in native{};
  native.sin_family = AF_INET;
  native.sin_port = htons(4242);
  native.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto addr =
      SocketAddr::from_native(reinterpret_cast<const sockaddr*>(&native), sizeof native);
  EXPECT_EQ(addr, SocketAddr::loopback_v4(4242));
  EXPECT_EQ(addr.native_length(), sizeof native);
}

TEST(SocketAddrTest, UnixPathRoundTripsThroughPath) {
  auto addr = SocketAddr::unix_path("/tmp/libpoll/app.sock");
  ASSERT_TRUE(addr) << addr.error().message();
  EXPECT_TRUE(addr->is_unix());
  EXPECT_EQ(addr->family(), AF_UNIX);
  EXPECT_EQ(addr->path(), "/tmp/libpoll/app.sock");
  EXPECT_EQ(addr->to_string(), "unix:/tmp/libpoll/app.sock");
  EXPECT_EQ(addr->port(), 0);
}

TEST(SocketAddrTest, UnixPathOfTheLongestLengthThatFitsRoundTrips) {
  constexpr std::size_t kLongest = sizeof(sockaddr_un::sun_path) - 1;  // room for the NUL
  const std::string longest = "/" + std::string(kLongest - 1, 'p');
  auto addr = SocketAddr::unix_path(longest);
  ASSERT_TRUE(addr) << addr.error().message();
  EXPECT_EQ(addr->path(), longest);
}

TEST(SocketAddrTest, UnixPathTooLongIsFilenameTooLong) {
  const std::string too_long = "/" + std::string(sizeof(sockaddr_un::sun_path) - 1, 'p');
  auto addr = SocketAddr::unix_path(too_long);
  ASSERT_FALSE(addr);
  EXPECT_EQ(addr.error(), std::errc::filename_too_long);
}

// An abstract name (Linux) is its bytes exactly, with no terminating NUL: a client that
// connects by the name as other programs write it reaches the listener.
TEST(SocketAddrTest, AnAbstractUnixNameIsItsBytesExactly) {
  const std::string name = std::string(1, '\0') + "libpoll-socket-addr-test";
  auto addr = SocketAddr::unix_path(name);
  ASSERT_TRUE(addr) << addr.error().message();
  EXPECT_EQ(addr->native_length(), offsetof(sockaddr_un, sun_path) + name.size());
  EXPECT_EQ(addr->path(), name);
  EXPECT_EQ(addr->to_string(), "unix:@libpoll-socket-addr-test");

  auto listener = UnixListener::bind(name);
  ASSERT_TRUE(listener) << listener.error().message();
  auto local = listener->local_addr();
  ASSERT_TRUE(local) << local.error().message();
  EXPECT_EQ(*local, *addr);
  sockaddr_un peer{};
  peer.sun_family = AF_UNIX;
  name.copy(peer.sun_path, name.size());
  const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  EXPECT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&peer),
                      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())),
            0)
      << std::strerror(errno);
  ::close(client);
}

// A name's NULs and control bytes would reach a log line, or a report, raw: they are escaped,
// and an ordinary name is shown as it is.
TEST(SocketAddrTest, UnixNamesAreShownWithoutControlBytes) {
  using namespace std::string_literals;
  const std::string pid = std::to_string(::getpid());  // abstract names are machine-wide
  const std::string name = "\0lp"s + pid + "\0in\x1b[31m\n\\\xff"s;
  auto listener = UnixListener::bind(name);
  ASSERT_TRUE(listener) << listener.error().message();
  auto local = listener->local_addr();
  ASSERT_TRUE(local) << local.error().message();
  EXPECT_EQ(local->path(), name);
  EXPECT_EQ(local->to_string(), "unix:@lp" + pid + R"(\0in\x1b[31m\x0a\\\xff)");

  auto path = SocketAddr::unix_path("/tmp/a\tb.sock");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->to_string(), R"(unix:/tmp/a\x09b.sock)");
  EXPECT_EQ(SocketAddr::unix_path("/tmp/plain-name_1.sock")->to_string(),
            "unix:/tmp/plain-name_1.sock");
  EXPECT_EQ(SocketAddr::unix_path("\0plain"s)->to_string(), "unix:@plain");
}

TEST(SocketAddrTest, AnAbstractNameFillsTheWholePath) {
  const std::string longest =
      std::string(1, '\0') + std::string(sizeof(sockaddr_un::sun_path) - 1, 'a');
  ASSERT_TRUE(SocketAddr::unix_path(longest));
  auto too_long = SocketAddr::unix_path(longest + "a");
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error(), std::errc::filename_too_long);
}

TEST(SocketAddrTest, EmptyUnixPathIsInvalid) {
  auto addr = SocketAddr::unix_path("");
  ASSERT_FALSE(addr);
  EXPECT_EQ(addr.error(), std::errc::invalid_argument);
}

TEST(SocketAddrTest, IpAddressesHaveNoPath) {
  EXPECT_EQ(SocketAddr::loopback_v4(80).path(), "");
  EXPECT_EQ(SocketAddr::loopback_v6(80).path(), "");
}

TEST(SocketAddrTest, GivesItsIpAddressWithoutThePort) {
  const auto v4 = SocketAddr::parse("192.168.1.20:8080").value();
  EXPECT_EQ(v4.ip(), "192.168.1.20");
  ASSERT_EQ(v4.ip_bytes().size(), 4u);
  EXPECT_EQ(std::to_integer<int>(v4.ip_bytes()[0]), 192);
  EXPECT_EQ(std::to_integer<int>(v4.ip_bytes()[3]), 20);

  const auto v6 = SocketAddr::parse("[2001:db8::1]:443").value();
  EXPECT_EQ(v6.ip(), "2001:db8::1");
  ASSERT_EQ(v6.ip_bytes().size(), 16u);
  EXPECT_EQ(std::to_integer<int>(v6.ip_bytes()[0]), 0x20);
  EXPECT_EQ(std::to_integer<int>(v6.ip_bytes()[15]), 1);
  EXPECT_EQ(SocketAddr::loopback_v6().ip(), "::1");

  const auto path = SocketAddr::unix_path("/tmp/x.sock").value();
  EXPECT_EQ(path.ip(), "");
  EXPECT_TRUE(path.ip_bytes().empty());
}

}  // namespace
}  // namespace libpoll::net

#include "libpoll/net/udp_socket.hpp"

#include <fcntl.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using net::SocketAddr;
using net::UdpSocket;
using testing::bytes;
using testing::count_events_for;
using testing::expect_events;
using testing::expect_no_events;
using testing::ipv6_unavailable;
using testing::kReadable;
using testing::kWritable;
using testing::PollTest;
using testing::text;
using testing::would_block;

constexpr Token kFirst{1};
constexpr Token kSecond{2};
constexpr Token kStranger{3};

class UdpSocketTest : public PollTest {
 protected:
  // Sends `message` from `from` to `to` with send_to, and checks that `to` (registered under
  // `token` for reading) gets a readable event and that recv_from returns exactly the bytes and
  // the sender's address, then would-block.
  void expect_exchange(UdpSocket& from, UdpSocket& to, Token token, std::string_view message) {
    const auto destination = to.local_addr().value();
    const auto source = from.local_addr().value();
    auto sent = from.send_to(bytes(message), destination);
    ASSERT_TRUE(sent) << sent.error().message();
    ASSERT_EQ(*sent, message.size());

    expect_events(poll(), events_, {{token, kReadable}});
    std::array<std::byte, 128> buffer{};
    auto received = to.recv_from(buffer);
    ASSERT_TRUE(received) << received.error().message();
    EXPECT_EQ(text(buffer, received->first), message);
    EXPECT_EQ(received->second, source) << received->second.to_string();
    auto drained = to.recv_from(buffer);
    EXPECT_TRUE(would_block(drained));
  }
};

TEST_P(UdpSocketTest, BindsToIpv4LoopbackOnAPortTheKernelPicks) {
  auto socket = UdpSocket::bind(SocketAddr::parse("127.0.0.1:0").value());
  ASSERT_TRUE(socket) << socket.error().message();
  const auto address = socket->local_addr().value();
  EXPECT_TRUE(address.is_ipv4());
  EXPECT_NE(address.port(), 0);
  EXPECT_EQ(address, SocketAddr::loopback_v4(address.port()));
  EXPECT_NE(::fcntl(socket->as_raw_fd(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(socket->as_raw_fd(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST_P(UdpSocketTest, BindsToIpv6LoopbackOnAPortTheKernelPicks) {
  auto socket = UdpSocket::bind(SocketAddr::parse("[::1]:0").value());
  if (!socket && ipv6_unavailable(socket.error())) GTEST_SKIP() << "no IPv6 loopback";
  ASSERT_TRUE(socket) << socket.error().message();
  const auto address = socket->local_addr().value();
  EXPECT_TRUE(address.is_ipv6());
  EXPECT_NE(address.port(), 0);
  EXPECT_EQ(address, SocketAddr::loopback_v6(address.port()));
}

TEST_P(UdpSocketTest, SendToAndRecvFromMoveExactBytesAndReportTheSourceOverIpv4) {
  auto first = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  auto second = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  ASSERT_TRUE(registry().register_source(first, kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(second, kSecond, Interest::readable));

  expect_exchange(first, second, kSecond, "ping over IPv4");
  expect_exchange(second, first, kFirst, "pong");

  ASSERT_TRUE(registry().deregister_source(first));
  ASSERT_TRUE(registry().deregister_source(second));
}

TEST_P(UdpSocketTest, SendToAndRecvFromMoveExactBytesAndReportTheSourceOverIpv6) {
  auto first = UdpSocket::bind(SocketAddr::loopback_v6());
  if (!first && ipv6_unavailable(first.error())) GTEST_SKIP() << "no IPv6 loopback";
  ASSERT_TRUE(first) << first.error().message();
  auto second = UdpSocket::bind(SocketAddr::loopback_v6()).value();
  ASSERT_TRUE(registry().register_source(*first, kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(second, kSecond, Interest::readable));

  expect_exchange(*first, second, kSecond, "ping over IPv6");
  expect_exchange(second, *first, kFirst, "pong");

  ASSERT_TRUE(registry().deregister_source(*first));
  ASSERT_TRUE(registry().deregister_source(second));
}

TEST_P(UdpSocketTest, EmptyDatagramMakesTheSocketReadableAndRecvReturnsZero) {
  auto sender = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  auto receiver = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  ASSERT_TRUE(registry().register_source(sender, kFirst, Interest::writable));
  ASSERT_TRUE(registry().register_source(receiver, kSecond, Interest::readable));
  expect_events(poll(), events_, {{kFirst, kWritable}});

  ASSERT_EQ(sender.send_to({}, receiver.local_addr().value()).value(), 0u);
  expect_events(poll(), events_, {{kSecond, kReadable}});

  std::array<std::byte, 16> buffer{};
  auto received = receiver.recv_from(buffer);
  ASSERT_TRUE(received) << received.error().message();
  EXPECT_EQ(received->first, 0u);
  EXPECT_EQ(received->second, sender.local_addr().value());
  auto drained = receiver.recv(buffer);
  EXPECT_TRUE(would_block(drained));

  ASSERT_TRUE(registry().deregister_source(sender));
  ASSERT_TRUE(registry().deregister_source(receiver));
}

TEST_P(UdpSocketTest, RecvOnAnEmptySocketWouldBlock) {
  auto socket = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  std::array<std::byte, 16> buffer{};
  auto received = socket.recv(buffer);
  EXPECT_TRUE(would_block(received));
  auto received_from = socket.recv_from(buffer);
  EXPECT_TRUE(would_block(received_from));
}

TEST_P(UdpSocketTest, ConnectedSocketsSendRecvAndPeek) {
  auto first = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  auto second = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  const auto first_address = first.local_addr().value();
  const auto second_address = second.local_addr().value();
  ASSERT_TRUE(first.connect(second_address));
  ASSERT_TRUE(second.connect(first_address));
  EXPECT_EQ(first.peer_addr().value(), second_address);
  EXPECT_EQ(second.peer_addr().value(), first_address);
  ASSERT_TRUE(registry().register_source(first, kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(second, kSecond, Interest::readable));

  ASSERT_EQ(first.send(bytes("connected")).value(), 9u);
  expect_events(poll(), events_, {{kSecond, kReadable}});
  std::array<std::byte, 64> buffer{};
  auto peeked = second.peek(buffer);
  ASSERT_TRUE(peeked) << peeked.error().message();
  EXPECT_EQ(text(buffer, *peeked), "connected");
  buffer.fill(std::byte{0});
  auto received = second.recv(buffer);
  ASSERT_TRUE(received) << received.error().message();
  EXPECT_EQ(text(buffer, *received), "connected");
  auto drained = second.recv(buffer);
  EXPECT_TRUE(would_block(drained));

  ASSERT_EQ(second.send(bytes("reply")).value(), 5u);
  expect_events(poll(), events_, {{kFirst, kReadable}});
  auto reply = first.recv(buffer);
  ASSERT_TRUE(reply);
  EXPECT_EQ(text(buffer, *reply), "reply");

  ASSERT_TRUE(registry().deregister_source(first));
  ASSERT_TRUE(registry().deregister_source(second));
}

TEST_P(UdpSocketTest, UnconnectedSocketHasNoPeer) {
  auto socket = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  auto peer = socket.peer_addr();
  ASSERT_FALSE(peer);
  EXPECT_EQ(peer.error(), std::errc::not_connected);
}

TEST_P(UdpSocketTest, ConnectedSocketIgnoresDatagramsFromAnotherPeer) {
  auto socket = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  auto peer = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  auto stranger = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  const auto address = socket.local_addr().value();
  ASSERT_TRUE(socket.connect(peer.local_addr().value()));
  ASSERT_TRUE(registry().register_source(socket, kFirst, Interest::readable));

  ASSERT_TRUE(stranger.send_to(bytes("intruder"), address));
  expect_no_events(poll(), events_);
  std::array<std::byte, 64> buffer{};
  auto nothing = socket.recv(buffer);
  EXPECT_TRUE(would_block(nothing));

  // The peer's datagram still gets through, and it is the only one queued.
  ASSERT_TRUE(peer.send_to(bytes("friend"), address));
  expect_events(poll(), events_, {{kFirst, kReadable}});
  auto received = socket.recv_from(buffer);
  ASSERT_TRUE(received);
  EXPECT_EQ(text(buffer, received->first), "friend");
  EXPECT_EQ(received->second, peer.local_addr().value());
  auto drained = socket.recv(buffer);
  EXPECT_TRUE(would_block(drained));

  ASSERT_TRUE(registry().deregister_source(socket));
}

TEST_P(UdpSocketTest, TwoDatagramsGiveOneEventAndTwoRecvsThenWouldBlock) {
  auto sender = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  auto receiver = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  const auto address = receiver.local_addr().value();
  ASSERT_TRUE(registry().register_source(receiver, kSecond, Interest::readable));

  // A second Poll, watching a duplicate of the socket (one source may not be registered with
  // two Polls), sees each datagram land, so that both are queued before the first poll looks:
  // the edge-triggered contract then promises one event for both.
  auto observer = Poll::create(GetParam()).value();
  Events observed(8);
  OwnedFd duplicate(::fcntl(receiver.as_raw_fd(), F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(duplicate.is_valid());
  ASSERT_TRUE(
      observer.registry().register_source(SourceFd(duplicate.get()), kSecond, Interest::readable));
  ASSERT_TRUE(sender.send_to(bytes("one"), address));
  expect_events(observer, observed, {{kSecond, kReadable}});
  ASSERT_TRUE(sender.send_to(bytes("two"), address));
  expect_events(observer, observed, {{kSecond, kReadable}});
  ASSERT_TRUE(observer.registry().deregister_source(SourceFd(duplicate.get())));

  EXPECT_EQ(count_events_for(poll(), events_, kSecond), 1u);
  std::array<std::byte, 64> buffer{};
  auto one = receiver.recv(buffer);
  ASSERT_TRUE(one);
  EXPECT_EQ(text(buffer, *one), "one");
  auto two = receiver.recv(buffer);
  ASSERT_TRUE(two);
  EXPECT_EQ(text(buffer, *two), "two");
  auto drained = receiver.recv(buffer);
  EXPECT_TRUE(would_block(drained));
  // Draining is not an edge: no event follows.
  expect_no_events(poll(), events_);

  ASSERT_TRUE(registry().deregister_source(receiver));
}

TEST_P(UdpSocketTest, PeekFromLeavesTheDatagramQueued) {
  auto sender = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  auto receiver = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  const auto source = sender.local_addr().value();
  ASSERT_TRUE(registry().register_source(receiver, kSecond, Interest::readable));

  ASSERT_TRUE(sender.send_to(bytes("look, don't take"), receiver.local_addr().value()));
  expect_events(poll(), events_, {{kSecond, kReadable}});

  std::array<std::byte, 64> buffer{};
  for (int peek = 0; peek < 2; ++peek) {
    auto peeked = receiver.peek_from(buffer);
    ASSERT_TRUE(peeked) << peeked.error().message();
    EXPECT_EQ(text(buffer, peeked->first), "look, don't take");
    EXPECT_EQ(peeked->second, source);
  }
  buffer.fill(std::byte{0});
  auto received = receiver.recv_from(buffer);
  ASSERT_TRUE(received);
  EXPECT_EQ(text(buffer, received->first), "look, don't take");
  EXPECT_EQ(received->second, source);
  auto drained = receiver.peek_from(buffer);
  EXPECT_TRUE(would_block(drained));

  ASSERT_TRUE(registry().deregister_source(receiver));
}

TEST_P(UdpSocketTest, DeregisteredSocketGetsNoEventsButStillReceives) {
  auto sender = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  auto receiver = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  ASSERT_TRUE(registry().register_source(receiver, kSecond, Interest::readable));
  ASSERT_TRUE(registry().deregister_source(receiver));

  auto observer = Poll::create(GetParam()).value();
  Events observed(8);
  ASSERT_TRUE(observer.registry().register_source(receiver, kStranger, Interest::readable));
  ASSERT_TRUE(sender.send_to(bytes("quiet"), receiver.local_addr().value()));
  expect_events(observer, observed, {{kStranger, kReadable}});
  ASSERT_TRUE(observer.registry().deregister_source(receiver));

  expect_no_events(poll(), events_);
  std::array<std::byte, 64> buffer{};
  auto received = receiver.recv(buffer);
  ASSERT_TRUE(received) << received.error().message();
  EXPECT_EQ(text(buffer, *received), "quiet");
}

// A refusal (ICMP port unreachable) for a connected socket's datagram is not lost: it comes as
// an error event and the next recv fails with connection_refused, once.
TEST_P(UdpSocketTest, ConnectedSocketGetsARefusalAsAnErrorEventAndFromItsNextRecv) {
  auto socket = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  const auto gone = [] {
    auto closed = UdpSocket::bind(SocketAddr::loopback_v4()).value();
    return closed.local_addr().value();
  }();
  ASSERT_TRUE(socket.connect(gone));
  ASSERT_TRUE(registry().register_source(socket, kFirst, Interest::readable));
  ASSERT_EQ(socket.send(bytes("ping")).value(), 4u);
  expect_events(poll(), events_, {{kFirst, {.error = true}}});

  std::array<std::byte, 16> buffer{};
  auto refused = socket.recv(buffer);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), std::errc::connection_refused) << refused.error().message();
  EXPECT_TRUE(would_block(socket.recv(buffer)));
  ASSERT_TRUE(registry().deregister_source(socket));
}

TEST_P(UdpSocketTest, SendToOfADatagramLargerThanUdpAllowsFailsWithMessageSize) {
  auto socket = UdpSocket::bind(SocketAddr::loopback_v4()).value();
  const std::vector<std::byte> too_large(70000);
  auto sent = socket.send_to(too_large, socket.local_addr().value());
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::message_size) << sent.error().message();
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(UdpSocketTest);

}  // namespace
}  // namespace libpoll

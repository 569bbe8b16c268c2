#include "libpoll/net/tcp_listener.hpp"
#include "libpoll/net/tcp_stream.hpp"
#include "libpoll/owned_fd.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using net::Shutdown;
using net::SocketAddr;
using net::TcpListener;
using net::TcpStream;
using testing::count_events_for;
using testing::expect_events;
using testing::expect_no_events;
using testing::has_birth_flags;
using testing::ipv6_unavailable;
using testing::is_close_on_exec;
using testing::is_nonblocking;
using testing::kReadable;
using testing::kReadClosed;
using testing::kWritable;
using testing::kWriteClosed;
using testing::PollTest;
using testing::Readiness;
using testing::text;
using testing::would_block;

constexpr Token kListener{1};
constexpr Token kClient{2};
constexpr Token kServer{3};
constexpr Token kAgain{4};

// Blocks SIGPIPE in this thread for its lifetime, so that a SIGPIPE raised by a write becomes
// pending (even when the process ignores it) instead of killing the test binary; `raised()`
// reports whether one was. The pending signal is consumed before the mask is restored.
class SigpipeProbe {
 public:
  SigpipeProbe() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
    consume();
  }
  SigpipeProbe(const SigpipeProbe&) = delete;
  SigpipeProbe& operator=(const SigpipeProbe&) = delete;
  ~SigpipeProbe() {
    consume();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }

  bool raised() {
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    const bool was_raised = sigismember(&pending, SIGPIPE) == 1;
    consume();
    return was_raised;
  }

 private:
  void consume() {
    const timespec no_wait{};
    while (sigtimedwait(&set_, nullptr, &no_wait) == SIGPIPE) {
    }
  }

  sigset_t set_;
  sigset_t previous_;
};

// A connected pair over loopback: `client` made by TcpStream::connect, `server` by accept.
struct Connection {
  TcpStream client;
  TcpStream server;
};

class TcpTest : public PollTest {
 protected:
  // Binds a listener on `where`, connects to it, and accepts after waiting for the listener's
  // readable event. Neither stream is registered when this returns; the listener is gone.
  std::optional<Connection> connect_over_loopback(const SocketAddr& where) {
    auto listener = TcpListener::bind(where);
    if (!listener) {
      ADD_FAILURE() << "bind " << where.to_string() << ": " << listener.error().message();
      return std::nullopt;
    }
    auto address = listener->local_addr();
    if (!address) {
      ADD_FAILURE() << "local_addr: " << address.error().message();
      return std::nullopt;
    }
    auto client = TcpStream::connect(*address);
    if (!client) {
      ADD_FAILURE() << "connect: " << client.error().message();
      return std::nullopt;
    }
    if (auto registered = registry().register_source(*listener, kListener, Interest::readable);
        !registered) {
      ADD_FAILURE() << "register listener: " << registered.error().message();
      return std::nullopt;
    }
    expect_events(poll(), events_, {{kListener, kReadable}});
    auto accepted = listener->accept();
    if (auto deregistered = registry().deregister_source(*listener); !deregistered) {
      ADD_FAILURE() << "deregister listener: " << deregistered.error().message();
    }
    if (!accepted) {
      ADD_FAILURE() << "accept: " << accepted.error().message();
      return std::nullopt;
    }
    return Connection{std::move(*client), std::move(accepted->first)};
  }

  std::optional<Connection> connect_over_loopback() {
    return connect_over_loopback(SocketAddr::loopback_v4());
  }

  // Registers `stream` for reading and writing and consumes the first (writable) event, which
  // a connected stream reports at once.
  void register_and_wait_writable(TcpStream& stream, Token token) {
    ASSERT_TRUE(registry().register_source(stream, token, Interest::readable | Interest::writable));
    expect_events(poll(), events_, {{token, kWritable}});
  }
};

class TcpListenerTest : public TcpTest {};
class TcpStreamTest : public TcpTest {};

TEST_P(TcpListenerTest, BindsToIpv4LoopbackOnAPortTheKernelPicks) {
  auto listener = TcpListener::bind(SocketAddr::parse("127.0.0.1:0").value());
  ASSERT_TRUE(listener) << listener.error().message();
  auto address = listener->local_addr();
  ASSERT_TRUE(address) << address.error().message();
  EXPECT_TRUE(address->is_ipv4());
  EXPECT_NE(address->port(), 0);
  EXPECT_EQ(*address, SocketAddr::loopback_v4(address->port()));
}

TEST_P(TcpListenerTest, BindsToIpv6LoopbackOnAPortTheKernelPicks) {
  auto listener = TcpListener::bind(SocketAddr::parse("[::1]:0").value());
  if (!listener && ipv6_unavailable(listener.error())) GTEST_SKIP() << "no IPv6 loopback";
  ASSERT_TRUE(listener) << listener.error().message();
  auto address = listener->local_addr();
  ASSERT_TRUE(address) << address.error().message();
  EXPECT_TRUE(address->is_ipv6());
  EXPECT_NE(address->port(), 0);
  EXPECT_EQ(*address, SocketAddr::loopback_v6(address->port()));
}

TEST_P(TcpListenerTest, AcceptWithNoPendingConnectionWouldBlock) {
  auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
  auto accepted = listener.accept();
  EXPECT_TRUE(would_block(accepted));
}

TEST_P(TcpListenerTest, AcceptsEveryPendingConnectionUntilWouldBlock) {
  auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
  const auto address = listener.local_addr().value();
  ASSERT_TRUE(registry().register_source(listener, kListener, Interest::readable));

  constexpr std::size_t kClients = 3;
  std::vector<TcpStream> clients;
  std::vector<SocketAddr> client_addresses;
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.push_back(TcpStream::connect(address).value());
    client_addresses.push_back(clients.back().local_addr().value());
  }

  // The connections may reach the backlog at different moments: after each readable edge,
  // accept until would-block, as the edge-triggered contract requires.
  std::vector<TcpStream> accepted;
  std::vector<SocketAddr> peers;
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (accepted.size() < kClients && std::chrono::steady_clock::now() < give_up) {
    expect_events(poll(), events_, {{kListener, kReadable}});
    for (;;) {
      auto next = listener.accept();
      if (!next) {
        EXPECT_TRUE(is_would_block(next.error())) << next.error().message();
        break;
      }
      peers.push_back(next->second);
      accepted.push_back(std::move(next->first));
    }
  }
  ASSERT_EQ(accepted.size(), kClients);
  for (const SocketAddr& peer : peers) {
    EXPECT_NE(std::find(client_addresses.begin(), client_addresses.end(), peer),
              client_addresses.end())
        << "accepted a peer that is none of our clients: " << peer.to_string();
  }
  for (const TcpStream& stream : accepted) {
    EXPECT_EQ(stream.local_addr().value(), address);
  }
  auto drained = listener.accept();
  EXPECT_TRUE(would_block(drained));

  ASSERT_TRUE(registry().deregister_source(listener));
}

TEST_P(TcpStreamTest, ConnectingStreamFirstReportsWritableThenHasNoErrorAndKnowsItsPeer) {
  auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
  const auto address = listener.local_addr().value();
  auto client = TcpStream::connect(address).value();
  ASSERT_TRUE(registry().register_source(client, kClient, Interest::writable));

  expect_events(poll(), events_, {{kClient, kWritable}});
  auto error = client.take_error();
  ASSERT_TRUE(error) << error.error().message();
  EXPECT_FALSE(*error) << error->message();
  auto peer = client.peer_addr();
  ASSERT_TRUE(peer) << peer.error().message();
  EXPECT_EQ(*peer, address);

  ASSERT_TRUE(registry().deregister_source(client));
}

TEST_P(TcpStreamTest, ConnectsOverIpv6Loopback) {
  auto listener = TcpListener::bind(SocketAddr::loopback_v6());
  if (!listener && ipv6_unavailable(listener.error())) GTEST_SKIP() << "no IPv6 loopback";
  ASSERT_TRUE(listener) << listener.error().message();
  const auto address = listener->local_addr().value();
  auto client = TcpStream::connect(address).value();
  ASSERT_TRUE(registry().register_source(client, kClient, Interest::writable));

  expect_events(poll(), events_, {{kClient, kWritable}});
  EXPECT_FALSE(client.take_error().value());
  EXPECT_EQ(client.peer_addr().value(), address);
  EXPECT_TRUE(client.local_addr().value().is_ipv6());

  ASSERT_TRUE(registry().deregister_source(client));
}

TEST_P(TcpStreamTest, PeerWriteMakesItReadableAndReadReturnsExactlyTheBytes) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& [client, server] = *connection;
  ASSERT_TRUE(registry().register_source(client, kClient, Interest::readable));

  ASSERT_EQ(server.write("hello, libpoll").value(), 14u);
  expect_events(poll(), events_, {{kClient, kReadable}});

  std::array<char, 64> buffer{};
  auto read = client.read(std::span(buffer));
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(text(buffer, *read), "hello, libpoll");
  auto drained = client.read(std::span(buffer));
  EXPECT_TRUE(would_block(drained));

  ASSERT_TRUE(registry().deregister_source(client));
}

TEST_P(TcpStreamTest, OneEdgeGivesOneEventAndNewDataGivesANewOne) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& [client, server] = *connection;
  ASSERT_TRUE(registry().register_source(client, kClient, Interest::readable));

  ASSERT_TRUE(server.write("first"));
  EXPECT_EQ(count_events_for(poll(), events_, kClient), 1u);
  // The bytes are still unread, yet no second event comes for them.
  expect_no_events(poll(), events_);

  ASSERT_TRUE(server.write("second"));
  EXPECT_EQ(count_events_for(poll(), events_, kClient), 1u);

  std::array<char, 64> buffer{};
  auto read = client.read(std::span(buffer));
  ASSERT_TRUE(read);
  EXPECT_EQ(text(buffer, *read), "firstsecond");

  ASSERT_TRUE(registry().deregister_source(client));
}

TEST_P(TcpStreamTest, PeerShutdownOfWritingGivesReadClosedAndEndOfStream) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& [client, server] = *connection;
  register_and_wait_writable(client, kClient);

  ASSERT_TRUE(server.shutdown(Shutdown::write));
  expect_events(poll(), events_, {{kClient, Readiness{.readable = true, .read_closed = true}}});

  std::array<char, 16> buffer{};
  auto read = client.read(std::span(buffer));
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(*read, 0u);
  // Only reading is closed: the client may still send to the server.
  EXPECT_EQ(client.write("still open").value(), 10u);

  ASSERT_TRUE(registry().deregister_source(client));
}

TEST_P(TcpStreamTest, LocalShutdownOfReadingGivesReadClosed) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& [client, server] = *connection;
  register_and_wait_writable(client, kClient);

  ASSERT_TRUE(client.shutdown(Shutdown::read));
  expect_events(poll(), events_, {{kClient, kReadClosed}});

  ASSERT_TRUE(registry().deregister_source(client));
}

TEST_P(TcpStreamTest, LocalShutdownOfBothHalvesGivesWriteClosed) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& [client, server] = *connection;
  register_and_wait_writable(client, kClient);

  ASSERT_TRUE(client.shutdown(Shutdown::both));
  expect_events(poll(), events_, {{kClient, kWriteClosed}});

  ASSERT_TRUE(registry().deregister_source(client));
}

// As mio's tcp_reset_close_event and connection_reset_by_peer: an abortive close of the peer
// (SO_LINGER {1, 0}, then close) sends RST; the local side is told the stream is closed, and its
// reads fail with connection-reset or report end of stream, never bytes.
TEST_P(TcpStreamTest, PeerResetGivesReadClosedAndReadsNeverReturnBytes) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& [client, server] = *connection;
  register_and_wait_writable(client, kClient);
  // Nothing to read before the reset.
  std::array<char, 16> buffer{};
  auto before = client.read(std::span(buffer));
  ASSERT_TRUE(would_block(before));

  const linger abort_on_close{.l_onoff = 1, .l_linger = 0};
  ASSERT_EQ(::setsockopt(server.as_raw_fd(), SOL_SOCKET, SO_LINGER, &abort_on_close,
                         sizeof abort_on_close),
            0);
  { TcpStream closing = std::move(server); }  // never registered: closing is enough

  expect_events(poll(), events_, {{kClient, kReadClosed}});
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto read = client.read(std::span(buffer));
    if (read) {
      EXPECT_EQ(*read, 0u) << "a reset stream handed out bytes";
    } else {
      EXPECT_EQ(read.error(), std::errc::connection_reset) << read.error().message();
    }
  }

  ASSERT_TRUE(registry().deregister_source(client));
}

TEST_P(TcpStreamTest, VectoredWriteAndReadMoveTheExactBytesAcrossSeveralBuffers) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& [client, server] = *connection;
  ASSERT_TRUE(registry().register_source(server, kServer, Interest::readable));

  std::string first = "abc";
  std::string second = "defgh";
  std::string third = "ij";
  const std::array<iovec, 3> out = {iovec{first.data(), first.size()},
                                    iovec{second.data(), second.size()},
                                    iovec{third.data(), third.size()}};
  ASSERT_EQ(client.writev(out).value(), 10u);

  expect_events(poll(), events_, {{kServer, kReadable}});
  std::array<char, 4> head{};
  std::array<char, 4> middle{};
  std::array<char, 8> tail{};
  const std::array<iovec, 3> in = {iovec{head.data(), head.size()},
                                   iovec{middle.data(), middle.size()},
                                   iovec{tail.data(), tail.size()}};
  auto read = server.readv(in);
  ASSERT_TRUE(read) << read.error().message();
  ASSERT_EQ(*read, 10u);
  EXPECT_EQ(text(head, 4), "abcd");
  EXPECT_EQ(text(middle, 4), "efgh");
  EXPECT_EQ(text(tail, 2), "ij");
  auto drained = server.readv(in);
  EXPECT_TRUE(would_block(drained));

  ASSERT_TRUE(registry().deregister_source(server));
}

TEST_P(TcpStreamTest, PeekReturnsTheBytesAndTheNextReadReturnsThemAgain) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& [client, server] = *connection;
  ASSERT_TRUE(registry().register_source(client, kClient, Interest::readable));

  ASSERT_TRUE(server.write("peekaboo"));
  expect_events(poll(), events_, {{kClient, kReadable}});

  std::array<std::byte, 64> peeked{};
  auto peek = client.peek(peeked);
  ASSERT_TRUE(peek) << peek.error().message();
  ASSERT_EQ(*peek, 8u);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(peeked.data()), *peek), "peekaboo");

  std::array<char, 64> buffer{};
  auto read = client.read(std::span(buffer));
  ASSERT_TRUE(read);
  EXPECT_EQ(text(buffer, *read), "peekaboo");
  auto drained = client.peek(peeked);
  EXPECT_TRUE(would_block(drained));

  ASSERT_TRUE(registry().deregister_source(client));
}

TEST_P(TcpStreamTest, NodelayRoundTrips) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& client = connection->client;

  ASSERT_TRUE(client.set_nodelay(true));
  EXPECT_TRUE(client.nodelay().value());
  ASSERT_TRUE(client.set_nodelay(false));
  EXPECT_FALSE(client.nodelay().value());
}

TEST_P(TcpStreamTest, OutOfBandDataGivesAPriorityEvent) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& [client, server] = *connection;
  ASSERT_TRUE(registry().register_source(client, kClient, Interest::readable | Interest::priority));

  ASSERT_EQ(::send(server.as_raw_fd(), "!", 1, MSG_OOB), 1);
  expect_events(poll(), events_, {{kClient, Readiness{.readable = true, .priority = true}}});

  ASSERT_TRUE(registry().deregister_source(client));
}

TEST_P(TcpStreamTest, DeregisterStopsEventsAndLeavesTheStreamUsable) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& [client, server] = *connection;
  ASSERT_TRUE(registry().register_source(client, kClient, Interest::readable));
  ASSERT_TRUE(registry().deregister_source(client));

  // A second Poll tells when the bytes have arrived, so that the silence of the first one
  // means something.
  auto observer = Poll::create(GetParam()).value();
  ASSERT_TRUE(observer.registry().register_source(client, kClient, Interest::readable));
  ASSERT_TRUE(server.write("after deregister"));
  Events observed(8);
  expect_events(observer, observed, {{kClient, kReadable}});
  ASSERT_TRUE(observer.registry().deregister_source(client));

  expect_no_events(poll(), events_);
  std::array<char, 64> buffer{};
  auto read = client.read(std::span(buffer));
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(text(buffer, *read), "after deregister");
}

TEST_P(TcpStreamTest, RegisterDeregisterRegisterAgainWorks) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& [client, server] = *connection;
  ASSERT_TRUE(registry().register_source(client, kClient, Interest::readable));
  ASSERT_TRUE(registry().deregister_source(client));
  ASSERT_TRUE(registry().register_source(client, kAgain, Interest::readable));

  ASSERT_TRUE(server.write("again"));
  auto seen = expect_events(poll(), events_, {{kAgain, kReadable}});
  for (const Event& event : seen) EXPECT_NE(event.token(), kClient) << to_string(event);

  ASSERT_TRUE(registry().deregister_source(client));
}

TEST_P(TcpStreamTest, ConnectToAClosedPortFailsWithConnectionRefused) {
  // A socket bound but not listening holds the port, so nobody else can take it while the
  // connection is refused.
  const OwnedFd holder(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(holder.is_valid());
  const auto any_port = SocketAddr::loopback_v4();
  ASSERT_EQ(::bind(holder.get(), any_port.native(), any_port.native_length()), 0);
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ASSERT_EQ(::getsockname(holder.get(), reinterpret_cast<sockaddr*>(&bound), &length), 0);
  const auto closed_port = SocketAddr::from_native(reinterpret_cast<sockaddr*>(&bound), length);

  auto stream = TcpStream::connect(closed_port);
  if (!stream) {
    // Refused before connect returned: allowed, and the error must still say why.
    EXPECT_EQ(stream.error(), std::errc::connection_refused) << stream.error().message();
  } else {
    ASSERT_TRUE(
        registry().register_source(*stream, kClient, Interest::readable | Interest::writable));
    auto seen = expect_events(poll(), events_, {{kClient, {}}});
    ASSERT_FALSE(seen.empty());
    const Event& event = seen.front();
    EXPECT_TRUE(event.is_error() || event.is_write_closed() || event.is_read_closed())
        << to_string(event);
    auto error = stream->take_error();
    ASSERT_TRUE(error) << error.error().message();
    EXPECT_EQ(*error, std::errc::connection_refused) << error->message();
    ASSERT_TRUE(registry().deregister_source(*stream));
  }
}

TEST_P(TcpStreamTest, SocketsAreNonBlockingAndCloseOnExecFromBirth) {
  auto listener = TcpListener::bind(SocketAddr::loopback_v4()).value();
  EXPECT_TRUE(has_birth_flags(listener.as_raw_fd()));

  auto client = TcpStream::connect(listener.local_addr().value()).value();
  EXPECT_TRUE(has_birth_flags(client.as_raw_fd()));

  ASSERT_TRUE(registry().register_source(listener, kListener, Interest::readable));
  expect_events(poll(), events_, {{kListener, kReadable}});
  auto accepted = listener.accept();
  ASSERT_TRUE(accepted) << accepted.error().message();
  EXPECT_TRUE(has_birth_flags(accepted->first.as_raw_fd()));

  ASSERT_TRUE(registry().deregister_source(listener));
}

TEST_P(TcpStreamTest, FromRawFdMakesABlockingSocketNonBlockingAndCloseOnExec) {
  OwnedFd blocking(::socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_TRUE(blocking.is_valid());
  const int fd = blocking.get();
  ASSERT_FALSE(is_nonblocking(fd));
  ASSERT_FALSE(is_close_on_exec(fd));

  auto stream = TcpStream::from_raw_fd(blocking.release());
  ASSERT_TRUE(stream) << stream.error().message();
  EXPECT_EQ(stream->as_raw_fd(), fd);
  EXPECT_TRUE(has_birth_flags(fd));
}

// Regression: stream writes once went through ::write and ::writev, which raise SIGPIPE on a
// stream that can no longer send, so a server that had not ignored SIGPIPE died when a client
// went away. They must fail with broken_pipe and raise nothing (send/sendmsg with MSG_NOSIGNAL).
TEST_P(TcpStreamTest, WriteAfterShutdownFailsWithBrokenPipeAndRaisesNoSigpipe) {
  auto connection = connect_over_loopback();
  ASSERT_TRUE(connection);
  auto& client = connection->client;
  ASSERT_TRUE(client.shutdown(Shutdown::write));

  SigpipeProbe probe;
  auto written = client.write("too late");
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error(), std::errc::broken_pipe) << written.error().message();
  EXPECT_FALSE(probe.raised()) << "write raised SIGPIPE";

  std::string data = "too late";
  const std::array<iovec, 1> gathered = {iovec{data.data(), data.size()}};
  auto gathered_written = client.writev(gathered);
  ASSERT_FALSE(gathered_written);
  EXPECT_EQ(gathered_written.error(), std::errc::broken_pipe);
  EXPECT_FALSE(probe.raised()) << "writev raised SIGPIPE";
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(TcpListenerTest);
LIBPOLL_INSTANTIATE_FOR_BACKENDS(TcpStreamTest);

}  // namespace
}  // namespace libpoll

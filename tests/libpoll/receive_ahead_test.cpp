// PollOptions::receive_ahead: on io_uring the kernel reads registered byte streams as data
// arrives and their reads take the bytes from there; the other backends ignore the option. Every
// test runs on every backend and asserts what a user sees, which must be the same; on io_uring
// it also asserts that the bytes were received ahead (PollMetrics::received_ahead).

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libpoll/libpoll.hpp"
#include "libpoll/net/tcp_listener.hpp"
#include "libpoll/net/tcp_stream.hpp"
#include "libpoll/net/unix_stream.hpp"
#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using net::SocketAddr;
using net::TcpListener;
using net::TcpStream;
using net::UnixStream;
using testing::expect_events;
using testing::expect_no_events;
using testing::kReadable;
using testing::kReadClosed;
using testing::kWritable;
using testing::text;
using testing::would_block;

constexpr Token kStream{1};
constexpr Token kOther{2};

class ReceiveAheadTest : public testing::PollTest {
 protected:
  void SetUp() override {
    PollTest::SetUp();
    auto made = Poll::create(PollOptions{.backend = GetParam(), .receive_ahead = true});
    ASSERT_TRUE(made) << made.error().message();
    ahead_.emplace(std::move(*made));
    auto pair = UnixStream::pair();
    ASSERT_TRUE(pair) << pair.error().message();
    ours_.emplace(std::move(pair->first));
    peer_.emplace(std::move(pair->second));
  }
  void TearDown() override {
    ours_.reset();
    peer_.reset();
    ahead_.reset();  // before the fixture counts descriptors
    PollTest::TearDown();
  }

  [[nodiscard]] bool on_io_uring() const { return GetParam() == Backend::io_uring; }
  [[nodiscard]] std::uint64_t received_ahead() const { return ahead_->metrics().received_ahead; }
  // Everything `stream` has to read now, until would-block (or the end of the stream).
  static std::string read_all(UnixStream& stream) {
    std::string got;
    std::array<char, 1000> buffer{};
    for (;;) {
      auto read = stream.read(std::span(buffer));
      if (!read || *read == 0) return got;
      got.append(buffer.data(), *read);
    }
  }
  // Reads `stream` as its events come until `wanted` bytes arrived or the peer ended it.
  std::string read_until(UnixStream& stream, std::size_t wanted) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (got.size() < wanted && std::chrono::steady_clock::now() < deadline) {
      (void)ahead_->poll(events_, 100ms);
      got += read_all(stream);
    }
    return got;
  }

  std::optional<Poll> ahead_;
  std::optional<UnixStream> ours_;
  std::optional<UnixStream> peer_;
};

// A pattern in which a byte moved, lost or repeated shows.
std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  return bytes;
}

TEST_P(ReceiveAheadTest, ReadsGetTheBytesOnceAndInOrder) {
  ASSERT_TRUE(ahead_->registry().register_source(*ours_, kStream, Interest::readable));
  const std::string message = "hello, receive-ahead";
  ASSERT_EQ(peer_->write(message).value(), message.size());
  expect_events(*ahead_, events_, {{kStream, kReadable}});

  std::array<char, 8> small{};  // shorter than the message: the rest waits for the next read
  auto first = ours_->read(std::span(small));
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(text(small, *first), message.substr(0, 8));
  EXPECT_EQ(read_all(*ours_), message.substr(8));
  EXPECT_TRUE(would_block(ours_->read(std::span(small))));
  if (on_io_uring()) {
    EXPECT_GT(received_ahead(), 0u);
  }
  ASSERT_TRUE(ahead_->registry().deregister_source(*ours_));
}

TEST_P(ReceiveAheadTest, PeekLeavesTheBytesForTheRead) {
  ASSERT_TRUE(ahead_->registry().register_source(*ours_, kStream, Interest::readable));
  ASSERT_TRUE(peer_->write("peeked"));
  expect_events(*ahead_, events_, {{kStream, kReadable}});
  std::array<std::byte, 16> buffer{};
  auto peeked = ours_->peek(std::span(buffer));
  ASSERT_TRUE(peeked) << peeked.error().message();
  EXPECT_EQ(text(buffer, *peeked), "peeked");
  EXPECT_EQ(read_all(*ours_), "peeked");
  ASSERT_TRUE(ahead_->registry().deregister_source(*ours_));
}

// More than the buffers of one reap and more than a store holds before it pauses: the peer
// writes as fast as the stream takes it, and every byte arrives once, in order.
TEST_P(ReceiveAheadTest, ABulkTransferArrivesWhole) {
  ASSERT_TRUE(ahead_->registry().register_source(*ours_, kStream, Interest::readable));
  constexpr std::size_t kTotal = std::size_t{3} << 20;
  const std::string sent = pattern(kTotal);
  std::size_t written = 0;
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (std::size_t round = 0; got.size() < kTotal && std::chrono::steady_clock::now() < deadline;
       ++round) {
    while (written < kTotal) {  // until the peer's socket is full
      auto wrote = peer_->write(std::string_view(sent).substr(written, 100'000));
      if (!wrote) break;
      written += *wrote;
    }
    (void)ahead_->poll(events_, 100ms);
    // Read only every other round, so that the store fills past its high-water mark.
    if (written == kTotal || round % 2 == 0) got += read_all(*ours_);
  }
  ASSERT_EQ(got.size(), kTotal);
  EXPECT_TRUE(got == sent) << "the bytes arrived out of order";
  if (on_io_uring()) {
    EXPECT_GT(received_ahead(), 0u);
  }
  ASSERT_TRUE(ahead_->registry().deregister_source(*ours_));
}

TEST_P(ReceiveAheadTest, TheEndOfTheStreamFollowsItsLastBytes) {
  ASSERT_TRUE(ahead_->registry().register_source(*ours_, kStream, Interest::readable));
  ASSERT_TRUE(peer_->write("last words"));
  peer_.reset();
  expect_events(*ahead_, events_, {{kStream, kReadClosed}});
  std::array<char, 64> buffer{};
  auto read = ours_->read(std::span(buffer));
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(text(buffer, *read), "last words");
  auto end = ours_->read(std::span(buffer));
  ASSERT_TRUE(end) << end.error().message();
  EXPECT_EQ(*end, 0u);
  ASSERT_TRUE(ahead_->registry().deregister_source(*ours_));
}

// A deregister keeps what was sent before it; the stream reads it first, then what came after.
// Registered again, the stream is reported readable at once, as for bytes in its socket.
TEST_P(ReceiveAheadTest, ADeregisteredStreamKeepsWhatItWasSent) {
  ASSERT_TRUE(ahead_->registry().register_source(*ours_, kStream, Interest::readable));
  ASSERT_TRUE(peer_->write("before,"));
  expect_events(*ahead_, events_, {{kStream, kReadable}});
  ASSERT_TRUE(ahead_->registry().deregister_source(*ours_));
  ASSERT_TRUE(peer_->write("after"));
  expect_no_events(*ahead_, events_);

  ASSERT_TRUE(ahead_->registry().register_source(*ours_, kOther, Interest::readable));
  expect_events(*ahead_, events_, {{kOther, kReadable}});
  EXPECT_EQ(read_until(*ours_, 12), "before,after");
  ASSERT_TRUE(ahead_->registry().deregister_source(*ours_));
}

// Without readable interest the stream is not read ahead: its bytes stay in the socket, and the
// event that says so is the writable one's companion when readable comes back.
TEST_P(ReceiveAheadTest, AReregisterWithoutReadableStopsReadingAhead) {
  ASSERT_TRUE(ahead_->registry().register_source(*ours_, kStream, Interest::readable));
  ASSERT_TRUE(peer_->write("one,"));
  expect_events(*ahead_, events_, {{kStream, kReadable}});
  ASSERT_TRUE(ahead_->registry().reregister_source(*ours_, kStream, Interest::writable));
  expect_events(*ahead_, events_, {{kStream, kWritable}});
  const std::uint64_t before = received_ahead();
  ASSERT_TRUE(peer_->write("two"));
  expect_no_events(*ahead_, events_);
  EXPECT_EQ(received_ahead(), before);
  EXPECT_EQ(read_all(*ours_), "one,two");

  ASSERT_TRUE(ahead_->registry().reregister_source(*ours_, kStream, Interest::readable));
  ASSERT_TRUE(peer_->write("three"));
  expect_events(*ahead_, events_, {{kStream, kReadable}});
  EXPECT_EQ(read_until(*ours_, 5), "three");
  ASSERT_TRUE(ahead_->registry().deregister_source(*ours_));
}

// Bytes received ahead are not lost with the Poll: a leaked registration's stream still reads
// them.
TEST_P(ReceiveAheadTest, BytesOutliveTheirPoll) {
  std::size_t leaked = 0;
  ahead_->set_leak_handler([&](std::span<const RegistrationInfo> list) { leaked += list.size(); });
  ASSERT_TRUE(ahead_->registry().register_source(*ours_, kStream, Interest::readable));
  ASSERT_TRUE(peer_->write("kept"));
  expect_events(*ahead_, events_, {{kStream, kReadable}});
  ahead_.reset();
  EXPECT_EQ(leaked, 1u);
  EXPECT_EQ(read_all(*ours_), "kept");
}

// Many streams of one Poll, each with a message, read after one round of polls.
TEST_P(ReceiveAheadTest, ManyStreamsEachGetTheirOwnBytes) {
  constexpr std::size_t kStreams = 300;
  std::vector<std::pair<UnixStream, UnixStream>> pairs;
  for (std::size_t i = 0; i < kStreams; ++i) {
    auto pair = UnixStream::pair();
    ASSERT_TRUE(pair) << pair.error().message();
    ASSERT_TRUE(
        ahead_->registry().register_source(pair->first, Token{100 + i}, Interest::readable));
    pairs.push_back(std::move(*pair));
  }
  for (std::size_t i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(pairs[i].second.write("stream " + std::to_string(i)));
  }
  std::vector<bool> seen(kStreams, false);
  std::size_t count = 0;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (count < kStreams && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(ahead_->poll(events_, 100ms));
    for (const Event& event : events_) {
      const std::size_t i = event.token().value - 100;
      ASSERT_LT(i, kStreams);
      const std::string got = read_all(pairs[i].first);
      if (got.empty()) continue;
      EXPECT_EQ(got, "stream " + std::to_string(i));
      EXPECT_FALSE(seen[i]);
      seen[i] = true;
      ++count;
    }
  }
  EXPECT_EQ(count, kStreams);
  for (auto& [ours, peer] : pairs) ASSERT_TRUE(ahead_->registry().deregister_source(ours));
}

class ReceiveAheadTcpTest : public ReceiveAheadTest {};

// A reset ends the stream with an error, which the next read returns once, as without
// receive-ahead (where the kernel keeps it on the socket until then).
TEST_P(ReceiveAheadTcpTest, AResetIsTheNextReadsError) {
  auto listener = TcpListener::bind(SocketAddr::loopback_v4(0)).value();
  auto client = TcpStream::connect(listener.local_addr().value()).value();
  ASSERT_TRUE(ahead_->registry().register_source(listener, kOther, Interest::readable));
  expect_events(*ahead_, events_, {{kOther, kReadable}});
  auto accepted = listener.accept();
  ASSERT_TRUE(accepted) << accepted.error().message();
  TcpStream server = std::move(accepted->first);
  ASSERT_TRUE(ahead_->registry().deregister_source(listener));
  ASSERT_TRUE(ahead_->registry().register_source(client, kStream, Interest::readable));
  const linger abort{.l_onoff = 1, .l_linger = 0};
  ASSERT_EQ(::setsockopt(server.as_raw_fd(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort), 0);
  { TcpStream closed = std::move(server); }  // closing with linger 0 sends a reset
  expect_events(*ahead_, events_, {{kStream, kReadable}});
  std::array<char, 16> buffer{};
  auto read = client.read(std::span(buffer));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error(), std::errc::connection_reset);
  ASSERT_TRUE(ahead_->registry().deregister_source(client));
}

// A refused connection's error is the kernel's to keep until take_error asks; a receive
// ahead that meets it keeps it instead, for take_error all the same.
TEST_P(ReceiveAheadTcpTest, ARefusedConnectionIsToldByTakeError) {
  SocketAddr closed_port = SocketAddr::loopback_v4(0);
  {
    auto listener = TcpListener::bind(SocketAddr::loopback_v4(0)).value();
    closed_port = listener.local_addr().value();
  }
  auto client = TcpStream::connect(closed_port);
  ASSERT_TRUE(client) << client.error().message();
  ASSERT_TRUE(ahead_->registry().register_source(*client, kStream,
                                                 Interest::readable | Interest::writable));
  expect_events(*ahead_, events_, {{kStream, kWritable}});
  auto error = client->take_error();
  ASSERT_TRUE(error) << error.error().message();
  EXPECT_EQ(*error, std::errc::connection_refused);
  ASSERT_TRUE(ahead_->registry().deregister_source(*client));
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(ReceiveAheadTest);
LIBPOLL_INSTANTIATE_FOR_BACKENDS(ReceiveAheadTcpTest);

}  // namespace
}  // namespace libpoll

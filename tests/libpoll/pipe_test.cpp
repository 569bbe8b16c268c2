#include "libpoll/net/pipe.hpp"

#include <fcntl.h>
#include <sys/uio.h>

#include <gtest/gtest.h>

#include <array>
#include <csignal>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using net::PipeReceiver;
using net::PipeSender;
using testing::expect_events;
using testing::expect_no_events;
using testing::kReadable;
using testing::kWritable;
using testing::PollTest;
using testing::Readiness;
using testing::text;
using testing::would_block;

constexpr Token kSender{1};
constexpr Token kReceiver{2};

class PipeTest : public PollTest {
 protected:
  // Pipes have no MSG_NOSIGNAL: a write to a pipe whose reader is gone raises SIGPIPE, which
  // would kill the test binary. pipe.hpp tells users to ignore it; so does this suite.
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }
};

TEST_P(PipeTest, SenderIsWritableAndReceiverBecomesReadableAfterAWrite) {
  auto pipe = net::pipe();
  ASSERT_TRUE(pipe) << pipe.error().message();
  auto& [sender, receiver] = *pipe;
  ASSERT_TRUE(registry().register_source(sender, kSender, Interest::writable));
  ASSERT_TRUE(registry().register_source(receiver, kReceiver, Interest::readable));

  auto first = expect_events(poll(), events_, {{kSender, kWritable}});
  for (const Event& event : first) EXPECT_NE(event.token(), kReceiver) << to_string(event);

  ASSERT_EQ(sender.write("through the pipe").value(), 16u);
  expect_events(poll(), events_, {{kReceiver, kReadable}});

  std::array<char, 64> buffer{};
  auto read = receiver.read(std::span(buffer));
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(text(buffer, *read), "through the pipe");
  auto drained = receiver.read(std::span(buffer));
  EXPECT_TRUE(would_block(drained));

  ASSERT_TRUE(registry().deregister_source(sender));
  ASSERT_TRUE(registry().deregister_source(receiver));
}

TEST_P(PipeTest, VectoredWriteAndReadMoveTheExactBytes) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kReceiver, Interest::readable));

  std::string hello = "hello, ";
  std::string world = "world";
  const std::array<iovec, 2> out = {iovec{hello.data(), hello.size()},
                                    iovec{world.data(), world.size()}};
  ASSERT_EQ(sender.writev(out).value(), 12u);
  expect_events(poll(), events_, {{kReceiver, kReadable}});

  std::array<char, 5> head{};
  std::array<char, 16> tail{};
  const std::array<iovec, 2> in = {iovec{head.data(), head.size()},
                                   iovec{tail.data(), tail.size()}};
  auto read = receiver.readv(in);
  ASSERT_TRUE(read) << read.error().message();
  ASSERT_EQ(*read, 12u);
  EXPECT_EQ(text(head, 5), "hello");
  EXPECT_EQ(text(tail, 7), ", world");

  ASSERT_TRUE(registry().deregister_source(receiver));
}

TEST_P(PipeTest, ClosingTheSenderGivesReadClosedAndEndOfStreamAfterTheData) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(sender, kSender, Interest::writable));
  ASSERT_TRUE(registry().register_source(receiver, kReceiver, Interest::readable));
  expect_events(poll(), events_, {{kSender, kWritable}});

  ASSERT_TRUE(sender.write("before closing"));
  ASSERT_TRUE(registry().deregister_source(sender));
  { PipeSender closing = std::move(sender); }

  expect_events(poll(), events_, {{kReceiver, Readiness{.readable = true, .read_closed = true}}});
  std::array<char, 64> buffer{};
  auto read = receiver.read(std::span(buffer));
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(text(buffer, *read), "before closing");
  auto end = receiver.read(std::span(buffer));
  ASSERT_TRUE(end) << end.error().message();
  EXPECT_EQ(*end, 0u);

  ASSERT_TRUE(registry().deregister_source(receiver));
}

TEST_P(PipeTest, ClosingTheReceiverGivesWriteClosedAndWritesFailWithBrokenPipe) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(sender, kSender, Interest::writable));
  expect_events(poll(), events_, {{kSender, kWritable}});

  { PipeReceiver closing = std::move(receiver); }  // never registered: closing is enough

  // Linux reports a pipe without readers as EPOLLERR (with EPOLLOUT while there is room).
  expect_events(poll(), events_, {{kSender, Readiness{.error = true, .write_closed = true}}});
  auto written = sender.write("nobody listens");
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error(), std::errc::broken_pipe) << written.error().message();

  ASSERT_TRUE(registry().deregister_source(sender));
}

TEST_P(PipeTest, FullPipeWouldBlockAndBecomesWritableAgainOnceDrained) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(sender, kSender, Interest::writable));
  expect_events(poll(), events_, {{kSender, kWritable}});

  const std::string chunk(4096, 'z');
  std::size_t total = 0;
  for (;;) {
    auto written = sender.write(chunk);
    if (!written) {
      ASSERT_TRUE(is_would_block(written.error())) << written.error().message();
      break;
    }
    total += *written;
    ASSERT_LT(total, std::size_t{64} << 20) << "the pipe never filled";
  }
  ASSERT_GT(total, 0u);
  // Full, and nothing changes: no event.
  expect_no_events(poll(), events_);

  std::array<char, 4096> buffer{};
  std::size_t drained = 0;
  for (;;) {
    auto read = receiver.read(std::span(buffer));
    if (!read) {
      ASSERT_TRUE(is_would_block(read.error())) << read.error().message();
      break;
    }
    ASSERT_GT(*read, 0u);
    drained += *read;
  }
  EXPECT_EQ(drained, total);
  expect_events(poll(), events_, {{kSender, kWritable}});
  EXPECT_TRUE(sender.write("room again"));

  ASSERT_TRUE(registry().deregister_source(sender));
}

TEST_P(PipeTest, BothEndsAreNonBlockingAndCloseOnExec) {
  auto [sender, receiver] = net::pipe().value();
  for (int fd : {sender.as_raw_fd(), receiver.as_raw_fd()}) {
    const int status = ::fcntl(fd, F_GETFL);
    ASSERT_GE(status, 0);
    EXPECT_NE(status & O_NONBLOCK, 0) << fd;
    const int descriptor = ::fcntl(fd, F_GETFD);
    ASSERT_GE(descriptor, 0);
    EXPECT_NE(descriptor & FD_CLOEXEC, 0) << fd;
  }
  EXPECT_NE(sender.as_raw_fd(), receiver.as_raw_fd());
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(PipeTest);

}  // namespace
}  // namespace libpoll

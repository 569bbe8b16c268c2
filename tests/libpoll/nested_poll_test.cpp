// A Poll's descriptor registered with another Poll: an epoll Poll nests, an io_uring Poll is
// refused (its ring becomes readable only for what its own poll submitted).

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>

#include "libpoll/error.hpp"
#include "libpoll/net/pipe.hpp"
#include "libpoll/poll.hpp"
#include "libpoll/source_fd.hpp"
#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"
#include "sys/open_file.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using testing::kReadable;
using testing::PollTest;

constexpr Token kInner{1};
constexpr Token kPipe{2};

class NestedPollTest : public PollTest {};

// The inner Poll is not polled before the outer one waits: its source's readiness alone makes
// its descriptor readable.
TEST_P(NestedPollTest, AnEpollPollNestsWithoutBeingPolledFirst) {
  auto inner = Poll::create(Backend::epoll).value();
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(inner.registry().register_source(receiver, kPipe, Interest::readable));
  const SourceFd inner_fd(inner.as_raw_fd());
  ASSERT_TRUE(registry().register_source(inner_fd, kInner, Interest::readable));

  ASSERT_EQ(sender.write(testing::bytes("x")).value(), 1U);
  testing::expect_events(poll(), events_, {{kInner, kReadable}});
  Events inner_events(8);
  ASSERT_TRUE(inner.poll(inner_events, 0ms));
  ASSERT_EQ(inner_events.size(), 1U);
  EXPECT_EQ(inner_events.begin()->token(), kPipe);

  EXPECT_TRUE(registry().deregister_source(inner_fd));
  EXPECT_TRUE(inner.registry().deregister_source(receiver));
}

TEST_P(NestedPollTest, AnIoUringPollsDescriptorIsRefused) {
  if (!testing::io_uring_available()) GTEST_SKIP() << "no io_uring here";
  auto inner = Poll::create(Backend::io_uring).value();
  const int ring = inner.as_raw_fd();
  ASSERT_GE(ring, 0);
  auto refused = registry().register_source(SourceFd(ring), kInner, Interest::readable);
  ASSERT_FALSE(refused) << "an io_uring Poll's descriptor was accepted";
  EXPECT_EQ(refused.error(), Errc::nested_io_uring_poll);
  EXPECT_EQ(refused.error(), std::errc::operation_not_supported);
  EXPECT_TRUE(poll().registrations().empty());

  // A duplicate is the same ring, where kcmp can tell.
  const int duplicate = ::fcntl(ring, F_DUPFD_CLOEXEC, 0);
  ASSERT_GE(duplicate, 0);
  if (sys::compare_open_files(duplicate, ring).has_value()) {
    auto also_refused = registry().register_source(SourceFd(duplicate), kInner, Interest::readable);
    ASSERT_FALSE(also_refused);
    EXPECT_EQ(also_refused.error(), Errc::nested_io_uring_poll);
  }
  ::close(duplicate);
}

// A Poll's own descriptor: epoll refuses it (EINVAL), an io_uring Poll's own ring would never
// report, poll(2) has none.
TEST_P(NestedPollTest, APollsOwnDescriptorIsRefused) {
  const int own = poll().as_raw_fd();
  if (own < 0) GTEST_SKIP() << "this backend has no descriptor";
  auto refused = registry().register_source(SourceFd(own), kInner, Interest::readable);
  ASSERT_FALSE(refused);
  if (GetParam() == Backend::io_uring) {
    EXPECT_EQ(refused.error(), Errc::nested_io_uring_poll);
  }
  EXPECT_TRUE(poll().registrations().empty());
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(NestedPollTest);

}  // namespace
}  // namespace libpoll

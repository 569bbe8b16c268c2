#include "libpoll/source_fd.hpp"

#include <fcntl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/expect_events.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using testing::PollTest;

constexpr Token kTimer{42};

class SourceFdTest : public PollTest {};

// A descriptor from outside libpoll (here a timerfd) is watched through SourceFd, which only
// borrows it: after deregistering, the caller still owns an open descriptor.
TEST_P(SourceFdTest, WatchesADescriptorItDoesNotOwn) {
  OwnedFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  ASSERT_TRUE(timer.is_valid());
  ASSERT_TRUE(registry().register_source(SourceFd(timer.get()), kTimer, Interest::readable));

  itimerspec once{};
  once.it_value.tv_nsec = 1'000'000;
  ASSERT_EQ(::timerfd_settime(timer.get(), 0, &once, nullptr), 0);
  testing::expect_events(poll(), events_, {{kTimer, testing::kReadable}});

  ASSERT_TRUE(registry().deregister_source(SourceFd(timer.get())));
  EXPECT_NE(::fcntl(timer.get(), F_GETFD), -1) << "SourceFd must not close the descriptor";
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(SourceFdTest);

}  // namespace
}  // namespace libpoll

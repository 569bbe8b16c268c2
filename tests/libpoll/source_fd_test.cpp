#include "libpoll/source_fd.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>

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

// Reads a raw descriptor until would-block, then says so: what libpoll's own sources do by
// themselves.
void drain(const Registry& registry, int fd) {
  std::array<char, 64> buffer{};
  while (::read(fd, buffer.data(), buffer.size()) > 0) {
  }
  ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
  ASSERT_TRUE(registry.drained(SourceFd(fd), Interest::readable));
}

// With its drains reported, a raw descriptor gets one event per edge on both backends (poll(2)
// used to report it at every poll while it stayed ready), and no edge is lost, even a refill
// with as many bytes as before.
TEST_P(SourceFdTest, RawDescriptorGivesOneEventPerEdgeOnceItsDrainsAreReported) {
  int ends[2] = {-1, -1};
  ASSERT_EQ(::pipe2(ends, O_NONBLOCK | O_CLOEXEC), 0);
  const OwnedFd reader(ends[0]);
  const OwnedFd writer(ends[1]);
  ASSERT_TRUE(registry().register_source(SourceFd(reader.get()), kTimer, Interest::readable));
  const auto fill = [&writer](const char* data) { ASSERT_EQ(::write(writer.get(), data, 2), 2); };

  fill("ab");
  testing::expect_events(poll(), events_, {{kTimer, testing::kReadable}});
  drain(registry(), reader.get());
  for (int round = 0; round < 3; ++round) {
    fill("cd");  // the same byte count each time
    EXPECT_EQ(testing::count_events_for(poll(), events_, kTimer), 1u) << "round " << round;
    testing::expect_no_events(poll(), events_);  // unread: no new edge
    drain(registry(), reader.get());
  }
  testing::expect_no_events(poll(), events_);

  ASSERT_TRUE(registry().deregister_source(SourceFd(reader.get())));
  EXPECT_EQ(registry().drained(SourceFd(reader.get()), Interest::readable).error(),
            Errc::not_registered);
}

// The same for a file with no byte count to compare: an eventfd signalled again right after
// each drain.
TEST_P(SourceFdTest, RawEventfdGivesOneEventPerSignalOnceItsDrainsAreReported) {
  const OwnedFd counter(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  ASSERT_TRUE(counter.is_valid());
  ASSERT_TRUE(registry().register_source(SourceFd(counter.get()), kTimer, Interest::readable));
  const std::uint64_t one = 1;
  std::uint64_t value = 0;
  // Until its first drain is reported, poll(2) reports a raw descriptor at every poll while it
  // stays ready (it cannot know the user will report drains): not counted here.
  ASSERT_EQ(::write(counter.get(), &one, sizeof one), 8);
  testing::expect_events(poll(), events_, {{kTimer, testing::kReadable}});
  ASSERT_EQ(::read(counter.get(), &value, sizeof value), 8);
  ASSERT_TRUE(registry().drained(SourceFd(counter.get()), Interest::readable));

  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(::write(counter.get(), &one, sizeof one), 8);
    EXPECT_EQ(testing::count_events_for(poll(), events_, kTimer), 1u) << "round " << round;
    ASSERT_EQ(::read(counter.get(), &value, sizeof value), 8);
    ASSERT_EQ(::read(counter.get(), &value, sizeof value), -1);
    ASSERT_TRUE(registry().drained(SourceFd(counter.get()), Interest::readable));
  }
  testing::expect_no_events(poll(), events_);

  ASSERT_TRUE(registry().deregister_source(SourceFd(counter.get())));
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(SourceFdTest);

}  // namespace
}  // namespace libpoll

#include "libpoll/poll.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <optional>

#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using testing::kReadable;
using testing::PollTest;
using testing::would_block;

constexpr Token kReceiver{1};

class PollWaitTest : public PollTest {};

TEST_P(PollWaitTest, EmptyPollWaitsForTheTimeoutAndReturnsNothing) {
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(poll().poll(events_, 20ms));
  EXPECT_TRUE(events_.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
}

TEST_P(PollWaitTest, SubMillisecondTimeoutIsRoundedUpNotDown) {
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(poll().poll(events_, 1ns));
  EXPECT_TRUE(events_.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1ms);
}

TEST_P(PollWaitTest, ZeroTimeoutStillCollectsReadyEvents) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kReceiver, Interest::readable));
  ASSERT_TRUE(sender.write("ready"));

  ASSERT_TRUE(poll().poll(events_, 0ms));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].token(), kReceiver);
  EXPECT_TRUE(events_[0].is_readable());

  ASSERT_TRUE(registry().deregister_source(receiver));
}

TEST_P(PollWaitTest, PollClearsEventsFromThePreviousCall) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kReceiver, Interest::readable));
  ASSERT_TRUE(sender.write("x"));
  ASSERT_TRUE(poll().poll(events_, 1s));
  ASSERT_EQ(events_.size(), 1u);
  ASSERT_TRUE(poll().poll(events_, 0ms));
  EXPECT_TRUE(events_.empty());
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// Edge-triggered: one event per change of state, none while the data just sits there.
TEST_P(PollWaitTest, OneEdgeGivesOneEventUntilNewDataArrives) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kReceiver, Interest::readable));

  ASSERT_TRUE(sender.write("first"));
  EXPECT_EQ(testing::count_events_for(poll(), events_, kReceiver), 1u);
  // The data is still unread, and still no second event.
  testing::expect_no_events(poll(), events_);

  ASSERT_TRUE(sender.write("second"));
  EXPECT_EQ(testing::count_events_for(poll(), events_, kReceiver), 1u);

  char buffer[32];
  auto read = receiver.read(std::span(buffer));
  ASSERT_TRUE(read);
  EXPECT_EQ(std::string_view(buffer, *read), "firstsecond");
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// After draining to would-block, the next write is a new edge.
TEST_P(PollWaitTest, ReadinessReturnsAfterDrainingToWouldBlock) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kReceiver, Interest::readable));
  char buffer[16];
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(sender.write("data"));
    testing::expect_events(poll(), events_, {{kReceiver, kReadable}});
    ASSERT_TRUE(receiver.read(std::span(buffer)));
    auto drained = receiver.read(std::span(buffer));
    EXPECT_TRUE(would_block(drained));
  }
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// Closing the only descriptor of a registered source removes it from the kernel's interest
// list: later polls neither fail nor report it. (The contract still asks for deregister first.)
TEST_P(PollWaitTest, SourceClosedWithoutDeregisterNeverErrorsPoll) {
  {
    auto [sender, receiver] = net::pipe().value();
    ASSERT_TRUE(registry().register_source(receiver, kReceiver, Interest::readable));
  }
  ASSERT_TRUE(poll().poll(events_, 0ms));
  EXPECT_TRUE(events_.empty());
  testing::expect_no_events(poll(), events_);
}

// Why sources must be deregistered before they are closed: epoll watches the open file,
// and a duplicated descriptor keeps the registration alive after the original is closed.
TEST_P(PollWaitTest, DuplicatedDescriptorKeepsAClosedSourceDelivering) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kReceiver, Interest::readable));
  take_hold_of_registered_files();
  const int duplicate = ::fcntl(receiver.as_raw_fd(), F_DUPFD_CLOEXEC, 0);
  ASSERT_GE(duplicate, 0);
  { net::PipeReceiver closed = std::move(receiver); }  // closed without deregistering

  ASSERT_TRUE(sender.write("ghost"));
  if (GetParam() == Backend::poll) {
    // poll(2) watches descriptor numbers, not open files: the closed number is simply dropped.
    testing::expect_no_events(poll(), events_);
  } else {
    testing::expect_events(poll(), events_, {{kReceiver, kReadable}});
  }
  ASSERT_EQ(::close(duplicate), 0);
}

TEST_P(PollWaitTest, ReportsTheBackendItRuns) {
  EXPECT_EQ(poll().backend(), GetParam());
}

// A forked child that destroys its copy of a Poll (exit() running destructors, say) leaves the
// parent's registrations alone: an epoll instance or an io_uring ring is shared with the child,
// and the child's copy only lets go of its descriptor.
TEST_P(PollWaitTest, AForkedChildDestroyingItsCopyLeavesTheParentsRegistrations) {
  constexpr Token kToken{5};
  std::optional<Poll> shared(Poll::create(GetParam()).value());
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(shared->registry().register_source(receiver, kToken, Interest::readable));
  ASSERT_TRUE(shared->poll(events_, 0ms));  // every backend holds the registration now
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    shared->set_leak_handler({});  // the parent deregisters; the child's copy says nothing
    shared.reset();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(sender.write(testing::bytes("after the child")));
  testing::expect_events(*shared, events_, {{kToken, kReadable}});
  ASSERT_TRUE(shared->registry().deregister_source(receiver));
}

// A forked child that uses the parent's Poll: epoll and poll(2) let it (an epoll instance is
// shared, a poll(2) table copied); an io_uring ring's queue indexes are each process's own, so
// the child's submissions would corrupt the parent's, and the child is refused instead. Either
// way the parent's later registrations still deliver.
TEST_P(PollWaitTest, AForkedChildPollingTheParentsPollLeavesItWorking) {
  constexpr Token kBefore{5};
  constexpr Token kAfter{6};
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kBefore, Interest::readable));
  ASSERT_TRUE(poll().poll(events_, 0ms));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto [child_sender, child_receiver] = net::pipe().value();
    auto registered = registry().register_source(child_receiver, Token{7}, Interest::readable);
    auto polled = poll().poll(events_, 0ms);
    const bool refused = GetParam() == Backend::io_uring;
    const auto expected = [&](const Result<void>& result) {
      return refused ? !result && result.error() == std::errc::operation_not_supported
                     : static_cast<bool>(result);
    };
    ::_exit(expected(registered) && expected(polled) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child's calls";
  auto [later_sender, later_receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(later_receiver, kAfter, Interest::readable));
  ASSERT_TRUE(sender.write(testing::bytes("before")));
  ASSERT_TRUE(later_sender.write(testing::bytes("after")));
  testing::expect_events(poll(), events_, {{kBefore, kReadable}, {kAfter, kReadable}});
  ASSERT_TRUE(registry().deregister_source(receiver));
  ASSERT_TRUE(registry().deregister_source(later_receiver));
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(PollWaitTest);

TEST(PollTest, MovedFromPollFailsToPoll) {
  auto first = Poll::create().value();
  Poll second = std::move(first);
  Events events(4);
  auto polled = first.poll(events, 0ms);  // NOLINT(bugprone-use-after-move): documented state
  ASSERT_FALSE(polled);
  EXPECT_EQ(polled.error(), std::errc::bad_file_descriptor);
  EXPECT_TRUE(second.poll(events, 0ms));
}

TEST(PollTimeoutTest, RoundsUpToWholeMilliseconds) {
  using detail::timeout_to_milliseconds;
  static_assert(timeout_to_milliseconds(1500us) == 2, "usable in constant expressions");
  EXPECT_EQ(timeout_to_milliseconds(std::nullopt), -1);
  EXPECT_EQ(timeout_to_milliseconds(0ns), 0);
  EXPECT_EQ(timeout_to_milliseconds(-5ms), 0);
  EXPECT_EQ(timeout_to_milliseconds(1ns), 1);
  EXPECT_EQ(timeout_to_milliseconds(999us), 1);
  EXPECT_EQ(timeout_to_milliseconds(1ms), 1);
  EXPECT_EQ(timeout_to_milliseconds(1000001ns), 2);
  EXPECT_EQ(timeout_to_milliseconds(std::chrono::nanoseconds::max()), INT_MAX);
}

// Durations of every type are capped, not converted to nanoseconds first (where the longest
// overflow into negative counts, a poll that does not wait).
TEST(PollTimeoutTest, LongDurationsOfAnyTypeAreCappedNotOverflowed) {
  using detail::timeout_to_milliseconds;
  using std::chrono::duration;
  EXPECT_EQ(timeout_to_milliseconds(std::chrono::milliseconds::max()), INT_MAX);
  EXPECT_EQ(timeout_to_milliseconds(std::chrono::seconds::max()), INT_MAX);
  EXPECT_EQ(timeout_to_milliseconds(std::chrono::hours::max()), INT_MAX);
  EXPECT_EQ(timeout_to_milliseconds(std::optional(std::chrono::seconds::max())), INT_MAX);
  EXPECT_EQ(timeout_to_milliseconds(std::chrono::seconds::min()), 0);
  EXPECT_EQ(timeout_to_milliseconds(std::chrono::milliseconds(INT_MAX - 1)), INT_MAX - 1);
  EXPECT_EQ(timeout_to_milliseconds(std::chrono::seconds(3)), 3000);
  EXPECT_EQ(timeout_to_milliseconds(duration<double, std::milli>(1.5)), 2);
  EXPECT_EQ(timeout_to_milliseconds(duration<double>(2.0)), 2000);
  EXPECT_EQ(timeout_to_milliseconds(duration<double>(1e300)), INT_MAX);
  EXPECT_EQ(timeout_to_milliseconds(duration<double>(std::numeric_limits<double>::infinity())),
            INT_MAX);
  EXPECT_EQ(timeout_to_milliseconds(duration<double>(std::numeric_limits<double>::quiet_NaN())), 0);
}

}  // namespace
}  // namespace libpoll

#include "libpoll/waker.hpp"

#include <gtest/gtest.h>

#include <future>
#include <span>
#include <thread>

#include "support/expect_events.hpp"
#include "support/poll_fixture.hpp"
#include "support/threads.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using testing::PollTest;

constexpr Token kWake{77};

class WakerTest : public PollTest {};

TEST_P(WakerTest, ManyWakesBeforeAPollCoalesceIntoOneEvent) {
  auto waker = Waker::create(registry(), kWake).value();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(waker.wake());
  EXPECT_EQ(testing::count_events_for(poll(), events_, kWake), 1u);
}

TEST_P(WakerTest, WakesAreNotSticky) {
  auto waker = Waker::create(registry(), kWake).value();
  ASSERT_TRUE(waker.wake());
  testing::expect_events(poll(), events_, {{kWake, testing::kReadable}});
  testing::expect_no_events(poll(), events_);
  // ...and every later wake is a new event.
  ASSERT_TRUE(waker.wake());
  testing::expect_events(poll(), events_, {{kWake, testing::kReadable}});
}

TEST_P(WakerTest, WakesAPollBlockedInAnotherThread) {
  auto waker = Waker::create(registry(), kWake).value();
  std::promise<pid_t> poller_tid;
  auto polled = std::async(std::launch::async, [&] {
    poller_tid.set_value(testing::current_thread_id());
    Events events(8);
    const auto start = std::chrono::steady_clock::now();
    auto result = poll().poll(events, 10s);
    const bool woken = result && events.size() == 1 && events[0].token() == kWake;
    return std::pair{woken, std::chrono::steady_clock::now() - start};
  });

  ASSERT_TRUE(testing::wait_until_blocked_in_poll(poller_tid.get_future().get(), 5s));
  std::thread([&waker] { ASSERT_TRUE(waker.wake()); }).join();

  ASSERT_EQ(polled.wait_for(5s), std::future_status::ready) << "the waker did not wake the poll";
  auto [woken, waited] = polled.get();
  EXPECT_TRUE(woken);
  EXPECT_LT(waited, 5s);
}

// milliseconds::max() overflows when converted to nanoseconds (to a negative count): the poll
// must still wait, for as long as a poll can, and not return at once.
TEST_P(WakerTest, WakesAPollWaitingForTheLongestDuration) {
  auto waker = Waker::create(registry(), kWake).value();
  std::promise<pid_t> poller_tid;
  auto polled = std::async(std::launch::async, [&] {
    poller_tid.set_value(testing::current_thread_id());
    Events events(8);
    auto result = poll().poll(events, std::chrono::milliseconds::max());
    return result && events.size() == 1 && events[0].token() == kWake;
  });

  ASSERT_TRUE(testing::wait_until_blocked_in_poll(poller_tid.get_future().get(), 5s))
      << "the poll did not wait";
  ASSERT_TRUE(waker.wake());
  ASSERT_EQ(polled.wait_for(5s), std::future_status::ready) << "the waker did not wake the poll";
  EXPECT_TRUE(polled.get());
}

TEST_P(WakerTest, DestroyingTheWakerDeregistersIt) {
  {
    auto waker = Waker::create(registry(), kWake).value();
    ASSERT_TRUE(waker.wake());
  }
  testing::expect_no_events(poll(), events_);
}

TEST_P(WakerTest, MovedWakerStillWakesAndMovedFromFails) {
  auto first = Waker::create(registry(), kWake).value();
  Waker second = std::move(first);
  EXPECT_EQ(first.wake().error(), std::errc::bad_file_descriptor);  // NOLINT: documented state
  ASSERT_TRUE(second.wake());
  testing::expect_events(poll(), events_, {{kWake, testing::kReadable}});
}

// The Waker is the Poll's own registration: not listed, never a leak, never an audit finding.
TEST_P(WakerTest, WakerIsNoUserRegistration) {
  std::size_t leak_reports = 0;
  {
    auto other = Poll::create(GetParam()).value();
    other.set_leak_handler([&leak_reports](std::span<const RegistrationInfo>) { ++leak_reports; });
    auto waker = Waker::create(other.registry(), kWake).value();
    EXPECT_TRUE(other.registrations().empty());
    const auto report = other.audit().value();
    EXPECT_TRUE(report.clean());
    EXPECT_EQ(report.book_registrations, 0u);
    EXPECT_EQ(report.kernel_registrations, 0u);
    ASSERT_TRUE(waker.wake());
    testing::expect_events(other, events_, {{kWake, testing::kReadable}});
    Poll gone = std::move(other);  // destroyed here, while the waker lives on
  }
  EXPECT_EQ(leak_reports, 0u);
}

TEST_P(WakerTest, ASecondLiveWakerIsRefused) {
  auto first = Waker::create(registry(), kWake).value();
  const std::size_t fds = testing::count_open_fds();
  auto second = Waker::create(registry(), Token{78});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), Errc::waker_exists);
  EXPECT_EQ(second.error(), std::errc::file_exists);
  EXPECT_EQ(testing::count_open_fds(), fds) << "the refused waker left nothing open";
  ASSERT_TRUE(first.wake());
  testing::expect_events(poll(), events_, {{kWake, testing::kReadable}});
  { Waker done = std::move(first); }
  auto replacement = Waker::create(registry(), Token{78});
  ASSERT_TRUE(replacement) << "once the first is gone, a new one may be made";
  ASSERT_TRUE(replacement->wake());
  testing::expect_events(poll(), events_, {{Token{78}, testing::kReadable}});
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(WakerTest);

}  // namespace
}  // namespace libpoll

// The poll(2) backend waits on a copy of its descriptor set. A registration change made by another
// thread meanwhile wakes it through an internal pipe, and it must then wait only for what is left
// of the caller's timeout, not start it again.

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <tuple>

#include "libpoll/libpoll.hpp"
#include "support/threads.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(PollBackendThreadTest, InternalWakeUpsDoNotRestartTheTimeout) {
  auto poll = Poll::create(Backend::poll).value();
  auto [sender, receiver] = net::pipe().value();  // never written: nothing becomes ready

  std::promise<pid_t> poller_tid;
  auto polled = std::async(std::launch::async, [&] {
    poller_tid.set_value(testing::current_thread_id());
    Events events(8);
    const auto start = Clock::now();
    auto result = poll.poll(events, 300ms);
    return std::tuple{result.error(), events.size(), Clock::now() - start};
  });
  const pid_t tid = poller_tid.get_future().get();

  // Wake the poll each time it blocks, until it returns. A poll that restarted its full timeout
  // after each internal wake-up would never return; the bound turns that into a failure.
  Registry other = poll.registry().clone();
  bool registered = false;
  std::size_t wakes = 0;
  const auto give_up = Clock::now() + 5s;
  while (polled.wait_for(0s) != std::future_status::ready && Clock::now() < give_up) {
    if (!testing::wait_until_blocked_in_poll(tid, 10ms)) continue;
    auto changed = registered ? other.deregister_source(receiver)
                              : other.register_source(receiver, Token{1}, Interest::readable);
    ASSERT_TRUE(changed) << changed.error().message();
    registered = !registered;
    ++wakes;
  }
  ASSERT_EQ(polled.wait_for(5s), std::future_status::ready);
  if (registered) {
    ASSERT_TRUE(other.deregister_source(receiver));
  }

  auto [error, count, waited] = polled.get();
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(count, 0u);
  EXPECT_GT(wakes, 0u);
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 600ms) << "woken " << wakes << " times";
}

}  // namespace
}  // namespace libpoll

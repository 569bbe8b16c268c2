// A signal delivered to the polling thread ends the wait with EINTR, returned to the caller, on
// every backend, even when its handler was installed with SA_RESTART.

#include <pthread.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "support/poll_fixture.hpp"
#include "support/threads.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using testing::PollTest;

std::atomic<int> g_signals{0};
void count_signal(int) {
  g_signals.fetch_add(1);
}

class PollSignalTest : public PollTest {};

TEST_P(PollSignalTest, InterruptedWaitReturnsInterruptedAndIsNotRetried) {
  struct sigaction action {};
  action.sa_handler = count_signal;
  // Even with SA_RESTART, the kernel does not restart a wait with a timeout (epoll_wait, poll,
  // io_uring_enter's wait for completions).
  action.sa_flags = SA_RESTART;
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);

  std::promise<pthread_t> poller;
  std::promise<pid_t> poller_tid;
  auto polled = std::async(std::launch::async, [&] {
    poller.set_value(::pthread_self());
    poller_tid.set_value(testing::current_thread_id());
    Events events(4);
    return poll().poll(events, 10s).error();
  });
  const pthread_t thread = poller.get_future().get();
  ASSERT_TRUE(testing::wait_until_blocked_in_poll(poller_tid.get_future().get(), 5s));
  // The thread may be in a system call that does not wait (io_uring submits, then waits), and a
  // signal handled there is over before the wait begins, as one just before epoll_wait would be.
  // So the signal is sent again until the wait ends: a wait that restarted after EINTR never
  // would.
  auto ended = std::future_status::timeout;
  for (int sent = 0; sent < 50 && ended != std::future_status::ready; ++sent) {
    ASSERT_EQ(::pthread_kill(thread, SIGUSR1), 0);
    ended = polled.wait_for(100ms);
  }
  ASSERT_EQ(ended, std::future_status::ready) << "the signal did not end the wait";
  EXPECT_EQ(polled.get(), std::errc::interrupted);
  EXPECT_GE(g_signals.load(), 1);
  ASSERT_EQ(::sigaction(SIGUSR1, &previous, nullptr), 0);
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(PollSignalTest);

}  // namespace
}  // namespace libpoll

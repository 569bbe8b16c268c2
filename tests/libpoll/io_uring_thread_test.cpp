// The io_uring backend's ring across threads, with both kinds of ring: a shared one (the
// default) takes calls from any thread; a single-issuer one (PollOptions::single_thread, Linux
// 6.1) from the thread that first polled it only, so that a Poll polled from another thread
// moves its registrations to a ring of its own there, and a deregister from another thread
// leaves its request's removal to the next poll. The behaviour checked here holds with both.

#include <poll.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "libpoll/libpoll.hpp"
#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"
#include "support/threads.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;

constexpr Token kLocal{1};
constexpr Token kWake{2};

// Whether `fd` reports a hang-up within `deadline` (poll(2) waits for it, no sleep).
bool hangs_up_within(int fd, std::chrono::milliseconds deadline) {
  pollfd polled{.fd = fd, .events = POLLIN, .revents = 0};
  const int ready = ::poll(&polled, 1, static_cast<int>(deadline.count()));
  return ready == 1 && (polled.revents & (POLLHUP | POLLRDHUP)) != 0;
}

class IoUringThreadTest : public testing::IoUringRingsTest {
 protected:
  Events events_{64};
};

// The first polling thread stays alive, blocked on a future, while the test's thread polls: the
// registration keeps reporting from the new thread. A deregister there lets the file go once the
// first thread has ended: the request it submitted (in the old ring, closed since, or in the
// shared one) ends in completion work that only that thread runs.
TEST_P(IoUringThreadTest, APollPolledFromASecondLiveThreadKeepsReporting) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(poll_->registry().register_source(local, kLocal, Interest::readable));
  std::promise<void> release;
  std::promise<bool> polled;
  std::thread first([&] {
    Events events(8);
    polled.set_value(static_cast<bool>(poll_->poll(events, 0ms)));
    release.get_future().wait();
  });
  ASSERT_TRUE(polled.get_future().get());

  for (const char* message : {"first", "second"}) {
    SCOPED_TRACE(message);
    ASSERT_TRUE(peer.write(testing::bytes(message)));
    testing::expect_events(*poll_, events_, {{kLocal, testing::kReadable}});
    std::array<std::byte, 64> buffer{};
    ASSERT_TRUE(local.read(buffer));
  }
  ASSERT_TRUE(poll_->registry().deregister_source(local));
  { net::UnixStream closed = std::move(local); }
  release.set_value();
  first.join();
  EXPECT_TRUE(hangs_up_within(peer.as_raw_fd(), 5000ms));
  auto report = poll_->audit();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean());
}

// A deregister from a thread other than the polling one, while the poll is blocked: the file
// closes with its descriptor once the woken poll has removed the request, which the peer sees
// as a hang-up without any event in the Poll.
TEST_P(IoUringThreadTest, ADeregisterFromAnotherThreadLetsTheFileGoOnceThePollRuns) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(poll_->registry().register_source(local, kLocal, Interest::readable));
  auto waker = Waker::create(poll_->registry(), kWake).value();
  std::promise<pid_t> poller_id;
  std::promise<bool> woken;
  std::thread poller([&] {
    poller_id.set_value(testing::current_thread_id());
    Events events(8);
    bool wake_seen = false;
    // Bounded: each poll waits at most 5 s, and the loop ends at the waker's event.
    for (int round = 0; round < 100 && !wake_seen; ++round) {
      if (!poll_->poll(events, 5000ms)) break;
      for (const Event& event : events) wake_seen = wake_seen || event.token() == kWake;
    }
    woken.set_value(wake_seen);
  });
  ASSERT_TRUE(testing::wait_until_blocked_in_poll(poller_id.get_future().get(), 5s));

  ASSERT_TRUE(poll_->registry().deregister_source(local));
  { net::UnixStream closed = std::move(local); }
  EXPECT_TRUE(hangs_up_within(peer.as_raw_fd(), 5000ms));

  ASSERT_TRUE(waker.wake());
  EXPECT_TRUE(woken.get_future().get());
  poller.join();
  EXPECT_EQ(poll_->metrics().ghost_events, 0u);
  auto report = poll_->audit();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean());
}

// One thread makes, polls and destroys a Poll; a later thread makes one and is served. A bound
// ring destroyed on its thread is kept idle for that thread's next Poll, and a later thread may
// carry the same thread tag (its stack reused): the ring it is handed then refuses it, and the
// Poll moves to a ring of its own without losing a registration.
TEST_P(IoUringThreadTest, APollMadeOnALaterThreadIsServedWhateverRingItIsHanded) {
  const PollOptions options{.backend = Backend::io_uring, .single_thread = GetParam()};
  auto first = std::async(std::launch::async, [&] {
    auto poll = Poll::create(options);
    if (!poll) return false;
    Events events(8);
    return static_cast<bool>(poll->poll(events, 0ms));
  });
  ASSERT_TRUE(first.get());
  auto second = std::async(std::launch::async, [&]() -> ::testing::AssertionResult {
    auto poll = Poll::create(options);
    if (!poll) return ::testing::AssertionFailure() << poll.error().message();
    auto [local, peer] = net::UnixStream::pair().value();
    if (!poll->registry().register_source(local, kLocal, Interest::readable))
      return ::testing::AssertionFailure() << "register";
    if (!peer.write(testing::bytes("x"))) return ::testing::AssertionFailure() << "write";
    Events events(8);
    if (auto polled = poll->poll(events, 5000ms); !polled)
      return ::testing::AssertionFailure() << polled.error().message();
    if (events.size() != 1 || events.begin()->token() != kLocal)
      return ::testing::AssertionFailure() << events.size() << " events";
    if (!poll->registry().deregister_source(local))
      return ::testing::AssertionFailure() << "deregister";
    return ::testing::AssertionSuccess();
  });
  EXPECT_TRUE(second.get());
}

LIBPOLL_INSTANTIATE_FOR_RINGS(IoUringThreadTest);

}  // namespace
}  // namespace libpoll

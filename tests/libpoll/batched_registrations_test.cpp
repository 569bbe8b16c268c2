// Registers and deregisters of libpoll's own sources made on the polling thread between two
// polls: on epoll they wait for the next poll, which makes them all with one system call, and a
// register undone by a deregister never reaches the kernel. What a user sees must not change on
// any backend: a registered ready source is reported, a deregistered one never is (not even
// once its descriptor is closed while a duplicate keeps the file open), a source registered
// anew is reported again, and the listing and the audit show the registrations as made.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "libpoll/fdinfo.hpp"
#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using testing::bytes;
using testing::kReadable;
using testing::PollTest;

constexpr Token kFirst{1};
constexpr Token kSecond{2};

class BatchedRegistrationsTest : public PollTest {
 protected:
  // A poll that returns at once: from then on this thread is the polling thread.
  void become_the_polling_thread() {
    ASSERT_TRUE(poll().poll(events_, std::chrono::milliseconds(0)));
  }

  // A new socket pair whose first end has descriptor `number`, if that is the lowest free one.
  static std::pair<net::UnixStream, net::UnixStream> pair_reusing(int number) {
    auto pair = net::UnixStream::pair().value();
    if (pair.second.as_raw_fd() == number) std::swap(pair.first, pair.second);
    return pair;
  }

  // What the kernel's epoll instance holds now, read from outside the book (epoll only).
  std::size_t kernel_registrations() {
    auto listed = read_epoll_fdinfo(0, poll().as_raw_fd());
    EXPECT_TRUE(listed) << listed.error().message();
    return listed ? listed->size() : 0;
  }
};

TEST_P(BatchedRegistrationsTest, ARegisterUndoneBeforeThePollIsNeverReported) {
  auto [local, peer] = net::UnixStream::pair().value();
  become_the_polling_thread();
  ASSERT_TRUE(peer.write(bytes("x")));
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  ASSERT_TRUE(registry().deregister_source(local));
  testing::expect_no_events(poll(), events_);

  // Registered again, the ready source is reported.
  ASSERT_TRUE(registry().register_source(local, kSecond, Interest::readable));
  testing::expect_events(poll(), events_, {{kSecond, kReadable}});
  ASSERT_TRUE(registry().deregister_source(local));
}

TEST_P(BatchedRegistrationsTest, ASourceRegisteredAnewIsReportedAgainWhileStillReady) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  ASSERT_TRUE(peer.write(bytes("x")));
  testing::expect_events(poll(), events_, {{kFirst, kReadable}});
  // Not read: still ready. A deregister and a register between two polls are a new
  // registration, which the kernel reports at once, not a modify it may skip.
  ASSERT_TRUE(registry().deregister_source(local));
  ASSERT_TRUE(registry().register_source(local, kSecond, Interest::readable));
  testing::expect_events(poll(), events_, {{kSecond, kReadable}});
  ASSERT_TRUE(registry().deregister_source(local));
  testing::expect_no_events(poll(), events_);
}

TEST_P(BatchedRegistrationsTest, ASourceClosedRightAfterItsDeregisterLeavesNoGhost) {
  auto pair = net::UnixStream::pair().value();
  std::optional<net::UnixStream> local(std::move(pair.first));
  net::UnixStream& peer = pair.second;
  ASSERT_TRUE(registry().register_source(*local, kFirst, Interest::readable));
  take_hold_of_registered_files();
  become_the_polling_thread();
  // A duplicate keeps the file open after the source closes its descriptor: a registration
  // the kernel still held then would outlive the source.
  const OwnedFd duplicate(::dup(local->as_raw_fd()));
  ASSERT_TRUE(duplicate.is_valid());
  ASSERT_TRUE(registry().deregister_source(*local));
  local.reset();

  ASSERT_TRUE(peer.write(bytes("x")));
  testing::expect_no_events(poll(), events_);
  EXPECT_EQ(poll().metrics().ghost_events, 0U);
  auto report = poll().audit();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean()) << report->count(DiscrepancyKind::zombie) << " zombie(s)";
}

TEST_P(BatchedRegistrationsTest, ANumberReusedAfterADeregisterNamesOnlyTheNewSource) {
  auto first = net::UnixStream::pair().value();
  std::optional<net::UnixStream> local(std::move(first.first));
  ASSERT_TRUE(registry().register_source(*local, kFirst, Interest::readable));
  become_the_polling_thread();
  const int number = local->as_raw_fd();
  ASSERT_TRUE(registry().deregister_source(*local));
  local.reset();

  auto [reused, reused_peer] = pair_reusing(number);
  ASSERT_EQ(reused.as_raw_fd(), number) << "the lowest free number is reused";
  ASSERT_TRUE(registry().register_source(reused, kSecond, Interest::readable));
  ASSERT_TRUE(reused_peer.write(bytes("new")));
  const auto seen = testing::expect_events(poll(), events_, {{kSecond, kReadable}});
  EXPECT_TRUE(std::none_of(seen.begin(), seen.end(),
                           [](const Event& event) { return event.token() == kFirst; }));
  auto report = poll().audit();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean());
  ASSERT_TRUE(registry().deregister_source(reused));
}

// A source deregistered here (the change recorded) moves to another Poll and is closed there;
// its number, reused, is registered here again. The recorded deregister was made when the
// source moved: nothing of it is left to turn the new registration into a modify of nothing.
TEST_P(BatchedRegistrationsTest, ASourceThatMovedToAnotherPollLeavesNothingRecordedHere) {
  auto other = Poll::create(GetParam());
  ASSERT_TRUE(other);
  auto first = net::UnixStream::pair().value();
  std::optional<net::UnixStream> local(std::move(first.first));
  ASSERT_TRUE(registry().register_source(*local, kFirst, Interest::readable));
  become_the_polling_thread();
  const int number = local->as_raw_fd();
  ASSERT_TRUE(registry().deregister_source(*local));
  ASSERT_TRUE(other->registry().register_source(*local, kFirst, Interest::readable));
  ASSERT_TRUE(other->registry().deregister_source(*local));
  local.reset();

  auto [reused, reused_peer] = pair_reusing(number);
  ASSERT_EQ(reused.as_raw_fd(), number) << "the lowest free number is reused";
  ASSERT_TRUE(registry().register_source(reused, kSecond, Interest::readable));
  ASSERT_TRUE(reused_peer.write(bytes("x")));
  testing::expect_events(poll(), events_, {{kSecond, kReadable}});
  EXPECT_EQ(poll().metrics().late_change_failures, 0U);
  ASSERT_TRUE(registry().deregister_source(reused));
}

TEST_P(BatchedRegistrationsTest, TheListingAndTheAuditSeeRegistersMadeBeforeThePoll) {
  auto [local, peer] = net::UnixStream::pair().value();
  become_the_polling_thread();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  const auto listed = poll().registrations();
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].token, kFirst);
  auto report = poll().audit();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean());
  EXPECT_EQ(report->book_registrations, 1U);
  ASSERT_TRUE(registry().deregister_source(local));
  report = poll().audit();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean());
  EXPECT_EQ(report->book_registrations, 0U);
}

// On epoll, what the kernel holds shows the batching itself: nothing of the polling thread's
// registers until its next poll, then all of them; another thread's register at once.
TEST_P(BatchedRegistrationsTest, OnEpollThePollingThreadsRegistersReachTheKernelWithItsNextPoll) {
  if (GetParam() != Backend::epoll) GTEST_SKIP() << "epoll's own kernel list";
  std::vector<std::pair<net::UnixStream, net::UnixStream>> pairs;
  for (int i = 0; i < 3; ++i) pairs.push_back(net::UnixStream::pair().value());
  become_the_polling_thread();
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    ASSERT_TRUE(registry().register_source(pairs[i].first, Token{i}, Interest::readable));
  }
  const std::size_t before_the_poll = kernel_registrations();
  if (before_the_poll == pairs.size()) GTEST_SKIP() << "no io_uring to batch with here";
  EXPECT_EQ(before_the_poll, 0U);
  become_the_polling_thread();
  EXPECT_EQ(kernel_registrations(), pairs.size());

  std::thread other([&] {
    ASSERT_TRUE(registry().register_source(pairs[0].second, Token{9}, Interest::readable));
  });
  other.join();
  EXPECT_EQ(kernel_registrations(), pairs.size() + 1) << "another thread's register waits";

  for (auto& pair : pairs) ASSERT_TRUE(registry().deregister_source(pair.first));
  EXPECT_EQ(kernel_registrations(), pairs.size() + 1);
  become_the_polling_thread();
  EXPECT_EQ(kernel_registrations(), 1U);
  ASSERT_TRUE(registry().deregister_source(pairs[0].second));
}

// The polling thread records a deregister; before its next poll another thread registers the
// same source under a new token. That call finds a change recorded for the descriptor and takes
// the change table's lock: its register is made at the call (the kernel holds the new token
// before any poll), and the source is reported under the new token alone.
TEST_P(BatchedRegistrationsTest, AnotherThreadsRegisterOverARecordedDeregisterIsMadeAtTheCall) {
  auto [local, peer] = net::UnixStream::pair().value();
  become_the_polling_thread();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  become_the_polling_thread();  // the register is made
  ASSERT_TRUE(registry().deregister_source(local));
  std::thread other(
      [&] { EXPECT_TRUE(registry().register_source(local, kSecond, Interest::readable)); });
  other.join();
  if (GetParam() == Backend::epoll) {
    auto listed = read_epoll_fdinfo(0, poll().as_raw_fd());
    ASSERT_TRUE(listed) << listed.error().message();
    ASSERT_EQ(listed->size(), 1U);
    EXPECT_EQ(listed->front().data, kSecond.value) << "the register waited for the poll";
  }

  ASSERT_TRUE(peer.write(bytes("x")));
  const auto seen = testing::expect_events(poll(), events_, {{kSecond, kReadable}});
  for (const Event& event : seen) EXPECT_EQ(event.token(), kSecond);
  EXPECT_EQ(poll().metrics().late_change_failures, 0U);
  auto report = poll().audit();
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_TRUE(report->clean());
  ASSERT_TRUE(registry().deregister_source(local));
}

// The same the other way: the polling thread records a register, and another thread changes
// the source's interest before the next poll. The change supersedes the recorded register and
// is made at the call, with the new interest.
TEST_P(BatchedRegistrationsTest, AnotherThreadsReregisterOverARecordedRegisterIsMadeAtTheCall) {
  auto [local, peer] = net::UnixStream::pair().value();
  become_the_polling_thread();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::priority));
  std::thread other(
      [&] { EXPECT_TRUE(registry().reregister_source(local, kFirst, Interest::writable)); });
  other.join();
  if (GetParam() == Backend::epoll) {
    EXPECT_EQ(kernel_registrations(), 1U) << "the change waited for the poll";
  }

  testing::expect_events(poll(), events_, {{kFirst, testing::kWritable}});
  EXPECT_EQ(poll().metrics().late_change_failures, 0U);
  auto report = poll().audit();
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_TRUE(report->clean());
  ASSERT_TRUE(registry().deregister_source(local));
}

// LIBPOLL_BATCH_CHANGES=0 (what pollscope trace sets, so that its interposer sees each change):
// every register reaches the kernel at the call. Set in a forked child, whose environment no
// other thread reads.
TEST_P(BatchedRegistrationsTest, OnEpollTurningBatchingOffMakesEachRegisterAtTheCall) {
  if (GetParam() != Backend::epoll) GTEST_SKIP() << "epoll's own kernel list";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setenv("LIBPOLL_BATCH_CHANGES", "0", 1) != 0) ::_exit(2);
    auto own = Poll::create(Backend::epoll);
    if (!own) ::_exit(3);
    Events events(8);
    auto [a, b] = net::UnixStream::pair().value();
    if (!own->poll(events, std::chrono::milliseconds(0))) ::_exit(4);
    if (!own->registry().register_source(a, kFirst, Interest::readable)) ::_exit(5);
    auto listed = read_epoll_fdinfo(0, own->as_raw_fd());
    if (!listed) ::_exit(6);
    if (listed->size() != 1) ::_exit(7);  // not made at the call
    if (!own->registry().deregister_source(a)) ::_exit(8);
    listed = read_epoll_fdinfo(0, own->as_raw_fd());
    ::_exit(listed && listed->empty() ? 0 : 9);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's step that failed";
}

// A forked child shares its parent's rings; it batches through its own.
TEST_P(BatchedRegistrationsTest, AForkedChildRegistersAndIsReported) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  become_the_polling_thread();  // the parent's ring is open from here on
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto own = Poll::create(GetParam());
    if (!own) ::_exit(2);
    Events events(8);
    auto [a, b] = net::UnixStream::pair().value();
    if (!own->poll(events, std::chrono::milliseconds(0))) ::_exit(3);
    if (!own->registry().register_source(a, kSecond, Interest::readable)) ::_exit(4);
    if (!b.write(bytes("x"))) ::_exit(5);
    if (!own->poll(events, std::chrono::milliseconds(2000)) || events.size() != 1) ::_exit(6);
    if (events.begin()->token() != kSecond) ::_exit(7);
    if (!own->registry().deregister_source(a)) ::_exit(8);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's step that failed";
  // The parent's registration still works.
  ASSERT_TRUE(peer.write(bytes("y")));
  testing::expect_events(poll(), events_, {{kFirst, kReadable}});
  ASSERT_TRUE(registry().deregister_source(local));
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(BatchedRegistrationsTest);

}  // namespace
}  // namespace libpoll

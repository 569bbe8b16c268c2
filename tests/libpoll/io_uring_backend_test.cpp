// What only the io_uring backend has: each registration is a poll request that holds its file
// open, and completions can outnumber the completion queue's entries. The common behaviour is
// checked by every other suite, on every backend.

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libpoll/libpoll.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;

constexpr Token kLocal{1};

// poll(2) on `fd` without waiting: whether it reports a hang-up.
bool hung_up(int fd) {
  pollfd polled{.fd = fd, .events = POLLIN, .revents = 0};
  return ::poll(&polled, 1, 0) == 1 && (polled.revents & (POLLHUP | POLLRDHUP)) != 0;
}

// `count` Unix stream pairs, the first end of pair i registered for readable under Token{i}.
std::vector<std::pair<net::UnixStream, net::UnixStream>> registered_pairs(Poll& poll,
                                                                          std::size_t count) {
  std::vector<std::pair<net::UnixStream, net::UnixStream>> pairs;
  pairs.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    pairs.push_back(net::UnixStream::pair().value());
    EXPECT_TRUE(poll.registry().register_source(pairs.back().first, Token{i}, Interest::readable));
  }
  return pairs;
}

class IoUringBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::io_uring_available())
      GTEST_SKIP() << "no io_uring backend in this build or kernel";
    poll_.emplace(Poll::create(Backend::io_uring).value());
  }
  std::optional<Poll> poll_;
  Events events_{64};
};

// Deregister cancels the request at once, so the file it held closes with its descriptor: the
// peer sees the hang-up without another poll.
TEST_F(IoUringBackendTest, DeregisterLetsTheFileGoAtOnce) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(poll_->registry().register_source(local, kLocal, Interest::readable));
  ASSERT_TRUE(poll_->poll(events_, 0ms));  // the request reaches the kernel
  ASSERT_TRUE(poll_->registry().deregister_source(local));
  { net::UnixStream closed = std::move(local); }
  EXPECT_TRUE(hung_up(peer.as_raw_fd()));
}

// Closed without deregister, a registered file stays open in the kernel (its request holds it):
// the peer sees no hang-up until the registration goes.
TEST_F(IoUringBackendTest, AFileClosedWithoutDeregisterStaysOpenUntilTheRegistrationGoes) {
  auto [local, peer] = net::UnixStream::pair().value();
  const int number = local.as_raw_fd();
  ASSERT_TRUE(poll_->registry().register_source(local, kLocal, Interest::readable));
  ASSERT_TRUE(poll_->poll(events_, 0ms));
  OwnedFd closed(local.into_raw_fd());
  closed.reset();
  EXPECT_FALSE(hung_up(peer.as_raw_fd())) << "the ring's request keeps the file open";

  auto deregistered = poll_->registry().deregister_source(SourceFd(number));
  ASSERT_FALSE(deregistered);
  EXPECT_EQ(deregistered.error(), std::errc::bad_file_descriptor);
  EXPECT_TRUE(hung_up(peer.as_raw_fd()));
}

// A registration is still queued when its descriptor is closed without deregister, a duplicate
// keeping the file open, and the number is taken by another file before the next poll. That
// poll must not make the request on the number: it would watch the new file under the old
// registration's token. Neither file is reported; the poll counts the change as failed, and the
// audit names a zombie whose request never reached the ring.
TEST_F(IoUringBackendTest, AQueuedRequestIsNotMadeOnAFileThatReusedItsNumber) {
  auto [sender, receiver] = net::pipe().value();
  const int number = receiver.as_raw_fd();
  ASSERT_TRUE(poll_->registry().register_source(receiver, kLocal, Interest::readable));
  OwnedFd duplicate(::fcntl(number, F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(duplicate.is_valid());
  auto [new_sender, new_receiver] = net::pipe().value();
  ASSERT_EQ(::dup3(new_receiver.as_raw_fd(), number, O_CLOEXEC), number);  // closes `receiver`'s
  (void)receiver.into_raw_fd();
  OwnedFd reused(number);
  ASSERT_TRUE(new_sender.write("for the new file"));
  ASSERT_TRUE(sender.write("for the old file"));

  // A request made on a ready file reports it as it is armed: within this wait if at all.
  ASSERT_TRUE(poll_->poll(events_, 50ms));
  EXPECT_TRUE(std::none_of(events_.begin(), events_.end(),
                           [](const Event& event) { return event.token() == kLocal; }));
  EXPECT_EQ(poll_->metrics().late_change_failures, 1u);

  const auto report = poll_->audit().value();
  ASSERT_EQ(report.discrepancies.size(), 1u);
  const auto& found = report.discrepancies[0];
  EXPECT_EQ(found.kind, DiscrepancyKind::zombie) << to_string(found);
  EXPECT_EQ(found.fd, number);
  EXPECT_EQ(found.token, kLocal);
  EXPECT_EQ(found.kernel_interest, std::nullopt) << "the kernel watches nothing for it";
  EXPECT_NE(found.detail.find("never reached the ring"), std::string::npos) << found.detail;
  EXPECT_NE(found.detail.find("another file"), std::string::npos) << found.detail;
  EXPECT_EQ(report.kernel_registrations, 0u);

  // The new file under the number can be registered on its own.
  poll_->set_leak_handler(nullptr);  // the replaced registration is reported there, once
  ASSERT_TRUE(poll_->registry().register_source(SourceFd(number), Token{2}, Interest::readable));
  ASSERT_TRUE(poll_->poll(events_, 1s));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_.begin()->token(), Token{2});
  ASSERT_TRUE(poll_->registry().deregister_source(SourceFd(number)));
}

// More ready sources than the completion queue holds (4,096 entries), taken 1,024 at a time:
// every source is delivered. (Where the kernel cannot keep the surplus, it ends the multishot
// requests it cannot post for, and the backend arms them again.)
TEST_F(IoUringBackendTest, EverySourceIsDeliveredWhenCompletionsExceedTheQueue) {
  constexpr std::size_t kSources = 5'000;
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max < 2 * kSources + 64 || !testing::ensure_fd_limit(2 * kSources + 64)) {
    GTEST_SKIP() << "needs " << 2 * kSources + 64 << " descriptors (RLIMIT_NOFILE)";
  }
  auto pairs = registered_pairs(*poll_, kSources);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(poll_->poll(events_, 0ms));  // every request in the kernel, none ready yet
  for (auto& pair : pairs) ASSERT_TRUE(pair.second.write("x"));

  std::set<std::size_t> seen;
  Events events(1024);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (seen.size() < kSources && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(poll_->poll(events, 100ms));
    for (const Event& event : events) {
      ASSERT_TRUE(event.is_readable());
      seen.insert(event.token().value);
    }
  }
  EXPECT_EQ(seen.size(), kSources);
  for (auto& pair : pairs) ASSERT_TRUE(poll_->registry().deregister_source(pair.first));
}

// Both kinds of ring (the parameter: PollOptions::single_thread). A ring bound to its thread gets
// its completions from the work the kernel runs in that thread's wait, a bounded number a pass
// (20 since Linux 6.13): one poll still reports every source that was ready when it began, as
// far as `Events` has room, and the rest at the next.
class IoUringRingTest : public testing::IoUringRingsTest {};

TEST_P(IoUringRingTest, OnePollReportsEveryReadySourceItHasRoomFor) {
  constexpr std::size_t kSources = 100;
  auto pairs = registered_pairs(*poll_, kSources);
  ASSERT_FALSE(HasFailure());
  Events events(256);
  ASSERT_TRUE(poll_->poll(events, 0ms));  // every request in the kernel, none ready yet
  ASSERT_TRUE(events.empty());
  for (auto& pair : pairs) ASSERT_TRUE(pair.second.write("x"));

  ASSERT_TRUE(poll_->poll(events, 5s));
  std::set<std::size_t> seen;
  for (const Event& event : events) {
    EXPECT_TRUE(event.is_readable());
    seen.insert(event.token().value);
  }
  EXPECT_EQ(seen.size(), kSources) << "in one poll of room for 256";
  EXPECT_EQ(events.size(), kSources) << "each source once";

  // Room for fewer: a full Events, and the rest at the next poll (the sources are still ready,
  // but edge-triggered: reported once).
  for (auto& pair : pairs) ASSERT_TRUE(pair.second.write("y"));
  Events few(30);
  ASSERT_TRUE(poll_->poll(few, 5s));
  EXPECT_EQ(few.size(), 30u);
  std::set<std::size_t> rest;
  for (const Event& event : few) rest.insert(event.token().value);
  ASSERT_TRUE(poll_->poll(events, 5s));
  for (const Event& event : events) rest.insert(event.token().value);
  EXPECT_EQ(rest.size(), kSources);
  EXPECT_EQ(few.size() + events.size(), kSources);
  for (auto& pair : pairs) ASSERT_TRUE(poll_->registry().deregister_source(pair.first));
}

LIBPOLL_INSTANTIATE_FOR_RINGS(IoUringRingTest);

}  // namespace
}  // namespace libpoll

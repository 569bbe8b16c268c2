#include "libpoll/metrics.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "libpoll/fdinfo.hpp"
#include "libpoll/poll.hpp"
#include "support/expect_events.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using testing::kReadable;
using testing::PollTest;

constexpr Token kFirst{1};
constexpr Token kSecond{2};
constexpr Token kThird{3};

// The counters of a PollMetrics, comparable as one value so that a test states all of them and
// a stray increment anywhere fails it.
struct Counters {
  std::uint64_t polls = 0;
  std::uint64_t events = 0;
  std::uint64_t ghost_events = 0;
  std::uint64_t registers = 0;
  std::uint64_t reregisters = 0;
  std::uint64_t deregisters = 0;
  std::uint64_t failed_operations = 0;
  std::uint64_t guard_failures = 0;

  friend bool operator==(const Counters&, const Counters&) = default;
  friend void PrintTo(const Counters& c, std::ostream* out) {
    *out << "{polls " << c.polls << ", events " << c.events << ", ghost_events " << c.ghost_events
         << ", registers " << c.registers << ", reregisters " << c.reregisters << ", deregisters "
         << c.deregisters << ", failed_operations " << c.failed_operations << ", guard_failures "
         << c.guard_failures << "}";
  }
};

Counters counters(const PollMetrics& metrics) {
  return Counters{.polls = metrics.polls,
                  .events = metrics.events,
                  .ghost_events = metrics.ghost_events,
                  .registers = metrics.registers,
                  .reregisters = metrics.reregisters,
                  .deregisters = metrics.deregisters,
                  .failed_operations = metrics.failed_operations,
                  .guard_failures = metrics.guard_failures};
}

class MetricsTest : public PollTest {};

TEST_P(MetricsTest, FreshPollHasZeroCountersAndNoBlockedTime) {
  const PollMetrics metrics = poll().metrics();
  EXPECT_EQ(counters(metrics), Counters{});
  for (std::size_t bucket = 0; bucket < metrics.events_per_poll.size(); ++bucket) {
    EXPECT_EQ(metrics.events_per_poll[bucket], 0u) << "bucket " << bucket;
  }
  EXPECT_FALSE(metrics.blocked_time.has_value());
  EXPECT_FALSE(metrics.measured_time.has_value());
  EXPECT_FALSE(metrics.busy_ratio().has_value());
  EXPECT_EQ(metrics.events_per_wakeup(), 0.0);
}

TEST_P(MetricsTest, CountsEachSuccessfulRegistryOperationByKind) {
  auto [sender1, receiver1] = net::pipe().value();
  auto [sender2, receiver2] = net::pipe().value();
  auto [sender3, receiver3] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver1, kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(receiver2, kSecond, Interest::readable));
  ASSERT_TRUE(registry().register_source(receiver3, kThird, Interest::readable));
  ASSERT_TRUE(registry().reregister_source(receiver1, kSecond, Interest::readable));
  ASSERT_TRUE(registry().reregister_source(receiver1, kFirst, Interest::readable));
  ASSERT_TRUE(registry().deregister_source(receiver2));
  EXPECT_EQ(counters(poll().metrics()),
            (Counters{.registers = 3, .reregisters = 2, .deregisters = 1}));

  ASSERT_TRUE(registry().deregister_source(receiver1));
  ASSERT_TRUE(registry().deregister_source(receiver3));
  EXPECT_EQ(counters(poll().metrics()),
            (Counters{.registers = 3, .reregisters = 2, .deregisters = 3}));
}

TEST_P(MetricsTest, MisuseCountsAsAFailedOperationAndNothingElse) {
  auto [sender, receiver] = net::pipe().value();
  auto [other_sender, other_receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  const Counters before = counters(poll().metrics());
  ASSERT_EQ(before, Counters{.registers = 1});

  EXPECT_FALSE(registry().register_source(receiver, kSecond, Interest::readable));
  EXPECT_EQ(counters(poll().metrics()), (Counters{.registers = 1, .failed_operations = 1}));
  EXPECT_FALSE(registry().deregister_source(other_receiver));
  EXPECT_EQ(counters(poll().metrics()), (Counters{.registers = 1, .failed_operations = 2}));
  EXPECT_FALSE(registry().reregister_source(other_receiver, kSecond, Interest::readable));
  EXPECT_EQ(counters(poll().metrics()), (Counters{.registers = 1, .failed_operations = 3}));

  ASSERT_TRUE(registry().deregister_source(receiver));
}

// A register (and, where the kernel answers at the call, a reregister) that the kernel refuses
// counts as a failed operation only: the common path counts the call before the kernel answers
// and counts it back.
TEST_P(MetricsTest, ACallTheKernelRefusesCountsOnlyAsFailed) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  const int closed = ::dup(sender.as_raw_fd());
  ASSERT_GE(closed, 0);
  ASSERT_EQ(::close(closed), 0);
  EXPECT_FALSE(registry().register_source(SourceFd(closed), kSecond, Interest::readable));
  EXPECT_EQ(counters(poll().metrics()), (Counters{.registers = 1, .failed_operations = 1}));

  if (GetParam() == Backend::epoll) {
    // A registered descriptor closed behind the book: the kernel refuses its modify.
    const int duplicate = ::dup(sender.as_raw_fd());
    ASSERT_GE(duplicate, 0);
    ASSERT_TRUE(registry().register_source(SourceFd(duplicate), kThird, Interest::writable));
    ASSERT_EQ(::close(duplicate), 0);
    EXPECT_FALSE(registry().reregister_source(SourceFd(duplicate), kThird, Interest::readable));
    EXPECT_EQ(counters(poll().metrics()), (Counters{.registers = 2, .failed_operations = 2}));
  }
  ASSERT_TRUE(registry().deregister_source(receiver));
}

TEST_P(MetricsTest, CountsPollsEventsAndTheEventsPerPollBucket) {
  auto [sender1, receiver1] = net::pipe().value();
  auto [sender2, receiver2] = net::pipe().value();
  auto [sender3, receiver3] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver1, kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(receiver2, kSecond, Interest::readable));
  ASSERT_TRUE(registry().register_source(receiver3, kThird, Interest::readable));
  ASSERT_TRUE(sender1.write("1"));
  ASSERT_TRUE(sender2.write("2"));
  ASSERT_TRUE(sender3.write("3"));

  ASSERT_EQ(events_.capacity(), 64u);
  ASSERT_TRUE(poll().poll(events_, 1s));
  ASSERT_EQ(events_.size(), 3u);

  const PollMetrics metrics = poll().metrics();
  EXPECT_EQ(metrics.polls, 1u);
  EXPECT_EQ(metrics.events, 3u);
  EXPECT_EQ(metrics.ghost_events, 0u);
  static_assert(std::bit_width(3u) == 2);
  for (std::size_t bucket = 0; bucket < metrics.events_per_poll.size(); ++bucket) {
    EXPECT_EQ(metrics.events_per_poll[bucket], bucket == 2 ? 1u : 0u) << "bucket " << bucket;
  }
  EXPECT_EQ(metrics.events_per_wakeup(), 3.0);

  ASSERT_TRUE(registry().deregister_source(receiver1));
  ASSERT_TRUE(registry().deregister_source(receiver2));
  ASSERT_TRUE(registry().deregister_source(receiver3));
}

TEST_P(MetricsTest, PollThatReturnsNothingCountsInBucketZero) {
  ASSERT_TRUE(poll().poll(events_, 0ms));
  ASSERT_TRUE(events_.empty());
  const PollMetrics metrics = poll().metrics();
  EXPECT_EQ(metrics.polls, 1u);
  EXPECT_EQ(metrics.events, 0u);
  for (std::size_t bucket = 0; bucket < metrics.events_per_poll.size(); ++bucket) {
    EXPECT_EQ(metrics.events_per_poll[bucket], bucket == 0 ? 1u : 0u) << "bucket " << bucket;
  }
}

// An event whose token the book does not hold. The source is closed without deregister while a
// dup keeps its file open, and a new source is then registered on the same fd number: the book
// retires the stale entry, but epoll keys registrations by (file, fd) and keeps delivering the
// closed one's events under its old token.
TEST_P(MetricsTest, EventUnderARetiredTokenIsAGhost) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  OwnedFd duplicate(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(duplicate.is_valid());
  { net::PipeReceiver closed = std::move(receiver); }  // closed without deregistering
  ASSERT_EQ(poll().registrations().size(), 1u) << "the book never learned of the close";

  auto [new_sender, new_receiver] = net::pipe().value();
  OwnedFd reused;
  if (new_receiver.as_raw_fd() == fd) {
    reused = OwnedFd(new_receiver.into_raw_fd());
  } else {
    reused = OwnedFd(::dup3(new_receiver.as_raw_fd(), fd, O_CLOEXEC));
  }
  ASSERT_EQ(reused.get(), fd);
  ASSERT_TRUE(registry().register_source(SourceFd(fd), kSecond, Interest::readable));
  const auto listed = poll().registrations();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].token, kSecond);

  ASSERT_TRUE(sender.write("to the closed receiver"));
  if (GetParam() == Backend::epoll) {
    const auto seen = testing::expect_events(poll(), events_, {{kFirst, kReadable}});
    for (const Event& event : seen) EXPECT_EQ(event.token(), kFirst) << to_string(event);
    EXPECT_EQ(poll().metrics().ghost_events, 1u);
  } else {
    // poll(2) watches descriptor numbers: the closed source's file is no longer watched at all.
    testing::expect_no_events(poll(), events_);
    EXPECT_EQ(poll().metrics().ghost_events, 0u);
  }

  ASSERT_TRUE(registry().deregister_source(SourceFd(fd)));
  reused.reset();
  duplicate.reset();  // the last descriptor of the closed file: epoll drops the zombie
  if (GetParam() == Backend::epoll) {
    // The kernel's own list, since the book never held the zombie.
    auto kernel = read_epoll_fdinfo(0, poll().as_raw_fd());
    ASSERT_TRUE(kernel) << kernel.error().message();
    EXPECT_TRUE(kernel->empty());
  }
}

// The ghost count looks tokens up only where a ghost is possible; these are the ways into the
// epoll instance that the book cannot see, and each must still be counted.
TEST_P(MetricsTest, ARegistrationMadeThroughTheRawDescriptorIsAGhost) {
  if (GetParam() != Backend::epoll) GTEST_SKIP() << "only epoll's descriptor takes epoll_ctl";
  auto [sender, receiver] = net::pipe().value();
  epoll_event event{.events = EPOLLIN | EPOLLET, .data = {.u64 = 99}};
  ASSERT_EQ(::epoll_ctl(poll().as_raw_fd(), EPOLL_CTL_ADD, receiver.as_raw_fd(), &event), 0);
  ASSERT_TRUE(sender.write("behind the book's back"));
  testing::expect_events(poll(), events_, {{Token{99}, kReadable}});
  EXPECT_EQ(poll().metrics().ghost_events, 1u);
  ASSERT_EQ(::epoll_ctl(poll().as_raw_fd(), EPOLL_CTL_DEL, receiver.as_raw_fd(), &event), 0);
}

TEST_P(MetricsTest, ARegistrationMadeByAForkedChildIsAGhostInTheParent) {
  if (GetParam() != Backend::epoll) GTEST_SKIP() << "only an epoll instance is shared by a fork";
  auto [sender, receiver] = net::pipe().value();
  testing::expect_no_events(poll(), events_);  // a poll before the fork, with nothing to look up
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The parent's Poll, as the child's copy of it: the parent's book never hears of this.
    epoll_event event{.events = EPOLLIN | EPOLLET, .data = {.u64 = 77}};
    ::_exit(::epoll_ctl(poll().as_raw_fd(), EPOLL_CTL_ADD, receiver.as_raw_fd(), &event) == 0 ? 0
                                                                                              : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(sender.write("from the child's registration"));
  testing::expect_events(poll(), events_, {{Token{77}, kReadable}});
  EXPECT_EQ(poll().metrics().ghost_events, 1u);
}

TEST_P(MetricsTest, BlockedTimeIsMeasuredWhenAskedFor) {
  auto created = Poll::create(PollOptions{.backend = GetParam(), .measure_blocked_time = true});
  ASSERT_TRUE(created) << created.error().message();
  Poll& measured = *created;
  ASSERT_TRUE(measured.poll(events_, 20ms));
  ASSERT_TRUE(events_.empty());

  const PollMetrics metrics = measured.metrics();
  ASSERT_TRUE(metrics.blocked_time.has_value());
  ASSERT_TRUE(metrics.measured_time.has_value());
  EXPECT_GE(*metrics.blocked_time, 20ms);
  EXPECT_GE(*metrics.measured_time, *metrics.blocked_time);
  const auto busy = metrics.busy_ratio();
  ASSERT_TRUE(busy.has_value());
  EXPECT_GE(*busy, 0.0);
  EXPECT_LE(*busy, 1.0);
}

TEST_P(MetricsTest, BlockedTimeIsNotMeasuredByDefault) {
  ASSERT_TRUE(poll().poll(events_, 1ms));
  const PollMetrics metrics = poll().metrics();
  EXPECT_EQ(metrics.polls, 1u);
  EXPECT_FALSE(metrics.blocked_time.has_value());
  EXPECT_FALSE(metrics.measured_time.has_value());
  EXPECT_FALSE(metrics.busy_ratio().has_value());
}

// Threaded, though in this single-thread suite: ThreadSanitizer runs only on
// libpoll_thread_tests, so this checks the values, not the absence of races.
TEST_P(MetricsTest, MetricsAreReadableFromAnotherThreadWhileThePollThreadPolls) {
  constexpr std::uint64_t kPolls = 100;
  std::atomic<bool> done{false};
  std::uint64_t reads = 0;
  std::uint64_t last_polls = 0;
  bool went_backwards = false;
  bool overshot = false;
  std::thread reader([&] {
    do {
      const std::uint64_t polls = poll().metrics().polls;
      went_backwards = went_backwards || polls < last_polls;
      overshot = overshot || polls > kPolls;
      last_polls = polls;
      ++reads;
    } while (!done.load(std::memory_order_acquire));
  });
  // No ASSERT before the join: leaving with a joinable thread would terminate the binary.
  std::error_code failure;
  for (std::uint64_t i = 0; i < kPolls && !failure; ++i) {
    failure = poll().poll(events_, 0ms).error();
  }
  done.store(true, std::memory_order_release);
  reader.join();

  ASSERT_FALSE(failure) << failure.message();

  EXPECT_GE(reads, 1u);
  EXPECT_FALSE(went_backwards);
  EXPECT_FALSE(overshot);
  EXPECT_EQ(poll().metrics().polls, kPolls);
  EXPECT_EQ(poll().metrics().events_per_poll[0], kPolls);
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(MetricsTest);

}  // namespace
}  // namespace libpoll

// Reregisters made between two polls: recorded and made with the next poll, collapsed when they
// undo each other, skipped when the kernel holds the state already and the source was drained
// since its last event, and still made (re-reporting the source) while it may be ready.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "libpoll/net/pipe.hpp"
#include "libpoll/net/unix_stream.hpp"
#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using testing::bytes;
using testing::kReadable;
using testing::kWritable;
using testing::PollTest;

constexpr Token kFirst{1};
constexpr Token kSecond{2};

class CoalescedChangesTest : public PollTest {
 protected:
  // poll(2) keeps its registrations in its own table: no change ever reaches the kernel, and
  // none is counted as skipped either.
  [[nodiscard]] bool counts_skips() const { return GetParam() != Backend::poll; }

  std::uint64_t kernel_changes() { return poll().metrics().kernel_changes; }
  std::uint64_t skipped_changes() { return poll().metrics().skipped_changes; }

  // Reads `stream` until it would block: the drain a correct edge-triggered user makes.
  static void drain(net::UnixStream& stream) {
    std::array<std::byte, 64> buffer{};
    for (;;) {
      auto got = stream.read(std::span(buffer));
      if (!got) {
        ASSERT_TRUE(testing::would_block(got));
        return;
      }
      ASSERT_GT(*got, 0U) << "end of stream";
    }
  }
};

TEST_P(CoalescedChangesTest, AToggleThatUndoesItselfMakesNoKernelChange) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  ASSERT_TRUE(peer.write(bytes("x")));
  testing::expect_events(poll(), events_, {{kFirst, kReadable}});
  drain(local);

  const std::uint64_t made = kernel_changes();
  const std::uint64_t skipped = skipped_changes();
  ASSERT_TRUE(registry().reregister_source(local, kFirst, Interest::readable | Interest::writable));
  ASSERT_TRUE(registry().reregister_source(local, kFirst, Interest::readable));
  testing::expect_no_events(poll(), events_);
  EXPECT_EQ(kernel_changes(), made);
  if (counts_skips()) {
    EXPECT_GT(skipped_changes(), skipped);
  }

  // The registration the kernel kept still reports new data.
  ASSERT_TRUE(peer.write(bytes("y")));
  testing::expect_events(poll(), events_, {{kFirst, kReadable}});
  ASSERT_TRUE(registry().deregister_source(local));
}

TEST_P(CoalescedChangesTest, AModifyAfterWouldBlockIsSkipped) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  ASSERT_TRUE(peer.write(bytes("abc")));
  testing::expect_events(poll(), events_, {{kFirst, kReadable}});
  drain(local);

  const std::uint64_t made = kernel_changes();
  const std::uint64_t skipped = skipped_changes();
  ASSERT_TRUE(registry().reregister_source(local, kFirst, Interest::readable));
  // Known at the call: nothing is left for the next poll to make or skip.
  if (counts_skips()) {
    EXPECT_EQ(skipped_changes(), skipped + 1);
  }
  testing::expect_no_events(poll(), events_);
  EXPECT_EQ(kernel_changes(), made);
  if (counts_skips()) {
    EXPECT_EQ(skipped_changes(), skipped + 1);
  }

  // Data after the drain is still an edge, under a token changed meanwhile (a token change is
  // always made).
  ASSERT_TRUE(registry().reregister_source(local, kSecond, Interest::readable));
  ASSERT_TRUE(peer.write(bytes("d")));
  auto seen = testing::expect_events(poll(), events_, {{kSecond, kReadable}});
  for (const Event& event : seen) EXPECT_EQ(event.token(), kSecond);
  ASSERT_TRUE(registry().deregister_source(local));
}

// A source keeps its link to a selector across a deregister, for a cheaper register back with
// it; registered with another Poll, it must date its drains (and, on poll(2), re-arm) there.
TEST_P(CoalescedChangesTest, ASourceRegisteredAgainDatesItsDrainsByItsPoll) {
  auto [local, peer] = net::UnixStream::pair().value();
  {
    auto first = Poll::create(GetParam()).value();
    Events events(8);
    ASSERT_TRUE(first.registry().register_source(local, kFirst, Interest::readable));
    ASSERT_TRUE(peer.write(bytes("a")));
    testing::expect_events(first, events, {{kFirst, kReadable}});
    drain(local);
    ASSERT_TRUE(first.registry().deregister_source(local));
  }
  // This Poll's count of polls moves past the first one's.
  for (int polls = 0; polls < 3; ++polls) testing::expect_no_events(poll(), events_);

  for (int round = 0; round < 2; ++round) {  // another Poll's selector, then this one's again
    SCOPED_TRACE(round);
    ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
    ASSERT_TRUE(peer.write(bytes("b")));
    testing::expect_events(poll(), events_, {{kFirst, kReadable}});
    drain(local);
    const std::uint64_t made = kernel_changes();
    ASSERT_TRUE(registry().reregister_source(local, kFirst, Interest::readable));
    testing::expect_no_events(poll(), events_);
    EXPECT_EQ(kernel_changes(), made) << "the drain was dated by another Poll's count";
    ASSERT_TRUE(peer.write(bytes("c")));
    testing::expect_events(poll(), events_, {{kFirst, kReadable}});
    drain(local);
    ASSERT_TRUE(registry().deregister_source(local));
  }
}

// The re-report a modify makes under edge triggering: a source whose data is still unread is
// reported again.
TEST_P(CoalescedChangesTest, AModifyWhileStillReadyReportsTheSourceAgain) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  ASSERT_TRUE(peer.write(bytes("abcdef")));
  testing::expect_events(poll(), events_, {{kFirst, kReadable}});
  std::array<std::byte, 2> partial{};
  ASSERT_EQ(local.read(std::span(partial)).value(), partial.size());  // not a drain

  ASSERT_TRUE(registry().reregister_source(local, kFirst, Interest::readable));
  testing::expect_events(poll(), events_, {{kFirst, kReadable}});
  ASSERT_TRUE(registry().deregister_source(local));
}

// A byte stream's write that takes less than it is given found the buffer full: a drain of
// writability, as a would-block is, so that a reregister to what the kernel holds is skipped;
// the room the reader makes later is a new edge. Before, only a read or a would-block dated a
// drain, and a stream socket's writes dated none.
template <class Writer, class Reader>
void expect_short_write_is_a_drain(const Registry& registry, Poll& poll, Events& events,
                                   Writer& writer, Reader& reader, bool counts_skips) {
  ASSERT_TRUE(registry.register_source(writer, kFirst, Interest::writable));
  testing::expect_events(poll, events, {{kFirst, kWritable}});
  const std::vector<std::byte> big(std::size_t{4} << 20);
  const std::size_t taken = writer.write(std::span(big)).value();
  ASSERT_LT(taken, big.size()) << "the buffer took 4 MiB at once";

  const std::uint64_t made = poll.metrics().kernel_changes;
  const std::uint64_t skipped = poll.metrics().skipped_changes;
  ASSERT_TRUE(registry.reregister_source(writer, kFirst, Interest::writable));
  if (counts_skips) {
    EXPECT_EQ(poll.metrics().skipped_changes, skipped + 1);
  }
  testing::expect_no_events(poll, events);
  EXPECT_EQ(poll.metrics().kernel_changes, made);

  std::array<std::byte, 65536> buffer{};
  for (std::size_t read = 0; read < taken;) {
    auto got = reader.read(std::span(buffer));
    ASSERT_TRUE(got) << got.error().message();
    read += *got;
  }
  testing::expect_events(poll, events, {{kFirst, kWritable}});
  ASSERT_TRUE(registry.deregister_source(writer));
}

TEST_P(CoalescedChangesTest, AShortWriteOfAStreamSocketIsADrain) {
  auto [local, peer] = net::UnixStream::pair().value();
  expect_short_write_is_a_drain(registry(), poll(), events_, local, peer, counts_skips());
}

TEST_P(CoalescedChangesTest, AShortWriteOfAPipeIsADrain) {
  auto [sender, receiver] = net::pipe().value();
  expect_short_write_is_a_drain(registry(), poll(), events_, sender, receiver, counts_skips());
}

// A drain from an earlier poll does not count: the event since may not have been acted on.
TEST_P(CoalescedChangesTest, ADrainBeforeTheLastEventDoesNotSkipTheModify) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  drain(local);  // nothing there yet: would-block at once
  ASSERT_TRUE(peer.write(bytes("late")));
  testing::expect_events(poll(), events_, {{kFirst, kReadable}});

  ASSERT_TRUE(registry().reregister_source(local, kFirst, Interest::readable));
  testing::expect_events(poll(), events_, {{kFirst, kReadable}});
  ASSERT_TRUE(registry().deregister_source(local));
}

// Reads `fd` to would-block and tells the registry so.
void drain_foreign(const Registry& registry, int fd) {
  std::array<char, 64> buffer{};
  while (::read(fd, buffer.data(), buffer.size()) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  ASSERT_TRUE(registry.drained(SourceFd(fd), Interest::readable));
}

// A foreign descriptor's user says it drained it (Registry::drained); then the modify is
// skipped as for libpoll's own sources. On epoll the first such skip asks the kernel, which
// confirms the file the number names; later ones compare with it.
TEST_P(CoalescedChangesTest, AForeignDescriptorReportedDrainedSkipsTheModify) {
  auto [local, peer] = net::UnixStream::pair().value();
  const int fd = local.as_raw_fd();
  ASSERT_TRUE(registry().register_source(SourceFd(fd), kFirst, Interest::readable));
  for (const char* message : {"first", "second", "third"}) {
    SCOPED_TRACE(message);
    ASSERT_TRUE(peer.write(bytes(message)));
    testing::expect_events(poll(), events_, {{kFirst, kReadable}});
    drain_foreign(registry(), fd);

    const std::uint64_t made = kernel_changes();
    ASSERT_TRUE(registry().reregister_source(SourceFd(fd), kFirst, Interest::readable));
    testing::expect_no_events(poll(), events_);
    const bool learns_the_file = GetParam() == Backend::epoll && message == std::string("first");
    EXPECT_EQ(kernel_changes(), made + (learns_the_file ? 1 : 0));
  }
  ASSERT_TRUE(peer.write(bytes("y")));
  testing::expect_events(poll(), events_, {{kFirst, kReadable}});
  ASSERT_TRUE(registry().deregister_source(SourceFd(fd)));
}

// A foreign descriptor closed behind the book's back and its number given to another file:
// the kernel would refuse the modify (the new file is not registered), and so does a
// reregister that would have been skipped, whether or not an earlier skip learned the file.
TEST_P(CoalescedChangesTest, AReregisterOfANumberAnotherFileTookFailsAtTheCall) {
  for (const bool skipped_before : {false, true}) {
    SCOPED_TRACE(skipped_before ? "skipped before" : "never skipped");
    auto [local, peer] = net::UnixStream::pair().value();
    auto [other, other_peer] = net::UnixStream::pair().value();
    const int fd = local.into_raw_fd();
    ASSERT_TRUE(registry().register_source(SourceFd(fd), kFirst, Interest::readable));
    ASSERT_TRUE(peer.write(bytes("x")));
    testing::expect_events(poll(), events_, {{kFirst, kReadable}});
    drain_foreign(registry(), fd);
    if (skipped_before) {
      ASSERT_TRUE(registry().reregister_source(SourceFd(fd), kFirst, Interest::readable));
      testing::expect_no_events(poll(), events_);
      drain_foreign(registry(), fd);
    }
    ASSERT_EQ(::dup2(other.as_raw_fd(), fd), fd);  // closes the registered file, takes its number

    auto result = registry().reregister_source(SourceFd(fd), kFirst, Interest::readable);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), std::errc::no_such_file_or_directory);
    ASSERT_TRUE(other_peer.write(bytes("y")));
    ::close(fd);
  }
}

// The kernel would have refused a closed descriptor at once; so does the recorded path, both
// when the change would be skipped and when it would be made.
TEST_P(CoalescedChangesTest, AClosedDescriptorsReregisterFailsAtTheCall) {
  for (const bool reported_drained : {true, false}) {
    SCOPED_TRACE(reported_drained ? "drained" : "not drained");
    auto [sender, receiver] = net::pipe().value();
    const int fd = receiver.into_raw_fd();
    ASSERT_TRUE(registry().register_source(SourceFd(fd), kFirst, Interest::readable));
    take_hold_of_registered_files();
    testing::expect_no_events(poll(), events_);
    if (reported_drained) {
      ASSERT_TRUE(registry().drained(SourceFd(fd), Interest::readable));
    }
    ASSERT_EQ(::close(fd), 0);

    auto result = registry().reregister_source(SourceFd(fd), kFirst, Interest::readable);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), std::errc::bad_file_descriptor);
  }
}

// A change recorded for a registration that is then deregistered dies with it: the number's
// next file, registered readable only, never gets the stale readable|writable.
TEST_P(CoalescedChangesTest, DeregisterThenReuseNeverMakesAStaleChange) {
  auto [stale, stale_peer] = net::UnixStream::pair().value();
  auto [fresh, fresh_peer] = net::UnixStream::pair().value();  // before the number is free
  const int number = stale.as_raw_fd();
  ASSERT_TRUE(registry().register_source(stale, kFirst, Interest::readable));
  testing::expect_no_events(poll(), events_);
  ASSERT_TRUE(registry().reregister_source(stale, kFirst, Interest::readable | Interest::writable));
  ASSERT_TRUE(registry().deregister_source(stale));
  { net::UnixStream closed = std::move(stale); }

  ASSERT_EQ(::dup2(fresh.as_raw_fd(), number), number);
  ASSERT_TRUE(registry().register_source(SourceFd(number), kSecond, Interest::readable));
  testing::expect_no_events(poll(), events_);  // a writable event would be the stale change
  auto report = poll().audit();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean()) << report->discrepancies.front().detail;
  ASSERT_TRUE(registry().deregister_source(SourceFd(number)));
  ASSERT_EQ(::close(number), 0);
}

// The audit compares the book with the kernel's list: a change recorded for the next poll is
// made first, so both hold the new interest.
TEST_P(CoalescedChangesTest, TheAuditSeesTheChangeAsMade) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  testing::expect_no_events(poll(), events_);
  ASSERT_TRUE(
      registry().reregister_source(local, kSecond, Interest::readable | Interest::writable));

  auto report = poll().audit();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean()) << report->discrepancies.front().detail;
  EXPECT_EQ(report->kernel_registrations, 1U);
  testing::expect_events(poll(), events_, {{kSecond, kWritable}});
  ASSERT_TRUE(registry().deregister_source(local));
}

// What can only fail later: a libpoll source's descriptor replaced behind its back (here by
// dup2) between a recorded change and the next poll. That poll counts the failure (io_uring
// makes no request on the file now under the number), and the audit names the registration the
// kernel dropped.
TEST_P(CoalescedChangesTest, ARecordedChangeOfAReplacedDescriptorFailsAtTheNextPoll) {
  if (GetParam() == Backend::poll) {
    GTEST_SKIP() << "poll(2) keeps its registrations in its own table: no change is made later";
  }
  auto [local, peer] = net::UnixStream::pair().value();
  auto [other, other_peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  testing::expect_no_events(poll(), events_);
  ASSERT_TRUE(registry().reregister_source(local, kFirst, Interest::readable | Interest::writable));
  ASSERT_EQ(::dup2(other.as_raw_fd(), local.as_raw_fd()), local.as_raw_fd());

  testing::expect_no_events(poll(), events_);
  EXPECT_EQ(poll().metrics().late_change_failures, 1U);
  auto report = poll().audit();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->count(DiscrepancyKind::vanished), 1U);
  EXPECT_FALSE(registry().deregister_source(local));
}

// A forked child that drops its copy of a source leaves what its parent recorded to the parent:
// an epoll instance is shared with the child, and a change made there late would move the
// parent's registration behind its back (here, back to a token it has given up).
TEST_P(CoalescedChangesTest, AForkedChildNeverMakesItsParentsRecordedChanges) {
  auto [sender, first_receiver] = net::pipe().value();
  std::optional<net::PipeReceiver> receiver(std::move(first_receiver));
  ASSERT_TRUE(registry().register_source(*receiver, kFirst, Interest::readable));
  testing::expect_no_events(poll(), events_);  // this thread polls: its changes are recorded
  ASSERT_TRUE(registry().reregister_source(*receiver, kSecond, Interest::readable));
  std::array<int, 2> go{};
  ASSERT_EQ(::pipe(go.data()), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char signal = 0;
    const bool told = ::read(go[0], &signal, 1) == 1;
    receiver.reset();  // the source closes: whatever it finds recorded is its parent's
    ::_exit(told ? 0 : 1);
  }
  testing::expect_no_events(poll(), events_);  // the parent makes its change to kSecond...
  ASSERT_TRUE(registry().reregister_source(*receiver, kFirst, Interest::readable));
  testing::expect_no_events(poll(), events_);  // ...and the one back to kFirst
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ::close(go[0]);
  ::close(go[1]);

  ASSERT_TRUE(sender.write(bytes("x")));
  for (const Event& event : testing::expect_events(poll(), events_, {{kFirst, kReadable}})) {
    EXPECT_EQ(event.token(), kFirst) << "an event under a token the parent gave up";
  }
  EXPECT_EQ(poll().metrics().ghost_events, 0U);
  ASSERT_TRUE(registry().deregister_source(*receiver));
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(CoalescedChangesTest);

}  // namespace
}  // namespace libpoll

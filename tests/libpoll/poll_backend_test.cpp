// What only the poll(2) backend has: edge-triggered readiness emulated over level-triggered
// poll(2). The common behaviour is checked by every other suite, on both backends.

#include "sys/poll_selector.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <set>
#include <span>
#include <string_view>
#include <utility>

#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using testing::expect_events;
using testing::expect_no_events;
using testing::kReadable;
using testing::PollTest;
using testing::Readiness;
using testing::would_block;

constexpr Token kPipe{7};

// Both ends of a pipe that libpoll does not own, for SourceFd.
struct RawPipe {
  OwnedFd reader;
  OwnedFd writer;

  static RawPipe make() {
    int ends[2] = {-1, -1};
    EXPECT_EQ(::pipe2(ends, O_NONBLOCK | O_CLOEXEC), 0);
    return RawPipe{OwnedFd(ends[0]), OwnedFd(ends[1])};
  }
  void write(std::string_view data) const {
    ASSERT_EQ(::write(writer.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  // The user's own read(2): libpoll never sees it, nor the would-block that would follow.
  void read_exactly(std::size_t size) const {
    std::array<char, 64> buffer{};
    ASSERT_EQ(::read(reader.get(), buffer.data(), buffer.size()), static_cast<ssize_t>(size));
  }
};

class PollBackendTest : public PollTest {};

// mio's poll selector never re-armed a SourceFd once reported (mio #1809). Here a foreign fd,
// whose reads libpoll cannot see, is re-armed at every poll: while it stays ready it is reported
// once per poll call, and once the user drained it nothing more comes.
TEST_P(PollBackendTest, ForeignFdIsReportedAtEachPollWhileReadyAndNotAfterADrain) {
  const RawPipe pipe = RawPipe::make();
  ASSERT_TRUE(registry().register_source(SourceFd(pipe.reader.get()), kPipe, Interest::readable));

  pipe.write("first");
  EXPECT_EQ(testing::count_events_for(poll(), events_, kPipe, 0ms), 1u);
  expect_events(poll(), events_, {{kPipe, kReadable}});  // unread: reported again

  pipe.read_exactly(5);
  expect_no_events(poll(), events_);
  pipe.write("again");
  expect_events(poll(), events_, {{kPipe, kReadable}});

  // Drained and filled again with the same number of bytes between two polls: nothing in the
  // contents tells, and the edge is still not lost.
  pipe.read_exactly(5);
  pipe.write("fifth");
  expect_events(poll(), events_, {{kPipe, kReadable}});

  ASSERT_TRUE(registry().deregister_source(SourceFd(pipe.reader.get())));
}

// The case that stalls an edge emulation that waits to see a foreign fd "not ready": an eventfd
// (no byte count) drained by the user and signalled again before the next poll.
TEST_P(PollBackendTest, ForeignEventfdSignalledAgainRightAfterADrainIsNeverLost) {
  const OwnedFd counter(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  ASSERT_TRUE(counter.is_valid());
  ASSERT_TRUE(registry().register_source(SourceFd(counter.get()), kPipe, Interest::readable));
  const std::uint64_t one = 1;
  std::uint64_t value = 0;

  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(::write(counter.get(), &one, sizeof one), 8);
    expect_events(poll(), events_, {{kPipe, kReadable}});
    ASSERT_EQ(::read(counter.get(), &value, sizeof value), 8);
  }
  expect_no_events(poll(), events_);

  ASSERT_TRUE(registry().deregister_source(SourceFd(counter.get())));
}

// libpoll's own sources keep exact edges even when the loop stops at a short read instead of
// reading to would-block (as many loops do): the read itself tells the backend, so a refill
// with the same number of bytes before the next poll is a new edge.
TEST_P(PollBackendTest, ShortReadOfALibpollSourceRearmsIt) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kPipe, Interest::readable));
  std::array<char, 64> buffer{};
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(sender.write("x"));
    expect_events(poll(), events_, {{kPipe, kReadable}});
    ASSERT_EQ(receiver.read(std::span(buffer)).value(), 1u);  // short: no would-block seen
  }
  expect_no_events(poll(), events_);
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// The re-arm travels with the source, not through any process-wide table: a moved source keeps
// its link, and a source deregistered from one poll(2) Poll and registered with another re-arms
// the new one. (The same refill as above: only the source's own report makes it an edge.)
TEST_P(PollBackendTest, RearmFollowsTheSourceAcrossAMoveAndANewPoll) {
  auto [sender, first_receiver] = net::pipe().value();
  auto other = Poll::create(Backend::poll).value();
  Events other_events(8);
  ASSERT_TRUE(other.registry().register_source(first_receiver, kPipe, Interest::readable));
  ASSERT_TRUE(sender.write("x"));
  expect_events(other, other_events, {{kPipe, kReadable}});
  ASSERT_TRUE(other.registry().deregister_source(first_receiver));

  net::PipeReceiver receiver = std::move(first_receiver);
  ASSERT_TRUE(registry().register_source(receiver, kPipe, Interest::readable));
  std::array<char, 64> buffer{};
  for (int round = 0; round < 3; ++round) {
    expect_events(poll(), events_, {{kPipe, kReadable}});
    ASSERT_EQ(receiver.read(std::span(buffer)).value(), 1u);  // short: no would-block seen
    ASSERT_TRUE(sender.write("x"));
  }
  expect_events(poll(), events_, {{kPipe, kReadable}});
  expect_no_events(other, other_events);
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// The link is weak: a source left registered when its Poll goes (a leak) keeps neither the
// selector nor its internal wake pipe alive, and its I/O afterwards has nothing to re-arm.
TEST_P(PollBackendTest, ASourceOutlivingItsPollKeepsNoSelectorAlive) {
  auto [sender, receiver] = net::pipe().value();
  const std::size_t before = testing::count_open_fds();
  {
    auto doomed = Poll::create(Backend::poll).value();
    doomed.set_leak_handler([](std::span<const RegistrationInfo>) {});
    ASSERT_TRUE(doomed.registry().register_source(receiver, kPipe, Interest::readable));
    EXPECT_GT(testing::count_open_fds(), before);  // the selector's wake pipe
  }
  EXPECT_EQ(testing::count_open_fds(), before);
  ASSERT_TRUE(sender.write("x"));
  std::array<char, 64> buffer{};
  EXPECT_EQ(receiver.read(std::span(buffer)).value(), 1u);
  EXPECT_TRUE(would_block(receiver.read(std::span(buffer))));
}

// With room for one event and three sources that are ready again each time they are handled
// (drained, then sent more), every poll must pick the next one: the scan resumes after the last
// source delivered, or the lowest descriptor would win every time.
TEST_P(PollBackendTest, CapacityOneTakesReadySourcesInTurn) {
  std::array<std::pair<net::PipeSender, net::PipeReceiver>, 3> pipes = {
      net::pipe().value(), net::pipe().value(), net::pipe().value()};
  for (std::size_t i = 0; i < pipes.size(); ++i) {
    ASSERT_TRUE(registry().register_source(pipes[i].second, Token{i}, Interest::readable));
    ASSERT_TRUE(pipes[i].first.write("x"));
  }

  Events one(1);
  std::multiset<std::size_t> seen;
  for (std::size_t round = 0; round < pipes.size(); ++round) {
    ASSERT_TRUE(poll().poll(one, 1s));
    ASSERT_EQ(one.size(), 1u);
    const std::size_t index = one[0].token().value;
    ASSERT_LT(index, pipes.size());
    seen.insert(index);
    auto& [sender, receiver] = pipes[index];
    std::array<char, 8> buffer{};
    ASSERT_TRUE(receiver.read(std::span(buffer)));
    ASSERT_TRUE(would_block(receiver.read(std::span(buffer))));
    ASSERT_TRUE(sender.write("x"));
  }
  EXPECT_EQ(seen, (std::multiset<std::size_t>{0, 1, 2}));

  for (auto& [sender, receiver] : pipes) ASSERT_TRUE(registry().deregister_source(receiver));
}

// poll(2) reports a hang-up, or an error, on every call for as long as it lasts; once reported it
// disarms the source, or each poll would return at once.
TEST_P(PollBackendTest, HangUpAndErrorAreReportedOnceAndDoNotSpin) {
  auto [hung_sender, hung_receiver] = net::pipe().value();
  auto [failed_sender, failed_receiver] = net::pipe().value();
  constexpr Token kHungUp{1};
  constexpr Token kFailed{2};
  ASSERT_TRUE(registry().register_source(hung_receiver, kHungUp, Interest::readable));
  ASSERT_TRUE(registry().register_source(failed_sender, kFailed, Interest::writable));
  expect_events(poll(), events_, {{kFailed, testing::kWritable}});

  { net::PipeSender closing = std::move(hung_sender); }        // POLLHUP at the receiver
  { net::PipeReceiver closing = std::move(failed_receiver); }  // POLLERR at the sender
  expect_events(poll(), events_,
                {{kHungUp, testing::kReadClosed}, {kFailed, Readiness{.error = true}}});

  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(poll().poll(events_, 50ms));
  EXPECT_TRUE(events_.empty()) << to_string(events_[0]);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms) << "the poll did not wait";

  ASSERT_TRUE(registry().deregister_source(hung_receiver));
  ASSERT_TRUE(registry().deregister_source(failed_sender));
}

// The selector's own list: the registered interest as poll(2) bits, the token, and the file's
// identity, which tells a registered file from another one reusing its descriptor number.
TEST_P(PollBackendTest, SelectorListsItsTableAndKnowsWhichFileItHolds) {
  auto selector = sys::PollSelector::create().value();
  EXPECT_EQ(selector->native_handle(), -1);
  const RawPipe pipe = RawPipe::make();
  const int fd = pipe.reader.get();
  ASSERT_TRUE(selector->register_fd(fd, kPipe, Interest::readable, sys::IoPath::foreign, false));

  struct stat status {};
  ASSERT_EQ(::fstat(fd, &status), 0);
  const auto listed = selector->registrations().value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].target_fd, fd);
  EXPECT_EQ(listed[0].events, static_cast<std::uint32_t>(POLLIN | POLLRDHUP));
  EXPECT_EQ(listed[0].data, kPipe.value);
  EXPECT_EQ(listed[0].inode, status.st_ino);
  EXPECT_EQ(listed[0].device, status.st_dev);
  EXPECT_EQ(listed[0].access_mode, O_RDONLY);
  EXPECT_TRUE(selector->holds(fd));

  // Another file under the same number (the old one closed without deregister).
  const RawPipe other = RawPipe::make();
  ASSERT_EQ(::dup3(other.reader.get(), fd, O_CLOEXEC), fd);
  EXPECT_FALSE(selector->holds(fd));
  // As epoll answers for a number that now names an unregistered file; the dead entry goes.
  auto deregistered = selector->deregister_fd(fd, false);
  ASSERT_FALSE(deregistered);
  EXPECT_EQ(deregistered.error(), std::errc::no_such_file_or_directory);
  EXPECT_TRUE(selector->registrations().value().empty());
}

INSTANTIATE_TEST_SUITE_P(Poll, PollBackendTest, ::testing::Values(Backend::poll),
                         testing::backend_test_name);

}  // namespace
}  // namespace libpoll

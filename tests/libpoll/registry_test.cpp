#include "libpoll/registry.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "support/expect_events.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using testing::bytes;
using testing::kReadable;
using testing::kWritable;
using testing::PollTest;

constexpr Token kFirst{1};
constexpr Token kSecond{2};

// An owning source cannot be registered as a temporary (it would be closed, still registered,
// at the end of the expression); a borrowed SourceFd can.
template <class S>
concept RegistrableAsTemporary = requires(const Registry& registry, S&& source) {
  registry.register_source(std::move(source), Token{0}, Interest::readable);
};
static_assert(RegistrableAsTemporary<SourceFd>);
static_assert(!RegistrableAsTemporary<net::TcpStream>);
static_assert(!RegistrableAsTemporary<net::PipeReceiver>);

class RegistryTest : public PollTest {};

TEST_P(RegistryTest, RegisteringTwiceFails) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  auto again = registry().register_source(receiver, kSecond, Interest::readable);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), std::errc::file_exists);
  ASSERT_TRUE(registry().deregister_source(receiver));
}

TEST_P(RegistryTest, ReregisterWithoutRegisterFails) {
  auto [sender, receiver] = net::pipe().value();
  auto result = registry().reregister_source(receiver, kFirst, Interest::readable);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), std::errc::no_such_file_or_directory);
}

TEST_P(RegistryTest, DeregisterWithoutRegisterFails) {
  auto [sender, receiver] = net::pipe().value();
  auto result = registry().deregister_source(receiver);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), std::errc::no_such_file_or_directory);
}

TEST_P(RegistryTest, DeregisterTwiceFails) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  ASSERT_TRUE(registry().deregister_source(receiver));
  auto again = registry().deregister_source(receiver);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), std::errc::no_such_file_or_directory);
}

TEST_P(RegistryTest, ClosedDescriptorIsABadDescriptor) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  { net::PipeReceiver closed = std::move(receiver); }
  auto result = registry().register_source(SourceFd(fd), kFirst, Interest::readable);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), std::errc::bad_file_descriptor);
}

TEST_P(RegistryTest, ReregisterReplacesTokenAndInterest) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  ASSERT_TRUE(registry().reregister_source(local, kSecond, Interest::writable));
  auto seen = testing::expect_events(poll(), events_, {{kSecond, kWritable}});
  for (const Event& event : seen) EXPECT_EQ(event.token(), kSecond);
  ASSERT_TRUE(registry().deregister_source(local));
}

// Data that arrived while only writable was asked for is not reported as readable...
TEST_P(RegistryTest, ReregisterHidesPendingReadinessOfARemovedInterest) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  ASSERT_TRUE(peer.write(bytes("pending")));
  ASSERT_TRUE(registry().reregister_source(local, kSecond, Interest::writable));

  auto seen = testing::expect_events(poll(), events_, {{kSecond, kWritable}});
  for (const Event& event : seen) {
    EXPECT_EQ(event.token(), kSecond);
    EXPECT_FALSE(event.is_readable()) << libpoll::to_string(event);
  }
  ASSERT_TRUE(registry().deregister_source(local));
}

// ...and once readable is asked for again, the data already waiting is reported at once.
TEST_P(RegistryTest, ReregisterReportsReadinessAlreadyPending) {
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::writable));
  testing::expect_events(poll(), events_, {{kFirst, kWritable}});
  ASSERT_TRUE(peer.write(bytes("waiting")));
  testing::expect_no_events(poll(), events_);

  ASSERT_TRUE(registry().reregister_source(local, kSecond, Interest::readable));
  testing::expect_events(poll(), events_, {{kSecond, kReadable}});
  ASSERT_TRUE(registry().deregister_source(local));
}

TEST_P(RegistryTest, DeregisterStopsEventsAndLeavesTheSourceUsable) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  ASSERT_TRUE(registry().deregister_source(receiver));

  ASSERT_TRUE(sender.write("after"));
  testing::expect_no_events(poll(), events_);
  char buffer[16];
  auto read = receiver.read(std::span(buffer));
  ASSERT_TRUE(read);
  EXPECT_EQ(std::string_view(buffer, *read), "after");
}

TEST_P(RegistryTest, RegisterDeregisterRegisterWorks) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  ASSERT_TRUE(registry().deregister_source(receiver));
  ASSERT_TRUE(registry().register_source(receiver, kSecond, Interest::readable));
  ASSERT_TRUE(sender.write("x"));
  auto seen = testing::expect_events(poll(), events_, {{kSecond, kReadable}});
  for (const Event& event : seen) EXPECT_EQ(event.token(), kSecond);
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// Events stored by an earlier poll stay in the buffer after a deregister: handlers must expect
// a token whose source they have just removed.
TEST_P(RegistryTest, DeregisterLeavesEventsAlreadyInTheBuffer) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  ASSERT_TRUE(sender.write("x"));
  ASSERT_TRUE(poll().poll(events_, 1s));
  ASSERT_EQ(events_.size(), 1u);
  ASSERT_TRUE(registry().deregister_source(receiver));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].token(), kFirst);
}

TEST_P(RegistryTest, RegularFilesCannotBeWatched) {
  char path[] = "/tmp/libpoll-registry-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  auto result = registry().register_source(SourceFd(fd), kFirst, Interest::readable);
  ::close(fd);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), std::errc::operation_not_permitted);
}

// A device whose driver cannot be polled (/dev/null: stdin redirected from it) is always ready,
// like a regular file: refused at the call on every backend, not reported at every poll.
TEST_P(RegistryTest, DevicesThatCannotBePolledCannotBeWatched) {
  for (const char* path : {"/dev/null", "/dev/zero"}) {
    SCOPED_TRACE(path);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    auto result = registry().register_source(SourceFd(fd), kFirst, Interest::readable);
    ::close(fd);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), std::errc::operation_not_permitted);
  }
}

TEST_P(RegistryTest, MovedFromRegistryFailsEveryOperation) {
  Registry clone = registry().clone();
  Registry taken = std::move(clone);
  auto [sender, receiver] = net::pipe().value();
  // NOLINTBEGIN(bugprone-use-after-move): the documented moved-from state
  EXPECT_EQ(clone.register_source(receiver, kFirst, Interest::readable).error(),
            std::errc::bad_file_descriptor);
  EXPECT_EQ(clone.reregister_source(receiver, kFirst, Interest::readable).error(),
            std::errc::bad_file_descriptor);
  EXPECT_EQ(clone.deregister_source(receiver).error(), std::errc::bad_file_descriptor);
  // NOLINTEND(bugprone-use-after-move)
  ASSERT_TRUE(taken.register_source(receiver, kFirst, Interest::readable));
  ASSERT_TRUE(taken.deregister_source(receiver));
}

// A moved-from source holds no descriptor: every registry call on it is a bad descriptor (as
// IoSource documents), not "not registered" for some calls and EBADF for others.
TEST_P(RegistryTest, MovedFromSourceIsABadDescriptorForEveryCall) {
  auto [sender, receiver] = net::pipe().value();
  net::PipeReceiver taken = std::move(receiver);
  // NOLINTBEGIN(bugprone-use-after-move): the documented moved-from state
  EXPECT_EQ(registry().register_source(receiver, kFirst, Interest::readable).error(),
            std::errc::bad_file_descriptor);
  EXPECT_EQ(registry().reregister_source(receiver, kFirst, Interest::readable).error(),
            std::errc::bad_file_descriptor);
  EXPECT_EQ(registry().deregister_source(receiver).error(), std::errc::bad_file_descriptor);
  // NOLINTEND(bugprone-use-after-move)
  EXPECT_EQ(registry().deregister_source(SourceFd(-1)).error(), std::errc::bad_file_descriptor);
}

// A user type that wraps another source delegates through the registry it is handed.
class Connection final : public Source {
 public:
  explicit Connection(net::PipeReceiver receiver) : receiver_(std::move(receiver)) {}
  std::vector<std::string> calls;

 private:
  Result<void> register_source(const Registry& registry, Token token,
                               Interest interest) noexcept override {
    calls.push_back("register " + std::to_string(token.value) + " " + to_string(interest));
    return registry.register_source(receiver_, token, interest);
  }
  Result<void> reregister_source(const Registry& registry, Token token,
                                 Interest interest) noexcept override {
    calls.push_back("reregister " + std::to_string(token.value) + " " + to_string(interest));
    return registry.reregister_source(receiver_, token, interest);
  }
  Result<void> deregister_source(const Registry& registry) noexcept override {
    calls.push_back("deregister");
    return registry.deregister_source(receiver_);
  }

  net::PipeReceiver receiver_;
};

TEST_P(RegistryTest, ForwardsEachCallToTheSource) {
  auto [sender, receiver] = net::pipe().value();
  Connection connection(std::move(receiver));
  ASSERT_TRUE(registry().register_source(connection, kFirst, Interest::readable));
  ASSERT_TRUE(registry().reregister_source(connection, kSecond, Interest::readable));
  ASSERT_TRUE(sender.write("x"));
  testing::expect_events(poll(), events_, {{kSecond, kReadable}});
  ASSERT_TRUE(registry().deregister_source(connection));
  EXPECT_EQ(connection.calls, (std::vector<std::string>{"register 1 READABLE",
                                                        "reregister 2 READABLE", "deregister"}));
}

class FailingSource final : public Source {
  Result<void> register_source(const Registry&, Token, Interest) noexcept override {
    return Unexpected(std::errc::no_buffer_space);
  }
  Result<void> reregister_source(const Registry&, Token, Interest) noexcept override {
    return Unexpected(std::errc::not_supported);
  }
  Result<void> deregister_source(const Registry&) noexcept override {
    return Unexpected(std::errc::device_or_resource_busy);
  }
};

TEST_P(RegistryTest, ReturnsTheSourcesOwnErrors) {
  FailingSource source;
  EXPECT_EQ(registry().register_source(source, kFirst, Interest::readable).error(),
            std::errc::no_buffer_space);
  EXPECT_EQ(registry().reregister_source(source, kFirst, Interest::readable).error(),
            std::errc::not_supported);
  EXPECT_EQ(registry().deregister_source(source).error(), std::errc::device_or_resource_busy);
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(RegistryTest);

}  // namespace
}  // namespace libpoll

// The registration book: misuse errors, the list of live registrations with their sites, and
// the leak report when a Poll is destroyed with registrations still live.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <vector>

#include "libpoll/libpoll.hpp"
#include "support/expect_events.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using testing::PollTest;

constexpr Token kFirst{1};
constexpr Token kSecond{2};

FileIdentity identity_of(int fd) {
  struct stat status {};
  EXPECT_EQ(::fstat(fd, &status), 0);
  return {static_cast<std::uint64_t>(status.st_dev), static_cast<std::uint64_t>(status.st_ino)};
}

// Moves `from` onto descriptor number `to` (closing what was there), so that a test can make a
// new file land on a number an old registration used.
void move_fd(int from, int to) {
  ASSERT_EQ(::dup3(from, to, O_CLOEXEC), to);
  ASSERT_EQ(::close(from), 0);
}

class BookTest : public PollTest {
 protected:
  Poll make_poll() { return Poll::create(GetParam()).value(); }
};

TEST_P(BookTest, RegisteringTwiceIsAlreadyRegisteredWithAClearMessage) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  auto again = registry().register_source(receiver, kSecond, Interest::writable);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::already_registered);
  EXPECT_EQ(again.error(), std::errc::file_exists);
  EXPECT_EQ(again.error().message(), "source is already registered with this Poll");
  // The first registration is untouched.
  ASSERT_EQ(poll().registrations().size(), 1u);
  EXPECT_EQ(poll().registrations()[0].token, kFirst);
  ASSERT_TRUE(registry().deregister_source(receiver));
}

TEST_P(BookTest, RegisteringWithASecondPollIsAnErrorUntilTheFirstDeregisters) {
  auto other = make_poll();
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));

  auto second = other.registry().register_source(receiver, kSecond, Interest::readable);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), Errc::registered_with_another_poll);
  EXPECT_EQ(second.error().message(),
            "source is registered with another Poll; deregister it there first");
  EXPECT_TRUE(other.registrations().empty());

  ASSERT_TRUE(registry().deregister_source(receiver));
  ASSERT_TRUE(other.registry().register_source(receiver, kSecond, Interest::readable));
  ASSERT_TRUE(other.registry().deregister_source(receiver));
}

TEST_P(BookTest, DestroyingAPollReleasesItsSourcesForAnotherPoll) {
  auto [sender, receiver] = net::pipe().value();
  {
    auto first = make_poll();
    first.set_leak_handler(nullptr);
    ASSERT_TRUE(first.registry().register_source(receiver, kFirst, Interest::readable));
  }
  ASSERT_TRUE(registry().register_source(receiver, kSecond, Interest::readable));
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// A Poll's claim on a descriptor number dies with the file: when the number is reused by a new
// file, another Poll may register that file.
TEST_P(BookTest, AnotherPollsStaleClaimDoesNotBlockAReusedNumber) {
  auto other = make_poll();
  auto [old_sender, old_receiver] = net::pipe().value();
  const int number = old_receiver.as_raw_fd();
  ASSERT_TRUE(other.registry().register_source(SourceFd(number), kFirst, Interest::readable));
  auto [sender, receiver] = net::pipe().value();
  move_fd(receiver.into_raw_fd(), number);  // closes the old file without deregister
  OwnedFd reused(number);
  (void)old_receiver.into_raw_fd();  // its number now belongs to `reused`

  ASSERT_TRUE(registry().register_source(SourceFd(number), kSecond, Interest::readable));
  EXPECT_TRUE(other.registrations().empty()) << "the stale registration is retired";
  ASSERT_TRUE(registry().deregister_source(SourceFd(number)));
}

TEST_P(BookTest, ReregisterAndDeregisterOfAnUnregisteredSourceAreNotRegistered) {
  auto [sender, receiver] = net::pipe().value();
  auto reregistered = registry().reregister_source(receiver, kFirst, Interest::readable);
  ASSERT_FALSE(reregistered);
  EXPECT_EQ(reregistered.error(), Errc::not_registered);
  auto deregistered = registry().deregister_source(receiver);
  ASSERT_FALSE(deregistered);
  EXPECT_EQ(deregistered.error(), Errc::not_registered);
  EXPECT_EQ(deregistered.error(), std::errc::no_such_file_or_directory);
  EXPECT_EQ(deregistered.error().message(), "source is not registered with this Poll");
}

TEST_P(BookTest, ListsLiveRegistrationsWithTokenInterestFileAndSite) {
  auto [sender, receiver] = net::pipe().value();
  auto [local, peer] = net::UnixStream::pair().value();
  const auto site = std::source_location::current();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(local, kSecond, Interest::readable | Interest::writable));

  auto listed = poll().registrations();
  ASSERT_EQ(listed.size(), 2u);
  std::sort(listed.begin(), listed.end(),
            [](const auto& a, const auto& b) { return a.token.value < b.token.value; });
  EXPECT_EQ(listed[0].fd, receiver.as_raw_fd());
  EXPECT_EQ(listed[0].interest, Interest::readable);
  EXPECT_EQ(listed[0].file, identity_of(receiver.as_raw_fd()));
  EXPECT_EQ(listed[0].site.line(), site.line() + 1);
  EXPECT_STREQ(listed[0].site.file_name(), site.file_name());
  EXPECT_EQ(listed[1].fd, local.as_raw_fd());
  EXPECT_EQ(listed[1].interest, Interest::readable | Interest::writable);
  EXPECT_EQ(listed[1].file, identity_of(local.as_raw_fd()));
  EXPECT_EQ(listed[1].site.line(), site.line() + 2);

  ASSERT_TRUE(registry().deregister_source(receiver));
  ASSERT_EQ(poll().registrations().size(), 1u);
  ASSERT_TRUE(registry().deregister_source(local));
  EXPECT_TRUE(poll().registrations().empty());
}

// A source that wraps another registers through it: the book records the user's call, not the
// line inside the wrapper.
class Wrapper final : public Source {
 public:
  explicit Wrapper(net::UnixStream stream) : stream_(std::move(stream)) {}

 private:
  Result<void> register_source(const Registry& registry, Token token,
                               Interest interest) noexcept override {
    return registry.register_source(stream_, token, interest);
  }
  Result<void> reregister_source(const Registry& registry, Token token,
                                 Interest interest) noexcept override {
    return registry.reregister_source(stream_, token, interest);
  }
  Result<void> deregister_source(const Registry& registry) noexcept override {
    return registry.deregister_source(stream_);
  }
  net::UnixStream stream_;
};

TEST_P(BookTest, SiteOfAWrappedSourceIsTheUsersCall) {
  auto [local, peer] = net::UnixStream::pair().value();
  Wrapper wrapper(std::move(local));
  const unsigned line = std::source_location::current().line() + 1;
  ASSERT_TRUE(registry().register_source(wrapper, kFirst, Interest::readable));
  ASSERT_EQ(poll().registrations().size(), 1u);
  EXPECT_EQ(poll().registrations()[0].site.line(), line);
  ASSERT_TRUE(registry().deregister_source(wrapper));
}

TEST_P(BookTest, DestroyedPollHandsItsLiveRegistrationsToTheLeakHandler) {
  auto [sender, receiver] = net::pipe().value();
  auto [local, peer] = net::UnixStream::pair().value();
  std::vector<RegistrationInfo> leaked;
  unsigned line = 0;
  {
    auto leaky = make_poll();
    leaky.set_leak_handler([&leaked](std::span<const RegistrationInfo> live) {
      leaked.assign(live.begin(), live.end());
    });
    ASSERT_TRUE(leaky.registry().register_source(local, kFirst, Interest::readable));
    line = std::source_location::current().line() + 1;
    ASSERT_TRUE(leaky.registry().register_source(receiver, kSecond, Interest::readable));
    ASSERT_TRUE(leaky.registry().deregister_source(local));
  }
  ASSERT_EQ(leaked.size(), 1u);
  EXPECT_EQ(leaked[0].fd, receiver.as_raw_fd());
  EXPECT_EQ(leaked[0].token, kSecond);
  EXPECT_EQ(leaked[0].site.line(), line);
}

TEST_P(BookTest, DefaultLeakHandlerPrintsEachRegistrationWithItsSite) {
  auto [sender, receiver] = net::pipe().value();
  unsigned line = 0;
  ::testing::internal::CaptureStderr();
  {
    auto leaky = make_poll();
    line = std::source_location::current().line() + 1;
    ASSERT_TRUE(leaky.registry().register_source(receiver, Token{77}, Interest::readable));
  }
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(printed.find("Poll destroyed with 1 live registration(s)"), std::string::npos)
      << printed;
  EXPECT_NE(printed.find("fd " + std::to_string(receiver.as_raw_fd()) + ", token 77, READABLE"),
            std::string::npos)
      << printed;
  // Appended in place: GCC 12 misreads `"..." + std::string&&` at -O2 (-Warray-bounds).
  std::string site = "book_test.cpp:";
  site += std::to_string(line);
  EXPECT_NE(printed.find(site), std::string::npos) << printed;
}

TEST_P(BookTest, CleanPollReportsNoLeaks) {
  bool called = false;
  {
    auto clean = make_poll();
    clean.set_leak_handler([&called](std::span<const RegistrationInfo>) { called = true; });
    auto [sender, receiver] = net::pipe().value();
    ASSERT_TRUE(clean.registry().register_source(receiver, kFirst, Interest::readable));
    ASSERT_TRUE(clean.registry().deregister_source(receiver));
  }
  EXPECT_FALSE(called);
}

// A registration whose fd was closed and whose number a new file took is stale: registering the
// new file replaces it (the kernel, too, sees a different file), and the book lists only the
// new one.
TEST_P(BookTest, RegisteringAReusedNumberReplacesTheStaleEntry) {
  auto [old_sender, old_receiver] = net::pipe().value();
  const int number = old_receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(old_receiver, kFirst, Interest::readable));
  auto [sender, receiver] = net::pipe().value();
  move_fd(receiver.into_raw_fd(), number);
  (void)old_receiver.into_raw_fd();
  OwnedFd reused(number);

  ASSERT_TRUE(registry().register_source(SourceFd(number), kSecond, Interest::readable));
  auto listed = poll().registrations();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].token, kSecond);
  EXPECT_EQ(listed[0].file, identity_of(number));

  ASSERT_TRUE(sender.write("new"));
  testing::expect_events(poll(), events_, {{kSecond, testing::kReadable}});
  ASSERT_TRUE(registry().deregister_source(SourceFd(number)));
}

// A registration lost at a registry call (its descriptor closed first) is replaced when its
// number is registered again, as one found stale at the claim is: reported once, counted as
// stale, and no longer named by audits.
TEST_P(BookTest, ALostRegistrationIsReplacedWhenItsNumberIsRegisteredAgain) {
  std::vector<RegistrationInfo> reported;
  poll().set_leak_handler([&](std::span<const RegistrationInfo> lost) {
    reported.insert(reported.end(), lost.begin(), lost.end());
  });
  auto [old_sender, old_receiver] = net::pipe().value();
  const int number = old_receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(old_receiver, kFirst, Interest::readable));
  take_hold_of_registered_files();
  OwnedFd(old_receiver.into_raw_fd()).reset();
  auto deregistered = registry().deregister_source(SourceFd(number));
  ASSERT_FALSE(deregistered);
  ASSERT_TRUE(deregistered.error() == std::errc::bad_file_descriptor ||
              deregistered.error() == std::errc::no_such_file_or_directory)
      << deregistered.error().message();
  EXPECT_TRUE(reported.empty()) << "a lost registration is reported when it is replaced";

  auto [sender, receiver] = net::pipe().value();
  if (const int fresh = receiver.into_raw_fd(); fresh != number) move_fd(fresh, number);
  OwnedFd reused(number);
  ASSERT_TRUE(registry().register_source(SourceFd(number), kSecond, Interest::readable));
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].fd, number);
  EXPECT_EQ(reported[0].token, kFirst);
  EXPECT_EQ(poll().metrics().stale_registrations, 1u);
  auto audit = poll().audit();
  ASSERT_TRUE(audit) << audit.error().message();
  EXPECT_TRUE(audit->clean()) << to_string(audit->discrepancies.front());

  // Replaced once: registering the number again reports nothing more.
  ASSERT_TRUE(registry().deregister_source(SourceFd(number)));
  ASSERT_TRUE(registry().register_source(SourceFd(number), kSecond, Interest::readable));
  EXPECT_EQ(reported.size(), 1u);
  ASSERT_TRUE(registry().deregister_source(SourceFd(number)));
  poll().reset_leak_handler();
}

// Another Poll's refused deregister leaves the registration as it was, and the source's link
// to its selector with it (through which poll(2) re-arms a drained source).
TEST_P(BookTest, ADeregisterRefusedByAnotherPollLeavesTheSourceReporting) {
  auto other = make_poll();
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  auto refused = other.registry().deregister_source(receiver);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), Errc::registered_with_another_poll);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    ASSERT_TRUE(sender.write("x"));
    testing::expect_events(poll(), events_, {{kFirst, testing::kReadable}});
    std::array<std::byte, 16> buffer{};
    while (receiver.read(std::span(buffer))) {
    }
  }
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// A second Poll gives one answer for every operation on what the first one holds.
TEST_P(BookTest, ReregisterOrDeregisterThroughASecondPollIsRegisteredWithAnotherPoll) {
  auto other = make_poll();
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));

  auto reregistered = other.registry().reregister_source(receiver, kSecond, Interest::writable);
  ASSERT_FALSE(reregistered);
  EXPECT_EQ(reregistered.error(), Errc::registered_with_another_poll);
  auto deregistered = other.registry().deregister_source(receiver);
  ASSERT_FALSE(deregistered);
  EXPECT_EQ(deregistered.error(), Errc::registered_with_another_poll);
  ASSERT_EQ(poll().registrations().size(), 1u) << "the first Poll's registration is untouched";
  EXPECT_EQ(poll().registrations()[0].token, kFirst);

  // What no Poll holds is simply not registered.
  ASSERT_TRUE(registry().deregister_source(receiver));
  EXPECT_EQ(other.registry().deregister_source(receiver).error(), Errc::not_registered);
}

// Each registration names its file, in the listing and in the leak report.
TEST_P(BookTest, TheListingAndTheLeakReportNameEachRegistrationsFile) {
  std::vector<RegistrationInfo> leaked;
  std::optional<FileIdentity> file;
  auto [sender, receiver] = net::pipe().value();
  {
    auto leaky = make_poll();
    leaky.set_leak_handler([&leaked](std::span<const RegistrationInfo> live) {
      leaked.assign(live.begin(), live.end());
    });
    file = identity_of(receiver.as_raw_fd());
    ASSERT_TRUE(leaky.registry().register_source(receiver, kFirst, Interest::readable));
    const auto listed = leaky.registrations();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].file, file);
  }
  ASSERT_EQ(leaked.size(), 1u);
  EXPECT_EQ(leaked[0].file, file);
}

// No register pays for the file's identity: epoll's kernel keeps it while it holds the
// registration, a duplicate keeping the file open included, and drops both with the file;
// poll(2) and io_uring take it at registration and keep it after the close.
TEST_P(BookTest, AClosedRegistrationNamesItsFileWhereTheSelectorStillKnowsIt) {
  auto leaky = make_poll();
  leaky.set_leak_handler(nullptr);
  auto [sender, receiver] = net::pipe().value();
  const FileIdentity file = identity_of(receiver.as_raw_fd());
  ASSERT_TRUE(leaky.registry().register_source(receiver, kFirst, Interest::readable));
  OwnedFd duplicate(::dup(receiver.as_raw_fd()));
  ASSERT_GE(duplicate.get(), 0);
  { net::PipeReceiver closed = std::move(receiver); }

  auto listed = leaky.registrations();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].file, file) << "the duplicate keeps the file, and its registration, alive";

  duplicate = OwnedFd();  // the file's last descriptor
  listed = leaky.registrations();
  ASSERT_EQ(listed.size(), 1u);
  if (GetParam() == Backend::epoll) {
    EXPECT_EQ(listed[0].file, std::nullopt) << "the kernel dropped the registration with its file";
  } else {
    EXPECT_EQ(listed[0].file, file);
  }
}

// An empty handler silences the report; reset_leak_handler brings the default back.
TEST_P(BookTest, ResetLeakHandlerRestoresTheDefaultReport) {
  auto [sender, receiver] = net::pipe().value();
  ::testing::internal::CaptureStderr();
  {
    auto leaky = make_poll();
    leaky.set_leak_handler(nullptr);
    leaky.reset_leak_handler();
    ASSERT_TRUE(leaky.registry().register_source(receiver, Token{77}, Interest::readable));
  }
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(printed.find("Poll destroyed with 1 live registration(s)"), std::string::npos)
      << printed;
  EXPECT_NE(printed.find("token 77"), std::string::npos) << printed;
}

// A remaining difference, stated in the README: epoll watches the open file, which died with
// its last descriptor; poll(2) watches the number, and reports the file that took it under the
// stale registration's token until that registration is replaced or deregistered. io_uring's
// request was still queued, and the next poll does not make it on the file that took the number.
TEST_P(BookTest, AReusedNumberLeftRegisteredIsWatchedOnlyByPoll2) {
  auto [old_sender, old_receiver] = net::pipe().value();
  const int number = old_receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(old_receiver, kFirst, Interest::readable));
  auto [sender, receiver] = net::pipe().value();
  move_fd(receiver.into_raw_fd(), number);  // closes the old file's only descriptor
  (void)old_receiver.into_raw_fd();
  OwnedFd reused(number);

  ASSERT_TRUE(sender.write("new"));
  if (GetParam() != Backend::poll) {
    testing::expect_no_events(poll(), events_);
  } else {
    testing::expect_events(poll(), events_, {{kFirst, testing::kReadable}});
  }
  auto deregistered = registry().deregister_source(SourceFd(number));
  ASSERT_FALSE(deregistered);
  EXPECT_EQ(deregistered.error(), std::errc::no_such_file_or_directory);
  EXPECT_TRUE(poll().registrations().empty());
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(BookTest);

}  // namespace
}  // namespace libpoll

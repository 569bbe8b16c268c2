// The audit and the leak report on shapes a user hits: a source moved while registered, a
// reregister under a new token beside the Poll's Waker, a forked child's audit, and a Poll
// destroyed after a deregister that failed.

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "libpoll/libpoll.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using testing::PollTest;

class AuditShapeTest : public PollTest {
 protected:
  AuditReport audit() {
    auto report = poll().audit();
    EXPECT_TRUE(report) << report.error().message();
    return report ? *report : AuditReport{};
  }
  // Collects what a Poll's leak handler hears.
  LeakHandler collect() {
    return [this](std::span<const RegistrationInfo> list) {
      heard_.insert(heard_.end(), list.begin(), list.end());
    };
  }

  std::vector<RegistrationInfo> heard_;
};

std::string describe(const AuditReport& report) {
  std::string text;
  for (const auto& found : report.discrepancies) text += to_string(found) + "\n";
  return text;
}

// A source moved while registered keeps its descriptor: the registration is the moved-to
// object's, its events arrive, and its deregister leaves nothing to report.
TEST_P(AuditShapeTest, ASourceMovedWhileRegisteredAuditsClean) {
  poll().set_leak_handler(collect());
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, Token{1}, Interest::readable));
  take_hold_of_registered_files();
  net::PipeReceiver moved = std::move(receiver);
  auto report = audit();
  EXPECT_TRUE(report.clean()) << describe(report);
  ASSERT_TRUE(sender.write("x"));
  ASSERT_TRUE(poll().poll(events_, std::chrono::seconds(5)));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_.begin()->token(), Token{1});
  ASSERT_TRUE(registry().deregister_source(moved));
  report = audit();
  EXPECT_TRUE(report.clean()) << describe(report);
  EXPECT_TRUE(heard_.empty());
}

// A reregister under a new token, beside the Poll's Waker (checked, never counted), before and
// after a poll: nothing drifts.
TEST_P(AuditShapeTest, ANewTokenBesideTheWakerAuditsClean) {
  auto waker = Waker::create(registry(), Token{99}).value();
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, Token{1}, Interest::readable));
  ASSERT_TRUE(registry().reregister_source(receiver, Token{2}, Interest::readable));
  for (int round = 0; round < 2; ++round) {
    const auto report = audit();
    EXPECT_TRUE(report.clean()) << describe(report);
    EXPECT_EQ(report.kernel_registrations, 1u);
    EXPECT_EQ(report.book_registrations, 1u);
    ASSERT_TRUE(waker.wake());
    ASSERT_TRUE(poll().poll(events_, std::chrono::seconds(5)));
  }
  ASSERT_TRUE(registry().reregister_source(receiver, Token{3}, Interest::writable));
  const auto report = audit();
  EXPECT_TRUE(report.clean()) << describe(report);
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// A forked child audits the Poll it inherited: the same book, the same (shared) registrations.
TEST_P(AuditShapeTest, AForkedChildsAuditOfItsInheritedPollIsClean) {
  auto waker = Waker::create(registry(), Token{99}).value();
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, Token{1}, Interest::readable));
  take_hold_of_registered_files();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const auto report = poll().audit();
    if (report && !report->clean()) std::fputs(describe(*report).c_str(), stderr);
    ::_exit(!report ? 2 : report->clean() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  const auto report = audit();
  EXPECT_TRUE(report.clean()) << describe(report);
  ASSERT_TRUE(registry().deregister_source(receiver));
}

// Closed before deregister, then a deregister that failed (EBADF): the book let the
// registration go, and the audits name it vanished. The Poll's death hands it to the leak
// handler, as it would have had the deregister never been tried.
TEST_P(AuditShapeTest, AFailedDeregisterIsReportedWhenThePollIsDestroyed) {
  for (const bool tried_to_deregister : {false, true}) {
    heard_.clear();
    int fd = -1;
    {
      auto other = Poll::create(GetParam()).value();
      other.set_leak_handler(collect());
      auto [sender, receiver] = net::pipe().value();
      fd = receiver.as_raw_fd();
      ASSERT_TRUE(other.registry().register_source(receiver, Token{7}, Interest::readable));
      { net::PipeReceiver closed = std::move(receiver); }
      if (tried_to_deregister) {
        ASSERT_FALSE(other.registry().deregister_source(SourceFd(fd)));
        EXPECT_TRUE(other.registrations().empty());
      }
      EXPECT_EQ(other.audit().value().count(DiscrepancyKind::vanished), 1u);
    }
    ASSERT_EQ(heard_.size(), 1u) << "deregister tried: " << tried_to_deregister;
    EXPECT_EQ(heard_[0].fd, fd);
    EXPECT_EQ(heard_[0].token, Token{7});
  }
}

}  // namespace

LIBPOLL_INSTANTIATE_FOR_BACKENDS(AuditShapeTest);

}  // namespace libpoll

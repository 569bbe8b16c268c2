// Poll::audit: each discrepancy class, created for real and asserted exactly.

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <source_location>

#include "libpoll/libpoll.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using testing::PollTest;

constexpr Token kFirst{1};
constexpr Token kSecond{2};

class AuditTest : public PollTest {
 protected:
  AuditReport audit() {
    auto report = poll().audit();
    EXPECT_TRUE(report) << report.error().message();
    return report ? *report : AuditReport{};
  }
  bool epoll() const { return GetParam() == Backend::epoll; }
};

std::vector<DiscrepancyKind> kinds_of(const AuditReport& report) {
  std::vector<DiscrepancyKind> kinds;
  for (const auto& found : report.discrepancies) kinds.push_back(found.kind);
  std::sort(kinds.begin(), kinds.end());
  return kinds;
}

std::string describe(const AuditReport& report) {
  std::string text;
  for (const auto& found : report.discrepancies) text += to_string(found) + "\n";
  return text;
}

// Puts a fresh pipe's read end on descriptor number `number` (closing what was there); returns
// the pipe's write end.
OwnedFd reuse_number_for_a_new_pipe(int number) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  EXPECT_EQ(::dup3(fds[0], number, O_CLOEXEC), number);
  ::close(fds[0]);
  return OwnedFd(fds[1]);
}

TEST_P(AuditTest, AWellKeptBookAuditsClean) {
  auto [sender, receiver] = net::pipe().value();
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(local, kSecond, Interest::readable | Interest::writable));
  ASSERT_TRUE(registry().reregister_source(local, kSecond, Interest::writable));

  const auto report = audit();
  EXPECT_TRUE(report.clean()) << describe(report);
  EXPECT_EQ(report.kernel_registrations, 2u);
  EXPECT_EQ(report.book_registrations, 2u);
  EXPECT_EQ(report.backend, GetParam());
  ASSERT_TRUE(registry().deregister_source(receiver));
  ASSERT_TRUE(registry().deregister_source(local));
  EXPECT_TRUE(audit().clean());
}

// Closing a source's only descriptor before deregistering: the kernel drops the registration
// with the file, the book still has it.
TEST_P(AuditTest, CloseBeforeDeregisterIsVanished) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  const unsigned line = std::source_location::current().line() + 1;
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  { net::PipeReceiver closed = std::move(receiver); }

  const auto report = audit();
  ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::vanished}) << describe(report);
  const auto& found = report.discrepancies[0];
  EXPECT_EQ(found.fd, fd);
  EXPECT_EQ(found.token, kFirst);
  EXPECT_EQ(found.interest, Interest::readable);
  ASSERT_TRUE(found.site);
  EXPECT_EQ(found.site->line(), line);
  poll().set_leak_handler(nullptr);  // the vanished registration is still in the book
}

// Trying to deregister after the close fails as epoll fails (EBADF), on both backends, and the
// audit still names the registration that was lost.
TEST_P(AuditTest, DeregisterAfterCloseFailsAndTheRegistrationIsVanished) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  { net::PipeReceiver closed = std::move(receiver); }
  auto deregistered = registry().deregister_source(SourceFd(fd));
  ASSERT_FALSE(deregistered);
  EXPECT_EQ(deregistered.error(), std::errc::bad_file_descriptor);
  EXPECT_TRUE(poll().registrations().empty());

  const auto report = audit();
  ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::vanished}) << describe(report);
  EXPECT_EQ(report.discrepancies[0].fd, fd);
  EXPECT_EQ(report.discrepancies[0].token, kFirst);
  EXPECT_TRUE(report.discrepancies[0].site);
}

// dup() then close: epoll keeps watching the file through the duplicate, under a number that
// is closed: a zombie. The poll(2) backend classes it the same way, by finding the file still
// open under another number.
TEST_P(AuditTest, DupThenCloseIsAZombie) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  OwnedFd duplicate(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(duplicate.is_valid());
  { net::PipeReceiver closed = std::move(receiver); }

  const auto report = audit();
  ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::zombie}) << describe(report);
  EXPECT_EQ(report.discrepancies[0].fd, fd);
  EXPECT_EQ(report.discrepancies[0].token, kFirst);
  EXPECT_TRUE(report.discrepancies[0].site);
  poll().set_leak_handler(nullptr);
}

// The registered number now refers to another file, while the old file lives on: the
// registration points at a file the number no longer names, on both backends.
TEST_P(AuditTest, NumberReusedByAnotherFileIsAZombie) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  OwnedFd duplicate(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  auto other_writer = reuse_number_for_a_new_pipe(fd);
  OwnedFd reused(receiver.into_raw_fd());

  const auto report = audit();
  ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::zombie}) << describe(report);
  EXPECT_EQ(report.discrepancies[0].fd, fd);
  EXPECT_EQ(report.discrepancies[0].token, kFirst);
  EXPECT_NE(report.discrepancies[0].detail.find("another file"), std::string::npos);
  poll().set_leak_handler(nullptr);
}

// Registering the new file on the reused number: on epoll the kernel now holds the zombie and
// the new registration under one number; on poll(2) the old registration was replaced and is
// reported as vanished.
TEST_P(AuditTest, ReRegisteredReusedNumberShowsTheZombieBesideTheNewRegistration) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  OwnedFd duplicate(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  auto other_writer = reuse_number_for_a_new_pipe(fd);
  OwnedFd reused(receiver.into_raw_fd());
  ASSERT_TRUE(registry().register_source(SourceFd(fd), kSecond, Interest::readable));

  const auto report = audit();
  if (epoll()) {
    ASSERT_EQ(kinds_of(report),
              (std::vector{DiscrepancyKind::zombie, DiscrepancyKind::duplicate_target,
                           DiscrepancyKind::duplicate_target}))
        << describe(report);
    const auto zombie =
        std::find_if(report.discrepancies.begin(), report.discrepancies.end(),
                     [](const auto& d) { return d.kind == DiscrepancyKind::zombie; });
    EXPECT_EQ(zombie->token, kFirst);
    EXPECT_TRUE(zombie->site) << "the retired book entry still names the registration site";
  } else {
    ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::vanished}) << describe(report);
    EXPECT_EQ(report.discrepancies[0].token, kFirst);
  }
  ASSERT_TRUE(registry().deregister_source(SourceFd(fd)));
}

// A registration the book never saw: made directly on the epoll descriptor.
TEST_P(AuditTest, RegistrationBehindTheBooksBackIsLeaked) {
  if (!epoll()) {
    EXPECT_EQ(poll().as_raw_fd(), -1) << "poll(2) has no kernel object to register behind";
    return;
  }
  auto [sender, receiver] = net::pipe().value();
  epoll_event event{};
  event.events = EPOLLIN | EPOLLET;
  event.data.u64 = 77;
  ASSERT_EQ(::epoll_ctl(poll().as_raw_fd(), EPOLL_CTL_ADD, receiver.as_raw_fd(), &event), 0);

  const auto report = audit();
  ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::leaked}) << describe(report);
  EXPECT_EQ(report.discrepancies[0].fd, receiver.as_raw_fd());
  EXPECT_EQ(report.discrepancies[0].token, Token{77});
  EXPECT_EQ(report.discrepancies[0].kernel_interest, Interest::readable);
  EXPECT_FALSE(report.discrepancies[0].site);
  ASSERT_EQ(::epoll_ctl(poll().as_raw_fd(), EPOLL_CTL_DEL, receiver.as_raw_fd(), &event), 0);
}

// fork(): the child shares the epoll instance. What the child registers, the parent's book
// never knew.
TEST_P(AuditTest, RegistrationByAForkedChildIsLeakedInTheParent) {
  if (!epoll()) GTEST_SKIP() << "a poll(2) table is private to its process";
  auto [sender, receiver] = net::pipe().value();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    poll().set_leak_handler(nullptr);
    const bool registered =
        static_cast<bool>(registry().register_source(receiver, Token{9}, Interest::readable));
    ::_exit(registered ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  const auto report = audit();
  ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::leaked}) << describe(report);
  EXPECT_EQ(report.discrepancies[0].token, Token{9});
  epoll_event unused{};
  ASSERT_EQ(::epoll_ctl(poll().as_raw_fd(), EPOLL_CTL_DEL, receiver.as_raw_fd(), &unused), 0);
}

TEST_P(AuditTest, KernelInterestDifferentFromTheBooksIsDrift) {
  if (!epoll()) GTEST_SKIP() << "only the kernel's copy can drift from the book";
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  epoll_event event{};
  event.events = EPOLLOUT | EPOLLET;
  event.data.u64 = kFirst.value;
  ASSERT_EQ(::epoll_ctl(poll().as_raw_fd(), EPOLL_CTL_MOD, local.as_raw_fd(), &event), 0);

  const auto report = audit();
  ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::interest_drift}) << describe(report);
  EXPECT_EQ(report.discrepancies[0].interest, Interest::readable);
  EXPECT_EQ(report.discrepancies[0].kernel_interest, Interest::writable);
  ASSERT_TRUE(registry().deregister_source(local));
}

TEST_P(AuditTest, TwoRegistrationsWithOneTokenCollide) {
  auto [sender, receiver] = net::pipe().value();
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));

  const auto report = audit();
  ASSERT_EQ(kinds_of(report),
            (std::vector{DiscrepancyKind::token_collision, DiscrepancyKind::token_collision}))
      << describe(report);
  std::vector<int> fds = {report.discrepancies[0].fd, report.discrepancies[1].fd};
  std::sort(fds.begin(), fds.end());
  EXPECT_EQ(fds, (std::vector{std::min(receiver.as_raw_fd(), local.as_raw_fd()),
                              std::max(receiver.as_raw_fd(), local.as_raw_fd())}));
  ASSERT_TRUE(registry().deregister_source(receiver));
  ASSERT_TRUE(registry().deregister_source(local));
}

// A dup()'d descriptor registered beside the original: two registrations of one open file.
TEST_P(AuditTest, RegisteringADuplicateDescriptorIsADuplicateTarget) {
  auto [sender, receiver] = net::pipe().value();
  OwnedFd duplicate(::fcntl(receiver.as_raw_fd(), F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(SourceFd(duplicate.get()), kSecond, Interest::readable));

  const auto report = audit();
  ASSERT_EQ(kinds_of(report),
            (std::vector{DiscrepancyKind::duplicate_target, DiscrepancyKind::duplicate_target}))
      << describe(report);
  EXPECT_NE(report.discrepancies[0].detail.find("same open file"), std::string::npos);
  ASSERT_TRUE(registry().deregister_source(receiver));
  ASSERT_TRUE(registry().deregister_source(SourceFd(duplicate.get())));
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(AuditTest);

TEST(DiscrepancyTest, PrintsKindFdTokenInterestSiteAndDetail) {
  const auto site = std::source_location::current();
  const Discrepancy found{.kind = DiscrepancyKind::zombie,
                          .fd = 7,
                          .token = Token{3},
                          .interest = Interest::readable,
                          .kernel_interest = Interest::readable,
                          .site = site,
                          .detail = "the descriptor number now refers to another file"};
  EXPECT_EQ(to_string(found), "zombie: fd 7, token 3, READABLE (registered at " + to_string(site) +
                                  "): the descriptor number now refers to another file");
}

}  // namespace
}  // namespace libpoll

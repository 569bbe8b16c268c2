// Poll::audit: each discrepancy class, created for real and asserted exactly.

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <source_location>
#include <vector>

#include "audit_files.hpp"
#include "audit_join.hpp"
#include "libpoll/libpoll.hpp"
#include "support/poll_fixture.hpp"
#include "sys/open_file.hpp"
#include "sys/selector.hpp"

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
  void expect_zombie_under_a_reused_number(bool polled_first);
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

// Registers a pipe's read end (and polls once, if `polled_first`), keeps a duplicate, puts
// another file on its number: the audit names a zombie under a number that names another file.
void AuditTest::expect_zombie_under_a_reused_number(bool polled_first) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  if (polled_first) take_hold_of_registered_files();
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

// Bits without a name are spelled in hexadecimal, as their prefix says.
TEST(AuditMaskText, NamesKnownBitsAndWritesTheRestInHex) {
  EXPECT_EQ(detail::mask_to_string(0), "0");
  EXPECT_EQ(detail::mask_to_string(detail::readiness::in | detail::readiness::out), "IN|OUT");
  EXPECT_EQ(detail::mask_to_string(0x400), "0x400");
  EXPECT_EQ(detail::mask_to_string(detail::readiness::in | 0x800), "IN|0x800");
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

// A registration closed without deregister, whose number a new file took and was registered
// again: the book replaces the stale entry and reports it once (leak handler, counter), and
// every later audit is clean: a server that audits periodically can be clean again.
TEST_P(AuditTest, ReplacedStaleRegistrationIsReportedOnceThenForgotten) {
  std::vector<RegistrationInfo> lost;
  poll().set_leak_handler([&lost](std::span<const RegistrationInfo> registrations) {
    lost.insert(lost.end(), registrations.begin(), registrations.end());
  });
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  const unsigned line = std::source_location::current().line() + 1;
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  const auto old_identity = poll().registrations().at(0).file;
  auto writer = reuse_number_for_a_new_pipe(fd);  // closes the old file's only descriptor
  OwnedFd reused(receiver.into_raw_fd());
  ASSERT_TRUE(registry().register_source(SourceFd(fd), kSecond, Interest::readable));

  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].fd, fd);
  EXPECT_EQ(lost[0].token, kFirst);
  EXPECT_EQ(lost[0].site.line(), line);
  ASSERT_TRUE(old_identity.has_value());
  // epoll's kernel dropped the registration, and the file's identity, with the file; poll(2)
  // and io_uring took it at registration.
  EXPECT_EQ(lost[0].file, GetParam() == Backend::epoll ? std::nullopt : old_identity);
  EXPECT_EQ(poll().metrics().stale_registrations, 1u);
  for (int audits = 0; audits < 2; ++audits) {
    const auto report = audit();
    EXPECT_TRUE(report.clean()) << describe(report);
    EXPECT_EQ(report.book_registrations, 1u);
  }
  EXPECT_EQ(lost.size(), 1u) << "reported once";
  ASSERT_TRUE(registry().deregister_source(SourceFd(fd)));
}

// dup() then close: epoll keeps watching the file through the duplicate, under a number that
// is closed: a zombie. The poll(2) backend classes it the same way, by finding the file still
// open under another number.
TEST_P(AuditTest, DupThenCloseIsAZombie) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  take_hold_of_registered_files();
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
// registration points at a file the number no longer names, on every backend.
TEST_P(AuditTest, NumberReusedByAnotherFileIsAZombie) {
  expect_zombie_under_a_reused_number(true);
}

// The same before any poll: io_uring's request never reached the ring, yet the file lives on.
TEST_P(AuditTest, NumberReusedBeforeAnyPollIsAZombie) {
  expect_zombie_under_a_reused_number(false);
}

// dup() then close before any poll: on io_uring the registration's request was still queued, so
// it never reached the ring (the next poll does not make it on a closed number), yet the file
// lives on through the duplicate as it does on the other backends: a zombie everywhere, before
// and after that poll. io_uring says its request never reached the ring.
TEST_P(AuditTest, DupThenCloseBeforeAnyPollIsAZombie) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  OwnedFd duplicate(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(duplicate.is_valid());
  { net::PipeReceiver closed = std::move(receiver); }

  for (int polls = 0; polls < 2; ++polls) {
    const auto report = audit();
    ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::zombie}) << describe(report);
    const auto& found = report.discrepancies[0];
    EXPECT_EQ(found.fd, fd);
    EXPECT_EQ(found.token, kFirst);
    EXPECT_EQ(found.interest, Interest::readable);
    EXPECT_TRUE(found.site);
    const bool never_reached = found.detail.find("never reached the ring") != std::string::npos;
    EXPECT_EQ(never_reached, GetParam() == Backend::io_uring) << found.detail;
    EXPECT_EQ(report.book_registrations, 1u);
    ASSERT_TRUE(poll().poll(events_, std::chrono::milliseconds(0)));
  }
  poll().set_leak_handler(nullptr);
}

// Closed before any poll with no duplicate, its number then reused: the old file is gone, so
// nothing can watch it (io_uring never made the request): vanished, as epoll's kernel dropped it.
// poll(2) watches the number, which names a file now: a zombie there.
TEST_P(AuditTest, ClosedThenReusedBeforeAnyPollIsVanishedWhereTheFileIsWatched) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  auto other_writer = reuse_number_for_a_new_pipe(fd);  // closes the old file's only descriptor
  OwnedFd reused(receiver.into_raw_fd());

  const auto report = audit();
  const auto expected =
      GetParam() == Backend::poll ? DiscrepancyKind::zombie : DiscrepancyKind::vanished;
  ASSERT_EQ(kinds_of(report), std::vector{expected}) << describe(report);
  EXPECT_EQ(report.discrepancies[0].fd, fd);
  EXPECT_EQ(report.discrepancies[0].token, kFirst);
  EXPECT_EQ(report.kernel_registrations, GetParam() == Backend::poll ? 1u : 0u);
  poll().set_leak_handler(nullptr);
}

// Registering the new file on the reused number: on epoll the kernel now holds the zombie and
// the new registration under one number; on poll(2) the old registration was replaced.
TEST_P(AuditTest, ReRegisteredReusedNumberShowsTheZombieBesideTheNewRegistration) {
  auto [sender, receiver] = net::pipe().value();
  const int fd = receiver.as_raw_fd();
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  OwnedFd duplicate(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  auto other_writer = reuse_number_for_a_new_pipe(fd);
  OwnedFd reused(receiver.into_raw_fd());
  poll().set_leak_handler(nullptr);  // the replaced registration is reported there, once
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
    // poll(2) replaced the old entry: nothing watches the old file any more. The book reported
    // the replaced registration once, to the leak handler.
    EXPECT_TRUE(report.clean()) << describe(report);
  }
  EXPECT_EQ(poll().metrics().stale_registrations, 1u);
  ASSERT_TRUE(registry().deregister_source(SourceFd(fd)));
}

// A registration closed without deregister whose number another Poll of the process registers
// again: that Poll's book retires the stale claim. Every backend's audit still names it; where
// the backend watches numbers (poll(2), io_uring), from the book's own record.
class TakenNumberAuditTest : public AuditTest {
 protected:
  // Registers one end of a socket pair with `owner`, optionally duplicates it, closes it without
  // deregister, puts a new file on its number and registers that with the fixture's Poll.
  void close_and_let_another_poll_take_the_number(Poll& owner, bool keep_a_duplicate) {
    auto [local, peer] = net::UnixStream::pair().value();
    number_ = local.as_raw_fd();
    ASSERT_TRUE(owner.registry().register_source(local, kFirst, Interest::readable));
    Events events(8);
    ASSERT_TRUE(owner.poll(events, std::chrono::milliseconds(0)));  // io_uring binds the file
    if (keep_a_duplicate) duplicate_ = OwnedFd(::fcntl(number_, F_DUPFD_CLOEXEC, 0));
    auto [new_local, new_peer] = net::UnixStream::pair().value();
    ASSERT_EQ(::dup3(new_local.as_raw_fd(), number_, O_CLOEXEC), number_);  // closes `local`'s
    (void)local.into_raw_fd();  // its number now belongs to `reused_`
    reused_ = OwnedFd(number_);
    new_peer_ = std::move(new_peer);
    ASSERT_TRUE(registry().register_source(SourceFd(number_), kSecond, Interest::readable));
    EXPECT_TRUE(owner.registrations().empty()) << "the stale claim is retired";
    EXPECT_EQ(owner.metrics().stale_registrations, 1u);
  }
  void TearDown() override {
    if (reused_.is_valid()) {
      EXPECT_TRUE(registry().deregister_source(SourceFd(number_)));
    }
    reused_.reset();
    duplicate_.reset();
    new_peer_.reset();
    AuditTest::TearDown();
  }

  int number_ = -1;
  OwnedFd duplicate_;
  OwnedFd reused_;
  std::optional<net::UnixStream> new_peer_;
};

TEST_P(TakenNumberAuditTest, ClosedThenTakenIsVanishedOnEveryBackend) {
  auto owner = Poll::create(GetParam()).value();
  owner.set_leak_handler(nullptr);
  close_and_let_another_poll_take_the_number(owner, false);

  for (int audits = 0; audits < 2; ++audits) {
    const auto report = owner.audit().value();
    ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::vanished}) << describe(report);
    EXPECT_EQ(report.discrepancies[0].fd, number_);
    EXPECT_EQ(report.discrepancies[0].token, kFirst);
    EXPECT_TRUE(report.discrepancies[0].site);
    EXPECT_NE(report.discrepancies[0].detail.find("another Poll"), std::string::npos)
        << describe(report);
  }
  EXPECT_TRUE(audit().clean()) << "the Poll that took the number holds it rightly";
}

TEST_P(TakenNumberAuditTest, DupThenCloseThenTakenIsAZombieOnEveryBackend) {
  auto owner = Poll::create(GetParam()).value();
  owner.set_leak_handler(nullptr);
  close_and_let_another_poll_take_the_number(owner, true);

  const auto report = owner.audit().value();
  ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::zombie}) << describe(report);
  EXPECT_EQ(report.discrepancies[0].fd, number_);
  EXPECT_EQ(report.discrepancies[0].token, kFirst);
  EXPECT_TRUE(report.discrepancies[0].site);
}

// A registration the book never saw: made directly on the epoll descriptor.
TEST_P(AuditTest, RegistrationBehindTheBooksBackIsLeaked) {
  if (GetParam() == Backend::io_uring) {
    GTEST_SKIP() << "the kernel shows no file of an io_uring poll request (its fdinfo lists "
                    "requests by opcode): a request made behind the book's back is invisible";
  }
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
  if (GetParam() == Backend::io_uring) {
    GTEST_SKIP() << "a request the child submits on the shared ring names no file the parent's "
                    "audit can see (io_uring's fdinfo lists requests by opcode)";
  }
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

// Files that share an inode without being one open file: both ends of a pipe share the pipe's
// inode, and every eventfd, timerfd and signalfd shares the anonymous inode. A correct program
// registering them all audits clean.
TEST_P(AuditTest, PipeEndsEventfdsTimerfdsAndSignalfdsAreNoDuplicates) {
  auto [sender, receiver] = net::pipe().value();
  std::vector<OwnedFd> anonymous;
  for (int i = 0; i < 3; ++i) anonymous.emplace_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  for (int i = 0; i < 2; ++i) {
    anonymous.emplace_back(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGUSR2);
  anonymous.emplace_back(::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(sender, kSecond, Interest::writable));
  std::size_t next = 10;
  for (const OwnedFd& fd : anonymous) {
    ASSERT_TRUE(fd.is_valid());
    ASSERT_TRUE(registry().register_source(SourceFd(fd.get()), Token{next++}, Interest::readable));
  }

  const auto report = audit();
  EXPECT_TRUE(report.clean()) << describe(report);
  EXPECT_EQ(report.book_registrations, 2 + anonymous.size());
  EXPECT_EQ(report.kernel_registrations, 2 + anonymous.size());
  ASSERT_TRUE(registry().deregister_source(receiver));
  ASSERT_TRUE(registry().deregister_source(sender));
  for (const OwnedFd& fd : anonymous) ASSERT_TRUE(registry().deregister_source(SourceFd(fd.get())));
}

// A dup()'d eventfd registered twice is one open file under two numbers. Only kcmp can tell it
// from two eventfds (they share the anonymous inode); without it the audit stays silent rather
// than guess.
TEST_P(AuditTest, DuplicatedEventfdRegisteredTwiceIsADuplicateTarget) {
  const OwnedFd counter(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  const OwnedFd duplicate(::fcntl(counter.get(), F_DUPFD_CLOEXEC, 0));
  const OwnedFd other(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!sys::compare_open_files(counter.get(), duplicate.get())) {
    GTEST_SKIP() << "kcmp(2) is unavailable here (a seccomp filter?): anonymous inodes cannot be "
                    "told apart";
  }
  ASSERT_TRUE(registry().register_source(SourceFd(counter.get()), kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(SourceFd(duplicate.get()), kSecond, Interest::readable));
  ASSERT_TRUE(registry().register_source(SourceFd(other.get()), Token{3}, Interest::readable));

  const auto report = audit();
  ASSERT_EQ(kinds_of(report),
            (std::vector{DiscrepancyKind::duplicate_target, DiscrepancyKind::duplicate_target}))
      << describe(report);
  std::vector<int> fds = {report.discrepancies[0].fd, report.discrepancies[1].fd};
  std::sort(fds.begin(), fds.end());
  EXPECT_EQ(fds, (std::vector{counter.get(), duplicate.get()}));
  ASSERT_TRUE(registry().deregister_source(SourceFd(counter.get())));
  ASSERT_TRUE(registry().deregister_source(SourceFd(duplicate.get())));
  ASSERT_TRUE(registry().deregister_source(SourceFd(other.get())));
}

// Where kcmp is refused (a container's seccomp filter), the audit falls back to device, inode
// and access mode: still no false duplicates among pipe ends and anonymous-inode files, still
// the dup()'d pipe end; a dup()'d eventfd is then beyond what it can tell.
TEST_P(AuditTest, WithoutKcmpTheAuditFallsBackWithoutFalseDuplicates) {
  struct KcmpRefused {
    KcmpRefused() { sys::pretend_kcmp_is_refused(true); }
    ~KcmpRefused() { sys::pretend_kcmp_is_refused(false); }
  } refused;
  auto [sender, receiver] = net::pipe().value();
  const OwnedFd duplicate(::fcntl(receiver.as_raw_fd(), F_DUPFD_CLOEXEC, 0));
  const OwnedFd first(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  const OwnedFd second(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  const OwnedFd first_again(::fcntl(first.get(), F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(registry().register_source(receiver, kFirst, Interest::readable));
  ASSERT_TRUE(registry().register_source(sender, kSecond, Interest::writable));
  ASSERT_TRUE(registry().register_source(SourceFd(first.get()), Token{3}, Interest::readable));
  ASSERT_TRUE(registry().register_source(SourceFd(second.get()), Token{4}, Interest::readable));
  ASSERT_TRUE(
      registry().register_source(SourceFd(first_again.get()), Token{5}, Interest::readable));
  EXPECT_TRUE(audit().clean()) << describe(audit());

  ASSERT_TRUE(registry().register_source(SourceFd(duplicate.get()), Token{6}, Interest::readable));
  const auto report = audit();
  ASSERT_EQ(kinds_of(report),
            (std::vector{DiscrepancyKind::duplicate_target, DiscrepancyKind::duplicate_target}))
      << describe(report);
  std::vector<int> fds = {report.discrepancies[0].fd, report.discrepancies[1].fd};
  std::sort(fds.begin(), fds.end());
  EXPECT_EQ(fds, (std::vector{std::min(receiver.as_raw_fd(), duplicate.get()),
                              std::max(receiver.as_raw_fd(), duplicate.get())}));
  for (int fd : {receiver.as_raw_fd(), sender.as_raw_fd(), first.get(), second.get(),
                 first_again.get(), duplicate.get()}) {
    ASSERT_TRUE(registry().deregister_source(SourceFd(fd)));
  }
}

// A raw EPOLL_CTL_MOD that keeps the readiness kinds but drops EPOLLET (the entry becomes
// level-triggered) or EPOLLRDHUP (half-closes go unseen) is drift too.
TEST_P(AuditTest, RawModThatDropsEdgeTriggeringOrReadClosedIsDrift) {
  if (!epoll()) GTEST_SKIP() << "only the kernel's copy can drift from the book";
  auto [local, peer] = net::UnixStream::pair().value();
  ASSERT_TRUE(registry().register_source(local, kFirst, Interest::readable));
  ASSERT_TRUE(audit().clean());
  const std::uint32_t masks[] = {static_cast<std::uint32_t>(EPOLLIN | EPOLLRDHUP),
                                 static_cast<std::uint32_t>(EPOLLIN) | EPOLLET};
  for (const std::uint32_t mask : masks) {
    epoll_event event{};
    event.events = mask;
    event.data.u64 = kFirst.value;
    ASSERT_EQ(::epoll_ctl(poll().as_raw_fd(), EPOLL_CTL_MOD, local.as_raw_fd(), &event), 0);

    const auto report = audit();
    ASSERT_EQ(kinds_of(report), std::vector{DiscrepancyKind::interest_drift}) << describe(report);
    EXPECT_EQ(report.discrepancies[0].interest, Interest::readable);
    EXPECT_EQ(report.discrepancies[0].kernel_interest, Interest::readable);
    const std::string& detail = report.discrepancies[0].detail;
    const std::string kernel_mask = (mask & EPOLLET) != 0 ? "(IN|ET)" : "(IN|RDHUP)";
    EXPECT_NE(detail.find("the kernel watches READABLE " + kernel_mask), std::string::npos)
        << detail;
    EXPECT_NE(detail.find("the book READABLE (IN|RDHUP|ET)"), std::string::npos) << detail;
  }
  ASSERT_TRUE(registry().reregister_source(local, kFirst, Interest::readable));
  EXPECT_TRUE(audit().clean());
  ASSERT_TRUE(registry().deregister_source(local));
}

// How many more descriptors this process may open, after raising its soft limit toward
// `wanted` (never beyond the hard limit, which a container may hold at 1,024).
std::size_t descriptors_available(std::size_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < wanted && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, wanted);
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) (void)::getrlimit(RLIMIT_NOFILE, &limit);
  }
  const std::size_t open = testing::count_open_fds() + 64;  // room for the test's own needs
  return limit.rlim_cur > open ? limit.rlim_cur - open : 0;
}

double n_log_n(std::size_t n) {
  return static_cast<double>(n) * std::log2(static_cast<double>(n));
}

// 10,000 book records against 10,000 kernel registrations (synthetic: under numbers no
// process has open, so that no descriptor limit applies): the join costs n log n record
// comparisons, where comparing each registration with every record would cost 50 million.
TEST_P(AuditTest, AuditJoinOfTenThousandRegistrationsCostsNLogN) {
  constexpr std::size_t n = 10'000;
  auto selector = sys::make_selector(GetParam()).value();
  std::vector<detail::BookRecord> live;
  std::vector<detail::BookRecord> retired;
  std::vector<KernelRegistration> held;
  for (std::size_t i = 0; i < n; ++i) {
    const int fd = 1'000'000 + static_cast<int>(i);
    live.push_back({fd, Token{i}, Interest::readable, {}, false});
    if (i % 10 == 0) retired.push_back({fd, Token{n + i}, Interest::readable, {}, false});
    held.push_back(KernelRegistration{.target_fd = fd,
                                      .events = selector->mask_for(Interest::readable),
                                      .data = i,
                                      .position = std::nullopt,
                                      .inode = i + 1,
                                      .device = 1,
                                      .access_mode = std::nullopt});
  }
  detail::AuditCost cost;
  const auto report = detail::audit_registrations(*selector, live, retired, held, &cost);
  // Every number is closed: epoll would still hold such files only through a duplicate; the
  // retired records the kernel does not hold are vanished.
  EXPECT_EQ(report.discrepancies.size(), n + n / 10);
  // On io_uring each listed request holds its file open: a zombie, as on epoll.
  EXPECT_EQ(report.count(DiscrepancyKind::vanished),
            GetParam() == Backend::poll ? n + n / 10 : n / 10);
  EXPECT_GT(cost.record_comparisons, n);
  EXPECT_LE(static_cast<double>(cost.record_comparisons), 8 * n_log_n(n));
  EXPECT_LE(static_cast<double>(cost.file_comparisons), 8 * n_log_n(n));
}

// As many eventfds as the descriptor limit allows, up to 10,000, registered by a correct
// program: the listing names each with its file, the audit is clean, and telling them apart
// (they all share the anonymous inode) costs n log n open-file comparisons.
TEST_P(AuditTest, TenThousandEventfdsListAndAuditCleanInNLogN) {
  const std::size_t count = std::min<std::size_t>(10'000, descriptors_available(10'000 + 256));
  if (count < 500) GTEST_SKIP() << "only " << count << " descriptors available (RLIMIT_NOFILE)";
  if (count < 10'000) RecordProperty("sized_down_to", static_cast<int>(count));
  std::vector<OwnedFd> counters;
  counters.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    counters.emplace_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    ASSERT_TRUE(counters.back().is_valid());
    ASSERT_TRUE(
        registry().register_source(SourceFd(counters.back().get()), Token{i}, Interest::readable));
  }
  const auto listed = poll().registrations();
  ASSERT_EQ(listed.size(), count);
  EXPECT_TRUE(std::all_of(listed.begin(), listed.end(), [](const auto& r) { return r.file; }));
  const auto report = audit();
  EXPECT_TRUE(report.clean()) << describe(report).substr(0, 2000);
  EXPECT_EQ(report.book_registrations, count);

  // The same join, counted, over a selector of the same backend.
  auto selector = sys::make_selector(GetParam()).value();
  std::vector<detail::BookRecord> live;
  for (std::size_t i = 0; i < count; ++i) {
    const int fd = counters[i].get();
    ASSERT_TRUE(
        selector->register_fd(fd, Token{i}, Interest::readable, sys::IoPath::foreign, false));
    live.push_back({fd, Token{i}, Interest::readable, {}, false});
  }
  const auto held = selector->registrations().value();
  detail::AuditCost cost;
  EXPECT_TRUE(detail::audit_registrations(*selector, live, {}, held, &cost).clean());
  EXPECT_LE(static_cast<double>(cost.record_comparisons), 8 * n_log_n(count));
  EXPECT_LE(static_cast<double>(cost.file_comparisons), 8 * n_log_n(count));
  for (const OwnedFd& counter : counters) {
    ASSERT_TRUE(selector->deregister_fd(counter.get(), false));
    ASSERT_TRUE(registry().deregister_source(SourceFd(counter.get())));
  }
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(AuditTest);
LIBPOLL_INSTANTIATE_FOR_BACKENDS(TakenNumberAuditTest);

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

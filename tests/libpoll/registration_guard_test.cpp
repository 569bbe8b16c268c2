#include "libpoll/registration.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <source_location>
#include <string_view>
#include <utility>

#include "libpoll/error.hpp"
#include "support/expect_events.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using testing::expect_events;
using testing::expect_no_events;
using testing::kReadable;
using testing::kWritable;
using testing::PollTest;

constexpr Token kFirst{1};
constexpr Token kSecond{2};

class RegistrationGuardTest : public PollTest {};

TEST_P(RegistrationGuardTest, CreateRegistersAndDestructionDeregisters) {
  auto [sender, receiver] = net::pipe().value();
  {
    auto created = Registration::create(registry(), receiver, kFirst, Interest::readable);
    ASSERT_TRUE(created) << created.error().message();
    EXPECT_TRUE(created->active());
    ASSERT_TRUE(sender.write("x"));
    expect_events(poll(), events_, {{kFirst, kReadable}});
  }
  EXPECT_TRUE(poll().registrations().empty());
  EXPECT_EQ(poll().metrics().deregisters, 1u);
  // Still registered, this write would be a new edge.
  ASSERT_TRUE(sender.write("y"));
  expect_no_events(poll(), events_);
}

TEST_P(RegistrationGuardTest, DeregisterSucceedsOnceAndLeavesTheGuardEmpty) {
  auto [sender, receiver] = net::pipe().value();
  {
    auto guard = Registration::create(registry(), receiver, kFirst, Interest::readable).value();
    ASSERT_TRUE(guard.deregister());
    EXPECT_FALSE(guard.active());
    EXPECT_TRUE(poll().registrations().empty());

    auto again = guard.deregister();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), Errc::not_registered);
  }
  const PollMetrics metrics = poll().metrics();
  EXPECT_EQ(metrics.deregisters, 1u);
  EXPECT_EQ(metrics.failed_operations, 0u) << "an empty guard must not call the registry";
  EXPECT_EQ(metrics.guard_failures, 0u);
}

TEST_P(RegistrationGuardTest, EmptyGuardRefusesToReregister) {
  auto [sender, receiver] = net::pipe().value();
  auto guard = Registration::create(registry(), receiver, kFirst, Interest::readable).value();
  ASSERT_TRUE(guard.deregister());
  auto reregistered = guard.reregister(kSecond, Interest::readable);
  ASSERT_FALSE(reregistered);
  EXPECT_EQ(reregistered.error(), Errc::not_registered);
  EXPECT_TRUE(poll().registrations().empty());
}

TEST_P(RegistrationGuardTest, ReleaseLeavesTheSourceRegistered) {
  auto [sender, receiver] = net::pipe().value();
  {
    auto guard = Registration::create(registry(), receiver, kFirst, Interest::readable).value();
    guard.release();
    EXPECT_FALSE(guard.active());
  }
  const auto listed = poll().registrations();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].fd, receiver.as_raw_fd());
  EXPECT_EQ(listed[0].token, kFirst);
  EXPECT_EQ(poll().metrics().deregisters, 0u);
  ASSERT_TRUE(sender.write("x"));
  expect_events(poll(), events_, {{kFirst, kReadable}});

  ASSERT_TRUE(registry().deregister_source(receiver));
}

TEST_P(RegistrationGuardTest, MoveConstructionTransfersTheRegistration) {
  auto [sender, receiver] = net::pipe().value();
  std::optional<Registration> taken;
  {
    auto guard = Registration::create(registry(), receiver, kFirst, Interest::readable).value();
    taken.emplace(std::move(guard));
    EXPECT_FALSE(guard.active());  // NOLINT(bugprone-use-after-move): documented state
    EXPECT_TRUE(taken->active());
  }
  // The moved-from guard's destruction did nothing.
  EXPECT_EQ(poll().registrations().size(), 1u);
  EXPECT_EQ(poll().metrics().deregisters, 0u);
  EXPECT_EQ(poll().metrics().failed_operations, 0u);
  ASSERT_TRUE(sender.write("x"));
  expect_events(poll(), events_, {{kFirst, kReadable}});

  taken.reset();
  EXPECT_TRUE(poll().registrations().empty());
  EXPECT_EQ(poll().metrics().deregisters, 1u);
}

TEST_P(RegistrationGuardTest, MoveAssignmentTransfersTheRegistration) {
  auto [sender, receiver] = net::pipe().value();
  auto [other_sender, other_receiver] = net::pipe().value();
  auto target =
      Registration::create(registry(), other_receiver, kSecond, Interest::readable).value();
  ASSERT_TRUE(target.deregister());
  {
    auto guard = Registration::create(registry(), receiver, kFirst, Interest::readable).value();
    target = std::move(guard);
    EXPECT_FALSE(guard.active());  // NOLINT(bugprone-use-after-move): documented state
    EXPECT_TRUE(target.active());
  }
  EXPECT_EQ(poll().registrations().size(), 1u);
  EXPECT_EQ(poll().metrics().deregisters, 1u);
  ASSERT_TRUE(sender.write("x"));
  expect_events(poll(), events_, {{kFirst, kReadable}});

  ASSERT_TRUE(target.deregister());
  EXPECT_TRUE(poll().registrations().empty());
}

TEST_P(RegistrationGuardTest, MoveAssigningOverAnActiveGuardDeregistersItsRegistrationFirst) {
  auto [sender, receiver] = net::pipe().value();
  auto [other_sender, other_receiver] = net::pipe().value();
  auto target =
      Registration::create(registry(), other_receiver, kSecond, Interest::readable).value();
  auto guard = Registration::create(registry(), receiver, kFirst, Interest::readable).value();

  target = std::move(guard);
  EXPECT_FALSE(guard.active());  // NOLINT(bugprone-use-after-move): documented state
  const auto listed = poll().registrations();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].fd, receiver.as_raw_fd());
  EXPECT_EQ(listed[0].token, kFirst);
  EXPECT_EQ(poll().metrics().deregisters, 1u);

  ASSERT_TRUE(other_sender.write("to the dropped registration"));
  ASSERT_TRUE(sender.write("to the kept one"));
  const auto seen = expect_events(poll(), events_, {{kFirst, kReadable}});
  for (const Event& event : seen) EXPECT_EQ(event.token(), kFirst) << to_string(event);
  expect_no_events(poll(), events_);
}

TEST_P(RegistrationGuardTest, ReregisterReplacesTokenAndInterest) {
  auto [local, peer] = net::UnixStream::pair().value();
  auto guard = Registration::create(registry(), local, kFirst, Interest::readable).value();
  ASSERT_TRUE(guard.reregister(kSecond, Interest::writable));

  const auto listed = poll().registrations();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].token, kSecond);
  EXPECT_EQ(listed[0].interest, Interest::writable);
  const auto seen = expect_events(poll(), events_, {{kSecond, kWritable}});
  for (const Event& event : seen) EXPECT_EQ(event.token(), kSecond) << to_string(event);
  EXPECT_EQ(poll().metrics().reregisters, 1u);
}

TEST_P(RegistrationGuardTest, FailedDeregisterInTheDestructorIsCountedNotThrown) {
  auto [sender, receiver] = net::pipe().value();
  {
    auto guard = Registration::create(registry(), receiver, kFirst, Interest::readable).value();
    ASSERT_TRUE(registry().deregister_source(receiver));  // behind the guard's back
    EXPECT_TRUE(guard.active());
  }
  const PollMetrics metrics = poll().metrics();
  EXPECT_EQ(metrics.guard_failures, 1u);
  EXPECT_EQ(metrics.deregisters, 1u);
  EXPECT_EQ(metrics.failed_operations, 1u);
}

TEST_P(RegistrationGuardTest, FailedDeregisterInAMoveAssignmentIsCounted) {
  auto [sender, receiver] = net::pipe().value();
  auto [other_sender, other_receiver] = net::pipe().value();
  auto target =
      Registration::create(registry(), other_receiver, kSecond, Interest::readable).value();
  ASSERT_TRUE(registry().deregister_source(other_receiver));  // behind the guard's back
  auto guard = Registration::create(registry(), receiver, kFirst, Interest::readable).value();

  target = std::move(guard);
  EXPECT_TRUE(target.active());
  EXPECT_EQ(poll().metrics().guard_failures, 1u);
  ASSERT_TRUE(target.deregister());
  EXPECT_TRUE(poll().registrations().empty());
}

TEST_P(RegistrationGuardTest, CreateOnARegisteredSourceFailsAndRegistersNothing) {
  auto [sender, receiver] = net::pipe().value();
  auto first = Registration::create(registry(), receiver, kFirst, Interest::readable).value();
  auto second = Registration::create(registry(), receiver, kSecond, Interest::readable);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), Errc::already_registered);

  const auto listed = poll().registrations();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].token, kFirst);
  EXPECT_EQ(poll().metrics().registers, 1u);
}

TEST_P(RegistrationGuardTest, RecordsTheCreateCallAsTheRegistrationSite) {
  auto [sender, receiver] = net::pipe().value();
  const std::uint_least32_t create_line = __LINE__ + 1;
  auto guard = Registration::create(registry(), receiver, kFirst, Interest::readable).value();
  const auto listed = poll().registrations();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].site.line(), create_line);
  EXPECT_EQ(std::string_view(listed[0].site.file_name()), std::string_view(__FILE__));
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(RegistrationGuardTest);

}  // namespace
}  // namespace libpoll

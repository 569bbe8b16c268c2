// GhostGate: when a batch's tokens must be looked up for the ghost count. A lookup skipped
// wrongly loses a ghost; one made needlessly costs the lookup the gate exists to save.

#include "ghost_gate.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include <gtest/gtest.h>

namespace libpoll::detail {
namespace {

TEST(GhostGateTest, AQuietPollLooksNothingUp) {
  GhostGate gate(nullptr);
  EXPECT_FALSE(gate.batch_may_hold_ghosts());
  EXPECT_FALSE(gate.batch_may_hold_ghosts());
}

TEST(GhostGateTest, ARemovalIsLookedUpUntilABatchWaitedAfterItWasDone) {
  GhostGate gate(nullptr);
  const auto removal = gate.begin_removal();
  EXPECT_TRUE(gate.batch_may_hold_ghosts()) << "the removal is under way";
  EXPECT_TRUE(gate.batch_may_hold_ghosts()) << "still under way";
  removal.end();
  EXPECT_TRUE(gate.batch_may_hold_ghosts()) << "this batch's wait began before it was done";
  EXPECT_FALSE(gate.batch_may_hold_ghosts()) << "a later wait cannot see the registration";
}

TEST(GhostGateTest, OverlappingRemovalsKeepTheLookUpUntilAllAreDone) {
  GhostGate gate(nullptr);
  const auto first = gate.begin_removal();
  const auto second = gate.begin_removal();
  first.end();
  EXPECT_TRUE(gate.batch_may_hold_ghosts());
  EXPECT_TRUE(gate.batch_may_hold_ghosts()) << "one removal is still under way";
  second.end();
  EXPECT_TRUE(gate.batch_may_hold_ghosts());
  EXPECT_FALSE(gate.batch_may_hold_ghosts());
}

TEST(GhostGateTest, ALastingCauseLooksEveryBatchUp) {
  GhostGate gate(nullptr);
  gate.make_possible();
  for (int batch = 0; batch < 3; ++batch) EXPECT_TRUE(gate.batch_may_hold_ghosts());
}

// A recorded deregister that failed when the next poll made it may have left the kernel the
// registration, under a token the book let go.
TEST(GhostGateTest, ARemovalLostAfterItsCallLooksEveryBatchUp) {
  std::atomic<bool> removal_lost{false};
  GhostGate gate(&removal_lost);
  EXPECT_FALSE(gate.batch_may_hold_ghosts());
  removal_lost.store(true);
  for (int batch = 0; batch < 3; ++batch) EXPECT_TRUE(gate.batch_may_hold_ghosts());
}

// After a fork the two processes share every epoll instance: either may register in it behind
// the other's book.
TEST(GhostGateTest, AForkLooksEveryBatchUpInTheParentAndTheChild) {
  ASSERT_TRUE(fork_hook_installed());
  GhostGate gate(nullptr);
  ASSERT_FALSE(gate.batch_may_hold_ghosts());
  const std::uint64_t generation_before = generation();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  // The child also counts itself a new generation (what it set up before may be shared).
  if (child == 0) {
    const bool new_generation = generation() == generation_before + 1;
    ::_exit(gate.batch_may_hold_ghosts() && gate.batch_may_hold_ghosts() && new_generation ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child skipped its lookups, or kept its generation";
  EXPECT_EQ(generation(), generation_before) << "the parent is not a child";
  EXPECT_TRUE(gate.batch_may_hold_ghosts());
  EXPECT_TRUE(gate.batch_may_hold_ghosts());
}

}  // namespace
}  // namespace libpoll::detail

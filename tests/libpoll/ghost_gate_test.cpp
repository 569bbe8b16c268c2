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
  RegistryCounts counts;
  GhostGate gate(nullptr, counts);
  EXPECT_FALSE(gate.batch_may_hold_ghosts());
  EXPECT_FALSE(gate.batch_may_hold_ghosts());
}

TEST(GhostGateTest, ARemovalIsLookedUpUntilABatchWaitedAfterItWasDone) {
  RegistryCounts counts;
  GhostGate gate(nullptr, counts);
  counts.add(kRemovalsBegun);
  EXPECT_TRUE(gate.batch_may_hold_ghosts()) << "the removal is under way";
  EXPECT_TRUE(gate.batch_may_hold_ghosts()) << "still under way";
  counts.add(kDeregisters);
  EXPECT_TRUE(gate.batch_may_hold_ghosts()) << "this batch's wait began before it was done";
  EXPECT_FALSE(gate.batch_may_hold_ghosts()) << "a later wait cannot see the registration";
}

TEST(GhostGateTest, OverlappingRemovalsKeepTheLookUpUntilAllAreDone) {
  RegistryCounts counts;
  GhostGate gate(nullptr, counts);
  counts.add(kRemovalsBegun);
  counts.add(kRemovalsBegun);
  counts.add(kDeregisters);
  EXPECT_TRUE(gate.batch_may_hold_ghosts());
  EXPECT_TRUE(gate.batch_may_hold_ghosts()) << "one removal is still under way";
  counts.add(kRemovalsFailed);  // a removal the selector refused is done too
  EXPECT_TRUE(gate.batch_may_hold_ghosts());
  EXPECT_FALSE(gate.batch_may_hold_ghosts());
}

// The thread that holds the writer bias counts in the Poll's row, inside its sections; the bias
// may be shared between a removal's begin and its end, which then counts in the thread's block.
// The gate reads both.
TEST(GhostGateTest, ARemovalBegunInTheRowAndDoneInABlockIsSeenWhole) {
  RegistryCounts counts;
  GhostGate gate(nullptr, counts);
  counts.add_in_section(kRemovalsBegun);
  EXPECT_TRUE(gate.batch_may_hold_ghosts()) << "the removal is under way";
  EXPECT_TRUE(gate.batch_may_hold_ghosts()) << "still under way";
  counts.add(kDeregisters);
  EXPECT_TRUE(gate.batch_may_hold_ghosts()) << "this batch's wait began before it was done";
  EXPECT_FALSE(gate.batch_may_hold_ghosts());
  EXPECT_EQ(counts.total(kDeregisters), 1U);
  EXPECT_EQ(counts.total(kRegisters), 0U);
}

TEST(GhostGateTest, ALastingCauseLooksEveryBatchUp) {
  RegistryCounts counts;
  GhostGate gate(nullptr, counts);
  gate.make_possible();
  for (int batch = 0; batch < 3; ++batch) EXPECT_TRUE(gate.batch_may_hold_ghosts());
}

// A recorded deregister that failed when the next poll made it may have left the kernel the
// registration, under a token the book let go.
TEST(GhostGateTest, ARemovalLostAfterItsCallLooksEveryBatchUp) {
  std::atomic<bool> removal_lost{false};
  RegistryCounts counts;
  GhostGate gate(&removal_lost, counts);
  EXPECT_FALSE(gate.batch_may_hold_ghosts());
  removal_lost.store(true);
  for (int batch = 0; batch < 3; ++batch) EXPECT_TRUE(gate.batch_may_hold_ghosts());
}

// After a fork the two processes share every epoll instance: either may register in it behind
// the other's book.
TEST(GhostGateTest, AForkLooksEveryBatchUpInTheParentAndTheChild) {
  ASSERT_TRUE(fork_hook_installed());
  RegistryCounts counts;
  GhostGate gate(nullptr, counts);
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

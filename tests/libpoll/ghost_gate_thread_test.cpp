// GhostGate with removals on several threads at once, as deregisters from any thread make them:
// a removal under way is never skipped, and the gate goes quiet once all are done. Each thread
// counts the removals it finished in a block of its own, so this runs under ThreadSanitizer
// with the other threaded suites.

#include "ghost_gate.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "support/threads.hpp"

namespace libpoll::detail {
namespace {

using libpoll::testing::spin_until;

TEST(GhostGateThreadTest, ARemovalUnderWayIsLookedUpWhileOthersComeAndGo) {
  RegistryCounts counts;
  GhostGate gate(nullptr, counts);
  constexpr int kFreeRemovers = 2;
  constexpr std::uint64_t kFreeRemovals = 20000;
  constexpr std::uint64_t kHeldRemovals = 200;
  std::atomic<bool> stop{false};
  // The held remover begins removal `held`, then waits until the polling thread checked a batch
  // (`checked` == `held`) before it ends it.
  std::atomic<std::uint64_t> held{0};
  std::atomic<std::uint64_t> checked{0};
  std::atomic<bool> held_timed_out{false};

  std::vector<std::thread> removers;
  for (int r = 0; r < kFreeRemovers; ++r) {
    removers.emplace_back([&] {
      for (std::uint64_t i = 0; i < kFreeRemovals && !stop.load(); ++i) {
        counts.add(kRemovalsBegun);
        counts.add(kDeregisters);
      }
    });
  }
  std::thread held_remover([&] {
    for (std::uint64_t i = 1; i <= kHeldRemovals; ++i) {
      counts.add(kRemovalsBegun);
      held.store(i);
      if (!spin_until([&] { return checked.load() == i; })) {
        held_timed_out.store(true);
        counts.add(kDeregisters);
        return;
      }
      counts.add(kDeregisters);
    }
  });

  std::uint64_t skipped_while_held = 0;
  const bool all_checked = spin_until([&] {
    const std::uint64_t now = held.load();
    if (now != checked.load()) {
      // Removal `now` began before these two batches were checked and ends only after
      // `checked`: both are looked up (the first one's check cannot make the second quiet).
      for (int batch = 0; batch < 2; ++batch) {
        if (!gate.batch_may_hold_ghosts()) ++skipped_while_held;
      }
      checked.store(now);
    } else {
      (void)gate.batch_may_hold_ghosts();  // quiet batches between, as a polling loop has
    }
    return now == kHeldRemovals && checked.load() == kHeldRemovals;
  });
  held_remover.join();
  stop.store(true);
  for (std::thread& remover : removers) remover.join();

  ASSERT_TRUE(all_checked) << "the polling loop saw " << checked.load() << " of " << kHeldRemovals;
  EXPECT_FALSE(held_timed_out.load());
  EXPECT_EQ(skipped_while_held, 0U) << "a batch was skipped while a removal was under way";
  // Every removal is done now: one more batch may still be looked up (its check began before the
  // last was done), and the one after it is quiet, which needs every thread's done count.
  (void)gate.batch_may_hold_ghosts();
  EXPECT_FALSE(gate.batch_may_hold_ghosts()) << "the done counts of some thread were not seen";
}

}  // namespace
}  // namespace libpoll::detail

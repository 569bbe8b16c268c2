// WriterBias: the registry's read-modify-writes are plain while one thread makes them all, and
// locked from the moment a second thread writes. Run under ThreadSanitizer with the other
// threaded suites.

#include "writer_bias.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "support/threads.hpp"

namespace libpoll::detail {
namespace {

using libpoll::testing::spin_until;

std::uint64_t add_one(WriterBias& bias, std::atomic<std::uint64_t>& word) {
  return biased_update(bias, word, std::memory_order_relaxed,
                       [](std::uint64_t now) { return now + 1; });
}

TEST(WriterBiasTest, TheFirstWriterHoldsItAndASecondRevokesItForGood) {
  WriterBias bias;
  ASSERT_TRUE(bias.begin()) << "the first writer claims the bias (membarrier refused here?)";
  bias.end();
  EXPECT_TRUE(bias.held());
  bool second_plain = true;
  std::thread([&] { second_plain = bias.begin(); }).join();
  EXPECT_FALSE(second_plain);
  EXPECT_TRUE(bias.revoked());
  EXPECT_FALSE(bias.held());
  EXPECT_FALSE(bias.begin()) << "the first writer takes the locked path too, from now on";
}

// The second writer's update lands while the owner is inside a plain read-modify-write of the
// same word: the revocation must wait for that section to end, or the owner's store would
// overwrite the second writer's update.
TEST(WriterBiasTest, ARevocationWaitsForTheOwnersSectionToEnd) {
  WriterBias bias;
  std::atomic<std::uint64_t> word{0};
  std::atomic<bool> inside{false};
  std::atomic<bool> saw_revocation{false};
  std::thread owner([&] {
    for (int i = 0; i < 100; ++i) add_one(bias, word);  // the bias is this thread's
    (void)biased_update(bias, word, std::memory_order_relaxed, [&](std::uint64_t now) {
      inside.store(true);
      saw_revocation.store(spin_until([&] { return bias.revoked(); }));
      return now + 1;
    });
    for (int i = 0; i < 100; ++i) add_one(bias, word);
  });
  ASSERT_TRUE(spin_until([&] { return inside.load(); }));
  add_one(bias, word);  // revokes, then adds with a locked instruction
  owner.join();
  EXPECT_TRUE(saw_revocation.load());
  EXPECT_EQ(word.load(), 202U) << "an update was lost across the revocation";
}

TEST(WriterBiasTest, CountsStayExactWhileManyThreadsJoinTheWriter) {
  WriterBias bias;
  std::atomic<std::uint64_t> word{0};
  constexpr std::uint64_t kOwnerAdds = 400000;
  constexpr std::uint64_t kOtherAdds = 50000;
  std::atomic<bool> started{false};
  std::thread owner([&] {
    add_one(bias, word);
    started.store(true);
    for (std::uint64_t i = 1; i < kOwnerAdds; ++i) add_one(bias, word);
  });
  ASSERT_TRUE(spin_until([&] { return started.load(); }));
  std::thread second([&] {
    for (std::uint64_t i = 0; i < kOtherAdds; ++i) add_one(bias, word);
  });
  std::thread third([&] {
    for (std::uint64_t i = 0; i < kOtherAdds; ++i) add_one(bias, word);
  });
  owner.join();
  second.join();
  third.join();
  EXPECT_EQ(word.load(), kOwnerAdds + 2 * kOtherAdds);
}

}  // namespace
}  // namespace libpoll::detail

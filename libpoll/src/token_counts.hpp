#pragma once

// How many live registrations carry each token: the lookup behind the ghost-event counter,
// done for every event a poll returns. An open-addressing table (linear probing, power-of-two
// size, multiplicative hash, backward-shift deletion) so that a lookup is a multiply, a shift
// and usually one cache line; std::unordered_map would add a division and a pointer chase.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace libpoll::detail {

class TokenCounts {
 public:
  TokenCounts() : slots_(16) {}

  void add(std::uint64_t token) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    Slot& slot = slots_[find(token)];
    if (slot.count == 0) {
      slot.token = token;
      ++size_;
    }
    ++slot.count;
  }

  void remove(std::uint64_t token) noexcept {
    std::size_t index = find(token);
    if (slots_[index].count == 0) return;
    if (--slots_[index].count > 0) return;
    --size_;
    // Backward-shift deletion: pull later members of the probe run into the hole, so that
    // lookups never need tombstones.
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t next = (index + 1) & mask; slots_[next].count != 0; next = (next + 1) & mask) {
      const std::size_t home = home_of(slots_[next].token);
      // Move `next` into the hole unless its home lies cyclically in (index, next].
      const bool home_after_hole = ((next - home) & mask) < ((next - index) & mask);
      if (home_after_hole) continue;
      slots_[index] = slots_[next];
      slots_[next] = Slot{};
      index = next;
    }
    slots_[index] = Slot{};
  }

  [[nodiscard]] std::uint32_t count(std::uint64_t token) const noexcept {
    return slots_[find(token)].count;
  }

 private:
  struct Slot {
    std::uint64_t token = 0;
    std::uint32_t count = 0;  // 0: empty
  };

  [[nodiscard]] std::size_t home_of(std::uint64_t token) const noexcept {
    // Fibonacci hashing: the high bits of the product are well mixed even for small tokens.
    return static_cast<std::size_t>((token * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  // The slot holding `token`, or the empty slot where it would go.
  [[nodiscard]] std::size_t find(std::uint64_t token) const noexcept {
    const std::size_t mask = slots_.size() - 1;
    std::size_t index = home_of(token);
    while (slots_[index].count != 0 && slots_[index].token != token) index = (index + 1) & mask;
    return index;
  }

  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    --shift_;
    size_ = 0;
    for (const Slot& slot : old) {
      if (slot.count == 0) continue;
      Slot& target = slots_[find(slot.token)];
      target = slot;
      ++size_;
    }
  }

  std::vector<Slot> slots_;
  unsigned shift_ = 64 - 4;  // log2(slots_.size()) bits of hash
  std::size_t size_ = 0;
};

}  // namespace libpoll::detail

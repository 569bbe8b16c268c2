#pragma once

// How many live registrations carry each token: the lookup behind the ghost-event counter, done
// for every event a poll returns, so it must cost next to nothing and never take the registry's
// lock.
//
// Tokens below kDirectLimit (the usual slab indices) are counted in a plain array indexed by the
// token: a lookup is a compare and a load. Larger ones go to an open-addressing table (linear
// probing, power-of-two size, Fibonacci hashing, backward-shift deletion): a multiply, a shift
// and usually one cache line. Writers hold the
// registry's mutex; the polling thread reads without it, seqlock style: `version_` is odd while a
// write is under way, and a read that saw it change is retried under the mutex. Every slot is an
// atomic read and written with relaxed order (plain moves on x86), and a table or array replaced
// by growth is kept until destruction, so a racing reader never touches freed memory. A count
// in the array changes with one store, which a reader sees whole, so only the array's growth
// goes through the seqlock.

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "libpoll/event.hpp"

namespace libpoll::detail {

class TokenCounts {
 public:
  // Below this, a token is counted in the array (at most 256 KiB, grown by doubling).
  static constexpr std::uint64_t kDirectLimit = std::uint64_t{1} << 16;

  TokenCounts() {
    tables_.push_back(std::make_unique<Table>(4));
    current_ = tables_.back().get();
    published_.store(current_, std::memory_order_relaxed);
    directs_.push_back(std::make_unique<Direct>(0));
    direct_ = directs_.back().get();
    published_direct_.store(direct_, std::memory_order_relaxed);
  }
  TokenCounts(const TokenCounts&) = delete;
  TokenCounts& operator=(const TokenCounts&) = delete;

  // Writers: the caller holds the lock that serialises them.
  void add(std::uint64_t token) {
    if (token < kDirectLimit) {
      if (token >= direct_->size) grow_direct(token);  // may throw before anything changed
      auto& count = direct_->counts[token];
      count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return;
    }
    if ((size_ + 1) * 2 > current_->size()) grow();  // may throw before anything changed
    begin_write();
    Table& table = *current_;
    Slot& slot = table.slots[table.find(token)];
    const auto count = slot.count.load(std::memory_order_relaxed);
    if (count == 0) {
      slot.token.store(token, std::memory_order_relaxed);
      ++size_;
    }
    slot.count.store(count + 1, std::memory_order_relaxed);
    end_write();
  }

  void remove(std::uint64_t token) noexcept {
    if (token < kDirectLimit) {
      if (token >= direct_->size) return;
      auto& count = direct_->counts[token];
      const auto now = count.load(std::memory_order_relaxed);
      if (now != 0) count.store(now - 1, std::memory_order_relaxed);
      return;
    }
    Table& table = *current_;
    std::size_t index = table.find(token);
    const auto count = table.slots[index].count.load(std::memory_order_relaxed);
    if (count == 0) return;
    begin_write();
    table.slots[index].count.store(count - 1, std::memory_order_relaxed);
    if (count == 1) {
      --size_;
      // Backward-shift deletion: pull later members of the probe run into the hole, so that
      // lookups never need tombstones.
      for (std::size_t next = (index + 1) & table.mask; table.occupied(next);
           next = (next + 1) & table.mask) {
        const std::size_t home =
            table.home_of(table.slots[next].token.load(std::memory_order_relaxed));
        // `next` may move into the hole unless its home lies cyclically in (index, next].
        if (((next - home) & table.mask) < ((next - index) & table.mask)) continue;
        table.move(next, index);
        index = next;
      }
    }
    end_write();
  }

  // Writers (or anyone holding their lock).
  [[nodiscard]] std::uint32_t count(std::uint64_t token) const noexcept {
    if (token < direct_->size) return direct_->counts[token].load(std::memory_order_relaxed);
    if (token < kDirectLimit) return 0;
    return current_->slots[current_->find(token)].count.load(std::memory_order_relaxed);
  }

  // The polling thread, without the lock: how many of `events` carry a token with no live
  // registration, or nothing when a writer got in the way (then ask again under the lock).
  [[nodiscard]] std::optional<std::uint64_t> count_unknown(
      std::span<const Event> events) const noexcept {
    const auto before = version_.load(std::memory_order_acquire);
    if ((before & 1) != 0) return std::nullopt;
    const Table& table = *published_.load(std::memory_order_acquire);
    const Direct& direct = *published_direct_.load(std::memory_order_acquire);
    std::uint64_t unknown = 0;
    for (const Event& event : events) {
      const std::uint64_t token = event.token().value;
      if (token < direct.size) [[likely]] {
        unknown += direct.counts[token].load(std::memory_order_relaxed) == 0;
      } else {
        unknown += token < kDirectLimit || table.bounded_count(token) == 0;
      }
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (version_.load(std::memory_order_relaxed) != before) return std::nullopt;
    return unknown;
  }

  // Under the lock, for when count_unknown gave up.
  [[nodiscard]] std::uint64_t count_unknown_locked(std::span<const Event> events) const noexcept {
    std::uint64_t unknown = 0;
    for (const Event& event : events) unknown += count(event.token().value) == 0;
    return unknown;
  }

 private:
  struct Direct {
    explicit Direct(std::size_t length)
        : counts(std::make_unique<std::atomic<std::uint32_t>[]>(length)), size(length) {}
    std::unique_ptr<std::atomic<std::uint32_t>[]> counts;
    std::size_t size;
  };

  struct Slot {
    std::atomic<std::uint64_t> token{0};
    std::atomic<std::uint32_t> count{0};  // 0: empty
  };

  struct Table {
    explicit Table(unsigned bits)
        : slots(std::make_unique<Slot[]>(std::size_t{1} << bits)),
          mask((std::size_t{1} << bits) - 1),
          shift(64 - bits) {}

    [[nodiscard]] std::size_t size() const noexcept { return mask + 1; }
    [[nodiscard]] std::size_t home_of(std::uint64_t token) const noexcept {
      // Fibonacci hashing: the high bits of the product are well mixed even for small tokens.
      return static_cast<std::size_t>((token * 0x9E3779B97F4A7C15ull) >> shift);
    }
    [[nodiscard]] bool occupied(std::size_t index) const noexcept {
      return slots[index].count.load(std::memory_order_relaxed) != 0;
    }
    // The slot holding `token`, or the empty slot where it would go.
    [[nodiscard]] std::size_t find(std::uint64_t token) const noexcept {
      std::size_t index = home_of(token);
      while (occupied(index) && slots[index].token.load(std::memory_order_relaxed) != token) {
        index = (index + 1) & mask;
      }
      return index;
    }
    // find() for a reader racing a writer: never more than one lap, whatever it reads.
    [[nodiscard]] std::uint32_t bounded_count(std::uint64_t token) const noexcept {
      std::size_t index = home_of(token);
      for (std::size_t probes = 0; probes <= mask; ++probes, index = (index + 1) & mask) {
        const auto count = slots[index].count.load(std::memory_order_relaxed);
        if (count == 0) return 0;
        if (slots[index].token.load(std::memory_order_relaxed) == token) return count;
      }
      return 0;
    }
    void move(std::size_t from, std::size_t to) noexcept {
      slots[to].token.store(slots[from].token.load(std::memory_order_relaxed),
                            std::memory_order_relaxed);
      slots[to].count.store(slots[from].count.load(std::memory_order_relaxed),
                            std::memory_order_relaxed);
      slots[from].count.store(0, std::memory_order_relaxed);
    }

    std::unique_ptr<Slot[]> slots;
    std::size_t mask;
    unsigned shift;
  };

  void begin_write() noexcept {
    version_.store(version_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
  }
  void end_write() noexcept {
    version_.store(version_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  void grow() {
    const auto bits = static_cast<unsigned>(64 - current_->shift + 1);
    tables_.reserve(tables_.size() + 1);
    auto bigger = std::make_unique<Table>(bits);
    for (std::size_t i = 0; i <= current_->mask; ++i) {
      const Slot& slot = current_->slots[i];
      const auto count = slot.count.load(std::memory_order_relaxed);
      if (count == 0) continue;
      const auto token = slot.token.load(std::memory_order_relaxed);
      Slot& target = bigger->slots[bigger->find(token)];
      target.token.store(token, std::memory_order_relaxed);
      target.count.store(count, std::memory_order_relaxed);
    }
    // The old table stays readable: a reader may still be probing it.
    current_ = bigger.get();
    tables_.push_back(std::move(bigger));
    begin_write();
    published_.store(current_, std::memory_order_release);
    end_write();
  }

  // An array that holds `token`, the counts copied, published under the seqlock.
  void grow_direct(std::uint64_t token) {
    const auto size =
        std::min<std::size_t>(std::max<std::size_t>(64, std::bit_ceil(token + 1)), kDirectLimit);
    directs_.reserve(directs_.size() + 1);
    auto bigger = std::make_unique<Direct>(size);
    for (std::size_t i = 0; i < direct_->size; ++i) {
      bigger->counts[i].store(direct_->counts[i].load(std::memory_order_relaxed),
                              std::memory_order_relaxed);
    }
    direct_ = bigger.get();
    directs_.push_back(std::move(bigger));
    begin_write();
    published_direct_.store(direct_, std::memory_order_release);
    end_write();
  }

  std::vector<std::unique_ptr<Direct>> directs_;  // every array ever used; the last is current
  Direct* direct_ = nullptr;                      // writers' view
  std::atomic<const Direct*> published_direct_{nullptr};  // readers' view
  std::vector<std::unique_ptr<Table>> tables_;    // every table ever used; the last is current
  Table* current_ = nullptr;                      // writers' view
  std::atomic<const Table*> published_{nullptr};  // readers' view
  std::atomic<std::uint64_t> version_{0};
  std::size_t size_ = 0;
};

}  // namespace libpoll::detail

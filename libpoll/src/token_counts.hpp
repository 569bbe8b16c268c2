#pragma once

// How many live registrations carry each token: the lookup behind the ghost-event counter, done
// for every event a poll returns, so it must cost next to nothing and never take a lock.
//
// Tokens below kDirectLimit (the usual slab indices) are counted in a plain array indexed by the
// token: a lookup is a compare and an add, and a change is one compare-and-swap (a plain load
// and store while one thread makes every registry call: writer_bias.hpp), so that registry calls
// from any thread need no lock. The array is mapped whole, once, from zero pages:
// memory is spent only where tokens are used, and it never moves. Larger tokens go to an
// open-addressing table (linear probing, power-of-two size, Fibonacci hashing, backward-shift
// deletion): a multiply, a shift and usually one cache line. Its writers hold `table_mutex_`; the
// polling thread reads it without the lock, seqlock style: `version_` is odd while a write is under
// way, and a read that saw it change is retried under the mutex. Every slot is an atomic read and
// written with relaxed order (plain moves on x86), and a table replaced by growth is kept until
// destruction, so a racing reader never touches freed memory.

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <vector>

#include "fence.hpp"
#include "libpoll/event.hpp"
#include "writer_bias.hpp"

namespace libpoll::detail {

class TokenCounts {
 public:
  // Below this, a token is counted in the array (512 KiB of address space, touched a page at a
  // time).
  static constexpr std::uint64_t kDirectLimit = std::uint64_t{1} << 16;

  TokenCounts() {
    void* mapped = ::mmap(nullptr, kDirectBytes, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    direct_ = static_cast<std::uint64_t*>(mapped);
    tables_.push_back(std::make_unique<Table>(4));
    current_ = tables_.back().get();
    published_.store(current_, std::memory_order_relaxed);
  }
  ~TokenCounts() { ::munmap(direct_, kDirectBytes); }
  TokenCounts(const TokenCounts&) = delete;
  TokenCounts& operator=(const TokenCounts&) = delete;

  // Writers: any thread. False, with nothing changed, only for a large token whose table could
  // not grow for want of memory.
  // add() and remove() are inlined into the registry's calls: a call frame would cost as much as
  // the count itself.
  [[nodiscard, gnu::always_inline]] bool add(std::uint64_t token) noexcept {
    if (token < kDirectLimit) [[likely]] {
      auto word = direct(token);
      (void)biased_update(process_writer_bias(), word, std::memory_order_relaxed, add_one);
      return true;
    }
    return add_large(token);
  }
  // add() of a token below kDirectLimit, with a plain load and store inside a writer-bias section
  // the caller holds: a register claims its slot and counts its token in one section.
  [[gnu::always_inline]] void add_in_section(std::uint64_t token) noexcept {
    auto word = direct(token);
    word.store(add_one(word.load(std::memory_order_acquire)), std::memory_order_release);
  }

  [[gnu::always_inline]] void remove(std::uint64_t token) noexcept {
    if (token < kDirectLimit) [[likely]] {
      auto word = direct(token);
      (void)biased_update(process_writer_bias(), word, std::memory_order_relaxed, remove_one);
      return;
    }
    remove_large(token);
  }
  // remove() of a token below kDirectLimit, inside a writer-bias section the caller holds.
  [[gnu::always_inline]] void remove_in_section(std::uint64_t token) noexcept {
    auto word = direct(token);
    word.store(remove_one(word.load(std::memory_order_acquire)), std::memory_order_release);
  }

  // The table's writers, out of the common path.
  [[gnu::noinline]] bool add_large(std::uint64_t token) noexcept {
    std::lock_guard lock(table_mutex_);
    if ((size_ + 1) * 2 > current_->size()) {
      try {
        grow();
      } catch (const std::bad_alloc&) {
        return false;  // nothing changed
      }
    }
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
    return true;
  }

  [[gnu::noinline]] void remove_large(std::uint64_t token) noexcept {
    std::lock_guard lock(table_mutex_);
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

  [[nodiscard]] std::uint32_t count(std::uint64_t token) const noexcept {
    if (token < kDirectLimit) {
      return static_cast<std::uint32_t>(direct(token).load(std::memory_order_relaxed) >> 32);
    }
    std::lock_guard lock(table_mutex_);
    return current_->slots[current_->find(token)].count.load(std::memory_order_relaxed);
  }

  // The polling thread: how many of `events` carry a token with no live registration. A small
  // token costs a compare and an add: its word's low half is 1 while the token is registered, so
  // the sum's low half counts the known events (the high halves' counts carry no further).
  [[nodiscard]] std::uint64_t count_unknown(std::span<const Event> events) const noexcept {
    std::uint64_t* const words = direct_;
    std::uint64_t sum = 0;
    std::size_t large = 0;
#pragma GCC unroll 4
    for (const Event& event : events) {
      const std::uint64_t token = event.token().value;
      if (token < kDirectLimit) [[likely]] {
        sum += std::atomic_ref<std::uint64_t>(words[token]).load(std::memory_order_relaxed);
      } else {
        ++large;
      }
    }
    const std::uint64_t unknown = events.size() - large - static_cast<std::uint32_t>(sum);
    if (large == 0) [[likely]]
      return unknown;
    return unknown + count_unknown_large(events);
  }

  // The same, every token looked up under the table's lock (for tests).
  [[nodiscard]] std::uint64_t count_unknown_locked(std::span<const Event> events) const noexcept {
    std::uint64_t unknown = 0;
    for (const Event& event : events) unknown += count(event.token().value) == 0;
    return unknown;
  }

 private:
  // A small token's word: its count in the high half, 1 in the low half while the count is not
  // zero.
  static constexpr std::uint64_t kOne = std::uint64_t{1} << 32;
  static constexpr std::uint64_t kPresent = 1;
  static constexpr std::uint64_t add_one(std::uint64_t now) noexcept {
    return (now + kOne) | kPresent;
  }
  // A count of one (or none) leaves the word zero: absent.
  static constexpr std::uint64_t remove_one(std::uint64_t now) noexcept {
    return now >= 2 * kOne ? now - kOne : 0;
  }
  static constexpr std::size_t kDirectBytes = kDirectLimit * sizeof(std::uint64_t);

  [[nodiscard]] std::atomic_ref<std::uint64_t> direct(std::uint64_t token) const noexcept {
    return std::atomic_ref<std::uint64_t>(direct_[token]);
  }

  // The large tokens of `events`, looked up without the lock unless a writer got in the way.
  [[nodiscard]] std::uint64_t count_unknown_large(std::span<const Event> events) const noexcept {
    const auto before = version_.load(std::memory_order_acquire);
    if ((before & 1) == 0) {
      const Table& table = *published_.load(std::memory_order_acquire);
      std::uint64_t unknown = 0;
      for (const Event& event : events) {
        const std::uint64_t token = event.token().value;
        unknown += token >= kDirectLimit && table.bounded_count(token) == 0;
      }
      fence(std::memory_order_acquire);
      if (version_.load(std::memory_order_relaxed) == before) return unknown;
    }
    std::lock_guard lock(table_mutex_);
    std::uint64_t unknown = 0;
    for (const Event& event : events) {
      const std::uint64_t token = event.token().value;
      unknown += token >= kDirectLimit &&
                 current_->slots[current_->find(token)].count.load(std::memory_order_relaxed) == 0;
    }
    return unknown;
  }

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
    fence(std::memory_order_release);
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

  std::uint64_t* direct_ = nullptr;             // kDirectLimit counts, read and written as atomics
  mutable std::mutex table_mutex_;              // serialises the table's writers
  std::vector<std::unique_ptr<Table>> tables_;  // every table ever used; the last is current
  Table* current_ = nullptr;                    // writers' view
  std::atomic<const Table*> published_{nullptr};  // readers' view
  std::atomic<std::uint64_t> version_{0};
  std::size_t size_ = 0;
};

}  // namespace libpoll::detail

#pragma once

// Counters that any thread bumps without a locked instruction. Right after a system call, a
// locked read-modify-write costs about 15 ns on the machines this was measured on: three of them
// after each epoll_ctl in registry_bench's raw loop slowed it by 5% (register) to 11%
// (reregister), more than all the rest of the book's bookkeeping. So the registry's per-call
// counts are kept per thread: each thread counts in a block of its own, where it is the only
// writer (a relaxed load and a release store: plain moves on x86), and a reader sums the blocks.
// A count publishes what its thread did before it: a reader whose total includes it sees that
// work done (the ghost gate relies on this for its count of finished removals).
//
// A thread finds its block through a one-entry thread-local cache keyed by the counters' id. Ids
// are never reused, so an entry left by counters since destroyed is never matched. On a miss the
// thread walks the blocks, without a lock, and adds one if it has none (one compare-and-swap, once
// per thread). Blocks live as long as the counters: a cache line for each thread that ever counted
// here. Without memory for a block, the thread counts in a shared row with locked adds. Counters
// counted on the same paths take different `Tag`s, so that each kind has a cache entry of its own
// and they do not evict each other's.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace libpoll::detail {

// Ids for counters and for threads, from 1 (0: none yet).
inline std::atomic<std::uint64_t> next_thread_counters_id{1};
inline std::atomic<std::uint64_t> next_counting_thread_id{1};

template <std::size_t N, typename Tag = void>
class ThreadCounters {
  struct Block;

 public:
  ThreadCounters() noexcept
      : id_(next_thread_counters_id.fetch_add(1, std::memory_order_relaxed)) {}
  ~ThreadCounters() {
    for (Block* block = head_.load(std::memory_order_acquire); block != nullptr;) {
      delete std::exchange(block, block->next);
    }
  }
  ThreadCounters(const ThreadCounters&) = delete;
  ThreadCounters& operator=(const ThreadCounters&) = delete;

  // Any thread.
  void add(std::size_t counter, std::uint64_t by = 1) noexcept {
    Block* block = cache_.id == id_ ? cache_.block : find_or_add();
    if (block == nullptr) [[unlikely]] {  // no memory for one: the shared row
      shared_[counter].fetch_add(by, std::memory_order_release);
      return;
    }
    std::atomic<std::uint64_t>& count = block->counts[counter];
    count.store(count.load(std::memory_order_relaxed) + by, std::memory_order_release);
  }

  // Any thread: every count made before this call (in happens-before order), and perhaps some
  // made during it; what a counted thread did before each count it includes happened before.
  [[nodiscard]] std::uint64_t total(std::size_t counter) const noexcept {
    std::uint64_t sum = shared_[counter].load(std::memory_order_acquire);
    for (const Block* block = head_.load(std::memory_order_acquire); block != nullptr;
         block = block->next) {
      sum += block->counts[counter].load(std::memory_order_acquire);
    }
    return sum;
  }

 private:
  // N counts, the owning thread's id and the link in one cache line, for N up to 6.
  struct alignas(64) Block {
    std::array<std::atomic<std::uint64_t>, N> counts{};
    std::uint64_t thread = 0;  // set before the block is published, never changed
    Block* next = nullptr;     // the same
  };
  static_assert(sizeof(Block) == 64, "a thread's counts, id and link fill one cache line");
  struct Cache {
    std::uint64_t id = 0;
    Block* block = nullptr;
  };

  [[gnu::noinline]] Block* find_or_add() noexcept {
    if (thread_id_ == 0)
      thread_id_ = next_counting_thread_id.fetch_add(1, std::memory_order_relaxed);
    Block* head = head_.load(std::memory_order_acquire);
    Block* found = head;
    while (found != nullptr && found->thread != thread_id_) found = found->next;
    if (found == nullptr) {
      found = new (std::nothrow) Block;
      if (found == nullptr) return nullptr;
      found->thread = thread_id_;
      do {
        found->next = head;
      } while (!head_.compare_exchange_weak(head, found, std::memory_order_release,
                                            std::memory_order_acquire));
    }
    cache_ = Cache{id_, found};
    return found;
  }

  static inline thread_local Cache cache_{};
  static inline thread_local std::uint64_t thread_id_ = 0;

  const std::uint64_t id_;
  std::atomic<Block*> head_{nullptr};
  std::array<std::atomic<std::uint64_t>, N> shared_{};
};

}  // namespace libpoll::detail

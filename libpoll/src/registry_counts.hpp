#pragma once

// The registry's counts: a Poll's successful calls, and the removals its ghost gate watches.
// They are bumped on every registry call, from any thread, so they cost no locked instruction:
// - the thread that holds the process's writer bias (writer_bias.hpp) counts in the Poll's own
//   row, with a plain load and store, inside the section where it claims the descriptor's slot
//   or counts the token: one section pays for both. The bias has one owner, so the row has one
//   writer; once the bias is shared, nobody writes the row again;
// - every other thread counts in a block of its own (ThreadCounters).
// A total is the row plus the blocks. Every count only grows, and a count publishes what its
// thread did before it (a release store), as ThreadCounters' do: the ghost gate relies on both.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "thread_counters.hpp"

namespace libpoll::detail {

enum RegistryCount : std::size_t {
  kRegisters,
  kReregisters,
  kDeregisters,     // a removal done: its token left the book
  kRemovalsBegun,   // deregisters that began (their system call comes after)
  kRemovalsFailed,  // deregisters the selector refused: done too
  kRegistryCounts
};

class RegistryCounts {
 public:
  using Threads = ThreadCounters<kRegistryCounts>;

  // Inside a writer-bias section the calling thread began, or later in the same registry call:
  // only the bias's owner ever writes the row, whether or not the bias was shared since.
  void add_in_section(RegistryCount counter) noexcept {
    std::atomic<std::uint64_t>& count = row_[counter];
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  // Any thread, outside a section.
  void add(RegistryCount counter) noexcept { threads_.add(counter); }

  // Any thread: every count made before this call (in happens-before order), perhaps more.
  [[nodiscard]] std::uint64_t total(RegistryCount counter) const noexcept {
    return row_[counter].load(std::memory_order_acquire) + threads_.total(counter);
  }

 private:
  alignas(64) std::array<std::atomic<std::uint64_t>, kRegistryCounts> row_{};
  Threads threads_;
};

}  // namespace libpoll::detail

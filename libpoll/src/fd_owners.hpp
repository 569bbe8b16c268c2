#pragma once

// Process-wide, one slot per descriptor number: which Poll holds the number, and that Poll's
// registration of it. Every Poll's book lives in this one table, so that the claim that catches a
// source registered with two Polls and the book's entry are the same memory: a registry call
// costs one compare-and-swap on its own slot (a plain load and store while one thread makes every
// registry call: writer_bias.hpp), and no lock is shared between descriptors.
//
// A slot's word is its owner's id (always even); the low bit is set while a registry call
// works on the slot (held across its system call, so that calls on one descriptor take turns).
// Only the holder of the bit reads or writes the registration; clearing the bit with a release
// store publishes what it wrote. Chunks of slots are allocated on first use and never move or
// die, so a lookup takes no lock.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <source_location>

#include "libpoll/interest.hpp"
#include "libpoll/registration_info.hpp"
#include "libpoll/token.hpp"
#include "writer_bias.hpp"

namespace libpoll::detail {

class PollState;

// Every PollState has a process-unique, never reused id, even, so that a slot's word is its
// owner's id with the busy bit beside it; 0 means "no owner".
inline constexpr std::uint64_t kNoOwner = 0;

[[nodiscard]] std::uint64_t next_poll_id() noexcept;

// What the book knows of one registration.
struct BookEntry {
  Token token{0};
  Interest interest = Interest::readable;
  bool own = false;  // the Poll's Waker, not a user registration
  std::source_location site;
  // The file's identity, filled when the registration is retired, from the selector's record
  // (poll(2), io_uring); live entries take it from the selector when listed.
  std::optional<FileIdentity> file;
};

// A cache line each, so that calls on neighbouring numbers from different threads do not
// share one.
class alignas(64) FdSlot {
 public:
  // The bit free and the owner `owner` (kNoOwner: a free slot): take the bit, in one
  // compare-and-swap (a plain load and store under the writer bias). The registry's slower paths.
  [[nodiscard]] bool try_lock_as(std::uint64_t owner) noexcept {
    const auto take = [owner](std::uint64_t now) { return now == owner ? owner | kBusy : now; };
    return biased_update(process_writer_bias(), word_, std::memory_order_acquire, take) == owner;
  }
  // The same with a plain load and store, inside a writer-bias section the caller holds: the
  // registry's common paths.
  [[nodiscard]] bool try_lock_in_section(std::uint64_t owner) noexcept {
    if (word_.load(std::memory_order_acquire) != owner) return false;
    word_.store(owner | kBusy, std::memory_order_release);
    return true;
  }
  // Takes the bit whoever owns the slot, waiting while another call holds it; returns the owner.
  std::uint64_t lock() noexcept;
  // Clears the bit, leaving `owner` (kNoOwner: none) as the slot's owner.
  void unlock(std::uint64_t owner) noexcept { word_.store(owner, std::memory_order_release); }
  // A snapshot, whether or not a call holds the bit.
  [[nodiscard]] std::uint64_t owner() const noexcept {
    return word_.load(std::memory_order_acquire) & ~kBusy;
  }

  // The descriptor number this slot stands for (set once, before the slot is published).
  [[nodiscard]] int number() const noexcept { return number_; }
  void set_number(int number) noexcept { number_ = number; }

 private:
  static constexpr std::uint64_t kBusy = 1;
  std::atomic<std::uint64_t> word_{0};
  int number_ = -1;

 public:
  BookEntry entry;  // only with the bit held
};

// Two levels: chunks of 1,024 slots, allocated as descriptor numbers reach them. The chunk
// table has a place for every 32-bit number, so that a lookup needs no bounds check: it is 32 MiB
// of address space, of which only the pages naming made chunks are ever touched (one page names
// 512 chunks, half a million numbers).
inline constexpr std::size_t kSlotChunkBits = 10;
inline constexpr std::size_t kSlotChunks = std::size_t{1} << (32 - kSlotChunkBits);
// Numbers from here on (negative ones, as unsigned) never get a slot.
inline constexpr std::size_t kSlotLimit = std::size_t{1} << 31;

inline std::array<std::atomic<FdSlot*>, kSlotChunks> slot_chunks{};
// The last number of the highest chunk made so far: a scan of one Poll's slots ends there, so
// that a register need not note the highest number its Poll holds.
inline std::atomic<int> highest_slot_number{-1};

FdSlot* create_slot(int fd) noexcept;

// The slot of `fd`, or nullptr when no registration ever reached its chunk (or `fd` is
// negative).
[[nodiscard]] inline FdSlot* existing_slot_of(int fd) noexcept {
  const auto index = static_cast<std::size_t>(static_cast<unsigned>(fd));
  FdSlot* chunk = slot_chunks[index >> kSlotChunkBits].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : chunk + (index & ((std::size_t{1} << kSlotChunkBits) - 1));
}

// The same, allocating the chunk on first use; nullptr only when `fd` is negative or memory ran
// out.
[[nodiscard]] inline FdSlot* slot_of(int fd) noexcept {
  FdSlot* slot = existing_slot_of(fd);
  return slot != nullptr ? slot : create_slot(fd);
}

// Live PollStates by id, so that a Poll that finds a number claimed by another can ask it
// whether the claim is still real.
void add_live_poll(std::uint64_t id, const std::shared_ptr<PollState>& state);
void remove_live_poll(std::uint64_t id) noexcept;
[[nodiscard]] std::shared_ptr<PollState> find_live_poll(std::uint64_t id) noexcept;

}  // namespace libpoll::detail

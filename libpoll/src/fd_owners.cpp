#include "fd_owners.hpp"

#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>

namespace libpoll::detail {

namespace {

struct LivePolls {
  std::mutex mutex;
  std::unordered_map<std::uint64_t, std::weak_ptr<PollState>> by_id;
};

LivePolls& live_polls() {
  static LivePolls* polls = new LivePolls();  // never destroyed: Polls may outlive statics
  return *polls;
}

}  // namespace

std::uint64_t next_poll_id() noexcept {
  static std::atomic<std::uint64_t> next{2};  // even: the slot word's low bit is its busy bit
  return next.fetch_add(2, std::memory_order_relaxed);
}

std::uint64_t FdSlot::lock() noexcept {
  const auto take = [](std::uint64_t now) { return (now & kBusy) != 0 ? now : now | kBusy; };
  for (;;) {
    const std::uint64_t before =
        biased_update(process_writer_bias(), word_, std::memory_order_acquire, take);
    if ((before & kBusy) == 0) return before;
    // Another call on this descriptor holds the bit, perhaps across a system call: two threads
    // working on one descriptor at once is rare enough to yield rather than queue.
    std::this_thread::yield();
  }
}

FdSlot* create_slot(int fd) noexcept {
  const auto index = static_cast<std::size_t>(static_cast<unsigned>(fd));
  if (index >= kSlotLimit) return nullptr;
  auto& published = slot_chunks[index >> kSlotChunkBits];
  FdSlot* chunk = published.load(std::memory_order_acquire);
  if (chunk == nullptr) {
    // Never freed: a chunk must outlive every Poll, and any thread may be reading it.
    auto* fresh = new (std::nothrow) FdSlot[std::size_t{1} << kSlotChunkBits];
    if (fresh == nullptr) return nullptr;
    const int first = static_cast<int>(index & ~((std::size_t{1} << kSlotChunkBits) - 1));
    for (int i = 0; i < (1 << kSlotChunkBits); ++i) fresh[i].set_number(first + i);
    if (published.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) {
      chunk = fresh;
      const int last = first + (1 << kSlotChunkBits) - 1;
      int highest = highest_slot_number.load(std::memory_order_relaxed);
      while (last > highest &&
             !highest_slot_number.compare_exchange_weak(highest, last, std::memory_order_release,
                                                        std::memory_order_relaxed)) {
      }
    } else {
      delete[] fresh;  // another thread published one first; `chunk` now holds it
    }
  }
  return chunk + (index & ((std::size_t{1} << kSlotChunkBits) - 1));
}

void add_live_poll(std::uint64_t id, const std::shared_ptr<PollState>& state) {
  auto& polls = live_polls();
  std::lock_guard lock(polls.mutex);
  polls.by_id[id] = state;
}

void remove_live_poll(std::uint64_t id) noexcept {
  auto& polls = live_polls();
  std::lock_guard lock(polls.mutex);
  polls.by_id.erase(id);
}

std::shared_ptr<PollState> find_live_poll(std::uint64_t id) noexcept {
  auto& polls = live_polls();
  std::lock_guard lock(polls.mutex);
  auto found = polls.by_id.find(id);
  return found == polls.by_id.end() ? nullptr : found->second.lock();
}

}  // namespace libpoll::detail

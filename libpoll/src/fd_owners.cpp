#include "fd_owners.hpp"

#include <array>
#include <atomic>
#include <mutex>
#include <unordered_map>

namespace libpoll::detail {

namespace {

// Two levels, so that memory grows with the highest fd used, in 32 KiB chunks, and a chunk never
// moves once published (readers need no lock).
constexpr std::size_t kChunkBits = 12;
constexpr std::size_t kChunkSize = std::size_t{1} << kChunkBits;
constexpr std::size_t kChunks = 1024;

using Chunk = std::array<std::atomic<std::uint64_t>, kChunkSize>;
std::array<std::atomic<Chunk*>, kChunks> chunks{};

std::atomic<std::uint64_t>* slot_for(int fd, bool create) noexcept {
  if (fd < 0) return nullptr;
  const auto index = static_cast<std::size_t>(fd);
  const std::size_t chunk_index = index >> kChunkBits;
  if (chunk_index >= kChunks) return nullptr;
  Chunk* chunk = chunks[chunk_index].load(std::memory_order_acquire);
  if (chunk == nullptr) {
    if (!create) return nullptr;
    auto* fresh = new (std::nothrow) Chunk();
    if (fresh == nullptr) return nullptr;
    if (chunks[chunk_index].compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) {
      chunk = fresh;
    } else {
      delete fresh;  // another thread published one first; `chunk` now holds it
    }
  }
  return &(*chunk)[index & (kChunkSize - 1)];
}

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
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t claim_fd(int fd, std::uint64_t owner) noexcept {
  auto* slot = slot_for(fd, true);
  if (slot == nullptr) return kNoOwner;
  std::uint64_t expected = kNoOwner;
  if (slot->compare_exchange_strong(expected, owner, std::memory_order_acq_rel)) return kNoOwner;
  return expected == owner ? kNoOwner : expected;
}

bool transfer_fd(int fd, std::uint64_t from, std::uint64_t to) noexcept {
  auto* slot = slot_for(fd, false);
  if (slot == nullptr) return true;
  return slot->compare_exchange_strong(from, to, std::memory_order_acq_rel);
}

std::uint64_t owner_of(int fd) noexcept {
  auto* slot = slot_for(fd, false);
  return slot == nullptr ? kNoOwner : slot->load(std::memory_order_acquire);
}

void release_fd(int fd, std::uint64_t owner) noexcept {
  auto* slot = slot_for(fd, false);
  if (slot == nullptr) return;
  slot->compare_exchange_strong(owner, kNoOwner, std::memory_order_acq_rel);
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

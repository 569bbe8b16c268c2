#include "sys/pending_changes.hpp"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <new>
#include <system_error>

#include "libpoll/detail/io_result.hpp"
#include "libpoll/detail/syscall.hpp"

namespace libpoll::sys {

PendingChanges::PendingChanges(int epoll_fd)
    : epoll_fd_(epoll_fd), clock_(std::make_shared<std::atomic<std::uint64_t>>(1)) {
  // Zero pages: only the chunks' pointers that numbers reach are ever touched.
  void* mapped = ::mmap(nullptr, kChunks * sizeof(Entry*), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  chunks_ = static_cast<Entry**>(mapped);
}

PendingChanges::~PendingChanges() {
  for (std::size_t chunk = 0; chunk < kChunks; ++chunk) delete[] chunks_[chunk];
  ::munmap(chunks_, kChunks * sizeof(Entry*));
}

ChangeCounts PendingChanges::counts() const noexcept {
  return ChangeCounts{.made = changes_.total(kApplied),
                      .skipped = changes_.total(kSkipped),
                      .late_failures = late_failures_.load(std::memory_order_relaxed)};
}

PendingChanges::Entry* PendingChanges::grown_slot(int fd) noexcept {
  const auto index = static_cast<std::size_t>(static_cast<unsigned>(fd));
  if (index >= (kChunks << kChunkBits)) return nullptr;  // unknown here: made at once
  auto* chunk = new (std::nothrow) Entry[kChunkSize];
  if (chunk == nullptr) return nullptr;
  std::atomic_ref<Entry*>(chunks_[index >> kChunkBits]).store(chunk, std::memory_order_release);
  return chunk + (index & (kChunkSize - 1));
}

// ---- register ----------------------------------------------------------------------------------

Result<void> PendingChanges::add(int fd, KernelState state, bool may_defer) noexcept {
  // The polling thread records its own sources' registers: to the lock at once.
  if (may_defer && on_polling_thread()) return add_locked(fd, state, may_defer);
  Entry* entry = existing(fd);
  if (entry == nullptr || entry->is_pending()) return add_locked(fd, state, may_defer);
  // Whatever was in `entry` is stale: the book found its registration gone.
  return add_now(fd, *entry, state);
}

inline Result<void> PendingChanges::add_now(int fd, Entry& entry, KernelState state) noexcept {
  epoll_event event{};
  event.events = state.events;
  event.data.u64 = state.data;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) [[unlikely]] {
    entry.forget();
    return detail::last_error();
  }
  entry.start(state);
  return {};
}

Result<void> PendingChanges::add_locked(int fd, KernelState state, bool may_defer) noexcept {
  const std::scoped_lock lock(mutex_);
  Entry* entry = slot(fd);
  if (entry == nullptr) {
    return result_of(make_epoll_ctl(epoll_fd_, call_of(EPOLL_CTL_ADD, fd, state)));
  }
  if (entry->pending.load(std::memory_order_relaxed)) {
    // A recorded deregister of this source is undone. Anything else recorded cannot be there
    // (the book asks the selector, which makes recorded changes first, before it registers a
    // number it holds); it would be made first, as it would have been.
    if (!entry->wants) return undo_removal(fd, *entry, state, may_defer);
    make_recorded(fd, *entry);
  }
  if (may_defer && may_record()) {
    entry->forget();
    entry->wanted = state;
    entry->known = true;
    entry->wants = true;
    entry->fresh = true;
    if (try_record(fd, *entry)) [[likely]]
      return {};
  }
  return add_now(fd, *entry, state);
}

bool PendingChanges::grow_pending() noexcept {
  try {
    pending_.reserve(std::max<std::size_t>(64, pending_.capacity() * 2));
    return true;
  } catch (const std::bad_alloc&) {
    return false;  // not recorded: made at once
  }
}

Result<void> PendingChanges::undo_removal(int fd, Entry& entry, KernelState state,
                                          bool may_defer) noexcept {
  // One change from what the kernel holds, made as a fresh registration (never skipped).
  entry.wanted = state;
  entry.wants = true;
  entry.fresh = true;
  if (may_defer && on_polling_thread()) return {};  // stays recorded
  return apply(fd, entry);
}

// ---- deregister --------------------------------------------------------------------------------

Result<void> PendingChanges::remove(int fd, bool may_defer) noexcept {
  if (may_defer && on_polling_thread()) return remove_locked(fd, may_defer);  // recorded
  Entry* entry = existing(fd);
  if (entry == nullptr || entry->is_pending() || !entry->known || !entry->in_kernel)
    return remove_locked(fd, may_defer);
  // Nothing of an entry that is not known is read, and the next register sets every field
  // (Entry::start, or a full forget() before it is recorded).
  entry->known = false;
  return remove_now(fd);
}

Result<void> PendingChanges::remove_locked(int fd, bool may_defer) noexcept {
  const std::scoped_lock lock(mutex_);
  Entry* entry = find(fd);
  if (entry == nullptr) return remove_now(fd);
  if (!entry->in_kernel) {
    // Its register was recorded and never made: nothing to undo in the kernel.
    entry->forget();
    entry->set_pending(false);
    return {};
  }
  if (may_defer && may_record() && try_record(fd, *entry)) {
    entry->wants = false;
    entry->fresh = false;
    return {};
  }
  // A recorded change dies with its registration: never made on a reused number.
  entry->forget();
  entry->set_pending(false);
  return remove_now(fd);
}

inline Result<void> PendingChanges::remove_now(int fd) noexcept {
  // A non-null event pointer keeps kernels before 2.6.9 happy; later ones ignore it.
  epoll_event unused{};
  return detail::syscall_void(::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &unused));
}

// ---- reregister --------------------------------------------------------------------------------

Result<void> PendingChanges::change(int fd, KernelState wanted, std::uint64_t drained_at,
                                    bool may_defer) noexcept {
  Entry* entry = existing(fd);
  if (entry == nullptr || entry->is_pending() || !entry->known) [[unlikely]]
    return change_locked(fd, wanted, drained_at, may_defer);
  // The common cases, kept lean. Skipped now when the next poll would skip it: the clock that
  // dates the drain moves only when a poll returns, so recording it would change nothing but
  // the cost (a churning loop's every event). Otherwise recorded for the next poll (a libpoll
  // source's, on the polling thread), or made with one EPOLL_CTL_MOD at once.
  if (can_skip(*entry, wanted, drained_at)) {
    changes_.add(kSkipped);
    return {};
  }
  if (may_defer && on_polling_thread()) return change_locked(fd, wanted, drained_at, may_defer);
  entry->wanted = wanted;
  return modify_now(fd, *entry);
}

Result<void> PendingChanges::change_locked(int fd, KernelState wanted, std::uint64_t drained_at,
                                           bool may_defer) noexcept {
  const std::scoped_lock lock(mutex_);
  Entry* entry = find(fd);
  if (entry == nullptr) {
    return result_of(make_epoll_ctl(epoll_fd_, call_of(EPOLL_CTL_MOD, fd, wanted)));
  }
  if (may_defer && record_change(fd, *entry, wanted, drained_at)) return {};
  entry->wanted = wanted;
  if (entry->pending.load(std::memory_order_relaxed)) {
    // Superseded by this change, made now: a recorded register with this change's state, a
    // recorded modify replaced.
    entry->set_pending(false);
    if (!entry->in_kernel || entry->fresh) return apply(fd, *entry);
  }
  if (can_skip(*entry, wanted, drained_at)) {
    changes_.add(kSkipped);
    return {};
  }
  return modify_now(fd, *entry);
}

inline Result<void> PendingChanges::modify_now(int fd, Entry& entry) noexcept {
  changes_.add(kApplied);
  epoll_event event{};
  event.events = entry.wanted.events;
  event.data.u64 = entry.wanted.data;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) [[unlikely]] {
    entry.forget();  // the kernel no longer has (this file, this fd)
    return detail::last_error();
  }
  entry.held = entry.wanted;
  return {};
}

Result<void> PendingChanges::change_foreign(int fd, KernelState wanted,
                                            Interest interest) noexcept {
  Entry* entry = existing(fd);
  if (entry != nullptr && entry->is_pending()) [[unlikely]]
    return change_foreign_locked(fd, wanted, interest);
  if (entry == nullptr || !entry->known) {
    return result_of(make_epoll_ctl(epoll_fd_, call_of(EPOLL_CTL_MOD, fd, wanted)));
  }
  return change_foreign_known(fd, *entry, wanted, interest);
}

Result<void> PendingChanges::change_foreign_locked(int fd, KernelState wanted,
                                                   Interest interest) noexcept {
  const std::scoped_lock lock(mutex_);
  Entry* entry = find(fd);
  if (entry == nullptr) {
    return result_of(make_epoll_ctl(epoll_fd_, call_of(EPOLL_CTL_MOD, fd, wanted)));
  }
  make_recorded(fd, *entry);
  if (!entry->known) return Unexpected(std::errc::no_such_file_or_directory);
  return change_foreign_known(fd, *entry, wanted, interest);
}

Result<void> PendingChanges::change_foreign_known(int fd, Entry& entry, KernelState wanted,
                                                  Interest interest) noexcept {
  entry.wanted = wanted;
  entry.wants = true;
  if (can_skip(entry, wanted,
               detail::oldest_drain(interest, entry.read_drained, entry.write_drained))) {
    return skip_foreign(fd, entry);
  }
  return modify_now(fd, entry);
}

// The number may have been closed, or closed and reused, behind the book's back: the kernel
// would have refused EPOLL_CTL_MOD then, and so must the skip. It compares the file now at the
// number with the one the kernel last accepted a modify for; the first skip of a registration
// asks the kernel, and learns the file. (Files on the anonymous inode, eventfd and the like,
// share one identity: one of them put under the number of another passes for it.)
Result<void> PendingChanges::skip_foreign(int fd, Entry& entry) noexcept {
  struct stat status {};
  if (::fstat(fd, &status) != 0) return detail::last_error();
  const auto device = static_cast<std::uint64_t>(status.st_dev);
  const auto inode = static_cast<std::uint64_t>(status.st_ino);
  if (entry.file_known && entry.file_device == device && entry.file_inode == inode) {
    changes_.add(kSkipped);
    return {};
  }
  auto made = modify_now(fd, entry);
  if (made) {
    entry.file_device = device;
    entry.file_inode = inode;
    entry.file_known = true;
  }
  return made;
}

void PendingChanges::drained(int fd, Interest kind) noexcept {
  // Under the lock: a flush may be settling this entry, if something is recorded for it.
  const std::scoped_lock lock(mutex_);
  Entry* entry = find(fd);
  // Elsewhere a poll may be under way, and the stamp could postdate events the user has not
  // seen: only the polling thread, which is not waiting, dates a drain.
  if (entry == nullptr || !on_polling_thread()) return;
  const std::uint64_t now = clock_->load(std::memory_order_relaxed);
  if (kind.is_readable()) entry->read_drained = now;
  if (kind.is_writable()) entry->write_drained = now;
}

}  // namespace libpoll::sys

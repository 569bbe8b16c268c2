#include "sys/pending_changes.hpp"

#include <fcntl.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <new>

#include "libpoll/detail/io_result.hpp"
#include "libpoll/detail/syscall.hpp"

namespace libpoll::sys {

PendingChanges::PendingChanges(int epoll_fd)
    : epoll_fd_(epoll_fd), clock_(std::make_shared<std::atomic<std::uint64_t>>(1)) {}

ChangeCounts PendingChanges::counts() const noexcept {
  const std::scoped_lock lock(mutex_);
  return ChangeCounts{.made = applied_, .skipped = skipped_, .late_failures = late_failures_};
}

void PendingChanges::begin_poll_locked() noexcept {
  const std::scoped_lock lock(mutex_);
  poller_.store(this_thread_tag(), std::memory_order_relaxed);
  if (!pending_.empty()) flush_locked();
}

void PendingChanges::flush() noexcept {
  const std::scoped_lock lock(mutex_);
  flush_locked();
}

void PendingChanges::flush_locked() noexcept {
  for (const int fd : pending_) {
    Entry* entry = find(fd);
    // Undone since: deregistered (and maybe registered anew), or made at once by another thread.
    if (entry == nullptr || !entry->pending) continue;
    entry->pending = false;
    if (can_skip(*entry, entry->wanted, entry->drained_at)) {
      ++skipped_;
      continue;
    }
    // Only a descriptor closed (or its number reused) since the call fails here; the book still
    // lists it, and the audit finds it missing from the kernel's list.
    if (!apply(fd, *entry, entry->wanted)) ++late_failures_;
  }
  pending_.clear();
  recorded_.store(false, std::memory_order_release);
}

Result<void> PendingChanges::modify(int fd, KernelState wanted) noexcept {
  epoll_event event{};
  event.events = wanted.events;
  event.data.u64 = wanted.data;
  ++applied_;
  return detail::syscall_void(::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event));
}

Result<void> PendingChanges::apply(int fd, Entry& entry, KernelState wanted) noexcept {
  auto changed = modify(fd, wanted);
  if (changed) {
    entry.held = wanted;
  } else {
    entry.known = false;  // the kernel no longer has (this file, this fd)
  }
  return changed;
}

void PendingChanges::added(int fd, KernelState state) noexcept {
  const std::scoped_lock lock(mutex_);
  const auto index = static_cast<std::size_t>(fd);
  try {
    if (index >= entries_.size()) entries_.resize(std::max(index + 1, entries_.size() * 2));
  } catch (const std::bad_alloc&) {
    return;  // unknown here: its changes are made at once
  }
  entries_[index] = Entry{.held = state, .wanted = state, .known = true};
}

void PendingChanges::removed(int fd) noexcept {
  const std::scoped_lock lock(mutex_);
  // A recorded change dies with its registration: never made on a number reused since.
  if (Entry* entry = find(fd)) *entry = Entry{};
}

Result<void> PendingChanges::change_foreign(int fd, KernelState wanted,
                                            Interest interest) noexcept {
  const std::scoped_lock lock(mutex_);
  Entry* entry = find(fd);
  if (entry == nullptr) return modify(fd, wanted);
  entry->pending = false;  // superseded by this change, made now
  entry->wanted = wanted;
  if (can_skip(*entry, wanted,
               detail::oldest_drain(interest, entry->read_drained, entry->write_drained))) {
    // Closed behind the book's back: the kernel would have said so, and so does this call.
    if (::fcntl(fd, F_GETFD) < 0) return detail::last_error();
    ++skipped_;
    return {};
  }
  return apply(fd, *entry, wanted);
}

Result<void> PendingChanges::change(int fd, KernelState wanted, std::uint64_t drained_at,
                                    bool may_defer) noexcept {
  const std::scoped_lock lock(mutex_);
  Entry* entry = find(fd);
  if (entry == nullptr) return modify(fd, wanted);  // not known here: the kernel decides
  if (may_defer && on_polling_thread()) {
    try {
      if (!entry->pending) pending_.push_back(fd);
      recorded_.store(true, std::memory_order_relaxed);
      entry->wanted = wanted;
      entry->drained_at = drained_at;
      entry->pending = true;
      return {};
    } catch (const std::bad_alloc&) {
      // No room to record it: made at once below.
    }
  }
  entry->pending = false;  // superseded by this change, made now
  entry->wanted = wanted;
  if (can_skip(*entry, wanted, drained_at)) {
    ++skipped_;
    return {};
  }
  return apply(fd, *entry, wanted);
}

void PendingChanges::drained(int fd, Interest kind) noexcept {
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

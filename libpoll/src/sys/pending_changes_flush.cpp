// The change table's making of what is recorded: at the start of a poll, for the audit, before a
// libpoll source closes its descriptor; and, in a forked child, the dropping of what its parent
// recorded.

#include <sys/epoll.h>

#include <mutex>
#include <new>

#include "sys/pending_changes.hpp"

namespace libpoll::sys {

void PendingChanges::look_up_poller_ring() noexcept {
  poller_ring_ = EpollCtlRing::of_this_thread();
  poller_ring_generation_ = detail::generation();
}

void PendingChanges::begin_poll_locked() noexcept {
  const std::scoped_lock lock(mutex_);
  if (inherited()) drop_inherited();
  if (poller_.load(std::memory_order_relaxed) != this_thread_tag()) {
    poller_.store(this_thread_tag(), std::memory_order_relaxed);
    // Looked up at the new poller's first register or deregister: a thread that never makes
    // one between its polls never opens a ring.
    poller_ring_generation_ = kNotLookedUp;
  }
  if (!pending_.empty()) flush_locked();
}

void PendingChanges::flush() noexcept {
  const std::scoped_lock lock(mutex_);
  if (inherited()) drop_inherited();
  flush_locked();
}

void PendingChanges::drop_inherited() noexcept {
  for (const int fd : pending_) {
    Entry* entry = existing(fd);
    if (entry == nullptr || !entry->pending.load(std::memory_order_relaxed)) continue;
    if (!entry->in_kernel) {
      entry->forget();  // a register the parent never made
    } else {
      entry->wanted = entry->held;
      entry->wants = true;
      entry->fresh = false;
    }
    entry->set_pending(false);
  }
  pending_.clear();
  recorded_.store(false, std::memory_order_release);
  recorded_in_.store(detail::generation(), std::memory_order_relaxed);
}

EpollCtl PendingChanges::call_for(int fd, const Entry& entry) const noexcept {
  if (entry.wants && !entry.in_kernel) return call_of(EPOLL_CTL_ADD, fd, entry.wanted);
  if (!entry.wants) return call_of(entry.in_kernel ? EPOLL_CTL_DEL : 0, fd);
  return call_of(EPOLL_CTL_MOD, fd, entry.wanted);
}

bool PendingChanges::settle(Entry& entry, const EpollCtl& call) noexcept {
  if (call.op == EPOLL_CTL_MOD) changes_.add(kApplied);
  if (call.result != 0) {
    // The kernel no longer has (this file, this fd), or never took it: the book still lists
    // it, and the audit finds it missing from the kernel's list. A removal that failed may
    // have left the registration to a duplicate of the file.
    if (call.op == EPOLL_CTL_DEL) removal_lost_.store(true, std::memory_order_release);
    entry.forget();
    return false;
  }
  if (call.op == EPOLL_CTL_DEL || call.op == 0) {
    entry.forget();
  } else {
    entry.held = entry.wanted;
    entry.in_kernel = true;
    entry.fresh = false;
  }
  return true;
}

Result<void> PendingChanges::apply(int fd, Entry& entry) noexcept {
  EpollCtl call = call_for(fd, entry);
  entry.set_pending(false);
  if (call.op != 0) call.result = make_epoll_ctl(epoll_fd_, call);
  settle(entry, call);
  return result_of(call.result);
}

void PendingChanges::make_recorded(int fd, Entry& entry) noexcept {
  if (!entry.pending.load(std::memory_order_relaxed)) return;
  entry.set_pending(false);
  if (entry.wants && can_skip(entry, entry.wanted, entry.drained_at)) {
    changes_.add(kSkipped);
    return;
  }
  if (!apply(fd, entry)) count(late_failures_);
}

void PendingChanges::flush_locked() noexcept {
  batch_.clear();
  for (const int fd : pending_) {
    Entry* entry = existing(fd);
    // Undone since (deregistered before it was made, or made at once by another thread), or
    // already in the batch (recorded again after being undone).
    if (entry == nullptr || entry->pending.load(std::memory_order_relaxed) != Entry::kRecorded)
      continue;
    if (entry->wants && can_skip(*entry, entry->wanted, entry->drained_at)) {
      changes_.add(kSkipped);
      entry->set_pending(false);
      continue;
    }
    const EpollCtl call = call_for(fd, *entry);
    if (call.op == 0) {
      entry->forget();
      entry->set_pending(false);
      continue;
    }
    try {
      batch_.push_back(call);
      entry->pending.store(Entry::kInBatch, std::memory_order_relaxed);
    } catch (const std::bad_alloc&) {
      EpollCtl alone = call;
      alone.result = make_epoll_ctl(epoll_fd_, alone);
      if (!settle(*entry, alone)) count(late_failures_);
      entry->set_pending(false);
    }
  }
  pending_.clear();
  if (!batch_.empty()) {
    if (EpollCtlRing* ring = EpollCtlRing::of_this_thread()) {
      ring->make(epoll_fd_, batch_);
    } else {
      for (EpollCtl& call : batch_) call.result = make_epoll_ctl(epoll_fd_, call);
    }
    // Only a descriptor closed (or its number reused) behind the source's back fails here.
    // `pending` is cleared last: the entry is its descriptor's call's again once it reads so.
    for (const EpollCtl& call : batch_) {
      Entry& entry = *existing(call.fd);
      if (!settle(entry, call)) count(late_failures_);
      entry.set_pending(false);
    }
  }
  // Only now that the kernel has the batch: begin_poll and flush_recorded skip the lock when
  // they read false, and must not wait in epoll_wait, or close a descriptor, ahead of a change
  // another thread is still making.
  recorded_.store(false, std::memory_order_release);
}

}  // namespace libpoll::sys

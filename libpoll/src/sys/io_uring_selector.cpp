#include "sys/io_uring_selector.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <mutex>
#include <new>

#include "libpoll/detail/syscall.hpp"
#include "libpoll/error.hpp"
#include "sys/own_table.hpp"

namespace libpoll::sys {

namespace {

using Mask = std::uint32_t;

// User data of requests that are no registration (generation 0 is never one).
constexpr std::uint64_t kWakeData = 0;
constexpr std::uint64_t kRemovalData = 1;

std::uint32_t generation_of(std::uint64_t data) noexcept {
  return static_cast<std::uint32_t>(data >> 32);
}

}  // namespace

Result<void> IoUringSelector::select(Events& events, int timeout_ms) noexcept {
  using Clock = std::chrono::steady_clock;
  events.clear();
  if (events.capacity() == 0) return Unexpected(std::errc::invalid_argument);    // as epoll_wait
  if (in_forked_child()) return Unexpected(std::errc::operation_not_supported);  // see the header
  const auto deadline =
      timeout_ms > 0 ? Clock::now() + std::chrono::milliseconds(timeout_ms) : Clock::time_point{};
  int wait_ms = timeout_ms;
  for (;;) {
    bool queued_all = false;
    {
      const std::scoped_lock lock(mutex_);
      if (single_thread_ && issuer_ != this_thread_tag()) {
        if (auto taken = take_ring_here(); !taken) return taken;
      }
      poller_ = this_thread_tag();
      if (!paused_.empty()) resume_paused();
      // With changes left over for want of room, this round only submits and reaps (which
      // makes room), so that they are not held back by a wait; nor is readiness owed.
      queued_all = fill_queue() && !owes();
      ++batch_;
      blocked_ = queued_all && wait_ms != 0 && io_uring_cq_ready(&ring_) == 0;
      submitting_ = true;
    }
    auto waited = submit_and_wait(queued_all ? wait_ms : 0);
    const std::scoped_lock lock(mutex_);
    blocked_ = false;
    submitting_ = false;
    if (!waited && waited.error() == std::errc::file_exists && issuer_ != nullptr) {
      // Bound to a thread that has ended, whose tag this one reuses (a ring kept idle): the
      // submitted changes went nowhere, and are made again in a ring of this thread's.
      if (auto taken = take_ring_here(); !taken) return taken;
      continue;
    }
    if (!waited) return waited;
    unsigned completions = 0;
    std::size_t taken = reap(events, completions);
    if (issuer_ != nullptr) taken = reap_deferred(events, completions);
    clock_->fetch_add(1, std::memory_order_release);  // drains dated before now predate these
    // Nothing taken after a wake-up means an internal wake-up or completions of requests that
    // were replaced meanwhile: wait again, for what is left of the timeout.
    if (taken > 0 || wait_ms == 0) return {};
    if (timeout_ms > 0) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return {};
      wait_ms = static_cast<int>(std::min<std::chrono::milliseconds::rep>(left.count(), INT_MAX));
    }
  }
}

unsigned IoUringSelector::publish_queue() noexcept {
  // What io_uring_submit does before it enters the kernel, done here so that the submission
  // and the wait make one io_uring_enter with a result this selector can read: liburing's
  // combined call re-enters after a signal that arrived once its submissions were in.
  io_uring_sq& queue = ring_.sq;
  const unsigned tail = queue.sqe_tail;
  if (queue.sqe_head != tail) {
    queue.sqe_head = tail;
    std::atomic_ref<unsigned>(*queue.ktail).store(tail, std::memory_order_release);
  }
  return tail - std::atomic_ref<unsigned>(*queue.khead).load(std::memory_order_acquire);
}

Result<void> IoUringSelector::submit_and_wait(int timeout_ms) noexcept {
  using Clock = std::chrono::steady_clock;
  const unsigned submitting = publish_queue();
  const bool wait = timeout_ms != 0 && completions_ready() == 0;
  __kernel_timespec timeout{.tv_sec = timeout_ms / 1000,
                            .tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000};
  io_uring_getevents_arg argument{};
  argument.ts = timeout_ms > 0 ? reinterpret_cast<std::uint64_t>(&timeout) : 0;
  const auto start = wait && timeout_ms > 0 ? Clock::now() : Clock::time_point{};
  const int result = io_uring_enter2(static_cast<unsigned>(ring_.ring_fd), submitting, wait ? 1 : 0,
                                     IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                                     reinterpret_cast<sigset_t*>(&argument), sizeof argument);
  if (result >= 0 && wait && completions_ready() == 0) {
    // The kernel reports the submissions rather than why the wait ended: the time being up,
    // or a signal, which goes to the caller (as with epoll_wait).
    if (timeout_ms > 0 && Clock::now() - start >= std::chrono::milliseconds(timeout_ms)) return {};
    return Unexpected(std::errc::interrupted);
  }
  // ETIME: the time is up; EBUSY: completions wait in the kernel's overflow list, and reaping
  // makes room. EINTR goes to the caller, who decides what a signal means.
  if (result >= 0 || result == -ETIME || result == -EBUSY) return {};
  return Unexpected(std::error_code(-result, std::system_category()));
}

bool IoUringSelector::fill_queue() noexcept {
  auto next = [this]() noexcept -> io_uring_sqe* {
    if (io_uring_sqe* entry = io_uring_get_sqe(&ring_)) return entry;
    // A full queue: this batch goes ahead of the wait. (It may fail with EBUSY while the
    // kernel's completion overflow list cannot be flushed; the reap that follows makes room.)
    (void)io_uring_submit(&ring_);
    return io_uring_get_sqe(&ring_);
  };
  if (!wake_armed_) {
    io_uring_sqe* entry = next();
    if (entry == nullptr) return false;
    io_uring_prep_poll_multishot(entry, wake_->fd(), POLLIN);
    io_uring_sqe_set_data64(entry, kWakeData);
    wake_armed_ = true;
  }
  std::size_t done = 0;
  for (const Change& change : changes_) {
    if (still_wanted(change)) {
      io_uring_sqe* entry = next();
      if (entry == nullptr) break;
      prepare(change, entry);
    }
    ++done;
  }
  changes_.erase(changes_.begin(), changes_.begin() + static_cast<std::ptrdiff_t>(done));
  filled_to_ = ring_.sq.sqe_tail;
  return changes_.empty();
}

bool IoUringSelector::still_wanted(const Change& change) noexcept {
  if (change.kind == Kind::receive) {
    Entry* target = live(fd_of(change.data));
    return target != nullptr && reads_ahead(*target) && target->receive_data == 0 &&
           names_registered_file(fd_of(change.data), *target);
  }
  if (change.kind == Kind::cancel) {
    const Entry* owner = live(fd_of(change.target));
    return owner != nullptr && owner->receive_data == change.target;
  }
  if (change.kind == Kind::remove) {
    // Kept after all: a reregister went back to the request the kernel has (keep_held).
    const Entry* owner = live(fd_of(change.target));
    return owner == nullptr || owner->kernel_data != change.target;
  }
  const Entry* target = live(fd_of(change.data));
  // Undone before it was submitted: deregistered, or replaced by a later reregister.
  if (target == nullptr || target->generation != generation_of(change.data) ||
      target->kernel_data != 0) {
    return false;
  }
  // Closed since the change was recorded, without deregister: a request on the number would
  // fail, or, were the number reused, watch another file under this registration's token.
  if (names_registered_file(fd_of(change.data), *target)) return true;
  ++counts_.late_failures;
  return false;
}

void IoUringSelector::prepare(const Change& change, io_uring_sqe* entry) noexcept {
  ++counts_.made;
  if (change.kind == Kind::receive) {
    const int fd = fd_of(change.data);
    Entry& target = entries_[static_cast<std::size_t>(fd)];
    io_uring_prep_recv_multishot(entry, fd, nullptr, 0, 0);
    entry->flags |= IOSQE_BUFFER_SELECT;
    entry->buf_group = kReceiveGroup;
    const std::uint64_t data = user_data(fd, target.generation) | kReceiveTag;
    io_uring_sqe_set_data64(entry, data);
    target.receive_data = data;
    target.received->set_receiving(true);  // from now on the store is read, not the descriptor
    return;
  }
  if (change.kind == Kind::cancel) {
    io_uring_prep_cancel64(entry, change.target, 0);
    io_uring_sqe_set_data64(entry, kRemovalData);
    entry->flags |= static_cast<std::uint8_t>(skip_success_);
    return;
  }
  if (change.kind == Kind::remove) {
    io_uring_prep_poll_remove(entry, change.target);
    io_uring_sqe_set_data64(entry, kRemovalData);
    entry->flags |= static_cast<std::uint8_t>(skip_success_);
    if (Entry* owner = live(fd_of(change.target)); owner && owner->held_data == change.target) {
      owner->held_data = 0;
    }
    return;
  }
  Entry& target = entries_[static_cast<std::size_t>(fd_of(change.data))];
  const Mask mask = poll_request_mask(target, target.interest);
  io_uring_prep_poll_multishot(entry, fd_of(change.data), mask);
  io_uring_sqe_set_data64(entry, change.data);
  target.kernel_data = change.data;
  target.held_data = change.data;
  target.held_mask = mask;
}

inline bool IoUringSelector::take(const io_uring_cqe& completion, Events& events,
                                  std::size_t& count) noexcept {
  if ((completion.user_data & kReceiveTag) != 0) [[unlikely]]
    return take_received(completion, events, count);
  const bool more = (completion.flags & IORING_CQE_F_MORE) != 0;
  if (completion.user_data == kWakeData) {
    (void)wake_->reset();
    if (!more) wake_armed_ = false;
    return true;
  }
  Entry* entry = live(fd_of(completion.user_data));
  if (!more && entry != nullptr && entry->held_data == completion.user_data) entry->held_data = 0;
  // A removal's own completion, or one of a request that was replaced or removed since.
  if (entry == nullptr || entry->kernel_data != completion.user_data) return true;
  Mask bits =
      confirm_priority(fd_of(completion.user_data),
                       completion.res > 0 ? completion.res & (entry->interest | kFaults) : 0);
  // A half-closed stream is readable (the read returns end of stream), and epoll says so.
  if ((bits & POLLRDHUP) != 0) bits |= entry->interest & POLLIN;
  Event* const out = detail::EventsAccess::data(events);
  // Several wake-ups of one source since the last poll make one event, as on epoll.
  const bool merge =
      entry->batch == batch_ && entry->slot < count && out[entry->slot].token() == entry->token;
  const bool full = bits != 0 && !merge && count == events.capacity();
  if (full && !owe(fd_of(completion.user_data), *entry, bits)) return false;  // stays queued
  if (!more) {
    // The request ended: the completion queue was full (the kernel then ends a multishot
    // request), the thread that submitted it exited (the kernel cancels it at the next
    // wake-up: a Poll polled from a new thread), or it failed (a descriptor closed before it
    // was submitted). libpoll's own removals never get here: they took the request's user data
    // out of the entry first. A new request reports the source if it is still ready, so no
    // edge is lost.
    entry->kernel_data = 0;
    if (completion.res >= 0 || completion.res == -ECANCELED) {
      (void)record(Change{Kind::add, user_data(fd_of(completion.user_data), entry->generation)});
    } else {
      ++counts_.late_failures;  // closed by another thread while its request was submitted
    }
  }
  if (bits == 0 || full) return true;
  emit(*entry, bits, merge, out, count);
  return true;
}

inline void IoUringSelector::emit(Entry& entry, Mask bits, bool merge, Event* out,
                                  std::size_t& count) noexcept {
  if (merge) {
    out[entry.slot] =
        detail::EventAccess::make(entry.token, detail::EventAccess::bits(out[entry.slot]) | bits);
    return;
  }
  entry.batch = batch_;
  entry.slot = static_cast<std::uint32_t>(count);
  out[count++] = detail::EventAccess::make(entry.token, bits);
}

bool IoUringSelector::report(int fd, Entry& entry, Mask bits, Events& events,
                             std::size_t& count) noexcept {
  Event* const out = detail::EventsAccess::data(events);
  const bool merge =
      entry.batch == batch_ && entry.slot < count && out[entry.slot].token() == entry.token;
  if (!merge && count == events.capacity()) return owe(fd, entry, bits);
  emit(entry, bits, merge, out, count);
  return true;
}

bool IoUringSelector::owe(int fd, Entry& entry, Mask bits) noexcept {
  if (entry.owed_generation != entry.generation) {
    entry.owed = 0;  // owed by a request replaced since: the new one reports afresh
    entry.owed_generation = entry.generation;
  }
  if (!entry.queued) {
    try {
      owed_.push_back(fd);
    } catch (const std::bad_alloc&) {
      return false;
    }
    entry.queued = true;
  }
  entry.owed |= bits;
  return true;
}

void IoUringSelector::pay_owed(Events& events, std::size_t& count) noexcept {
  Event* const out = detail::EventsAccess::data(events);
  while (owes() && count < events.capacity()) {
    const int fd = owed_[owed_head_++];
    Entry* entry = live(fd);
    // Deregistered since, or listed twice (a registration replaced while queued).
    if (entry == nullptr || !entry->queued) continue;
    entry->queued = false;
    const Mask bits =
        entry->owed_generation == entry->generation ? entry->owed & (entry->interest | kFaults) : 0;
    entry->owed = 0;
    if (bits == 0) continue;
    entry->batch = batch_;
    entry->slot = static_cast<std::uint32_t>(count);
    out[count++] = detail::EventAccess::make(entry->token, bits);
  }
  // Under a load that always owes, the paid part is dropped once it is half the list, so that
  // the list stays within twice the sources owed.
  if (!owes() || owed_head_ * 2 >= owed_.size()) {
    owed_.erase(owed_.begin(), owed_.begin() + static_cast<std::ptrdiff_t>(owed_head_));
    owed_head_ = 0;
  }
}

std::size_t IoUringSelector::reap(Events& events, unsigned& completions) noexcept {
  std::size_t count = events.size();
  pay_owed(events, count);
  // What the kernel had posted when the reap began, read once; later completions wait for the
  // next poll, as epoll_wait's later events do. Those that do not fit are owed.
  const unsigned ready = io_uring_cq_ready(&ring_);
  const unsigned head = *ring_.cq.khead;
  unsigned seen = 0;
  while (seen < ready) {
    const io_uring_cqe& completion = ring_.cq.cqes[(head + seen) & ring_.cq.ring_mask];
    if (!take(completion, events, count)) break;  // no memory to owe: the rest waits
    ++seen;
  }
  io_uring_cq_advance(&ring_, seen);
  detail::EventsAccess::set_size(events, count);
  completions = seen;
  return count;
}

std::size_t IoUringSelector::reap_deferred(Events& events, unsigned completions) noexcept {
  std::size_t before = 0;
  // Each round adds an event or ends: sources written to without pause, whose completions
  // merge into events already taken, cannot hold the poll.
  while (completions >= kDeferredWorkPass && events.size() > before &&
         events.size() < events.capacity()) {
    before = events.size();
    // Neither submits nor waits; an error (none is expected on the ring's own thread) leaves
    // the rest for the next poll.
    if (io_uring_enter2(static_cast<unsigned>(ring_.ring_fd), 0, 0, IORING_ENTER_GETEVENTS, nullptr,
                        0) < 0) {
      break;
    }
    (void)reap(events, completions);
  }
  return events.size();
}

}  // namespace libpoll::sys

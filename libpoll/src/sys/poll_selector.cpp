#include "sys/poll_selector.hpp"

#include <fcntl.h>
#include <linux/sock_diag.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <mutex>

#include "libpoll/detail/io_result.hpp"
#include "libpoll/detail/syscall.hpp"
#include "sys/open_file.hpp"
#include "sys/own_table.hpp"

namespace libpoll::sys {

namespace {

using Mask = std::uint32_t;  // as PollSelector::Mask

// POLLRDHUP with readable, so that a peer's half-close is reported as read-closed (as on epoll).
constexpr Mask kReadable = POLLIN | POLLRDHUP;
constexpr Mask kWritable = POLLOUT;
constexpr Mask kPriority = POLLPRI;
// Armed and disarmed one bit each: a half-close (POLLRDHUP) after a readable event that was not
// acted on is a new edge, as it is for epoll.
constexpr Mask kKinds[] = {POLLIN, POLLRDHUP, kWritable, kPriority};
// Reported whatever the interest; poll(2) sets them without being asked.
constexpr Mask kFaults = POLLHUP | POLLERR;

Mask to_mask(Interest interest) noexcept {
  Mask mask = 0;
  if (interest.is_readable()) mask |= kReadable;
  if (interest.is_writable()) mask |= kWritable;
  if (interest.is_priority()) mask |= kPriority;
  return mask;
}

Mask revents_of(const pollfd& polled) noexcept {
  return static_cast<std::uint16_t>(polled.revents);
}

pollfd to_pollfd(int fd, Mask events) noexcept {
  return pollfd{.fd = fd, .events = static_cast<short>(events), .revents = 0};
}

// What readable looks like now, so that a probe can tell an arrival while a source stays
// readable: the FIONREAD byte count (every byte of a pipe or stream, but only the first datagram
// of a datagram socket) and, for a socket, the receive memory in use (SO_MEMINFO), which grows
// with each datagram. `unknown` when the file has neither (eventfd, timerfd): it then never
// changes.
std::uint64_t readable_state(int fd, bool socket, std::uint64_t unknown) noexcept {
  int bytes = 0;
  const bool counted = ::ioctl(fd, FIONREAD, &bytes) == 0;
  std::uint32_t memory[SK_MEMINFO_VARS] = {};
  socklen_t size = sizeof memory;
  const bool measured = socket && ::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, memory, &size) == 0;
  if (!counted && !measured) return unknown;
  return std::uint64_t{memory[SK_MEMINFO_RMEM_ALLOC]} << 32 | static_cast<std::uint32_t>(bytes);
}

}  // namespace

Result<std::unique_ptr<PollSelector>> PollSelector::create() noexcept {
  auto wake = PipeWaker::create();
  if (!wake) return Unexpected(wake.error());
  return std::unique_ptr<PollSelector>(new PollSelector(std::move(*wake)));
}

PollSelector::~PollSelector() = default;

Result<void> PollSelector::select(Events& events, int timeout_ms) noexcept {
  using Clock = std::chrono::steady_clock;
  events.clear();
  if (events.capacity() == 0) return Unexpected(std::errc::invalid_argument);  // as epoll_wait
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));

  std::unique_lock lock(mutex_);
  for (;;) {
    if (auto probed = probe_disarmed(); !probed && !is_would_block(probed.error())) {
      return probed;
    }
    // An internal wake-up must not restart the caller's timeout: wait only for what is left.
    int wait_ms = timeout_ms;
    if (timeout_ms > 0) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      wait_ms =
          static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(left.count(), 0, INT_MAX));
    }
    prepare_poll();
    blocked_ = wait_ms != 0;
    lock.unlock();
    const int ready = ::poll(poll_set_.data(), poll_set_.size(), wait_ms);
    const int error = errno;
    lock.lock();
    blocked_ = false;
    if (ready < 0) {
      if (error == EAGAIN) continue;
      // EINTR included: the caller decides what a signal means.
      return Unexpected(std::error_code(error, std::system_category()));
    }
    // Nothing collected after a ready count means an internal wake-up or results that went
    // stale meanwhile: poll again, unless the time is up.
    if (ready == 0 || collect(events) > 0 || wait_ms == 0) return {};
  }
}

Result<void> PollSelector::probe_disarmed() noexcept {
  probe_set_.clear();
  for (const auto& [fd, entry] : table_) {
    const Mask disarmed = entry.interest & ~entry.armed;
    if (disarmed != 0 && !entry.closed) probe_set_.push_back(to_pollfd(fd, disarmed));
  }
  if (probe_set_.empty()) return {};
  // Zero timeout: it never blocks, so the lock may stay held.
  if (::poll(probe_set_.data(), probe_set_.size(), 0) < 0) return detail::last_error();

  for (const pollfd& probed : probe_set_) {
    Entry& entry = table_.find(probed.fd)->second;  // there: the lock was held all along
    const Mask revents = revents_of(probed);
    if ((revents & POLLNVAL) != 0) {
      entry.closed = true;
      continue;
    }
    const Mask faults = revents & kFaults;
    if ((faults & ~entry.faults_seen) != 0) {
      // A hang-up or error appeared while kinds were disarmed: an edge, reported with whatever
      // else is ready.
      entry.armed = entry.interest;
    } else if (faults == 0 && entry.foreign && !entry.reports_drains) {
      entry.armed = entry.interest;  // see the header: a foreign fd never loses an edge
    } else if (faults == 0) {
      for (Mask kind : kKinds) {
        if ((entry.interest & kind) != 0 && (revents & kind) == 0) entry.armed |= kind;
      }
      if ((entry.armed & POLLIN) == 0 && (entry.interest & POLLIN) != 0 &&
          readable_state(probed.fd, entry.socket, entry.readable_state) != entry.readable_state) {
        entry.armed |= POLLIN;  // still readable, but something arrived (or was read)
      }
    }
    // A persisting fault keeps everything disarmed: it is not new, and would be reported again
    // on every call.
    entry.faults_seen = faults;
  }
  return {};
}

void PollSelector::prepare_poll() noexcept {
  poll_set_.clear();
  slots_.clear();
  poll_set_.push_back(to_pollfd(wake_->fd(), POLLIN));
  for (const auto& [fd, entry] : table_) {
    // Entries with nothing armed stay out, so that a disarmed hang-up cannot end the wait.
    if (entry.armed == 0 || entry.closed) continue;
    poll_set_.push_back(to_pollfd(fd, entry.armed));
    slots_.push_back(Slot{fd, entry.generation});
  }
}

std::size_t PollSelector::collect(Events& events) noexcept {
  if (poll_set_.front().revents != 0) wake_->drain();
  Event* const out = detail::EventsAccess::data(events);
  std::size_t count = 0;
  // Resume after the last fd delivered, so that when more are ready than fit, each gets its turn.
  const std::size_t total = slots_.size();
  const std::size_t first = static_cast<std::size_t>(
      std::upper_bound(slots_.begin(), slots_.end(), resume_after_,
                       [](int fd, const Slot& slot) { return fd < slot.fd; }) -
      slots_.begin());
  for (std::size_t i = 0; i < total && count < events.capacity(); ++i) {
    const std::size_t at = (first + i) % total;
    const Mask revents = revents_of(poll_set_[at + 1]);
    if (revents == 0) continue;
    const int fd = slots_[at].fd;
    auto found = table_.find(fd);
    // Deregistered, or registered again, while the poll ran: the result is not this entry's.
    if (found == table_.end() || found->second.generation != slots_[at].generation) continue;
    Entry& entry = found->second;
    if ((revents & POLLNVAL) != 0) {
      entry.closed = true;
      continue;
    }
    // The kinds armed now: a reregister while the poll ran may have removed some.
    Mask bits = revents & (entry.armed | kFaults);
    if (bits == 0) continue;
    // A half-closed stream is readable (the read returns end of stream), and epoll says so.
    if ((bits & POLLRDHUP) != 0) bits |= entry.interest & POLLIN;
    out[count++] = detail::EventAccess::make(entry.token, bits);
    resume_after_ = fd;
    if (entry.waker) {
      PipeWaker::drain(fd);  // stays armed: the next wake() is the next event
      continue;
    }
    entry.faults_seen = bits & kFaults;
    if (entry.faults_seen != 0) {
      entry.armed = 0;
    } else {
      for (Mask kind : kKinds) {
        if ((bits & kind) != 0) entry.armed &= ~kind;
      }
    }
    if ((bits & kReadable) != 0) entry.readable_state = readable_state(fd, entry.socket, 0);
  }
  detail::EventsAccess::set_size(events, count);
  return count;
}

void PollSelector::wake_if_blocked() noexcept {
  // A failed write leaves the change for the next select(); nothing better can be done here.
  if (blocked_) (void)wake_->wake();
}

Result<void> PollSelector::register_fd(int fd, Token token, Interest interest, IoPath path,
                                       bool /*may_defer*/) noexcept {
  struct stat status {};
  if (auto statted = detail::syscall_void(::fstat(fd, &status)); !statted) return statted;
  // epoll refuses files that are always ready; so does this backend.
  if (is_always_ready(fd, status.st_mode)) {
    return Unexpected(std::errc::operation_not_permitted);
  }
  const Identity identity{status.st_dev, status.st_ino};
  const int access_mode = access_mode_of(fd, status.st_mode);

  const std::scoped_lock lock(mutex_);
  auto [at, added] = table_.try_emplace(fd);
  // A different file under a registered number: the old one was closed without deregister,
  // and epoll would have dropped it. The new registration replaces it.
  if (!added && at->second.identity == identity) return Unexpected(std::errc::file_exists);
  Entry& entry = at->second;
  entry = Entry{.token = token,
                .interest = to_mask(interest),
                .armed = to_mask(interest),
                .generation = ++next_generation_,
                .identity = identity,
                .access_mode = access_mode,
                .socket = S_ISSOCK(status.st_mode),
                .foreign = path == IoPath::foreign};
  if (auto waker = unregistered_wakers_.find(fd); waker != unregistered_wakers_.end()) {
    entry.waker = waker->second == identity;
    unregistered_wakers_.erase(waker);
  }
  wake_if_blocked();
  return {};
}

Result<void> PollSelector::reregister_fd(int fd, Token token, Interest interest, IoPath /*path*/,
                                         std::uint64_t /*drained_at*/) noexcept {
  const std::scoped_lock lock(mutex_);
  auto found = table_.find(fd);
  if (found == table_.end()) return Unexpected(std::errc::no_such_file_or_directory);
  if (auto gone = check_still_there(fd, found->second); !gone) {
    table_.erase(found);
    return gone;
  }
  Entry& entry = found->second;
  entry.token = token;
  entry.interest = entry.armed = to_mask(interest);
  entry.faults_seen = 0;
  entry.closed = false;
  wake_if_blocked();
  return {};
}

Result<void> PollSelector::deregister_fd(int fd, bool /*may_defer*/) noexcept {
  const std::scoped_lock lock(mutex_);
  auto found = table_.find(fd);
  if (found == table_.end()) return Unexpected(std::errc::no_such_file_or_directory);
  auto there = check_still_there(fd, found->second);
  table_.erase(found);
  wake_if_blocked();
  return there;
}

Result<void> PollSelector::check_still_there(int fd, const Entry& entry) noexcept {
  // As epoll answers: a closed number is EBADF, a number now naming another file ENOENT (that
  // file was never registered). Either way the registration is gone.
  struct stat status {};
  if (::fstat(fd, &status) != 0) return Unexpected(std::errc::bad_file_descriptor);
  if (entry.identity != Identity{status.st_dev, status.st_ino}) {
    return Unexpected(std::errc::no_such_file_or_directory);
  }
  return {};
}

std::uint32_t PollSelector::mask_for(Interest interest) const noexcept {
  return to_mask(interest);
}

void PollSelector::rearm_foreign(int fd, Interest kind) noexcept {
  {
    const std::scoped_lock lock(mutex_);
    auto found = table_.find(fd);
    if (found == table_.end()) return;
    found->second.reports_drains = true;
  }
  rearm(fd, kind);
}

void PollSelector::rearm(int fd, Interest kind) noexcept {
  const std::scoped_lock lock(mutex_);
  auto found = table_.find(fd);
  if (found == table_.end()) return;
  Entry& entry = found->second;
  // Not POLLRDHUP: a half-close is reported once; draining the data before it is no new edge.
  const Mask rearmed = entry.interest & to_mask(kind) & ~entry.armed & ~Mask{POLLRDHUP};
  if (rearmed == 0) return;
  entry.armed |= rearmed;
  wake_if_blocked();
}

Result<std::unique_ptr<WakerHandle>> PollSelector::make_waker() noexcept {
  auto waker = PipeWaker::create();
  if (!waker) return Unexpected(waker.error());
  struct stat status {};
  if (auto statted = detail::syscall_void(::fstat((*waker)->fd(), &status)); !statted) {
    return Unexpected(statted.error());
  }
  const std::scoped_lock lock(mutex_);
  unregistered_wakers_.insert_or_assign((*waker)->fd(), Identity{status.st_dev, status.st_ino});
  return std::unique_ptr<WakerHandle>(std::move(*waker));
}

}  // namespace libpoll::sys

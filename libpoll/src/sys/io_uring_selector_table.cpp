// The io_uring backend's table: registration changes, recorded for the next poll, and its
// answers about what it holds, for the book and the audit.

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>

#include "libpoll/detail/io_result.hpp"
#include "libpoll/detail/syscall.hpp"
#include "sys/io_uring_selector.hpp"
#include "sys/open_file.hpp"
#include "sys/own_table.hpp"

namespace libpoll::sys {

namespace {

// POLLRDHUP with readable, so that a peer's half-close is reported as read-closed.
constexpr InterestBits kPollBits = interest_bits(0, POLLIN | POLLRDHUP, POLLOUT, POLLPRI);

std::uint32_t poll_bits(Interest interest) noexcept {
  return bits_of(kPollBits, interest);
}

// What `fd` names now: the file's identity, or EBADF.
struct Named {
  std::error_code error;
  dev_t device = 0;
  ino_t inode = 0;
  mode_t mode = 0;
};

Named name_of(int fd) noexcept {
  struct stat status {};
  if (::fstat(fd, &status) != 0) return Named{.error = detail::last_error().error()};
  return Named{
      .error = {}, .device = status.st_dev, .inode = status.st_ino, .mode = status.st_mode};
}

}  // namespace

// Process-wide, so that a completion left over in a reused ring matches no registration.
std::uint32_t IoUringSelector::next_generation() noexcept {
  static std::atomic<std::uint32_t> last{0};
  std::uint32_t generation = last.fetch_add(1, std::memory_order_relaxed) + 1;
  if (generation == 0) generation = last.fetch_add(1, std::memory_order_relaxed) + 1;
  return generation;
}

bool IoUringSelector::names_registered_file(int fd, const Entry& entry) noexcept {
  const Named named = name_of(fd);
  if (named.error || entry.identity != Identity{named.device, named.inode}) return false;
  // The two ends of a pipe share an inode: the other end under this number is another file.
  return !S_ISFIFO(named.mode) || (::fcntl(fd, F_GETFL) & O_ACCMODE) == entry.access_mode;
}

void IoUringSelector::reserve_changes(std::size_t more) {
  // Geometric, so that a burst of registrations between two polls costs amortised O(1) each.
  if (changes_.size() + more > changes_.capacity()) {
    changes_.reserve(std::max<std::size_t>(64, 2 * (changes_.size() + more)));
  }
}

bool IoUringSelector::record(Change change) noexcept {
  try {
    changes_.push_back(change);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

void IoUringSelector::wake_if_blocked() noexcept {
  // A failed write leaves the change for the next select(); nothing better can be done here.
  if (blocked_) (void)wake_->wake();
}

void IoUringSelector::remove_request(const Entry& entry, int fd) noexcept {
  // Not in the kernel: a recorded request is skipped, its generation being gone.
  if (entry.kernel_data == 0) return;
  const std::uint64_t target = entry.kernel_data;
  (void)fd;
  // A single-issuer ring takes no call from another thread than the one it is bound to.
  if (sync_cancel_ && (issuer_ == nullptr || issuer_ == this_thread_tag())) {
    io_uring_sync_cancel_reg cancel{};
    cancel.addr = target;
    cancel.timeout.tv_sec = -1;
    cancel.timeout.tv_nsec = -1;
    // ENOENT: the request had ended already (its completion is dropped as stale), unless
    // select() is submitting it right now: then a removal follows it in the next batch.
    const int cancelled = io_uring_register_sync_cancel(&ring_, &cancel);
    if (cancelled == 0 && issuer_ != nullptr) {
      // The cancelled request lets go of its file in its completion work, which this ring
      // runs only when entered for completions: enter it now, so the file closes with its
      // descriptor (its completion is dropped as stale at the next reap).
      (void)io_uring_enter(static_cast<unsigned>(ring_.ring_fd), 0, 0, IORING_ENTER_GETEVENTS,
                           nullptr);
    }
    if (cancelled == 0 || cancelled == -EALREADY) return;
    if (cancelled == -ENOENT && !submitting_) return;
  }
  if (record(Change{Kind::remove, 0, target})) wake_if_blocked();
}

Result<void> IoUringSelector::register_fd(int fd, Token token, Interest interest, IoPath /*path*/,
                                          bool /*may_defer*/) noexcept {
  if (in_forked_child()) return Unexpected(std::errc::operation_not_supported);
  const Named named = name_of(fd);
  if (named.error) return Unexpected(named.error);
  // epoll refuses files that are always ready; so does this backend (a request on one would
  // complete at once, and be made again at every poll).
  if (is_always_ready(fd, named.mode)) {
    return Unexpected(std::errc::operation_not_permitted);
  }
  const Identity identity{named.device, named.inode};
  const int access_mode = access_mode_of(fd, named.mode);

  std::unique_lock lock(mutex_);
  try {
    if (static_cast<std::size_t>(fd) >= entries_.size()) {
      entries_.resize(static_cast<std::size_t>(fd) + 1);
    }
    reserve_changes(1);
  } catch (const std::bad_alloc&) {
    return Unexpected(std::errc::not_enough_memory);
  }
  if (entries_[static_cast<std::size_t>(fd)].generation != 0) {
    if (entries_[static_cast<std::size_t>(fd)].identity == identity) {
      return Unexpected(std::errc::file_exists);
    }
    // A different file under a registered number: the old one was closed without deregister.
    // Its requests (which kept it open) end, and the new registration replaces it.
    settle_receive(lock, fd);
  }
  Entry& entry = entries_[static_cast<std::size_t>(fd)];
  if (entry.generation != 0) {
    remove_request(entry, fd);
  } else {
    ++registered_;
  }
  entry = Entry{.token = token,
                .interest = poll_bits(interest),
                .generation = next_generation(),
                .identity = identity,
                .access_mode = access_mode};
  (void)record(Change{Kind::add, user_data(fd, entry.generation)});  // room reserved above
  wake_if_blocked();
  return {};
}

Result<void> IoUringSelector::reregister_fd(int fd, Token token, Interest interest, IoPath path,
                                            std::uint64_t drained_at) noexcept {
  if (in_forked_child()) return Unexpected(std::errc::operation_not_supported);
  // A libpoll source's descriptor is open, and names its file, while the source lives.
  const bool own = path == IoPath::libpoll;
  const Named named = own ? Named{} : name_of(fd);
  std::unique_lock lock(mutex_);
  Entry* entry = live(fd);
  if (entry == nullptr) return Unexpected(std::errc::no_such_file_or_directory);
  // A stream read ahead that is no longer to be read: its recv request ends, its bytes kept.
  if (entry->receive_data != 0 && !reads_ahead(*entry, poll_bits(interest))) {
    settle_receive(lock, fd);
    entry = live(fd);
  }
  // As epoll answers: a closed number is EBADF, a number now naming another file ENOENT. Either
  // way the registration is gone.
  if (!own && (named.error || entry->identity != Identity{named.device, named.inode})) {
    remove_request(*entry, fd);
    entry->generation = 0;
    --registered_;
    if (named.error) return Unexpected(named.error);
    return Unexpected(std::errc::no_such_file_or_directory);
  }
  if (!own) drained_at = detail::oldest_drain(interest, entry->read_drained, entry->write_drained);
  if (keep_held(*entry, token, poll_bits(interest), drained_at)) {
    arm_receive(fd, *entry);
    return {};
  }
  try {
    reserve_changes(2);
  } catch (const std::bad_alloc&) {
    return Unexpected(std::errc::not_enough_memory);
  }
  entry->token = token;
  entry->interest = poll_bits(interest);
  entry->generation = next_generation();
  // The request in the kernel is removed and a new one made, in one batch: the new one reports
  // the source again if it is still ready, as EPOLL_CTL_MOD does. (An in-place update,
  // IORING_POLL_UPDATE_EVENTS, can fail while the request is busy, and lose the re-report.)
  if (entry->kernel_data != 0) (void)record(Change{Kind::remove, 0, entry->kernel_data});
  entry->kernel_data = 0;
  (void)record(Change{Kind::add, user_data(fd, entry->generation)});
  if (entry->received != nullptr) {
    // As the new poll request reports a ready source, bytes waiting in the store are reported.
    arm_receive(fd, *entry);
    if ((entry->interest & POLLIN) != 0 && entry->received->pending()) {
      (void)owe(fd, *entry, POLLIN);
    }
  }
  wake_if_blocked();
  return {};
}

bool IoUringSelector::keep_held(Entry& entry, Token token, Mask mask,
                                std::uint64_t drained_at) noexcept {
  // Whatever readiness came after the drain posted a completion that the next reap reports,
  // so the new request's re-report would add nothing.
  const bool drained_since_reap =
      drained_at != 0 && drained_at == clock_->load(std::memory_order_relaxed);
  if (entry.held_data == 0 || entry.held_mask != poll_request_mask(entry, mask) ||
      !drained_since_reap) {
    return false;
  }
  entry.token = token;
  entry.interest = mask;
  entry.generation = static_cast<std::uint32_t>(entry.held_data >> 32);  // see user_data()
  entry.kernel_data = entry.held_data;  // its recorded removal and replacement are now void
  ++counts_.skipped;
  return true;
}

void IoUringSelector::rearm_foreign(int fd, Interest kind) noexcept {
  const std::scoped_lock lock(mutex_);
  Entry* entry = live(fd);
  // Only the polling thread between two polls can date a drain after the events it has seen.
  if (entry == nullptr || poller_ != this_thread_tag()) return;
  const std::uint64_t now = clock_->load(std::memory_order_relaxed);
  if (kind.is_readable()) entry->read_drained = now;
  if (kind.is_writable()) entry->write_drained = now;
}

ChangeCounts IoUringSelector::change_counts() const noexcept {
  const std::scoped_lock lock(mutex_);
  return counts_;
}

Result<void> IoUringSelector::deregister_fd(int fd, bool may_defer) noexcept {
  std::unique_lock lock(mutex_);
  Entry* entry = live(fd);
  if (entry == nullptr) return Unexpected(std::errc::no_such_file_or_directory);
  // The bytes of a stream read ahead stay in its store, read first by its next reads.
  if (entry->receive_data != 0) {
    settle_receive(lock, fd);
    entry = live(fd);
  }
  entry->received = nullptr;
  // A libpoll source's descriptor names its file until the source closes it, after this call;
  // once its request is in the kernel, nothing needs asking. A foreign descriptor may have
  // been closed or reused, and a request still queued may have been refused at the submission.
  const bool settled = may_defer && entry->kernel_data != 0;
  const Named named = settled ? Named{} : name_of(fd);
  // A forked child's copy forgets the entry; the request is the parent's.
  if (!in_forked_child()) remove_request(*entry, fd);
  const bool same_file =
      settled || (!named.error && entry->identity == Identity{named.device, named.inode});
  entry->generation = 0;
  --registered_;
  if (named.error) return Unexpected(named.error);
  if (!same_file) return Unexpected(std::errc::no_such_file_or_directory);
  return {};
}

bool IoUringSelector::holds(int fd) noexcept {
  const Named named = name_of(fd);
  if (named.error) return false;
  const std::scoped_lock lock(mutex_);
  const Entry* entry = live(fd);
  return entry != nullptr && entry->identity == Identity{named.device, named.inode};
}

std::optional<FileIdentity> IoUringSelector::file_of(int fd) const noexcept {
  const std::scoped_lock lock(mutex_);
  if (fd < 0 || static_cast<std::size_t>(fd) >= entries_.size()) return std::nullopt;
  const Entry& entry = entries_[static_cast<std::size_t>(fd)];
  if (entry.generation == 0) return std::nullopt;
  return identity_of(entry);
}

Result<std::vector<KernelRegistration>> IoUringSelector::registrations() const {
  const std::scoped_lock lock(mutex_);
  std::vector<KernelRegistration> list;
  list.reserve(registered_);
  for (std::size_t fd = 0; fd < entries_.size(); ++fd) {
    const Entry& entry = entries_[fd];
    if (entry.generation == 0) continue;
    list.push_back(listed(static_cast<int>(fd), entry));
    // A request not (or no longer) in the kernel whose number lost its file never took hold of
    // it, or let it go, and select() will not make it: the kernel watches nothing for it.
    if (entry.kernel_data == 0 && !names_registered_file(static_cast<int>(fd), entry)) {
      list.back().events = 0;
    }
  }
  return list;
}

std::uint32_t IoUringSelector::mask_for(Interest interest) const noexcept {
  return poll_bits(interest);
}

Result<std::unique_ptr<WakerHandle>> IoUringSelector::make_waker() noexcept {
  auto waker = EventfdWaker::create();
  if (!waker) return Unexpected(waker.error());
  return std::unique_ptr<WakerHandle>(std::move(*waker));
}

}  // namespace libpoll::sys

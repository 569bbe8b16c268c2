#include "sys/epoll_selector.hpp"

#include <sys/epoll.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <new>

#include "libpoll/detail/syscall.hpp"
#include "sys/eventfd_waker.hpp"
#include "sys/open_file.hpp"

namespace libpoll::sys {

namespace readiness = detail::readiness;

// Event is filled by epoll_wait in place, so its layout and bits must be the kernel's.
static_assert(sizeof(Event) == sizeof(epoll_event));
static_assert(alignof(Event) == alignof(epoll_event));
static_assert(readiness::in == EPOLLIN && readiness::pri == EPOLLPRI &&
              readiness::out == EPOLLOUT && readiness::err == EPOLLERR &&
              readiness::hup == EPOLLHUP && readiness::rdhup == EPOLLRDHUP);

Result<std::unique_ptr<EpollSelector>> EpollSelector::create() noexcept {
  auto fd = detail::syscall_int(::epoll_create1(EPOLL_CLOEXEC));
  if (!fd) return Unexpected(fd.error());
  OwnedFd owned(*fd);
  try {
    return std::unique_ptr<EpollSelector>(new EpollSelector(std::move(owned)));
  } catch (const std::bad_alloc&) {
    return Unexpected(std::errc::not_enough_memory);
  }
}

Result<void> EpollSelector::select(Events& events, int timeout_ms) noexcept {
  auto* buffer = reinterpret_cast<epoll_event*>(detail::EventsAccess::data(events));
  // The kernel refuses more than EP_MAX_EVENTS (INT_MAX / sizeof(epoll_event)) with EINVAL;
  // a larger buffer is filled up to that many, the rest waits for the next call.
  constexpr std::size_t kMaxEvents = INT_MAX / sizeof(epoll_event);
  const int capacity = static_cast<int>(std::min(events.capacity(), kMaxEvents));
  changes_.begin_poll();
  const int ready = ::epoll_wait(epoll_fd_.get(), buffer, capacity, timeout_ms);
  changes_.end_poll();
  if (ready < 0) {
    events.clear();
    return detail::last_error();
  }
  detail::EventsAccess::set_size(events, static_cast<std::size_t>(ready));
  return {};
}

Result<void> EpollSelector::register_fd(int fd, Token token, Interest interest, IoPath /*path*/,
                                        bool may_defer) noexcept {
  return changes_.add(fd, PendingChanges::state_of(token, interest), may_defer);
}

Result<void> EpollSelector::reregister_fd(int fd, Token token, Interest interest, IoPath path,
                                          std::uint64_t drained_at) noexcept {
  const KernelState wanted = PendingChanges::state_of(token, interest);
  if (path == IoPath::libpoll) return changes_.change(fd, wanted, drained_at, true);
  // A foreign descriptor may have been closed behind the book's back, which EPOLL_CTL_MOD would
  // have said at once: its changes are made at once, and a skip asks with a cheaper call.
  return changes_.change_foreign(fd, wanted, interest);
}

Result<void> EpollSelector::deregister_fd(int fd, bool may_defer) noexcept {
  return changes_.remove(fd, may_defer);
}

bool EpollSelector::holds(int fd) noexcept {
  changes_.flush();  // the kernel's list, as the next poll will find it
  // The kernel keys a registration by (open file, fd number). kcmp asks it exactly; reading it
  // changes nothing, unlike probing with EPOLL_CTL_ADD, which could hand a concurrent epoll_wait
  // an event for the probe. (It walks every registration, so it is kept off paths that run
  // once per registration.)
  if (auto watches = epoll_watches_file_at(epoll_fd_.get(), fd, fd)) return *watches;
  // Without kcmp, the fdinfo names each registration's inode: exact for most files, but every
  // eventfd, timerfd and signalfd shares one. This runs only when the book already has `fd`
  // (misuse, or a stale entry), so its cost does not matter.
  struct stat status {};
  if (::fstat(fd, &status) != 0) return false;
  try {
    auto held = registrations();
    if (!held) return false;
    for (const KernelRegistration& registration : *held) {
      if (registration.target_fd != fd) continue;
      if (!registration.inode || !registration.device) return true;  // kernels before 4.13
      if (*registration.inode == static_cast<std::uint64_t>(status.st_ino) &&
          *registration.device == static_cast<std::uint64_t>(status.st_dev)) {
        return true;
      }
    }
  } catch (const std::bad_alloc&) {
  }
  return false;
}

std::uint32_t EpollSelector::mask_for(Interest interest) const noexcept {
  return PendingChanges::state_of(Token{0}, interest).events;
}

Result<std::vector<KernelRegistration>> EpollSelector::registrations() const {
  changes_.flush();  // the kernel's list, as the next poll will find it
  return read_epoll_fdinfo(0, epoll_fd_.get());
}

Result<std::unique_ptr<WakerHandle>> EpollSelector::make_waker() noexcept {
  auto waker = EventfdWaker::create();
  if (!waker) return Unexpected(waker.error());
  return std::unique_ptr<WakerHandle>(std::move(*waker));
}

}  // namespace libpoll::sys

// epoll_create, epoll_create1, epoll_ctl and the epoll_wait family: the calls that make and use
// registrations. Each returns what the real call returned, with its errno.

#include <signal.h>
#include <sys/epoll.h>
#include <time.h>

#include <cerrno>

#include "interposer.hpp"

using namespace pollscope::interposer;

namespace {

int created(int epoll_fd) {
  const int saved = errno;
  if (epoll_fd >= 0) {
    Guard guard;
    if (guard.active()) note_epoll(epoll_fd);
  }
  errno = saved;
  return epoll_fd;
}

std::uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(now.tv_nsec);
}

// Records a ctl under the caller's active Guard. `before`: the time taken before the call (a
// DEL's; see records.hpp).
void record_locked(int epoll_fd, int op, int fd, const epoll_event* event, int result, int error,
                   std::uint64_t before) {
  const char kind = op == EPOLL_CTL_ADD ? 'A' : op == EPOLL_CTL_MOD ? 'M' : 'D';
  const std::uint64_t data = event != nullptr && op != EPOLL_CTL_DEL ? event->data.u64 : 0;
  const std::uint32_t events = event != nullptr && op != EPOLL_CTL_DEL ? event->events : 0;
  if (!is_epoll(epoll_fd)) note_epoll(epoll_fd, false);  // inherited, or made before loading
  const int set = set_of(epoll_fd);  // a dup of the set's descriptor: the same set
  Line line(kind);
  line.number(set).number(fd).unsigned_number(events).unsigned_number(data);
  line.number(result).number(result == 0 ? 0 : error);
  line.unsigned_number(op == EPOLL_CTL_DEL ? before : monotonic_ns());
  if (op == EPOLL_CTL_ADD) line.stack();  // a MOD keeps the site of its ADD
  line.write();
  if (result != 0) return;
  if (op == EPOLL_CTL_DEL)
    note_deregistration(set, fd);
  else
    note_registration(set, fd, data, events);
}

void record_ctl(int epoll_fd, int op, int fd, const epoll_event* event, int result, int error,
                std::uint64_t before) {
  // A MOD that keeps the token changes nothing the grader follows but the mask a finding
  // shows, which the table keeps: the common case (toggling write interest) costs neither a
  // record nor the Guard's getpid. The table is read without the lock: only a program racing
  // two threads on one registration could make it stale.
  if (op == EPOLL_CTL_MOD && result == 0 && event != nullptr &&
      refresh_if_registered_as(set_of(epoll_fd), fd, event->data.u64, event->events))
    return;
  Guard guard;
  if (guard.active()) record_locked(epoll_fd, op, fd, event, result, error, before);
}

}  // namespace

namespace pollscope::interposer {

int delivered(int epoll_fd, const void* events, int count) {
  look_for_io_uring_once();
  if (count <= 0 || !any_zombies()) return count;
  const int saved = errno;
  {
    Guard guard;
    if (guard.active()) note_delivered(set_of(epoll_fd), events, count);
  }
  errno = saved;
  return count;
}

}  // namespace pollscope::interposer

namespace {}  // namespace

extern "C" {

__attribute__((visibility("default"))) int epoll_create(int size) {
  static int (*next)(int) = nullptr;
  return created(real(next, "epoll_create")(size));
}

__attribute__((visibility("default"))) int epoll_create1(int flags) {
  static int (*next)(int) = nullptr;
  return created(real(next, "epoll_create1")(flags));
}

__attribute__((visibility("default"))) int epoll_ctl(int epoll_fd, int op, int fd,
                                                     epoll_event* event) {
  static int (*next)(int, int, int, epoll_event*) = nullptr;
  if (op == EPOLL_CTL_ADD) {
    // Locked across the call: a close of `fd` on another thread holds the lock from its close
    // until it has counted what the kernel still lists under the number, so this registration
    // of the number's next file cannot be counted as the closed one's, living on.
    Guard guard;
    const int result = real(next, "epoll_ctl")(epoll_fd, op, fd, event);
    const int error = errno;
    if (guard.active()) record_locked(epoll_fd, op, fd, event, result, error, 0);
    errno = error;
    return result;
  }
  const std::uint64_t before = op == EPOLL_CTL_DEL ? monotonic_ns() : 0;
  const int result = real(next, "epoll_ctl")(epoll_fd, op, fd, event);
  const int error = errno;
  record_ctl(epoll_fd, op, fd, event, result, error, before);
  errno = error;
  return result;
}

__attribute__((visibility("default"))) int epoll_wait(int epoll_fd, epoll_event* events,
                                                      int max_events, int timeout) {
  static int (*next)(int, epoll_event*, int, int) = nullptr;
  return delivered(epoll_fd, events,
                   real(next, "epoll_wait")(epoll_fd, events, max_events, timeout));
}

__attribute__((visibility("default"))) int epoll_pwait(int epoll_fd, epoll_event* events,
                                                       int max_events, int timeout,
                                                       const sigset_t* mask) {
  static int (*next)(int, epoll_event*, int, int, const sigset_t*) = nullptr;
  return delivered(epoll_fd, events,
                   real(next, "epoll_pwait")(epoll_fd, events, max_events, timeout, mask));
}

__attribute__((visibility("default"))) int epoll_pwait2(int epoll_fd, epoll_event* events,
                                                        int max_events, const timespec* timeout,
                                                        const sigset_t* mask) {
  static int (*next)(int, epoll_event*, int, const timespec*, const sigset_t*) = nullptr;
  return delivered(epoll_fd, events,
                   real(next, "epoll_pwait2")(epoll_fd, events, max_events, timeout, mask));
}

}  // extern "C"

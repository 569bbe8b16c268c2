// close, close_range, closefrom, dup, dup2, dup3 and fcntl's F_DUPFD: the calls that end or copy a
// registered descriptor; and sendmsg, which may hand an epoll descriptor to another process.
// Untracked descriptors take the fast path: one table read, then the real call.

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/kcmp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstddef>

#include "interposer.hpp"

using namespace pollscope::interposer;

namespace {

int (*next_close)(int) = nullptr;
int (*next_dup2)(int, int) = nullptr;
int (*next_dup3)(int, int, int) = nullptr;

// Records that `copy` is a new descriptor of `original`'s file.
int duplicated(int original, int copy) {
  if (copy < 0 || !tracked(original)) return copy;
  const int saved = errno;
  {
    Guard guard;
    if (guard.active()) note_duplicated(original, copy);
  }
  errno = saved;
  return copy;
}

// Whether two numbers name one open file: a dup2 between them leaves the target's registrations
// as they were (the file they are of is still the number's).
bool same_file(int first, int second) {
  const long pid = raw_getpid();
  return libc_syscall(SYS_kcmp, pid, pid, KCMP_FILE, first, second) == 0;
}

// dup2/dup3 close whatever `target` named: the log moves away first, and a tracked target is
// recorded as closed. As close() does, the books stay locked from before the call until it is
// recorded.
template <typename Call>
int duplicate_onto(int original, int target, Call call) {
  if (is_log(target) && original != target) move_log_away();
  const bool target_tracked = tracked(target) && original != target && !same_file(original, target);
  if (!target_tracked && !tracked(original)) return call();
  const int saved = errno;
  Guard guard;
  if (guard.active() && target_tracked) note_closing(target);
  errno = saved;
  const int result = call();
  const int error = errno;
  if (guard.active() && result >= 0) {
    if (target_tracked) note_closed(target);
    if (tracked(original)) note_duplicated(original, result);
  }
  errno = error;
  return result;
}

using CloseRange = int(unsigned, unsigned, int);
CloseRange* next_close_range = nullptr;

// close_range over the log's number closes around it: the program sees the same result.
int close_range_keeping_log(unsigned first, unsigned last, int flags) {
  auto* call = real(next_close_range, "close_range");
  const int log = log_descriptor();
  if (log < 0 || (flags & CLOSE_RANGE_CLOEXEC) != 0 || static_cast<unsigned>(log) < first ||
      static_cast<unsigned>(log) > last)
    return call(first, last, flags);
  const auto log_number = static_cast<unsigned>(log);
  if (log_number > first && call(first, log_number - 1, flags) != 0) return -1;
  if (log_number < last) return call(log_number + 1, last, flags);
  return 0;
}

// What a close of every descriptor from `first` to `last` ended (under the caller's Guard).
void closed_in_range(unsigned first, unsigned last) {
  const int top = highest_tracked();
  for (int fd = static_cast<int>(first); fd >= 0 && fd <= top; ++fd) {
    if (static_cast<unsigned>(fd) > last) break;
    if (tracked(fd)) note_closed(fd);
  }
}

// An epoll descriptor sent with SCM_RIGHTS: the receiver shares the set, and may register files of
// its own under our numbers (before the call: the receiver may act the moment it is sent).
void note_sent_sets(const msghdr* message) {
  if (message == nullptr || message->msg_control == nullptr || !tracing()) return;
  for (const cmsghdr* header = CMSG_FIRSTHDR(message); header != nullptr;
       header = CMSG_NXTHDR(const_cast<msghdr*>(message), const_cast<cmsghdr*>(header))) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const auto count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const auto* fds = reinterpret_cast<const int*>(CMSG_DATA(header));
    for (std::size_t i = 0; i < count; ++i) note_set_shared(fds[i]);
  }
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) ssize_t sendmsg(int socket, const msghdr* message,
                                                       int flags) {
  static ssize_t (*next)(int, const msghdr*, int) = nullptr;
  note_sent_sets(message);
  return real(next, "sendmsg")(socket, message, flags);
}

__attribute__((visibility("default"))) int close(int fd) {
  if (is_log(fd)) {
    errno = EBADF;  // the program never opened this number
    return -1;
  }
  if (!tracked(fd)) return real(next_close, "close")(fd);
  // The books stay locked from before the close until it is recorded. Another thread may be
  // given this number the moment it is released: its registrations are then recorded after this
  // close, rather than found by it and reported as closed with it.
  Guard guard;
  if (guard.active()) note_closing(fd);
  const int result = real(next_close, "close")(fd);
  const int error = errno;
  if (guard.active() && (result == 0 || error == EINTR)) note_closed(fd);  // EINTR: released too
  errno = error;
  return result;
}

__attribute__((visibility("default"))) int close_range(unsigned first, unsigned last, int flags) {
  Guard guard;  // as close() holds it: across the close and its record
  const int result = close_range_keeping_log(first, last, flags);
  if (result != 0 || (flags & CLOSE_RANGE_CLOEXEC) != 0 || !guard.active()) return result;
  closed_in_range(first, last);
  return result;
}

// glibc's closefrom calls close_range inline, where the wrapper above cannot see it: it would
// close the log, and end registrations unrecorded. Here it closes around the log as close_range
// does; where the kernel has no close_range, the numbers below the log are closed one by one and
// glibc's closefrom (which then reads /proc/self/fd) closes those above it.
__attribute__((visibility("default"))) void closefrom(int lowest) {
  static void (*next)(int) = nullptr;
  const int saved = errno;
  Guard guard;
  const auto first = static_cast<unsigned>(lowest < 0 ? 0 : lowest);
  if (close_range_keeping_log(first, ~0U, 0) != 0) {
    const int log = log_descriptor();
    if (log >= 0 && static_cast<unsigned>(log) >= first) {
      for (int fd = static_cast<int>(first); fd < log; ++fd) libc_syscall(SYS_close, fd);
      real(next, "closefrom")(log + 1);
    } else {
      real(next, "closefrom")(static_cast<int>(first));
    }
  }
  if (guard.active()) closed_in_range(first, ~0U);
  errno = saved;
}

__attribute__((visibility("default"))) int dup(int fd) {
  static int (*next)(int) = nullptr;
  return duplicated(fd, real(next, "dup")(fd));
}

__attribute__((visibility("default"))) int dup2(int original, int target) {
  return duplicate_onto(original, target,
                        [&] { return real(next_dup2, "dup2")(original, target); });
}

__attribute__((visibility("default"))) int dup3(int original, int target, int flags) {
  return duplicate_onto(original, target,
                        [&] { return real(next_dup3, "dup3")(original, target, flags); });
}

__attribute__((visibility("default"))) int fcntl(int fd, int command, ...) {
  static int (*next)(int, int, ...) = nullptr;
  va_list arguments;
  va_start(arguments, command);
  void* argument = va_arg(arguments, void*);
  va_end(arguments);
  const int result = real(next, "fcntl")(fd, command, argument);
  if (command != F_DUPFD && command != F_DUPFD_CLOEXEC) return result;
  return duplicated(fd, result);
}

__attribute__((visibility("default"))) int fcntl64(int fd, int command, ...) {
  static int (*next)(int, int, ...) = nullptr;
  va_list arguments;
  va_start(arguments, command);
  void* argument = va_arg(arguments, void*);
  va_end(arguments);
  const int result = real(next, "fcntl64")(fd, command, argument);
  if (command != F_DUPFD && command != F_DUPFD_CLOEXEC) return result;
  return duplicated(fd, result);
}

}  // extern "C"

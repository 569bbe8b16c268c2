// syscall(2): libuv, among others, closes descriptors with syscall(SYS_close, fd) rather than
// close(). The calls the interposer follows are routed to its wrappers; everything else goes
// straight to the C library. (Programs that issue the instruction themselves, as Go does, are
// refused by pollscope before they run.)

#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>

#include "interposer.hpp"

using namespace pollscope::interposer;

namespace pollscope::interposer {

SyscallFunction* next_syscall() {
  static SyscallFunction* next = nullptr;
  return real(next, "syscall");
}

}  // namespace pollscope::interposer

extern "C" {

int close(int fd);
int close_range(unsigned first, unsigned last, int flags);
int dup(int fd);
int dup2(int original, int target);
int dup3(int original, int target, int flags);
int epoll_create(int size);
int epoll_create1(int flags);
int epoll_ctl(int epoll_fd, int op, int fd, epoll_event* event);
int execve(const char* path, char* const argv[], char* const environment[]);
int execveat(int directory, const char* path, char* const argv[], char* const environment[],
             int flags);

__attribute__((visibility("default"))) long syscall(long number, ...) {
  va_list arguments;
  va_start(arguments, number);
  long a[6];
  for (long& argument : a) argument = va_arg(arguments, long);
  va_end(arguments);
  const auto i = [&](int index) { return static_cast<int>(a[index]); };
  switch (number) {
    case SYS_close:
      return close(i(0));
    case SYS_close_range:
      return close_range(static_cast<unsigned>(a[0]), static_cast<unsigned>(a[1]), i(2));
    case SYS_dup:
      return dup(i(0));
    case SYS_dup2:
      return dup2(i(0), i(1));
    case SYS_dup3:
      return dup3(i(0), i(1), i(2));
    case SYS_epoll_create1:
      return epoll_create1(i(0));
    case SYS_epoll_ctl:
      return epoll_ctl(i(0), i(1), i(2), reinterpret_cast<epoll_event*>(a[3]));
    case SYS_epoll_create:
      return epoll_create(i(0));
    // The waits as the kernel takes them (epoll_pwait and epoll_pwait2 with the signal set's
    // size): their events under zombies' tokens are counted as libc's wrappers' are.
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2: {
      const long count = libc_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
      if (count <= 0) return count;
      const int saved = errno;
      delivered(i(0), reinterpret_cast<const void*>(a[1]), static_cast<int>(count));
      errno = saved;
      return count;
    }
    case SYS_io_uring_setup:  // glibc has no wrapper: programs without liburing come this way
      return io_uring_setup_syscall(a[0], a[1]);
    case SYS_fork: {
      // No atfork handler runs: the child starts its log here.
      note_sets_shared();
      const long child = libc_syscall(SYS_fork);
      if (child == 0) start_child();
      return child;
    }
    case SYS_execve:
      return execve(reinterpret_cast<const char*>(a[0]), reinterpret_cast<char* const*>(a[1]),
                    reinterpret_cast<char* const*>(a[2]));
    case SYS_execveat:
      return execveat(i(0), reinterpret_cast<const char*>(a[1]),
                      reinterpret_cast<char* const*>(a[2]), reinterpret_cast<char* const*>(a[3]),
                      i(4));
    default:
      return libc_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
}

}  // extern "C"

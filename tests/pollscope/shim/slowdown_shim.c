/* A planted slowdown, for tests and trials of the performance gate only: loaded with LD_PRELOAD
 * into pollscope, it wraps the selector's waits (epoll_wait and poll) and, for each event a
 * wait returns, burns CPU for a while or makes one extra system call. The gate must flag the
 * first by its timings and the second by its exact count of system calls per event.
 *
 *   POLLSCOPE_SHIM_DELAY_NS=N        spin N ns (on the monotonic clock, no system call) per event
 *   POLLSCOPE_SHIM_EXTRA_SYSCALL=1   one getppid() per event
 *
 * Unset or 0, the shim only forwards: a build with it loaded and nothing asked is unchanged. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*epoll_wait_fn)(int, struct epoll_event*, int, int);
typedef int (*poll_fn)(struct pollfd*, nfds_t, int);

static long delay_ns;
static int extra_syscall;

__attribute__((constructor)) static void read_settings(void) {
  const char* delay = getenv("POLLSCOPE_SHIM_DELAY_NS");
  const char* extra = getenv("POLLSCOPE_SHIM_EXTRA_SYSCALL");
  delay_ns = delay ? atol(delay) : 0;
  extra_syscall = extra && atoi(extra) != 0;
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* What the shim adds for `events` events returned by one wait. */
static void slow_down(int events) {
  if (events <= 0) return;
  if (extra_syscall) {
    /* syscall(), not getppid(): no libc may ever cache the answer. */
    for (int i = 0; i < events; ++i) syscall(SYS_getppid);
  }
  if (delay_ns > 0) {
    const int64_t until = now_ns() + delay_ns * events;
    while (now_ns() < until) {
    }
  }
}

int epoll_wait(int epfd, struct epoll_event* events, int max_events, int timeout) {
  static epoll_wait_fn real;
  if (!real) real = (epoll_wait_fn)dlsym(RTLD_NEXT, "epoll_wait");
  const int ready = real(epfd, events, max_events, timeout);
  slow_down(ready);
  return ready;
}

int poll(struct pollfd* fds, nfds_t count, int timeout) {
  static poll_fn real;
  if (!real) real = (poll_fn)dlsym(RTLD_NEXT, "poll");
  const int ready = real(fds, count, timeout);
  slow_down(ready);
  return ready;
}

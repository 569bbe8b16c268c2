/* A planted slowdown, for tests and trials of the performance gate only: loaded with LD_PRELOAD
 * into pollscope, it wraps the selector's waits (epoll_wait and poll) and, for each event a
 * wait returns, burns CPU for a while or makes one extra system call. The gate must flag the
 * first by its timings and the second by its exact count of system calls per event.
 *
 *   POLLSCOPE_SHIM_WORK=N            N rounds of dependent arithmetic per event: work, as a code
 *                                    change adds it, the same under callgrind as outside it
 *   POLLSCOPE_SHIM_DELAY_NS=N        spin N ns (on the monotonic clock, no system call) per event
 *   POLLSCOPE_SHIM_EXTRA_SYSCALL=1   one getppid() per event
 *   POLLSCOPE_SHIM_CALIBRATE=1       print the ns one round of work takes here (the fastest of
 *                                    several timings) on stdout, for choosing N
 *
 * Unset or 0, the shim only forwards: a build with it loaded and nothing asked is unchanged. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*epoll_wait_fn)(int, struct epoll_event*, int, int);
typedef int (*poll_fn)(struct pollfd*, nfds_t, int);

static long work_rounds;
static long delay_ns;
static int extra_syscall;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* A chain of multiply-adds the compiler can neither drop nor shorten. */
static void work(long rounds) {
  uint64_t x = (uint64_t)rounds;
  for (long i = 0; i < rounds; ++i) x = x * 6364136223846793005u + 1442695040888963407u;
  __asm__ volatile("" : : "r"(x));
}

static void calibrate(void) {
  const long rounds = 2 * 1000 * 1000;
  int64_t fastest = INT64_MAX;
  for (int i = 0; i < 7; ++i) {
    const int64_t start = now_ns();
    work(rounds);
    const int64_t took = now_ns() - start;
    if (took < fastest) fastest = took;
  }
  printf("%.4f\n", (double)fastest / (double)rounds);
}

__attribute__((constructor)) static void read_settings(void) {
  const char* rounds = getenv("POLLSCOPE_SHIM_WORK");
  const char* delay = getenv("POLLSCOPE_SHIM_DELAY_NS");
  const char* extra = getenv("POLLSCOPE_SHIM_EXTRA_SYSCALL");
  const char* calibration = getenv("POLLSCOPE_SHIM_CALIBRATE");
  work_rounds = rounds ? atol(rounds) : 0;
  delay_ns = delay ? atol(delay) : 0;
  extra_syscall = extra && atoi(extra) != 0;
  if (calibration && atoi(calibration) != 0) calibrate();
}

/* What the shim adds for `events` events returned by one wait. */
static void slow_down(int events) {
  if (events <= 0) return;
  if (extra_syscall) {
    /* syscall(), not getppid(): no libc may ever cache the answer. */
    for (int i = 0; i < events; ++i) syscall(SYS_getppid);
  }
  if (work_rounds > 0) work(work_rounds * events);
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

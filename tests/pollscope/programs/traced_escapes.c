/* The ways a program can slip past `pollscope trace`'s interposer: calls that end, copy, wait on
 * or start things where a wrapper of the obvious name does not see them. One mode per run:
 *
 *   traced_escapes closefrom DIR      registers a socketpair end (token 7), closefrom(3), then
 *                                     opens files in DIR past the interposer's log number,
 *                                     registers another end (token 8) and closes it: exit 5 when
 *                                     one of its own files holds bytes it never wrote.
 *   traced_escapes closefrom-raw DIR  the same, closing with a close_range system call made
 *                                     with the instruction itself (x86-64), which no wrapper
 *                                     sees: the log must not be written into its files either.
 *   traced_escapes race               4 threads share a set; each registers one end of a fresh
 *                                     socketpair and closes both ends, 3000 times: only vanished
 *                                     registrations, never a zombie.
 *   traced_escapes execle|fexecve|execveat SELF
 *                                     executes `traced_shapes vanish` (SELF's sibling, given) with
 *                                     an environment of its own, through that call.
 *   traced_escapes syscall-wait       a zombie (token 42) whose ghost event is fetched with
 *                                     syscall(SYS_epoll_wait).
 *   traced_escapes raw-fork|_Fork|asm-fork
 *                                     a child made with syscall(SYS_fork), _Fork(), or the fork
 *                                     system call made with the instruction itself, plants a
 *                                     zombie (token 43) with one ghost event.
 *   traced_escapes dup-epoll          the epoll descriptor is dup'ed and its first number closed;
 *                                     then a zombie (token 44) with one ghost event in the set,
 *                                     waited on under the new number.
 *   traced_escapes uring              holds an io_uring instance and waits on an epoll set;
 *                                     exit 77 where the kernel refuses io_uring.
 *
 * Every wait is bounded; nothing here sends network traffic. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "traced_program.h"

#ifdef __x86_64__
static long raw_syscall3(long number, long a, long b, long c) {
  long result;
  __asm__ volatile("syscall"
                   : "=a"(result)
                   : "a"(number), "D"(a), "S"(b), "d"(c)
                   : "rcx", "r11", "memory");
  return result;
}
#endif

/* closefrom(3) (or a close_range the interposer cannot see), then the program's own files past
 * the number the interposer's log had. */
static int close_from(const char* dir, int raw) {
  int epoll_fd = epoll_create1(0), pair[2];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
  add(epoll_fd, pair[0], 7);
  if (raw) {
#ifdef __x86_64__
    check(raw_syscall3(SYS_close_range, 3, ~0U, 0) == 0, "close_range");
#else
    return 77;
#endif
  } else {
    closefrom(3);
  }
  struct rlimit limit;
  check(getrlimit(RLIMIT_NOFILE, &limit) == 0, "getrlimit");
  /* The interposer's log sits at 4000, or 32 below a lower limit (state.cpp). */
  const int past = limit.rlim_cur > 4096 ? 4001 : (int)limit.rlim_cur - 31;
  int last = -1;
  for (int i = 0; last < past; ++i) {
    char name[512];
    snprintf(name, sizeof name, "%s/f%d", dir, i);
    last = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
    check(last >= 0, "open");
  }
  epoll_fd = epoll_create1(0);
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
  add(epoll_fd, pair[0], 8);
  close(pair[0]);
  int written = 0;
  for (int i = 0;; ++i) {
    char name[512];
    snprintf(name, sizeof name, "%s/f%d", dir, i);
    const int fd = open(name, O_RDONLY);
    if (fd < 0) break;
    written |= lseek(fd, 0, SEEK_END) > 0;
    close(fd);
  }
  if (written) fprintf(stderr, "traced_escapes: a file of its own holds bytes it never wrote\n");
  return written ? 5 : 0;
}

static int shared_epoll;

static void* race_worker(void* argument) {
  const uint64_t base = (uint64_t)(uintptr_t)argument << 32;
  for (uint64_t i = 0; i < 3000; ++i) {
    int pair[2];
    check(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
    add(shared_epoll, pair[0], base | i);
    close(pair[0]);
    close(pair[1]);
  }
  return NULL;
}

static int race(void) {
  shared_epoll = epoll_create1(0);
  pthread_t workers[4];
  for (uintptr_t i = 0; i < 4; ++i)
    check(pthread_create(&workers[i], NULL, race_worker, (void*)(i + 1)) == 0, "pthread_create");
  for (int i = 0; i < 4; ++i) pthread_join(workers[i], NULL);
  return 0;
}

/* Executes traced_shapes (beside `self`) as `vanish` with an environment of its own. */
static int exec_with_environment(const char* how, const char* self) {
  char shapes[4096];
  snprintf(shapes, sizeof shapes, "%s", self);
  char* slash = strrchr(shapes, '/');
  snprintf(slash != NULL ? slash + 1 : shapes,
           sizeof shapes - (size_t)(slash != NULL ? slash + 1 - shapes : 0), "traced_shapes");
  char* environment[] = {"PATH=/usr/bin:/bin", "LANG=C", NULL};
  char* argv[] = {shapes, "vanish", NULL};
  if (strcmp(how, "execle") == 0) execle(shapes, shapes, "vanish", (char*)NULL, environment);
  if (strcmp(how, "fexecve") == 0) fexecve(open(shapes, O_RDONLY | O_CLOEXEC), argv, environment);
  if (strcmp(how, "execveat") == 0) execveat(AT_FDCWD, shapes, argv, environment, 0);
  perror(how);
  return 2;
}

/* A zombie under `token`: registered, dup'ed, closed, made readable. */
static int plant_zombie(uint64_t token, int* epoll_out) {
  int epoll_fd = epoll_create1(0), pair[2];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
  add(epoll_fd, pair[0], token);
  const int keeper = dup(pair[0]);
  close(pair[0]);
  check(write(pair[1], "x", 1) == 1, "write");
  *epoll_out = epoll_fd;
  return keeper;
}

static int syscall_wait(void) {
  int epoll_fd;
  plant_zombie(42, &epoll_fd);
  struct epoll_event ready[4];
  check(syscall(SYS_epoll_wait, epoll_fd, ready, 4, 1000) == 1, "syscall(SYS_epoll_wait)");
  close(epoll_fd);
  return 0;
}

static void zombie_with_a_ghost(uint64_t token) {
  int epoll_fd;
  plant_zombie(token, &epoll_fd);
  struct epoll_event ready[4];
  check(epoll_wait(epoll_fd, ready, 4, 1000) == 1, "epoll_wait");
}

static int raw_fork(const char* how) {
  pid_t child = -1;
  if (strcmp(how, "raw-fork") == 0) child = (pid_t)syscall(SYS_fork);
  if (strcmp(how, "_Fork") == 0) child = _Fork();
#ifdef __x86_64__
  if (strcmp(how, "asm-fork") == 0) child = (pid_t)raw_syscall3(SYS_fork, 0, 0, 0);
#endif
  check(child >= 0, how);
  if (child == 0) {
    zombie_with_a_ghost(43);
    _exit(0);
  }
  int status = 0;
  check(waitpid(child, &status, 0) == child, "waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

static int dup_epoll(void) {
  int epoll_fd = epoll_create1(0), pair[2];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
  add(epoll_fd, pair[0], 44);
  const int moved = dup(epoll_fd);
  close(epoll_fd); /* the set lives on under `moved` */
  const int keeper = dup(pair[0]);
  close(pair[0]); /* a zombie */
  check(write(pair[1], "x", 1) == 1, "write");
  struct epoll_event ready[4];
  check(epoll_wait(moved, ready, 4, 1000) == 1, "epoll_wait");
  (void)keeper;
  return 0;
}

static int uring(void) {
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  const int ring = (int)syscall(SYS_io_uring_setup, 4, &params);
  if (ring < 0) return 77; /* the kernel refuses io_uring here */
  int epoll_fd = epoll_create1(0);
  struct epoll_event ready[1];
  check(epoll_wait(epoll_fd, ready, 1, 0) == 0, "epoll_wait");
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "closefrom") == 0 && argc > 2) return close_from(argv[2], 0);
  if (strcmp(mode, "closefrom-raw") == 0 && argc > 2) return close_from(argv[2], 1);
  if (strcmp(mode, "race") == 0) return race();
  if ((strcmp(mode, "execle") == 0 || strcmp(mode, "fexecve") == 0 ||
       strcmp(mode, "execveat") == 0))
    return exec_with_environment(mode, argv[0]);
  if (strcmp(mode, "syscall-wait") == 0) return syscall_wait();
  if (strcmp(mode, "raw-fork") == 0 || strcmp(mode, "_Fork") == 0 ||
      strcmp(mode, "asm-fork") == 0)
    return raw_fork(mode);
  if (strcmp(mode, "dup-epoll") == 0) return dup_epoll();
  if (strcmp(mode, "uring") == 0) return uring();
  fprintf(stderr,
          "usage: traced_escapes closefrom|closefrom-raw DIR | race | execle|fexecve|execveat | "
          "syscall-wait | raw-fork|_Fork|asm-fork | dup-epoll | uring\n");
  return 2;
}

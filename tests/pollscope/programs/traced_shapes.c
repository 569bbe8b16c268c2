/* Programs whose shape, not their leaks, is what `pollscope trace` must get right: threads,
 * exec, posix_spawn, fork beside busy threads, and the return values and errno a traced program
 * sees. One mode per run:
 *
 *   traced_shapes threads        8 threads, each with its own set, churn 500 registrations
 *                                (add, mod, del, close) and plant one vanished registration
 *                                under token 1000 + thread: exactly 8 findings, all vanished.
 *   traced_shapes exec           execs itself as `vanish`: the finding is the new image's.
 *   traced_shapes spawn          posix_spawn()s itself as `vanish` and waits for it.
 *   traced_shapes vanish         one registered eventfd closed under token 77; the set lives on.
 *   traced_shapes close-range    two registered eventfds (tokens 78, 79) closed by one
 *                                close_range(2); the set lives on.
 *   traced_shapes fork-threads   forks 40 children while two threads call epoll_ctl without
 *                                pause; each child registers and removes one eventfd. A child
 *                                that hangs (a lock inherited held) is killed after 5 s: exit 3.
 *   traced_shapes errno          failing calls return what they return untraced, with the same
 *                                errno: exit 0 when every one does, else 4 naming the call.
 *
 * Every wait is bounded; nothing here sends network traffic. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include "traced_program.h"

static int vanish(void) {
  int epoll_fd = epoll_create1(0), event = eventfd(0, 0);
  add(epoll_fd, event, 77);
  close(event);
  close(epoll_fd);
  return 0;
}

static int vanish_by_close_range(void) {
  int epoll_fd = epoll_create1(0), first = eventfd(0, 0), second = eventfd(0, 0);
  add(epoll_fd, first, 78);
  add(epoll_fd, second, 79);
  const int low = first < second ? first : second, high = first < second ? second : first;
  check(close_range((unsigned)low, (unsigned)high, 0) == 0, "close_range");
  close(epoll_fd);
  return 0;
}

static void* churn(void* argument) {
  const uint64_t index = (uint64_t)(uintptr_t)argument;
  int epoll_fd = epoll_create1(0);
  check(epoll_fd >= 0, "epoll_create1");
  for (int i = 0; i < 500; ++i) {
    int event = eventfd(0, 0);
    add(epoll_fd, event, index * 10000 + (uint64_t)i);
    struct epoll_event changed = {.events = EPOLLIN | EPOLLOUT, .data.u64 = index};
    check(epoll_ctl(epoll_fd, EPOLL_CTL_MOD, event, &changed) == 0, "epoll_ctl MOD");
    check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, event, NULL) == 0, "epoll_ctl DEL");
    close(event);
  }
  int planted = eventfd(0, 0);
  add(epoll_fd, planted, 1000 + index);
  close(planted);
  struct epoll_event ready[4];
  check(epoll_wait(epoll_fd, ready, 4, 0) >= 0, "epoll_wait");
  close(epoll_fd);
  return NULL;
}

static int threads(void) {
  pthread_t workers[8];
  for (uintptr_t i = 0; i < 8; ++i)
    check(pthread_create(&workers[i], NULL, churn, (void*)i) == 0, "pthread_create");
  for (int i = 0; i < 8; ++i) pthread_join(workers[i], NULL);
  return 0;
}

static int exec_self(const char* self) {
  execl(self, self, "vanish", (char*)NULL);
  perror("execl");
  return 2;
}

static int spawn_self(const char* self) {
  pid_t child;
  char* argv[] = {(char*)self, "vanish", NULL};
  check(posix_spawn(&child, self, NULL, NULL, argv, environ) == 0, "posix_spawn");
  int status = 0;
  check(waitpid(child, &status, 0) == child, "waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

static atomic_bool stop_churning;

static void* ctl_without_pause(void* unused) {
  (void)unused;
  int epoll_fd = epoll_create1(0), event = eventfd(0, 0);
  while (!atomic_load(&stop_churning)) {
    add(epoll_fd, event, 5);
    check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, event, NULL) == 0, "epoll_ctl DEL");
  }
  close(event);
  close(epoll_fd);
  return NULL;
}

/* Waits up to 5 s for `child`; kills it and answers -1 if it is still running by then. */
static int bounded_wait(pid_t child) {
  int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
  check(pidfd >= 0, "pidfd_open");
  struct pollfd ended = {.fd = pidfd, .events = POLLIN};
  int finished = poll(&ended, 1, 5000) == 1;
  close(pidfd);
  if (!finished) kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  return finished && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int fork_threads(void) {
  pthread_t busy[2];
  for (int i = 0; i < 2; ++i)
    check(pthread_create(&busy[i], NULL, ctl_without_pause, NULL) == 0, "pthread_create");
  int hung = 0;
  for (int i = 0; i < 40 && !hung; ++i) {
    pid_t child = fork();
    check(child >= 0, "fork");
    if (child == 0) {
      int epoll_fd = epoll_create1(0), event = eventfd(0, 0);
      add(epoll_fd, event, 6);
      check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, event, NULL) == 0, "epoll_ctl DEL");
      close(event);
      close(epoll_fd);
      _exit(0);
    }
    hung = bounded_wait(child) != 0;
  }
  atomic_store(&stop_churning, 1);
  for (int i = 0; i < 2; ++i) pthread_join(busy[i], NULL);
  if (hung) fprintf(stderr, "traced_shapes: a forked child hung or failed\n");
  return hung ? 3 : 0;
}

/* Expects `result` to be -1 with errno `expected`; names the call otherwise. */
static int failed_with(int result, int expected, const char* call) {
  if (result == -1 && errno == expected) return 1;
  fprintf(stderr, "traced_shapes: %s returned %d, errno %d (%s); expected -1, errno %d\n", call,
          result, errno, strerror(errno), expected);
  return 0;
}

static int errno_untouched(void) {
  int epoll_fd = epoll_create1(0), event = eventfd(0, 0);
  struct epoll_event some = {.events = EPOLLIN};
  int ok = 1;
  ok &= failed_with(close(-1), EBADF, "close(-1)");
  ok &= failed_with(epoll_ctl(epoll_fd, EPOLL_CTL_ADD, -1, &some), EBADF, "epoll_ctl(ADD, -1)");
  ok &= failed_with(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, event, NULL), ENOENT,
                    "epoll_ctl(DEL, unregistered)");
  ok &= failed_with(epoll_ctl(epoll_fd, EPOLL_CTL_ADD, epoll_fd, &some), EINVAL,
                    "epoll_ctl(ADD, itself)");
  ok &= failed_with(dup2(-1, 100), EBADF, "dup2(-1)");
  ok &= failed_with(fcntl(-1, F_DUPFD_CLOEXEC, 0), EBADF, "fcntl(-1, F_DUPFD_CLOEXEC)");
  ok &= failed_with(epoll_wait(-1, &some, 1, 0), EBADF, "epoll_wait(-1)");
  ok &= failed_with(epoll_create1(-1), EINVAL, "epoll_create1(-1)");
  errno = 1234; /* a successful call leaves errno as it found it */
  const int copy = dup(event);
  if (copy < 0 || errno != 1234) ok = 0, fprintf(stderr, "traced_shapes: dup changed errno\n");
  close(copy);
  close(event);
  close(epoll_fd);
  return ok ? 0 : 4;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "threads") == 0) return threads();
  if (strcmp(mode, "exec") == 0) return exec_self(argv[0]);
  if (strcmp(mode, "spawn") == 0) return spawn_self(argv[0]);
  if (strcmp(mode, "vanish") == 0) return vanish();
  if (strcmp(mode, "close-range") == 0) return vanish_by_close_range();
  if (strcmp(mode, "fork-threads") == 0) return fork_threads();
  if (strcmp(mode, "errno") == 0) return errno_untouched();
  fprintf(stderr,
          "usage: traced_shapes threads|exec|spawn|vanish|close-range|fork-threads|errno\n");
  return 2;
}

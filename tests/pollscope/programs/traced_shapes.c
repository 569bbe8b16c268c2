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
 *   traced_shapes keeper-closed  an eventfd under token 80 is dup'ed and closed (a zombie, one
 *                                ghost event), then its dup is closed, which ends the
 *                                registration; a new eventfd takes token 80: one zombie, ended,
 *                                and no token collision.
 *   traced_shapes quiet-keeper   as keeper-closed (token 82), but the dup is closed right after
 *                                the original with nothing between, and the set lives on (an
 *                                eventfd under token 83 added and removed): one zombie warning.
 *   traced_shapes dup2-same-file a dup registered under token 81 gets its own file again with
 *                                dup2 from the original: the registration is still the number's,
 *                                removed with EPOLL_CTL_DEL: no finding.
 * Each mode checks what the kernel lists (/proc/self/fdinfo of the set): exit 3 if it differs.
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

/* The registrations the kernel lists under the number `fd` in the set. */
static int listed(int epoll_fd, int fd) {
  char path[64], text[16384];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epoll_fd);
  const int info = open(path, O_RDONLY | O_CLOEXEC);
  check(info >= 0, "open fdinfo");
  const ssize_t length = read(info, text, sizeof text - 1);
  close(info);
  text[length > 0 ? length : 0] = '\0';
  int count = 0;
  for (const char* at = text; (at = strstr(at, "tfd:")) != NULL; at += 4)
    count += atoi(at + 4) == fd;
  return count;
}

static void expect_listed(int epoll_fd, int fd, int expected, const char* when) {
  if (listed(epoll_fd, fd) == expected) return;
  fprintf(stderr, "traced_shapes: the kernel lists %d under fd %d %s, not %d\n",
          listed(epoll_fd, fd), fd, when, expected);
  exit(3);
}

static int ready(int epoll_fd) {
  struct epoll_event events[4];
  return epoll_wait(epoll_fd, events, 4, 1000);
}

static int keeper_closed(int quiet) {
  const uint64_t token = quiet ? 82 : 80;
  int epoll_fd = epoll_create1(0), first = eventfd(0, 0);
  add(epoll_fd, first, token);
  const int keeper = fcntl(first, F_DUPFD_CLOEXEC, 0);
  close(first);
  expect_listed(epoll_fd, first, 1, "after the first close (a zombie)");
  if (!quiet) {
    check(eventfd_write(keeper, 1) == 0 && ready(epoll_fd) == 1, "ghost event");
  }
  close(keeper);
  expect_listed(epoll_fd, first, 0, "after its keeper's close");
  if (quiet) { /* the set lives on: its loop's teardown is not what ended the zombie */
    int other = eventfd(0, 0);
    add(epoll_fd, other, 83);
    check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, other, NULL) == 0, "epoll_ctl DEL");
    close(other);
  } else {
    int second = eventfd(0, 0);
    add(epoll_fd, second, token);
    check(eventfd_write(second, 1) == 0 && ready(epoll_fd) == 1, "live event");
    check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, second, NULL) == 0, "epoll_ctl DEL");
    close(second);
  }
  close(epoll_fd);
  return 0;
}

static int dup2_same_file(void) {
  int epoll_fd = epoll_create1(0), original = eventfd(0, 0);
  const int copy = dup(original);
  add(epoll_fd, copy, 81);
  check(dup2(original, copy) == copy, "dup2");
  expect_listed(epoll_fd, copy, 1, "after dup2 of its own file");
  check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, copy, NULL) == 0, "epoll_ctl DEL after dup2");
  close(copy);
  close(original);
  close(epoll_fd);
  return 0;
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
  if (strcmp(mode, "keeper-closed") == 0) return keeper_closed(0);
  if (strcmp(mode, "quiet-keeper") == 0) return keeper_closed(1);
  if (strcmp(mode, "dup2-same-file") == 0) return dup2_same_file();
  fprintf(stderr,
          "usage: traced_shapes threads|exec|spawn|vanish|close-range|fork-threads|errno|"
          "keeper-closed|quiet-keeper|dup2-same-file\n");
  return 2;
}

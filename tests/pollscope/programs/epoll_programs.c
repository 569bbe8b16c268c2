/* Small raw-epoll programs for `pollscope inspect` and `pollscope trace`, one per mode:
 *
 *   epoll_programs correct    both ends of a pipe, eventfds, a timerfd and a signalfd in one
 *                             set, and a forked child that closes what it inherited: every
 *                             registration removed before its descriptor is closed.
 *   epoll_programs planted    each leak class once (see plant_* below), in two sets.
 *   epoll_programs growing    adds a registration every 5 ms (at most 2,000).
 *   epoll_programs shared_fork
 *                             a set shared across a fork, each process registering in it a file
 *                             of its own under the same number (the child closed its copy of the
 *                             parent's); and a zombie: a second set, which the child closed, whose
 *                             registered pipe the parent closed while the child keeps it. It
 *                             prints "ready <epoll fd> <child pid>".
 *   epoll_programs oneshot    a zombie whose EPOLLONESHOT registration fired (now disarmed).
 *   epoll_programs churn      a correct busy loop: a socketpair registered, deregistered and
 *                             closed over and over (at most 20 s), beside 800 other descriptors.
 *   epoll_programs many_eventfds N
 *                             N eventfds registered in one set (fewer when the descriptor limit
 *                             cannot hold them), all sharing the one anonymous inode; among them
 *                             the first registered again through a dup (a duplicate_target,
 *                             token 8) and one closed while a dup keeps it (a zombie, token 7).
 *                             It prints "ready <epoll fd> <registrations> <keeper fd>".
 *   epoll_programs odd_names DIR
 *                             a FIFO made in DIR, named with a newline, an escape sequence and
 *                             a byte that is not UTF-8,
 *                             registered, and registered again through a copy that is then
 *                             closed (a zombie whose detail names it); its comm holds a newline.
 *
 * Each prints "ready <epoll fd>" once its sets are in place, then waits (at most 20 s) for its
 * standard input to close, so that a test can inspect it; then it tears down and exits 0. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void check(int ok, const char* what) {
  if (!ok) {
    perror(what);
    exit(2);
  }
}

static void add(int epoll_fd, int fd, uint64_t data, uint32_t events) {
  struct epoll_event event = {.events = events, .data.u64 = data};
  check(epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0, "epoll_ctl ADD");
}

static void del(int epoll_fd, int fd) {
  check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL) == 0, "epoll_ctl DEL");
}

/* Waits for `fd` to close at its other end (or 20 s). */
static void wait_for_close(int fd) {
  struct pollfd input = {.fd = fd, .events = POLLIN};
  char buffer[64];
  while (poll(&input, 1, 20000) == 1 && read(fd, buffer, sizeof buffer) > 0) {
  }
}

/* Announces the set and waits for standard input to close (or 20 s). */
static void ready_and_wait(int epoll_fd) {
  printf("ready %d\n", epoll_fd);
  fflush(stdout);
  wait_for_close(0);
}

static int correct(void) {
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  int ends[2], events[3], timer, signals;
  check(pipe(ends) == 0, "pipe");
  for (int i = 0; i < 3; ++i) check((events[i] = eventfd(0, EFD_NONBLOCK)) >= 0, "eventfd");
  check((timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK)) >= 0, "timerfd");
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  check(sigprocmask(SIG_BLOCK, &mask, NULL) == 0, "sigprocmask");
  check((signals = signalfd(-1, &mask, SFD_NONBLOCK)) >= 0, "signalfd");
  int all[] = {ends[0], ends[1], events[0], events[1], events[2], timer, signals};
  for (int i = 0; i < 7; ++i) add(epoll_fd, all[i], 10 + (uint64_t)i, i == 1 ? EPOLLOUT : EPOLLIN);
  /* A failed call the program handles is not a leak: adding twice fails with EEXIST. */
  struct epoll_event again = {.events = EPOLLIN, .data.u64 = 10};
  check(epoll_ctl(epoll_fd, EPOLL_CTL_ADD, ends[0], &again) == -1, "second ADD");
  check(epoll_ctl(epoll_fd, EPOLL_CTL_MOD, ends[0], &again) == 0, "MOD");
  pid_t child = fork();
  check(child >= 0, "fork");
  if (child == 0) { /* the child's copies close without touching the parent's set */
    for (int i = 0; i < 7; ++i) close(all[i]);
    _exit(0);
  }
  check(waitpid(child, NULL, 0) == child, "waitpid");
  ready_and_wait(epoll_fd);
  struct epoll_event ready[8];
  check(epoll_wait(epoll_fd, ready, 8, 0) >= 0, "epoll_wait");
  for (int i = 0; i < 7; ++i) {
    del(epoll_fd, all[i]);
    close(all[i]);
  }
  close(epoll_fd);
  return 0;
}

/* vanished: the only descriptor of a registered eventfd closed; the set lives on. */
static void plant_vanished(int epoll_fd) {
  int event = eventfd(0, 0);
  add(epoll_fd, event, 1, EPOLLIN);
  close(event);
}

/* zombie: a registered socket closed while a dup keeps it open; two events then arrive under
 * its token. Returns the dup, which keeps the registration alive. */
static int plant_zombie(int epoll_fd) {
  int pair[2];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
  int keeper = dup(pair[0]);
  add(epoll_fd, pair[0], 2, EPOLLIN);
  close(pair[0]);
  check(write(pair[1], "x", 1) == 1, "write");
  struct epoll_event ready[8];
  for (int i = 0; i < 2; ++i) check(epoll_wait(epoll_fd, ready, 8, 1000) == 1, "ghost event");
  close(pair[1]);
  return keeper;
}

/* duplicate_target: one open file registered under two numbers. Returns the dup. */
static int plant_duplicate(int epoll_fd, int* original) {
  check((*original = eventfd(0, 0)) >= 0, "eventfd");
  int copy = dup(*original);
  add(epoll_fd, *original, 3, EPOLLIN);
  add(epoll_fd, copy, 4, EPOLLIN);
  return copy;
}

/* token_collision: two eventfds under token 9. */
static void plant_collision(int epoll_fd, int fds[2]) {
  for (int i = 0; i < 2; ++i) {
    check((fds[i] = eventfd(0, 0)) >= 0, "eventfd");
    add(epoll_fd, fds[i], 9, EPOLLIN);
  }
}

static int planted(void) {
  int epoll_fd = epoll_create1(0);
  plant_vanished(epoll_fd);
  int keeper = plant_zombie(epoll_fd);
  int original, collision[2];
  int copy = plant_duplicate(epoll_fd, &original);
  plant_collision(epoll_fd, collision);
  /* closed_with_registrations: a second set closed with a pipe still in it. */
  int other_set = epoll_create1(0), ends[2];
  check(pipe(ends) == 0, "pipe");
  add(other_set, ends[0], 5, EPOLLIN);
  ready_and_wait(epoll_fd);
  close(other_set);
  close(ends[0]);
  close(ends[1]);
  close(keeper); /* the zombie's file goes, and its registration with it */
  del(epoll_fd, copy);
  close(copy);
  for (int i = 0; i < 2; ++i) {
    del(epoll_fd, collision[i]);
    close(collision[i]);
  }
  /* leaked: `original` is still registered when the program exits. */
  struct epoll_event ready[8];
  check(epoll_wait(epoll_fd, ready, 8, 0) >= 0, "epoll_wait");
  return 0;
}

static int odd_names(const char* directory) {
  char path[4096];
  check(snprintf(path, sizeof path, "%s/fifo\nline\x1b[2J\xff", directory) < (int)sizeof path,
        "snprintf");
  check(mkfifo(path, 0600) == 0, "mkfifo");
  check(prctl(PR_SET_NAME, "odd\ncomm") == 0, "prctl");
  int epoll_fd = epoll_create1(0);
  int live = open(path, O_RDWR | O_NONBLOCK);
  int copied = open(path, O_RDWR | O_NONBLOCK);
  check(live >= 0 && copied >= 0, "open");
  add(epoll_fd, live, 1, EPOLLIN);
  int keeper = dup(copied);
  add(epoll_fd, copied, 2, EPOLLIN);
  close(copied);
  ready_and_wait(epoll_fd);
  close(keeper);
  del(epoll_fd, live);
  close(live);
  close(epoll_fd);
  return 0;
}

static int shared_fork(void) {
  int shared = epoll_create1(0), ends[2], other_set = epoll_create1(0), kept[2], sync[2], go[2];
  check(pipe(ends) == 0 && pipe(kept) == 0 && pipe(sync) == 0 && pipe(go) == 0, "pipe");
  add(shared, ends[0], 11, EPOLLIN);
  add(other_set, kept[0], 33, EPOLLIN);
  pid_t child = fork();
  check(child >= 0, "fork");
  if (child == 0) {
    close(ends[0]);            /* the registration is the parent's: no DEL, which would remove it */
    int event = eventfd(0, 0); /* the lowest free number: ends[0]'s */
    add(shared, event, 22, EPOLLIN);
    close(other_set); /* kept[0] stays open here, in no set of this process */
    check(write(sync[1], "r", 1) == 1, "write");
    close(go[1]);
    wait_for_close(go[0]);
    del(shared, event);
    close(event);
    _exit(0);
  }
  close(go[0]);
  char c;
  check(read(sync[0], &c, 1) == 1, "read");
  close(kept[0]); /* without DEL: the child keeps the file, but not the set */
  printf("ready %d %d\n", shared, (int)child);
  fflush(stdout);
  wait_for_close(0);
  close(go[1]);
  check(waitpid(child, NULL, 0) == child, "waitpid");
  del(shared, ends[0]);
  close(ends[0]);
  close(shared);
  close(other_set);
  return 0;
}

static int oneshot(void) {
  int epoll_fd = epoll_create1(0), ends[2];
  check(pipe(ends) == 0, "pipe");
  add(epoll_fd, ends[0], 100, EPOLLIN | EPOLLONESHOT);
  check(write(ends[1], "x", 1) == 1, "write");
  struct epoll_event ready[8];
  check(epoll_wait(epoll_fd, ready, 8, 1000) == 1, "epoll_wait"); /* fired: now disarmed */
  int keeper = dup(ends[0]);
  close(ends[0]);
  ready_and_wait(epoll_fd);
  close(keeper);
  close(ends[1]);
  close(epoll_fd);
  return 0;
}

/* Adds, deletes and closes as fast as it can, as a server taking short connections does, until
 * standard input closes (or 20 s); the other descriptors make reading its table slow. */
static int churn(void) {
  for (int i = 0; i < 800 && dup2(0, 100 + i) >= 0; ++i) {
  }
  int epoll_fd = epoll_create1(0), base[2];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, base) == 0, "socketpair");
  add(epoll_fd, base[0], 1000, EPOLLIN);
  printf("ready %d\n", epoll_fd);
  fflush(stdout);
  struct pollfd input = {.fd = 0, .events = POLLIN};
  const time_t end = time(NULL) + 20;
  for (long cycles = 1; cycles % 256 != 0 || (poll(&input, 1, 0) == 0 && time(NULL) < end);
       ++cycles) {
    int pair[2];
    check(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
    add(epoll_fd, pair[0], (uint64_t)pair[0], EPOLLIN);
    del(epoll_fd, pair[0]);
    close(pair[0]);
    close(pair[1]);
  }
  del(epoll_fd, base[0]);
  close(base[0]);
  close(base[1]);
  close(epoll_fd);
  return 0;
}

static int growing(void) {
  int epoll_fd = epoll_create1(0);
  printf("ready %d\n", epoll_fd);
  fflush(stdout);
  struct pollfd input = {.fd = 0, .events = POLLIN};
  for (int i = 0; i < 2000 && poll(&input, 1, 5) == 0; ++i) {
    add(epoll_fd, eventfd(0, 0), 100 + (uint64_t)i, EPOLLIN);
  }
  return 0;
}

static int many_eventfds(long wanted) {
  struct rlimit limit;
  check(getrlimit(RLIMIT_NOFILE, &limit) == 0, "getrlimit");
  limit.rlim_cur = limit.rlim_max;
  check(setrlimit(RLIMIT_NOFILE, &limit) == 0, "setrlimit");
  const long room = (long)limit.rlim_cur - 16; /* stdio, the set, the planted three */
  const long count = wanted < room ? wanted : room;
  int epoll_fd = epoll_create1(0);
  check(epoll_fd >= 0, "epoll_create1");
  int first = -1;
  for (long i = 0; i < count; ++i) {
    int event = eventfd(0, 0);
    check(event >= 0, "eventfd");
    add(epoll_fd, event, 1000 + (uint64_t)i, EPOLLIN);
    if (i == 0) first = event;
  }
  int zombie = eventfd(0, 0);
  check(zombie >= 0, "eventfd");
  int keeper = dup(zombie);
  int copy = dup(first);
  check(keeper >= 0 && copy >= 0, "dup");
  add(epoll_fd, zombie, 7, EPOLLIN);
  add(epoll_fd, copy, 8, EPOLLIN);
  close(zombie);
  printf("ready %d %ld %d\n", epoll_fd, count + 2, keeper);
  fflush(stdout);
  wait_for_close(0);
  return 0; /* the exit closes the rest */
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "correct") == 0) return correct();
  if (strcmp(mode, "planted") == 0) return planted();
  if (strcmp(mode, "growing") == 0) return growing();
  if (strcmp(mode, "shared_fork") == 0) return shared_fork();
  if (strcmp(mode, "oneshot") == 0) return oneshot();
  if (strcmp(mode, "churn") == 0) return churn();
  if (strcmp(mode, "odd_names") == 0 && argc > 2) return odd_names(argv[2]);
  if (strcmp(mode, "many_eventfds") == 0 && argc > 2) return many_eventfds(atol(argv[2]));
  fprintf(stderr,
          "usage: epoll_programs correct|planted|growing|shared_fork|oneshot|churn|odd_names "
          "DIR|many_eventfds N\n");
  return 2;
}

/* Zombies as `pollscope trace` must count them: which registration under a reused number a close
 * ended, events under a token a live registration shares, the mask a MOD left, many zombies in
 * one set, and a worker's teardown. One mode per run:
 *
 *   traced_zombies reuse       an eventfd under token 1 is dup'ed and closed (a zombie, kept by
 *                              the dup); a new eventfd takes its number under token 2 and is
 *                              closed with no copy: one zombie and one vanished.
 *   traced_zombies token       a zombie under token = its number; a new eventfd takes the number
 *                              and the token, and is made readable and polled: one zombie with no
 *                              ghost event, one token collision.
 *   traced_zombies mask        registered for EPOLLOUT, changed to EPOLLIN, dup'ed and closed:
 *                              the zombie shows EPOLLIN.
 *   traced_zombies many N      N eventfds, each dup'ed, each closed while registered, the set
 *                              and the dups left open at exit: N zombies.
 *   traced_zombies teardown    a forked worker registers an eventfd its parent holds, closes its
 *                              copy, then its epoll set: a zombie warning, no error.
 *   traced_zombies inherited   the parent registers an eventfd (token 31) and forks; the child
 *                              closes its copy, the parent still holding the file: no finding.
 *   traced_zombies daemon      the same under token 32, but the child dups the eventfd before
 *                              closing it, makes it readable and waits on the shared set: a
 *                              zombie error in the child, with one ghost event.
 *   traced_zombies handover    the parent registers an eventfd (token 34) and forks; the child
 *                              removes the registration from the shared set; the parent exits
 *                              without touching it: no finding.
 *   traced_zombies readd       the parent registers eventfds under tokens 35 and 36, forks, and
 *                              registers a third (token 37); the child removes all three; the
 *                              parent then adds the first two again, leaves one (token 38) and
 *                              closes the other (token 39): one leaked and one vanished.
 *   traced_zombies same-number parent and child share a set; each registers an eventfd of its
 *                              own as number 40: the child's (token 40) is closed while the
 *                              parent's (token 41) is listed under the number, then the parent's
 *                              while the child's next (token 42) is: two vanished, no zombie.
 *   traced_zombies same-token  as same-number (number 44), every registration under token 44:
 *                              two vanished, no zombie.
 *   traced_zombies same-token-kept
 *                              as same-token, but the child's eventfd was made before the fork and
 *                              the parent keeps its copy under another number: the child's close
 *                              leaves its registration living on, one zombie (token 44).
 *   traced_zombies passed-set  as same-token, but the set is made after the fork and handed to the
 *                              child over a Unix socket: two vanished, no zombie.
 *
 * Every wait is bounded; nothing here sends network traffic. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void check(int ok, const char* what) {
  if (!ok) {
    perror(what);
    exit(2);
  }
}

static void add(int epoll_fd, int fd, uint32_t events, uint64_t data) {
  struct epoll_event event = {.events = events, .data.u64 = data};
  check(epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0, "epoll_ctl ADD");
}

static int reuse(void) {
  int epoll_fd = epoll_create1(0), first = eventfd(0, 0);
  add(epoll_fd, first, EPOLLIN, 1);
  int keeper = dup(first);
  close(first);
  int second = eventfd(0, 0);
  check(second == first, "eventfd reusing the number");
  add(epoll_fd, second, EPOLLIN, 2);
  close(second);
  close(keeper);
  close(epoll_fd);
  return 0;
}

static int token(void) {
  int epoll_fd = epoll_create1(0), first = eventfd(0, 0);
  add(epoll_fd, first, EPOLLIN, (uint64_t)first);
  int keeper = dup(first);
  close(first);
  int second = eventfd(0, 0);
  check(second == first, "eventfd reusing the number");
  add(epoll_fd, second, EPOLLIN, (uint64_t)second);
  uint64_t one = 1;
  check(write(second, &one, sizeof one) == sizeof one, "write");
  struct epoll_event ready[4];
  check(epoll_wait(epoll_fd, ready, 4, 1000) == 1, "epoll_wait");
  check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, second, NULL) == 0, "epoll_ctl DEL");
  close(second);
  close(keeper);
  close(epoll_fd);
  return 0;
}

static int mask(void) {
  int epoll_fd = epoll_create1(0), event = eventfd(0, 0);
  add(epoll_fd, event, EPOLLOUT, 5);
  struct epoll_event changed = {.events = EPOLLIN, .data.u64 = 5};
  check(epoll_ctl(epoll_fd, EPOLL_CTL_MOD, event, &changed) == 0, "epoll_ctl MOD");
  int keeper = dup(event);
  close(event);
  close(keeper);
  close(epoll_fd);
  return 0;
}

static int many(int count) {
  struct rlimit limit;
  check(getrlimit(RLIMIT_NOFILE, &limit) == 0, "getrlimit");
  if (limit.rlim_cur < (rlim_t)(2 * count + 64)) {
    limit.rlim_cur = (rlim_t)(2 * count + 64);
    check(setrlimit(RLIMIT_NOFILE, &limit) == 0, "setrlimit");
  }
  int epoll_fd = epoll_create1(0);
  int* originals = calloc((size_t)count, sizeof *originals);
  int* keepers = calloc((size_t)count, sizeof *keepers);
  check(originals != NULL && keepers != NULL, "calloc");
  for (int i = 0; i < count; ++i) {
    originals[i] = eventfd(0, 0);
    check(originals[i] >= 0, "eventfd");
    add(epoll_fd, originals[i], EPOLLIN, 100000 + (uint64_t)i);
    keepers[i] = dup(originals[i]);
    check(keepers[i] >= 0, "dup");
  }
  for (int i = 0; i < count; ++i) close(originals[i]);
  /* The set and the dups live on to the exit: the zombies are still there then. */
  free(originals);
  free(keepers);
  return 0;
}

static int teardown(void) {
  int shared = eventfd(0, 0);
  pid_t worker = fork();
  check(worker >= 0, "fork");
  if (worker == 0) {
    int epoll_fd = epoll_create1(0);
    add(epoll_fd, shared, EPOLLIN, 9);
    close(shared); /* the parent still holds the file: the registration lives on */
    close(epoll_fd);
    _exit(0);
  }
  int status = 0;
  check(waitpid(worker, &status, 0) == worker, "waitpid");
  close(shared);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

/* The parent's half of `inherited` and `daemon`: registers under `token`, forks `child`, waits
 * for it, then deregisters and closes as a correct program does. */
static int shared_set(uint64_t token, void (*child)(int epoll_fd, int event)) {
  int epoll_fd = epoll_create1(0), event = eventfd(0, 0);
  add(epoll_fd, event, EPOLLIN, token);
  pid_t worker = fork();
  check(worker >= 0, "fork");
  if (worker == 0) {
    child(epoll_fd, event);
    _exit(0);
  }
  int status = 0;
  check(waitpid(worker, &status, 0) == worker, "waitpid");
  check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, event, NULL) == 0, "epoll_ctl DEL");
  close(event);
  close(epoll_fd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

static void close_copy(int epoll_fd, int event) {
  (void)epoll_fd;
  close(event);
}

static void keep_and_wait(int epoll_fd, int event) {
  int keeper = dup(event);
  close(event);
  uint64_t one = 1;
  check(write(keeper, &one, sizeof one) == sizeof one, "write");
  struct epoll_event ready[4];
  check(epoll_wait(epoll_fd, ready, 4, 1000) == 1, "epoll_wait");
  close(keeper);
}

static int handover(void) {
  int epoll_fd = epoll_create1(0), event = eventfd(0, 0);
  add(epoll_fd, event, EPOLLIN, 34);
  pid_t worker = fork();
  check(worker >= 0, "fork");
  if (worker == 0) {
    check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, event, NULL) == 0, "epoll_ctl DEL");
    _exit(0);
  }
  int status = 0;
  check(waitpid(worker, &status, 0) == worker, "waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2; /* the child removed it: nothing to do */
}

static int readd(void) {
  int epoll_fd = epoll_create1(0), left = eventfd(0, 0), closed = eventfd(0, 0);
  int late = eventfd(0, 0), ready[2];
  check(pipe(ready) == 0, "pipe");
  add(epoll_fd, left, EPOLLIN, 35);
  add(epoll_fd, closed, EPOLLIN, 36);
  pid_t worker = fork();
  check(worker >= 0, "fork");
  if (worker == 0) {
    /* Waits until the parent registered `late` (a parent that failed ends the read). */
    char go = 0;
    close(ready[1]);
    check(read(ready[0], &go, 1) == 1, "read");
    const int removed[] = {left, closed, late};
    for (int i = 0; i < 3; ++i)
      check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, removed[i], NULL) == 0, "epoll_ctl DEL");
    _exit(0);
  }
  close(ready[0]);
  add(epoll_fd, late, EPOLLIN, 37);
  check(write(ready[1], "g", 1) == 1, "write");
  int status = 0;
  check(waitpid(worker, &status, 0) == worker, "waitpid");
  add(epoll_fd, left, EPOLLIN, 38); /* new registrations, made after the child's DELs */
  add(epoll_fd, closed, EPOLLIN, 39);
  close(closed);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

/* A new eventfd as descriptor `number`. */
static void own_eventfd_as(int number) {
  const int event = eventfd(0, 0);
  check(event >= 0 && dup2(event, number) == number, "eventfd as the number");
  if (event != number) close(event);
}

static void pass(int to) {
  check(write(to, "s", 1) == 1, "write");
}

static void await(int from) {
  char step = 0;
  check(read(from, &step, 1) == 1, "read"); /* a partner that failed ends the read */
}

static int same_number(void) {
  enum { kNumber = 40 };
  int epoll_fd = epoll_create1(0), to_child[2], to_parent[2];
  check(pipe(to_child) == 0 && pipe(to_parent) == 0, "pipe");
  pid_t worker = fork();
  check(worker >= 0, "fork");
  if (worker == 0) {
    close(to_child[1]);
    own_eventfd_as(kNumber);
    add(epoll_fd, kNumber, EPOLLIN, 40);
    pass(to_parent[1]);
    await(to_child[0]); /* the parent's registration is listed under the number too */
    close(kNumber);
    own_eventfd_as(kNumber);
    add(epoll_fd, kNumber, EPOLLIN, 42);
    pass(to_parent[1]);
    await(to_child[0]);
    check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, kNumber, NULL) == 0, "epoll_ctl DEL");
    _exit(0);
  }
  close(to_parent[1]);
  await(to_parent[0]);
  own_eventfd_as(kNumber);
  add(epoll_fd, kNumber, EPOLLIN, 41);
  pass(to_child[1]);
  await(to_parent[0]); /* the child's next registration is listed under the number */
  close(kNumber);
  pass(to_child[1]);
  int status = 0;
  check(waitpid(worker, &status, 0) == worker, "waitpid");
  close(epoll_fd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

/* Parent and child each register a file under kNumber and one token; `kept`: the child's first
 * file is made before the fork and the parent keeps it (as kKeeper), so its registration lives on
 * when the child closes it. */
static int same_token(int kept) {
  enum { kNumber = 44, kKeeper = 50, kToken = 44 };
  int epoll_fd = epoll_create1(0), to_child[2], to_parent[2];
  check(pipe(to_child) == 0 && pipe(to_parent) == 0, "pipe");
  if (kept) own_eventfd_as(kNumber);
  pid_t worker = fork();
  check(worker >= 0, "fork");
  if (worker == 0) {
    close(to_child[1]);
    if (!kept) own_eventfd_as(kNumber);
    add(epoll_fd, kNumber, EPOLLIN, kToken);
    pass(to_parent[1]);
    await(to_child[0]); /* the parent's registration is listed under the number too */
    close(kNumber);
    if (kept) _exit(0);
    own_eventfd_as(kNumber);
    add(epoll_fd, kNumber, EPOLLIN, kToken);
    pass(to_parent[1]);
    await(to_child[0]);
    check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, kNumber, NULL) == 0, "epoll_ctl DEL");
    _exit(0);
  }
  close(to_parent[1]);
  await(to_parent[0]);
  if (kept) check(dup2(kNumber, kKeeper) == kKeeper, "dup2");
  own_eventfd_as(kNumber);
  add(epoll_fd, kNumber, EPOLLIN, kToken);
  pass(to_child[1]);
  int status = 0;
  if (!kept) {
    await(to_parent[0]); /* the child's next registration is listed under the number */
    close(kNumber);
    pass(to_child[1]);
  } else {
    check(waitpid(worker, &status, 0) == worker, "waitpid");
    check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, kNumber, NULL) == 0, "epoll_ctl DEL");
    close(kNumber);
    close(epoll_fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
  }
  check(waitpid(worker, &status, 0) == worker, "waitpid");
  close(epoll_fd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

static void send_descriptor(int socket, int fd) {
  char byte = 's', control[CMSG_SPACE(sizeof fd)] = {0};
  struct iovec io = {.iov_base = &byte, .iov_len = 1};
  struct msghdr message = {
      .msg_iov = &io, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof fd);
  memcpy(CMSG_DATA(header), &fd, sizeof fd);
  check(sendmsg(socket, &message, 0) == 1, "sendmsg");
}

static int receive_descriptor(int socket) {
  char byte = 0, control[CMSG_SPACE(sizeof(int))] = {0};
  struct iovec io = {.iov_base = &byte, .iov_len = 1};
  struct msghdr message = {
      .msg_iov = &io, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  check(recvmsg(socket, &message, 0) == 1, "recvmsg");
  struct cmsghdr* header = CMSG_FIRSTHDR(&message);
  check(header != NULL && header->cmsg_type == SCM_RIGHTS, "SCM_RIGHTS");
  int fd = -1;
  memcpy(&fd, CMSG_DATA(header), sizeof fd);
  return fd;
}

/* same_token's shape, the set made after the fork and handed over with SCM_RIGHTS. */
static int passed_set(void) {
  enum { kNumber = 44, kToken = 44 };
  int link[2];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, link) == 0, "socketpair");
  pid_t worker = fork();
  check(worker >= 0, "fork");
  if (worker == 0) {
    close(link[0]);
    const int epoll_fd = receive_descriptor(link[1]);
    own_eventfd_as(kNumber);
    add(epoll_fd, kNumber, EPOLLIN, kToken);
    pass(link[1]);
    await(link[1]); /* the parent closed its own under the number */
    check(epoll_ctl(epoll_fd, EPOLL_CTL_DEL, kNumber, NULL) == 0, "epoll_ctl DEL");
    _exit(0);
  }
  close(link[1]);
  const int epoll_fd = epoll_create1(0);
  own_eventfd_as(kNumber);
  add(epoll_fd, kNumber, EPOLLIN, kToken);
  send_descriptor(link[0], epoll_fd);
  await(link[0]); /* the child's registration is listed under the number */
  close(kNumber);
  pass(link[0]);
  int status = 0;
  check(waitpid(worker, &status, 0) == worker, "waitpid");
  close(epoll_fd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "reuse") == 0) return reuse();
  if (strcmp(mode, "token") == 0) return token();
  if (strcmp(mode, "mask") == 0) return mask();
  if (strcmp(mode, "many") == 0 && argc > 2) return many(atoi(argv[2]));
  if (strcmp(mode, "teardown") == 0) return teardown();
  if (strcmp(mode, "inherited") == 0) return shared_set(31, close_copy);
  if (strcmp(mode, "daemon") == 0) return shared_set(32, keep_and_wait);
  if (strcmp(mode, "handover") == 0) return handover();
  if (strcmp(mode, "readd") == 0) return readd();
  if (strcmp(mode, "same-number") == 0) return same_number();
  if (strcmp(mode, "same-token") == 0) return same_token(0);
  if (strcmp(mode, "same-token-kept") == 0) return same_token(1);
  if (strcmp(mode, "passed-set") == 0) return passed_set();
  fprintf(stderr,
          "usage: traced_zombies reuse|token|mask|many N|teardown|inherited|daemon|handover|"
          "readd|same-number|same-token|same-token-kept|passed-set\n");
  return 2;
}

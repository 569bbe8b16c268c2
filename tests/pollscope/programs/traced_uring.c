/* An io_uring ring made after the program's first epoll_wait and closed before it exits: the
 * interposer's looks for a ring (at the first wait, an exec, the exit) find none then, so only
 * the making of it can tell `pollscope trace` that the process used io_uring. One mode per run:
 *
 *   traced_uring syscall            io_uring_setup through syscall(2), then close
 *   traced_uring setup              liburing's io_uring_setup (liburing 2.3), then close
 *   traced_uring queue-init         liburing's io_uring_queue_init, then io_uring_queue_exit
 *   traced_uring queue-init-params  liburing's io_uring_queue_init_params, then
 *                                   io_uring_queue_exit
 *
 * Each prints "ring fd N". Exit 77 where the kernel refuses io_uring, or where the mode's
 * liburing call was not built in. Nothing here waits or sends network traffic. */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "traced_program.h"

static int by_syscall(int through_liburing) {
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  int ring = -1;
  if (!through_liburing) {
    ring = (int)syscall(SYS_io_uring_setup, 4, &params);
  } else {
#ifdef HAVE_LIBURING_SETUP
    ring = io_uring_setup(4, &params);
#else
    return 77;
#endif
  }
  if (ring < 0) return 77; /* the kernel refuses io_uring here */
  printf("ring fd %d\n", ring);
  close(ring);
  return 0;
}

static int by_queue_init(int with_params) {
#ifdef HAVE_LIBURING
  struct io_uring ring;
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  const int result = with_params ? io_uring_queue_init_params(4, &ring, &params)
                                 : io_uring_queue_init(4, &ring, 0);
  if (result < 0) return 77;
  printf("ring fd %d\n", ring.ring_fd);
  io_uring_queue_exit(&ring);
  return 0;
#else
  (void)with_params;
  return 77;
#endif
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  /* The first wait: the interposer's look at it finds no ring yet. */
  const int epoll_fd = epoll_create1(0);
  struct epoll_event ready[1];
  check(epoll_wait(epoll_fd, ready, 1, 0) == 0, "epoll_wait");
  if (strcmp(mode, "syscall") == 0) return by_syscall(0);
  if (strcmp(mode, "setup") == 0) return by_syscall(1);
  if (strcmp(mode, "queue-init") == 0) return by_queue_init(0);
  if (strcmp(mode, "queue-init-params") == 0) return by_queue_init(1);
  fprintf(stderr, "usage: traced_uring syscall | setup | queue-init | queue-init-params\n");
  return 2;
}

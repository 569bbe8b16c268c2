/* What the traced test programs share: exit 2 with the failed call named, and a readable
   registration made with EPOLL_CTL_ADD. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>

static inline void check(int ok, const char* what) {
  if (!ok) {
    perror(what);
    exit(2);
  }
}

static inline void add(int epoll_fd, int fd, uint64_t data) {
  struct epoll_event event = {.events = EPOLLIN, .data.u64 = data};
  check(epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0, "epoll_ctl ADD");
}

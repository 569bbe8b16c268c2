/* What the trace interposer adds per call: ROUNDS rounds, each timing CALLS epoll_ctl MOD calls
 * on one eventfd (toggling EPOLLOUT, the token kept, as a reregister does), CALLS epoll_ctl
 * ADD+DEL pairs on another, and CALLS epoll_wait(timeout 0) calls on a set where one is ready;
 * it prints the median ns per call (per pair) of each. Run it with and without the interposer,
 * interleaved (scripts/interposer_cost.sh), and read the ratio.
 *
 *   interposer_cost [CALLS] [ROUNDS]      defaults 2000 and 15 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int by_value(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  const int calls = argc > 1 ? atoi(argv[1]) : 2000;
  const int rounds = argc > 2 ? atoi(argv[2]) : 15;
  if (calls <= 0 || rounds <= 0 || rounds > 1000) return 2;
  int epoll_fd = epoll_create1(0), event = eventfd(1, 0); /* readable: every wait returns it */
  struct epoll_event interest = {.events = EPOLLIN, .data.u64 = 1};
  if (epoll_fd < 0 || event < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, event, &interest) != 0)
    return 3;
  double ctl[1000], pair[1000], wait[1000];
  int other = eventfd(0, 0);
  struct epoll_event ready[4];
  for (int round = 0; round < rounds; ++round) {
    double start = now_ns();
    for (int i = 0; i < calls; ++i) { /* toggling write interest, as a reregister does */
      interest.events = (i & 1) ? EPOLLIN | EPOLLOUT : EPOLLIN;
      epoll_ctl(epoll_fd, EPOLL_CTL_MOD, event, &interest);
    }
    interest.events = EPOLLIN;
    ctl[round] = (now_ns() - start) / calls;
    start = now_ns();
    for (int i = 0; i < calls; ++i) {
      epoll_ctl(epoll_fd, EPOLL_CTL_ADD, other, &interest);
      epoll_ctl(epoll_fd, EPOLL_CTL_DEL, other, NULL);
    }
    pair[round] = (now_ns() - start) / calls;
    start = now_ns();
    for (int i = 0; i < calls; ++i) epoll_wait(epoll_fd, ready, 4, 0);
    wait[round] = (now_ns() - start) / calls;
  }
  qsort(ctl, (size_t)rounds, sizeof *ctl, by_value);
  qsort(pair, (size_t)rounds, sizeof *pair, by_value);
  qsort(wait, (size_t)rounds, sizeof *wait, by_value);
  printf("mod_ns %.0f add_del_ns %.0f wait_ns %.0f\n", ctl[rounds / 2], pair[rounds / 2],
         wait[rounds / 2]);
  close(other);
  epoll_ctl(epoll_fd, EPOLL_CTL_DEL, event, NULL);
  close(event);
  close(epoll_fd);
  return 0;
}

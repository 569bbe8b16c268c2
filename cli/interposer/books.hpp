#pragma once

// The interposer's books, shared by state.cpp (registrations, sets and zombies) and lifecycle.cpp
// (the process's start, fork and exit, and the lock). Mapped once at load: nothing here
// allocates.

#include <sys/types.h>

#include <atomic>
#include <cstdint>

namespace pollscope::interposer {

// Descriptors above this number are not tracked (a process holds at most this many here).
constexpr int kMaxFd = 1 << 16;
constexpr int kMaxRegistrations = 1 << 16;
constexpr int kMaxZombies = 256;

struct Registration {
  int epoll_fd;
  int fd;
  std::uint64_t data;
  int next;  // the next registration of the same fd, or -1
  // The mask last set (a MOD that keeps the token updates it without a record); atomic, as
  // epoll_ctl's fast path writes it without the lock.
  std::uint32_t events;
  // Taken just before a close, when a zombie of the set holds the same number or the set is
  // shared with another process: how many registrations the kernel listed under it, and this
  // one's position among them (kcmp's toff). -1: not taken (whatever is listed under the number
  // after the close is this one, unless its file's identity says otherwise).
  int listed_before;
  int position;
  pid_t made_by;  // the process whose epoll_ctl made it: another one's was inherited at a fork
  // The registered file's inode and device (the kernel's encoding, as fdinfo's sdev shows it),
  // taken at the ADD: a registration listed after the close under another inode is not this one.
  std::uint64_t inode;
  std::uint32_t device;
};

struct Zombie {
  int epoll_fd;  // -1: free
  int fd;
  std::uint64_t data;
  // Live registrations of the same set under the same token: while there is one, an event under
  // the token may be theirs, and is not counted as a ghost.
  int live_twins;
  // The descriptor of ours that keeps its file (-1: another process does): when it closes, the
  // registration may end with it (a K record). Before that close: what the kernel listed under
  // `fd` and the zombie's position among them (-1: not taken, as by close_range).
  int keeper;
  int listed_before;
  int position;
  std::uint64_t inode;  // the registered file's, as Registration's
  std::uint32_t device;
};

struct Tables {
  std::uint8_t is_epoll[kMaxFd];
  // Where is_epoll: the number the set is known by (its records carry it). A dup of an epoll
  // descriptor is the same set under another number; when the number it is known by closes
  // while another remains, the set is known by that one from then on (an N record).
  int set_number[kMaxFd];
  // By the number a set is known by: another process may have it (it existed at a fork, a spawn
  // or an exec, or was not made here), and may register files of its own under our numbers.
  std::uint8_t shared[kMaxFd];
  int first_registration[kMaxFd];  // -1: none
  Registration registrations[kMaxRegistrations];
  int free_registration;  // head of the free list through `next`
  Zombie zombies[kMaxZombies];
  // By descriptor number: how many zombies it keeps (tracked, so that its close is seen).
  std::uint16_t keeps[kMaxFd];
};

extern Tables* tables;
extern std::atomic<int> highest;
extern std::atomic<int> zombie_count;
extern pid_t owner;

// Empties the books (at load).
void reset_tables();

}  // namespace pollscope::interposer

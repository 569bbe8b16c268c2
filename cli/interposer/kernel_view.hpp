#pragma once

// What the kernel shows of the traced process's own epoll registrations (kernel_view.cpp). No
// allocation: these run inside the interposer's wrappers.

#include <cstdint>

namespace pollscope::interposer {

// How many registrations the kernel lists under the number `fd` in the epoll instance.
[[nodiscard]] int kernel_count(int epoll_fd, int fd);
// The position (kcmp's toff) of the file `fd` names now among the instance's `listed`
// registrations under that number; -1 when it is none of them.
[[nodiscard]] int position_of(int epoll_fd, int fd, int listed);
// The same for the file `file_fd` names (a zombie's keeper) among those listed under `fd`.
[[nodiscard]] int position_of_file(int epoll_fd, int fd, int file_fd, int listed);
// The descriptor of this process that is the file registered under `fd` at `position`; -1 when
// none is (another process holds it).
[[nodiscard]] int keeper_of(int epoll_fd, int fd, int position);

// A registered file as fdinfo shows it: its inode and device (the kernel's encoding); inode 0:
// not known.
struct FileIdentity {
  std::uint64_t inode = 0;
  std::uint32_t device = 0;
};

// What became of a registration of `fd` (token `data`) in the set when `fd` closed.
struct Fate {
  bool lives = false;  // a zombie
  int keeper = -1;     // the descriptor of ours that keeps its file; -1: none, or another process
};
// `file`: the registered file's, taken at the ADD. `listed_before` and `position`, when >= 0, were
// taken before the close (an earlier zombie is listed under the number, or the set is shared);
// `made_here`: this process made the registration (not inherited).
// Whether a zombie (registered under `fd`, token `data`) still lives after its keeper closed:
// fewer listed under the number than `listed_before` (when taken) means it ended; else a listed
// registration must still carry its token and file's identity.
[[nodiscard]] bool zombie_lives(int epoll_fd, int fd, std::uint64_t data, FileIdentity file,
                                int listed_before);
[[nodiscard]] Fate fate_after_close(int epoll_fd, int fd, std::uint64_t data, FileIdentity file,
                                    int listed_before, int position, bool made_here);

}  // namespace pollscope::interposer

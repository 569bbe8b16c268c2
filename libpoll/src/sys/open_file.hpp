#pragma once

// Which open file (the kernel's `struct file`, what dup() shares and open() does not) a
// descriptor refers to. Device and inode cannot say: both ends of a pipe share an inode, and
// every eventfd, timerfd and signalfd shares the one anonymous inode. kcmp(2) can, for this
// process; where it is missing or forbidden (a container's seccomp filter commonly refuses it
// without CAP_SYS_PTRACE) the answers are empty and callers fall back to weaker evidence.

#include <optional>

namespace libpoll::sys {

// Orders the open files of two descriptors of this process: negative, zero (the same open file)
// or positive, consistently within one boot. Empty when kcmp is unavailable or a descriptor is
// closed.
[[nodiscard]] std::optional<int> compare_open_files(int a, int b) noexcept;

// Whether the registration made on `epoll_fd` through descriptor number `target_fd` watches the
// open file that `fd` refers to now (KCMP_EPOLL_TFD, Linux 4.13). Empty when kcmp cannot say.
// The kernel finds the registration by walking them all: one call costs O(registrations).
[[nodiscard]] std::optional<bool> epoll_watches_file_at(int epoll_fd, int target_fd,
                                                        int fd) noexcept;

// For tests: answer as a system whose seccomp filter refuses kcmp would (every comparison
// empty), so that the fallbacks can be exercised where kcmp works.
void pretend_kcmp_is_refused(bool refused) noexcept;

// The access mode (O_ACCMODE bits of F_GETFL) of the open file behind `fd`, whose fstat gave
// `mode`. A socket's is always O_RDWR, so a socket needs no system call; the tables that keep
// it (poll(2), io_uring) use it to tell a pipe's two ends apart, which share an inode.
[[nodiscard]] int access_mode_of(int fd, unsigned mode) noexcept;

// Whether the file behind `fd`, whose fstat gave `mode`, is always ready, so that no
// readiness backend can watch it: regular files and directories, and devices whose driver
// cannot be polled (/dev/null, /dev/zero). epoll refuses these with EPERM; the other backends
// refuse what it refuses. A device is asked through a scratch epoll instance, three system
// calls: only devices pay them.
[[nodiscard]] bool is_always_ready(int fd, unsigned mode) noexcept;

// True for a file on the anonymous inode (eventfd, timerfd, signalfd, epoll...): its device and
// inode say nothing about which file it is.
[[nodiscard]] bool is_anonymous_inode(int fd) noexcept;

}  // namespace libpoll::sys

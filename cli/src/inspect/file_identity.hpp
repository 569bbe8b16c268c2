#pragma once

// Whether two descriptors, or a descriptor and an epoll registration, refer to one open file,
// asked of the kernel with kcmp(2). Inodes cannot answer this: both ends of a pipe share one,
// and every eventfd, timerfd and signalfd shares the one anonymous inode. kcmp needs the same
// rights as reading the process's fds (and a kernel with CONFIG_KCMP); without it the callers
// fall back to comparing inodes (see classify.hpp).

#include <sys/types.h>

#include <optional>

namespace pollscope {

// Whether `fd` of `pid` is the file registered in `pid`'s epoll instance `epoll_fd` under the
// descriptor number `target_fd` (the `occurrence`-th such registration, counting from 0: after a
// zombie, one number can be registered twice). Nothing when the kernel would not say.
[[nodiscard]] std::optional<bool> is_registered_file(pid_t pid, int fd, int epoll_fd, int target_fd,
                                                     unsigned occurrence);

// Whether `first` and `second` of `pid` are one open file (a dup, or one inherited twice).
[[nodiscard]] std::optional<bool> is_same_file(pid_t pid, int first, int second);

}  // namespace pollscope

#pragma once

// Whether two descriptors, or a descriptor and an epoll registration, refer to one open file,
// asked of the kernel with kcmp(2). Inodes cannot answer this: both ends of a pipe share one,
// and every eventfd, timerfd and signalfd shares the one anonymous inode. kcmp needs the same
// rights as reading the processes' fds (and a kernel with CONFIG_KCMP); without it the callers
// fall back to comparing inodes (see classify.hpp). The two descriptors may belong to two
// processes: that is how a registration made by a forked process that shares the set is found.

#include <sys/types.h>

#include <optional>

namespace pollscope {

// What kcmp says of a descriptor and a registration, at the instant it is asked.
enum class RegistrationMatch {
  kSame,            // the descriptor is the registered file
  kDifferent,       // the registration exists; the descriptor is another file
  kNoDescriptor,    // the descriptor (or the epoll descriptor) is closed
  kNoRegistration,  // the set holds no such registration (any more)
  kUnknown,         // the kernel would not say (no CONFIG_KCMP, a seccomp profile, no rights)
};

// Whether `fd` of `holder` is the file registered in `owner`'s epoll instance `epoll_fd` under the
// descriptor number `target_fd` (the `occurrence`-th such registration, counting from 0: after a
// zombie, one number can be registered twice). `holder` and `owner` may differ.
[[nodiscard]] RegistrationMatch match_registered_file(pid_t holder, int fd, pid_t owner,
                                                      int epoll_fd, int target_fd,
                                                      unsigned occurrence);

// The same question within one process, as a yes or no; nothing when the kernel would not say.
[[nodiscard]] std::optional<bool> is_registered_file(pid_t pid, int fd, int epoll_fd, int target_fd,
                                                     unsigned occurrence);

// kcmp's answer as an ordering: kcmp orders open files (by an obfuscated address, the same for
// KCMP_FILE and KCMP_EPOLL_TFD) within one boot, so a list of descriptors can be sorted by their
// files and a registration's file found in it by bisection, one comparison at a time.
enum class FileOrder {
  kLess,            // the first file orders before the second
  kSame,            // one open file
  kGreater,         // the first file orders after the second
  kNoDescriptor,    // a descriptor (or the epoll descriptor) is closed
  kNoRegistration,  // the set holds no such registration (any more)
  kUnknown,         // the kernel would not say
};

// How the file of `first` (of `first_pid`) orders against that of `second` (of `second_pid`).
// One kcmp(KCMP_FILE): no walk of anything, whatever the processes hold.
[[nodiscard]] FileOrder compare_files(pid_t first_pid, int first, pid_t second_pid, int second);

// How the file of `fd` (of `holder`) orders against the file registered in `owner`'s `epoll_fd`
// under `target_fd` (its `occurrence`-th registration). One kcmp(KCMP_EPOLL_TFD), which walks
// the set once.
[[nodiscard]] FileOrder compare_with_registration(pid_t holder, int fd, pid_t owner, int epoll_fd,
                                                  int target_fd, unsigned occurrence);

// Whether `first` of `first_pid` and `second` of `second_pid` are one open file (a dup, one
// inherited twice, or one epoll instance shared across a fork). A closed descriptor is no match;
// nothing when the kernel would not say.
[[nodiscard]] std::optional<bool> is_same_file(pid_t first_pid, int first, pid_t second_pid,
                                               int second);

}  // namespace pollscope

#include "sys/open_file.hpp"

#include <linux/kcmp.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>

namespace libpoll::sys {

namespace {

// kcmp's answers: 0 equal, 1 less, 2 greater (by the kernel's obfuscated pointer order).
std::optional<int> kcmp_order(long answer) noexcept {
  switch (answer) {
    case 0:
      return 0;
    case 1:
      return -1;
    case 2:
      return 1;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<int> compare_open_files(int a, int b) noexcept {
  const pid_t self = ::getpid();
  return kcmp_order(::syscall(SYS_kcmp, self, self, KCMP_FILE, a, b));
}

std::optional<bool> epoll_watches_file_at(int epoll_fd, int target_fd, int fd) noexcept {
  const pid_t self = ::getpid();
  // One number can carry several registrations (a zombie beside the file now there): `toff`
  // walks them.
  for (__u32 offset = 0; offset < 64; ++offset) {
    kcmp_epoll_slot slot{
        .efd = static_cast<__u32>(epoll_fd), .tfd = static_cast<__u32>(target_fd), .toff = offset};
    const long answer = ::syscall(SYS_kcmp, self, self, KCMP_EPOLL_TFD, fd, &slot);
    if (answer == 0) return true;
    if (answer > 0) continue;
    // ENOENT: no (further) registration through `target_fd`; EBADF: `fd` is closed.
    if (errno == ENOENT || errno == EBADF) return false;
    return std::nullopt;
  }
  return false;
}

bool is_anonymous_inode(int fd) noexcept {
  struct statfs status {};
  return ::fstatfs(fd, &status) == 0 && status.f_type == ANON_INODE_FS_MAGIC;
}

}  // namespace libpoll::sys

#include "sys/open_file.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/magic.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace libpoll::sys {

namespace {

std::atomic<bool> kcmp_refused{false};

long kcmp(pid_t self, int type, unsigned long a, unsigned long b) noexcept {
  if (kcmp_refused.load(std::memory_order_relaxed)) {
    errno = EPERM;
    return -1;
  }
  return ::syscall(SYS_kcmp, self, self, type, a, b);
}

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
  static const pid_t self = ::getpid();  // kcmp compares within this process; see below
  return kcmp_order(
      kcmp(self, KCMP_FILE, static_cast<unsigned long>(a), static_cast<unsigned long>(b)));
}

std::optional<bool> epoll_watches_file_at(int epoll_fd, int target_fd, int fd) noexcept {
  const pid_t self = ::getpid();
  // One number can carry several registrations (a zombie beside the file now there): `toff`
  // walks them.
  for (__u32 offset = 0; offset < 64; ++offset) {
    kcmp_epoll_slot slot{
        .efd = static_cast<__u32>(epoll_fd), .tfd = static_cast<__u32>(target_fd), .toff = offset};
    const long answer = kcmp(self, KCMP_EPOLL_TFD, static_cast<unsigned long>(fd),
                             reinterpret_cast<unsigned long>(&slot));
    if (answer == 0) return true;
    if (answer > 0) continue;
    // ENOENT: no (further) registration through `target_fd`; EBADF: `fd` is closed.
    if (errno == ENOENT || errno == EBADF) return false;
    return std::nullopt;
  }
  return false;
}

void pretend_kcmp_is_refused(bool refused) noexcept {
  kcmp_refused.store(refused, std::memory_order_relaxed);
}

int access_mode_of(int fd, unsigned mode) noexcept {
  // socket(), accept() and socketpair() open every socket read-write.
  if (S_ISSOCK(mode)) return O_RDWR;
  return ::fcntl(fd, F_GETFL) & O_ACCMODE;
}

bool is_always_ready(int fd, unsigned mode) noexcept {
  if (S_ISREG(mode) || S_ISDIR(mode)) return true;
  if (!S_ISCHR(mode) && !S_ISBLK(mode)) return false;
  const int probe = ::epoll_create1(EPOLL_CLOEXEC);
  if (probe < 0) return false;  // cannot ask: let the backend try
  epoll_event event{};
  event.events = EPOLLIN;
  const bool refused = ::epoll_ctl(probe, EPOLL_CTL_ADD, fd, &event) != 0 && errno == EPERM;
  ::close(probe);
  return refused;
}

bool is_anonymous_inode(int fd) noexcept {
  struct statfs status {};
  return ::fstatfs(fd, &status) == 0 && status.f_type == ANON_INODE_FS_MAGIC;
}

}  // namespace libpoll::sys

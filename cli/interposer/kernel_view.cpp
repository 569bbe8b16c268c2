// What the kernel shows of the traced process's own epoll registrations: /proc/self/fdinfo and
// kcmp(2). Used when a registered descriptor closes, to tell a registration the close ended from
// one that lives on (a zombie) and to find what keeps the latter's file open.

#include "kernel_view.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fdinfo_scan.hpp"
#include "interposer.hpp"

namespace pollscope::interposer {

namespace {

// getdents64's record (glibc declares no such struct).
struct linux_dirent64 {
  std::uint64_t d_ino;
  std::int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

}  // namespace

namespace {

// Read from the fdinfo text: the kernel formats every registration of the set, so a close costs
// the set's size in text (kernels without kcmp, and the rare close whose registration is listed
// after it with no descriptor of ours keeping its file).
int fdinfo_count(int epoll_fd, FdinfoScan scan) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epoll_fd);
  const int info = static_cast<int>(libc_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  if (info < 0) return 0;
  char text[16384];
  long length = 0;
  while ((length = libc_syscall(SYS_read, info, text, sizeof text)) > 0)
    scan.feed(text, static_cast<std::size_t>(length));
  libc_syscall(SYS_close, info);
  return scan.count();
}

std::atomic<bool> io_uring_looked{false};
std::atomic<bool> io_uring_found{false};

}  // namespace

// How many registrations the kernel lists under the number `fd` in the epoll instance. After a
// close a registration is listed only while another descriptor (a dup, a forked child) keeps
// the file open; an earlier zombie under the same number is listed too. Asked of kcmp
// (KCMP_EPOLL_TFD) position by position, which answers ENOENT past the last: the kernel walks the
// set without formatting it, far cheaper than the fdinfo text of a large set.
int kernel_count(int epoll_fd, int fd) {
  const long pid = libc_syscall(SYS_getpid);
  for (int position = 0;; ++position) {
    kcmp_epoll_slot slot{static_cast<std::uint32_t>(epoll_fd), static_cast<std::uint32_t>(fd),
                         static_cast<std::uint32_t>(position)};
    if (libc_syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, epoll_fd, &slot) >= 0) continue;
    if (errno == ENOENT) return position;
    return fdinfo_count(epoll_fd, FdinfoScan(fd));  // kcmp refused (a kernel without CONFIG_KCMP)
  }
}

namespace {

// The first io_uring descriptor among the process's, or -1.
int io_uring_descriptor() {
  const int directory = static_cast<int>(
      libc_syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directory < 0) return -1;
  alignas(8) char entries[8192];
  long length = 0;
  int ring = -1;
  while (ring < 0 &&
         (length = libc_syscall(SYS_getdents64, directory, entries, sizeof entries)) > 0) {
    for (long at = 0; at < length && ring < 0;) {
      const auto* entry = reinterpret_cast<const linux_dirent64*>(entries + at);
      at += entry->d_reclen;
      if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
      char target[64];
      const long size =
          libc_syscall(SYS_readlinkat, directory, entry->d_name, target, sizeof target - 1);
      if (size <= 0) continue;
      target[size] = '\0';
      if (std::strcmp(target, "anon_inode:[io_uring]") == 0) ring = std::atoi(entry->d_name);
    }
  }
  libc_syscall(SYS_close, directory);
  return ring;
}

}  // namespace

void look_for_io_uring() {
  if (io_uring_found.load(std::memory_order_relaxed)) return;
  if (const int ring = io_uring_descriptor(); ring >= 0) note_io_uring(ring);
}

void note_io_uring(int ring) {
  if (io_uring_found.load(std::memory_order_relaxed)) return;
  if (ring < 0) ring = io_uring_descriptor();  // still -1: a ring kept only registered
  io_uring_found = true;
  Line('Q').number(ring).write();
}

void look_for_io_uring_once() {
  if (io_uring_looked.load(std::memory_order_relaxed) || !tracing()) return;
  io_uring_looked = true;
  const int saved = errno;
  {
    Guard guard;
    if (guard.active()) look_for_io_uring();
  }
  errno = saved;
}

void forget_io_uring_look() {
  io_uring_looked = false;
  io_uring_found = false;
}

// The descriptor of this process that is the file registered in `epoll_fd` under `fd`, asked
// of the kernel with kcmp(KCMP_EPOLL_TFD); -1 when none is (another process holds it).
int keeper_of(int epoll_fd, int fd, int position) {
  const int directory = static_cast<int>(
      libc_syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directory < 0) return -1;
  const long pid = libc_syscall(SYS_getpid);
  kcmp_epoll_slot slot{static_cast<std::uint32_t>(epoll_fd), static_cast<std::uint32_t>(fd),
                       static_cast<std::uint32_t>(position)};
  alignas(8) char entries[8192];
  int keeper = -1;
  long length = 0;
  while (keeper < 0 &&
         (length = libc_syscall(SYS_getdents64, directory, entries, sizeof entries)) > 0) {
    for (long at = 0; at < length && keeper < 0;) {
      const auto* entry = reinterpret_cast<const linux_dirent64*>(entries + at);
      at += entry->d_reclen;
      const int candidate = std::atoi(entry->d_name);
      if (entry->d_name[0] < '0' || entry->d_name[0] > '9' || candidate == directory ||
          is_log(candidate))
        continue;
      if (libc_syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, candidate, &slot) == 0)
        keeper = candidate;
    }
  }
  libc_syscall(SYS_close, directory);
  return keeper;
}

// The position of `fd`'s file among the kernel's `listed` registrations under its number.
int position_of(int epoll_fd, int fd, int listed) {
  return position_of_file(epoll_fd, fd, fd, listed);
}

int position_of_file(int epoll_fd, int fd, int file_fd, int listed) {
  const long pid = libc_syscall(SYS_getpid);
  for (int position = 0; position < listed; ++position) {
    kcmp_epoll_slot slot{static_cast<std::uint32_t>(epoll_fd), static_cast<std::uint32_t>(fd),
                         static_cast<std::uint32_t>(position)};
    if (libc_syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, file_fd, &slot) == 0) return position;
  }
  return -1;
}

bool zombie_lives(int epoll_fd, int fd, std::uint64_t data, FileIdentity file, int listed_before) {
  if (listed_before >= 0) return kernel_count(epoll_fd, fd) >= listed_before;
  return fdinfo_count(epoll_fd, FdinfoScan(fd, data, file.inode, file.device)) > 0;
}

// The registration's file may be listed under the number after the close for two reasons: it
// lives on (a zombie), or the set is shared with another process (a fork) that registered a file
// of its own under the same number; this process's lock does not hold that process back. Counted
// before and after the close (a shared set), a registration lives on only if nothing went. When
// no descriptor of ours keeps the file, a registration this process made lives on only if one
// listed under the number still carries its token and its file's inode and device (files on one
// anonymous inode, such as eventfds, are told apart by the counts alone).
Fate fate_after_close(int epoll_fd, int fd, std::uint64_t data, FileIdentity file,
                      int listed_before, int position, bool made_here) {
  Fate fate;
  if (listed_before >= 0 && position >= 0) {
    fate.lives = kernel_count(epoll_fd, fd) == listed_before;
  } else {
    fate.lives = kernel_count(epoll_fd, fd) > 0;
    position = 0;
  }
  if (!fate.lives) return fate;
  fate.keeper = keeper_of(epoll_fd, fd, position);
  if (fate.keeper < 0 && made_here)
    fate.lives = fdinfo_count(epoll_fd, FdinfoScan(fd, data, file.inode, file.device)) > 0;
  return fate;
}

}  // namespace pollscope::interposer

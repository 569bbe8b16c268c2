// The interposer's log: one file per process in the trace directory, at a high descriptor
// number of its own, checked before each record (a program may close it where no wrapper sees).

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

#include "interposer.hpp"

namespace pollscope::interposer {

namespace {

std::atomic<int> log_fd{-1};
// The log's identity, so that a log closed behind the interposer's back (closefrom, a raw
// close_range) is never mistaken for the file the program opened at its number since.
dev_t log_device = 0;
ino_t log_inode = 0;
char trace_dir[1024];

// The log sits high, away from the numbers the program is given (the lowest free ones).
int high_descriptor_hint() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur > 4096) return 4000;
  return static_cast<int>(limit.rlim_cur > 64 ? limit.rlim_cur - 32 : 3);
}

// Whether the log's number still names the log. A program can close it where no wrapper sees
// (glibc's closefrom calls close_range inline, a raw syscall instruction) and open a file of its
// own at the number: the log is then opened again (appending to the same file), never written
// into the program's file.
bool log_intact() {
  const int fd = log_fd.load(std::memory_order_relaxed);
  if (fd < 0) return false;
  struct stat status {};
  if (libc_syscall(SYS_fstat, fd, &status) == 0 && status.st_dev == log_device &&
      status.st_ino == log_inode)
    return true;
  int expected = fd;
  if (!log_fd.compare_exchange_strong(expected, -1)) return log_fd >= 0;  // reopened already
  open_log();
  return log_fd >= 0;
}

}  // namespace

bool set_log_dir(const char* dir) {
  if (std::strlen(dir) >= sizeof trace_dir) return false;
  std::strcpy(trace_dir, dir);
  return true;
}

void open_log() {
  char path[1200];
  std::snprintf(path, sizeof path, "%s/%ld.log", trace_dir, raw_getpid());
  const int fd = static_cast<int>(
      libc_syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (fd < 0) return;
  const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, high_descriptor_hint());
  if (high >= 0) libc_syscall(SYS_close, fd);
  const int opened = high >= 0 ? high : fd;
  struct stat status {};
  if (libc_syscall(SYS_fstat, opened, &status) == 0) {
    log_device = status.st_dev;
    log_inode = status.st_ino;
  }
  log_fd = opened;
}

void reopen_log() {
  const int inherited = log_fd.exchange(-1);
  if (inherited >= 0) libc_syscall(SYS_close, inherited);
  open_log();
}

int log_descriptor() {
  return log_fd.load(std::memory_order_relaxed);
}

bool is_log(int fd) {
  if (fd < 0 || fd != log_fd.load(std::memory_order_relaxed)) return false;
  // Closed behind our back and the number reused: it is the program's now.
  return log_intact() && fd == log_fd.load(std::memory_order_relaxed);
}

int verified_log() {
  return log_intact() ? log_fd.load(std::memory_order_relaxed) : -1;
}

void write_to_own_log(const char* text, unsigned size) {
  char path[1200];
  std::snprintf(path, sizeof path, "%s/%ld.log", trace_dir, raw_getpid());
  const int fd = static_cast<int>(
      libc_syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (fd < 0) return;
  libc_syscall(SYS_write, fd, text, size);
  libc_syscall(SYS_close, fd);
}

void move_log_away() {
  const int old_fd = log_fd;
  if (old_fd < 0) return;
  const int moved = ::fcntl(old_fd, F_DUPFD_CLOEXEC, old_fd + 1);
  log_fd = moved;
  if (moved >= 0) libc_syscall(SYS_close, old_fd);
}

}  // namespace pollscope::interposer

#pragma once

// What another process has open, read from /proc/PID/fd: each descriptor's number and what it
// names ("socket:[123]", "pipe:[45]", "anon_inode:[eventfd]", a path), and which descriptors
// are epoll instances. Reading another user's process needs the same user or CAP_SYS_PTRACE.

#include <sys/types.h>

#include <map>
#include <string>
#include <system_error>

namespace pollscope {

struct ProcessFiles {
  pid_t pid = 0;
  std::string command;             // /proc/PID/comm
  std::map<int, std::string> fds;  // descriptor -> what it names (the /proc/PID/fd/N link)
};

// The process's descriptors; the error is the one reading /proc/PID/fd gave (ENOENT: no such
// process; EACCES: no right to look).
[[nodiscard]] std::error_code read_process_files(pid_t pid, ProcessFiles& files);

// Whether what a descriptor names is an epoll instance.
[[nodiscard]] bool names_epoll(const std::string& target);

// Kinds of file whose distinct open files share one inode: the two ends of a pipe, and every
// eventfd, timerfd, signalfd and epoll instance (one anonymous inode for all).
[[nodiscard]] bool shares_inodes(const std::string& target);

}  // namespace pollscope

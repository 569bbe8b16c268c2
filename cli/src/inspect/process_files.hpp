#pragma once

// What another process has open, read from /proc/PID/fd: each descriptor's number and what it
// names ("socket:[123]", "pipe:[45]", "anon_inode:[eventfd]", a path), and which descriptors
// are epoll instances. Reading another user's process needs the same user or CAP_SYS_PTRACE.

#include <sys/types.h>

#include <map>
#include <string>
#include <system_error>
#include <vector>

namespace pollscope {

struct ProcessFiles {
  pid_t pid = 0;
  std::string command;             // /proc/PID/comm
  std::map<int, std::string> fds;  // descriptor -> what it names (the /proc/PID/fd/N link)
};

// The process's descriptors; the error is the one reading /proc/PID/fd gave (ENOENT: no such
// process; EACCES: no right to look).
[[nodiscard]] std::error_code read_process_files(pid_t pid, ProcessFiles& files);

// What descriptor `fd` of `pid` names at this instant ("socket:[123]", a path); empty when it is
// closed.
[[nodiscard]] std::string read_descriptor(pid_t pid, int fd);

// Every process listed in /proc but this one.
[[nodiscard]] std::vector<pid_t> every_process();

// The other processes that have `pid`'s epoll instance `epoll_fd` open too (a fork shares the
// set; so does a descriptor sent over a socket), each with its descriptors as read now. Only the
// processes this user may read are seen.
[[nodiscard]] std::vector<ProcessFiles> processes_sharing(pid_t pid, int epoll_fd);

// Whether what a descriptor names is an epoll instance.
[[nodiscard]] bool names_epoll(const std::string& target);

// Kinds of file whose distinct open files share one inode: the two ends of a pipe, and every
// eventfd, timerfd, signalfd and epoll instance (one anonymous inode for all).
[[nodiscard]] bool shares_inodes(const std::string& target);

}  // namespace pollscope

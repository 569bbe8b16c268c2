#pragma once

// What the kernel alone shows about one epoll instance of a live process: each registration and
// what its descriptor number names now, and the findings. A registration whose number is
// closed, or names another file, is a zombie: the kernel removes a registration when its file's
// last descriptor closes, so the file is kept open elsewhere (a dup, a forked child) and events
// still arrive under its token (none, once an EPOLLONESHOT registration has fired). One open file
// registered under two numbers is a duplicate_target; one data word used twice, a
// token_collision.
//
// The descriptor table and the fdinfo are read one after the other while the program runs, so a
// busy program that adds, deletes and closes can make them disagree for an instant: a suspect is
// read again, its number before and after a fresh fdinfo, and is a zombie only when that holds
// twice in a row (a few rounds at most; one that never holds still is shown as `changing`).
//
// A set is shared by the processes that have it open (a fork shares it): a registration made by
// one of them, whose file that process holds under the registered number, is live there even
// though the number names nothing, or another file, here (`live_elsewhere`). A file held only by
// a process that does not share the set keeps a zombie.
//
// Files are compared with kcmp(2). When the kernel refuses kcmp, inodes are compared instead:
// exact for sockets, but the ends of one pipe and all eventfds, timerfds and signalfds share an
// inode, so for those a registration whose number still names a file of that inode is taken as
// live, and two of them as distinct files.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "inspect/finding.hpp"
#include "inspect/process_files.hpp"
#include "libpoll/fdinfo.hpp"

namespace pollscope {

struct RegistrationView {
  libpoll::KernelRegistration kernel;
  std::string names_now;  // what the number names now; empty when it is closed
  // live (the number still names the registered file), closed, other_file, live_elsewhere (a
  // process sharing the set holds the file under the number), or changing (the number never
  // held still while it was read again).
  std::string state;
  unsigned occurrence = 0;  // which registration of its number this is (kcmp's toff)
  pid_t live_in = 0;        // live_elsewhere: the process that holds the file
};

struct EpollSetView {
  pid_t pid = 0;
  int epoll_fd = -1;
  std::vector<RegistrationView> registrations;
  bool compared_by_inode = false;  // kcmp was refused: the inode fallback was used
};

// Classifies the registrations `kernel` of `files.pid`'s epoll instance `epoll_fd`, appending
// what it finds to `findings`.
[[nodiscard]] EpollSetView classify_epoll_set(
    const ProcessFiles& files, int epoll_fd, const std::vector<libpoll::KernelRegistration>& kernel,
    std::vector<Finding>& findings);

}  // namespace pollscope

#pragma once

// The interposer's state and its log, shared by the wrappers (epoll_wrappers.cpp,
// descriptor_wrappers.cpp, process_wrappers.cpp). Everything here is async-signal-tolerant:
// no allocation after load, a spin lock, and a per-thread guard that lets a re-entered
// wrapper pass straight through.

#include <sys/syscall.h>
#include <sys/types.h>

#include <cstdint>

namespace pollscope::interposer {

// The C library's syscall(2): the interposer's own system calls, which must not pass through its
// own syscall wrapper.
using SyscallFunction = long(long, ...);
SyscallFunction* next_syscall();
template <typename... Arguments>
long libc_syscall(long number, Arguments... arguments) {
  return next_syscall()(number, arguments...);
}
// getpid(2) asked of the kernel: a child forked without the C library's fork has the parent's
// cached pid.
inline long raw_getpid() {
  return libc_syscall(SYS_getpid);
}

// The next function of that name after this library (libc's, or a sanitizer's).
void* next_symbol(const char* name);
template <typename Function>
Function* real(Function*& cache, const char* name) {
  if (cache == nullptr) cache = reinterpret_cast<Function*>(next_symbol(name));
  return cache;
}

// Whether a wrapper may record: tracing is on, this thread is not already inside a wrapper,
// and this process owns the state (a vfork child shares its parent's memory and does not).
// Construct one in every wrapper; when active(), it holds the lock until destroyed.
class Guard {
 public:
  Guard();
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  [[nodiscard]] bool active() const { return active_; }
  // Inactive because this process shares its parent's memory (a vfork child): it may record
  // only through write_to_own_log.
  [[nodiscard]] bool unowned() const { return unowned_; }

 private:
  bool active_ = false;
  bool unowned_ = false;
};

// The cheap test done before anything else: does the interposer care about this descriptor?
[[nodiscard]] bool tracked(int fd);

// The log (trace_log.cpp): `dir` is where each process's log goes (false: too long a path);
// open_log opens this process's, reopen_log lets go of an inherited one first (a forked child).
[[nodiscard]] bool set_log_dir(const char* dir);
void open_log();
void reopen_log();
[[nodiscard]] bool is_log(int fd);
[[nodiscard]] int log_descriptor();
// The log's descriptor after checking that its number still names the log (opened again if it
// was closed behind the interposer's back); -1 when there is none.
[[nodiscard]] int verified_log();
// Whether this process image is being traced.
[[nodiscard]] bool tracing();
// For a process that may not touch the books (a vfork child): appends `text` to its own pid's
// log, opened for this write alone.
void write_to_own_log(const char* text, unsigned size);
// Moves the log to another descriptor number (dup2 onto it, close_range over it).
void move_log_away();

// The interposer's own view, changed under a Guard.
// `made_here` false: a set this process did not make (inherited across an exec, received), which
// another process may share.
void note_epoll(int epoll_fd, bool made_here = true);
// Before a fork, a spawn or an exec: every set there is may be shared with another process from
// now on.
void note_sets_shared();
// The set `epoll_fd` names (if it is one) may be shared from now on (its descriptor was sent to
// another process). No lock: one byte stored.
void note_set_shared(int epoll_fd);
[[nodiscard]] bool is_epoll(int epoll_fd);
// The number the set that `epoll_fd` names is known by in the records and the books (the first
// of its numbers still open: a dup of an epoll descriptor is the same set); `epoll_fd` itself for
// a number not known as an epoll set.
[[nodiscard]] int set_of(int epoll_fd);
// `copy` is a new descriptor of `original`'s file (a U record; the same set, for an epoll one).
void note_duplicated(int original, int copy);
void note_registration(int epoll_fd, int fd, std::uint64_t data, std::uint32_t events);
void note_deregistration(int epoll_fd, int fd);
// Whether `fd` is registered in `epoll_fd` under `data` already; if so, its mask is now `events`
// (a MOD that keeps the token needs no record, only the mask a finding will show).
[[nodiscard]] bool refresh_if_registered_as(int epoll_fd, int fd, std::uint64_t data,
                                            std::uint32_t events);
// Just before `fd` is closed (or replaced by dup2): where a zombie holds the same number in a
// set `fd` is registered in, notes what the kernel lists under it, so that the close's record
// tells its own registration from the zombie's.
void note_closing(int fd);
// After `fd` was closed (or replaced by dup2): records V, Z or X and forgets it.
void note_closed(int fd);
// After an epoll_wait on `epoll_fd` returned `events`: records events under zombies' tokens.
void note_delivered(int epoll_fd, const void* events, int count);
// After an epoll_wait-family call on `epoll_fd` returned `count`: records the events under
// zombies' tokens (epoll_wrappers.cpp; the syscall(2) wrapper's waits come here too).
int delivered(int epoll_fd, const void* events, int count);
// Once per process image, at its first wait, exec and exit: an io_uring instance among its
// descriptors is recorded (a Q record): epoll changes made through it are invisible here.
void look_for_io_uring_once();
void look_for_io_uring();
// Under a Guard: a ring the process holds, seen when it was made (uring_wrappers.cpp) or looked
// for, is the image's Q record unless it has one. `ring` -1: looked for among the descriptors.
void note_io_uring(int ring);
// After a call that makes a ring returned `result` (>= 0: made): records it under a Guard, errno
// as the call left it; `result` returned. `ring`: its descriptor, or -1 when the call gave none.
long io_uring_made(long result, int ring);
// syscall(SYS_io_uring_setup, entries, params), recorded as a ring made.
long io_uring_setup_syscall(long entries, long params);
// A forked child looks again, for its own log.
void forget_io_uring_look();
// Whether any zombie is known: epoll_wait looks at its events only then.
[[nodiscard]] bool any_zombies();
// The highest descriptor number tracked, for close_range.
[[nodiscard]] int highest_tracked();

// Records one line (the fields are appended with Line).
class Line {
 public:
  explicit Line(char kind);
  Line& number(std::int64_t value);
  Line& unsigned_number(std::uint64_t value);
  Line& text(const char* value);
  // The caller's stack as module@offset frames.
  Line& stack();
  void write();
  // As write(), from a vfork child (Guard::unowned): into its own pid's log.
  void write_unowned();

 private:
  // `value` in `base`, after `separator` (none when it is '\0').
  void append_digits(std::uint64_t value, unsigned base, char separator);
  char buffer_[8192];
  unsigned size_ = 0;
};

// The traced executable's path, as /proc/self/exe names it.
[[nodiscard]] const char* executable_path();

// A fork child: a log of its own; the sets and registrations it inherited stay tracked, marked
// as the parent's.
void start_child();

}  // namespace pollscope::interposer

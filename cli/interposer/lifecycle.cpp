// The process's side of the interposer: its start (the books mapped, the log opened), the lock
// the wrappers take, a fork's child (its own log, the books it inherited) and its exit.

#include <dlfcn.h>
#include <execinfo.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>

#include "books.hpp"
#include "interposer.hpp"
#include "records.hpp"

namespace pollscope::interposer {

namespace {

std::atomic_flag lock = ATOMIC_FLAG_INIT;
thread_local bool inside = false;
char executable[1024];

void announce() {
  Line('I').number(raw_getpid()).number(::getppid()).text(executable).write();
}

// Before a fork: the child shares every set there is, and so does the parent from now on.
void lock_state() {
  while (lock.test_and_set(std::memory_order_acquire)) sched_yield();
  note_sets_shared();
}
void unlock_state() {
  lock.clear(std::memory_order_release);
}
void after_fork_in_child() {
  start_child();
}

__attribute__((constructor)) void load() {
  const int saved = errno;
  const char* dir = std::getenv(kTraceDirEnv);
  if (dir != nullptr && set_log_dir(dir)) {
    void* memory =
        ::mmap(nullptr, sizeof(Tables), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory != MAP_FAILED) {
      tables = static_cast<Tables*>(memory);
      reset_tables();
      const auto length = ::readlink("/proc/self/exe", executable, sizeof executable - 1);
      executable[length > 0 ? length : 0] = '\0';
      void* warm[2];
      ::backtrace(warm, 2);  // loads the unwinder now, not inside a wrapper
      owner = static_cast<pid_t>(raw_getpid());
      open_log();
      ::pthread_atfork(lock_state, unlock_state, after_fork_in_child);
      if (log_descriptor() >= 0) announce();
    }
  }
  errno = saved;
}

// At exit (not at _exit): a ring kept to the end is recorded even if no wait looked for it.
__attribute__((destructor)) void unload() {
  const int saved = errno;
  {
    Guard guard;
    if (guard.active()) look_for_io_uring();
  }
  errno = saved;
}

}  // namespace

void* next_symbol(const char* name) {
  return ::dlsym(RTLD_NEXT, name);
}

// A process whose pid is not the owner's: a vfork child (or a clone sharing the memory), which
// must leave the books alone, or a child forked where no atfork handler ran (syscall(SYS_fork),
// _Fork, a raw clone), which is adopted here as the fork handler would: a log of its own, and
// the books it inherited. kcmp(KCMP_VM) tells them apart; when the kernel refuses it, the books
// are left alone.
static bool adopt_if_forked(long pid) {
  const long parent = libc_syscall(SYS_getppid);
  // 0: the same memory as the parent's; -1: cannot tell; 1, 2 or 3: memory of its own.
  if (libc_syscall(SYS_kcmp, pid, parent, KCMP_VM, 0, 0) <= 0) return false;
  start_child();
  return true;
}

Guard::Guard() {
  if (inside || log_descriptor() < 0) return;
  if (const long pid = raw_getpid(); pid != owner && !adopt_if_forked(pid)) {
    unowned_ = true;  // a vfork child, sharing the parent's memory
    return;
  }
  inside = true;
  lock_state();
  active_ = true;
}

Guard::~Guard() {
  if (!active_) return;
  unlock_state();
  inside = false;
}

bool tracing() {
  return tables != nullptr && log_descriptor() >= 0;
}

const char* executable_path() {
  return executable;
}

// The child keeps the books it inherited: it shares the parent's epoll sets and registered
// files, and a close of an inherited registration is graded as one (records.hpp).
void start_child() {
  lock.clear();
  inside = false;
  if (tables == nullptr) return;
  owner = static_cast<pid_t>(raw_getpid());
  note_sets_shared();  // already, unless the parent forked where no wrapper saw it
  forget_io_uring_look();
  reopen_log();  // the parent's, inherited, is closed
  if (log_descriptor() >= 0) announce();
}

}  // namespace pollscope::interposer

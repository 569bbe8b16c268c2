#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "interposer.hpp"
#include "records.hpp"

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

// Descriptors above this number are not tracked (a process holds at most this many here).
constexpr int kMaxFd = 1 << 16;
constexpr int kMaxRegistrations = 1 << 16;
constexpr int kMaxZombies = 256;

struct Registration {
  int epoll_fd;
  int fd;
  std::uint64_t data;
  int next;  // the next registration of the same fd, or -1
};

struct Zombie {
  int epoll_fd;  // -1: free
  std::uint64_t data;
};

struct Tables {
  std::uint8_t is_epoll[kMaxFd];
  int first_registration[kMaxFd];  // -1: none
  Registration registrations[kMaxRegistrations];
  int free_registration;  // head of the free list through `next`
  Zombie zombies[kMaxZombies];
};

Tables* tables = nullptr;
std::atomic<int> log_fd{-1};
std::atomic<int> highest{-1};
std::atomic<int> zombie_count{0};
pid_t owner = 0;
std::atomic_flag lock = ATOMIC_FLAG_INIT;
thread_local bool inside = false;
char executable[1024];
char trace_dir[1024];

long raw_getpid() {
  return libc_syscall(SYS_getpid);
}

// The log sits high, away from the numbers the program is given (the lowest free ones).
int high_descriptor_hint() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur > 4096) return 4000;
  return static_cast<int>(limit.rlim_cur > 64 ? limit.rlim_cur - 32 : 3);
}

void open_log() {
  char path[1200];
  std::snprintf(path, sizeof path, "%s/%ld.log", trace_dir, raw_getpid());
  const int fd = static_cast<int>(
      libc_syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (fd < 0) return;
  const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, high_descriptor_hint());
  if (high >= 0) libc_syscall(SYS_close, fd);
  log_fd = high >= 0 ? high : fd;
}

void reset_tables() {
  std::memset(tables->is_epoll, 0, sizeof tables->is_epoll);
  for (int& first : tables->first_registration) first = -1;
  for (int i = 0; i < kMaxRegistrations; ++i) tables->registrations[i].next = i + 1;
  tables->registrations[kMaxRegistrations - 1].next = -1;
  tables->free_registration = 0;
  for (auto& zombie : tables->zombies) zombie.epoll_fd = -1;
  highest = -1;
  zombie_count = 0;
}

void announce() {
  Line('I').number(raw_getpid()).number(::getppid()).text(executable).write();
}

void lock_state() {
  while (lock.test_and_set(std::memory_order_acquire)) sched_yield();
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
  if (dir != nullptr && std::strlen(dir) < sizeof trace_dir) {
    std::strcpy(trace_dir, dir);
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
      if (log_fd >= 0) announce();
    }
  }
  errno = saved;
}

int find_registration(int epoll_fd, int fd, int** link) {
  int* at = &tables->first_registration[fd];
  while (*at >= 0 && tables->registrations[*at].epoll_fd != epoll_fd)
    at = &tables->registrations[*at].next;
  *link = at;
  return *at;
}

// Whether the kernel still lists `fd` in the epoll instance: after a close, only when another
// descriptor (a dup, a forked child) keeps the file open.
bool kernel_still_lists(int epoll_fd, int fd) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epoll_fd);
  const int info = static_cast<int>(libc_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  if (info < 0) return false;
  char text[16384];
  bool found = false;
  long length = 0;
  char wanted[32];
  std::snprintf(wanted, sizeof wanted, "tfd: %8d ", fd);
  while (!found && (length = libc_syscall(SYS_read, info, text, sizeof text - 1)) > 0) {
    text[length] = '\0';
    found = std::strstr(text, wanted) != nullptr;  // lines are shorter than a read
  }
  libc_syscall(SYS_close, info);
  return found;
}

void forget_zombies_of(int epoll_fd) {
  for (auto& zombie : tables->zombies)
    if (zombie.epoll_fd == epoll_fd) {
      zombie.epoll_fd = -1;
      --zombie_count;
    }
}

// The descriptor of this process that is the file registered in `epoll_fd` under `fd`, asked
// of the kernel with kcmp(KCMP_EPOLL_TFD); -1 when none is (another process holds it).
int keeper_of(int epoll_fd, int fd) {
  const int directory = static_cast<int>(
      libc_syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directory < 0) return -1;
  const long pid = raw_getpid();
  kcmp_epoll_slot slot{static_cast<std::uint32_t>(epoll_fd), static_cast<std::uint32_t>(fd), 0};
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

// An epoll instance's descriptor closed: the kernel dropped its registrations with it.
void forget_registrations_of(int epoll_fd) {
  const int top = highest;
  for (int fd = 0; fd <= top; ++fd) {
    int* link = nullptr;
    const int index = find_registration(epoll_fd, fd, &link);
    if (index < 0) continue;
    *link = tables->registrations[index].next;
    tables->registrations[index].next = tables->free_registration;
    tables->free_registration = index;
  }
}

void close_registration(int fd, int index) {
  auto& registration = tables->registrations[index];
  const bool lives = kernel_still_lists(registration.epoll_fd, fd);
  Line line(lives ? 'Z' : 'V');
  line.number(registration.epoll_fd).number(fd);
  if (lives) line.number(keeper_of(registration.epoll_fd, fd));
  line.write();
  if (!lives) return;
  for (auto& zombie : tables->zombies) {
    if (zombie.epoll_fd >= 0) continue;
    zombie = {registration.epoll_fd, registration.data};
    ++zombie_count;
    break;
  }
}

}  // namespace

void* next_symbol(const char* name) {
  return ::dlsym(RTLD_NEXT, name);
}

Guard::Guard() {
  if (inside || log_fd < 0) return;
  if (raw_getpid() != owner) return;  // a vfork child, sharing the parent's memory
  inside = true;
  lock_state();
  active_ = true;
}

Guard::~Guard() {
  if (!active_) return;
  unlock_state();
  inside = false;
}

bool tracked(int fd) {
  if (tables == nullptr || fd < 0 || fd >= kMaxFd) return false;
  return __atomic_load_n(&tables->is_epoll[fd], __ATOMIC_RELAXED) != 0 ||
         __atomic_load_n(&tables->first_registration[fd], __ATOMIC_RELAXED) >= 0;
}

int log_descriptor() {
  return log_fd.load(std::memory_order_relaxed);
}

bool is_log(int fd) {
  return fd >= 0 && fd == log_fd.load(std::memory_order_relaxed);
}

void move_log_away() {
  const int old_fd = log_fd;
  if (old_fd < 0) return;
  const int moved = ::fcntl(old_fd, F_DUPFD_CLOEXEC, old_fd + 1);
  log_fd = moved;
  if (moved >= 0) libc_syscall(SYS_close, old_fd);
}

void note_epoll(int epoll_fd) {
  if (epoll_fd < 0 || epoll_fd >= kMaxFd) return;
  tables->is_epoll[epoll_fd] = 1;
  if (epoll_fd > highest) highest = epoll_fd;
  Line('C').number(epoll_fd).write();
}

bool is_epoll(int epoll_fd) {
  return epoll_fd >= 0 && epoll_fd < kMaxFd && tables->is_epoll[epoll_fd] != 0;
}

void note_registration(int epoll_fd, int fd, std::uint64_t data) {
  if (fd < 0 || fd >= kMaxFd) return;
  int* link = nullptr;
  int index = find_registration(epoll_fd, fd, &link);
  if (index < 0) {
    index = tables->free_registration;
    if (index < 0) return;  // full: the grader still has the record
    tables->free_registration = tables->registrations[index].next;
    tables->registrations[index] = {epoll_fd, fd, data, tables->first_registration[fd]};
    __atomic_store_n(&tables->first_registration[fd], index, __ATOMIC_RELAXED);
  }
  tables->registrations[index].data = data;
  if (fd > highest) highest = fd;
}

bool registered_as(int epoll_fd, int fd, std::uint64_t data) {
  if (tables == nullptr || log_fd < 0 || fd < 0 || fd >= kMaxFd) return false;
  int* link = nullptr;
  const int index = find_registration(epoll_fd, fd, &link);
  return index >= 0 && tables->registrations[index].data == data;
}

void note_deregistration(int epoll_fd, int fd) {
  if (fd < 0 || fd >= kMaxFd) return;
  int* link = nullptr;
  const int index = find_registration(epoll_fd, fd, &link);
  if (index < 0) return;
  __atomic_store_n(link, tables->registrations[index].next, __ATOMIC_RELAXED);
  tables->registrations[index].next = tables->free_registration;
  tables->free_registration = index;
}

void note_closed(int fd) {
  if (fd < 0 || fd >= kMaxFd) return;
  if (tables->is_epoll[fd]) {
    tables->is_epoll[fd] = 0;
    forget_zombies_of(fd);
    forget_registrations_of(fd);
    Line('X').number(fd).write();
  }
  while (tables->first_registration[fd] >= 0) {
    const int index = tables->first_registration[fd];
    close_registration(fd, index);
    note_deregistration(tables->registrations[index].epoll_fd, fd);
  }
}

void note_delivered(int epoll_fd, const void* events, int count) {
  if (epoll_fd < 0 || epoll_fd >= kMaxFd) return;
  // epoll_event is packed on x86-64: a 32-bit mask, then the 64-bit data.
  const auto* bytes = static_cast<const unsigned char*>(events);
  for (const auto& zombie : tables->zombies) {
    if (zombie.epoll_fd != epoll_fd) continue;
    std::uint64_t ghosts = 0;
    for (int i = 0; i < count; ++i) {
      std::uint64_t data = 0;
      std::memcpy(&data, bytes + static_cast<std::size_t>(i) * 12 + 4, sizeof data);
      ghosts += data == zombie.data;
    }
    if (ghosts > 0)
      Line('G').number(epoll_fd).unsigned_number(zombie.data).unsigned_number(ghosts).write();
  }
}

const char* executable_path() {
  return executable;
}

int highest_tracked() {
  return highest;
}

bool any_zombies() {
  return zombie_count.load(std::memory_order_relaxed) > 0;
}

void start_child() {
  lock.clear();
  inside = false;
  if (tables == nullptr) return;
  owner = static_cast<pid_t>(raw_getpid());
  const int inherited = log_fd.exchange(-1);
  if (inherited >= 0) libc_syscall(SYS_close, inherited);
  reset_tables();
  open_log();
  if (log_fd >= 0) announce();
}

}  // namespace pollscope::interposer

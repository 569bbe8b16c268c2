// clone, execve and posix_spawn: a clone without CLONE_VM is a fork (fork itself is handled by
// the pthread_atfork handler in state.cpp); exec and spawn pass the interposer on even when the
// program hands them an environment of its own.

#include <alloca.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "interposer.hpp"
#include "records.hpp"

using namespace pollscope::interposer;

extern char** environ;

namespace {

constexpr int kMaxEnvironment = 4096;

struct CloneStart {
  int (*function)(void*);
  void* argument;
};
thread_local CloneStart clone_start;

int start_clone_child(void*) {
  start_child();
  return clone_start.function(clone_start.argument);
}

// `environment` with our two variables set as in our own environment, in `copy` (on the stack:
// this may run in a vfork child, where allocating is unsafe). Nothing to add: the original.
char* const* passed_on(char* const* environment, const char** copy, int capacity) {
  static const char* const kNames[] = {"LD_PRELOAD", kTraceDirEnv};
  if (environment == nullptr) return environment;
  int count = 0;
  bool present[2] = {false, false};
  for (; environment[count] != nullptr; ++count) {
    if (count + 3 >= capacity) return environment;
    copy[count] = environment[count];
    for (int i = 0; i < 2; ++i) {
      const auto length = std::strlen(kNames[i]);
      if (std::strncmp(environment[count], kNames[i], length) == 0 &&
          environment[count][length] == '=')
        present[i] = true;
    }
  }
  for (int i = 0; i < 2; ++i) {
    if (present[i]) continue;  // a program that sets LD_PRELOAD itself chose what to load
    // environ holds "NAME=value" strings whose lifetime outlasts the exec.
    const char* value = std::getenv(kNames[i]);
    if (value != nullptr) copy[count++] = value - std::strlen(kNames[i]) - 1;
  }
  copy[count] = nullptr;
  return const_cast<char* const*>(copy);
}

// `path` as the new image's file: made absolute when it is relative to the working directory or
// to `directory`; a name a p-variant searches in PATH (`searched`) stays as it is.
void program_path(char* out, std::size_t size, int directory, const char* path, bool searched) {
  out[0] = '\0';
  if (path == nullptr) return;
  std::size_t length = 0;
  if (path[0] != '/' && !searched) {
    if (directory == AT_FDCWD) {
      if (libc_syscall(SYS_getcwd, out, size) > 0) length = std::strlen(out);
    } else {
      char link[64];
      std::snprintf(link, sizeof link, "/proc/self/fd/%d", directory);
      const long got = libc_syscall(SYS_readlinkat, AT_FDCWD, link, out, size - 1);
      length = got > 0 ? static_cast<std::size_t>(got) : 0;
      out[length] = '\0';
    }
    if (path[0] != '\0' && length > 0 && length + 1 < size && out[length - 1] != '/') {
      out[length++] = '/';
      out[length] = '\0';
    }
  }
  for (; *path != '\0' && length + 1 < size; ++path) out[length++] = *path;
  out[length] = '\0';
}

// Writes `line` to this process's log: through the books, or from a vfork child to its own pid's
// log without touching them.
void write_process_line(Line& line) {
  if (!tracing()) return;
  Guard guard;
  if (guard.active())
    line.write();
  else if (guard.unowned())
    line.write_unowned();
}

void exec_starts(int directory, const char* path, bool searched) {
  if (!tracing()) return;
  // The new image inherits every epoll descriptor without FD_CLOEXEC; from a vfork child this
  // marks its parent's books, which the image then shares sets with.
  note_sets_shared();
  const int saved = errno;
  char shown[1100];
  program_path(shown, sizeof shown, directory, path, searched);
  Line line('E');
  line.number(libc_syscall(SYS_getpid)).number(libc_syscall(SYS_getppid)).text(shown);
  look_for_io_uring_once();  // the image ends here: what it held is looked at now or never
  write_process_line(line);
  errno = saved;
}

// The exec returned: it failed, with `result`'s errno, which the program sees unchanged.
int exec_returned(int result) {
  const int error = errno;
  if (tracing()) {
    Line line('R');
    line.number(error);
    write_process_line(line);
  }
  errno = error;
  return result;
}

using ExecFunction = int(const char*, char* const[], char* const[]);

int exec_file(const char* path, char* const argv[], char* const environment[]) {
  static ExecFunction* next = nullptr;
  const char* copy[kMaxEnvironment];
  exec_starts(AT_FDCWD, path, false);
  return exec_returned(
      real(next, "execve")(path, argv, passed_on(environment, copy, kMaxEnvironment)));
}

int exec_searched(const char* file, char* const argv[], char* const environment[]) {
  static ExecFunction* next = nullptr;
  const char* copy[kMaxEnvironment];
  exec_starts(AT_FDCWD, file, file != nullptr && std::strchr(file, '/') == nullptr);
  return exec_returned(
      real(next, "execvpe")(file, argv, passed_on(environment, copy, kMaxEnvironment)));
}

}  // namespace

// execl, execle and execlp: the arguments as an array (on the stack, as glibc makes it), and, for
// execle, the environment after them.
#define POLLSCOPE_GATHER_ARGUMENTS(first, take_environment)                          \
  std::size_t count = 1;                                                             \
  {                                                                                  \
    va_list counting;                                                                \
    va_start(counting, first);                                                       \
    while (va_arg(counting, char*) != nullptr) ++count;                              \
    va_end(counting);                                                                \
  }                                                                                  \
  auto** argv = static_cast<char**>(alloca((count + 1) * sizeof(char*)));            \
  char* const* environment = environ;                                                \
  {                                                                                  \
    va_list arguments;                                                               \
    va_start(arguments, first);                                                      \
    argv[0] = const_cast<char*>(first);                                              \
    for (std::size_t at = 1; at <= count; ++at) argv[at] = va_arg(arguments, char*); \
    if (take_environment) environment = va_arg(arguments, char* const*);             \
    va_end(arguments);                                                               \
  }

namespace {

// posix_spawn and posix_spawnp share a signature: both pass the interposer on in the child's
// environment.
using Spawn = int(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                  char* const[], char* const[]);

int spawn_passing_on(Spawn*& next, const char* name, pid_t* pid, const char* path,
                     const posix_spawn_file_actions_t* actions, const posix_spawnattr_t* attributes,
                     char* const argv[], char* const environment[]) {
  const char* copy[kMaxEnvironment];
  pid_t child = 0;
  note_sets_shared();  // the new program inherits every epoll descriptor without FD_CLOEXEC
  const int error = real(next, name)(&child, path, actions, attributes, argv,
                                     passed_on(environment, copy, kMaxEnvironment));
  if (pid != nullptr) *pid = child;
  if (error == 0 && tracing()) {
    const int saved = errno;
    char shown[1100];
    program_path(shown, sizeof shown, AT_FDCWD, path,
                 path != nullptr && std::strchr(path, '/') == nullptr);
    Line line('P');
    line.number(child).text(shown);
    write_process_line(line);
    errno = saved;
  }
  return error;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int clone(int (*function)(void*), void* stack, int flags,
                                                 void* argument, ...) {
  static int (*next)(int (*)(void*), void*, int, void*, ...) = nullptr;
  va_list rest;
  va_start(rest, argument);
  auto* parent_tid = va_arg(rest, pid_t*);
  void* tls = va_arg(rest, void*);
  auto* child_tid = va_arg(rest, pid_t*);
  va_end(rest);
  if ((flags & CLONE_VM) != 0)
    return real(next, "clone")(function, stack, flags, argument, parent_tid, tls, child_tid);
  note_sets_shared();
  clone_start = {function, argument};
  return real(next, "clone")(start_clone_child, stack, flags, nullptr, parent_tid, tls, child_tid);
}

__attribute__((visibility("default"))) pid_t _Fork() {
  static pid_t (*next)() = nullptr;
  note_sets_shared();
  const pid_t child = real(next, "_Fork")();
  if (child == 0) start_child();  // no atfork handler runs after _Fork
  return child;
}

__attribute__((visibility("default"))) int execve(const char* path, char* const argv[],
                                                  char* const environment[]) {
  return exec_file(path, argv, environment);
}

__attribute__((visibility("default"))) int execv(const char* path, char* const argv[]) {
  return exec_file(path, argv, environ);
}

__attribute__((visibility("default"))) int execvpe(const char* file, char* const argv[],
                                                   char* const environment[]) {
  return exec_searched(file, argv, environment);
}

__attribute__((visibility("default"))) int execvp(const char* file, char* const argv[]) {
  return exec_searched(file, argv, environ);
}

__attribute__((visibility("default"))) int execl(const char* path, const char* first, ...) {
  POLLSCOPE_GATHER_ARGUMENTS(first, false)
  return exec_file(path, argv, environment);
}

__attribute__((visibility("default"))) int execle(const char* path, const char* first, ...) {
  POLLSCOPE_GATHER_ARGUMENTS(first, true)
  return exec_file(path, argv, environment);
}

__attribute__((visibility("default"))) int execlp(const char* file, const char* first, ...) {
  POLLSCOPE_GATHER_ARGUMENTS(first, false)
  return exec_searched(file, argv, environment);
}

__attribute__((visibility("default"))) int fexecve(int fd, char* const argv[],
                                                   char* const environment[]) {
  static int (*next)(int, char* const[], char* const[]) = nullptr;
  const char* copy[kMaxEnvironment];
  exec_starts(fd, "", false);
  return exec_returned(
      real(next, "fexecve")(fd, argv, passed_on(environment, copy, kMaxEnvironment)));
}

__attribute__((visibility("default"))) int execveat(int directory, const char* path,
                                                    char* const argv[], char* const environment[],
                                                    int flags) {
  static int (*next)(int, const char*, char* const[], char* const[], int) = nullptr;
  const char* copy[kMaxEnvironment];
  exec_starts(directory, path, false);
  return exec_returned(real(next, "execveat")(
      directory, path, argv, passed_on(environment, copy, kMaxEnvironment), flags));
}

__attribute__((visibility("default"))) int posix_spawn(pid_t* pid, const char* path,
                                                       const posix_spawn_file_actions_t* actions,
                                                       const posix_spawnattr_t* attributes,
                                                       char* const argv[],
                                                       char* const environment[]) {
  static Spawn* next = nullptr;
  return spawn_passing_on(next, "posix_spawn", pid, path, actions, attributes, argv, environment);
}

__attribute__((visibility("default"))) int posix_spawnp(pid_t* pid, const char* file,
                                                        const posix_spawn_file_actions_t* actions,
                                                        const posix_spawnattr_t* attributes,
                                                        char* const argv[],
                                                        char* const environment[]) {
  static Spawn* next = nullptr;
  return spawn_passing_on(next, "posix_spawnp", pid, file, actions, attributes, argv, environment);
}

}  // extern "C"

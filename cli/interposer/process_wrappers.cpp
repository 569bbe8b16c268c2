// clone, execve and posix_spawn: a clone without CLONE_VM is a fork (fork itself is handled by
// the pthread_atfork handler in state.cpp); exec and spawn pass the interposer on even when the
// program hands them an environment of its own.

#include <sched.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>

#include "interposer.hpp"
#include "records.hpp"

using namespace pollscope::interposer;

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

}  // namespace

namespace {

// posix_spawn and posix_spawnp share a signature: both pass the interposer on in the child's
// environment.
using Spawn = int(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                  char* const[], char* const[]);

int spawn_passing_on(Spawn*& next, const char* name, pid_t* pid, const char* path,
                     const posix_spawn_file_actions_t* actions, const posix_spawnattr_t* attributes,
                     char* const argv[], char* const environment[]) {
  const char* copy[kMaxEnvironment];
  return real(next, name)(pid, path, actions, attributes, argv,
                          passed_on(environment, copy, kMaxEnvironment));
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
  clone_start = {function, argument};
  return real(next, "clone")(start_clone_child, stack, flags, nullptr, parent_tid, tls, child_tid);
}

__attribute__((visibility("default"))) int execve(const char* path, char* const argv[],
                                                  char* const environment[]) {
  static int (*next)(const char*, char* const[], char* const[]) = nullptr;
  const char* copy[kMaxEnvironment];
  return real(next, "execve")(path, argv, passed_on(environment, copy, kMaxEnvironment));
}

__attribute__((visibility("default"))) int execvpe(const char* file, char* const argv[],
                                                   char* const environment[]) {
  static int (*next)(const char*, char* const[], char* const[]) = nullptr;
  const char* copy[kMaxEnvironment];
  return real(next, "execvpe")(file, argv, passed_on(environment, copy, kMaxEnvironment));
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

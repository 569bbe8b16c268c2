/* One program started under several spellings of its path, for `pollscope trace` to report under
 * one name:
 *
 *   traced_paths PROGRAM LINK   PROGRAM (an absolute path, /DIR/BASE) run, one child after the
 *                               other, as /DIR/./BASE (execv), ./BASE and ../DIRNAME/BASE from
 *                               DIR (execv after chdir), /DIR/../DIRNAME/BASE (execv from a vfork
 *                               child), /DIR/./BASE (posix_spawn) and LINK, a symbolic link to
 *                               it (execv); each child is waited for.
 *
 * Exit 0 when every child exited 0. Nothing here sends network traffic. */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "traced_program.h"

extern char** environ;

static int waited(pid_t child) {
  int status = 0;
  check(child > 0 && waitpid(child, &status, 0) == child, "waitpid");
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Runs `path` in a forked child, from `directory` when it is not NULL. */
static int run_forked(const char* directory, const char* path) {
  const pid_t child = fork();
  if (child == 0) {
    char* argv[] = {(char*)path, NULL};
    if (directory == NULL || chdir(directory) == 0) execv(path, argv);
    _exit(127);
  }
  return waited(child);
}

static int run_vforked(const char* path) {
  char* argv[] = {(char*)path, NULL};
  const pid_t child = vfork();
  if (child == 0) {
    execv(path, argv);
    _exit(127);
  }
  return waited(child);
}

static int run_spawned(const char* path) {
  char* argv[] = {(char*)path, NULL};
  pid_t child = -1;
  check(posix_spawn(&child, path, NULL, NULL, argv, environ) == 0, "posix_spawn");
  return waited(child);
}

int main(int argc, char** argv) {
  if (argc != 3 || argv[1][0] != '/') {
    fprintf(stderr, "usage: traced_paths /DIR/PROGRAM LINK\n");
    return 2;
  }
  char directory[PATH_MAX], base[PATH_MAX];
  snprintf(directory, sizeof directory, "%s", argv[1]);
  snprintf(base, sizeof base, "%s", argv[1]);
  const char* dir = dirname(directory);
  const char* name = basename(base);
  char dir_copy[PATH_MAX];
  snprintf(dir_copy, sizeof dir_copy, "%s", dir);
  const char* dir_name = basename(dir_copy);
  char dotted[3 * PATH_MAX], relative[PATH_MAX], up_and_back[3 * PATH_MAX],
      absolute_up[4 * PATH_MAX];
  snprintf(dotted, sizeof dotted, "%s/./%s", dir, name);
  snprintf(relative, sizeof relative, "./%s", name);
  snprintf(up_and_back, sizeof up_and_back, "../%s/%s", dir_name, name);
  snprintf(absolute_up, sizeof absolute_up, "%s/../%s/%s", dir, dir_name, name);
  int ok = run_forked(NULL, dotted);
  ok &= run_forked(dir, relative);
  ok &= run_forked(dir, up_and_back);
  ok &= run_vforked(absolute_up);
  ok &= run_spawned(dotted);
  ok &= run_forked(NULL, argv[2]);
  return ok ? 0 : 1;
}

#pragma once

// Running pollscope again as a fresh process: `run --repeat` runs its repetitions so, and `ab`
// its two builds. A fresh process starts with nothing of the previous run's heap, caches or
// descriptors, which is what makes repetitions independent samples.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pollscope {

// The running pollscope's own executable, for running it again.
[[nodiscard]] std::string own_executable();

// The program `name` found on $PATH, or none.
[[nodiscard]] std::optional<std::string> find_on_path(const std::string& name);

// Runs `binary` with `arguments` (argv[1] on) and waits for it; returns its exit code, or 128 +
// the signal that ended it. Throws a Failure (environment) when it cannot start a process.
int run_child(const std::string& binary, const std::vector<std::string>& arguments);

// How `ab` runs a build: apart, bounded and stoppable.
struct ChildControl {
  // The child's stdout onto this process's stderr: what a build prints stays out of the
  // document this process writes to stdout.
  bool output_to_stderr = false;
  // Past this, the child's process group gets SIGTERM, then SIGKILL.
  std::optional<std::chrono::milliseconds> limit;
  // Asked between waits: a signal (SIGINT, SIGTERM) to pass on to the child's group, or 0.
  std::function<int()> stop;
};

// How a child run under a ChildControl ended.
struct ChildEnd {
  int code = 0;          // its exit code, or 128 + the signal that ended it
  bool stopped = false;  // `stop` asked, and its signal was passed on
  bool overran = false;  // it ran past `limit`
};

// Runs `binary` in a process group of its own (a Ctrl-C at the terminal reaches this process
// only, which passes it on) and waits for it. A child told to stop, or past its limit, that
// has not ended after a grace period is killed; nothing of its group outlives it, and it dies
// with this process (PR_SET_PDEATHSIG). Throws a Failure (environment) when it cannot start one.
ChildEnd run_child(const std::string& binary, const std::vector<std::string>& arguments,
                   const ChildControl& control);

// A fresh temporary directory named after `purpose` ("pollscope-ab-XXXXXX"), removed with what
// it holds when this ends; throws a Failure (environment) when none can be made.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const std::string& purpose);
  ~TemporaryDirectory();
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pollscope

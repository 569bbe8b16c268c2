#pragma once

// Running pollscope again as a fresh process: `run --repeat` runs its repetitions so, and `ab`
// its two builds. A fresh process starts with nothing of the previous run's heap, caches or
// descriptors, which is what makes repetitions independent samples.

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

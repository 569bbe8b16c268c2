#pragma once

// A program held running while a test inspects it: its stdout on a pipe (for its "ready" line),
// its stdin on a pipe it waits on; closing stdin lets it finish. Every wait is bounded; the
// destructor kills and reaps a program still running.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pollscope::test_support {

class HeldProgram {
 public:
  explicit HeldProgram(const std::vector<std::string>& argv);
  ~HeldProgram();
  HeldProgram(const HeldProgram&) = delete;
  HeldProgram& operator=(const HeldProgram&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  // The first line it prints, or nothing when none came within `limit`.
  std::optional<std::string> first_line(std::chrono::milliseconds limit);
  // Closes its stdin and waits for it to exit; its exit status, or nothing after `limit`.
  std::optional<int> release(std::chrono::milliseconds limit);

 private:
  pid_t pid_ = -1;
  int input_ = -1;
  int output_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
};

}  // namespace pollscope::test_support

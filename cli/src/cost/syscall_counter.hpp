#pragma once

// Counts every system call this process and the threads and processes it starts make, through
// the kernel's raw_syscalls:sys_enter tracepoint and perf_event_open in counting mode (nothing
// is sampled or recorded: the kernel adds one to a counter). Opening it needs root or a
// permissive kernel.perf_event_paranoid, and tracefs mounted (at /sys/kernel/tracing, or under
// /sys/kernel/debug/tracing); without them there is no counter and the caller says so.

#include <cstdint>
#include <optional>
#include <string>

namespace pollscope {

class SyscallCounter {
 public:
  // The counter, enabled from now on for this process and what it starts; none when the
  // kernel refuses (why_not says why).
  [[nodiscard]] static std::optional<SyscallCounter> start(std::string* why_not = nullptr);

  SyscallCounter(SyscallCounter&& other) noexcept;
  SyscallCounter& operator=(SyscallCounter&&) = delete;
  SyscallCounter(const SyscallCounter&) = delete;
  ~SyscallCounter();

  // Stops counting and returns the calls counted since start, those of threads and processes
  // that have ended included. The call that stops the count is the one counted after the work.
  [[nodiscard]] std::uint64_t stop();

 private:
  explicit SyscallCounter(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace pollscope

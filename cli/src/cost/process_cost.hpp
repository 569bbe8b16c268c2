#pragma once

// What a run cost the machine, in figures that neighbours do not move: CPU time of the whole
// process tree (its threads and the worker processes it waited for), context switches, and the
// system calls made, counted by the kernel when it lets pollscope (syscall_counter.hpp). Time
// the scheduler gave to other work is in none of them.

#include <cstdint>
#include <optional>
#include <string>

#include "cost/syscall_counter.hpp"
#include "figures/figures.hpp"

namespace pollscope {

struct ProcessCost {
  double user_seconds = 0;
  double system_seconds = 0;
  std::uint64_t voluntary_switches = 0;    // the process gave the CPU up (it blocked)
  std::uint64_t involuntary_switches = 0;  // the scheduler took it away
  std::optional<std::uint64_t> syscalls;   // none: the kernel would not count them
  std::string syscalls_unavailable;        // why not
};

// Measures from construction to stop(): getrusage of this process and of the children reaped
// in between, and the system call counter when it opens.
class CostMeter {
 public:
  CostMeter();
  [[nodiscard]] ProcessCost stop();

 private:
  ProcessCost start_;
  // Before counter_: the counter's start writes into it while the members are constructed.
  std::string why_not_;
  std::optional<SyscallCounter> counter_;
};

// Puts `cost` into the whole run's figures. Without the kernel's count, the system calls are
// those libpoll counted itself: its waits and registry calls.
void record_cost(const ProcessCost& cost, Figures& overall);

}  // namespace pollscope

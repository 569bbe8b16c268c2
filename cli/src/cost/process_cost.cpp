#include "cost/process_cost.hpp"

#include <sys/resource.h>

namespace pollscope {

namespace {

double seconds(const timeval& time) {
  return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
}

// This process's threads, plus the children it has waited for.
ProcessCost usage_now() {
  ProcessCost cost;
  for (const int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage usage{};
    ::getrusage(who, &usage);
    cost.user_seconds += seconds(usage.ru_utime);
    cost.system_seconds += seconds(usage.ru_stime);
    cost.voluntary_switches += static_cast<std::uint64_t>(usage.ru_nvcsw);
    cost.involuntary_switches += static_cast<std::uint64_t>(usage.ru_nivcsw);
  }
  return cost;
}

}  // namespace

CostMeter::CostMeter() : start_(usage_now()), counter_(SyscallCounter::start(&why_not_)) {}

ProcessCost CostMeter::stop() {
  ProcessCost cost;
  if (counter_) cost.syscalls = counter_->stop();
  const ProcessCost end = usage_now();
  cost.user_seconds = end.user_seconds - start_.user_seconds;
  cost.system_seconds = end.system_seconds - start_.system_seconds;
  cost.voluntary_switches = end.voluntary_switches - start_.voluntary_switches;
  cost.involuntary_switches = end.involuntary_switches - start_.involuntary_switches;
  cost.syscalls_unavailable = why_not_;
  return cost;
}

void record_cost(const ProcessCost& cost, Figures& overall) {
  overall.cpu_seconds = cost.user_seconds + cost.system_seconds;
  overall.voluntary_switches = cost.voluntary_switches;
  overall.involuntary_switches = cost.involuntary_switches;
  overall.kernel_syscalls = cost.syscalls ? 1 : 0;
  overall.syscalls = cost.syscalls.value_or(overall.polls + overall.registers +
                                            overall.reregisters + overall.deregisters);
}

}  // namespace pollscope

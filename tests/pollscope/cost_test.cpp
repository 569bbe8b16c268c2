// What a run cost the machine: the kernel's system call counter, the process tree's CPU time
// and the fallback to libpoll's own counts.

#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "cost/process_cost.hpp"
#include "cost/syscall_counter.hpp"

namespace pollscope {
namespace {

TEST(SyscallCounterTest, CountsEveryCallOfTheProcessAndItsThreads) {
  std::string why_not;
  auto counter = SyscallCounter::start(&why_not);
  if (!counter) GTEST_SKIP() << "the kernel does not count system calls here: " << why_not;
  for (int i = 0; i < 1000; ++i) ::syscall(SYS_getppid);
  std::thread other([] {
    for (int i = 0; i < 500; ++i) ::syscall(SYS_getppid);
  });
  other.join();
  const std::uint64_t counted = counter->stop();
  // 1,500 getppid, plus what starting and joining a thread and the stopping ioctl take.
  EXPECT_GE(counted, 1500u);
  EXPECT_LT(counted, 1600u);
}

TEST(CostMeterTest, ChargesBusyCpuTimeToTheProcess) {
  CostMeter meter;
  volatile double sink = 0;
  for (int i = 0; i < 20'000'000; ++i) sink = sink + i * 0.5;
  const ProcessCost cost = meter.stop();
  EXPECT_GT(cost.user_seconds + cost.system_seconds, 0.001);
  EXPECT_EQ(cost.syscalls.has_value(), cost.syscalls_unavailable.empty());
}

TEST(CostMeterTest, WithoutTheKernelCountTheSyscallsAreLibpollsOwn) {
  Figures overall;
  overall.polls = 10;
  overall.registers = 4;
  overall.reregisters = 2;
  overall.deregisters = 4;
  ProcessCost cost;
  cost.user_seconds = 1.5;
  cost.system_seconds = 0.5;
  record_cost(cost, overall);
  EXPECT_EQ(overall.syscalls, 20u);
  EXPECT_EQ(overall.kernel_syscalls, 0u);
  EXPECT_DOUBLE_EQ(overall.cpu_seconds, 2.0);
  cost.syscalls = 77;
  record_cost(cost, overall);
  EXPECT_EQ(overall.syscalls, 77u);
  EXPECT_EQ(overall.kernel_syscalls, 1u);
}

}  // namespace
}  // namespace pollscope

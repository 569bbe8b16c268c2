#include "cost/syscall_counter.hpp"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace pollscope {

namespace {

// The tracepoint's id, from whichever tracefs mount is there.
std::optional<std::uint64_t> tracepoint_id() {
  for (const char* root : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    std::ifstream file(std::string(root) + "/events/raw_syscalls/sys_enter/id");
    std::uint64_t id = 0;
    if (file >> id) return id;
  }
  return std::nullopt;
}

}  // namespace

std::optional<SyscallCounter> SyscallCounter::start(std::string* why_not) {
  const auto id = tracepoint_id();
  if (!id) {
    if (why_not) *why_not = "tracefs is not mounted (raw_syscalls:sys_enter not found)";
    return std::nullopt;
  }
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.config = *id;
  attr.disabled = 1;
  attr.inherit = 1;  // threads and processes started from now on count too
  attr.exclude_hv = 1;
  const long fd = ::syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) {
    if (why_not) *why_not = std::string("perf_event_open: ") + std::strerror(errno);
    return std::nullopt;
  }
  SyscallCounter counter(static_cast<int>(fd));
  ::ioctl(counter.fd_, PERF_EVENT_IOC_RESET, 0);
  ::ioctl(counter.fd_, PERF_EVENT_IOC_ENABLE, 0);
  return counter;
}

SyscallCounter::SyscallCounter(SyscallCounter&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

SyscallCounter::~SyscallCounter() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t SyscallCounter::stop() {
  ::ioctl(fd_, PERF_EVENT_IOC_DISABLE, 0);
  std::uint64_t count = 0;
  if (::read(fd_, &count, sizeof count) != static_cast<ssize_t>(sizeof count)) return 0;
  return count;
}

}  // namespace pollscope

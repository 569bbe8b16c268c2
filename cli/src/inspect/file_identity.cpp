#include "inspect/file_identity.hpp"

#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace pollscope {

namespace {

// kcmp answers 0 for the same object, 1, 2 or 3 for different ones, -1 when it cannot tell.
std::optional<bool> same_from(long answer) {
  if (answer < 0) return std::nullopt;
  return answer == 0;
}

}  // namespace

std::optional<bool> is_registered_file(pid_t pid, int fd, int epoll_fd, int target_fd,
                                       unsigned occurrence) {
  kcmp_epoll_slot slot{};
  slot.efd = static_cast<std::uint32_t>(epoll_fd);
  slot.tfd = static_cast<std::uint32_t>(target_fd);
  slot.toff = occurrence;
  return same_from(::syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, fd, &slot));
}

std::optional<bool> is_same_file(pid_t pid, int first, int second) {
  return same_from(::syscall(SYS_kcmp, pid, pid, KCMP_FILE, first, second));
}

}  // namespace pollscope

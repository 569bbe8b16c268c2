#include "inspect/file_identity.hpp"

#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace pollscope {

namespace {

// kcmp answers 0 for the same object and 1, 2 or 3 for different ones (an ordering). EBADF: a
// descriptor is closed (a race with the program, not a refusal); ENOENT: KCMP_EPOLL_TFD found no
// such registration. Anything else (ENOSYS, EPERM) is the kernel refusing to say.
RegistrationMatch match_from(long answer) {
  if (answer == 0) return RegistrationMatch::kSame;
  if (answer > 0) return RegistrationMatch::kDifferent;
  if (errno == EBADF) return RegistrationMatch::kNoDescriptor;
  if (errno == ENOENT) return RegistrationMatch::kNoRegistration;
  return RegistrationMatch::kUnknown;
}

FileOrder order_from(long answer) {
  if (answer == 0) return FileOrder::kSame;
  if (answer == 1) return FileOrder::kLess;
  if (answer == 2) return FileOrder::kGreater;
  if (answer > 0) return FileOrder::kUnknown;  // 3: no ordering given
  if (errno == EBADF) return FileOrder::kNoDescriptor;
  if (errno == ENOENT) return FileOrder::kNoRegistration;
  return FileOrder::kUnknown;
}

}  // namespace

FileOrder compare_files(pid_t first_pid, int first, pid_t second_pid, int second) {
  return order_from(::syscall(SYS_kcmp, first_pid, second_pid, KCMP_FILE, first, second));
}

FileOrder compare_with_registration(pid_t holder, int fd, pid_t owner, int epoll_fd, int target_fd,
                                    unsigned occurrence) {
  kcmp_epoll_slot slot{};
  slot.efd = static_cast<std::uint32_t>(epoll_fd);
  slot.tfd = static_cast<std::uint32_t>(target_fd);
  slot.toff = occurrence;
  return order_from(::syscall(SYS_kcmp, holder, owner, KCMP_EPOLL_TFD, fd, &slot));
}

RegistrationMatch match_registered_file(pid_t holder, int fd, pid_t owner, int epoll_fd,
                                        int target_fd, unsigned occurrence) {
  kcmp_epoll_slot slot{};
  slot.efd = static_cast<std::uint32_t>(epoll_fd);
  slot.tfd = static_cast<std::uint32_t>(target_fd);
  slot.toff = occurrence;
  return match_from(::syscall(SYS_kcmp, holder, owner, KCMP_EPOLL_TFD, fd, &slot));
}

std::optional<bool> is_registered_file(pid_t pid, int fd, int epoll_fd, int target_fd,
                                       unsigned occurrence) {
  const auto match = match_registered_file(pid, fd, pid, epoll_fd, target_fd, occurrence);
  if (match == RegistrationMatch::kUnknown) return std::nullopt;
  return match == RegistrationMatch::kSame;
}

std::optional<bool> is_same_file(pid_t first_pid, int first, pid_t second_pid, int second) {
  const auto match =
      match_from(::syscall(SYS_kcmp, first_pid, second_pid, KCMP_FILE, first, second));
  if (match == RegistrationMatch::kUnknown) return std::nullopt;
  return match == RegistrationMatch::kSame;
}

}  // namespace pollscope

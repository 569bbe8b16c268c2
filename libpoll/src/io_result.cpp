#include "libpoll/detail/io_result.hpp"

#include <cerrno>
#include <system_error>

#include "sys/poll_selector.hpp"

namespace libpoll::detail {

Unexpected io_error(int fd, Interest kind) noexcept {
  const int error = errno;  // before anything below can change it
  if ((error == EAGAIN || error == EWOULDBLOCK) &&
      edge_emulation_users.load(std::memory_order_relaxed) != 0) {
    sys::PollSelector::rearm_everywhere(fd, kind);
  }
  return Unexpected(std::error_code(error, std::system_category()));
}

void io_progress(int fd, Interest kind) noexcept {
  sys::PollSelector::rearm_everywhere(fd, kind);
}

}  // namespace libpoll::detail

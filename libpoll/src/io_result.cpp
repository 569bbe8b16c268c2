#include "libpoll/detail/io_result.hpp"

#include <cerrno>
#include <system_error>

#include "sys/selector.hpp"

namespace libpoll::detail {

void EdgeLink::rearm(int fd, Interest kind) const noexcept {
  if (auto selector = selector_.lock()) selector->rearm(fd, kind);
}

Unexpected io_error(int fd, Interest kind, const EdgeLink& edge) noexcept {
  const int error = errno;  // before anything below can change it
  if ((error == EAGAIN || error == EWOULDBLOCK) && edge.linked()) edge.rearm(fd, kind);
  return Unexpected(std::error_code(error, std::system_category()));
}

}  // namespace libpoll::detail

#include "libpoll/detail/io_result.hpp"

#include <cerrno>
#include <system_error>

#include "sys/selector.hpp"

namespace libpoll::detail {

void EdgeLink::rearm(Interest kind) const noexcept {
  if (auto selector = owner_.lock()) selector->rearm(fd_, kind);
}

Unexpected io_error(Interest kind, const EdgeLink& edge) noexcept {
  const int error = errno;  // before anything below can change it
  if ((error == EAGAIN || error == EWOULDBLOCK) && edge.linked()) edge.rearm(kind);
  return Unexpected(std::error_code(error, std::system_category()));
}

}  // namespace libpoll::detail

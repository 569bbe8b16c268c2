#include "libpoll/net/socket.hpp"

#include <sys/socket.h>

#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<SocketAddr> Socket::local_addr() const noexcept {
  return ops::local_addr(as_raw_fd());
}

Result<std::error_code> Socket::take_error() const noexcept {
  // A receive ahead that met the error took it from the socket, and kept it.
  if (const int received = edge_link().take_received_error(); received != 0)
    return std::error_code(received, std::system_category());
  auto pending = ops::int_option(as_raw_fd(), SOL_SOCKET, SO_ERROR);
  if (!pending) return Unexpected(pending.error());
  return *pending == 0 ? std::error_code{} : std::error_code(*pending, std::system_category());
}

}  // namespace libpoll::net

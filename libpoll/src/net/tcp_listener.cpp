#include "libpoll/net/tcp_listener.hpp"

#include <sys/socket.h>

#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<TcpListener> TcpListener::bind(const SocketAddr& addr) noexcept {
  auto fd = ops::new_socket(addr.family(), SOCK_STREAM);
  if (!fd) return Unexpected(fd.error());
  // SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT.
  if (auto set = ops::set_int_option(fd->get(), SOL_SOCKET, SO_REUSEADDR, 1); !set) {
    return Unexpected(set.error());
  }
  if (auto bound = ops::bind(fd->get(), addr); !bound) return Unexpected(bound.error());
  if (auto listening = ops::listen(fd->get()); !listening) return Unexpected(listening.error());
  return TcpListener(std::move(*fd));
}

Result<std::pair<TcpStream, SocketAddr>> TcpListener::accept() noexcept {
  auto accepted = ops::accept(as_raw_fd());
  if (!accepted) return Unexpected(accepted.error());
  return std::pair{TcpStream(std::move(accepted->first)), accepted->second};
}

}  // namespace libpoll::net

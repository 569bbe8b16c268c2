#include "libpoll/net/tcp_listener.hpp"

#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<TcpListener> TcpListener::bind(const SocketAddr& addr) noexcept {
  if (auto ip = ops::require_ip(addr); !ip) return Unexpected(ip.error());
  auto fd = ops::listening_socket(addr);
  if (!fd) return Unexpected(fd.error());
  return TcpListener(std::move(*fd));
}

Result<std::pair<TcpStream, SocketAddr>> TcpListener::accept() noexcept {
  auto accepted = ops::accept(as_raw_fd(), edge_link());
  if (!accepted) return Unexpected(accepted.error());
  return std::pair{TcpStream(std::move(accepted->first)), accepted->second};
}

}  // namespace libpoll::net

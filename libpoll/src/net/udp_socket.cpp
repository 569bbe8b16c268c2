#include "libpoll/net/udp_socket.hpp"

#include <sys/socket.h>

#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<UdpSocket> UdpSocket::bind(const SocketAddr& addr) noexcept {
  if (auto ip = ops::require_ip(addr); !ip) return Unexpected(ip.error());
  auto fd = ops::bound_socket(SOCK_DGRAM, addr);
  if (!fd) return Unexpected(fd.error());
  return UdpSocket(std::move(*fd));
}

}  // namespace libpoll::net

#include "libpoll/net/udp_socket.hpp"

#include <sys/socket.h>

#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<UdpSocket> UdpSocket::bind(const SocketAddr& addr) noexcept {
  auto fd = ops::new_socket(addr.family(), SOCK_DGRAM);
  if (!fd) return Unexpected(fd.error());
  if (auto bound = ops::bind(fd->get(), addr); !bound) return Unexpected(bound.error());
  return UdpSocket(std::move(*fd));
}

}  // namespace libpoll::net

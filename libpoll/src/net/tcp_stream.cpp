#include "libpoll/net/tcp_stream.hpp"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "libpoll/detail/syscall.hpp"
#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<TcpStream> TcpStream::connect(const SocketAddr& addr) noexcept {
  if (auto ip = ops::require_ip(addr); !ip) return Unexpected(ip.error());
  auto fd = ops::connecting_socket(SOCK_STREAM, addr);
  if (!fd) return Unexpected(fd.error());
  return TcpStream(std::move(*fd));
}

Result<TcpStream> TcpStream::from_raw_fd(int fd) noexcept {
  OwnedFd owned(fd);
  auto flags = detail::syscall_int(::fcntl(fd, F_GETFL));
  if (!flags) return Unexpected(flags.error());
  if (auto set = detail::syscall_int(::fcntl(fd, F_SETFL, *flags | O_NONBLOCK)); !set) {
    return Unexpected(set.error());
  }
  if (auto set = detail::syscall_int(::fcntl(fd, F_SETFD, FD_CLOEXEC)); !set) {
    return Unexpected(set.error());
  }
  return TcpStream(std::move(owned));
}

Result<void> TcpStream::set_nodelay(bool nodelay) noexcept {
  return ops::set_int_option(as_raw_fd(), IPPROTO_TCP, TCP_NODELAY, nodelay ? 1 : 0);
}

Result<bool> TcpStream::nodelay() const noexcept {
  auto value = ops::int_option(as_raw_fd(), IPPROTO_TCP, TCP_NODELAY);
  if (!value) return Unexpected(value.error());
  return *value != 0;
}

}  // namespace libpoll::net

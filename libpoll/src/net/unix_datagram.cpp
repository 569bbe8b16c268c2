#include "libpoll/net/unix_datagram.hpp"

#include <sys/socket.h>

#include "libpoll/detail/syscall.hpp"
#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<UnixDatagram> UnixDatagram::bind(std::string_view path) noexcept {
  auto addr = SocketAddr::unix_path(path);
  if (!addr) return Unexpected(addr.error());
  auto fd = ops::bound_socket(SOCK_DGRAM, *addr);
  if (!fd) return Unexpected(fd.error());
  return UnixDatagram(std::move(*fd));
}

Result<UnixDatagram> UnixDatagram::unbound() noexcept {
  auto fd = ops::new_socket(AF_UNIX, SOCK_DGRAM);
  if (!fd) return Unexpected(fd.error());
  return UnixDatagram(std::move(*fd));
}

Result<std::pair<UnixDatagram, UnixDatagram>> UnixDatagram::pair() noexcept {
  auto fds = ops::new_socket_pair(SOCK_DGRAM);
  if (!fds) return Unexpected(fds.error());
  return std::pair{UnixDatagram(std::move(fds->first)), UnixDatagram(std::move(fds->second))};
}

Result<void> UnixDatagram::shutdown(Shutdown how) noexcept {
  return detail::syscall_void(::shutdown(as_raw_fd(), static_cast<int>(how)));
}

}  // namespace libpoll::net

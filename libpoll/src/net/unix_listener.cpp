#include "libpoll/net/unix_listener.hpp"

#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<UnixListener> UnixListener::bind(std::string_view path) noexcept {
  auto addr = SocketAddr::unix_path(path);
  if (!addr) return Unexpected(addr.error());
  auto fd = ops::listening_socket(*addr);
  if (!fd) return Unexpected(fd.error());
  return UnixListener(std::move(*fd));
}

Result<std::pair<UnixStream, SocketAddr>> UnixListener::accept() noexcept {
  auto accepted = ops::accept(as_raw_fd(), edge_link());
  if (!accepted) return Unexpected(accepted.error());
  return std::pair{UnixStream(std::move(accepted->first)), accepted->second};
}

}  // namespace libpoll::net

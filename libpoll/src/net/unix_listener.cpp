#include "libpoll/net/unix_listener.hpp"

#include <sys/socket.h>

#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<UnixListener> UnixListener::bind(std::string_view path) noexcept {
  auto addr = SocketAddr::unix_path(path);
  if (!addr) return Unexpected(addr.error());
  auto fd = ops::new_socket(AF_UNIX, SOCK_STREAM);
  if (!fd) return Unexpected(fd.error());
  if (auto bound = ops::bind(fd->get(), *addr); !bound) return Unexpected(bound.error());
  if (auto listening = ops::listen(fd->get()); !listening) return Unexpected(listening.error());
  return UnixListener(std::move(*fd));
}

Result<std::pair<UnixStream, SocketAddr>> UnixListener::accept() noexcept {
  auto accepted = ops::accept(as_raw_fd());
  if (!accepted) return Unexpected(accepted.error());
  return std::pair{UnixStream(std::move(accepted->first)), accepted->second};
}

}  // namespace libpoll::net

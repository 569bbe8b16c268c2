#include "libpoll/net/unix_stream.hpp"

#include <sys/socket.h>

#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<UnixStream> UnixStream::connect(std::string_view path) noexcept {
  auto addr = SocketAddr::unix_path(path);
  if (!addr) return Unexpected(addr.error());
  auto fd = ops::connecting_socket(SOCK_STREAM, *addr);
  if (!fd) return Unexpected(fd.error());
  return UnixStream(std::move(*fd));
}

Result<std::pair<UnixStream, UnixStream>> UnixStream::pair() noexcept {
  auto fds = ops::new_socket_pair(SOCK_STREAM);
  if (!fds) return Unexpected(fds.error());
  return std::pair{UnixStream(std::move(fds->first)), UnixStream(std::move(fds->second))};
}

}  // namespace libpoll::net

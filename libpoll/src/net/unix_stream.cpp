#include "libpoll/net/unix_stream.hpp"

#include <sys/socket.h>

#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<UnixStream> UnixStream::connect(std::string_view path) noexcept {
  auto addr = SocketAddr::unix_path(path);
  if (!addr) return Unexpected(addr.error());
  auto fd = ops::new_socket(AF_UNIX, SOCK_STREAM);
  if (!fd) return Unexpected(fd.error());
  if (auto started = ops::connect(fd->get(), *addr); !started) {
    // A full backlog on a Unix listener is EAGAIN, not EINPROGRESS: there is no connection in
    // progress to wait for, so report it.
    return Unexpected(started.error());
  }
  return UnixStream(std::move(*fd));
}

Result<std::pair<UnixStream, UnixStream>> UnixStream::pair() noexcept {
  auto fds = ops::new_socket_pair(SOCK_STREAM);
  if (!fds) return Unexpected(fds.error());
  return std::pair{UnixStream(std::move(fds->first)), UnixStream(std::move(fds->second))};
}

}  // namespace libpoll::net

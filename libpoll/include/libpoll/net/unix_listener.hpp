#pragma once

/// \file
/// `UnixListener`: a non-blocking Unix-domain server socket.

#include <string_view>
#include <utility>

#include "libpoll/net/socket.hpp"
#include "libpoll/net/unix_stream.hpp"

namespace libpoll::net {

/// A listening `AF_UNIX` stream socket bound to a filesystem path or (Linux) an abstract name
/// (a leading NUL). A path is not removed when the listener is destroyed: unlink it when done;
/// an abstract name leaves no file.
class UnixListener final : public Socket {
 public:
  /// Creates the socket at `path` and listens (backlog 1024). Errors: `std::errc::address_in_use`
  /// when the path exists.
  [[nodiscard]] static Result<UnixListener> bind(std::string_view path) noexcept;

  /// A connection from the backlog, already non-blocking and close-on-exec, and its (usually
  /// unnamed) peer address.
  Result<std::pair<UnixStream, SocketAddr>> accept() noexcept;

 private:
  using Socket::Socket;
};

}  // namespace libpoll::net

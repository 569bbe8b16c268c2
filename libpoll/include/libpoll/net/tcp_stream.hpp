#pragma once

/// \file
/// `TcpStream`: a non-blocking TCP connection.

#include "libpoll/net/stream_socket.hpp"

namespace libpoll::net {

class TcpListener;

/// A TCP connection.
///
/// `connect` returns at once with the connection in progress. Register the stream for
/// `Interest::writable`: the first event is writable, and then `take_error()` (or `peer_addr()`)
/// tells whether the connection was made.
class TcpStream final : public StreamSocket {
 public:
  /// Starts a non-blocking connect to `addr`. Errors: `std::errc::address_family_not_supported`
  /// for a Unix address (see `UnixStream`).
  [[nodiscard]] static Result<TcpStream> connect(const SocketAddr& addr) noexcept;
  /// Takes ownership of a connected (or connecting) TCP socket; makes it non-blocking and
  /// close-on-exec.
  [[nodiscard]] static Result<TcpStream> from_raw_fd(int fd) noexcept;

  /// Disables (true) or enables Nagle's algorithm (`TCP_NODELAY`).
  Result<void> set_nodelay(bool nodelay) noexcept;
  [[nodiscard]] Result<bool> nodelay() const noexcept;

 private:
  friend class TcpListener;
  using StreamSocket::StreamSocket;
};

}  // namespace libpoll::net

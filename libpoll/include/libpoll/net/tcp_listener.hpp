#pragma once

/// \file
/// `TcpListener`: a non-blocking TCP server socket.

#include <utility>

#include "libpoll/net/socket.hpp"
#include "libpoll/net/tcp_stream.hpp"

namespace libpoll::net {

/// A listening TCP socket. Register it for `Interest::readable`; on each event, `accept` until
/// it fails with would-block.
///
/// ```cpp
/// auto listener =
/// libpoll::net::TcpListener::bind(libpoll::net::SocketAddr::loopback_v4()).value();
/// poll.registry().register_source(listener, kServer, libpoll::Interest::readable).value();
/// // on a readable event:
/// while (auto accepted = listener.accept()) { auto& [stream, peer] = *accepted; /* ... */ }
/// ```
class TcpListener final : public Socket {
 public:
  /// Creates a socket with `SO_REUSEADDR`, binds it to `addr` and listens (backlog 1024).
  /// Errors: `std::errc::address_family_not_supported` for a Unix address (see `UnixListener`).
  [[nodiscard]] static Result<TcpListener> bind(const SocketAddr& addr) noexcept;

  /// A connection from the backlog, already non-blocking and close-on-exec, and its peer.
  Result<std::pair<TcpStream, SocketAddr>> accept() noexcept;

 private:
  using Socket::Socket;
};

}  // namespace libpoll::net

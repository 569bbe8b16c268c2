#pragma once

/// \file
/// `StreamSocket`: a connected byte-stream socket (TCP or Unix).

#include <cstddef>
#include <span>

#include "libpoll/net/shutdown.hpp"
#include "libpoll/net/socket.hpp"

namespace libpoll::net {

/// A connected stream socket. Reads and writes never block: when nothing can be moved they fail
/// with would-block (`libpoll::is_would_block`), and the next event says when to try again.
class StreamSocket : public Socket {
 public:
  using IoSource::read;
  using IoSource::readv;
  using IoSource::write;
  using IoSource::writev;

  /// Reads without consuming: the next `read` returns the same bytes.
  Result<std::size_t> peek(std::span<std::byte> buffer) noexcept;
  /// Closes one or both halves of the connection.
  Result<void> shutdown(Shutdown how) noexcept;
  /// The address of the peer. Fails with `std::errc::not_connected` before a connection
  /// completes.
  [[nodiscard]] Result<SocketAddr> peer_addr() const noexcept;

 protected:
  using Socket::Socket;
};

}  // namespace libpoll::net

#pragma once

/// \file
/// `UnixDatagram`: a non-blocking Unix-domain datagram socket.

#include <string_view>
#include <utility>

#include "libpoll/net/datagram_socket.hpp"
#include "libpoll/net/shutdown.hpp"

namespace libpoll::net {

/// An `AF_UNIX` datagram socket: bound to a path, unbound, or one of a connected pair.
class UnixDatagram final : public DatagramSocket {
 public:
  /// A socket bound to `path`.
  [[nodiscard]] static Result<UnixDatagram> bind(std::string_view path) noexcept;
  /// A socket with no address, for sending, or to `connect` later.
  [[nodiscard]] static Result<UnixDatagram> unbound() noexcept;
  /// Two sockets connected to each other (`socketpair`).
  [[nodiscard]] static Result<std::pair<UnixDatagram, UnixDatagram>> pair() noexcept;

  /// Closes one or both halves: after `Shutdown::write` sends fail with `std::errc::broken_pipe`;
  /// after `Shutdown::read` the socket reports readable and read-closed. (Unlike a stream, the
  /// peer is not told.)
  Result<void> shutdown(Shutdown how) noexcept;

 private:
  using DatagramSocket::DatagramSocket;
};

}  // namespace libpoll::net

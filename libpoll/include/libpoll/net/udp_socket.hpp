#pragma once

/// \file
/// `UdpSocket`: a non-blocking UDP socket.

#include "libpoll/net/datagram_socket.hpp"

namespace libpoll::net {

/// A UDP socket. An empty datagram is a datagram: it makes the socket readable and `recv`
/// returns 0 for it.
///
/// ```cpp
/// auto socket = libpoll::net::UdpSocket::bind(libpoll::net::SocketAddr::loopback_v4()).value();
/// socket.send_to(std::as_bytes(std::span("ping", 4)), peer).value();
/// ```
class UdpSocket final : public DatagramSocket {
 public:
  /// Creates a socket bound to `addr` (port 0: the kernel picks one). Errors:
  /// `std::errc::address_family_not_supported` for a Unix address (see `UnixDatagram`).
  [[nodiscard]] static Result<UdpSocket> bind(const SocketAddr& addr) noexcept;

 private:
  using DatagramSocket::DatagramSocket;
};

}  // namespace libpoll::net

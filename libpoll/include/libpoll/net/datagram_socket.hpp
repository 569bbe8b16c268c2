#pragma once

/// \file
/// `DatagramSocket`: a message socket (UDP or Unix datagram).

#include <cstddef>
#include <span>
#include <utility>

#include "libpoll/net/socket.hpp"

namespace libpoll::net {

/// A datagram socket, connected or not. Every call moves one whole datagram (a zero-length
/// datagram included) or fails with would-block.
///
/// Once `connect`ed, the socket only receives datagrams from its peer: datagrams from any other
/// address are dropped by the kernel and produce no event.
class DatagramSocket : public Socket {
 public:
  /// Sends one datagram to `target`.
  Result<std::size_t> send_to(std::span<const std::byte> data, const SocketAddr& target) noexcept;
  /// Receives one datagram and the address it came from. A datagram longer than `buffer` is
  /// truncated.
  Result<std::pair<std::size_t, SocketAddr>> recv_from(std::span<std::byte> buffer) noexcept;
  /// Like `recv_from`, but leaves the datagram queued.
  Result<std::pair<std::size_t, SocketAddr>> peek_from(std::span<std::byte> buffer) noexcept;

  /// Sets the default peer for `send`, and drops datagrams from other addresses.
  Result<void> connect(const SocketAddr& peer) noexcept;
  /// Sends to the connected peer.
  Result<std::size_t> send(std::span<const std::byte> data) noexcept;
  /// Receives one datagram from the connected peer.
  Result<std::size_t> recv(std::span<std::byte> buffer) noexcept;
  /// Like `recv`, but leaves the datagram queued.
  Result<std::size_t> peek(std::span<std::byte> buffer) noexcept;
  /// The connected peer; `std::errc::not_connected` when there is none.
  [[nodiscard]] Result<SocketAddr> peer_addr() const noexcept;

 protected:
  using Socket::Socket;
};

}  // namespace libpoll::net

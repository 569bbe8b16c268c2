#include "libpoll/net/datagram_socket.hpp"

#include <sys/socket.h>

#include "libpoll/detail/io_result.hpp"
#include "net/socket_ops.hpp"

namespace libpoll::net {

namespace {

Result<std::pair<std::size_t, SocketAddr>> receive_from(int fd, const detail::EdgeLink& edge,
                                                        std::span<std::byte> buffer,
                                                        int flags) noexcept {
  sockaddr_storage from{};
  socklen_t length = sizeof from;
  auto received = detail::read_result(::recvfrom(fd, buffer.data(), buffer.size(), flags,
                                                 reinterpret_cast<sockaddr*>(&from), &length),
                                      edge);
  if (!received) return Unexpected(received.error());
  if (length < sizeof from.ss_family) {
    // An unbound Unix sender has no address, and the kernel then writes none, not even the
    // family: ask the socket for it so that the address still reads as an unnamed Unix one.
    auto domain = ops::int_option(fd, SOL_SOCKET, SO_DOMAIN);
    if (!domain) return Unexpected(domain.error());
    from.ss_family = static_cast<sa_family_t>(*domain);
    length = sizeof from.ss_family;
  }
  return std::pair{*received, SocketAddr::from_native(reinterpret_cast<sockaddr*>(&from), length)};
}

}  // namespace

Result<std::size_t> DatagramSocket::send_to(std::span<const std::byte> data,
                                            const SocketAddr& target) noexcept {
  return write_outcome(::sendto(as_raw_fd(), data.data(), data.size(), MSG_NOSIGNAL,
                                target.native(), target.native_length()));
}

Result<std::pair<std::size_t, SocketAddr>> DatagramSocket::recv_from(
    std::span<std::byte> buffer) noexcept {
  return receive_from(as_raw_fd(), edge_link(), buffer, 0);
}

Result<std::pair<std::size_t, SocketAddr>> DatagramSocket::peek_from(
    std::span<std::byte> buffer) noexcept {
  return receive_from(as_raw_fd(), edge_link(), buffer, MSG_PEEK);
}

Result<void> DatagramSocket::connect(const SocketAddr& peer) noexcept {
  return ops::connect(as_raw_fd(), peer);
}

Result<std::size_t> DatagramSocket::send(std::span<const std::byte> data) noexcept {
  return write_outcome(::send(as_raw_fd(), data.data(), data.size(), MSG_NOSIGNAL));
}

Result<std::size_t> DatagramSocket::recv(std::span<std::byte> buffer) noexcept {
  return read_outcome(::recv(as_raw_fd(), buffer.data(), buffer.size(), 0));
}

Result<std::size_t> DatagramSocket::peek(std::span<std::byte> buffer) noexcept {
  return read_outcome(::recv(as_raw_fd(), buffer.data(), buffer.size(), MSG_PEEK));
}

Result<SocketAddr> DatagramSocket::peer_addr() const noexcept {
  return ops::peer_addr(as_raw_fd());
}

}  // namespace libpoll::net

#pragma once

/// \file
/// `StreamSocket`: a connected byte-stream socket (TCP or Unix).

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "libpoll/net/shutdown.hpp"
#include "libpoll/net/socket.hpp"

namespace libpoll::net {

/// A connected stream socket. Reads and writes never block: when nothing can be moved they fail
/// with would-block (`libpoll::is_would_block`), and the next event says when to try again.
///
/// Writing to a connection the peer has closed fails with `std::errc::broken_pipe` and never
/// raises `SIGPIPE` (writes are sent with `MSG_NOSIGNAL`).
class StreamSocket : public Socket {
 public:
  using IoSource::read;
  using IoSource::readv;

  Result<std::size_t> write(std::span<const std::byte> data) noexcept {
    const std::uint64_t stamp = edge_link().stamp();
    return write_outcome(::send(as_raw_fd(), data.data(), data.size(), MSG_NOSIGNAL), data.size(),
                         stamp);
  }
  Result<std::size_t> write(std::string_view data) noexcept {
    return write(std::as_bytes(std::span(data.data(), data.size())));
  }
  /// Gather write from several buffers with one system call (at most `IOV_MAX` of them: see
  /// `IoSource::first_iovecs`).
  Result<std::size_t> writev(std::span<const iovec> all_buffers) noexcept {
    const auto buffers = first_iovecs(all_buffers);
    msghdr message{};
    message.msg_iov = const_cast<iovec*>(buffers.data());
    message.msg_iovlen = buffers.size();
    std::size_t requested = 0;
    for (const iovec& buffer : buffers) requested += buffer.iov_len;
    const std::uint64_t stamp = edge_link().stamp();
    return write_outcome(::sendmsg(as_raw_fd(), &message, MSG_NOSIGNAL), requested, stamp);
  }

  /// Reads without consuming: the next `read` returns the same bytes.
  Result<std::size_t> peek(std::span<std::byte> buffer) noexcept;
  /// Closes one or both halves of the connection.
  Result<void> shutdown(Shutdown how) noexcept;
  /// The address of the peer. Fails with `std::errc::not_connected` before a connection
  /// completes.
  [[nodiscard]] Result<SocketAddr> peer_addr() const noexcept;

 protected:
  explicit StreamSocket(OwnedFd fd) noexcept : Socket(std::move(fd)) { mark_byte_stream(); }
};

}  // namespace libpoll::net

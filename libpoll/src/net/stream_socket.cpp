#include "libpoll/net/stream_socket.hpp"

#include <sys/socket.h>

#include "libpoll/detail/io_result.hpp"
#include "libpoll/detail/syscall.hpp"
#include "net/socket_ops.hpp"

namespace libpoll::net {

Result<std::size_t> StreamSocket::peek(std::span<std::byte> buffer) noexcept {
  if (edge_link().receives_ahead()) {  // what was received ahead comes first
    const iovec one{buffer.data(), buffer.size()};
    return read_outcome(edge_link().read_received(as_raw_fd(), {&one, 1}, true));
  }
  return read_outcome(::recv(as_raw_fd(), buffer.data(), buffer.size(), MSG_PEEK));
}

Result<void> StreamSocket::shutdown(Shutdown how) noexcept {
  return detail::syscall_void(::shutdown(as_raw_fd(), static_cast<int>(how)));
}

Result<SocketAddr> StreamSocket::peer_addr() const noexcept {
  return ops::peer_addr(as_raw_fd());
}

}  // namespace libpoll::net

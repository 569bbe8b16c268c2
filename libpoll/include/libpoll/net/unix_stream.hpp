#pragma once

/// \file
/// `UnixStream`: a non-blocking Unix-domain stream connection.

#include <string_view>
#include <utility>

#include "libpoll/net/stream_socket.hpp"

namespace libpoll::net {

class UnixListener;

/// A connected `AF_UNIX` stream socket.
class UnixStream final : public StreamSocket {
 public:
  /// Starts a non-blocking connect to the socket at `path`.
  [[nodiscard]] static Result<UnixStream> connect(std::string_view path) noexcept;
  /// Two streams connected to each other (`socketpair`).
  [[nodiscard]] static Result<std::pair<UnixStream, UnixStream>> pair() noexcept;

 private:
  friend class UnixListener;
  using StreamSocket::StreamSocket;
};

}  // namespace libpoll::net

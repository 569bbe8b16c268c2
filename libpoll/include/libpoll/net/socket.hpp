#pragma once

/// \file
/// `Socket`: what every libpoll socket can do.

#include <system_error>

#include "libpoll/io_source.hpp"
#include "libpoll/net/socket_addr.hpp"

namespace libpoll::net {

/// The base of the socket types: an `IoSource` with an address and a pending-error slot.
class Socket : public IoSource {
 public:
  /// The address the socket is bound to.
  [[nodiscard]] Result<SocketAddr> local_addr() const noexcept;

  /// Fetches and clears the socket's pending error (`SO_ERROR`): an empty code when there is
  /// none. After an event with `is_error()`, or a writable event on a connecting stream, this
  /// says whether the connection failed.
  [[nodiscard]] Result<std::error_code> take_error() const noexcept;

 protected:
  using IoSource::IoSource;
};

}  // namespace libpoll::net

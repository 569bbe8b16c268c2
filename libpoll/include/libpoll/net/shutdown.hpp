#pragma once

/// \file
/// `Shutdown`: which half of a stream connection to close.

#include <sys/socket.h>

namespace libpoll::net {

/// The halves of a connection that `shutdown` closes.
enum class Shutdown : int {
  read = SHUT_RD,    ///< No more reads; the peer is not told.
  write = SHUT_WR,   ///< Sends FIN: the peer's reads see end of stream.
  both = SHUT_RDWR,  ///< Both halves; the local side sees write-closed.
};

}  // namespace libpoll::net

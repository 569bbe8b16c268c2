#include "libpoll/owned_fd.hpp"

#include <unistd.h>

namespace libpoll {

void OwnedFd::reset(int fd) noexcept {
  // Never retry close(): on Linux the descriptor is released even when close fails with EINTR.
  if (fd_ >= 0) (void)::close(fd_);
  fd_ = fd;
}

}  // namespace libpoll

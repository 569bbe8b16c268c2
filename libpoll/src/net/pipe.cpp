#include "libpoll/net/pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "libpoll/detail/syscall.hpp"

namespace libpoll::net {

Result<std::pair<PipeSender, PipeReceiver>> pipe() noexcept {
  int fds[2];
  if (auto made = detail::syscall_void(::pipe2(fds, O_NONBLOCK | O_CLOEXEC)); !made) {
    return Unexpected(made.error());
  }
  return std::pair{PipeSender(OwnedFd(fds[1])), PipeReceiver(OwnedFd(fds[0]))};
}

}  // namespace libpoll::net

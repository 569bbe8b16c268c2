#include "sys/pipe_waker.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>

#include "libpoll/detail/syscall.hpp"

namespace libpoll::sys {

Result<std::unique_ptr<PipeWaker>> PipeWaker::create() noexcept {
  int ends[2];
  if (auto made = detail::syscall_void(::pipe2(ends, O_NONBLOCK | O_CLOEXEC)); !made) {
    return Unexpected(made.error());
  }
  return std::unique_ptr<PipeWaker>(new PipeWaker(OwnedFd(ends[0]), OwnedFd(ends[1])));
}

Result<void> PipeWaker::wake() noexcept {
  const char byte = 1;
  auto written = detail::syscall_result(::write(write_.get(), &byte, 1));
  // A full pipe is readable already: the poll is awake, or will be.
  if (!written && !is_would_block(written.error())) return Unexpected(written.error());
  return {};
}

void PipeWaker::drain(int read_fd) noexcept {
  std::array<char, 256> buffer;
  // Until would-block: a non-blocking read of a pipe is never interrupted, so a failure means
  // that the pipe is empty.
  while (::read(read_fd, buffer.data(), buffer.size()) > 0) {
  }
}

}  // namespace libpoll::sys

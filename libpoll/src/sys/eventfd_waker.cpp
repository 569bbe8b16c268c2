#include "sys/eventfd_waker.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "libpoll/detail/syscall.hpp"

namespace libpoll::sys {

Result<std::unique_ptr<EventfdWaker>> EventfdWaker::create() noexcept {
  auto fd = detail::syscall_int(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) return Unexpected(fd.error());
  return std::unique_ptr<EventfdWaker>(new EventfdWaker(OwnedFd(*fd)));
}

Result<void> EventfdWaker::wake() noexcept {
  const std::uint64_t one = 1;
  auto written = detail::syscall_result(::write(fd_.get(), &one, sizeof one));
  if (written) return {};
  // The counter is at its maximum (2^64 - 2): the poll is certainly awake already. Drain the
  // counter and write again so that this wake is still an edge.
  if (is_would_block(written.error())) {
    if (auto drained = reset(); !drained) return drained;
    return wake();
  }
  return Unexpected(written.error());
}

Result<void> EventfdWaker::reset() noexcept {
  std::uint64_t count = 0;
  auto read = detail::syscall_result(::read(fd_.get(), &count, sizeof count));
  if (!read && !is_would_block(read.error())) return Unexpected(read.error());
  return {};
}

}  // namespace libpoll::sys

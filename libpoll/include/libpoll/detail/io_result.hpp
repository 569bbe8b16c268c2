#pragma once

// Results of reads and writes on a source's descriptor. They differ from syscall_result in one
// way: a would-block is reported to the poll(2) backend, which emulates edges and must learn
// that the source was drained (so that its next readiness is a new edge). That half is out of
// line and only runs on failure; with no poll(2) backend alive it is a single relaxed load.

#include <sys/types.h>

#include <cstddef>

#include "libpoll/interest.hpp"
#include "libpoll/result.hpp"

namespace libpoll::detail {

/// errno as an error; on would-block, also tells the poll(2) backend that `fd` is drained for
/// `kind`.
[[nodiscard]] Unexpected io_error(int fd, Interest kind) noexcept;

/// For reads, receives and accepts on `fd`.
[[nodiscard]] inline Result<std::size_t> read_result(ssize_t rc, int fd) noexcept {
  if (rc < 0) [[unlikely]] return io_error(fd, Interest::readable);
  return static_cast<std::size_t>(rc);
}

/// For writes and sends on `fd`.
[[nodiscard]] inline Result<std::size_t> write_result(ssize_t rc, int fd) noexcept {
  if (rc < 0) [[unlikely]] return io_error(fd, Interest::writable);
  return static_cast<std::size_t>(rc);
}

}  // namespace libpoll::detail

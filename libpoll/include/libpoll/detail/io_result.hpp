#pragma once

// Results of reads and writes on a source's descriptor. They differ from syscall_result in one
// way: the poll(2) backend, which emulates edges, learns of every would-block (the source is
// drained) and of every transfer (the user acted on the last event), so that the source's next
// readiness is a new edge. With no poll(2) backend alive that costs one relaxed load.

#include <sys/types.h>

#include <atomic>
#include <cstddef>

#include "libpoll/interest.hpp"
#include "libpoll/result.hpp"

namespace libpoll::detail {

/// How many poll(2) selectors are alive in the process.
inline std::atomic<std::size_t> edge_emulation_users{0};

/// errno as an error; on would-block, also tells the poll(2) backend that `fd` is drained for
/// `kind`.
[[nodiscard]] Unexpected io_error(int fd, Interest kind) noexcept;

/// Tells the poll(2) backend that bytes moved on `fd` for `kind`.
void io_progress(int fd, Interest kind) noexcept;

/// For reads, receives and accepts on `fd`. A read of 0 (end of stream) is not progress: no new
/// data will come, and re-arming would report the end again and again.
[[nodiscard]] inline Result<std::size_t> read_result(ssize_t rc, int fd) noexcept {
  if (rc < 0) [[unlikely]]
    return io_error(fd, Interest::readable);
  if (rc > 0 && edge_emulation_users.load(std::memory_order_relaxed) != 0) [[unlikely]] {
    io_progress(fd, Interest::readable);
  }
  return static_cast<std::size_t>(rc);
}

/// For writes and sends on `fd`.
[[nodiscard]] inline Result<std::size_t> write_result(ssize_t rc, int fd) noexcept {
  if (rc < 0) [[unlikely]]
    return io_error(fd, Interest::writable);
  if (rc > 0 && edge_emulation_users.load(std::memory_order_relaxed) != 0) [[unlikely]] {
    io_progress(fd, Interest::writable);
  }
  return static_cast<std::size_t>(rc);
}

}  // namespace libpoll::detail

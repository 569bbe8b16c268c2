#pragma once

// The bytes a receive-ahead Poll (PollOptions::receive_ahead) took from a stream socket before
// the user read them. On io_uring such a Poll reads a registered stream with a multishot recv
// request as data arrives, and the selector appends each completion's bytes here; the stream's
// own reads (read, readv, peek) take them from here, with no system call.
//
// The order of the stream's bytes is kept by one rule: while a receive request is in flight
// (`receiving`), the descriptor is never read, since the kernel may hand the request bytes that
// came before the ones a read would get; an empty store then means would-block, and the next
// completion brings an event. Without a request in flight, the store's bytes come first, then
// the descriptor, read under the store's lock, which the selector also takes to mark a request
// in flight: a read and a request's start cannot overlap.
//
// The selector writes with its own lock held, then this one; the source takes this one alone.

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <mutex>
#include <span>
#include <system_error>
#include <vector>

#include "futex_mutex.hpp"

namespace libpoll::detail {

class ReceivedBytes {
 public:
  // A stream whose store holds more than this stops receiving ahead until it has been read
  // empty (the selector falls back to readiness for it): a peer cannot fill memory faster than
  // the user reads, as a socket's own buffer would stop it.
  static constexpr std::size_t kHighWater = std::size_t{64} * 1024;

  // ---- the selector's side ----

  // A receive request is in flight (true) or none is (false).
  void set_receiving(bool receiving) noexcept {
    const std::scoped_lock lock(mutex_);
    receiving_ = receiving;
  }
  // Appends what a completion brought; returns the bytes held afterwards. Without memory for
  // them, the bytes are lost and the stream fails with ENOMEM at its next read.
  std::size_t append(std::span<const std::byte> bytes) noexcept;
  // The receive met `error` (a reset, a refused connection): the kernel has cleared it from the
  // socket, so it is kept for the next read or take_error.
  void fail(int error) noexcept {
    const std::scoped_lock lock(mutex_);
    error_ = error;
  }
  // Whether a read would find something here: bytes, or an error.
  [[nodiscard]] bool pending() const noexcept {
    const std::scoped_lock lock(mutex_);
    return head_ < bytes_.size() || error_ != 0;
  }
  [[nodiscard]] bool empty() const noexcept {
    const std::scoped_lock lock(mutex_);
    return head_ == bytes_.size();
  }

  // ---- the source's side ----

  // A read (or, with `peek`, a peek) of `fd` into `buffers`, served as described above; returns
  // what read(2) would, with errno set on -1.
  ssize_t read(int fd, std::span<const iovec> buffers, bool peek) noexcept;
  // The error a receive met, cleared; 0 when there is none.
  int take_error() noexcept {
    const std::scoped_lock lock(mutex_);
    const int error = error_;
    error_ = 0;
    return error;
  }

 private:
  // Copies stored bytes into `buffers` (consuming them unless `peek`); returns the count.
  std::size_t copy_out(std::span<const iovec> buffers, bool peek) noexcept;

  mutable FutexMutex mutex_;
  std::vector<std::byte> bytes_;  // unread from head_ on
  std::size_t head_ = 0;
  int error_ = 0;
  bool receiving_ = false;
};

}  // namespace libpoll::detail

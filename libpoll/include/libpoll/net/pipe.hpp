#pragma once

/// \file
/// `pipe()`: a non-blocking Unix pipe as a `Sender` and a `Receiver`.

#include <utility>

#include "libpoll/io_source.hpp"

namespace libpoll::net {

class PipeSender;
class PipeReceiver;

/// A new pipe, both ends non-blocking and close-on-exec (`pipe2`).
[[nodiscard]] Result<std::pair<PipeSender, PipeReceiver>> pipe() noexcept;

/// The writing end of a pipe. Register it for `Interest::writable`. When the receiver closes,
/// the sender gets an event with `is_write_closed()` (and `is_error()`); writes then fail with
/// `std::errc::broken_pipe` (ignore or block `SIGPIPE` in the process).
class PipeSender final : public IoSource {
 public:
  using IoSource::write;
  using IoSource::writev;

 private:
  friend Result<std::pair<PipeSender, PipeReceiver>> pipe() noexcept;
  using IoSource::IoSource;
};

/// The reading end of a pipe. Register it for `Interest::readable`. When every sender is closed,
/// it gets an event with `is_read_closed()`, and `read` returns 0 once the data is drained.
class PipeReceiver final : public IoSource {
 public:
  using IoSource::read;
  using IoSource::readv;

 private:
  friend Result<std::pair<PipeSender, PipeReceiver>> pipe() noexcept;
  using IoSource::IoSource;
};

}  // namespace libpoll::net

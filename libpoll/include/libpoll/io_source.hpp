#pragma once

/// \file
/// `IoSource`: the base of every libpoll type that owns a file descriptor.

#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "libpoll/detail/io_result.hpp"
#include "libpoll/owned_fd.hpp"
#include "libpoll/registry.hpp"
#include "libpoll/result.hpp"
#include "libpoll/source.hpp"
#include "libpoll/source_fd.hpp"

namespace libpoll {

/// A `Source` that owns its descriptor (non-blocking and close-on-exec from birth) and
/// registers it through `SourceFd`.
///
/// Destroying an `IoSource` closes the descriptor but does not deregister it: deregister first
/// (see `Source`). A moved-from `IoSource` holds no descriptor; its operations fail with
/// `std::errc::bad_file_descriptor`.
class IoSource : public Source {
 public:
  IoSource(IoSource&&) noexcept = default;
  IoSource& operator=(IoSource&& other) noexcept {
    if (this != &other) {
      edge_.before_close();
      fd_ = std::move(other.fd_);
      edge_ = std::move(other.edge_);
    }
    return *this;
  }
  ~IoSource() { edge_.before_close(); }

  /// The descriptor, still owned by this object.
  [[nodiscard]] int as_raw_fd() const noexcept { return fd_.get(); }
  /// Gives the descriptor to the caller, who must deregister and close it.
  [[nodiscard]] int into_raw_fd() noexcept {
    edge_.before_close();  // the caller may close it at once
    return fd_.release();
  }

 protected:
  explicit IoSource(OwnedFd fd) noexcept : fd_(std::move(fd)) {}

  // Byte-stream I/O, made public by the stream types with using-declarations. Each returns the
  // number of bytes moved (0 from a read is end of stream) or the error; would-block means
  // "wait for the next event".
  // The result of a read-side (write-side) call on the descriptor: also tells an edge-emulating
  // selector that this source is registered with about a would-block or a transfer.
  Result<std::size_t> read_outcome(ssize_t rc) noexcept { return detail::read_result(rc, edge_); }
  // A byte stream's write of `requested` bytes begun at poll count `stamp` (edge_link().stamp())
  // dates a drain, as write() does.
  Result<std::size_t> write_outcome(ssize_t rc, std::size_t requested = 0,
                                    std::uint64_t stamp = 0) noexcept {
    return detail::write_result(rc, edge_, requested, stamp);
  }
  [[nodiscard]] const detail::EdgeLink& edge_link() const noexcept { return edge_; }
  // For the byte-stream types: a receive-ahead Poll may read this source ahead of its user.
  void mark_byte_stream() noexcept { edge_.mark_byte_stream(); }

  // Reads and writes stamp the selector's poll count first, so that a would-block (or a short
  // read or write: a byte stream held less than was asked for, or took less than it was given)
  // is recorded as a drain that began after the events the user has seen (see Registry,
  // "Reregistering").
  // A stream read ahead by a receive-ahead Poll (PollOptions::receive_ahead) reads through
  // what was received first.
  Result<std::size_t> read(std::span<std::byte> buffer) noexcept {
    const std::uint64_t stamp = edge_.stamp();
    if (edge_.receives_ahead()) [[unlikely]] {
      const iovec one{buffer.data(), buffer.size()};
      return detail::read_result(edge_.read_received(fd_.get(), {&one, 1}), edge_, buffer.size(),
                                 stamp);
    }
    return detail::read_result(::read(fd_.get(), buffer.data(), buffer.size()), edge_,
                               buffer.size(), stamp);
  }
  Result<std::size_t> read(std::span<char> buffer) noexcept {
    return read(std::as_writable_bytes(buffer));
  }
  Result<std::size_t> write(std::span<const std::byte> data) noexcept {
    const std::uint64_t stamp = edge_.stamp();
    return detail::write_result(::write(fd_.get(), data.data(), data.size()), edge_, data.size(),
                                stamp);
  }
  Result<std::size_t> write(std::string_view data) noexcept {
    return write(std::as_bytes(std::span(data.data(), data.size())));
  }
  /// The buffers one vectored call can take: the first `IOV_MAX` (1024 on Linux). The kernel
  /// refuses more with `EINVAL` (`EMSGSIZE` from `sendmsg`); a call given more moves what fits in
  /// the first ones, as a partial transfer, the way Rust's `read_vectored` and `write_vectored`
  /// (and so mio) do.
  static std::span<const iovec> first_iovecs(std::span<const iovec> buffers) noexcept {
    constexpr auto kMax = static_cast<std::size_t>(IOV_MAX);
    return buffers.size() > kMax ? buffers.first(kMax) : buffers;
  }

  /// Scatter read into several buffers with one system call (at most `IOV_MAX` of them: see
  /// `first_iovecs`).
  Result<std::size_t> readv(std::span<const iovec> all_buffers) noexcept {
    const auto buffers = first_iovecs(all_buffers);
    std::size_t requested = 0;
    for (const iovec& buffer : buffers) requested += buffer.iov_len;
    const std::uint64_t stamp = edge_.stamp();
    if (edge_.receives_ahead()) [[unlikely]]
      return detail::read_result(edge_.read_received(fd_.get(), buffers), edge_, requested, stamp);
    return detail::read_result(::readv(fd_.get(), buffers.data(), static_cast<int>(buffers.size())),
                               edge_, requested, stamp);
  }
  /// Gather write from several buffers with one system call (at most `IOV_MAX` of them: see
  /// `first_iovecs`).
  Result<std::size_t> writev(std::span<const iovec> all_buffers) noexcept {
    const auto buffers = first_iovecs(all_buffers);
    std::size_t requested = 0;
    for (const iovec& buffer : buffers) requested += buffer.iov_len;
    const std::uint64_t stamp = edge_.stamp();
    return detail::write_result(
        ::writev(fd_.get(), buffers.data(), static_cast<int>(buffers.size())), edge_, requested,
        stamp);
  }

 private:
  Result<void> register_source(const Registry& registry, Token token,
                               Interest interest) noexcept override {
    return registry.register_io_fd(fd_.get(), token, interest, edge_);
  }
  Result<void> reregister_source(const Registry& registry, Token token,
                                 Interest interest) noexcept override {
    return registry.reregister_io_fd(fd_.get(), token, interest, edge_.drained_at(interest));
  }
  Result<void> deregister_source(const Registry& registry) noexcept override {
    auto deregistered = registry.deregister_io_fd(fd_.get());
    // A refused call (another Poll's registry, or none) leaves the registration, and the link
    // an edge-emulating selector re-arms it through.
    if (deregistered || detail::registration_gone(deregistered.error())) edge_.unlink();
    return deregistered;
  }

  OwnedFd fd_;
  detail::EdgeLink edge_;  // set while registered with a selector that emulates edges
};

}  // namespace libpoll

#pragma once

// Results of reads and writes on a source's descriptor. They differ from syscall_result in one
// way: a backend that emulates edges (poll(2)) learns of every would-block (the source is
// drained) and of every transfer (the user acted on the last event), so that the source's next
// readiness is a new edge; the others record when the source was last drained, which lets a
// reregister to an unchanged interest skip the system call. The source carries the link itself,
// set when it is registered: a source registered with nothing pays one null check, and no
// process-wide state is ever touched.

#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>

#include "libpoll/interest.hpp"
#include "libpoll/result.hpp"

namespace libpoll::sys {
class Selector;
}

namespace libpoll::detail {

class ReceivedBytes;

/// The oldest of the drain stamps (poll counts) of the kinds in `interest`: when all of them
/// were last found drained; 0 when one never was. Priority data has no drain libpoll can see.
[[nodiscard]] constexpr std::uint64_t oldest_drain(Interest interest, std::uint64_t read,
                                                   std::uint64_t write) noexcept {
  if (interest.is_priority()) return 0;
  if (interest.is_readable() && interest.is_writable()) return read < write ? read : write;
  return interest.is_readable() ? read : write;
}

/// Whether a registry call's error says the registration itself is gone: the kernel no longer
/// has (this file, this fd), its descriptor having been closed or the number reused.
[[nodiscard]] inline bool registration_gone(const std::error_code& error) noexcept {
  return error == std::errc::bad_file_descriptor || error == std::errc::no_such_file_or_directory;
}

/// The selector a libpoll source is registered with, when it wants to hear of the source's I/O,
/// or nothing. An edge-emulating selector (poll(2)) hears of every would-block and transfer; the
/// others (epoll, io_uring) only keep the poll count at which each kind was last drained (a
/// would-block, or a short read of a byte stream), so that a reregister to the interest the
/// kernel already holds can be skipped without losing an event. The raw pointer makes the check
/// on every read and write a single load; the weak one keeps it safe: a source outliving its
/// Poll (a leak) keeps neither the selector nor its descriptors alive.
class EdgeLink {
 public:
  EdgeLink() = default;
  EdgeLink(EdgeLink&& other) noexcept { *this = std::move(other); }
  EdgeLink& operator=(EdgeLink&& other) noexcept;
  ~EdgeLink() = default;

  [[nodiscard]] bool linked() const noexcept { return target_ != nullptr; }
  /// Links the source, registered as `fd`, to `selector`. Registered again with the selector it
  /// was last linked to (compared by control block, which the weak reference keeps from being
  /// reused), the references stand and no count is touched: that is every register but a
  /// source's first with a Poll, so it stays inline.
  void link(const std::shared_ptr<sys::Selector>& selector, int fd) noexcept {
    if (owner_.owner_before(selector) || selector.owner_before(owner_)) [[unlikely]]
      relink(selector);
    target_ = selector.get();
    transfers_ = owner_emulates_edges_;
    fd_ = fd;
    read_drained_.store(0, std::memory_order_relaxed);
    write_drained_.store(0, std::memory_order_relaxed);
  }
  void unlink() noexcept;
  /// The source is about to close its descriptor: the selector it was last linked to, if it is
  /// still alive, makes whatever it recorded and has not made yet (a deregister waits for the
  /// next poll), so that nothing recorded reaches a number reused after the close.
  void before_close() const noexcept;
  /// Tells the selector, if it is still alive, that the linked fd is drained or made progress
  /// for `kind` (edge-emulating selectors only).
  void rearm(Interest kind) const noexcept;

  /// The selector's poll count, read before an I/O call whose would-block (or short read) will
  /// be recorded as a drain: 0 when no one keeps it.
  [[nodiscard]] std::uint64_t stamp() const noexcept {
    return clock_ ? clock_->load(std::memory_order_acquire) : 0;
  }
  /// The I/O call that began at poll count `stamp` found `kind` drained.
  void drained(Interest kind, std::uint64_t stamp) const noexcept {
    if (stamp == 0) return;
    (kind.is_writable() ? write_drained_ : read_drained_).store(stamp, std::memory_order_relaxed);
  }
  /// The poll count at which every kind of `interest` was last found drained (the oldest of
  /// them), or 0 when one never was. Priority data has no drain libpoll can see.
  /// Inline: every reregister of a libpoll source asks it.
  [[nodiscard]] std::uint64_t drained_at(Interest interest) const noexcept {
    if (!clock_) return 0;
    return oldest_drain(interest, read_drained_.load(std::memory_order_relaxed),
                        write_drained_.load(std::memory_order_relaxed));
  }
  /// Whether a transfer on this source is news to the selector (poll(2)'s emulated edges).
  [[nodiscard]] bool wants_transfers() const noexcept { return transfers_; }

  /// The source is a connected byte stream, which a receive-ahead Poll may read ahead of the
  /// user (`PollOptions::receive_ahead`).
  void mark_byte_stream() noexcept { byte_stream_ = true; }
  [[nodiscard]] bool byte_stream() const noexcept { return byte_stream_; }
  /// The bytes a receive-ahead Poll took from the descriptor for this source, once one has:
  /// the source's reads come from there first. Kept across a deregister, with what it holds.
  [[nodiscard]] bool receives_ahead() const noexcept { return received_ != nullptr; }
  /// The store, made on first use; nullptr without memory for it.
  [[nodiscard]] std::shared_ptr<ReceivedBytes> receiver() noexcept;
  /// A read (or, with `peek`, a peek) of `fd` through the store (see received_bytes.hpp):
  /// what read(2) would return, errno set on -1.
  [[nodiscard]] ssize_t read_received(int fd, std::span<const iovec> buffers,
                                      bool peek = false) const noexcept;
  /// The error a receive ahead met (the kernel cleared it from the socket), cleared; 0: none.
  [[nodiscard]] int take_received_error() const noexcept;

 private:
  // Takes the references of a selector other than the last one.
  void relink(const std::shared_ptr<sys::Selector>& selector) noexcept;

  sys::Selector* target_ = nullptr;  // only ever used through owner_.lock()
  std::weak_ptr<sys::Selector> owner_;
  std::shared_ptr<const std::atomic<std::uint64_t>> clock_;  // the selector's poll count
  mutable std::atomic<std::uint64_t> read_drained_{0};
  mutable std::atomic<std::uint64_t> write_drained_{0};
  int fd_ = -1;  // as registered, so that the hot path need not keep the source's at hand
  bool transfers_ = false;
  bool owner_emulates_edges_ = false;  // owner_'s emulates_edges(), asked once per selector
  bool byte_stream_ = false;
  std::shared_ptr<ReceivedBytes> received_;  // shared with the selector's entry
};

/// errno as an error; on would-block, also re-arms `kind` through `edge` and records the drain
/// for the I/O call that began at `stamp` (0: not recorded).
[[nodiscard]] Unexpected io_error(Interest kind, const EdgeLink& edge,
                                  std::uint64_t stamp = 0) noexcept;

/// For reads, receives and accepts. A read of 0 (end of stream) is not progress: no new
/// data will come, and re-arming would report the end again and again. With `requested` (a byte
/// stream's read of that many bytes begun at `stamp`), a short read is a drain: the stream held
/// less than was asked for, so whatever arrives next is a new edge.
[[nodiscard]] inline Result<std::size_t> read_result(ssize_t rc, const EdgeLink& edge,
                                                     std::size_t requested = 0,
                                                     std::uint64_t stamp = 0) noexcept {
  if (rc < 0) [[unlikely]]
    return io_error(Interest::readable, edge, stamp);
  if (rc > 0 && edge.linked()) [[unlikely]] {
    if (edge.wants_transfers()) {
      edge.rearm(Interest::readable);
    } else if (static_cast<std::size_t>(rc) < requested) {
      edge.drained(Interest::readable, stamp);
    }
  }
  return static_cast<std::size_t>(rc);
}

/// For writes and sends. With `requested` (a byte stream's write of that many bytes begun at
/// `stamp`), a short write is a drain: a non-blocking stream takes less than it is given only
/// when its buffer is full, and room made later is a new edge.
[[nodiscard]] inline Result<std::size_t> write_result(ssize_t rc, const EdgeLink& edge,
                                                      std::size_t requested = 0,
                                                      std::uint64_t stamp = 0) noexcept {
  if (rc < 0) [[unlikely]]
    return io_error(Interest::writable, edge, stamp);
  if (rc > 0 && edge.linked()) [[unlikely]] {
    if (edge.wants_transfers()) {
      edge.rearm(Interest::writable);
    } else if (static_cast<std::size_t>(rc) < requested) {
      edge.drained(Interest::writable, stamp);
    }
  }
  return static_cast<std::size_t>(rc);
}

}  // namespace libpoll::detail

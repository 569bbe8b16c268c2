#pragma once

// The connected pairs a scenario drives: TCP and Unix stream socket pairs, connected UDP socket
// pairs, and pipes, behind one interface. Every read and write goes through libpoll's own I/O,
// so that the poll(2) backend sees each drain exactly as an application's would be seen.

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "libpoll/libpoll.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {

// One end of a pair: a registered source that reads, and (except a pipe's reading end) writes
// toward its peer.
class Link {
 public:
  virtual ~Link() = default;
  [[nodiscard]] virtual libpoll::Source& source() noexcept = 0;
  [[nodiscard]] virtual int fd() const noexcept = 0;
  // Gives up the descriptor (the caller closes it); the Link is empty afterwards.
  [[nodiscard]] virtual int release_fd() noexcept = 0;
  virtual libpoll::Result<std::size_t> read(std::span<std::byte> buffer) noexcept = 0;
  virtual libpoll::Result<std::size_t> write(std::span<const std::byte> data) noexcept = 0;
  // Datagram links deliver whole messages per read.
  [[nodiscard]] virtual bool datagram() const noexcept = 0;
};

struct LinkPair {
  std::unique_ptr<Link> a;  // the sending end of a pipe
  std::unique_ptr<Link> b;  // always registered
  bool two_way = true;      // false for a pipe: messages flow a -> b only
};

// Creates `count` pairs of `kind` on loopback. TCP pairs beyond one listener's reach are spread
// over several listeners, so that the 4-tuples stay unique past the ephemeral port range.
// Throws a Failure (exit 3) with the failing call's reason.
[[nodiscard]] std::vector<LinkPair> make_pairs(SocketKind kind, std::size_t count);

// Wake-up pairs (sockets.kind "waker" or "eventfd"): no bytes cross, a message's stamps wait in
// the receiver's mailbox and the sender wakes the receiver's Poll (wake_links.cpp).
[[nodiscard]] std::vector<LinkPair> make_wake_pairs(SocketKind kind, std::size_t count);

// Makes the next close of a TCP link send a reset (SO_LINGER 0).
void arm_reset(Link& link);

}  // namespace pollscope

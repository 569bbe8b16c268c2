#pragma once

// With the far ends of the pairs on a thread or in a process of their own (sockets.peer), the
// poller holding the registered ends (the near side) and the one holding the far ends talk
// through a Unix socket pair of their own: the near side says when each phase begins, so that
// traffic of one phase never lands in another, and each side says, when it stops sending, how
// many messages it sent, so that the other knows exactly what to wait for and what was missed.
// Either side stopping (its time, its messages, a stop) ends the phase for both.

#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "libpoll/net/unix_stream.hpp"

namespace pollscope {

// Which ends of its pairs a poller holds.
enum class Side {
  both,  // sockets.peer "same_loop": both ends, on one Poll
  near,  // the registered ends (b); the far ends run elsewhere
  far,   // the far ends (a): the peer, which starts the traffic
};

// The channel's token in a poller's Poll: no end's.
inline constexpr std::size_t kPeerToken = SIZE_MAX;

class PeerChannel {
 public:
  // The two ends of a new channel. Throws a Failure (exit 3).
  [[nodiscard]] static std::pair<PeerChannel, PeerChannel> make();

  [[nodiscard]] libpoll::Source& source() noexcept { return stream_; }

  void tell_begin(std::uint64_t phase);
  void tell_stopped(std::uint64_t sent);

  // Waits for the other side to begin phase `phase`: false when it is gone, or `stop` was set.
  // Throws a Failure when it does not come within a minute.
  [[nodiscard]] bool await_begin(std::uint64_t phase, const std::atomic<bool>* stop);

  struct Heard {
    std::optional<std::uint64_t> stopped_after;  // the other side stopped, having sent this many
    bool closed = false;                         // the other side is gone
  };
  // What arrived since the last call, without waiting.
  [[nodiscard]] Heard listen();

 private:
  explicit PeerChannel(libpoll::net::UnixStream stream) : stream_(std::move(stream)) {}
  void tell(std::uint64_t kind, std::uint64_t value);
  void receive();

  libpoll::net::UnixStream stream_;
  std::vector<std::byte> inbox_;
  std::optional<std::uint64_t> begun_;          // the last phase the other side began
  std::optional<std::uint64_t> stopped_after_;  // not taken by listen() yet
  bool closed_ = false;
};

}  // namespace pollscope

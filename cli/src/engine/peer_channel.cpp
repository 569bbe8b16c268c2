#include "engine/peer_channel.hpp"

#include <poll.h>

#include <array>
#include <cstring>
#include <string>

#include "base/failure.hpp"
#include "engine/clock.hpp"

namespace pollscope {

namespace {

struct Notice {
  std::uint64_t kind;
  std::uint64_t value;
};
constexpr std::uint64_t kBegin = 1;
constexpr std::uint64_t kStopped = 2;
constexpr std::uint64_t kBeginTimeoutNs = 60'000'000'000;

}  // namespace

std::pair<PeerChannel, PeerChannel> PeerChannel::make() {
  auto ends = libpoll::net::UnixStream::pair();
  if (!ends) throw Failure::environment("socketpair: " + ends.error().message());
  return {PeerChannel(std::move(ends->first)), PeerChannel(std::move(ends->second))};
}

// A notice is 16 bytes on an almost empty socket: a would-block can only be brief.
void PeerChannel::tell(std::uint64_t kind, std::uint64_t value) {
  const Notice notice{kind, value};
  std::span<const std::byte> left(reinterpret_cast<const std::byte*>(&notice), sizeof notice);
  while (!left.empty()) {
    auto written = stream_.write(left);
    if (written) {
      left = left.subspan(*written);
      continue;
    }
    if (!libpoll::is_would_block(written.error())) return;  // the other side is gone
    pollfd wait{stream_.as_raw_fd(), POLLOUT, 0};
    (void)::poll(&wait, 1, 100);
  }
}

void PeerChannel::tell_begin(std::uint64_t phase) {
  tell(kBegin, phase);
}

void PeerChannel::tell_stopped(std::uint64_t sent) {
  tell(kStopped, sent);
}

// Reads what arrived, without waiting; a notice the phase loop has not taken yet is kept.
void PeerChannel::receive() {
  std::array<std::byte, 256> buffer;
  while (!closed_) {
    auto got = stream_.read(buffer);
    if (!got && libpoll::is_would_block(got.error())) break;
    if (!got || *got == 0) {
      closed_ = true;
      break;
    }
    inbox_.insert(inbox_.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*got));
  }
  std::size_t used = 0;
  for (; inbox_.size() - used >= sizeof(Notice); used += sizeof(Notice)) {
    Notice notice;
    std::memcpy(&notice, inbox_.data() + used, sizeof notice);
    if (notice.kind == kBegin) begun_ = notice.value;
    if (notice.kind == kStopped) stopped_after_ = notice.value;
  }
  inbox_.erase(inbox_.begin(), inbox_.begin() + static_cast<std::ptrdiff_t>(used));
}

PeerChannel::Heard PeerChannel::listen() {
  receive();
  return Heard{std::exchange(stopped_after_, std::nullopt), closed_};
}

bool PeerChannel::await_begin(std::uint64_t phase, const std::atomic<bool>* stop) {
  const std::uint64_t give_up = Clock::monotonic_ns() + kBeginTimeoutNs;
  for (;;) {
    receive();
    if (begun_ && *begun_ >= phase) return true;
    if (closed_ || (stop != nullptr && stop->load(std::memory_order_relaxed))) return false;
    if (Clock::monotonic_ns() > give_up) {
      throw Failure::environment("the near side did not begin phase " + std::to_string(phase) +
                                 " within a minute");
    }
    pollfd wait{stream_.as_raw_fd(), POLLIN, 0};
    (void)::poll(&wait, 1, 100);
  }
}

}  // namespace pollscope

// The run's own packets: a capture of the poller's pairs, registered with its Poll beside them
// (capture/capture_session.hpp), and the sequence number that matches a packet to its message.

#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>

#include <atomic>
#include <cstring>

#include "base/failure.hpp"
#include "engine/poller.hpp"

namespace pollscope {

namespace {

// The local port of a socket; 0 when it has none.
std::uint16_t local_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  return 0;
}

// Sequence numbers are unique across the pollers of a run, which may see each other's packets
// when a filter keeps a range of ports: the process and the poller in the top 24 bits.
std::uint64_t first_sequence() {
  static std::atomic<std::uint64_t> pollers{0};
  const auto poller = pollers.fetch_add(1, std::memory_order_relaxed);
  return ((static_cast<std::uint64_t>(::getpid()) & 0xffff) << 48) | ((poller & 0xff) << 40) | 1;
}

}  // namespace

void Poller::start_capture() {
  std::vector<std::uint16_t> ports;
  for (const End& end : ends_) {
    if (const auto port = local_port(end.link->fd()); port != 0) ports.push_back(port);
  }
  capture_ = std::make_unique<CaptureSession>(
      scenario_.capture->interface, ports, options_.pcap_sink, snapshot_for(scenario_),
      options_.capture_records.value_or(WireMatcher::kMostRecords));
  next_sequence_ = first_sequence();
  auto registered = poll_->registry().register_source(
      capture_->source(), libpoll::Token{ends_.size()}, libpoll::Interest::readable);
  if (!registered) {
    throw Failure::environment("registering the capture: " + registered.error().message());
  }
}

void Poller::stop_capture() {
  auto deregistered = poll_->registry().deregister_source(capture_->source());
  if (!deregistered) {
    throw Failure::environment("deregistering the capture: " + deregistered.error().message());
  }
  capture_.reset();
}

void Poller::stamp_sequence(std::vector<std::byte>& message) {
  if (message.size() < kSequencedBytes) return;
  const std::uint64_t sequence = next_sequence_++;
  std::memcpy(message.data() + kSequenceOffset, &sequence, sizeof sequence);
}

void Poller::record_wire(const PhaseRun& run, std::span<const std::byte> message,
                         std::uint64_t sent, std::uint64_t at) {
  if (message.size() < kSequencedBytes) return;
  std::uint64_t sequence = 0;
  std::memcpy(&sequence, message.data() + kSequenceOffset, sizeof sequence);
  capture_->on_message({sequence, sent, at, run.event_realtime});
}

}  // namespace pollscope

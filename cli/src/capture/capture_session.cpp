#include "capture/capture_session.hpp"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include "base/failure.hpp"
#include "capture/capture_filter.hpp"

namespace pollscope {

namespace {

// A TCP segment may carry dozens of messages (up to 64 KiB on loopback, a coalesced burst): cut
// short, it hides the heads of the messages past the cut. A whole packet is kept with its
// link-layer header; 2 KiB keep a datagram's one head, and the first heads of a segment. In
// immediate mode each packet takes a ring slot of the snapshot's length (libpcap caps an
// Ethernet slot at the interface's largest frame): 32 MiB hold 512 whole packets, 256 on
// loopback, which passes each twice, but 15,000 of 2 KiB. An open loop of 20,000 messages a
// second on a loaded machine overflowed the 256 (15% of its messages unmatched over TCP), never
// the 15,000. So whole packets get a ring four times larger: 1,024 packets on loopback, which
// a replay under AddressSanitizer beside other tests still overflowed at 256.
constexpr std::uint32_t kWholePacket = 65536 + 64;
constexpr std::uint32_t kMessageHeads = 2048;
constexpr int kHeadsRingBytes = 32 << 20;
constexpr int kWholePacketsRingBytes = 128 << 20;

// A test seam: POLLSCOPE_CAPTURE_SNAPSHOT lowers what a capture keeps of each packet, so that a
// test sees a TCP flow lose its step, and the messages it leaves unmatched counted, without
// making the kernel drop packets.
std::uint32_t snapshot_length(Snapshot snapshot) {
  const std::uint32_t length = snapshot == Snapshot::whole_packets ? kWholePacket : kMessageHeads;
  const char* given = std::getenv("POLLSCOPE_CAPTURE_SNAPSHOT");
  std::uint32_t bytes = 0;
  if (given == nullptr ||
      std::from_chars(given, given + std::strlen(given), bytes).ec != std::errc{} || bytes < 128) {
    return length;
  }
  return std::min(bytes, length);
}

// A test seam: POLLSCOPE_INJECT_FAILURE=capture.memory runs out of memory while the first packet
// is matched, inside libpcap's callback, as a table that can no longer grow does.
bool inject_out_of_memory() {
  const char* wanted = std::getenv("POLLSCOPE_INJECT_FAILURE");
  return wanted != nullptr && std::strcmp(wanted, "capture.memory") == 0;
}

libpoll::pcap::Capture open_capture(const std::string& interface,
                                    const std::vector<std::uint16_t>& ports,
                                    std::uint32_t snapshot_bytes) {
  std::string detail;
  auto capture = libpoll::pcap::Capture::open(
      {.interface = interface,
       .filter = capture_filter(ports),
       .snapshot_length = static_cast<int>(snapshot_bytes),
       .buffer_bytes = snapshot_bytes > kMessageHeads ? kWholePacketsRingBytes : kHeadsRingBytes},
      &detail);
  if (capture) return std::move(*capture);
  if (capture.error() == std::errc::operation_not_permitted) {
    throw Failure::environment(fmt::format(
        "capture on {}: no permission to capture packets (needs root or CAP_NET_RAW): {}",
        interface, detail));
  }
  throw Failure::environment("capture: " + detail);  // libpcap's reason, after the interface
}

// The offset from `clock` to CLOCK_REALTIME, from the tightest of a few bracketing reads.
std::int64_t realtime_offset(const Clock& clock) {
  std::uint64_t narrowest = UINT64_MAX;
  std::int64_t offset = 0;
  for (int round = 0; round < 16; ++round) {
    const std::uint64_t before = clock.now_ns();
    const std::uint64_t real = realtime_ns();
    const std::uint64_t after = clock.now_ns();
    if (after - before < narrowest) {
      narrowest = after - before;
      offset = static_cast<std::int64_t>(real) -
               static_cast<std::int64_t>(before + (after - before) / 2);
    }
  }
  return offset;
}

}  // namespace

Snapshot snapshot_for(const Scenario& scenario) {
  if (scenario.sockets.kind != SocketKind::tcp) return Snapshot::message_heads;
  const auto replays = [](const Phase& phase) { return replay_of(phase) != nullptr; };
  return std::any_of(scenario.phases.begin(), scenario.phases.end(), replays)
             ? Snapshot::whole_packets
             : Snapshot::message_heads;
}

// What the ring holds is twice the buffer asked for: libpcap (1.10, immediate mode) puts each
// packet in a block of its own, a power of two of pages, and a slot is a little more than its
// snapshot (a header of about 80 bytes): a 4 KiB block for 2 KiB, 128 KiB for a whole packet.
// Measured in /proc/PID/smaps: 61.6 MiB for the 32 MiB buffer, 255.8 MiB for the 128 MiB one.
std::uint64_t ring_bytes(Snapshot snapshot) {
  const int buffer = snapshot == Snapshot::whole_packets ? kWholePacketsRingBytes : kHeadsRingBytes;
  return 2 * static_cast<std::uint64_t>(buffer);
}

std::uint64_t realtime_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000U +
         static_cast<std::uint64_t>(now.tv_nsec);
}

CaptureSession::CaptureSession(const std::string& interface,
                               const std::vector<std::uint16_t>& ports, PcapSink* sink,
                               Snapshot snapshot, std::size_t most_records)
    : snapshot_length_(snapshot_length(snapshot)),
      capture_(open_capture(interface, ports, snapshot_length_)),
      interface_(interface),
      matcher_(most_records),
      sink_(sink),
      link_type_(capture_.link_type()),
      inject_out_of_memory_(inject_out_of_memory()) {}

void CaptureSession::begin_phase(Framing framing, const Clock& clock) {
  matcher_.begin_phase(framing, realtime_offset(clock));
}

void CaptureSession::drain(Figures& figures) {
  auto drained = capture_.drain([&](const libpoll::pcap::Packet& packet) {
    ++figures.captured_packets;
    if (sink_ != nullptr && !sink_->add(link_type_, snapshot_length_, packet.timestamp_ns,
                                        packet.data, packet.wire_length)) {
      ++figures.pcap_left_out;
    }
    if (!out_of_memory_) match(packet);
  });
  if (!drained) throw Failure::environment(failed("", drained.error()));
  if (out_of_memory_) {
    throw Failure::environment(
        "out of memory: --capture: matching packets to their messages: the run stopped "
        "(--memory-budget bounds what a scenario and its capture keep)");
  }
}

// The matcher's tables grow here, inside libpcap's callback: C frames that an exception must not
// cross (std::terminate: exit 134, no report, the temporary files left). Memory that runs out
// stops the matching instead, and drain ends the run once libpcap has returned.
void CaptureSession::match(const libpoll::pcap::Packet& packet) noexcept {
  try {
    if (inject_out_of_memory_) throw std::bad_alloc();
    const auto parsed = parse_frame(packet.data, link_type_);  // a reason it gives allocates
    if (const auto* transport = std::get_if<TransportPacket>(&parsed)) {
      matcher_.on_packet(packet.timestamp_ns, *transport);
    }
  } catch (const std::bad_alloc&) {
    out_of_memory_ = true;
  }
}

// libpcap's own message says which failure it was ("The interface disappeared"); the error
// code alone often says only "Generic error".
std::string CaptureSession::failed(std::string_view what, std::error_code error) const {
  const std::string reason = capture_.last_error();
  return fmt::format("capture on {}: {}{}", interface_, what,
                     reason.empty() ? error.message() : reason);
}

void CaptureSession::finish_phase(Figures& figures) {
  ++figures.captures;
  drain(figures);
  matcher_.finish_phase(figures);
  auto stats = capture_.stats();
  if (!stats) throw Failure::environment(failed("statistics: ", stats.error()));
  figures.capture_kernel_drops = stats->dropped - counted_.dropped;
  figures.capture_interface_drops = stats->interface_dropped - counted_.interface_dropped;
  counted_ = *stats;
}

}  // namespace pollscope

#include "capture/wire_matcher.hpp"

#include <algorithm>
#include <cstring>

namespace pollscope {

namespace {

// Whether sequence number `a` comes before `b`: they wrap, so their difference is read signed.
bool before(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) < 0;
}

}  // namespace

void WireMatcher::begin_phase(Framing framing, std::int64_t realtime_offset) {
  framing_ = framing;
  realtime_offset_ = realtime_offset;
}

void WireMatcher::on_packet(std::uint64_t timestamp_ns, const TransportPacket& packet) {
  if (packet.payload.empty()) return;  // a TCP acknowledgement
  if (packet.transport == Transport::udp) {
    on_sequence(packet.payload, timestamp_ns);  // a datagram is one message
  } else {
    on_stream(timestamp_ns, packet);
  }
}

// A segment may hold the ends and starts of several messages: each message starts its length
// after the one before, counted from the flow's first segment (the capture is open before any
// message is sent, so that segment starts a message).
void WireMatcher::on_stream(std::uint64_t timestamp_ns, const TransportPacket& packet) {
  const auto key = (std::uint32_t{packet.source_port} << 16) | packet.destination_port;
  auto [found, first] = flows_.try_emplace(key);
  Flow& flow = found->second;
  if (first) flow.next_message = packet.tcp_sequence;
  if (!flow.head.empty()) complete_head(flow, packet);
  if (flow.lost || !flow.head.empty()) return;
  // A segment that starts past the next message: the capture missed the bytes between.
  if (before(flow.next_message, packet.tcp_sequence)) skip_to(flow, packet.tcp_sequence);
  if (!flow.lost) read_heads(flow, timestamp_ns, packet);
}

void WireMatcher::read_heads(Flow& flow, std::uint64_t timestamp_ns,
                             const TransportPacket& packet) {
  // The segment's length on the wire places the messages; the snapshot may have kept less.
  const auto size = static_cast<std::uint32_t>(packet.payload_length);
  const std::size_t captured = packet.payload.size();
  const std::size_t wanted = framing_.head_bytes();
  for (auto ahead = static_cast<std::int32_t>(flow.next_message - packet.tcp_sequence);
       ahead >= 0 && static_cast<std::uint32_t>(ahead) < size;
       ahead = static_cast<std::int32_t>(flow.next_message - packet.tcp_sequence)) {
    const auto at = static_cast<std::size_t>(ahead);
    if (at + wanted <= captured) {
      flow.next_message += on_head(packet.payload.subspan(at, wanted), timestamp_ns);
    } else if (captured == size) {  // the head goes on in the next segment
      flow.head.assign(packet.payload.begin() + static_cast<std::ptrdiff_t>(at),
                       packet.payload.end());
      flow.head_time = timestamp_ns;
      return;
    } else {  // the snapshot cut the head off: that message goes unmatched
      skip_to(flow, flow.next_message + 1);
      if (flow.lost) return;
    }
  }
}

// Messages of a fixed length start on known boundaries: the first one at or past `sequence`.
// Without the lengths of the messages skipped, where the next one starts is unknown.
void WireMatcher::skip_to(Flow& flow, std::uint32_t sequence) {
  if (framing_.is_variable()) {
    flow.lost = true;
    return;
  }
  const auto length = static_cast<std::uint32_t>(framing_.length(nullptr));
  const std::uint32_t gap = sequence - flow.next_message;
  flow.next_message += (gap + length - 1) / length * length;
}

// The rest of a head begun in an earlier segment, when this segment carries it on.
void WireMatcher::complete_head(Flow& flow, const TransportPacket& packet) {
  const std::uint32_t continues_at =
      flow.next_message + static_cast<std::uint32_t>(flow.head.size());
  const auto behind = static_cast<std::int32_t>(continues_at - packet.tcp_sequence);
  if (behind > 0 && static_cast<std::uint32_t>(behind) >= packet.payload_length) return;  // old
  const std::size_t missing = framing_.head_bytes() - flow.head.size();
  if (behind == 0 && packet.payload.size() >= std::min(missing, packet.payload_length)) {
    const std::size_t taken = std::min(missing, packet.payload.size());
    flow.head.insert(flow.head.end(), packet.payload.begin(),
                     packet.payload.begin() + static_cast<std::ptrdiff_t>(taken));
    if (flow.head.size() < framing_.head_bytes()) return;  // a tiny segment: more to come
    flow.next_message += on_head(flow.head, flow.head_time);
  } else {  // the rest of the head was missed or cut off: that message goes unmatched
    skip_to(flow, flow.next_message + 1);
  }
  flow.head.clear();
}

std::uint32_t WireMatcher::on_head(std::span<const std::byte> head, std::uint64_t timestamp_ns) {
  on_sequence(head, timestamp_ns);
  return static_cast<std::uint32_t>(framing_.length(head.data()));
}

void WireMatcher::on_sequence(std::span<const std::byte> header, std::uint64_t timestamp_ns) {
  if (header.size() < kSequencedBytes) return;
  std::uint64_t sequence = 0;
  std::memcpy(&sequence, header.data() + kSequenceOffset, sizeof sequence);
  if (wire_times_.size() >= most_records_ && !wire_times_.contains(sequence)) {
    wire_times_full_ = true;
    return;
  }
  wire_times_.try_emplace(sequence, timestamp_ns);  // a retransmission keeps the first time
}

void WireMatcher::finish_phase(Figures& figures) {
  const auto clamp = [](std::int64_t value) {
    return static_cast<std::uint64_t>(std::max<std::int64_t>(value, 0));
  };
  figures.capture_over_limit += unrecorded_;
  for (const MessageRecord& message : messages_) {
    const auto wire = wire_times_.find(message.sequence);
    if (wire == wire_times_.end()) {
      // Once packets were left unread, an unmatched message may be one of them.
      (wire_times_full_ ? figures.capture_over_limit : figures.capture_unmatched) += 1;
      continue;
    }
    const auto wire_real = static_cast<std::int64_t>(wire->second);
    const auto wire_engine = wire_real - realtime_offset_;
    const auto to_wire = wire_engine - static_cast<std::int64_t>(message.sent);
    const auto from_wire = static_cast<std::int64_t>(message.dispatched_realtime) - wire_real;
    const auto whole = static_cast<std::int64_t>(message.dispatched - message.sent);
    const auto difference = whole - (to_wire + from_wire);
    figures.send_to_wire.record(clamp(to_wire));
    figures.wire_to_dispatch.record(clamp(from_wire));
    figures.clock_difference.record(
        static_cast<std::uint64_t>(difference < 0 ? -difference : difference));
    ++figures.matched_messages;
  }
  messages_.clear();
  wire_times_.clear();
  unrecorded_ = 0;
  wire_times_full_ = false;
}

}  // namespace pollscope

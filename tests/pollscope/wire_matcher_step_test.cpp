// A TCP flow's step through its messages when the capture did not see all of its bytes: a head
// split across two segments is put back together; a segment missed (a kernel drop) or cut short
// by the snapshot either leaves the flow in step (fixed-size messages) or loses it (messages that
// say their own length), and every message left unmatched is counted. And what a capture keeps
// of each packet, so that on loopback a replay's segments are never cut.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "capture/capture_session.hpp"
#include "capture/packet_view.hpp"
#include "capture/wire_matcher.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {
namespace {

constexpr std::size_t kHeaders = 14 + 20 + 20;  // Ethernet, IPv4, TCP

// A TCP segment from port 3 to port 4 carrying `payload` at `sequence`, of which the capture
// kept `kept` bytes of payload.
TransportPacket segment(const std::vector<std::byte>& payload, std::uint32_t sequence,
                        std::size_t kept, std::vector<std::byte>& bytes) {
  bytes.assign(kHeaders, std::byte{0});
  bytes[12] = std::byte{0x08};
  bytes[14] = std::byte{0x45};
  const auto ip_length = static_cast<std::uint32_t>(20 + 20 + payload.size());
  bytes[16] = std::byte(ip_length >> 8);
  bytes[17] = std::byte(ip_length & 0xff);
  bytes[23] = std::byte{6};
  bytes[35] = std::byte{3};
  bytes[37] = std::byte{4};
  for (int i = 0; i < 4; ++i) bytes[38 + i] = std::byte(sequence >> (24 - 8 * i));
  bytes[46] = std::byte{0x50};
  bytes.insert(bytes.end(), payload.begin(),
               payload.begin() + static_cast<std::ptrdiff_t>(std::min(kept, payload.size())));
  return std::get<TransportPacket>(parse_frame(bytes, 1));
}

// Messages of `sizes` as the engine sends them, numbered from 1, one after another; with
// `variable`, each says its own length.
std::vector<std::byte> stream_of(const std::vector<std::uint32_t>& sizes, bool variable) {
  std::vector<std::byte> stream;
  for (std::uint64_t sequence = 1; sequence <= sizes.size(); ++sequence) {
    std::vector<std::byte> one(sizes[sequence - 1]);
    const std::uint64_t sent = 100;
    std::memcpy(one.data(), &sent, sizeof sent);
    std::memcpy(one.data() + kSequenceOffset, &sequence, sizeof sequence);
    if (variable) Framing::write_length(one.data(), sizes[sequence - 1]);
    stream.insert(stream.end(), one.begin(), one.end());
  }
  return stream;
}

struct Part {
  std::size_t from;
  std::size_t to;
  std::size_t kept = SIZE_MAX;  // payload bytes the snapshot kept
};

// Hands the parts of `stream` to a matcher as the segments of one flow, each seen at 1,000 ns
// past its first byte's offset, and returns its matched and unmatched counts.
std::pair<std::uint64_t, std::uint64_t> match(Framing framing, const std::vector<std::byte>& stream,
                                              std::size_t messages, const std::vector<Part>& parts,
                                              std::uint64_t* latest = nullptr) {
  WireMatcher matcher;
  matcher.begin_phase(framing, 0);
  for (std::uint64_t sequence = 1; sequence <= messages; ++sequence) {
    matcher.on_message({sequence, 100, 1'000'000, 1'000'000});
  }
  std::vector<std::byte> bytes;
  for (const Part& part : parts) {
    const std::vector<std::byte> payload(stream.begin() + static_cast<std::ptrdiff_t>(part.from),
                                         stream.begin() + static_cast<std::ptrdiff_t>(part.to));
    const auto seen =
        segment(payload, 9000 + static_cast<std::uint32_t>(part.from), part.kept, bytes);
    matcher.on_packet(1'000 + part.from, seen);
  }
  Figures figures;
  matcher.finish_phase(figures);
  if (latest != nullptr) *latest = figures.send_to_wire.max() + 100;
  return {figures.matched_messages, figures.capture_unmatched};
}

using Counts = std::pair<std::uint64_t, std::uint64_t>;

// Messages of a fixed length start on known boundaries: past a missed segment the flow picks
// up at the next one, and only the messages whose heads were in it go unmatched.
TEST(WireMatcherStepTest, AMissedSegmentOfFixedMessagesLeavesOnlyItsOwnMessagesUnmatched) {
  const auto stream = stream_of(std::vector<std::uint32_t>(6, 40), false);
  // Bytes 0-70 (messages 1 and 2), 70-150 missed (the heads of 3 and 4), 150-240 (5 and 6).
  std::uint64_t latest = 0;
  EXPECT_EQ(match(Framing::fixed(40), stream, 6, {{0, 70}, {150, 240}}, &latest), Counts(4, 2));
  EXPECT_EQ(latest, 1'150u);  // the sixth message was found in the last segment
}

// Messages that say their own length: a head split across two whole segments keeps the flow in
// step; a head the snapshot cut off, or whose segment was missed, hides where the next message
// starts, so the rest of the flow goes unmatched, counted.
TEST(WireMatcherStepTest, HeadsCutAcrossSegmentsKeepTheFlowInStepOrCountTheMessagesLost) {
  const std::vector<std::uint32_t> sizes = {100, 300, 50, 200, 28, 120};
  const auto stream = stream_of(sizes, true);  // heads at 0, 100, 400, 450, 650 and 678
  const std::size_t end = stream.size();
  const Framing framing = Framing::variable();
  // Heads split at 110 (the second's), 410 and 660, in whole segments: every message found.
  EXPECT_EQ(match(framing, stream, 6, {{0, 110}, {110, 410}, {410, 660}, {660, end}}),
            Counts(6, 0));
  // One segment of all six, whole, then cut by the snapshot inside the second head's length.
  EXPECT_EQ(match(framing, stream, 6, {{0, end}}), Counts(6, 0));
  EXPECT_EQ(match(framing, stream, 6, {{0, end, 110}}), Counts(1, 5));
  // The segment that completes the second head was missed.
  EXPECT_EQ(match(framing, stream, 6, {{0, 110}, {410, 660}, {660, end}}), Counts(1, 5));
  // A whole segment missed between two heads: the next starts past the next message.
  EXPECT_EQ(match(framing, stream, 6, {{0, 400}, {450, end}}), Counts(2, 4));
}

// Whole packets only where a cut segment would lose a flow: a replay over TCP, whichever of the
// scenario's phases replays.
TEST(CaptureSnapshotTest, KeepsWholePacketsForATcpReplayAndMessageHeadsOtherwise) {
  Scenario scenario;
  scenario.sockets.kind = SocketKind::tcp;
  scenario.phases.resize(2);
  EXPECT_EQ(snapshot_for(scenario), Snapshot::message_heads);
  scenario.phases[1].load = Replay{};
  EXPECT_EQ(snapshot_for(scenario), Snapshot::whole_packets);
  scenario.sockets.kind = SocketKind::udp;
  EXPECT_EQ(snapshot_for(scenario), Snapshot::message_heads);
}

}  // namespace
}  // namespace pollscope

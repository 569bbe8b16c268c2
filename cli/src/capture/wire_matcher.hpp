#pragma once

// Matches captured packets to the messages they carried, by the sequence number each message
// holds after its stamps, and turns each matched message into its two wire latencies:
//   send -> wire:      the packet's kernel timestamp (CLOCK_REALTIME, mapped onto the engine's
//                      clock by the offset measured when the phase began) minus the send stamp;
//   wire -> dispatch:  CLOCK_REALTIME read at dispatch minus the packet's timestamp, both on the
//                      kernel's clock: the receive path, the wake-up and the loop;
// and the check of the two clocks against each other: send -> dispatch on the engine's clock
// minus the sum of the two, which is how far the engine's clock (mapped) and CLOCK_REALTIME
// drifted apart since the phase began, plus the time between the two dispatch reads.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "capture/packet_view.hpp"
#include "engine/framing.hpp"
#include "figures/figures.hpp"

namespace pollscope {

struct MessageRecord {
  std::uint64_t sequence;
  std::uint64_t sent;                 // the actual send stamp, engine clock
  std::uint64_t dispatched;           // engine clock
  std::uint64_t dispatched_realtime;  // CLOCK_REALTIME
};

class WireMatcher {
 public:
  // Bounds what a phase keeps: later messages go unmatched, and are counted as such
  // (Figures::capture_over_limit). `run` lowers it to what --memory-budget leaves.
  static constexpr std::size_t kMostRecords = std::size_t{1} << 20;
  // What a message and its packet may hold at worst: its record, 32 bytes in blocks of a deque
  // (33 with the block's share of the deque's map); the packet's sequence number, a hash node of
  // 32 bytes (24, and malloc's header) and up to three buckets of 8 bytes while the table
  // rehashes (the old ones, and twice as many new). Measured: 77 bytes a message at 2^20, 82 at
  // most (just past a rehash).
  static constexpr std::size_t kRecordBytes = 33 + 32 + 24;
  // What a TCP flow holds: its hash node of 80 bytes, up to three buckets of 8 bytes, and the
  // head it may keep across segments (28 bytes, in a vector grown to 56 at most: 64 with malloc's
  // header).
  static constexpr std::size_t kFlowBytes = 80 + 24 + 64;

  // `most_records` messages and as many packets' sequence numbers a phase (fewer in tests).
  explicit WireMatcher(std::size_t most_records = kMostRecords) : most_records_(most_records) {}

  // A phase's messages: how they are framed, and the offset from the engine's clock to
  // CLOCK_REALTIME.
  void begin_phase(Framing framing, std::int64_t realtime_offset);
  void on_packet(std::uint64_t timestamp_ns, const TransportPacket& packet);
  void on_message(const MessageRecord& record) {
    if (messages_.size() < most_records_) {
      messages_.push_back(record);
    } else {
      ++unrecorded_;
    }
  }
  // Records the phase's matched messages into `figures` and forgets them.
  void finish_phase(Figures& figures);

 private:
  // A TCP flow: where its next message starts in its sequence space, and the head of that
  // message while the next segment has still to complete it (its length is not known till then
  // when messages say their own). A flow of such messages that lost its step (a segment the
  // capture missed, or cut short inside a head) is no longer read: its later messages go
  // unmatched, and are counted as such (Figures::capture_unmatched).
  struct Flow {
    std::uint32_t next_message = 0;
    std::vector<std::byte> head;
    std::uint64_t head_time = 0;
    bool lost = false;
  };
  void on_stream(std::uint64_t timestamp_ns, const TransportPacket& packet);
  void read_heads(Flow& flow, std::uint64_t timestamp_ns, const TransportPacket& packet);
  void complete_head(Flow& flow, const TransportPacket& packet);
  // Moves past bytes the capture never saw, up to `sequence`.
  void skip_to(Flow& flow, std::uint32_t sequence);
  // Records the message whose head is `head`; returns its length.
  std::uint32_t on_head(std::span<const std::byte> head, std::uint64_t timestamp_ns);
  void on_sequence(std::span<const std::byte> header, std::uint64_t timestamp_ns);

  Framing framing_ = Framing::fixed(64);
  std::int64_t realtime_offset_ = 0;
  std::unordered_map<std::uint32_t, Flow> flows_;                // by source and destination port
  std::unordered_map<std::uint64_t, std::uint64_t> wire_times_;  // by sequence number
  std::deque<MessageRecord> messages_;  // grown a block at a time, never copied by doubling
  std::size_t most_records_;
  std::uint64_t unrecorded_ = 0;  // messages past the limit this phase
  bool wire_times_full_ = false;  // a packet's sequence number was past the limit this phase
};

}  // namespace pollscope

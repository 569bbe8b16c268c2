#pragma once

// A pcap file read as the schedule of a replay: each TCP or UDP flow's payload-carrying packets
// in the direction of its first one (the client's, in a recorded conversation), with their
// sizes and their times. The other direction's packets, those without a payload (handshakes,
// acknowledgements) and frames that are not TCP or UDP (ARP, ICMP, fragments) are not replayed.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace pollscope {

struct ReplayMessage {
  std::uint64_t offset_ns = 0;  // after the first replayed packet, as recorded (speed 1)
  std::uint32_t flow = 0;       // in the order of their first packets, from 0
  std::uint32_t bytes = 0;      // the packet's TCP or UDP payload, as on the wire
};

struct ReplayTrace {
  std::string file;                     // the path read
  std::vector<ReplayMessage> messages;  // by offset; packets of the same time in file order
  std::uint32_t flows = 0;              // TCP or UDP flows with a payload in their first direction
  std::uint64_t packets = 0;            // frames in the file
  std::uint64_t reverse_packets = 0;    // payload-carrying packets of the other direction
  std::uint64_t bytes = 0;              // the messages' payload bytes
  std::uint32_t largest = 0;            // the largest payload
  [[nodiscard]] std::uint64_t span_ns() const {
    return messages.empty() ? 0 : messages.back().offset_ns;
  }
};

// Why a file cannot be replayed: one line that names the file and, where one is at fault, the
// packet (counted from 1, as Wireshark numbers frames).
struct TraceProblem {
  std::string reason;
};

// What reading a trace holds at worst: a message's 16 bytes up to three times over (while the
// trace grows by doubling, the old and the new twice as large; while it is sorted, a buffer); a
// flow in the table it is read with about 208 bytes (a hash node of 96 bytes: its key and its
// first source, two strings, inline for IPv4; an IPv6 key and source on the heap, 48 + 32; its
// bucket; the renumbering's 4 bytes).
inline constexpr std::uint64_t kReadMessageBytes = 3 * sizeof(ReplayMessage);
inline constexpr std::uint64_t kReadFlowBytes = 208;

// Reads the pcap (or pcapng) file at `path`. Refused: a file that cannot be opened, is not a
// capture file, has a link type pollscope cannot read, ends inside a packet, holds a frame cut
// short inside its IP, TCP or UDP header, or carries no TCP or UDP payload at all; and, as soon
// as the read would hold more than `memory_budget_mib` MiB, a trace too large for the budget,
// without reading the rest of it.
[[nodiscard]] std::variant<ReplayTrace, TraceProblem> read_replay_trace(
    const std::string& path, std::optional<std::uint64_t> memory_budget_mib = std::nullopt);

}  // namespace pollscope

#pragma once

// The transport layer of a captured frame: which TCP or UDP flow it belongs to and its payload.
// Capture matches packets to messages with it, and replay reads a pcap's flows with it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>

namespace pollscope {

enum class Transport { tcp, udp };

struct TransportPacket {
  Transport transport = Transport::tcp;
  std::span<const std::byte> source_address;  // 4 bytes (IPv4) or 16 (IPv6)
  std::span<const std::byte> destination_address;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint32_t tcp_sequence = 0;      // TCP: the sequence number of the payload's first byte
  std::span<const std::byte> payload;  // the bytes captured of it (a snapshot may cut it)
  std::size_t payload_length = 0;      // its length on the wire, from the IP header
};

// Why a frame has no TCP or UDP payload to offer. Frames that are neither (ARP, ICMP, a
// fragment) are skipped by both users; `truncated` ones are cut short by the snapshot or the
// file, `invalid` ones say impossible things (an IPv4 header of 16 bytes): a replay refuses both.
struct NotTransport {
  bool truncated = false;
  std::string reason;
  bool invalid = false;
};

// The link-layer types pollscope reads: Ethernet (Linux's loopback too), raw IP, Linux cooked,
// v1 and v2 (the "any" interface) and BSD loopback (NULL and LOOP).
[[nodiscard]] bool supported_link_type(int link_type);

// Parses an IPv4 or IPv6 frame of `link_type` down to its TCP or UDP payload, through VLAN tags
// (802.1Q, 802.1ad, stacked) and IPv6 extension headers (hop-by-hop, routing, destination
// options, authentication).
[[nodiscard]] std::variant<TransportPacket, NotTransport> parse_frame(
    std::span<const std::byte> frame, int link_type);

}  // namespace pollscope

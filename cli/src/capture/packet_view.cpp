#include "capture/packet_view.hpp"

#include <pcap/dlt.h>

#include <algorithm>
#include <utility>

namespace pollscope {

namespace {

constexpr std::uint8_t kTcp = 6;
constexpr std::uint8_t kUdp = 17;

std::uint32_t big_endian(std::span<const std::byte> bytes, std::size_t at, std::size_t size) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < size; ++i) {
    value = (value << 8) | std::to_integer<std::uint32_t>(bytes[at + i]);
  }
  return value;
}

NotTransport truncated(const char* what) {
  return {true, std::string(what) + " cut short"};
}

NotTransport invalid(std::string what) {
  return {false, std::move(what), true};
}

// The EtherType after the addresses and any VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8, the older
// QinQ 0x9100, stacked in any number), and the offset of what it announces.
std::variant<std::pair<std::size_t, std::uint32_t>, NotTransport> ethernet_start(
    std::span<const std::byte> frame) {
  for (std::size_t at = 12;; at += 4) {
    if (frame.size() < at + 2) return truncated("the Ethernet header");
    const auto type = big_endian(frame, at, 2);
    if (type != 0x8100 && type != 0x88a8 && type != 0x9100) return std::pair{at + 2, type};
  }
}

// The offset of the network header and its EtherType (0x0800 IPv4, 0x86dd IPv6).
std::variant<std::pair<std::size_t, std::uint32_t>, NotTransport> network_start(
    std::span<const std::byte> frame, int link_type) {
  switch (link_type) {
    case DLT_EN10MB:
      return ethernet_start(frame);
    case DLT_LINUX_SLL:
      if (frame.size() < 16) return truncated("the Linux cooked header");
      return std::pair{std::size_t{16}, big_endian(frame, 14, 2)};
    case DLT_LINUX_SLL2:  // tcpdump -i any since libpcap 1.10: the protocol first
      if (frame.size() < 20) return truncated("the Linux cooked v2 header");
      return std::pair{std::size_t{20}, big_endian(frame, 0, 2)};
    case DLT_NULL:    // the address family, in the capturing host's byte order
    case DLT_LOOP: {  // the same, in network byte order
      if (frame.size() < 4) return truncated("the loopback header");
      const auto family =
          std::to_integer<std::uint32_t>(frame[0]) | std::to_integer<std::uint32_t>(frame[3]);
      // AF_INET6 is 10 on Linux, 24, 28 or 30 on the BSDs; other families carry no IP (0: none).
      const bool ipv6 = family == 10 || family == 24 || family == 28 || family == 30;
      return std::pair{std::size_t{4}, family == 2 ? 0x0800U : ipv6 ? 0x86ddU : 0U};
    }
    default: {  // raw IP: the version nibble says which
      if (frame.empty()) return truncated("the IP header");
      const auto version = std::to_integer<std::uint32_t>(frame[0]) >> 4;
      return std::pair{std::size_t{0}, version == 6 ? 0x86ddU : 0x0800U};
    }
  }
}

struct TransportStart {
  std::size_t at;  // the transport header's offset
  std::uint8_t protocol;
  std::size_t end;  // where the IP packet ends (a frame may carry padding after it)
  std::span<const std::byte> source;
  std::span<const std::byte> destination;
};

std::variant<TransportStart, NotTransport> ipv4_start(std::span<const std::byte> frame,
                                                      std::size_t at) {
  if (frame.size() < at + 20) return truncated("the IPv4 header");
  const std::size_t header = (std::to_integer<std::size_t>(frame[at]) & 0x0f) * 4;
  if (header < 20) {
    return invalid("the IPv4 header length is " + std::to_string(header) + " bytes (at least 20)");
  }
  if (frame.size() < at + header) return truncated("the IPv4 header");
  if ((big_endian(frame, at + 6, 2) & 0x3fff) != 0) return NotTransport{false, "an IP fragment"};
  const std::size_t total = big_endian(frame, at + 2, 2);
  if (total < header) return invalid("the IPv4 length is shorter than its header");
  return TransportStart{at + header, std::to_integer<std::uint8_t>(frame[at + 9]), at + total,
                        frame.subspan(at + 12, 4), frame.subspan(at + 16, 4)};
}

// Hop-by-hop options (0), routing (43), destination options (60) and authentication (51)
// headers may come between the IPv6 header and TCP or UDP: each names the next and says its
// own length (in 8-byte units past the first 8, or AH's 4-byte units past the first 8).
std::variant<TransportStart, NotTransport> ipv6_start(std::span<const std::byte> frame,
                                                      std::size_t at) {
  if (frame.size() < at + 40) return truncated("the IPv6 header");
  auto next = std::to_integer<std::uint8_t>(frame[at + 6]);
  std::size_t header_at = at + 40;
  while (next == 0 || next == 43 || next == 60 || next == 51) {
    if (frame.size() < header_at + 2) return truncated("an IPv6 extension header");
    const auto units = std::to_integer<std::size_t>(frame[header_at + 1]);
    const std::size_t length = next == 51 ? (units + 2) * 4 : (units + 1) * 8;
    next = std::to_integer<std::uint8_t>(frame[header_at]);
    header_at += length;
  }
  if (next == 44) return NotTransport{false, "an IP fragment"};
  return TransportStart{header_at, next, at + 40 + big_endian(frame, at + 4, 2),
                        frame.subspan(at + 8, 16), frame.subspan(at + 24, 16)};
}

std::variant<TransportStart, NotTransport> transport_start(std::span<const std::byte> frame,
                                                           std::size_t at,
                                                           std::uint32_t ether_type) {
  if (ether_type == 0x0800) return ipv4_start(frame, at);
  if (ether_type == 0x86dd) return ipv6_start(frame, at);
  return NotTransport{false, "not IPv4 or IPv6"};
}

}  // namespace

bool supported_link_type(int link_type) {
  return link_type == DLT_EN10MB || link_type == DLT_LINUX_SLL || link_type == DLT_LINUX_SLL2 ||
         link_type == DLT_NULL || link_type == DLT_LOOP || link_type == DLT_RAW ||
         link_type == DLT_IPV4 || link_type == DLT_IPV6;
}

std::variant<TransportPacket, NotTransport> parse_frame(std::span<const std::byte> frame,
                                                        int link_type) {
  const auto network = network_start(frame, link_type);
  if (const auto* fail = std::get_if<NotTransport>(&network)) return *fail;
  const auto [ip_at, ether_type] = std::get<0>(network);
  const auto transport = transport_start(frame, ip_at, ether_type);
  if (const auto* fail = std::get_if<NotTransport>(&transport)) return *fail;
  const auto [at, protocol, end, source, destination] = std::get<TransportStart>(transport);
  std::size_t header = 0;
  TransportPacket packet;
  if (protocol == kUdp) {
    if (frame.size() < at + 8) return truncated("the UDP header");
    packet.transport = Transport::udp;
    header = 8;
  } else if (protocol == kTcp) {
    if (frame.size() < at + 20) return truncated("the TCP header");
    header = (std::to_integer<std::size_t>(frame[at + 12]) >> 4) * 4;
    if (header < 20) {
      return invalid("the TCP header length is " + std::to_string(header) + " bytes (at least 20)");
    }
    if (frame.size() < at + header) return truncated("the TCP header");
    packet.transport = Transport::tcp;
    packet.tcp_sequence = big_endian(frame, at + 4, 4);
  } else {
    return NotTransport{false, "neither TCP nor UDP"};
  }
  if (end < at + header) return invalid("the IP length is shorter than its headers");
  packet.payload_length = end - at - header;
  packet.payload = frame.subspan(at + header, std::min(frame.size(), end) - at - header);
  packet.source_address = source;
  packet.destination_address = destination;
  packet.source_port = static_cast<std::uint16_t>(big_endian(frame, at, 2));
  packet.destination_port = static_cast<std::uint16_t>(big_endian(frame, at + 2, 2));
  return packet;
}

}  // namespace pollscope

// Reading frames down to their TCP or UDP payload through what may come before it: VLAN tags
// (one, or stacked) and IPv6 extension headers; and telling an impossible header from one cut
// short.

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "capture/packet_view.hpp"

namespace pollscope {
namespace {

using Bytes = std::vector<std::byte>;

Bytes bytes_of(std::initializer_list<int> values) {
  Bytes bytes;
  for (int value : values) bytes.push_back(static_cast<std::byte>(value));
  return bytes;
}

void append(Bytes& to, const Bytes& more) {
  to.insert(to.end(), more.begin(), more.end());
}

// A UDP datagram from port 1000 to 2000 with `payload` bytes.
Bytes udp(std::size_t payload) {
  const auto length = static_cast<int>(8 + payload);
  Bytes datagram = bytes_of({0x03, 0xe8, 0x07, 0xd0, length >> 8, length & 0xff, 0, 0});
  datagram.resize(8 + payload, std::byte{0x55});
  return datagram;
}

// A TCP segment from port 3000 to 80 with `payload` bytes.
Bytes tcp(std::size_t payload) {
  Bytes segment(20 + payload, std::byte{0x66});
  const Bytes head = bytes_of({0x0b, 0xb8, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18});
  std::copy(head.begin(), head.end(), segment.begin());
  return segment;
}

Bytes ipv4(int protocol, const Bytes& transport) {
  const auto total = static_cast<int>(20 + transport.size());
  Bytes packet = bytes_of({0x45, 0, total >> 8, total & 0xff, 0, 0, 0, 0, 64, protocol, 0, 0, 10,
                           0,    0, 1,          10,           0, 0, 2});
  append(packet, transport);
  return packet;
}

// Ethernet with the given tags (each a TPID and a VLAN id) before the EtherType.
Bytes ethernet(std::initializer_list<int> tpids, int ether_type, const Bytes& network) {
  Bytes frame(12, std::byte{0x11});
  for (int tpid : tpids) append(frame, bytes_of({tpid >> 8, tpid & 0xff, 0, 5}));
  append(frame, bytes_of({ether_type >> 8, ether_type & 0xff}));
  append(frame, network);
  return frame;
}

// IPv6 whose payload is `headers` (extension headers, then the transport), the first named
// `next`.
Bytes ipv6(int next, const Bytes& payload) {
  const auto length = static_cast<int>(payload.size());
  Bytes packet = bytes_of({0x60, 0, 0, 0, length >> 8, length & 0xff, next, 64});
  packet.resize(40, std::byte{0x01});  // the two addresses
  append(packet, payload);
  return packet;
}

// An extension header naming `next`, `units` 8-byte units past its first 8.
Bytes extension(int next, int units) {
  Bytes header = bytes_of({next, units});
  header.resize(8 + 8 * static_cast<std::size_t>(units), std::byte{0});
  return header;
}

TEST(PacketViewTest, VlanTagsOneOrStackedArePassedOver) {
  for (const auto& tags :
       {std::initializer_list<int>{0x8100}, std::initializer_list<int>{0x88a8, 0x8100},
        std::initializer_list<int>{0x9100, 0x8100}}) {
    const Bytes frame = ethernet(tags, 0x0800, ipv4(17, udp(300)));
    const auto parsed = parse_frame(frame, 1);
    ASSERT_TRUE(std::holds_alternative<TransportPacket>(parsed))
        << std::get<NotTransport>(parsed).reason;
    const auto& packet = std::get<TransportPacket>(parsed);
    EXPECT_EQ(packet.source_port, 1000);
    EXPECT_EQ(packet.destination_port, 2000);
    EXPECT_EQ(packet.payload_length, 300u);
  }
  const Bytes cut = ethernet({0x8100}, 0x0800, {});
  const auto parsed = parse_frame(std::span(cut).first(15), 1);  // inside the tag
  ASSERT_TRUE(std::holds_alternative<NotTransport>(parsed));
  EXPECT_TRUE(std::get<NotTransport>(parsed).truncated);
}

TEST(PacketViewTest, Ipv6ExtensionHeadersBeforeTcpOrUdpArePassedOver) {
  Bytes headers = extension(43, 0);   // hop-by-hop, then routing
  append(headers, extension(60, 1));  // routing, then destination options
  append(headers, extension(6, 0));   // destination options, then TCP
  append(headers, tcp(120));
  const Bytes frame = ethernet({}, 0x86dd, ipv6(0, headers));
  const auto parsed = parse_frame(frame, 1);
  ASSERT_TRUE(std::holds_alternative<TransportPacket>(parsed))
      << std::get<NotTransport>(parsed).reason;
  const auto& packet = std::get<TransportPacket>(parsed);
  EXPECT_EQ(packet.transport, Transport::tcp);
  EXPECT_EQ(packet.source_port, 3000);
  EXPECT_EQ(packet.destination_port, 80);
  EXPECT_EQ(packet.payload_length, 120u);
  EXPECT_EQ(packet.payload.size(), 120u);

  Bytes fragment = extension(44, 0);  // destination options, then a fragment header
  append(fragment, extension(17, 0));
  const auto skipped = parse_frame(ethernet({0x8100}, 0x86dd, ipv6(60, fragment)), 1);
  ASSERT_TRUE(std::holds_alternative<NotTransport>(skipped));
  EXPECT_FALSE(std::get<NotTransport>(skipped).truncated);
  EXPECT_FALSE(std::get<NotTransport>(skipped).invalid);
}

TEST(PacketViewTest, AnImpossibleHeaderLengthIsInvalidNotCutShort) {
  Bytes frame = ethernet({}, 0x0800, ipv4(17, udp(100)));
  frame[14] = std::byte{0x44};
  const auto parsed = parse_frame(frame, 1);
  ASSERT_TRUE(std::holds_alternative<NotTransport>(parsed));
  const auto& fault = std::get<NotTransport>(parsed);
  EXPECT_TRUE(fault.invalid);
  EXPECT_FALSE(fault.truncated);
  EXPECT_EQ(fault.reason, "the IPv4 header length is 16 bytes (at least 20)");
}

// tcpdump -i any writes Linux cooked v2 frames (libpcap 1.10): the protocol comes first.
TEST(PacketViewTest, LinuxCookedV2FramesAreRead) {
  Bytes frame = bytes_of({0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 6});
  frame.resize(20, std::byte{0});
  append(frame, ipv4(17, udp(100)));
  const auto parsed = parse_frame(frame, 276);  // DLT_LINUX_SLL2
  ASSERT_TRUE(std::holds_alternative<TransportPacket>(parsed));
  EXPECT_EQ(std::get<TransportPacket>(parsed).payload_length, 100u);
  EXPECT_TRUE(supported_link_type(276));
  frame.resize(19);
  EXPECT_TRUE(std::get<NotTransport>(parse_frame(frame, 276)).truncated);
}

// A BSD loopback frame says its address family: IPv4, IPv6 by any BSD's number, or neither, which
// is skipped (it was read as IPv6, and a short one refused the whole file as cut short).
TEST(PacketViewTest, LoopbackFramesOfAnotherFamilyAreSkippedNotRefused) {
  for (const int family : {10, 24, 28, 30}) {
    Bytes frame = bytes_of({family, 0, 0, 0});
    append(frame, ipv6(17, udp(30)));
    ASSERT_TRUE(std::holds_alternative<TransportPacket>(parse_frame(frame, 0))) << family;
  }
  Bytes other = bytes_of({7, 0, 0, 0, 1, 2, 3, 4});
  const auto parsed = parse_frame(other, 0);  // DLT_NULL
  ASSERT_TRUE(std::holds_alternative<NotTransport>(parsed));
  EXPECT_FALSE(std::get<NotTransport>(parsed).truncated);
  EXPECT_FALSE(std::get<NotTransport>(parsed).invalid);
}

}  // namespace
}  // namespace pollscope

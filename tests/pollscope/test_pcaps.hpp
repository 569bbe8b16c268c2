#pragma once

// The pcap files the replay's tests share: a small file of three flows whose replayed messages
// are known, and one file for each way a pcap can be refused.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace pollscope::test_support {

// Three conversations: a TCP one whose client sends 100 then 10 bytes (the server 500 between),
// a UDP one (40 out, 80 back), and a TCP one whose server speaks first (50) before its client
// (300); one ARP frame; 14 frames in all. Replayed: 100, 40, 10, 300, in that order, `gap_us`
// apart.
inline constexpr std::array<std::uint32_t, 4> kReplayed = {100, 40, 10, 300};
void write_three_flows(const std::string& path, std::uint64_t gap_us = 2'000);

// One TCP flow whose client sends `messages` payloads of `bytes` each, all stamped at the same
// microsecond: a replay sends them as one burst, which TCP coalesces into segments of many.
void write_burst(const std::string& path, std::uint32_t messages, std::uint32_t bytes);

// A pcap file of UDP datagrams of 100 bytes each, written byte by byte (not through libpcap),
// whose packets carry the given seconds and fraction fields as stored, in microseconds or, with
// `nanoseconds`, in nanoseconds.
struct RawStamp {
  std::uint32_t seconds;
  std::uint32_t fraction;
};
void write_raw_stamps(const std::string& path, const std::vector<RawStamp>& stamps,
                      bool nanoseconds = false);

// A pcapng file written block by block: a section header, then interfaces (each with its link
// type, snapshot length and, unless 6 (microseconds), its if_tsresol) and enhanced packet
// blocks, each naming its interface and a stamp in that interface's units.
class PcapngWriter {
 public:
  PcapngWriter();
  void interface(std::uint16_t link_type, std::uint32_t snaplen = 65535, std::uint8_t tsresol = 6);
  void packet(std::uint32_t interface, std::uint64_t stamp, const std::string& frame);
  void write(const std::string& path) const;

 private:
  void block(std::uint32_t type, std::string body);
  std::string out_;
};

// A frame of an IPv4 UDP datagram carrying `payload` bytes from 10.0.0.1:`source_port` to
// 10.0.0.2:53: with its Ethernet header, or (`ethernet` false) as raw IP.
[[nodiscard]] std::string udp_frame(std::uint32_t payload, std::uint16_t source_port = 40000,
                                    bool ethernet = true);

struct BadPcap {
  const char* name;
  void (*write)(const std::string& path);
  const char* reason;  // a part of the one line that refuses it
};
[[nodiscard]] const std::vector<BadPcap>& bad_pcaps();

}  // namespace pollscope::test_support

#include "test_pcaps.hpp"

#include <pcap/pcap.h>

#include <filesystem>
#include <fstream>

#include "pcap_writer.hpp"

namespace pollscope::test_support {

namespace fs = std::filesystem;

void write_three_flows(const std::string& path, std::uint64_t gap_us) {
  PcapWriter out(path);
  const std::uint64_t t = 1'700'000'000ULL * 1'000'000;
  Conversation web;
  out.arp(t);
  out.handshake(web, t + 10);
  out.send(web, true, t + 1'000, 100);
  out.send(web, false, t + 1'500, 500);
  Conversation dns{.tcp = false, .client_port = 53000, .server_port = 53};
  out.send(dns, true, t + 1'000 + gap_us, 40);
  out.send(dns, false, t + 1'200 + gap_us, 80);
  out.send(web, true, t + 1'000 + 2 * gap_us, 10);
  Conversation banner{.client_port = 41000, .server_port = 25};
  out.handshake(banner, t + 1'100 + 2 * gap_us);
  out.send(banner, false, t + 1'500 + 2 * gap_us, 50);
  out.send(banner, true, t + 1'000 + 3 * gap_us, 300);
}

namespace {

void write_cut_short(const std::string& path) {
  write_three_flows(path);
  fs::resize_file(path, fs::file_size(path) - 10);  // inside the last packet's bytes
}
void write_short_header(const std::string& path) {
  std::ofstream(path, std::ios::binary) << "\xd4\xc3\xb2\xa1\x02";
}
void write_wrong_magic(const std::string& path) {
  std::ofstream(path, std::ios::binary) << std::string(64, 'x');
}
void write_wireless(const std::string& path) {
  PcapWriter out(path, DLT_IEEE802_11);
  out.frame(std::vector<std::byte>(40), 1'000);
}
void write_no_payload(const std::string& path) {
  PcapWriter out(path);
  Conversation idle;
  out.arp(1'000);
  out.handshake(idle, 2'000);
}
// An IPv4 frame of which the file kept 30 bytes: inside its IP header.
void write_cut_header(const std::string& path) {
  PcapWriter out(path);
  out.arp(1'000);
  std::vector<std::byte> frame(154);
  frame[12] = std::byte{0x08};
  frame[14] = std::byte{0x45};
  out.frame(frame, 2'000, 30);
}

}  // namespace

const std::vector<BadPcap>& bad_pcaps() {
  static const std::vector<BadPcap> cases = {
      {"cut_short", write_cut_short, "packet 14: truncated: the file ends inside it"},
      {"short_header", write_short_header, "the file header: cut short"},
      {"wrong_magic", write_wrong_magic, "not a pcap or pcapng file (wrong magic number 78787878)"},
      {"wireless", write_wireless, "link type IEEE802_11 (105) is not one pollscope reads"},
      {"no_payload", write_no_payload, "no TCP or UDP payload in any of its 4 packets"},
      {"cut_header", write_cut_header, "packet 2: truncated: the IPv4 header cut short"},
  };
  return cases;
}

}  // namespace pollscope::test_support

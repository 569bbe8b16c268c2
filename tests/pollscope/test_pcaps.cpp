#include "test_pcaps.hpp"

#include <pcap/pcap.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
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

void write_burst(const std::string& path, std::uint32_t messages, std::uint32_t bytes) {
  PcapWriter out(path);
  const std::uint64_t t = 1'700'000'000ULL * 1'000'000;
  Conversation flow;
  out.handshake(flow, t);
  for (std::uint32_t i = 0; i < messages; ++i) out.send(flow, true, t + 10, bytes);
}

void write_raw_stamps(const std::string& path, const std::vector<RawStamp>& stamps,
                      bool nanoseconds) {
  std::string out;
  const auto put = [&out](std::uint32_t value, std::size_t size = 4) {
    out.append(reinterpret_cast<const char*>(&value), size);  // the writer's byte order
  };
  put(nanoseconds ? 0xa1b23c4dU : 0xa1b2c3d4U);
  put(2, 2);  // version 2.4
  put(4, 2);
  for (std::uint32_t field : {0U, 0U, 65535U, 1U}) put(field);  // zone, accuracy, snaplen, EN10MB
  std::string frame(14 + 20 + 8 + 100, '\0');  // Ethernet, IPv4, UDP, 100 bytes of payload
  frame[12] = '\x08';
  frame[14] = '\x45';
  frame[17] = static_cast<char>(20 + 8 + 100);
  frame[23] = 17;
  frame[39] = 8 + 100;
  for (const RawStamp& stamp : stamps) {
    for (std::uint32_t field :
         {stamp.seconds, stamp.fraction, static_cast<std::uint32_t>(frame.size()),
          static_cast<std::uint32_t>(frame.size())}) {
      put(field);
    }
    out += frame;
  }
  std::ofstream(path, std::ios::binary) << out;
}

PcapngWriter::PcapngWriter() {
  std::string body;
  for (std::uint32_t field : {0x1a2b3c4dU, 1U, 0xffffffffU, 0xffffffffU}) {
    body.append(reinterpret_cast<const char*>(&field), 4);  // version 1.0, length unknown
  }
  block(0x0a0d0d0a, body);
}

void PcapngWriter::interface(std::uint16_t link_type, std::uint32_t snaplen, std::uint8_t tsresol) {
  std::string body(8, '\0');
  std::memcpy(body.data(), &link_type, 2);
  std::memcpy(body.data() + 4, &snaplen, 4);
  if (tsresol != 6) {
    const std::uint16_t option[2] = {9, 1};  // if_tsresol, one byte, padded; then opt_endofopt
    body.append(reinterpret_cast<const char*>(option), 4);
    body += static_cast<char>(tsresol);
    body.append(7, '\0');
  }
  block(1, body);
}

void PcapngWriter::packet(std::uint32_t interface, std::uint64_t stamp, const std::string& frame) {
  const auto length = static_cast<std::uint32_t>(frame.size());
  std::string body;
  for (std::uint32_t field : {interface, static_cast<std::uint32_t>(stamp >> 32),
                              static_cast<std::uint32_t>(stamp), length, length}) {
    body.append(reinterpret_cast<const char*>(&field), 4);
  }
  block(6, body + frame);
}

void PcapngWriter::write(const std::string& path) const {
  std::ofstream(path, std::ios::binary) << out_;
}

void PcapngWriter::block(std::uint32_t type, std::string body) {
  body.append((4 - body.size() % 4) % 4, '\0');
  const auto length = static_cast<std::uint32_t>(12 + body.size());
  out_.append(reinterpret_cast<const char*>(&type), 4);
  out_.append(reinterpret_cast<const char*>(&length), 4);
  out_ += body;
  out_.append(reinterpret_cast<const char*>(&length), 4);
}

std::string udp_frame(std::uint32_t payload, std::uint16_t source_port, bool ethernet) {
  std::string ip(20 + 8 + payload, 'p');
  std::fill_n(ip.begin(), 28, '\0');
  ip[0] = '\x45';
  ip[2] = static_cast<char>((28 + payload) >> 8);
  ip[3] = static_cast<char>(28 + payload);
  ip[9] = 17;
  ip[12] = ip[16] = 10;
  ip[15] = 1;
  ip[19] = 2;
  ip[20] = static_cast<char>(source_port >> 8);
  ip[21] = static_cast<char>(source_port);
  ip[23] = 53;
  ip[24] = static_cast<char>((8 + payload) >> 8);
  ip[25] = static_cast<char>(8 + payload);
  if (!ethernet) return ip;
  std::string frame(14, '\2');
  frame[12] = '\x08';
  frame[13] = '\0';
  return frame + ip;
}

namespace {

constexpr std::uint64_t kEpochUs = 1'700'000'000ULL * 1'000'000;

// Interfaces of two link types (Ethernet, raw IP): libpcap reads a file as of one.
void write_mixed_link_types(const std::string& path) {
  PcapngWriter out;
  out.interface(DLT_EN10MB);
  out.packet(0, kEpochUs, udp_frame(40));
  out.interface(DLT_RAW);
  out.packet(1, kEpochUs + 10, udp_frame(30, 41000, false));
  out.write(path);
}
void write_two_snaplens(const std::string& path) {
  PcapngWriter out;
  out.interface(DLT_EN10MB);
  out.interface(DLT_EN10MB, 100);
  out.packet(0, kEpochUs, udp_frame(40));
  out.write(path);
}
// A packet of 82 bytes on an interface that keeps 40.
void write_over_snaplen(const std::string& path) {
  PcapngWriter out;
  out.interface(DLT_EN10MB, 40);
  out.packet(0, kEpochUs, udp_frame(40));
  out.write(path);
}

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

// An IPv4 header whose length field says 4 (16 bytes): impossible, not cut short.
void write_header_length_four(const std::string& path) {
  PcapWriter out(path);
  out.arp(1'000);
  std::vector<std::byte> frame(154);
  frame[12] = std::byte{0x08};
  frame[14] = std::byte{0x44};
  out.frame(frame, 2'000);
}
// The first 8 bytes of a pcapng file: its section header's type and length, and no more.
void write_pcapng_eight_bytes(const std::string& path) {
  std::ofstream(path, std::ios::binary) << std::string("\x0a\x0d\x0d\x0a\x1c\0\0\0", 8);
}
// A pcapng file whose one packet (a UDP datagram) is stamped 2e16 microseconds after 1970, the
// year 2603: past what 64 bits of nanoseconds hold (2554).
void write_far_future(const std::string& path) {
  std::string out;
  const auto put = [&out](std::uint32_t value, std::size_t size = 4) {
    out.append(reinterpret_cast<const char*>(&value), size);  // the writer's byte order
  };
  for (std::uint32_t field : {0x0a0d0d0aU, 28U, 0x1a2b3c4dU, 1U, 0xffffffffU, 0xffffffffU, 28U}) {
    put(field);  // a section header (version 1.0 in one field), of unknown length
  }
  for (std::uint32_t field : {1U, 20U, 1U, 0U, 20U}) put(field);  // an Ethernet interface
  std::string frame(64, '\0');  // Ethernet, IPv4 (48 bytes), UDP (28), 20 bytes of payload
  frame[12] = '\x08';
  frame[14] = '\x45';
  frame[17] = 48;
  frame[23] = 17;
  frame[39] = 28;
  constexpr std::uint64_t kMicroseconds = 20'000'000'000'000'000;
  for (std::uint32_t field : {6U, 32U + 64U, 0U, static_cast<std::uint32_t>(kMicroseconds >> 32),
                              static_cast<std::uint32_t>(kMicroseconds), 62U, 62U}) {
    put(field);
  }
  out += frame;
  put(32U + 64U);
  std::ofstream(path, std::ios::binary) << out;
}
// A fraction field past its unit's second: 0xffffffff microseconds, 10^9 nanoseconds.
void write_bad_microseconds(const std::string& path) {
  write_raw_stamps(path, {{1000, 0}, {1000, 0xffffffff}});
}
void write_bad_nanoseconds(const std::string& path) {
  write_raw_stamps(path, {{1000, 999'999'999}, {1000, 1'000'000'000}}, true);
}
// What is not a regular file: libpcap would read a directory as a file cut short, and wait on a
// FIFO without a writer for ever.
void write_directory(const std::string& path) {
  fs::remove_all(path);
  fs::create_directory(path);
}
void write_fifo(const std::string& path) {
  fs::remove_all(path);
  ::mkfifo(path.c_str(), 0600);
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
      {"header_length_four", write_header_length_four,
       "packet 2: invalid: the IPv4 header length is 16 bytes (at least 20)"},
      {"pcapng_eight_bytes", write_pcapng_eight_bytes, "the file header: cut short (8 bytes)"},
      {"far_future", write_far_future, "packet 1: its timestamp (20000000000 s since 1970)"},
      {"bad_microseconds", write_bad_microseconds,
       "packet 2: invalid: its timestamp's fraction field is 4294967295 (microseconds: at most "
       "999999)"},
      {"bad_nanoseconds", write_bad_nanoseconds,
       "packet 2: invalid: its timestamp's fraction field is 1000000000 (nanoseconds: at most "
       "999999999)"},
      {"mixed_link_types", write_mixed_link_types,
       "an interface block before packet 2: an interface has a type 12 different from the "
       "type of the first interface (pollscope reads a pcapng file whose interfaces share one "
       "link type and snapshot length"},
      {"two_snaplens", write_two_snaplens,
       "an interface block before packet 1: an interface has a snapshot length 100"},
      {"over_snaplen", write_over_snaplen,
       "packet 1: invalid: it holds more bytes than its interface's snapshot length (invalid "
       "packet capture length 82, bigger than snaplen of 40)"},
      // Last: each replaces what the path held.
      {"directory", write_directory, "not a regular file (a directory)"},
      {"fifo", write_fifo, "not a regular file (a FIFO)"},
  };
  return cases;
}

}  // namespace pollscope::test_support

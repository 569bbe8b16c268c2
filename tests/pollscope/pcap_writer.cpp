#include "pcap_writer.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace pollscope::test_support {

namespace {

constexpr std::uint8_t kFin = 0x01;
constexpr std::uint8_t kSyn = 0x02;
constexpr std::uint8_t kPush = 0x08;
constexpr std::uint8_t kAck = 0x10;

void put(std::vector<std::byte>& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::byte>(value >> (8 * i)));
}

// The Internet checksum of `bytes` from `at` on, added to `sum`.
std::uint32_t add_sum(std::uint32_t sum, const std::vector<std::byte>& bytes, std::size_t at) {
  for (std::size_t i = at; i < bytes.size(); i += 2) {
    std::uint32_t word = std::to_integer<std::uint32_t>(bytes[i]) << 8;
    if (i + 1 < bytes.size()) word |= std::to_integer<std::uint32_t>(bytes[i + 1]);
    sum += word;
  }
  return sum;
}

std::uint16_t fold(std::uint32_t sum) {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

void set16(std::vector<std::byte>& bytes, std::size_t at, std::uint16_t value) {
  bytes[at] = static_cast<std::byte>(value >> 8);
  bytes[at + 1] = static_cast<std::byte>(value & 0xff);
}

// An Ethernet frame holding an IPv4 packet of `protocol` around `transport` (its header, with a
// zero checksum, then its payload), checksums filled in.
std::vector<std::byte> ipv4_frame(std::uint32_t source, std::uint32_t destination,
                                  std::uint8_t protocol, std::vector<std::byte> transport,
                                  std::size_t checksum_at, std::uint16_t id) {
  std::vector<std::byte> frame;
  put(frame, 0x020000000002, 6);  // locally administered MACs
  put(frame, 0x0200, 2);
  put(frame, 0x00000001, 4);
  put(frame, 0x0800, 2);
  const std::size_t ip = frame.size();
  put(frame, 0x4500, 2);
  put(frame, static_cast<std::uint32_t>(20 + transport.size()), 2);
  put(frame, id, 2);
  put(frame, 0x4000, 2);  // don't fragment
  put(frame, (64U << 8) | protocol, 2);
  put(frame, 0, 2);
  put(frame, source, 4);
  put(frame, destination, 4);
  std::vector<std::byte> header(frame.begin() + static_cast<std::ptrdiff_t>(ip), frame.end());
  set16(frame, ip + 10, fold(add_sum(0, header, 0)));
  // The transport checksum covers a pseudo-header of the addresses, protocol and length.
  std::uint32_t sum = (source >> 16) + (source & 0xffff) + (destination >> 16) +
                      (destination & 0xffff) + protocol +
                      static_cast<std::uint32_t>(transport.size());
  set16(transport, checksum_at, fold(add_sum(sum, transport, 0)));
  frame.insert(frame.end(), transport.begin(), transport.end());
  return frame;
}

// Printable filler, so that a capture viewer shows something readable.
void fill(std::vector<std::byte>& out, std::uint32_t bytes, std::uint32_t seed) {
  for (std::uint32_t i = 0; i < bytes; ++i) {
    out.push_back(static_cast<std::byte>('a' + (i + seed) % 26));
  }
}

}  // namespace

PcapWriter::PcapWriter(const std::string& path, int link_type)
    : dead_(pcap_open_dead(link_type, 65535)) {
  if (dead_ == nullptr) throw std::runtime_error("pcap_open_dead failed");
  dumper_ = pcap_dump_open(dead_, path.c_str());
  if (dumper_ == nullptr) {
    const std::string why = pcap_geterr(dead_);
    pcap_close(dead_);
    throw std::runtime_error("pcap_dump_open " + path + ": " + why);
  }
}

PcapWriter::~PcapWriter() {
  finish();
}

void PcapWriter::frame(std::span<const std::byte> bytes, std::uint64_t time_us, std::size_t kept) {
  pending_.push_back({time_us, std::vector<std::byte>(bytes.begin(), bytes.end()), kept});
}

void PcapWriter::finish() {
  if (dumper_ == nullptr) return;
  std::stable_sort(pending_.begin(), pending_.end(),
                   [](const Pending& a, const Pending& b) { return a.time_us < b.time_us; });
  for (const Pending& frame : pending_) {
    pcap_pkthdr header{};
    header.ts.tv_sec = static_cast<time_t>(frame.time_us / 1'000'000);
    header.ts.tv_usec = static_cast<suseconds_t>(frame.time_us % 1'000'000);
    header.caplen = static_cast<bpf_u_int32>(std::min(frame.kept, frame.bytes.size()));
    header.len = static_cast<bpf_u_int32>(frame.bytes.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &header,
              reinterpret_cast<const u_char*>(frame.bytes.data()));
  }
  pcap_dump_close(dumper_);
  pcap_close(dead_);
  dumper_ = nullptr;
  pending_.clear();
}

void PcapWriter::segment(Conversation& c, bool from_client, std::uint64_t time_us,
                         std::uint8_t flags, std::uint32_t payload) {
  std::uint32_t& sequence = from_client ? c.client_sequence : c.server_sequence;
  const std::uint32_t acknowledged = from_client ? c.server_sequence : c.client_sequence;
  std::vector<std::byte> tcp;
  put(tcp, from_client ? c.client_port : c.server_port, 2);
  put(tcp, from_client ? c.server_port : c.client_port, 2);
  put(tcp, sequence, 4);
  put(tcp, (flags & kAck) != 0 ? acknowledged : 0, 4);
  put(tcp, (5U << 12) | flags, 2);
  put(tcp, 65535, 2);
  put(tcp, 0, 4);  // checksum, urgent pointer
  fill(tcp, payload, sequence);
  sequence += payload + ((flags & (kSyn | kFin)) != 0 ? 1 : 0);
  const auto bytes =
      ipv4_frame(from_client ? c.client_ip : c.server_ip, from_client ? c.server_ip : c.client_ip,
                 6, std::move(tcp), 16, next_id_++);
  frame(bytes, time_us);
}

void PcapWriter::handshake(Conversation& c, std::uint64_t time_us) {
  segment(c, true, time_us, kSyn, 0);
  segment(c, false, time_us + 40, kSyn | kAck, 0);
  segment(c, true, time_us + 80, kAck, 0);
}

void PcapWriter::send(Conversation& c, bool from_client, std::uint64_t time_us,
                      std::uint32_t payload) {
  if (c.tcp) {
    segment(c, from_client, time_us, kPush | kAck, payload);
    return;
  }
  std::vector<std::byte> udp;
  put(udp, from_client ? c.client_port : c.server_port, 2);
  put(udp, from_client ? c.server_port : c.client_port, 2);
  put(udp, 8 + payload, 2);
  put(udp, 0, 2);
  fill(udp, payload, payload);
  const auto bytes =
      ipv4_frame(from_client ? c.client_ip : c.server_ip, from_client ? c.server_ip : c.client_ip,
                 17, std::move(udp), 6, next_id_++);
  frame(bytes, time_us);
}

void PcapWriter::acknowledge(Conversation& c, bool from_client, std::uint64_t time_us) {
  segment(c, from_client, time_us, kAck, 0);
}

void PcapWriter::arp(std::uint64_t time_us) {
  std::vector<std::byte> bytes;
  put(bytes, 0xffffffff, 4);
  put(bytes, 0xffff, 2);
  put(bytes, 0x0200, 2);
  put(bytes, 0x00000001, 4);
  put(bytes, 0x0806, 2);  // ARP
  put(bytes, 0x00010800, 4);
  put(bytes, 0x06040001, 4);
  put(bytes, 0x02000000, 4);
  put(bytes, 0x00010a00, 4);
  put(bytes, 0x00010000, 4);
  put(bytes, 0x00000000, 4);
  put(bytes, 0x0a000002, 4);
  frame(bytes, time_us);
}

}  // namespace pollscope::test_support

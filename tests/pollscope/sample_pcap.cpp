// The replay's shipped sample, scenarios/replay.pcap: what a small web and DNS client does in
// about half a second. Four TCP connections, each a handshake then a few requests (120 to 600
// bytes) answered by responses of 100 to 1,800 bytes (in segments of at most 1,448) after a
// server's think time, with 20 to 120 ms between requests; two UDP exchanges of small queries
// (some shorter than a replayed message's header) and their answers; one ARP frame. The numbers
// come from a fixed-seed generator of its own (splitmix64), so that every run writes the same
// bytes.

#include <algorithm>

#include "pcap_writer.hpp"

namespace pollscope::test_support {

namespace {

constexpr std::uint64_t kEpochUs = 1'700'000'000ULL * 1'000'000;
constexpr std::uint32_t kSegment = 1448;

class Numbers {
 public:
  explicit Numbers(std::uint64_t seed) : state_(seed) {}
  // A number in [low, high].
  std::uint32_t between(std::uint32_t low, std::uint32_t high) {
    state_ += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return low + static_cast<std::uint32_t>(z % (high - low + 1));
  }

 private:
  std::uint64_t state_;
};

void web_connection(PcapWriter& out, Numbers& numbers, std::uint32_t index) {
  Conversation c;
  c.client_ip = 0x0a00000a + index;
  c.client_port = static_cast<std::uint16_t>(40000 + index);
  c.client_sequence = numbers.between(1, 1u << 30);
  c.server_sequence = numbers.between(1, 1u << 30);
  std::uint64_t t = kEpochUs + 5'000 + index * 15'000;
  out.handshake(c, t);
  t += 200;
  const std::uint32_t requests = numbers.between(4, 6);
  for (std::uint32_t r = 0; r < requests; ++r) {
    out.send(c, true, t, numbers.between(120, 600));
    std::uint64_t at = t + numbers.between(200, 2'000);  // the server thinks
    for (std::uint32_t left = numbers.between(100, 1'800); left > 0;) {
      const std::uint32_t part = std::min(left, kSegment);
      out.send(c, false, at, part);
      left -= part;
      at += 30;
    }
    out.acknowledge(c, true, at + 40);
    t = at + numbers.between(20'000, 120'000);
  }
}

void dns_exchange(PcapWriter& out, Numbers& numbers, std::uint32_t index) {
  Conversation c;
  c.tcp = false;
  c.client_ip = 0x0a000014 + index;
  c.server_ip = 0x0a000003;
  c.client_port = static_cast<std::uint16_t>(53000 + index);
  c.server_port = 53;
  std::uint64_t t = kEpochUs + 12'000 + index * 7'000;
  for (int q = 0; q < 6; ++q) {
    out.send(c, true, t, numbers.between(20, 60));
    out.send(c, false, t + numbers.between(300, 900), numbers.between(60, 300));
    t += numbers.between(40'000, 160'000);
  }
}

}  // namespace

void write_sample_pcap(const std::string& path) {
  PcapWriter out(path);
  Numbers numbers(20260101);
  out.arp(kEpochUs);
  for (std::uint32_t i = 0; i < 4; ++i) web_connection(out, numbers, i);
  for (std::uint32_t i = 0; i < 2; ++i) dns_exchange(out, numbers, i);
  out.finish();
}

}  // namespace pollscope::test_support

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

struct BadPcap {
  const char* name;
  void (*write)(const std::string& path);
  const char* reason;  // a part of the one line that refuses it
};
[[nodiscard]] const std::vector<BadPcap>& bad_pcaps();

}  // namespace pollscope::test_support

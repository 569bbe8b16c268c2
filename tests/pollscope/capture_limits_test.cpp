// What a capture's limits leave out is counted, never silent: packets past --pcap-out's file
// limit, messages past the wire matcher's; and a capture that saw no packet still reports its
// figures (zeros), so that a threshold on them reads them rather than a missing figure.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
#include <vector>

#include "capture/packet_view.hpp"
#include "capture/pcap_sink.hpp"
#include "capture/wire_matcher.hpp"
#include "report/report.hpp"

namespace pollscope {
namespace {

// A UDP datagram on Ethernet whose payload carries `sequence` where messages carry theirs.
std::vector<std::byte> datagram(std::uint64_t sequence) {
  std::vector<std::byte> bytes(14 + 20 + 8 + 64);
  bytes[12] = std::byte{0x08};
  bytes[14] = std::byte{0x45};
  bytes[17] = std::byte{20 + 8 + 64};
  bytes[23] = std::byte{17};
  std::memcpy(bytes.data() + 42 + kSequenceOffset, &sequence, sizeof sequence);
  return bytes;
}

void see(WireMatcher& matcher, std::uint64_t sequence) {
  const auto frame = datagram(sequence);
  matcher.on_packet(1000 + sequence, std::get<TransportPacket>(parse_frame(frame, 1)));
}

TEST(PcapSinkLimitTest, PacketsPastTheLimitAreCountedAsLeftOut) {
  const std::vector<std::byte> packet(100);
  PcapSink sink(250);  // two records of 16 + 100 bytes
  EXPECT_TRUE(sink.add(1, 2048, 1, packet, 100));
  EXPECT_TRUE(sink.add(1, 2048, 2, packet, 100));
  EXPECT_FALSE(sink.add(1, 2048, 3, packet, 100));
  EXPECT_EQ(sink.packets(), 2u);
  EXPECT_EQ(sink.packets_left_out(), 1u);
}

// A block allocator that gives `blocks_before_failing` blocks, then fails as memory running out
// does; it notes the sizes it was asked for.
std::vector<std::size_t> asked;
std::size_t blocks_before_failing = SIZE_MAX;

std::unique_ptr<char[]> scarce_block(std::size_t bytes) {
  if (asked.size() == blocks_before_failing) throw std::bad_alloc();
  asked.push_back(bytes);
  return PcapSink::new_block(bytes);
}

std::size_t bytes_of(const std::vector<std::string_view>& pieces) {
  std::size_t bytes = 0;
  for (const std::string_view piece : pieces) bytes += piece.size();
  return bytes;
}

// The sink grows a block at a time, and its blocks add up to its limit at most: it never holds
// more than the limit, not even while it grows (a string doubled to 512 MiB needed 768).
TEST(PcapSinkLimitTest, GrowsInBlocksAndNeverHoldsMoreThanItsLimit) {
  asked.clear();
  blocks_before_failing = SIZE_MAX;
  const std::size_t limit = 2 * PcapSink::kBlockBytes + PcapSink::kBlockBytes / 2;
  PcapSink sink(limit, scarce_block);
  const std::vector<std::byte> packet(100'000);  // 10 records of 100,016 bytes a block
  while (sink.add(1, 262144, 1, packet, 100'000)) {
  }
  EXPECT_EQ(asked, (std::vector<std::size_t>{PcapSink::kBlockBytes, PcapSink::kBlockBytes,
                                             PcapSink::kBlockBytes / 2}));
  EXPECT_EQ(sink.packets(), 10u + 10u + 5u);
  EXPECT_EQ(sink.packets_left_out(), 1u);
  EXPECT_FALSE(sink.ran_out_of_memory());
  EXPECT_EQ(bytes_of(sink.file()), 24u + sink.packets() * 100'016);
}

// Memory that runs out while packets come in (inside libpcap's callback, where an exception
// would end the process with std::terminate) leaves the later packets out, counted as such.
TEST(PcapSinkLimitTest, AFailedAllocationLeavesPacketsOutInsteadOfThrowing) {
  asked.clear();
  blocks_before_failing = 1;
  PcapSink sink(PcapSink::kMostBytes, scarce_block);
  const std::vector<std::byte> packet(100'000);
  static_assert(noexcept(sink.add(1, 262144, 1, packet, 100'000)));
  for (int i = 0; i < 12; ++i) sink.add(1, 262144, 1, packet, 100'000);
  EXPECT_EQ(sink.packets(), 10u);  // the first block's
  EXPECT_EQ(sink.packets_left_out(), 2u);
  EXPECT_TRUE(sink.ran_out_of_memory());
  EXPECT_EQ(asked.size(), 1u) << "once memory ran out, the sink stops asking for more";
  const std::vector<std::byte> small(10);
  EXPECT_FALSE(sink.add(1, 262144, 2, small, 10)) << "no packet is kept once memory ran out";
  EXPECT_EQ(bytes_of(sink.file()), 24u + 10 * 100'016);
  blocks_before_failing = SIZE_MAX;
}

TEST(WireMatcherLimitTest, MessagesPastTheRecordLimitAreCounted) {
  WireMatcher matcher(2);
  matcher.begin_phase(Framing::fixed(64), 0);
  for (std::uint64_t sequence = 1; sequence <= 2; ++sequence) see(matcher, sequence);
  for (std::uint64_t sequence = 1; sequence <= 3; ++sequence) {
    matcher.on_message({sequence, 0, 5000, 5000});
  }
  Figures figures;
  matcher.finish_phase(figures);
  EXPECT_EQ(figures.matched_messages, 2u);
  EXPECT_EQ(figures.capture_over_limit, 1u);
}

TEST(WireMatcherLimitTest, MessagesWhosePacketsCamePastTheLimitAreCounted) {
  WireMatcher matcher(2);
  matcher.begin_phase(Framing::fixed(64), 0);
  for (std::uint64_t sequence = 1; sequence <= 3; ++sequence) see(matcher, sequence);
  matcher.on_message({1, 0, 5000, 5000});
  matcher.on_message({3, 0, 5000, 5000});  // its packet was past the limit
  Figures figures;
  matcher.finish_phase(figures);
  EXPECT_EQ(figures.matched_messages, 1u);
  EXPECT_EQ(figures.capture_over_limit, 1u);

  Figures next;  // the count starts again each phase
  matcher.finish_phase(next);
  EXPECT_EQ(next.capture_over_limit, 0u);
}

TEST(CaptureFiguresTest, ACaptureThatSawNoPacketStillReportsItsFigures) {
  Figures figures;
  figures.captures = 1;
  const auto block = figures_block(figures, true);
  ASSERT_TRUE(block.contains("capture")) << block.dump();
  EXPECT_EQ(block.at("capture").at("packets"), 0);
  EXPECT_EQ(block.at("capture").at("kernel_drops"), 0);
  EXPECT_EQ(block.at("capture").at("messages_over_limit"), 0);
  EXPECT_EQ(block.at("capture").at("pcap_packets_left_out"), 0);
  EXPECT_TRUE(block.contains("wire_latency_ns"));

  const Figures without_capture;  // value-initialised ({}) would copy-list-initialise a Histogram
  EXPECT_FALSE(figures_block(without_capture, true).contains("capture"));
}

}  // namespace
}  // namespace pollscope

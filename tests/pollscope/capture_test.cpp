// Capture: the BPF filter, reading frames, matching packets to messages, the pcap written for
// --pcap-out, and the engine capturing its own loopback traffic on both backends.

#include <pcap/pcap.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "capture/capture_filter.hpp"
#include "capture/packet_view.hpp"
#include "capture/pcap_sink.hpp"
#include "capture/wire_matcher.hpp"
#include "engine/engine.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {
namespace {

// A loopback frame as Linux captures it: an Ethernet header of zeros, IPv4, then UDP or TCP.
std::vector<std::byte> frame(bool tcp, std::uint16_t from, std::uint16_t to,
                             const std::vector<std::byte>& payload, std::uint32_t sequence = 0) {
  const std::size_t transport = tcp ? 20 : 8;
  std::vector<std::byte> bytes(14 + 20 + transport);
  const auto put16 = [&](std::size_t at, std::uint32_t value) {
    bytes[at] = std::byte(value >> 8);
    bytes[at + 1] = std::byte(value & 0xff);
  };
  put16(12, 0x0800);
  bytes[14] = std::byte{0x45};
  put16(16, static_cast<std::uint32_t>(20 + transport + payload.size()));
  bytes[23] = std::byte{static_cast<unsigned char>(tcp ? 6 : 17)};
  put16(34, from);
  put16(36, to);
  if (tcp) {
    put16(38, sequence >> 16);
    put16(40, sequence & 0xffff);
    bytes[46] = std::byte{0x50};
  }
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

// A message as the engine sends it: stamps, sequence number, padding to `size`.
std::vector<std::byte> message(std::uint64_t sent, std::uint64_t sequence, std::size_t size) {
  std::vector<std::byte> bytes(size);
  std::memcpy(bytes.data(), &sent, 8);
  std::memcpy(bytes.data() + 8, &sent, 8);
  std::memcpy(bytes.data() + kSequenceOffset, &sequence, 8);
  return bytes;
}

// Hands `stream` to `matcher` as TCP segments of `sizes` bytes from sequence number `first`; the
// segment that starts at offset N is seen at 1,000 x (N + 1) ns.
void send_segments(WireMatcher& matcher, const std::vector<std::byte>& stream,
                   std::initializer_list<std::size_t> sizes, std::uint32_t first) {
  std::size_t at = 0;
  for (std::size_t size : sizes) {
    const std::vector<std::byte> part(stream.begin() + static_cast<std::ptrdiff_t>(at),
                                      stream.begin() + static_cast<std::ptrdiff_t>(at + size));
    const auto segment = frame(true, 3, 4, part, first + static_cast<std::uint32_t>(at));
    matcher.on_packet(1'000 * (at + 1), std::get<TransportPacket>(parse_frame(segment, 1)));
    at += size;
  }
}

TEST(CaptureFilterTest, ListsAFewPortsAndTakesTheRangeOfMany) {
  EXPECT_EQ(capture_filter({5001, 5000, 5001}),
            "(tcp or udp) and (host 127.0.0.1 or host ::1) and (port 5000 or port 5001)");
  std::vector<std::uint16_t> many;
  for (std::uint16_t port = 40000; port < 40100; ++port) many.push_back(port);
  EXPECT_EQ(capture_filter(many),
            "(tcp or udp) and (host 127.0.0.1 or host ::1) and portrange 40000-40099");
}

TEST(PacketViewTest, ReadsTheFlowAndPayloadOfUdpAndTcpFrames) {
  const std::vector<std::byte> payload(30, std::byte{7});
  const auto udp = frame(false, 1234, 5678, payload);
  const auto parsed = std::get<TransportPacket>(parse_frame(udp, 1));
  EXPECT_EQ(parsed.transport, Transport::udp);
  EXPECT_EQ(parsed.source_port, 1234);
  EXPECT_EQ(parsed.destination_port, 5678);
  EXPECT_EQ(parsed.payload.size(), 30u);
  EXPECT_EQ(parsed.payload_length, 30u);

  const auto tcp = frame(true, 80, 9000, payload, 0xfffffff0);
  const auto segment = std::get<TransportPacket>(parse_frame(tcp, 1));
  EXPECT_EQ(segment.transport, Transport::tcp);
  EXPECT_EQ(segment.tcp_sequence, 0xfffffff0u);
  EXPECT_EQ(segment.payload.size(), 30u);
}

TEST(PacketViewTest, TruncatedAndForeignFramesSayWhy) {
  const auto udp = frame(false, 1, 2, std::vector<std::byte>(10));
  const auto cut = parse_frame(std::span(udp).first(30), 1);
  ASSERT_TRUE(std::holds_alternative<NotTransport>(cut));
  EXPECT_TRUE(std::get<NotTransport>(cut).truncated);
  EXPECT_NE(std::get<NotTransport>(cut).reason.find("IPv4"), std::string::npos);

  auto arp = udp;
  arp[12] = std::byte{0x08};
  arp[13] = std::byte{0x06};
  const auto foreign = parse_frame(arp, 1);
  ASSERT_TRUE(std::holds_alternative<NotTransport>(foreign));
  EXPECT_FALSE(std::get<NotTransport>(foreign).truncated);
  // The length of a snapshot that cut the payload is still the one on the wire.
  const auto snapped = std::get<TransportPacket>(parse_frame(std::span(udp).first(44), 1));
  EXPECT_EQ(snapped.payload.size(), 2u);
  EXPECT_EQ(snapped.payload_length, 10u);
}

TEST(WireMatcherTest, SplitsTheTwoPartsOfADatagramsLatencyAtItsWireTime) {
  WireMatcher matcher;
  matcher.begin_phase(Framing::fixed(64), 1'000'000);  // realtime = engine + 1 ms
  const auto sent = message(5'000, 42, 64);
  const auto packet = frame(false, 1, 2, sent);
  matcher.on_packet(1'000'000 + 5'300, std::get<TransportPacket>(parse_frame(packet, 1)));
  // Dispatched at engine time 6,000, and at realtime 1,006,050: the clocks disagree by 50 ns.
  matcher.on_message({42, 5'000, 6'000, 1'006'050});
  matcher.on_message({43, 5'000, 6'000, 1'006'000});  // no packet: not matched
  Figures figures;
  matcher.finish_phase(figures);
  EXPECT_EQ(figures.matched_messages, 1u);
  EXPECT_EQ(figures.send_to_wire.max(), 300u);
  EXPECT_EQ(figures.wire_to_dispatch.max(), 750u);
  EXPECT_EQ(figures.clock_difference.max(), 50u);
}

TEST(WireMatcherTest, FindsEveryMessageOfAStreamWhateverTheSegmentBoundaries) {
  WireMatcher matcher;
  matcher.begin_phase(Framing::fixed(40), 0);
  std::vector<std::byte> stream;
  for (std::uint64_t sequence = 1; sequence <= 5; ++sequence) {
    const auto one = message(100 * sequence, sequence, 40);
    stream.insert(stream.end(), one.begin(), one.end());
    matcher.on_message({sequence, 100 * sequence, 10'000, 10'000});
  }
  // Segments of 70, 10 and 120 bytes, starting near the sequence space's wrap: the second
  // message's header is split across the first two.
  send_segments(matcher, stream, {70, 10, 120}, 0xffffffe0);
  Figures figures;
  matcher.finish_phase(figures);
  EXPECT_EQ(figures.matched_messages, 5u);
  // The second message's wire time is its first segment's: 1,000 ns.
  EXPECT_EQ(figures.send_to_wire.min(), 800u);
}

TEST(WireMatcherTest, MessagesBeyondTheSnapshotGoUnmatchedAndTheStreamStaysInStep) {
  WireMatcher matcher;
  matcher.begin_phase(Framing::fixed(40), 0);
  std::vector<std::byte> stream;
  for (std::uint64_t sequence = 1; sequence <= 6; ++sequence) {
    const auto one = message(100, sequence, 40);
    stream.insert(stream.end(), one.begin(), one.end());
    matcher.on_message({sequence, 100, 10'000, 10'000});
  }
  // Five messages in a segment of which the snapshot kept 50 bytes of payload: the first
  // message's header only. The sixth, in the next segment, is found where it should be.
  const std::vector<std::byte> five(stream.begin(), stream.begin() + 200);
  const auto big = frame(true, 3, 4, five, 1000);
  matcher.on_packet(500, std::get<TransportPacket>(parse_frame(std::span(big).first(54 + 50), 1)));
  const std::vector<std::byte> sixth(stream.begin() + 200, stream.end());
  matcher.on_packet(700, std::get<TransportPacket>(parse_frame(frame(true, 3, 4, sixth, 1200), 1)));
  Figures figures;
  matcher.finish_phase(figures);
  EXPECT_EQ(figures.matched_messages, 2u);
  EXPECT_EQ(figures.capture_unmatched, 4u);
  EXPECT_EQ(figures.send_to_wire.min(), 400u);
  EXPECT_EQ(figures.send_to_wire.max(), 600u);
}

// A replay's messages say their own length: the matcher follows it from message to message, a
// header split across two segments (inside its length) included.
TEST(WireMatcherTest, FollowsMessagesThatSayTheirOwnLength) {
  WireMatcher matcher;
  matcher.begin_phase(Framing::variable(), 0);
  std::vector<std::byte> stream;
  const std::array<std::uint32_t, 4> sizes = {28, 300, 45, 1000};
  for (std::uint64_t sequence = 1; sequence <= sizes.size(); ++sequence) {
    auto one = message(100 * sequence, sequence, sizes[sequence - 1]);
    Framing::write_length(one.data(), sizes[sequence - 1]);
    stream.insert(stream.end(), one.begin(), one.end());
    matcher.on_message({sequence, 100 * sequence, 10'000, 10'000});
  }
  // The third message starts at 328: a first segment of 354 bytes ends inside its length field.
  send_segments(matcher, stream, {354, stream.size() - 354}, 7000);
  Figures figures;
  matcher.finish_phase(figures);
  EXPECT_EQ(figures.matched_messages, 4u);
  // The third message (sent at 300) is on the wire with the first segment, at 1,000 ns; the
  // fourth (sent at 400) with the second, at 355,000 ns.
  EXPECT_EQ(figures.send_to_wire.min(), 700u);
  EXPECT_EQ(figures.send_to_wire.max(), 354'600u);
}

TEST(PcapSinkTest, WritesAFileLibpcapReadsBackWithNanosecondTimes) {
  PcapSink sink;
  const auto packet = frame(false, 1, 2, std::vector<std::byte>(8, std::byte{9}));
  sink.add(1, 262144, 1'700'000'000'123'456'789, packet, static_cast<std::uint32_t>(packet.size()));
  sink.add(1, 262144, 1'700'000'001'000'000'001, packet, 1000);
  char path[] = "/tmp/pollscope-sink-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string file;
  for (const std::string_view piece : sink.file()) file += piece;
  ASSERT_EQ(::write(fd, file.data(), file.size()), static_cast<ssize_t>(file.size()));
  ::close(fd);

  char errors[PCAP_ERRBUF_SIZE];
  pcap_t* reader =
      pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errors);
  ASSERT_NE(reader, nullptr) << errors;
  EXPECT_EQ(pcap_datalink(reader), 1);
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  ASSERT_EQ(pcap_next_ex(reader, &header, &data), 1);
  EXPECT_EQ(header->ts.tv_sec, 1'700'000'000);
  EXPECT_EQ(header->ts.tv_usec, 123'456'789);
  EXPECT_EQ(header->caplen, packet.size());
  EXPECT_EQ(std::memcmp(data, packet.data(), packet.size()), 0);
  ASSERT_EQ(pcap_next_ex(reader, &header, &data), 1);
  EXPECT_EQ(header->len, 1000u);
  EXPECT_EQ(pcap_next_ex(reader, &header, &data), PCAP_ERROR_BREAK);  // the end of the file
  pcap_close(reader);
  ::unlink(path);
  EXPECT_EQ(sink.packets(), 2u);
}

Scenario captured(const std::string& kind, const std::string& backend, const std::string& load) {
  const std::string text =
      R"({"format": 1, "name": "captured", "description": "capture test", "backend": ")" + backend +
      R"(", "sockets": {"kind": ")" + kind +
      R"(", "count": 6, "active": 3}, "phases": [{"name": "p", "messages": 600, "load": )" + load +
      R"(}], "capture": {}})";
  auto parsed = parse_scenario(nlohmann::json::parse(text), "literal");
  if (auto* problem = std::get_if<Problem>(&parsed)) throw std::runtime_error(problem->to_string());
  return std::get<Scenario>(std::move(parsed));
}

class CaptureEngineTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "capturing needs root or CAP_NET_RAW";
  }
};

TEST_P(CaptureEngineTest, EveryMessageIsMatchedToItsPacketAndTheClocksAgree) {
  for (const char* kind : {"tcp", "udp"}) {
    for (const char* load : {R"({"mode": "closed", "in_flight": 4})",
                             R"({"mode": "open", "rate_per_second": 20000})"}) {
      SCOPED_TRACE(std::string(kind) + " " + load);
      PcapSink sink;
      RunOptions options;
      options.pcap_sink = &sink;
      const auto outcome = run_scenario(captured(kind, GetParam(), load), options);
      const Figures& figures = outcome.phases.at(0).figures;
      EXPECT_EQ(figures.missed_events, 0u);
      EXPECT_GE(figures.messages, 600u);
      EXPECT_EQ(figures.matched_messages, figures.messages);
      EXPECT_GE(figures.captured_packets, kind == std::string("udp") ? 600u : 1u);
      EXPECT_EQ(sink.packets(), outcome.overall.captured_packets);
      EXPECT_EQ(outcome.overall.capture_kernel_drops, 0u);
      EXPECT_EQ(figures.send_to_wire.count(), figures.matched_messages);
      EXPECT_EQ(figures.wire_to_dispatch.count(), figures.matched_messages);
      // The wire sits between send and dispatch: its two parts fit within the whole latency,
      // up to how far the clocks disagree, which is far below a millisecond.
      EXPECT_LT(figures.clock_difference.value_at_quantile(0.99), 1'000'000u);
      EXPECT_LE(figures.wire_to_dispatch.value_at_quantile(0.5),
                figures.uncorrected.value_at_quantile(0.5) + 1'000'000u);
      EXPECT_TRUE(outcome.leaks.empty());
      EXPECT_EQ(outcome.overall.registers, outcome.overall.deregisters);
    }
  }
}

TEST_P(CaptureEngineTest, ARunWithoutCaptureHasNoCaptureFigures) {
  auto scenario = captured("tcp", GetParam(), R"({"mode": "closed"})");
  scenario.capture.reset();
  const auto outcome = run_scenario(scenario, {});
  EXPECT_EQ(outcome.overall.captured_packets, 0u);
  EXPECT_EQ(outcome.overall.matched_messages, 0u);
  EXPECT_EQ(outcome.overall.send_to_wire.count(), 0u);
}

TEST_P(CaptureEngineTest, AMissingInterfaceFailsTheRunWithExitThree) {
  auto scenario = captured("udp", GetParam(), R"({"mode": "closed"})");
  scenario.capture->interface = "pollscope-no0";
  try {
    (void)run_scenario(scenario, {});
    ADD_FAILURE() << "the run went ahead";
  } catch (const Failure& failure) {
    EXPECT_EQ(failure.code(), kExitEnvironment);
    EXPECT_NE(std::string(failure.what()).find("pollscope-no0"), std::string::npos)
        << failure.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CaptureEngineTest, ::testing::Values("epoll", "poll"));

TEST(CaptureScenarioTest, UnixPipeShortMessagesAndSplitPairsCannotBeCaptured) {
  const auto problem = [](const std::string& kind, int payload, const std::string& capture,
                          const std::string& peer = "same_loop") {
    const std::string text =
        R"({"format": 1, "name": "c", "description": "d", "sockets": {"kind": ")" + kind +
        R"(", "count": 2, "peer": ")" + peer +
        R"("}, "phases": [{"name": "p", "messages": 10, "payload_bytes": )" +
        std::to_string(payload) + "}], \"capture\": " + capture + "}";
    auto parsed = parse_scenario(nlohmann::json::parse(text), "c.json");
    const auto* found = std::get_if<Problem>(&parsed);
    return found != nullptr ? found->to_string() : std::string();
  };
  EXPECT_EQ(problem("tcp", 64, "{}"), "");
  EXPECT_EQ(problem("udp", 24, R"({"interface": "eth0"})"), "");
  EXPECT_NE(problem("unix", 64, "{}").find("c.json: /sockets/kind: with \"capture\": \"unix\""),
            std::string::npos)
      << problem("unix", 64, "{}");
  EXPECT_NE(problem("pipe", 64, "{}").find("/sockets/kind"), std::string::npos);
  EXPECT_NE(problem("tcp", 16, "{}").find("/phases/0/payload_bytes"), std::string::npos);
  EXPECT_NE(problem("tcp", 64, R"({"interface": ""})").find("/capture/interface"),
            std::string::npos);
  EXPECT_NE(problem("tcp", 64, "{}", "process").find("c.json: /sockets/peer: with \"capture\""),
            std::string::npos)
      << problem("tcp", 64, "{}", "process");
  EXPECT_NE(problem("udp", 64, "{}", "thread").find("/sockets/peer"), std::string::npos);
  EXPECT_NE(problem("tcp", 64, R"({"iface": "lo"})").find("/capture/iface: unknown key"),
            std::string::npos);
}

}  // namespace
}  // namespace pollscope

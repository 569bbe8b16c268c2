// A pcap file's packet times as the format stores them: unsigned 32-bit seconds (good to 2106)
// and a fraction of microseconds or nanoseconds. Times past 2038, where a signed reading goes
// negative, are read as stored; a fraction past its second is refused in a line of its own
// (bad_pcaps() in test_pcaps.cpp, checked by replay_test.cpp and replay_cli_test.cpp).

#include <pcap/pcap.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <variant>

#include "replay/replay_trace.hpp"
#include "test_pcaps.hpp"

namespace pollscope {
namespace {

using test_support::write_raw_stamps;

class ReplayTimestampTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/pollscope-stamps-XXXXXX";
    folder_ = ::mkdtemp(name);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  // The offsets of the file's messages, or its refusal.
  std::variant<std::vector<std::uint64_t>, std::string> offsets(
      const std::vector<test_support::RawStamp>& stamps, bool nanoseconds) {
    const std::string path = folder_ + "/trace.pcap";
    write_raw_stamps(path, stamps, nanoseconds);
    auto read = read_replay_trace(path);
    if (auto* problem = std::get_if<TraceProblem>(&read)) return problem->reason;
    std::vector<std::uint64_t> found;
    for (const ReplayMessage& message : std::get<ReplayTrace>(read).messages) {
      found.push_back(message.offset_ns);
    }
    return found;
  }

  std::string folder_;
};

using Offsets = std::vector<std::uint64_t>;

TEST_F(ReplayTimestampTest, SecondsPast2038AreReadUnsignedAsPcapStoresThem) {
  // 2040-01-01, in microseconds and in nanoseconds: one second and a half apart.
  EXPECT_EQ(offsets({{2'208'988'800, 0}, {2'208'988'801, 500'000}}, false),
            (std::variant<Offsets, std::string>(Offsets{0, 1'500'000'000})));
  EXPECT_EQ(offsets({{2'208'988'800, 0}, {2'208'988'801, 500'000'000}}, true),
            (std::variant<Offsets, std::string>(Offsets{0, 1'500'000'000})));
  // Across 2038's signed overflow, and at the format's last second (2106).
  EXPECT_EQ(offsets({{0x7fffffff, 999'999}, {0x80000000, 1}}, false),
            (std::variant<Offsets, std::string>(Offsets{0, 2'000})));
  EXPECT_EQ(offsets({{0xfffffffe, 999'999'999}, {0xffffffff, 999'999'999}}, true),
            (std::variant<Offsets, std::string>(Offsets{0, 1'000'000'000})));
}

TEST_F(ReplayTimestampTest, AFractionPastItsSecondIsRefusedNamingTheFieldAndItsValue) {
  const auto micro = offsets({{1000, 0}, {1000, 1'000'000}}, false);
  ASSERT_TRUE(std::holds_alternative<std::string>(micro));
  EXPECT_TRUE(std::get<std::string>(micro).ends_with(
      "trace.pcap: packet 2: invalid: its timestamp's fraction field is 1000000 (microseconds: "
      "at most 999999)"))
      << std::get<std::string>(micro);
  // 999,999,999 is a nanosecond file's last; in a microsecond file it is refused.
  EXPECT_TRUE(std::holds_alternative<Offsets>(offsets({{1000, 999'999'999}}, true)));
  const auto nano = offsets({{1000, 999'999'999}}, false);
  ASSERT_TRUE(std::holds_alternative<std::string>(nano));
  EXPECT_TRUE(std::get<std::string>(nano).ends_with(
      "packet 1: invalid: its timestamp's fraction field is 999999999 (microseconds: at most "
      "999999)"))
      << std::get<std::string>(nano);
}

// A pcapng file's interfaces each count time in their own unit (if_tsresol): microseconds by
// default, nanoseconds (10^-9) or a power of two (2^-10). Packets of three interfaces, interleaved,
// are read in one time line.
TEST_F(ReplayTimestampTest, PcapngInterfacesOfDifferentResolutionsShareOneTimeLine) {
  test_support::PcapngWriter out;
  out.interface(DLT_EN10MB);
  out.interface(DLT_EN10MB, 65535, 9);
  out.interface(DLT_EN10MB, 65535, 0x80 | 10);
  constexpr std::uint64_t kSecond = 1'700'000'000;
  out.packet(0, kSecond * 1'000'000, test_support::udp_frame(40));
  out.packet(1, kSecond * 1'000'000'000 + 500'000, test_support::udp_frame(30, 41000));
  out.packet(2, (kSecond + 1) * 1024 + 512, test_support::udp_frame(20, 42000));
  out.packet(0, kSecond * 1'000'000 + 1'000, test_support::udp_frame(10));
  const std::string path = folder_ + "/interfaces.pcapng";
  out.write(path);
  auto read = read_replay_trace(path);
  ASSERT_TRUE(std::holds_alternative<ReplayTrace>(read)) << std::get<TraceProblem>(read).reason;
  const ReplayTrace& trace = std::get<ReplayTrace>(read);
  ASSERT_EQ(trace.messages.size(), 4u);
  EXPECT_EQ(trace.flows, 3u);
  const std::vector<std::pair<std::uint64_t, std::uint32_t>> expected = {
      {0, 40}, {500'000, 30}, {1'000'000, 10}, {1'500'000'000, 20}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(trace.messages[i].offset_ns, expected[i].first) << i;
    EXPECT_EQ(trace.messages[i].bytes, expected[i].second) << i;
  }
}

}  // namespace
}  // namespace pollscope

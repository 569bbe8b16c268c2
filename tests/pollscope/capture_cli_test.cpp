// run --capture and --pcap-out end to end: the report's capture figures against the schema, the
// pcap read back by tcpdump, and each refusal (exit 2 before the run, exit 3 without permission)
// in one line.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "child_process.hpp"

namespace pollscope {
namespace {

using namespace test_support;
namespace fs = std::filesystem;

std::string scenario_of(const std::string& kind, int payload = 64) {
  return R"({"format": 1, "name": "captured", "description": "capture end to end",
    "sockets": {"kind": ")" +
         kind + R"(", "count": 4, "active": 2},
    "phases": [{"name": "p", "messages": 300, "payload_bytes": )" +
         std::to_string(payload) + "}]}";
}

bool tcpdump_installed() {
  return std::system("tcpdump --version >/dev/null 2>&1") == 0;
}

class CaptureCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "capturing needs root or CAP_NET_RAW";
  }
};

TEST_F(CaptureCli, ACapturedRunReportsWireLatenciesAndWritesAPcapTcpdumpReads) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", scenario_of("tcp"));
  const std::string report = dir / "report.json";
  const std::string pcap = dir / "run.pcap";
  const Outcome outcome =
      pollscope({"run", scenario, "-q", "--capture", "--pcap-out", pcap, "--out", report});
  ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  expect_valid_report(report);
  const auto document = parse_report(read_file(report));
  const auto& overall = document.at("overall");
  EXPECT_EQ(overall.at("capture").at("matched_messages"), overall.at("messages"));
  EXPECT_EQ(overall.at("capture").at("kernel_drops"), 0);
  EXPECT_GT(overall.at("capture").at("packets").get<int>(), 0);
  EXPECT_EQ(overall.at("wire_latency_ns").at("wire_to_dispatch").at("count"),
            overall.at("messages"));
  EXPECT_TRUE(document.at("phases").at(0).contains("wire_latency_ns"));
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "report.json", "run.pcap"}));

  if (!tcpdump_installed()) GTEST_SKIP() << "tcpdump is not installed (scripts/setup.sh)";
  const Outcome read = run_program({"tcpdump", "-r", pcap, "-n", "tcp"});
  ASSERT_TRUE(exited_with(read, 0)) << describe(read);
  EXPECT_EQ(static_cast<int>(lines_of(read.out).size()),
            overall.at("capture").at("packets").get<int>());
  EXPECT_TRUE(contains(read.out, "127.0.0.1.")) << read.out.substr(0, 500);
}

// A replay's messages say their own length: every one is still matched to its packet.
TEST_F(CaptureCli, AReplayedRunMatchesEveryMessageOfVariableSize) {
  const TempDir dir;
  const std::string report = dir / "report.json";
  const Outcome outcome = pollscope({"run", (kSourceDir / "scenarios" / "replay.json").string(),
                                     "-q", "--capture", "--out", report});
  ASSERT_TRUE(ran_but_for_latency(outcome, report));
  expect_valid_report(report);
  const auto overall = parse_report(read_file(report)).at("overall");
  EXPECT_GT(overall.at("messages").get<int>(), 0);
  EXPECT_EQ(overall.at("capture").at("matched_messages"), overall.at("messages"));
  EXPECT_EQ(overall.at("capture").at("kernel_drops"), 0);
}

TEST_F(CaptureCli, WithoutCaptureTheReportHasNoCaptureFigures) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", scenario_of("udp"));
  const Outcome outcome = pollscope({"run", scenario, "-q"});
  ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  const auto document = parse_report(outcome.out);
  EXPECT_FALSE(document.at("overall").contains("capture"));
  EXPECT_FALSE(document.at("overall").contains("wire_latency_ns"));
}

TEST(CaptureRefusals, UnixSocketsPipesAndShortMessagesAreRefusedBeforeTheRun) {
  const TempDir dir;
  for (const auto& [kind, payload, pointer] :
       {std::tuple{"unix", 64, "/sockets/kind"}, std::tuple{"pipe", 64, "/sockets/kind"},
        std::tuple{"tcp", 16, "/phases/0/payload_bytes"}}) {
    SCOPED_TRACE(kind);
    const std::string scenario = dir.write("s.json", scenario_of(kind, payload));
    const Outcome outcome = pollscope({"run", scenario, "-q", "--capture", "lo"});
    ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(contains(outcome.err, scenario + ": " + pointer + ": --capture: ")) << outcome.err;
    EXPECT_EQ(outcome.out, "");
  }
}

TEST(CaptureRefusals, PcapOutNeedsACaptureAndOneWorker) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", scenario_of("tcp"));
  const Outcome without = pollscope({"run", scenario, "-q", "--pcap-out", dir / "x.pcap"});
  ASSERT_TRUE(exited_with(without, 2)) << describe(without);
  EXPECT_TRUE(one_line(without.err));
  EXPECT_TRUE(contains(without.err, "--pcap-out: needs --capture")) << without.err;

  std::string workers = scenario_of("tcp");
  workers.insert(1, R"("workers": 2, )");
  const std::string two = dir.write("w.json", workers);
  const Outcome outcome = pollscope({"run", two, "-q", "--capture", "--pcap-out", dir / "x.pcap"});
  ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
  EXPECT_TRUE(contains(outcome.err, "needs one worker process")) << outcome.err;
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "w.json"}));
}

TEST(CaptureRefusals, APcapOutInAMissingFolderIsNamedAsPcapOut) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", scenario_of("tcp"));
  const std::string pcap = dir / "missing/x.pcap";
  const Outcome outcome =
      pollscope({"run", scenario, "-q", "--capture", "--pcap-out", pcap, "--out", dir / "r.json"});
  ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "pollscope: --pcap-out " + pcap + ": the folder"))
      << outcome.err;
  EXPECT_EQ(dir.entries(), std::set<std::string>{"s.json"});
}

// A user without CAP_NET_RAW: exit 3, one line saying what is needed, no report.
TEST(CaptureRefusals, NoPermissionToCaptureIsExitThreeInOneLine) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run pollscope as another user";
  if (std::system("setpriv --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no setpriv";
  const TempDir dir;
  fs::permissions(dir.path(), fs::perms::all);
  const std::string scenario = dir.write("s.json", scenario_of("udp"));
  const Outcome outcome =
      run_program({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", POLLSCOPE_BINARY,
                   "run", scenario, "-q", "--capture", "lo"});
  if (outcome.exited && outcome.exit_code == 127) GTEST_SKIP() << describe(outcome);
  ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "needs root or CAP_NET_RAW")) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

}  // namespace
}  // namespace pollscope

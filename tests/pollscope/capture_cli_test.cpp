// run --capture and --pcap-out end to end: the report's capture figures against the schema, the
// pcap read back by tcpdump, and each refusal (exit 2 before the run, exit 3 without permission)
// in one line.

#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "child_process.hpp"
#include "test_pcaps.hpp"

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

// A scenario replaying 400 messages of 1,000 bytes recorded at one instant over one TCP pair.
std::string write_burst_replay(const TempDir& dir) {
  write_burst(dir / "burst.pcap", 400, 1000);
  return dir.write("s.json", R"({"format": 1, "name": "burst",
    "description": "a recorded burst", "sockets": {"kind": "tcp", "count": 2, "active": 1},
    "phases": [{"name": "p", "load": {"mode": "replay", "pcap": "burst.pcap"}}]})");
}

// A replay of messages recorded at one instant: TCP coalesces them into segments of up to
// 64 KiB, each holding dozens of heads. Every message is still matched to its segment (a
// snapshot that cut the segments lost the flow after the first few).
TEST_F(CaptureCli, AReplayedBurstOfOneInstantIsMatchedWhole) {
  const TempDir dir;
  const std::string scenario = write_burst_replay(dir);
  const std::string report = dir / "report.json";
  const Outcome outcome = pollscope({"run", scenario, "-q", "--capture", "--out", report});
  ASSERT_TRUE(ran_but_for_latency(outcome, report));
  expect_valid_report(report);
  const auto overall = parse_report(read_file(report)).at("overall");
  EXPECT_EQ(overall.at("messages"), 400);
  const auto& capture = overall.at("capture");
  EXPECT_EQ(capture.at("matched_messages"), 400) << capture.dump();
  EXPECT_EQ(capture.at("unmatched_messages"), 0) << capture.dump();
  EXPECT_EQ(capture.at("kernel_drops"), 0);
  EXPECT_LT(capture.at("packets").get<int>(), 400) << "the burst was not coalesced";
}

// A snapshot that cuts the burst's segments (lowered here through the test seam, as a segment
// the kernel dropped would) hides where the flow's next message starts: the messages left
// unmatched are counted, not silently missing.
TEST_F(CaptureCli, MessagesOfAFlowThatLostItsStepAreCountedAsUnmatched) {
  const TempDir dir;
  const std::string scenario = write_burst_replay(dir);
  const std::string report = dir / "report.json";
  ::setenv("POLLSCOPE_CAPTURE_SNAPSHOT", "2048", 1);
  const Outcome outcome = pollscope({"run", scenario, "-q", "--capture", "--out", report});
  ::unsetenv("POLLSCOPE_CAPTURE_SNAPSHOT");
  ASSERT_TRUE(ran_but_for_latency(outcome, report));
  expect_valid_report(report);
  const auto overall = parse_report(read_file(report)).at("overall");
  const auto& capture = overall.at("capture");
  ASSERT_LT(capture.at("packets").get<int>(), 400) << "the burst was not coalesced";
  const auto unmatched = capture.at("unmatched_messages").get<int>();
  EXPECT_GT(unmatched, 0) << capture.dump();
  EXPECT_EQ(capture.at("matched_messages").get<int>() + unmatched, 400) << capture.dump();
  EXPECT_EQ(capture.at("messages_over_limit"), 0);
  EXPECT_TRUE(one_line(outcome.err)) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "pollscope: warning: --capture: " + std::to_string(unmatched) +
                                        " message(s) not matched to a packet"))
      << outcome.err;
}

// Packets past --pcap-out's limit (lowered here through the test seam) are counted in the
// report and said on stderr, even with --quiet.
TEST_F(CaptureCli, PacketsPastThePcapLimitAreCountedAndWarnedOf) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", scenario_of("udp"));
  const std::string report = dir / "report.json";
  ::setenv("POLLSCOPE_PCAP_MOST_BYTES", "1000", 1);
  const Outcome outcome = pollscope(
      {"run", scenario, "-q", "--capture", "--pcap-out", dir / "run.pcap", "--out", report});
  ::unsetenv("POLLSCOPE_PCAP_MOST_BYTES");
  ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  expect_valid_report(report);
  const auto capture = parse_report(read_file(report)).at("overall").at("capture");
  const auto left_out = capture.at("pcap_packets_left_out").get<int>();
  EXPECT_GT(left_out, 0);
  EXPECT_EQ(capture.at("messages_over_limit"), 0);
  EXPECT_TRUE(one_line(outcome.err)) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "pollscope: warning: --pcap-out: " + std::to_string(left_out) +
                                        " packet(s) left out"))
      << outcome.err;
  EXPECT_LE(fs::file_size(dir / "run.pcap"), 24u + 1000u);
}

// The matcher keeps what --memory-budget leaves past the phase and the capture's ring: here 65
// MiB less the ring's 64 and an open loop owing a second of 64,972 messages (1,039,680 bytes):
// 8,896 bytes, 99 messages of 89 bytes. The rest are counted and warned of, not kept.
TEST_F(CaptureCli, TheMatcherKeepsWithinWhatTheMemoryBudgetLeaves) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", R"({"format": 1, "name": "tight",
    "description": "a matcher in 99 messages", "sockets": {"kind": "udp", "count": 2, "active": 1},
    "phases": [{"name": "p", "messages": 300,
                "load": {"mode": "open", "rate_per_second": 64972}}]})");
  const std::string report = dir / "report.json";
  const Outcome outcome =
      pollscope({"run", scenario, "-q", "--capture", "--memory-budget", "65", "--out", report});
  ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  const auto overall = parse_report(read_file(report)).at("overall");
  const auto messages = overall.at("messages").get<int>();
  const auto& capture = overall.at("capture");
  EXPECT_LE(capture.at("matched_messages").get<int>(), 99) << capture.dump();
  EXPECT_GE(capture.at("messages_over_limit").get<int>(), messages - 99) << capture.dump();
  EXPECT_GT(messages, 99);
  EXPECT_TRUE(contains(outcome.err,
                       " message(s) not matched to a packet, past the limit of 99 a "
                       "phase and poller"))
      << outcome.err;
}

// A threshold on a figure the report does not hold fails and says so, rather than "actual 0".
TEST(CaptureThresholds, AThresholdOnAFigureNotInTheReportSaysSo) {
  const TempDir dir;
  std::string text = scenario_of("udp");
  text.insert(text.size() - 1, R"(, "thresholds": ["capture.kernel_drops == 0"])");
  const std::string scenario = dir.write("s.json", text);
  const std::string report = dir / "report.json";
  const Outcome outcome = pollscope({"run", scenario, "--out", report});
  ASSERT_TRUE(exited_with(outcome, 1)) << describe(outcome);
  expect_valid_report(report);
  const auto threshold = parse_report(read_file(report)).at("thresholds").at(0);
  EXPECT_EQ(threshold.at("pass"), false);
  EXPECT_EQ(threshold.at("missing"), "not in the report: capture.kernel_drops");
  EXPECT_TRUE(contains(outcome.err,
                       "threshold capture.kernel_drops == 0: FAIL (not in the report: "
                       "capture.kernel_drops)"))
      << outcome.err;
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

// A capture's rings count against --memory-budget: a run whose capture cannot fit is refused
// before it starts (exit 2, one line, no file), by validate too when the scenario asks for it.
TEST(CaptureRefusals, ACaptureOverTheMemoryBudgetIsRefusedBeforeTheRun) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", scenario_of("udp"));
  const std::string reason =
      ": /phases/0: phase \"p\" may buffer 1 MiB (2 active pairs x (2 x 64 "
      "payload bytes + 1 messages owed x 16 bytes)), beside the capture's "
      "64 MiB (1 pollers x a 64 MiB ring), over the 16 MiB memory budget";
  const Outcome run = pollscope(
      {"run", scenario, "-q", "--capture", "--memory-budget", "16", "--out", dir / "r.json"});
  ASSERT_TRUE(exited_with(run, 2)) << describe(run);
  EXPECT_TRUE(one_line(run.err)) << run.err;
  EXPECT_TRUE(contains(run.err, scenario + reason)) << run.err;
  EXPECT_EQ(dir.entries(), std::set<std::string>{"s.json"});

  const std::string declared = dir.write(
      "c.json", R"({"format": 1, "name": "declared", "description": "a capture it asks for",
        "capture": {"interface": "lo"}, "sockets": {"kind": "udp", "count": 4, "active": 2},
        "phases": [{"name": "p", "messages": 300}]})");
  const Outcome validated = pollscope({"validate", declared, "--memory-budget", "16"});
  ASSERT_TRUE(exited_with(validated, 2)) << describe(validated);
  EXPECT_TRUE(contains(validated.err, declared + reason)) << validated.err;
  EXPECT_TRUE(exited_with(pollscope({"validate", declared, "--memory-budget", "65"}), 0));
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

  std::string threads = scenario_of("tcp");
  threads.insert(1, R"("threads": 2, )");
  const std::string two_threads = dir.write("t.json", threads);
  const Outcome refused =
      pollscope({"run", two_threads, "-q", "--capture", "--pcap-out", dir / "x.pcap"});
  ASSERT_TRUE(exited_with(refused, 2)) << describe(refused);
  EXPECT_TRUE(one_line(refused.err));
  EXPECT_TRUE(contains(refused.err, "--pcap-out: needs one poller thread")) << refused.err;
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "w.json", "t.json"}));
}

// --pcap-out where the report (stdout, or --out) or the summary (stderr) goes would mix the
// two: refused before the run, however the path names it.
TEST(CaptureRefusals, APcapOutWhereTheReportOrSummaryGoesIsRefused) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", scenario_of("tcp"));
  const std::vector<std::vector<std::string>> cases = {
      {"--pcap-out", "/dev/stdout"},
      {"--pcap-out", "/proc/self/fd/1"},
      {"--pcap-out", "/dev/fd/1", "--out", "/dev/stdout"},
      {"--pcap-out", "-", "--out", "/dev/fd/1"},
      {"--pcap-out", "/dev/stderr", "--out", dir / "r.json"},
  };
  for (const auto& extra : cases) {
    SCOPED_TRACE(extra[1]);
    std::vector<std::string> args = {"run", scenario, "-q", "--capture"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Outcome outcome = pollscope(args);
    ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
    EXPECT_TRUE(one_line(outcome.err)) << outcome.err;
    EXPECT_TRUE(contains(outcome.err, "pollscope: --pcap-out")) << outcome.err;
    EXPECT_EQ(outcome.out, "");
  }
  EXPECT_EQ(dir.entries(), std::set<std::string>{"s.json"});
}

TEST(CaptureRefusals, PcapOutAndOutNamingTheSameFileAreRefused) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", scenario_of("tcp"));
  const std::string file = dir / "same.out";
  const Outcome fresh =
      pollscope({"run", scenario, "-q", "--capture", "--pcap-out", file, "--out", file});
  ASSERT_TRUE(exited_with(fresh, 2)) << describe(fresh);
  EXPECT_TRUE(one_line(fresh.err));
  EXPECT_TRUE(contains(fresh.err, "--pcap-out and --out name the same file")) << fresh.err;

  dir.write("same.out", "kept");
  fs::create_symlink(file, dir / "link");
  const Outcome linked =
      pollscope({"run", scenario, "-q", "--capture", "--pcap-out", dir / "link", "--out", file});
  ASSERT_TRUE(exited_with(linked, 2)) << describe(linked);
  EXPECT_TRUE(contains(linked.err, "--pcap-out and --out name the same file")) << linked.err;
  EXPECT_EQ(read_file(file), "kept");
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "same.out", "link"}));
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

// An interface this machine has not, from the scenario or --capture: exit 3 before the run, in
// one line naming where it was given (it once said only "capture: x: No such device exists").
TEST(CaptureRefusals, AMissingInterfaceIsNamedWhereItWasGiven) {
  const TempDir dir;
  std::string text = scenario_of("tcp");
  text.insert(1, R"("capture": {"interface": "nosuch0"}, )");
  const std::string scenario = dir.write("s.json", text);
  const std::string plain = dir.write("plain.json", scenario_of("tcp"));
  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"run", scenario, "-q", "-o", dir / "r.json"},
            scenario + ": /capture/interface: \"nosuch0\": no network interface of that name"},
           {{"run", plain, "-q", "--capture=nosuch0", "-o", dir / "r.json"},
            "--capture nosuch0: no network interface of that name"}}) {
    SCOPED_TRACE(message);
    const Outcome outcome = pollscope(args);
    ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(outcome.err.starts_with("pollscope: " + message)) << outcome.err;
  }
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "plain.json"}));
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

// The files a run writes, end to end: two options naming one new file by different spellings are
// caught as the same file (exit 2), --pcap-out keeps its packets within --memory-budget, and a
// run that runs out of memory ends as exit 3 in one line, its temporary files removed.

#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "child_process.hpp"

namespace pollscope {
namespace {

using namespace test_support;
namespace fs = std::filesystem;

constexpr const char* kTcpScenario = R"({"format": 1, "name": "files",
  "description": "run's files", "sockets": {"kind": "tcp", "count": 2, "active": 1},
  "phases": [{"name": "p", "messages": 200}]})";

// pollscope run from inside `dir`, so that relative spellings mean what they say.
Outcome pollscope_in(const TempDir& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"env", "-C", dir.path().string(), POLLSCOPE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv);
}

// A relative name whose first part does not exist stayed relative in the check ("r.json"),
// while "./r.json" became absolute: the two were not the same file, and the second temporary
// file collided with the first (exit 3, "File exists"). A dangling link names its target.
TEST(SameFile, PcapOutNamingOutsNewFileByAnotherSpellingIsRefused) {
  const TempDir dir;
  dir.write("s.json", kTcpScenario);
  fs::create_symlink("r.json", dir.path() / "dangling");
  fs::create_directory(dir.path() / "sub");
  const std::string parent = "../" + dir.path().filename().string() + "/r.json";
  for (const std::string& spelling :
       {std::string("./r.json"), dir / "r.json", std::string("dangling"), parent,
        std::string("sub/../r.json")}) {
    SCOPED_TRACE(spelling);
    for (const bool reversed : {false, true}) {
      const std::string out = reversed ? spelling : "r.json";
      const std::string pcap = reversed ? "r.json" : spelling;
      const Outcome outcome =
          pollscope_in(dir, {"run", "s.json", "-q", "--capture", "--out", out, "--pcap-out", pcap});
      ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
      EXPECT_EQ(outcome.err, "pollscope: --pcap-out and --out name the same file: " + out + "\n");
    }
  }
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "dangling", "sub"}));
}

// compare --base's --format goes through the same check.
TEST(SameFile, AFormatNamingOutsNewFileByAnotherSpellingIsRefused) {
  const TempDir dir;
  const Outcome outcome = pollscope_in(dir, {"compare", "--base", "a.json", "--candidate", "b.json",
                                             "--out", "r.json", "--format", "junit=./r.json"});
  ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
  EXPECT_EQ(outcome.err, "pollscope: --format junit ./r.json: the same file as --out\n");
  EXPECT_TRUE(dir.entries().empty());
}

// --pcap-out's packets stay in memory until the run ends: their limit is what --memory-budget
// leaves past the scenario's buffering and the capture's (here 154 MiB less the ring's 64 and
// the matcher's 89 at its limit, less the phase: a little under 1 MiB), not 512 MiB whatever
// the budget; what comes past it is counted and warned of.
TEST(PcapOutMemory, ThePacketsKeptStayWithinTheMemoryBudget) {
  if (::geteuid() != 0) GTEST_SKIP() << "capturing needs root or CAP_NET_RAW";
  const TempDir dir;
  const std::string scenario = dir.write("s.json", R"({"format": 1, "name": "many",
    "description": "3 MB of packets", "sockets": {"kind": "udp", "count": 2, "active": 1},
    "phases": [{"name": "p", "messages": 2000, "payload_bytes": 1400}]})");
  const std::string pcap = dir / "run.pcap";
  const Outcome outcome = pollscope({"run", scenario, "-q", "--memory-budget", "154", "--capture",
                                     "--pcap-out", pcap, "--out", dir / "r.json"});
  ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  std::smatch limit;
  const std::regex said("past its limit of ([0-9]+) bytes");
  ASSERT_TRUE(std::regex_search(outcome.err, limit, said)) << outcome.err;
  const auto most = std::stoull(limit[1]);
  EXPECT_LT(most, 1u << 20);
  EXPECT_GT(most, (1u << 20) - 16 * 1024);
  EXPECT_LE(fs::file_size(pcap), 24 + most);
  const auto capture = parse_report(read_file(dir / "r.json")).at("overall").at("capture");
  EXPECT_GT(capture.at("pcap_packets_left_out").get<int>(), 0);
}

// Memory that runs out once the run is over, with the report's and the pcap's temporary files
// open: exit 3, one line, and no file left behind (the test seam throws std::bad_alloc there).
TEST(RunOutOfMemory, IsExitThreeInOneLineAndLeavesNoFile) {
  const TempDir dir;
  dir.write("s.json", kTcpScenario);
  std::vector<std::string> args = {"env", "POLLSCOPE_INJECT_FAILURE=memory", POLLSCOPE_BINARY};
  args.insert(args.end(), {"run", dir / "s.json", "-q", "--out", dir / "r.json"});
  if (::geteuid() == 0) args.insert(args.end(), {"--capture", "--pcap-out", dir / "p.pcap"});
  const Outcome outcome = run_program(args);
  ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err)) << outcome.err;
  EXPECT_TRUE(outcome.err.starts_with("pollscope: out of memory: ")) << outcome.err;
  EXPECT_EQ(dir.entries(), std::set<std::string>{"s.json"});
}

// Memory that runs out while a packet is matched to its message, inside libpcap's callback (the
// test seam throws std::bad_alloc there), was std::terminate: exit 134, the temporary files left.
// The matching stops, and the run ends as exit 3 in one line naming it, its files removed; in a
// worker process too.
TEST(RunOutOfMemory, WhileMatchingAPacketIsExitThreeInOneLineAndLeavesNoFile) {
  if (::geteuid() != 0) GTEST_SKIP() << "capturing needs root or CAP_NET_RAW";
  const TempDir dir;
  dir.write("s.json", kTcpScenario);
  dir.write("w.json", R"({"format": 1, "name": "workers", "description": "two workers",
    "workers": 2, "sockets": {"kind": "tcp", "count": 2, "active": 2},
    "phases": [{"name": "p", "messages": 200}]})");
  const std::vector<std::string> env = {"env", "POLLSCOPE_INJECT_FAILURE=capture.memory",
                                        POLLSCOPE_BINARY, "run"};
  for (const auto& extra :
       {std::vector<std::string>{dir / "s.json", "-q", "--capture", "--out", dir / "r.json",
                                 "--pcap-out", dir / "p.pcap"},
        std::vector<std::string>{dir / "w.json", "-q", "--capture", "--out", dir / "r.json"}}) {
    SCOPED_TRACE(extra[0]);
    std::vector<std::string> args = env;
    args.insert(args.end(), extra.begin(), extra.end());
    const Outcome outcome = run_program(args);
    ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
    EXPECT_TRUE(one_line(outcome.err)) << outcome.err;
    EXPECT_TRUE(outcome.err.starts_with("pollscope: out of memory: --capture: matching packets"))
        << outcome.err;
    EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "w.json"}));
  }
}

}  // namespace
}  // namespace pollscope

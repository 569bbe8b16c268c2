// Replay end to end: the shipped scenario replays its sample and reports what it replayed, a bad
// pcap is refused before the run in one line naming the file and the packet, and each load field
// is checked by name.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "child_process.hpp"
#include "test_pcaps.hpp"

namespace pollscope {
namespace {

using namespace test_support;

const std::string kShippedReplay = (kSourceDir / "scenarios" / "replay.json").string();

std::string replay_scenario(const std::string& load, const std::string& phase_extra = "") {
  return R"({"format": 1, "name": "replayed", "description": "replay end to end",
    "sockets": {"kind": "tcp", "count": 4, "active": 3},
    "phases": [{"name": "p", "load": )" +
         load + phase_extra + "}]}";
}

TEST(ReplayCli, TheShippedScenarioReplaysItsSampleAndSaysWhatItReplayed) {
  const TempDir dir;
  const std::string report = dir / "report.json";
  const Outcome outcome = pollscope({"run", kShippedReplay, "-q", "--out", report});
  ASSERT_TRUE(ran_but_for_latency(outcome, report));
  expect_valid_report(report);
  const auto document = parse_report(read_file(report));
  const auto& replayed = document.at("context").at("replay").at("replayed");
  EXPECT_EQ(replayed.at("pcap"), (kSourceDir / "scenarios" / "replay.pcap").string());
  EXPECT_EQ(replayed.at("flows"), 6);
  EXPECT_EQ(replayed.at("pairs"), 6);
  const auto& phase = document.at("phases").at(0);
  EXPECT_EQ(phase.at("messages"), replayed.at("messages"));
  EXPECT_EQ(phase.at("latency_ns").at("count"), replayed.at("messages"));
  // Every message at least its recorded payload (short ones padded to the header).
  EXPECT_GE(phase.at("replay").at("bytes_sent").get<std::uint64_t>(),
            replayed.at("payload_bytes").get<std::uint64_t>());
  EXPECT_EQ(phase.at("replay").at("bytes_received"), phase.at("replay").at("bytes_sent"));
  EXPECT_GE(phase.at("duration_s").get<double>(), replayed.at("schedule_s").get<double>());
}

// Relative to the scenario's folder; each refusal is exit 2, one line, before any traffic.
TEST(ReplayCli, ABadPcapIsRefusedInOneLineNamingTheFileAndThePacket) {
  const TempDir dir;
  const std::string scenario =
      dir.write("s.json", replay_scenario(R"({"mode": "replay", "pcap": "trace.pcap"})"));
  for (const BadPcap& bad : bad_pcaps()) {
    SCOPED_TRACE(bad.name);
    bad.write(dir / "trace.pcap");
    for (const auto& args : {std::vector<std::string>{"validate", scenario},
                             std::vector<std::string>{"run", scenario, "-q"}}) {
      const Outcome outcome = pollscope(args);
      ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
      EXPECT_TRUE(one_line(outcome.err)) << outcome.err;
      EXPECT_TRUE(
          contains(outcome.err, scenario + ": /phases/0/load/pcap: " + (dir / "trace.pcap") + ": "))
          << outcome.err;
      EXPECT_TRUE(contains(outcome.err, bad.reason)) << outcome.err;
      EXPECT_EQ(outcome.out, "");
    }
  }
}

// A trace too large for --memory-budget is refused while it is read, by validate and by run
// alike (exit 2, one line, no report): not read whole first, then refused for the schedule it
// makes. 30,000 messages, of which 21,842 (48 bytes each while read) pass 1 MiB.
TEST(ReplayCli, ATraceTooLargeForTheBudgetIsRefusedBeforeItIsReadWhole) {
  const TempDir dir;
  write_burst(dir / "burst.pcap", 30'000, 10);
  const std::string scenario =
      dir.write("s.json", replay_scenario(R"({"mode": "replay", "pcap": "burst.pcap"})"));
  for (const auto& args : {std::vector<std::string>{"validate", scenario, "--memory-budget", "1"},
                           std::vector<std::string>{"run", scenario, "-q", "--memory-budget", "1",
                                                    "--out", dir / "r.json"}}) {
    const Outcome outcome = pollscope(args);
    ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
    EXPECT_TRUE(one_line(outcome.err)) << outcome.err;
    EXPECT_TRUE(contains(outcome.err, scenario + ": /phases/0/load/pcap: " + (dir / "burst.pcap") +
                                          ": by packet 21843 the read holds 2 MiB"))
        << outcome.err;
  }
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "burst.pcap"}));
  EXPECT_TRUE(exited_with(pollscope({"validate", scenario, "--memory-budget", "4"}), 0));
}

// pcap's seconds are unsigned 32-bit, good to 2106: a file recorded in 2040 is replayed, its
// schedule the second between its two packets.
TEST(ReplayCli, APcapRecordedIn2040IsReplayed) {
  const TempDir dir;
  write_raw_stamps(dir / "trace.pcap", {{2'208'988'800, 0}, {2'208'988'801, 0}});  // 2040-01-01
  const std::string scenario = dir.write(
      "s.json", replay_scenario(R"({"mode": "replay", "pcap": "trace.pcap", "speed": 10})"));
  const Outcome validated = pollscope({"validate", scenario});
  ASSERT_TRUE(exited_with(validated, 0)) << describe(validated);
  const std::string report = dir / "report.json";
  const Outcome outcome = pollscope({"run", scenario, "-q", "--out", report});
  ASSERT_TRUE(ran_but_for_latency(outcome, report));
  const auto replayed = parse_report(read_file(report)).at("context").at("replay").at("p");
  EXPECT_EQ(replayed.at("messages"), 2);
  EXPECT_DOUBLE_EQ(replayed.at("schedule_s").get<double>(), 0.1);
}

TEST(ReplayCli, LoadFieldsAreCheckedByName) {
  const TempDir dir;
  write_three_flows(dir / "trace.pcap");
  const struct {
    std::string load;
    std::string phase_extra;
    std::string where;
    std::string reason;
  } cases[] = {
      {R"({"mode": "replay"})", "", "/phases/0/load", R"(missing required key "pcap")"},
      {R"({"mode": "replay", "pcap": "trace.pcap", "speed": 0})", "", "/phases/0/load/speed",
       "must be greater than 0 and at most 1000, got 0"},
      {R"({"mode": "replay", "pcap": "trace.pcap", "speed": -2})", "", "/phases/0/load/speed",
       "must be greater than 0"},
      // 6 ms at this speed is past any integer of milliseconds: refused, never converted.
      {R"({"mode": "replay", "pcap": "trace.pcap", "speed": 1e-300})", "", "/phases/0/load/pcap",
       (dir / "trace.pcap") + ": its schedule lasts 6e+297 s at speed 1e-300, longer than a phase "
                              "may (an hour)"},
      {R"({"mode": "replay", "pcap": "trace.pcap", "rate_per_second": 5})", "",
       "/phases/0/load/rate_per_second",
       R"(unknown key "rate_per_second" (known: mode, pcap, speed))"},
      {R"({"mode": "replay", "pcap": "absent.pcap"})", "", "/phases/0/load/pcap",
       (dir / "absent.pcap") + ": cannot be read: No such file or directory"},
      {R"({"mode": "replay", "pcap": "trace.pcap"})", R"(, "messages": 10)", "/phases/0/messages",
       "a replay sends the pcap's messages"},
      {R"({"mode": "replay", "pcap": "trace.pcap"})", R"(, "payload_bytes": 64)",
       "/phases/0/payload_bytes",
       "a replay's message sizes are the pcap's payloads: payload_bytes does not apply"},
  };
  for (const auto& bad : cases) {
    SCOPED_TRACE(bad.load + bad.phase_extra);
    const std::string scenario = dir.write("s.json", replay_scenario(bad.load, bad.phase_extra));
    const Outcome outcome = pollscope({"validate", scenario});
    ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
    EXPECT_TRUE(one_line(outcome.err)) << outcome.err;
    EXPECT_TRUE(contains(outcome.err, scenario + ": " + bad.where + ": " + bad.reason))
        << outcome.err;
  }
  // An absolute path is taken as it is, and a duration may end the replay.
  const std::string absolute = dir.write(
      "a.json", replay_scenario(R"({"mode": "replay", "pcap": ")" + (dir / "trace.pcap") + R"("})",
                                R"(, "duration_ms": 500)"));
  EXPECT_TRUE(exited_with(pollscope({"validate", absolute}), 0));
}

}  // namespace
}  // namespace pollscope

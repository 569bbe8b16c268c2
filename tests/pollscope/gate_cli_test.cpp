// The performance gate end to end: `run --repeat`, `ab` between two "builds" (the same pollscope
// behind wrapper scripts, one of them with a planted slowdown loaded through LD_PRELOAD:
// shim/slowdown_shim.c), `compare` with several reports a side, and the CI formats, each parsed
// back. The must-flag tests use effects no load can hide: one extra system call per event,
// caught by the kernel's exact count, and a busy delay that triples the CPU time per event.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "child_process.hpp"

namespace pollscope {
namespace {

using namespace test_support;
using json = nlohmann::json;

// 2 Unix pairs, one of them active, one phase of 300 ms: a run takes well under a second; each
// wait returns the one event in flight however busy the machine, and the set-up's calls weigh
// little per event, so that the counts per event do not depend on the machine's load.
// On epoll, whatever LIBPOLL_BACKEND says: the slowdown shim wraps epoll_wait and poll, the
// waits of the epoll and poll(2) backends.
constexpr const char* kQuickScenario = R"({
  "format": 1,
  "name": "quick",
  "description": "two unix pairs, one active, 300 ms",
  "backend": "epoll",
  "sockets": {"kind": "unix", "count": 2, "active": 1},
  "phases": [{"name": "steady", "duration_ms": 300}],
  "thresholds": ["missed_events == 0"]
})";

json read_json(const std::string& path) {
  return parse_report(read_file(path));
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

const json* row_of(const json& rows, const std::string& metric) {
  for (const json& row : rows) {
    if (row.value("metric", "") == metric) return &row;
  }
  return nullptr;
}

class PollscopeGate : public ::testing::Test {
 protected:
  void SetUp() override { scenario_ = dir_.write("quick.json", kQuickScenario); }

  // An executable "build": pollscope with the slowdown shim loaded and `settings` (environment
  // assignments) for it. The shim with nothing asked only forwards the calls.
  std::string build(const std::string& name, const std::string& settings = "") {
    return script(name, "ASAN_OPTIONS=verify_asan_link_order=0:${ASAN_OPTIONS:-} " + settings +
                            " LD_PRELOAD=" SLOWDOWN_SHIM " exec " POLLSCOPE_BINARY " \"$@\"\n");
  }

  // An executable shell script: `body` after its #! line.
  std::string script(const std::string& name, const std::string& body) {
    const std::string path = dir_.write(name, "#!/bin/sh\n" + body);
    ::chmod(path.c_str(), 0755);
    return path;
  }

  Outcome ab(const std::string& candidate_settings, int rounds,
             const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"ab",
                                     "--base",
                                     build("base.sh"),
                                     "--candidate",
                                     build("candidate.sh", candidate_settings),
                                     scenario_,
                                     "--rounds",
                                     std::to_string(rounds),
                                     "--out",
                                     dir_ / "ab.json",
                                     "--keep-reports",
                                     dir_ / "reports"};
    args.insert(args.end(), extra.begin(), extra.end());
    return pollscope(args);
  }

  TempDir dir_;
  std::string scenario_;
};

TEST_F(PollscopeGate, RunRepeatKeepsEveryRepetitionWithTheirMediansAsHeadline) {
  const std::string path = dir_ / "repeated.json";
  const Outcome outcome = pollscope({"run", scenario_, "--repeat", "3", "--out", path, "-q"});
  ASSERT_TRUE(exited_with(outcome, 0));
  const json report = read_json(path);
  ASSERT_TRUE(report.contains("repetitions"));
  const json& repetitions = report.at("repetitions");
  ASSERT_EQ(repetitions.size(), 3u);
  std::vector<double> throughputs, p50s;
  std::set<std::string> start_times;
  for (const json& repetition : repetitions) {
    throughputs.push_back(repetition.at("overall").at("events_per_second").get<double>());
    p50s.push_back(repetition.at("overall").at("latency_ns").at("p50").get<double>());
    EXPECT_GT(repetition.at("overall").at("events").get<double>(), 0);
    start_times.insert(repetition.value("start_time", ""));
  }
  EXPECT_DOUBLE_EQ(report.at("overall").at("events_per_second").get<double>(), median(throughputs));
  EXPECT_DOUBLE_EQ(report.at("overall").at("latency_ns").at("p50").get<double>(), median(p50s));
  EXPECT_DOUBLE_EQ(
      report.at("phases").at(0).at("latency_ns").at("p50").get<double>(), median([&] {
        std::vector<double> values;
        for (const json& r : repetitions) {
          values.push_back(r.at("phases").at(0).at("latency_ns").at("p50").get<double>());
        }
        return values;
      }()));
  EXPECT_EQ(report.value("verdict", ""), "pass");
  EXPECT_TRUE(report.at("thresholds").at(0).value("pass", false));
  expect_valid_report(path);
}

TEST_F(PollscopeGate, AnExtraSystemCallPerEventIsFlaggedByItsExactCount) {
  const Outcome outcome = ab("POLLSCOPE_SHIM_EXTRA_SYSCALL=1", 2);
  const json base_report = read_json(dir_ / "reports/base-0.json");
  if (!base_report.at("overall").at("cost").value("kernel_counted_syscalls", false)) {
    GTEST_SKIP() << "the kernel does not count this process's system calls here (needs root "
                    "or perf_event_paranoid, and tracefs)";
  }
  ASSERT_TRUE(exited_with(outcome, 1));
  const json comparison = read_json(dir_ / "ab.json");
  EXPECT_EQ(comparison.value("verdict", ""), "regressed");
  const json* syscalls = row_of(comparison.at("counts"), "cost.syscalls_per_event");
  ASSERT_NE(syscalls, nullptr);
  EXPECT_EQ(syscalls->value("verdict", ""), "regressed");
  const double added = syscalls->at("candidate").get<double>() - syscalls->at("base").get<double>();
  EXPECT_NEAR(added, 1.0, 0.2) << syscalls->dump();
  EXPECT_TRUE(contains(syscalls->value("change", ""), "syscalls per event ")) << syscalls->dump();
  EXPECT_TRUE(contains(outcome.err, "syscalls per event")) << outcome.err;
  // Libpoll's own calls did not change: the count names the figure that moved, and only it.
  EXPECT_EQ(row_of(comparison.at("counts"), "cost.polls_per_event")->value("verdict", ""),
            "unchanged");
  expect_valid_against(kComparisonSchema, dir_ / "ab.json");
}

TEST_F(PollscopeGate, ABusyDelayPerEventIsFlaggedByTheTimings) {
  // 20 us of CPU burnt per event, several times what an event costs: the four samples of each
  // side cannot overlap, whatever the neighbours do, and four a side reach 95%.
  const Outcome outcome = ab("POLLSCOPE_SHIM_DELAY_NS=20000", 4);
  ASSERT_TRUE(exited_with(outcome, 1));
  const json comparison = read_json(dir_ / "ab.json");
  EXPECT_EQ(comparison.value("verdict", ""), "regressed");
  const json* cpu = row_of(comparison.at("timings"), "cost.cpu_ns_per_event");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->value("verdict", ""), "regressed") << cpu->dump();
  EXPECT_GT(cpu->at("ratio_low").get<double>(), 1.01);
  EXPECT_LE(cpu->at("p_value").get<double>(), 0.05);
  expect_valid_against(kComparisonSchema, dir_ / "ab.json");
}

TEST_F(PollscopeGate, AnUnchangedBuildIsNeverCalledARegression) {
  const Outcome outcome = ab("", 3, {"--format", "junit=" + dir_ / "gate.xml"});
  ASSERT_TRUE(exited_with(outcome, 0));
  const json comparison = read_json(dir_ / "ab.json");
  EXPECT_NE(comparison.value("verdict", ""), "regressed");
  EXPECT_EQ(comparison.value("rounds", 0), 3);
  EXPECT_EQ(comparison.at("base_reports").size(), 3u);
  for (const json& row : comparison.at("counts")) {
    EXPECT_EQ(row.value("verdict", ""), "unchanged") << row.dump();
  }
  EXPECT_TRUE(contains(read_file(dir_ / "gate.xml"), "failures=\"0\""));
  expect_valid_against(kComparisonSchema, dir_ / "ab.json");
}

// Runs python3 on `code` with `path`; its stdout.
std::string python(const std::string& code, const std::string& path) {
  const Outcome outcome = run_program({"python3", "-c", code, path});
  EXPECT_TRUE(exited_with(outcome, 0));
  return outcome.out;
}

// One build against itself in two configurations: each side's runs get their own arguments,
// which their reports and the comparison show.
TEST_F(PollscopeGate, AbGivesEachSideItsOwnRunArguments) {
  const Outcome outcome =
      ab("", 2,
         {"--candidate-arg=--backend=poll", "--candidate-arg=--single-thread-polls",
          "--candidate-arg=--receive-ahead"});
  // poll(2) makes other system calls per event than epoll: the gate may call that a regression.
  ASSERT_TRUE(exited_with(outcome, 0) || exited_with(outcome, 1)) << outcome.err;
  const json comparison = read_json(dir_ / "ab.json");
  EXPECT_FALSE(comparison.contains("base_args"));
  EXPECT_EQ(comparison.at("candidate_args"),
            json::array({"--backend=poll", "--single-thread-polls", "--receive-ahead"}));
  for (const char* side : {"base", "candidate"}) {
    for (int round = 0; round < 2; ++round) {
      const json context =
          read_json(dir_ / ("reports/" + std::string(side) + "-" + std::to_string(round) + ".json"))
              .at("context");
      const bool candidate = std::string_view(side) == "candidate";
      EXPECT_EQ(context.value("backend", ""), candidate ? "poll" : "epoll") << side << round;
      EXPECT_EQ(context.value("single_thread_polls", !candidate), candidate) << side << round;
      EXPECT_EQ(context.value("receive_ahead", !candidate), candidate) << side << round;
    }
  }
  expect_valid_against(kComparisonSchema, dir_ / "ab.json");
}

TEST_F(PollscopeGate, CompareJudgesSeveralReportsASideAndWritesEachCiFormat) {
  for (const char* name : {"base.json", "candidate.json"}) {
    ASSERT_TRUE(
        exited_with(pollscope({"run", scenario_, "--repeat", "2", "--out", dir_ / name, "-q"}), 0));
  }
  ASSERT_TRUE(exited_with(pollscope({"run", scenario_, "--out", dir_ / "one.json", "-q"}), 0));
  const Outcome outcome = pollscope(
      {"compare", "--base", dir_ / "base.json", "--base", dir_ / "one.json", "--candidate",
       dir_ / "candidate.json", "--out", dir_ / "gate.json", "--format",
       "junit=" + dir_ / "gate.xml", "--format", "markdown=" + dir_ / "gate.md", "--format",
       "benchmark-smaller=" + dir_ / "smaller.json", "--format",
       "benchmark-bigger=" + dir_ / "bigger.json", "--format", "bencher=" + dir_ / "bmf.json"});
  ASSERT_TRUE(exited_with(outcome, 0)) << outcome.err;
  const json gate = read_json(dir_ / "gate.json");
  EXPECT_EQ(gate.value("kind", ""), "ab");
  EXPECT_EQ(gate.value("rounds", -1), 0);
  // Three base samples (two repetitions and one run), two candidate samples.
  const json* throughput = row_of(gate.at("timings"), "events_per_second");
  ASSERT_NE(throughput, nullptr);
  EXPECT_EQ(throughput->at("base").size(), 3u);
  EXPECT_EQ(throughput->at("candidate").size(), 2u);
  expect_valid_against(kComparisonSchema, dir_ / "gate.json");

  // JUnit: a test case per threshold and per compared figure.
  const std::string cases = python(
      "import sys, xml.etree.ElementTree as E\n"
      "root = E.parse(sys.argv[1]).getroot()\n"
      "cases = root.findall('./testsuite/testcase')\n"
      "print(root.tag, len(cases), root.get('tests'), root.get('failures'))\n"
      "print(' '.join(c.get('name') for c in cases))",
      dir_ / "gate.xml");
  const std::size_t expected =
      1 + gate.at("timings").size() + gate.at("counts").size();  // one threshold
  const std::string count = std::to_string(expected);
  EXPECT_TRUE(cases.starts_with("testsuites " + count + " " + count + " 0\n")) << cases;
  EXPECT_TRUE(contains(cases, "missed_events == 0")) << cases;
  EXPECT_TRUE(contains(cases, "cost.syscalls_per_event")) << cases;

  const std::string markdown = read_file(dir_ / "gate.md");
  EXPECT_TRUE(markdown.starts_with("### pollscope performance gate: ")) << markdown;
  EXPECT_TRUE(contains(markdown, "| `latency_ns.p50` |")) << markdown;

  const json smaller = read_json(dir_ / "smaller.json");
  const json bigger = read_json(dir_ / "bigger.json");
  ASSERT_TRUE(smaller.is_array());
  ASSERT_EQ(bigger.size(), 1u);
  EXPECT_EQ(bigger.at(0).value("name", ""), "quick: events_per_second");
  EXPECT_EQ(bigger.at(0).value("unit", ""), "1/s");
  EXPECT_DOUBLE_EQ(bigger.at(0).at("value").get<double>(),
                   median(throughput->at("candidate").get<std::vector<double>>()));
  for (const json& entry : smaller) {
    EXPECT_TRUE(entry.at("name").is_string() && entry.at("unit").is_string() &&
                entry.at("value").is_number())
        << entry.dump();
  }
  EXPECT_EQ(smaller.size(), gate.at("timings").size() - 1 + gate.at("counts").size());

  const json bmf = read_json(dir_ / "bmf.json");
  ASSERT_TRUE(bmf.contains("quick"));
  const json& measure = bmf.at("quick").at("events-per-second");
  EXPECT_DOUBLE_EQ(measure.at("value").get<double>(),
                   median(throughput->at("candidate").get<std::vector<double>>()));
  EXPECT_LE(measure.at("lower_value").get<double>(), measure.at("value").get<double>());
  EXPECT_GE(measure.at("upper_value").get<double>(), measure.at("value").get<double>());
}

// What ab could refuse is refused before the first round: the builds here leave a mark if one
// ever runs.
TEST_F(PollscopeGate, AbRefusesBadInputBeforeAnyRound) {
  const std::string ran = dir_ / "ran";
  const std::string marking =
      script("marking.sh", "touch " + ran + "\nexec " POLLSCOPE_BINARY " \"$@\"\n");
  const std::string bad = dir_.write("bad.json", R"({"format": 1, "name": "bad"})");
  const std::string file = dir_.write("file", "");
  const std::string missing = dir_ / "missing/x";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& refused : std::vector<Case>{
           {{bad}, bad + ": "},
           {{scenario_, "--keep-reports", file}, "--keep-reports " + file + ": not a directory"},
           {{scenario_, "--keep-reports", file + "/sub"}, "--keep-reports " + file + "/sub: "},
           {{scenario_, "--out", missing}, "--out " + missing + ": the folder"},
           {{scenario_, "--format", "junit=" + missing},
            "--format junit " + missing + ": the folder"},
           {{scenario_, "-o", dir_ / "gate", "--format", "markdown=" + dir_ / "gate"},
            "--format markdown " + dir_ / "gate" + ": the same file as --out"},
           {{scenario_, "--candidate-arg=--out=x"},
            "--candidate-arg --out=x: not a run option ab passes on"},
           {{scenario_, "--base-arg=--backend=kqueue"},
            "--base-arg --backend=kqueue: not a run option ab passes on"},
       }) {
    SCOPED_TRACE(refused.message);
    std::vector<std::string> args = {"ab",    "--base",   marking, "--candidate",
                                     marking, "--rounds", "2"};
    args.insert(args.end(), refused.args.begin(), refused.args.end());
    const Outcome outcome = pollscope(args);
    ASSERT_TRUE(exited_with(outcome, 2));
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(outcome.err.starts_with("pollscope: " + refused.message)) << outcome.err;
  }
  // A directory passes access(X_OK): only a regular file is a build.
  const Outcome directory =
      pollscope({"ab", "--base", marking, "--candidate", dir_.path(), scenario_, "--rounds", "2"});
  ASSERT_TRUE(exited_with(directory, 2));
  EXPECT_EQ(directory.err,
            "pollscope: --candidate: " + dir_.path().string() + " is not an executable file\n");
  EXPECT_FALSE(std::filesystem::exists(ran)) << "a round ran";
}

TEST_F(PollscopeGate, AbNamesTheBuildWhoseRunFailedInOneLine) {
  const std::string failing = script("failing.sh", "exit 3\n");
  const Outcome outcome =
      pollscope({"ab", "--base", failing, "--candidate", failing, scenario_, "--rounds", "2"});
  ASSERT_TRUE(exited_with(outcome, 3));
  EXPECT_EQ(outcome.err, "pollscope: ab: " + failing + " run exited with 3 (no report)\n");
}

// A run that says it wrote its report (exit 0) but left none, or a broken one: the build failed
// (exit 3), and the message names it, not the temporary file.
TEST_F(PollscopeGate, AbNamesTheBuildThatLeftNoValidReport) {
  for (const std::string writes :
       {"", "for a; do [ \"$p\" = --out ] && echo 'Segfault {' >\"$a\"; p=$a; done\n"}) {
    const std::string fake = script("fake.sh", writes + "exit 0\n");
    const Outcome outcome =
        pollscope({"ab", "--base", fake, "--candidate", fake, scenario_, "--rounds", "2"});
    ASSERT_TRUE(exited_with(outcome, 3));
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(outcome.err.starts_with("pollscope: ab: " + fake +
                                        " run exited with 0 but left no valid report: "))
        << outcome.err;
  }
}

// A build whose report has two phases of one name (no scenario can: a foreign or broken build)
// left no valid report: ab reads its reports as compare does, and names the build (exit 3).
TEST_F(PollscopeGate, AbRefusesABuildsReportWithTwoPhasesOfOneName) {
  const std::string doubling = script(
      "doubling.sh",
      "for a; do [ \"$p\" = --out ] && out=$a; p=$a; done\n" POLLSCOPE_BINARY
      " \"$@\" || exit\n"
      "python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); "
      "d[\"phases\"].append(d[\"phases\"][0]); json.dump(d, open(sys.argv[1], \"w\"))' \"$out\"\n");
  const Outcome outcome = pollscope(
      {"ab", "--base", build("base.sh"), "--candidate", doubling, scenario_, "--rounds", "2"});
  ASSERT_TRUE(exited_with(outcome, 3)) << outcome.err;
  EXPECT_TRUE(one_line(outcome.err)) << outcome.err;
  EXPECT_EQ(outcome.err, "pollscope: ab: " + doubling +
                             " run exited with 0 but left no valid report: /phases/1/name: "
                             "duplicate phase name \"steady\" (also /phases/0/name): its figures "
                             "would be ambiguous\n");
}

// What a build prints on its stdout goes to ab's stderr: ab's stdout is the comparison alone.
TEST_F(PollscopeGate, AbKeepsWhatABuildPrintsOutOfTheComparison) {
  const std::string chatty =
      script("chatty.sh", "echo debug: starting\nexec " POLLSCOPE_BINARY " \"$@\"\n");
  const Outcome outcome =
      pollscope({"ab", "--base", chatty, "--candidate", chatty, scenario_, "--rounds", "2", "-q"});
  ASSERT_TRUE(outcome.exited) << describe(outcome);
  EXPECT_TRUE(outcome.out.starts_with("{")) << outcome.out;
  EXPECT_EQ(parse_report(outcome.out).value("kind", ""), "ab");
  EXPECT_TRUE(contains(outcome.err, "debug: starting\n")) << outcome.err;
}

// SIGTERM to ab, Ctrl-C (SIGINT to its group) or a build's own exit 130, in round 2: ab stops the
// build, judges round 1 in a document marked interrupted, removes its reports and exits 130.
TEST_F(PollscopeGate, AbInterruptedJudgesTheRoundsThatEndedAndLeavesNothingBehind) {
  const std::string fifo = dir_ / "started";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const int stop : {SIGTERM, -SIGINT, 0}) {  // negative: to the group
    SCOPED_TRACE(stop);
    const TempDir tmp;
    const std::string ran = dir_ / ("ran" + std::to_string(stop));
    const std::string out = dir_ / ("ab" + std::to_string(stop) + ".json");
    // Its first run is pollscope's; its second, the first of round 2, says its pid and hangs.
    const std::string candidate =
        script("second.sh", "[ -e " + ran + " ] || { touch " + ran +
                                "; exec " POLLSCOPE_BINARY " \"$@\"; }\necho $$ >" + fifo +
                                (stop ? "\nexec sleep 300\n" : "\nexit 130\n"));
    const int started = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    Child ab({"env", "TMPDIR=" + tmp.path().string(), POLLSCOPE_BINARY, "ab", "--base",
              build("base.sh"), "--candidate", candidate, scenario_, "--rounds", "2", "-o", out});
    pollfd ready{started, POLLIN, 0};
    ASSERT_EQ(::poll(&ready, 1, 60'000), 1);
    char pid[32] = {};
    ASSERT_GT(::read(started, pid, sizeof pid - 1), 0);
    ::close(started);
    if (stop != 0) ::kill(stop > 0 ? ab.pid() : -ab.pid(), std::abs(stop));
    const Outcome outcome = ab.wait(kRunLimit);
    ASSERT_TRUE(exited_with(outcome, 130));
    EXPECT_TRUE(contains(outcome.err, "pollscope: ab: interrupted after 1 of 2 rounds ("))
        << outcome.err;
    const json comparison = read_json(out);
    EXPECT_EQ(comparison.value("verdict", ""), "interrupted");
    EXPECT_EQ(comparison.value("rounds", -1), 1);
    expect_valid_against(kComparisonSchema, out);
    EXPECT_NE(::kill(std::atoi(pid), 0), 0) << "the build still runs";
    EXPECT_TRUE(tmp.entries().empty()) << "temporary reports left behind";
  }
}

// A build that hangs is stopped at the run's limit (lowered here), SIGKILL after an ignored
// SIGTERM, and fails the gate in one line naming it.
TEST_F(PollscopeGate, AbStopsABuildThatRunsPastItsLimit) {
  const std::string pid = dir_ / "pid";
  const std::string hung =
      script("hung.sh", "trap '' TERM\necho $$ >" + pid + "\nexec sleep 300\n");
  const Outcome outcome =
      run_program({"env", "POLLSCOPE_AB_RUN_LIMIT_MS=1000", POLLSCOPE_BINARY, "ab", "--base", hung,
                   "--candidate", hung, scenario_, "--rounds", "2"});
  ASSERT_TRUE(exited_with(outcome, 3));
  EXPECT_EQ(outcome.err, "pollscope: ab: " + hung + " run did not end within 1.0 s: stopped\n");
  EXPECT_NE(::kill(std::atoi(read_file(pid).c_str()), 0), 0) << "the build still runs";
}

// A directory of stand-ins put first on PATH for the gate's scripts: `id` says a user that is
// not root, so that no script mounts tracefs on the machine the tests run on.
std::string stand_ins(const TempDir& dir, const std::string& cmake_body = "exit 0\n") {
  const std::filesystem::path bin = dir.path() / "bin";
  std::filesystem::create_directories(bin);
  for (const auto& [name, body] :
       {std::pair<std::string, std::string>{"id", "echo 1000\n"}, {"cmake", cmake_body}}) {
    const std::string path = dir.write("bin/" + name, "#!/bin/sh\n" + body);
    ::chmod(path.c_str(), 0755);
  }
  return bin.string() + ":" + std::getenv("PATH");
}

// scripts/gate_trials.sh once read the comparison an earlier invocation left for a trial whose
// ab wrote none (here: ab refuses one round, exit 2), and counted its verdict as this trial's.
TEST_F(PollscopeGate, GateTrialsNeverCountsAnEarlierTrialsComparison) {
  const std::filesystem::path build = dir_.path() / "build";
  std::filesystem::create_directories(build / "cli");
  std::filesystem::create_directories(build / "tests" / "pollscope");
  std::filesystem::create_symlink(POLLSCOPE_BINARY, build / "cli" / "pollscope");
  std::filesystem::create_symlink(SLOWDOWN_SHIM,
                                  build / "tests" / "pollscope" / "libpollscope_slowdown_shim.so");
  const std::string out = dir_ / "trials";
  std::filesystem::create_directories(out);
  const std::string stale = R"({"verdict": "unchanged",
    "timings": [{"metric": "events_per_second", "ratio": 1.0, "verdict": "unchanged"},
                {"metric": "cost.cpu_ns_per_event", "ratio": 1.0, "verdict": "unchanged"}],
    "counts": [{"metric": "cost.syscalls_per_event", "base": 3, "candidate": 3,
                "verdict": "unchanged"}]})";
  dir_.write("trials/same-1.json", stale);
  const Outcome outcome =
      run_program({"env", "PATH=" + stand_ins(dir_), "GATE_TRIALS_AB_ARGS=--rounds 1", "bash",
                   (kSourceDir / "scripts" / "gate_trials.sh").string(), "--build", build.string(),
                   "--out", out, "--trials", "1", "same"});
  ASSERT_TRUE(exited_with(outcome, 0)) << outcome.err;
  EXPECT_EQ(read_file(out + "/trials.tsv"), "same\t1\t2\tfailed\n");
  EXPECT_FALSE(std::filesystem::exists(out + "/same-1.json"));
}

// scripts/perf-gate.sh once left an earlier gate's outputs where a gate that failed before
// writing its own (a run failed: exit 3) put none, and appended the earlier summary to
// $GITHUB_STEP_SUMMARY as its own. Run here in a repository of its own, with a stand-in for
// cmake whose "builds" fail every run.
TEST_F(PollscopeGate, PerfGateLeavesNoEarlierGatesVerdictBehind) {
  const std::filesystem::path repo = dir_.path() / "repo";
  std::filesystem::create_directories(repo / "scripts");
  std::filesystem::copy_file(kSourceDir / "scripts" / "perf-gate.sh",
                             repo / "scripts" / "perf-gate.sh");
  const std::string git_identity[] = {"-c", "user.name=test", "-c", "user.email=test@example.com"};
  for (const std::vector<std::string>& git :
       {std::vector<std::string>{"init", "-q"}, {"add", "-A"}, {"commit", "-q", "-m", "base"}}) {
    std::vector<std::string> args = {"git", "-C", repo.string()};
    args.insert(args.end(), std::begin(git_identity), std::end(git_identity));
    args.insert(args.end(), git.begin(), git.end());
    ASSERT_TRUE(exited_with(run_program(args), 0)) << git.front();
  }
  const std::string out = (repo / "perf-gate").string();
  std::filesystem::create_directories(out);
  for (const char* name : {"ab.json", "junit.xml", "summary.md", "bencher.json"}) {
    dir_.write("repo/perf-gate/" + std::string(name), "an earlier gate's: unchanged\n");
  }
  const std::string step_summary = dir_.write("step-summary.md", "");
  const std::string failing_builds =
      "[ \"$1\" = --build ] || exit 0\nmkdir -p \"$2/cli\"\n"
      "printf '#!/bin/sh\\nexit 3\\n' >\"$2/cli/pollscope\"\nchmod +x \"$2/cli/pollscope\"\n";
  const Outcome outcome = run_program({"env", "PATH=" + stand_ins(dir_, failing_builds),
                                       "GITHUB_STEP_SUMMARY=" + step_summary, "bash",
                                       (repo / "scripts" / "perf-gate.sh").string(), "HEAD"});
  ASSERT_TRUE(exited_with(outcome, 3)) << outcome.err;
  EXPECT_EQ(read_file(step_summary), "");
  for (const char* name : {"ab.json", "junit.xml", "summary.md", "bencher.json"}) {
    EXPECT_FALSE(std::filesystem::exists(out + "/" + name)) << name;
  }
  // The base's worktree is gone with the script.
  const Outcome worktrees = run_program({"git", "-C", repo.string(), "worktree", "list"});
  EXPECT_EQ(lines_of(worktrees.out).size(), 1u) << worktrees.out;
}

TEST_F(PollscopeGate, AnUnknownFormatIsAOneLineUsageError) {
  const Outcome outcome = pollscope(
      {"compare", "--base", scenario_, "--candidate", scenario_, "--format", "yaml=" + dir_ / "x"});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "--format")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "yaml")) << outcome.err;
}

}  // namespace
}  // namespace pollscope

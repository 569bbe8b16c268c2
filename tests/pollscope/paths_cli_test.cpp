// pollscope's files under faults, end to end: where a report may go (a device, a symlink, stdout,
// a directory, a missing folder) and what a scenario may be (a FIFO, a huge file, a NUL byte,
// control characters). Each case: the exit code, one line, the state of --out, no temporary file.

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "child_process.hpp"

namespace pollscope {
namespace {

using namespace test_support;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr const char* kQuick = R"({"format": 1, "name": "quick", "description": "four unix pairs",
  "sockets": {"kind": "unix", "count": 4, "active": 2},
  "phases": [{"name": "p", "duration_ms": 50}]})";

// Twenty seconds of traffic: a command refused before the run ends long before that.
constexpr const char* kLong = R"({"format": 1, "name": "long", "description": "twenty seconds",
  "sockets": {"kind": "unix", "count": 4, "active": 2},
  "phases": [{"name": "p", "duration_ms": 20000}]})";
constexpr milliseconds kBeforeTheRun{5'000};

TEST(PollscopeOutput, ACharacterDeviceIsWrittenToNeverReplaced) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", kQuick);
  const std::string device = dir / "null";
  if (::mknod(device.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0) {
    GTEST_SKIP() << "mknod needs root";
  }
  const Outcome outcome = pollscope({"run", scenario, "-q", "--out", device});
  ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  EXPECT_EQ(outcome.out, "");
  struct stat status {};
  ASSERT_EQ(::stat(device.c_str(), &status), 0);
  EXPECT_TRUE(S_ISCHR(status.st_mode)) << "the device node was replaced";
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "null"}));
}

TEST(PollscopeOutput, ASymlinkIsFollowedAndItsTargetReplaced) {
  const TempDir dir;
  const TempDir elsewhere;
  const std::string scenario = dir.write("s.json", kQuick);
  const std::string target = elsewhere.write("real.json", "old");
  const std::string link = dir / "link.json";
  fs::create_symlink(target, link);
  const Outcome outcome = pollscope({"run", scenario, "-q", "--out", link});
  ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  EXPECT_TRUE(fs::is_symlink(link)) << "the link itself was replaced";
  const auto report = parse_report(read_file(target));
  EXPECT_EQ(report.value("verdict", ""), "pass");
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "link.json"}));
  EXPECT_EQ(elsewhere.entries(), std::set<std::string>{"real.json"});
}

// "-" is stdout; so are the names of descriptor 1, written to it directly (here a pipe).
TEST(PollscopeOutput, ADashOrDevStdoutIsWrittenToTheDescriptor) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", kQuick);
  for (const std::string out : {"-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"}) {
    SCOPED_TRACE(out);
    const Outcome outcome = pollscope({"run", scenario, "-q", "--out", out});
    ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
    EXPECT_EQ(parse_report(outcome.out).value("verdict", ""), "pass");
  }
  EXPECT_EQ(dir.entries(), std::set<std::string>{"s.json"});
}

// `>>` opened the file to append: the report goes after what it held, never over it.
TEST(PollscopeOutput, DevStdoutOnAFileKeepsWhatTheShellRedirectHeld) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", kQuick);
  const std::string log = dir.write("log", "prev\n");
  const Outcome outcome = run_program(
      {"sh", "-c",
       std::string(POLLSCOPE_BINARY) + " run -q " + scenario + " -o /dev/stdout >> " + log});
  ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  const std::string text = read_file(log);
  ASSERT_TRUE(text.starts_with("prev\n")) << text.substr(0, 200);
  EXPECT_EQ(parse_report(text.substr(5)).value("verdict", ""), "pass");
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "log"}));
}

TEST(PollscopeOutput, ADescriptorThatIsNotOpenIsRefusedBeforeTheRun) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", kLong);
  const Outcome outcome = pollscope({"run", scenario, "-q", "--out", "/dev/fd/9"}, kBeforeTheRun);
  ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "/dev/fd/9: descriptor 9 is not open")) << outcome.err;
}

TEST(PollscopeOutput, ADirectoryOrAMissingFolderIsRefusedBeforeTheRun) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", kLong);
  fs::create_directory(dir / "reports");
  for (const auto& [out, reason] : {std::pair{dir / "reports", "is a directory"},
                                    std::pair{dir / "missing/report.json", "the folder"}}) {
    SCOPED_TRACE(out);
    const Outcome outcome = pollscope({"run", scenario, "-q", "--out", out}, kBeforeTheRun);
    ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
    EXPECT_TRUE(one_line(outcome.err));
    EXPECT_TRUE(contains(outcome.err, out + ": " + reason)) << outcome.err;
  }
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "reports"}));
  EXPECT_TRUE(fs::is_empty(dir / "reports"));
}

TEST(PollscopeOutput, AnUnwritablePathFailsBeforeTheRun) {
  const TempDir dir;
  const std::string scenario = dir.write("s.json", kLong);
  const std::string out = "/proc/self/report.json";  // a folder nobody may create files in
  const Outcome outcome = pollscope({"run", scenario, "-q", "--out", out}, kBeforeTheRun);
  ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, out + ": cannot write")) << outcome.err;
  EXPECT_EQ(dir.entries(), std::set<std::string>{"s.json"});
}

// A file its owner made read-only is refused before the run, not renamed over (the shell's `>`
// would not write it either). Root may write any file: as root, pollscope runs as nobody.
TEST(PollscopeOutput, AReadOnlyFileIsRefusedNotReplaced) {
  const bool root = ::geteuid() == 0;
  if (root && std::system("setpriv --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no setpriv";
  const TempDir dir;
  fs::permissions(dir.path(), fs::perms::all);
  const std::string scenario = dir.write("s.json", kLong);
  const std::string out = dir.write("kept.json", "kept");
  if (root) ASSERT_EQ(::chown(out.c_str(), 65534, 65534), 0);
  fs::permissions(out, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  std::vector<std::string> argv = {POLLSCOPE_BINARY, "run", scenario, "-q", "--out", out};
  if (root) {
    argv.insert(argv.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  }
  const Outcome outcome = run_program(argv, kBeforeTheRun);
  ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, out + ": cannot write: Permission denied")) << outcome.err;
  EXPECT_EQ(read_file(out), "kept");
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"s.json", "kept.json"}));
}

Outcome validate(const std::string& path) {
  return pollscope({"validate", path}, kBeforeTheRun);
}

void expect_refused(const Outcome& outcome, const std::string& message) {
  ASSERT_TRUE(exited_with(outcome, 2)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, message)) << outcome.err;
}

TEST(PollscopeInput, AFifoIsRefusedAtOnceNotWaitedOn) {
  const TempDir dir;
  const std::string fifo = dir / "scenario.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_refused(validate(fifo), fifo + ": not a regular file (a FIFO)");
  const TempDir reports;
  const std::string out = reports / "r.json";
  expect_refused(pollscope({"run", fifo, "-q", "--out", out}, kBeforeTheRun), "a FIFO");
  EXPECT_TRUE(reports.entries().empty());
}

TEST(PollscopeInput, AFileOverTheCapIsRefusedBeforeReading) {
  const TempDir dir;
  const std::string big = dir / "big.json";
  // Sparse: 17 MiB that take no room, and would take long to read as zeros.
  fs::resize_file(dir.write("big.json", "{"), std::uintmax_t{17} << 20);
  expect_refused(validate(big), big + ": larger than the 16 MiB limit");
  expect_refused(validate("/dev/zero"), "/dev/zero: not a regular file (a character device)");
}

TEST(PollscopeInput, ANulByteIsAnErrorAtItsOffset) {
  const TempDir dir;
  const std::string text = std::string(kQuick) + std::string("\0garbage", 8);
  const std::string path = dir.write("nul.json", text);
  expect_refused(validate(path),
                 path + ": a NUL byte at offset " + std::to_string(std::string(kQuick).size()));
}

TEST(PollscopeInput, ADeeplyNestedScenarioIsRefusedNotACrash) {
  const TempDir dir;
  const std::string deep =
      dir.write("deep.json", R"({"format": 1, "name": "deep", "sockets": {"kind": )" +
                                 std::string(50'000, '[') + std::string(50'000, ']') + "}}");
  expect_refused(validate(deep), deep + ": nested deeper than 64 levels");
  expect_refused(pollscope({"run", deep, "-q", "--out", dir / "r.json"}, kBeforeTheRun),
                 deep + ": nested deeper than 64 levels");
  EXPECT_EQ(dir.entries(), std::set<std::string>{"deep.json"});
}

TEST(PollscopeInput, StdinIsADash) {
  const TempDir dir;
  const std::string path = dir.write("s.json", kQuick);
  const Outcome outcome =
      run_program({"sh", "-c", std::string(POLLSCOPE_BINARY) + " validate - < " + path});
  ASSERT_TRUE(exited_with(outcome, 0)) << describe(outcome);
  EXPECT_TRUE(contains(outcome.out, "-: valid: scenario \"quick\"")) << outcome.out;
}

// Stdin is read once: a second reader (a repetition, the run under callgrind, the baseline, a
// second report) would find it empty. Refused before anything reads it, naming the option.
TEST(PollscopeInput, StdinGivenForTwoReadersIsRefused) {
  const TempDir dir;
  const std::string path = dir.write("s.json", kQuick);
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"run - -q --repeat 2",
            "--repeat: the scenario is on stdin (-), which can be read once"},
           {"run - -q --instructions", "--instructions: the scenario is on stdin (-)"},
           {"run - -q --baseline -", "--baseline -: the scenario is on stdin (-)"},
           {"compare - -", "-: stdin is given for two reports and can be read once"},
           {"compare --base - --candidate -", "-: stdin is given for two reports"}}) {
    SCOPED_TRACE(args);
    const Outcome outcome = run_program(
        {"sh", "-c", std::string(POLLSCOPE_BINARY) + " " + args + " < " + path}, kBeforeTheRun);
    expect_refused(outcome, "pollscope: " + message);
    EXPECT_EQ(outcome.out, "");
  }
  EXPECT_EQ(dir.entries(), std::set<std::string>{"s.json"});
}

TEST(PollscopeInput, ControlCharactersAreEscapedOnTheTerminal) {
  const TempDir dir;
  dir.write("esc.json", R"({"format": 1, "name": "esc",
    "description": "clears \u001b[2J the \u009b screen\u001b]0;x\u0007",
    "sockets": {"kind": "unix", "count": 2, "active": 1},
    "phases": [{"name": "p", "duration_ms": 10}]})");
  const Outcome listed = pollscope({"scenarios", "--dir", dir.path().string()});
  ASSERT_TRUE(exited_with(listed, 0)) << describe(listed);
  EXPECT_EQ(listed.out.find('\x1b'), std::string::npos);
  EXPECT_TRUE(contains(listed.out, "clears \\x1b[2J the \\u009b screen\\x1b]0;x\\x07"))
      << listed.out;
}

// A key, a file name or the parser's excerpt of the text may hold a newline or bytes that are
// not UTF-8: the message escapes them and stays one line.
TEST(PollscopeInput, ErrorMessagesStayOneLineWhateverTheNamesHold) {
  const TempDir dir;
  const std::string key = dir.write("key.json", R"({"format": 1, "bogus\nkey": 1})");
  expect_refused(validate(key), key + ": /bogus\\x0akey: unknown key");
  const std::string bytes = dir.write("bytes.json", "{\"format\": 1, \"name\": \"t\xff\"}");
  const Outcome invalid = validate(bytes);
  expect_refused(invalid, bytes + ": not valid JSON: ");
  EXPECT_TRUE(contains(invalid.err, "\\xff")) << invalid.err;
  EXPECT_FALSE(contains(invalid.err, "\xff")) << "a byte that is not UTF-8 was echoed";
  const std::string name = dir.write("new\nline.json", "[]");
  expect_refused(validate(name), dir / "new\\x0aline.json: the document must be a JSON object");
}

// 100,000 unix pairs all active, 1024 in flight of 64 KiB: 14 GiB at worst.
constexpr const char* kGreedy = R"({"format": 1, "name": "greedy", "description": "too much",
  "sockets": {"kind": "unix", "count": 100000, "active": 100000},
  "phases": [{"name": "p", "duration_ms": 1000, "payload_bytes": 65536,
              "load": {"mode": "closed", "in_flight": 1024}}]})";

TEST(PollscopeMemory, AScenarioOverTheBudgetIsRefusedNamingTheFigures) {
  const TempDir dir;
  const std::string path = dir.write("greedy.json", kGreedy);
  const std::string reason = path +
                             ": /phases/0: phase \"p\" may buffer 14063 MiB (100000 active pairs x "
                             "(2 x 65536 payload bytes + 1024 messages owed x 16 bytes)), over "
                             "the 1024 MiB memory budget (--memory-budget MIB raises it)";
  expect_refused(validate(path), reason);
  const TempDir reports;
  expect_refused(pollscope({"run", path, "-q", "--out", reports / "r.json"}, kBeforeTheRun),
                 reason);
  EXPECT_TRUE(reports.entries().empty());
  const Outcome raised = pollscope({"validate", path, "--memory-budget", "15000"});
  EXPECT_TRUE(exited_with(raised, 0)) << describe(raised);
  // ab's runs, with the default budget, would each refuse it: refused before the first round.
  expect_refused(pollscope({"ab", "--base", POLLSCOPE_BINARY, "--candidate", POLLSCOPE_BINARY, path,
                            "-o", reports / "ab.json"},
                           kBeforeTheRun),
                 reason);
  EXPECT_TRUE(reports.entries().empty());
  const Outcome listed = pollscope({"scenarios", "--dir", dir.path().string()});
  ASSERT_TRUE(exited_with(listed, 2)) << describe(listed);
  EXPECT_EQ(listed.err, "pollscope: " + reason + "\n");
  EXPECT_EQ(listed.out, "");
}

// The descriptors each of ab's runs would need, checked once before any round: one line, exit 3.
TEST(PollscopeLimits, AbRefusesAScenarioPastTheDescriptorLimitBeforeAnyRound) {
  const TempDir dir;
  const std::string scenario = dir.write("many.json", R"({"format": 1, "name": "many",
    "description": "a thousand unix pairs", "sockets": {"kind": "unix", "count": 1000, "active": 2},
    "phases": [{"name": "p", "duration_ms": 50}]})");
  // ulimit -n without -S or -H lowers the hard limit too, which root could raise again.
  const Outcome outcome =
      run_program({"sh", "-c",
                   "ulimit -n 256 && exec " POLLSCOPE_BINARY " ab --base " POLLSCOPE_BINARY
                   " --candidate " POLLSCOPE_BINARY " -q -o " +
                       dir / "ab.json" + " " + scenario},
                  kBeforeTheRun);
  ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(outcome.err.starts_with("pollscope: " + scenario + ": /sockets/count: "))
      << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "RLIMIT_NOFILE allows 256")) << outcome.err;
  EXPECT_EQ(dir.entries(), std::set<std::string>{"many.json"});
}

// The scenario that grew to 4 GB and aborted: 200 unix pairs all active, 1024 messages of 64 KiB
// in flight each, for a second. What a pair buffers is bounded now: the run stays small.
TEST(PollscopeMemory, ManyLargeMessagesInFlightStayWithinBoundedMemory) {
  const TempDir dir;
  const std::string path = dir.write("heavy.json", R"({"format": 1, "name": "heavy",
    "description": "200 pairs x 1024 in flight x 64 KiB",
    "sockets": {"kind": "unix", "count": 200, "active": 200},
    "phases": [{"name": "p", "duration_ms": 1000, "payload_bytes": 65536,
                "load": {"mode": "closed", "in_flight": 1024}}]})");
  const Outcome outcome = pollscope({"run", path, "-q", "--out", dir / "r.json"});
  ASSERT_TRUE(outcome.exited && outcome.exit_code <= 1) << describe(outcome);
  const auto report = parse_report(read_file(dir / "r.json"));
  const auto peak_kib = report.at("context").at("peak_rss_kib").value("total", 0u);
  EXPECT_GT(peak_kib, 0u);
  EXPECT_LT(peak_kib, 256u * 1024) << "peak resident memory over 256 MiB";
  EXPECT_GT(report.at("overall").value("messages", 0u), 0u);
}

}  // namespace
}  // namespace pollscope

// The pollscope binary end to end: each test runs it as a child process (posix_spawn, stdout and
// stderr captured through pipes, a bounded wait) and checks its exit code, its output and the
// report it writes: usage errors, the malformed scenarios under bad_scenarios/, the shipped
// scenarios, a small run whose report is checked against cli/report.schema.json, failing
// thresholds, unwritable reports, the leak check and an interrupted run.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bad_scenarios_table.hpp"

extern char** environ;

namespace pollscope {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kRunLimit{60'000};
constexpr milliseconds kInterruptLimit{10'000};

const fs::path kSourceDir = POLLSCOPE_SOURCE_DIR;
const fs::path kShippedDir = kSourceDir / "scenarios";
const fs::path kBadScenariosDir = kSourceDir / "tests" / "pollscope" / "bad_scenarios";
const fs::path kReportSchema = kSourceDir / "cli" / "report.schema.json";
const fs::path kValidateReport = kSourceDir / "tests" / "pollscope" / "validate_report.py";

// How a child process ended, and what it wrote.
struct Outcome {
  bool started = false;    // posix_spawn succeeded
  bool timed_out = false;  // killed, or its output still open, after the time limit
  bool exited = false;     // ended by exit(), not by a signal
  int exit_code = -1;
  int signal = 0;  // the signal that ended it, when it did not exit
  std::string out;
  std::string err;
};

void sleep_briefly(milliseconds interval) {
  timespec pause{};
  pause.tv_nsec = static_cast<long>(interval.count()) * 1'000'000L;
  while (::nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

// A child process with its stdout and stderr on pipes. The destructor kills and reaps a child that
// is still running, so that no test leaves one behind.
class Child {
 public:
  // argv[0] is looked up in PATH when it has no slash.
  explicit Child(const std::vector<std::string>& argv) {
    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      spawn_error_ = std::string("pipe2: ") + std::strerror(errno);
      for (int fd : {out[0], out[1], err[0], err[1]}) {
        if (fd >= 0) ::close(fd);
      }
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    // Nothing else the test process has open (the runner's descriptors) reaches the child.
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
#endif
    // The child starts with the default dispositions and no blocked signal, whatever the test
    // runner was started with (a shell running it in the background ignores SIGINT).
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int signal : {SIGINT, SIGTERM, SIGPIPE, SIGHUP}) sigaddset(&defaults, signal);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    // In a process group of its own, so that a timeout kills whatever it started too.
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(
        &attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    const int error = ::posix_spawnp(&pid_, args[0], &actions, &attributes, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    ::close(out[1]);
    ::close(err[1]);
    if (error != 0) {
      spawn_error_ = argv[0] + ": cannot start: " + std::strerror(error);
      pid_ = -1;
      ::close(out[0]);
      ::close(err[0]);
      return;
    }
    out_ = out[0];
    err_ = err[0];
    for (int fd : {out_, err_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
#ifdef SYS_pidfd_open
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
#endif
  }

  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    for (int fd : {out_, err_, pidfd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  [[nodiscard]] pid_t pid() const {
    return pid_;
  }
  [[nodiscard]] bool started() const {
    return pid_ > 0;
  }
  [[nodiscard]] const std::string& spawn_error() const {
    return spawn_error_;
  }

  // Reads both outputs until they close and the child has ended, for at most `limit`; after that
  // the child is killed and the outcome says it timed out.
  Outcome wait(milliseconds limit) {
    Outcome outcome;
    outcome.started = started();
    if (!started()) {
      outcome.err = spawn_error_;
      return outcome;
    }
    const auto deadline = steady_clock::now() + limit;
    int status = 0;
    while (out_ >= 0 || err_ >= 0 || !reaped_) {
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()).count();
      if (left <= 0) {
        outcome.timed_out = true;
        break;
      }
      std::vector<pollfd> watched;
      for (int fd : {out_, err_}) {
        if (fd >= 0) watched.push_back({fd, POLLIN, 0});
      }
      if (!reaped_ && pidfd_ >= 0) watched.push_back({pidfd_, POLLIN, 0});
      // Without a pidfd the child's end is only seen by asking, every few milliseconds.
      const int timeout =
          pidfd_ >= 0 ? static_cast<int>(left) : static_cast<int>(std::min<long long>(left, 5));
      if (::poll(watched.data(), watched.size(), timeout) < 0 && errno != EINTR) {
        ADD_FAILURE() << "poll: " << std::strerror(errno);
        outcome.timed_out = true;
        break;
      }
      drain(out_, outcome.out);
      drain(err_, outcome.err);
      if (!reaped_) {
        const pid_t ended = ::waitpid(pid_, &status, WNOHANG);
        if (ended == pid_) reaped_ = true;
      }
    }
    if (outcome.timed_out) {
      // The child, or what it started and that still holds its output.
      ::kill(-pid_, SIGKILL);
      if (!reaped_) {
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        reaped_ = true;
        return outcome;
      }
    }
    outcome.exited = WIFEXITED(status);
    if (outcome.exited) outcome.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
    return outcome;
  }

 private:
  // Appends what `fd` holds now; closes it (and sets it to -1) at end of file.
  static void drain(int& fd, std::string& text) {
    if (fd < 0) return;
    char buffer[65536];
    while (true) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        text.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        ::close(fd);
        fd = -1;
      }
      return;
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  std::string spawn_error_;
};

Outcome run_program(const std::vector<std::string>& argv, milliseconds limit = kRunLimit) {
  Child child(argv);
  return child.wait(limit);
}

// Runs pollscope with `args`.
Outcome pollscope(const std::vector<std::string>& args, milliseconds limit = kRunLimit) {
  std::vector<std::string> argv{POLLSCOPE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, limit);
}

std::string describe(const Outcome& outcome) {
  std::string text;
  if (!outcome.started) return "did not start: " + outcome.err;
  if (outcome.timed_out && outcome.exited) {
    text = "exited with " + std::to_string(outcome.exit_code) +
           ", but its output stayed open past the time limit (something it started holds it)";
  } else if (outcome.timed_out) {
    text = "timed out and was killed";
  } else if (!outcome.exited) {
    text = "was killed by signal " + std::to_string(outcome.signal) + " (" +
           strsignal(outcome.signal) + ")";
  } else {
    text = "exited with " + std::to_string(outcome.exit_code);
  }
  return text + "\n--- stderr:\n" + outcome.err + "--- stdout (" +
         std::to_string(outcome.out.size()) + " bytes):\n" + outcome.out.substr(0, 2000);
}

// The process exited (not by a signal, not killed for its time) with `code`.
::testing::AssertionResult exited_with(const Outcome& outcome, int code) {
  if (outcome.started && !outcome.timed_out && outcome.exited && outcome.exit_code == code) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "wanted exit code " << code << ", but it " << describe(outcome);
}

// Exactly one line, ending with a newline.
::testing::AssertionResult one_line(const std::string& text) {
  if (!text.empty() && text.back() == '\n' && std::count(text.begin(), text.end(), '\n') == 1) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "not exactly one line: \"" << text << "\"";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// The report, or a test failure (and a null document) when it is not JSON.
json parse_report(const std::string& text) {
  json report = json::parse(text, nullptr, false);
  if (report.is_discarded()) {
    ADD_FAILURE() << "the report is not JSON: " << text.substr(0, 2000);
    return json();
  }
  return report;
}

// A fresh directory, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "pollscope_cli_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const fs::path& path() const { return path_; }
  [[nodiscard]] std::string operator/(const std::string& name) const {
    return (path_ / name).string();
  }

  std::string write(const std::string& name, const std::string& text) const {
    const fs::path file = path_ / name;
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }

  // The names of what the directory holds.
  [[nodiscard]] std::set<std::string> entries() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_)) {
      names.insert(entry.path().filename().string());
    }
    return names;
  }

 private:
  fs::path path_;
};

// 4 TCP pairs, 2 of them active, one phase of 300 messages: well under a second.
std::string tiny_scenario(const std::string& thresholds = R"(["leaks.total == 0"])") {
  return R"({
    "format": 1,
    "name": "tiny",
    "description": "four TCP pairs, two active, 300 messages",
    "sockets": {"kind": "tcp", "count": 4, "active": 2},
    "phases": [{"name": "steady", "messages": 300}],
    "thresholds": )" +
         thresholds + "\n}\n";
}

// Whether python3 and its jsonschema module are here (scripts/setup.sh installs them).
bool have_jsonschema() {
  static const bool have = [] {
    const Outcome outcome = run_program({"python3", "-c", "import jsonschema"});
    return outcome.started && outcome.exited && outcome.exit_code == 0;
  }();
  return have;
}

// Checks the report against cli/report.schema.json with validate_report.py.
void expect_valid_report(const std::string& report_path) {
  if (!have_jsonschema()) {
    std::cerr << "note: python3 -c 'import jsonschema' fails: report not checked against the "
                 "schema (scripts/setup.sh installs python3-jsonschema)\n";
    return;
  }
  const Outcome outcome =
      run_program({"python3", kValidateReport.string(), kReportSchema.string(), report_path});
  EXPECT_TRUE(exited_with(outcome, 0));
}

// The shipped scenario files (not the schema), by name.
std::set<std::string> shipped_scenario_names() {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(kShippedDir)) {
    const fs::path& path = entry.path();
    if (path.extension() == ".json" && !contains(path.filename().string(), ".schema.")) {
      names.insert(path.stem().string());
    }
  }
  return names;
}

TEST(PollscopeUsage, HelpListsTheSubcommandsAndTheExitCodes) {
  const Outcome outcome = pollscope({"--help"});
  ASSERT_TRUE(exited_with(outcome, 0));
  for (const char* subcommand : {"run", "validate", "scenarios"}) {
    bool listed = false;
    for (const std::string& line : lines_of(outcome.out)) {
      listed = listed || line.starts_with(std::string("  ") + subcommand + " ");
    }
    EXPECT_TRUE(listed) << subcommand << " is not listed in:\n" << outcome.out;
  }
  const auto block = outcome.out.find("Exit codes:\n");
  ASSERT_NE(block, std::string::npos) << outcome.out;
  const auto codes = lines_of(outcome.out.substr(block));
  for (const char* code : {"0", "1", "2", "3", "130"}) {
    const std::string prefix = std::string("  ") + code + " ";
    EXPECT_TRUE(std::any_of(codes.begin(), codes.end(),
                            [&](const std::string& line) { return line.starts_with(prefix); }))
        << "exit code " << code << " is not described in:\n"
        << outcome.out;
  }
}

TEST(PollscopeUsage, VersionPrintsTheToolAndItsVersion) {
  const Outcome outcome = pollscope({"--version"});
  ASSERT_TRUE(exited_with(outcome, 0));
  ASSERT_TRUE(one_line(outcome.out));
  const std::string prefix = "pollscope ";
  ASSERT_TRUE(outcome.out.starts_with(prefix)) << outcome.out;
  const std::string version =
      outcome.out.substr(prefix.size(), outcome.out.size() - 1 - prefix.size());
  ASSERT_FALSE(version.empty());
  EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(version[0]))) << version;
  EXPECT_EQ(std::count(version.begin(), version.end(), '.'), 2) << version;
}

TEST(PollscopeUsage, NoSubcommandIsAUsageError) {
  const Outcome outcome = pollscope({});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(outcome.err.starts_with("pollscope: ")) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

TEST(PollscopeUsage, UnknownFlagIsAUsageErrorNamingIt) {
  const Outcome outcome = pollscope({"run", "--bogus"});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "--bogus")) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

TEST(PollscopeUsage, UnknownBackendIsAUsageError) {
  const Outcome outcome = pollscope({"run", "--backend", "kqueue"});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "kqueue")) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

TEST(PollscopeUsage, MissingScenarioFileIsOneLineNamingIt) {
  const Outcome outcome = pollscope({"run", "/nonexistent.json"});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(contains(outcome.err, "/nonexistent.json")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, "cannot read")) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

using test_support::BadScenario;

std::vector<BadScenario> read_bad_scenarios_readme() {
  return test_support::read_bad_scenarios_table(kBadScenariosDir / "README.md");
}

std::vector<std::string> bad_scenario_files() {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(kBadScenariosDir, error)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(PollscopeBadScenarios, AreThereToTest) {
  // The parameterized suite below has one test per file: none would pass silently.
  EXPECT_GE(bad_scenario_files().size(), 14u) << kBadScenariosDir;
}

class PollscopeBadScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(PollscopeBadScenario, ValidateAndRunRejectItWithTheSameLine) {
  const std::string& name = GetParam();
  const auto rows = read_bad_scenarios_readme();
  const auto row = std::find_if(rows.begin(), rows.end(), [&](const BadScenario& candidate) {
    return candidate.file == name;
  });
  ASSERT_NE(row, rows.end()) << name << " has no row in " << kBadScenariosDir / "README.md";
  const std::string file = (kBadScenariosDir / name).string();

  const Outcome validated = pollscope({"validate", file});
  ASSERT_TRUE(exited_with(validated, 2));
  ASSERT_TRUE(one_line(validated.err));
  EXPECT_EQ(validated.out, "");
  // README: "FILE: PATH: REASON", or "FILE: REASON" when the path is empty.
  const std::string prefix =
      "pollscope: " + file + ": " + (row->path.empty() ? "" : row->path + ": ");
  EXPECT_TRUE(validated.err.starts_with(prefix))
      << "wanted a line starting \"" << prefix << "\", got: " << validated.err;
  for (const std::string& fragment : row->fragments) {
    EXPECT_TRUE(contains(validated.err, fragment))
        << "missing \"" << fragment << "\" in: " << validated.err;
  }

  const Outcome ran = pollscope({"run", file});
  ASSERT_TRUE(exited_with(ran, 2));
  EXPECT_EQ(ran.err, validated.err);
  EXPECT_EQ(ran.out, "");
}

std::string test_name_of(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = fs::path(info.param).stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Files, PollscopeBadScenario, ::testing::ValuesIn(bad_scenario_files()),
                         test_name_of);

TEST(PollscopeShipped, ValidateAcceptsEachShippedScenario) {
  const auto names = shipped_scenario_names();
  ASSERT_EQ(names.size(), 8u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const std::string file = (kShippedDir / (name + ".json")).string();
    const Outcome outcome = pollscope({"validate", file});
    EXPECT_TRUE(exited_with(outcome, 0));
    EXPECT_TRUE(one_line(outcome.out));
    EXPECT_TRUE(outcome.out.starts_with(file + ": valid: scenario \"" + name + "\""))
        << outcome.out;
    EXPECT_EQ(outcome.err, "");
  }
}

TEST(PollscopeShipped, ScenariosListsEachOnOneLineStartingWithItsName) {
  const auto names = shipped_scenario_names();
  const Outcome outcome = pollscope({"scenarios", "--dir", kShippedDir.string()});
  ASSERT_TRUE(exited_with(outcome, 0));
  EXPECT_EQ(outcome.err, "");
  const auto lines = lines_of(outcome.out);
  ASSERT_EQ(lines.size(), 8u) << outcome.out;
  std::set<std::string> listed;
  for (const std::string& line : lines) {
    const std::string name = line.substr(0, line.find(' '));
    EXPECT_TRUE(names.contains(name)) << "not a shipped scenario: " << line;
    EXPECT_TRUE(listed.insert(name).second) << name << " is listed twice";
    EXPECT_GT(line.size(), name.size() + 1) << "no description: " << line;
  }
  EXPECT_EQ(listed, names);
}

TEST(PollscopeRun, WritesAValidReportToOutAtomically) {
  const TempDir scenarios;
  const TempDir reports;
  const std::string scenario = scenarios.write("tiny.json", tiny_scenario());
  const std::string report_path = reports / "report.json";

  const Outcome outcome = pollscope({"run", scenario, "--out", report_path, "-q"});
  ASSERT_TRUE(exited_with(outcome, 0));
  EXPECT_EQ(outcome.out, "");
  EXPECT_EQ(outcome.err, "");
  ASSERT_TRUE(fs::is_regular_file(report_path));
  // Written through a temporary file and a rename: nothing else is left beside it.
  EXPECT_EQ(reports.entries(), std::set<std::string>{"report.json"});

  const json report = parse_report(read_file(report_path));
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("verdict", ""), "pass");
  EXPECT_EQ(report.value("interrupted", true), false);
  EXPECT_EQ(report.at("context").value("scenario", ""), "tiny");
  ASSERT_EQ(report.at("phases").size(), 1u);
  EXPECT_EQ(report.at("phases").at(0).value("name", ""), "steady");
  EXPECT_GE(report.at("overall").value("messages", 0u), 300u);
  EXPECT_EQ(report.at("leaks").value("total", 1u), 0u);

  // Last, as the only part that needs python3-jsonschema (scripts/setup.sh installs it).
  if (!have_jsonschema()) GTEST_SKIP() << "python3 -c 'import jsonschema' fails: not checked";
  expect_valid_report(report_path);
}

TEST(PollscopeRun, WritesTheReportToStdoutWithoutOut) {
  const TempDir scenarios;
  const std::string scenario = scenarios.write("tiny.json", tiny_scenario());

  const Outcome outcome = pollscope({"run", scenario});
  ASSERT_TRUE(exited_with(outcome, 0));
  const json report = parse_report(outcome.out);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("verdict", ""), "pass");
  // Without -q, a summary for a person goes to stderr (and nothing else to stdout).
  EXPECT_TRUE(contains(outcome.err, "verdict: pass")) << outcome.err;
  EXPECT_EQ(scenarios.entries(), std::set<std::string>{"tiny.json"});
}

TEST(PollscopeRun, FailingThresholdExitsOneWithVerdictFail) {
  const TempDir scenarios;
  const TempDir reports;
  // A latency is never below 0: the first threshold cannot hold.
  const std::string scenario =
      scenarios.write("tiny.json", tiny_scenario(R"(["latency_ns.p50 < 0", "leaks.total == 0"])"));
  const std::string report_path = reports / "report.json";

  const Outcome outcome = pollscope({"run", scenario, "--out", report_path, "-q"});
  ASSERT_TRUE(exited_with(outcome, 1));
  EXPECT_EQ(outcome.out, "");
  expect_valid_report(report_path);
  const json report = parse_report(read_file(report_path));
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("verdict", ""), "fail");
  ASSERT_EQ(report.at("thresholds").size(), 2u);
  EXPECT_EQ(report.at("thresholds").at(0).value("metric", ""), "latency_ns.p50");
  EXPECT_EQ(report.at("thresholds").at(0).value("pass", true), false);
  EXPECT_EQ(report.at("thresholds").at(1).value("pass", false), true);
}

TEST(PollscopeRun, OutInAMissingDirectoryIsAnEnvironmentError) {
  const TempDir scenarios;
  const TempDir reports;
  const std::string scenario = scenarios.write("tiny.json", tiny_scenario());
  const std::string report_path = reports / "missing/report.json";

  const Outcome outcome = pollscope({"run", scenario, "--out", report_path});
  ASSERT_TRUE(exited_with(outcome, 3));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_TRUE(outcome.err.starts_with("pollscope: ")) << outcome.err;
  EXPECT_TRUE(contains(outcome.err, report_path)) << outcome.err;
  EXPECT_EQ(outcome.out, "");
  EXPECT_EQ(reports.entries(), std::set<std::string>{});
}

TEST(PollscopeRun, InvalidScenarioLeavesAnExistingReportUntouched) {
  const TempDir reports;
  const std::string sentinel = "an earlier report, kept\n";
  const std::string report_path = reports.write("report.json", sentinel);
  const std::string scenario = (kBadScenariosDir / "wrong_type.json").string();

  const Outcome outcome = pollscope({"run", scenario, "--out", report_path, "-q"});
  ASSERT_TRUE(exited_with(outcome, 2));
  EXPECT_TRUE(one_line(outcome.err));
  EXPECT_EQ(read_file(report_path), sentinel);
  EXPECT_EQ(reports.entries(), std::set<std::string>{"report.json"});
}

class PollscopeLeakInjection : public ::testing::TestWithParam<std::string> {};

TEST_P(PollscopeLeakInjection, FindsExactlyTheInjectedMistakes) {
  const std::string& backend = GetParam();
  const std::string scenario = (kShippedDir / "leak_injection.json").string();

  const Outcome outcome = pollscope({"run", scenario, "--backend", backend, "-q"});
  ASSERT_TRUE(exited_with(outcome, 0));
  const json report = parse_report(outcome.out);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.at("context").value("backend", ""), backend);
  const json& leaks = report.at("leaks");
  EXPECT_EQ(leaks.value("leaked", 0u), 3u);
  EXPECT_EQ(leaks.value("vanished", 0u), 2u);
  EXPECT_EQ(leaks.value("zombie", 0u), 1u);
  EXPECT_EQ(leaks.value("total", 0u), 6u);
  ASSERT_TRUE(leaks.at("details").is_array());
  EXPECT_EQ(leaks.at("details").size(), 6u);
  for (const json& detail : leaks.at("details")) {
    EXPECT_NE(detail.value("site", ""), "") << detail.dump();
  }
  EXPECT_EQ(report.value("verdict", ""), "pass");
}

INSTANTIATE_TEST_SUITE_P(Backends, PollscopeLeakInjection, ::testing::Values("epoll", "poll"),
                         test_name_of);

// The descriptors `pid` has open now (0 once it has ended).
std::size_t open_descriptors(pid_t pid) {
  std::error_code error;
  std::size_t count = 0;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error), end;
       !error && it != end; it.increment(error)) {
    ++count;
  }
  return count;
}

TEST(PollscopeRun, SigintEndsTheRunWithAPartialReport) {
  const TempDir scenarios;
  const TempDir reports;
  const std::string scenario = scenarios.write("long.json", R"({
    "format": 1,
    "name": "long",
    "description": "fifty TCP pairs, ten active, for twenty seconds unless interrupted",
    "sockets": {"kind": "tcp", "count": 50, "active": 10},
    "phases": [{"name": "steady", "duration_ms": 20000}],
    "thresholds": ["leaks.total == 0"]
  })");
  const std::string report_path = reports / "report.json";

  Child child({POLLSCOPE_BINARY, "run", scenario, "--out", report_path, "-q"});
  ASSERT_TRUE(child.started()) << child.spawn_error();
  // The run is under way once its 100 sockets are open (the handler for SIGINT is installed
  // before the first one): wait for that, a bounded wait on what /proc shows.
  const auto deadline = steady_clock::now() + milliseconds(10'000);
  std::size_t descriptors = 0;
  while ((descriptors = open_descriptors(child.pid())) <= 100 && steady_clock::now() < deadline) {
    sleep_briefly(milliseconds(2));
  }
  ASSERT_GT(descriptors, 100u) << "the run did not open its sockets within 10 s";

  ASSERT_EQ(::kill(child.pid(), SIGINT), 0) << std::strerror(errno);
  const Outcome outcome = child.wait(kInterruptLimit);
  ASSERT_TRUE(exited_with(outcome, 130));
  EXPECT_EQ(outcome.out, "");

  ASSERT_TRUE(fs::is_regular_file(report_path));
  EXPECT_EQ(reports.entries(), std::set<std::string>{"report.json"});
  expect_valid_report(report_path);
  const json report = parse_report(read_file(report_path));
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("interrupted", false), true);
  EXPECT_EQ(report.value("verdict", ""), "interrupted");
  // Torn down as usual: every registration was deregistered.
  EXPECT_EQ(report.at("leaks").value("total", 1u), 0u);
  EXPECT_LT(report.at("overall").value("duration_s", 20.0), 15.0);
}

// With worker processes, a SIGINT sent to the parent alone (not to the whole process group, as a
// terminal's Ctrl-C would) still ends every worker: the parent passes it on.
TEST(PollscopeRun, SigintToTheParentAloneStopsEveryWorker) {
  const TempDir scenarios;
  const TempDir reports;
  const std::string scenario = scenarios.write("workers.json", R"({
    "format": 1,
    "name": "workers",
    "description": "two worker processes for twenty seconds unless interrupted",
    "workers": 2,
    "sockets": {"kind": "unix", "count": 40, "active": 4},
    "phases": [{"name": "steady", "duration_ms": 20000}]
  })");
  const std::string report_path = reports / "report.json";

  Child child({POLLSCOPE_BINARY, "run", scenario, "--out", report_path, "-q"});
  ASSERT_TRUE(child.started()) << child.spawn_error();
  // Under way once both workers hold their 40 descriptors: read the parent's children from
  // /proc, a bounded wait on what the kernel shows.
  const auto children_descriptors = [&] {
    std::ifstream list("/proc/" + std::to_string(child.pid()) + "/task/" +
                       std::to_string(child.pid()) + "/children");
    std::size_t total = 0;
    for (pid_t worker = 0; list >> worker;) total += open_descriptors(worker);
    return total;
  };
  const auto deadline = steady_clock::now() + milliseconds(10'000);
  while (children_descriptors() <= 80 && steady_clock::now() < deadline) {
    sleep_briefly(milliseconds(2));
  }
  ASSERT_GT(children_descriptors(), 80u) << "the workers did not open their sockets within 10 s";

  ASSERT_EQ(::kill(child.pid(), SIGINT), 0) << std::strerror(errno);
  const Outcome outcome = child.wait(kInterruptLimit);
  ASSERT_TRUE(exited_with(outcome, 130));
  const json report = parse_report(read_file(report_path));
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report.value("verdict", ""), "interrupted");
  EXPECT_EQ(report.at("leaks").value("total", 1u), 0u);
  EXPECT_LT(report.at("overall").value("duration_s", 20.0), 15.0);
}

}  // namespace
}  // namespace pollscope

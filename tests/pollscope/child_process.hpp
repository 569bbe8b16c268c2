#pragma once

// Running the pollscope binary from a test: a child process with its stdout and stderr on
// pipes and a bounded wait, assertions on how it ended and what it printed, scratch
// directories, and the check of a JSON document against its schema (validate_report.py).
// Used by the end-to-end suites (cli_test.cpp, compare_cli_test.cpp).

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pollscope::test_support {

inline const std::filesystem::path kSourceDir = POLLSCOPE_SOURCE_DIR;
inline const std::filesystem::path kReportSchema = kSourceDir / "cli" / "report.schema.json";
inline const std::filesystem::path kComparisonSchema =
    kSourceDir / "cli" / "comparison.schema.json";
inline const std::filesystem::path kValidateReport =
    kSourceDir / "tests" / "pollscope" / "validate_report.py";

// How long one pollscope run may take before it is killed.
inline constexpr std::chrono::milliseconds kRunLimit{60'000};

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

// A child process with its stdout and stderr on pipes, stdin on /dev/null, default signal
// dispositions and a process group of its own. The destructor kills and reaps a child that is
// still running, so that no test leaves one behind.
class Child {
 public:
  // argv[0] is looked up in PATH when it has no slash.
  explicit Child(const std::vector<std::string>& argv);
  ~Child();

  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool started() const { return pid_ > 0; }
  [[nodiscard]] const std::string& spawn_error() const { return spawn_error_; }

  // Reads both outputs until they close and the child has ended, for at most `limit`; after that
  // the child is killed and the outcome says it timed out.
  Outcome wait(std::chrono::milliseconds limit);

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  std::string spawn_error_;
};

// Sleeps, resuming after a signal; for bounded polling loops on what /proc shows, never to let
// something happen.
void sleep_briefly(std::chrono::milliseconds interval);

Outcome run_program(const std::vector<std::string>& argv,
                    std::chrono::milliseconds limit = kRunLimit);
// Runs pollscope (POLLSCOPE_BINARY) with `args`.
Outcome pollscope(const std::vector<std::string>& args,
                  std::chrono::milliseconds limit = kRunLimit);

// How it ended and what it printed, for a failure message.
std::string describe(const Outcome& outcome);
// The process exited (not by a signal, not killed for its time) with `code`.
::testing::AssertionResult exited_with(const Outcome& outcome, int code);
// Exactly one line, ending with a newline.
::testing::AssertionResult one_line(const std::string& text);

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
std::vector<std::string> lines_of(const std::string& text);
std::string read_file(const std::filesystem::path& path);
// The report, or a test failure (and a null document) when it is not JSON.
nlohmann::json parse_report(const std::string& text);

// A run of a shipped scenario that passed every threshold (exit 0), or failed only latency ones
// (exit 1): those hold on a quiet machine, and a test about something else must not fail when
// a busy one stalls a run for tens of milliseconds. `report` is the run's --out.
::testing::AssertionResult ran_but_for_latency(const Outcome& outcome, const std::string& report);

// A fresh directory, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::string operator/(const std::string& name) const {
    return (path_ / name).string();
  }
  // Writes `text` to the file `name` in it and returns the file's path.
  std::string write(const std::string& name, const std::string& text) const;
  // The names of what the directory holds.
  [[nodiscard]] std::set<std::string> entries() const;

 private:
  std::filesystem::path path_;
};

// Whether python3 and its jsonschema module are here (scripts/setup.sh installs them).
bool have_jsonschema();
// Checks the JSON file at `path` against `schema` with validate_report.py; says so on stderr and
// checks nothing without python3-jsonschema.
void expect_valid_against(const std::filesystem::path& schema, const std::string& path);
// A run's report, against cli/report.schema.json.
inline void expect_valid_report(const std::string& path) {
  expect_valid_against(kReportSchema, path);
}

}  // namespace pollscope::test_support

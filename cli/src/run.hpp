#pragma once

// The work behind each subcommand, as plain functions that return the process's exit code and
// that the tests call directly. The files under cli/commands/ only parse the command line.

#include <iosfwd>
#include <optional>
#include <string>

#include "compare.hpp"
#include "libpoll/backend.hpp"

namespace pollscope {

// Exit codes, documented in `pollscope --help` and the README.
enum ExitCode : int {
  kExitPassed = 0,           // ran, and every threshold passed
  kExitThresholdFailed = 1,  // ran, and a threshold failed
  kExitRegressed = 1,        // compare, run --baseline: a figure regressed against the baseline
  kExitInvalidInput = 2,     // bad usage, or a scenario that is missing or invalid
  kExitEnvironment = 3,      // the machine could not run it (fd limit, sockets, writing)
  kExitInterrupted = 130,    // Ctrl-C (SIGINT) or SIGTERM: a partial report was written
};

struct RunRequest {
  std::optional<std::string> scenario_path;  // none: the built-in default scenario
  std::optional<std::string> out_path;       // none: the report goes to stdout
  std::optional<libpoll::Backend> backend;
  bool quiet = false;
  std::optional<std::string> baseline_path;  // compare the report with this one (--baseline)
  CompareOptions compare;                    // how, when there is a baseline
};

// `pollscope run`: runs the scenario, writes the report, prints a summary to `err`.
int run_command(const RunRequest& request, std::ostream& out, std::ostream& err);
// `pollscope validate`: checks a scenario without running it.
int validate_command(const std::string& path, std::ostream& out, std::ostream& err);
// `pollscope scenarios`: one line per scenario shipped in `directory`.
int scenarios_command(const std::string& directory, std::ostream& out, std::ostream& err);

// The built-in default scenario (scenarios/default.json, compiled in).
[[nodiscard]] const char* default_scenario_text();
// Where the shipped scenarios are: $POLLSCOPE_SCENARIOS, else the source tree's scenarios/, else
// the installed share directory.
[[nodiscard]] std::string scenarios_directory();

}  // namespace pollscope

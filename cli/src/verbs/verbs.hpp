#pragma once

// The work behind each subcommand, as plain functions that the tests call directly. Each returns
// the exit code of a command that ran (pass, fail, regressed, interrupted) and throws a Failure
// for one that could not (invalid input, the machine); main catches it. The files under
// cli/commands/ only parse the command line.

#include <iosfwd>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/exit_code.hpp"
#include "compare/compare.hpp"
#include "libpoll/backend.hpp"
#include "scenario/memory.hpp"

namespace pollscope {

struct RunRequest {
  std::optional<std::string> scenario_path;  // none: the built-in default scenario
  std::optional<std::string> out_path;       // none: the report goes to stdout
  std::optional<libpoll::Backend> backend;
  bool single_thread_polls = false;  // --single-thread-polls: turns the scenario's on
  bool receive_ahead = false;        // --receive-ahead: turns the scenario's on
  bool quiet = false;
  std::optional<std::string> baseline_path;  // compare the report with this one (--baseline)
  CompareOptions compare;                    // how, when there is a baseline
  std::uint64_t memory_budget_mib = kDefaultMemoryBudgetMib;  // --memory-budget
  std::optional<std::string> capture_interface;  // --capture [IFACE]: overrides the scenario's
  std::optional<std::string> pcap_out_path;      // --pcap-out: the captured packets, as pcap
  // --repeat: runs of the scenario, each a fresh process, kept under "repetitions"; the
  // headline figures are their medians (repeat/repetitions.hpp).
  int repeat = 1;
  // --instructions: run under callgrind and add cost.instructions_per_event (run_parts.hpp).
  bool instructions = false;
};

// `pollscope run`: runs the scenario, writes the report, prints a summary to `err`.
int run_command(const RunRequest& request, std::ostream& out, std::ostream& err);
// `pollscope validate`: checks a scenario without running it, its buffering against the budget.
int validate_command(const std::string& path, std::ostream& out,
                     std::uint64_t memory_budget_mib = kDefaultMemoryBudgetMib);
// A scenario file as `validate` checks it: read (its replays within the budget) and its
// buffering held to `memory_budget_mib`; otherwise the Problem.
[[nodiscard]] std::variant<Scenario, Problem> load_within_budget(const std::string& path,
                                                                 std::uint64_t memory_budget_mib);
// `pollscope scenarios`: one line per scenario shipped in `directory`; a line on `err` for each
// that is not valid, as `validate` with the default memory budget (and exit 2 at the end).
int scenarios_command(const std::string& directory, std::ostream& out, std::ostream& err);

struct CompareRequest {
  std::string baseline_path;
  std::string current_path;
  // Several reports a side (--base, --candidate; a report of `run --repeat` counts as its
  // repetitions): judged as `ab` judges them, with these --format files and --strict.
  std::vector<std::string> base_paths;
  std::vector<std::string> candidate_paths;
  std::vector<std::string> formats;
  bool strict = false;
  std::optional<std::string> out_path;  // none: the comparison goes to stdout
  CompareOptions options;
  bool quiet = false;  // no summary on stderr (warnings and errors still)
};

// `pollscope compare`: 0 when nothing regressed, 1 when something did; a Failure for invalid
// input or usage (2) or when --out cannot be written (3).
int compare_command(const CompareRequest& request, std::ostream& out, std::ostream& err);

// The built-in default scenario (scenarios/default.json, compiled in).
[[nodiscard]] const char* default_scenario_text();
// Where the shipped scenarios are: $POLLSCOPE_SCENARIOS, else the source tree's scenarios/, else
// the installed share directory.
[[nodiscard]] std::string scenarios_directory();

}  // namespace pollscope

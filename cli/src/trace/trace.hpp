#pragma once

// `pollscope trace`: runs a command with the interposer (cli/interposer) loaded through
// LD_PRELOAD, grades its records (grade.hpp) when it exits and every --interval, and reports the
// findings. The command's exit status is passed through unless findings are asked to fail.

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "inspect/suppression.hpp"
#include "trace/grade.hpp"

namespace pollscope {

// --interval's range, in seconds.
inline constexpr double kShortestInterval = 0.01;
inline constexpr double kLongestInterval = 86400.0;

struct TraceRequest {
  std::vector<std::string> command;
  std::optional<std::string> out_path;         // the findings as JSON, written atomically
  std::optional<double> interval_seconds;      // also write them this often while it runs
  bool fail_on_findings = false;               // exit 1 when an error was found
  bool fail_on_warnings = false;               // exit 1 when anything was found
  bool quiet = false;                          // no summary on stderr
  std::vector<std::string> suppress;           // --suppress: one rule each (suppression.hpp)
  std::vector<std::string> suppression_files;  // --suppressions: files of rules
};

struct TraceOutcome {
  std::vector<TracedProcess> processes;
  std::vector<Finding> findings;  // those no rule suppressed
  std::vector<SuppressionRule> suppressions;
  SuppressionTally suppressed;
  bool running = false;
  std::optional<int> exit_status;  // the command's (128 + signal when a signal ended it)
};

// Runs `pollscope trace`; the exit code as documented in `pollscope --help`.
int run_trace(const TraceRequest& request, std::ostream& err);

// Grades every log in `directory` (one per traced process), and keeps out what `rules`
// suppress.
[[nodiscard]] TraceOutcome grade_directory(const std::string& directory, bool finished,
                                           const std::vector<SuppressionRule>& rules = {});

// The document `--out` receives (cli/findings.schema.json).
[[nodiscard]] nlohmann::json trace_document(const TraceRequest& request,
                                            const TraceOutcome& outcome);

// Where the interposer is: $POLLSCOPE_INTERPOSER, else installed beside pollscope, else in the
// build tree.
[[nodiscard]] std::optional<std::string> interposer_path();

}  // namespace pollscope

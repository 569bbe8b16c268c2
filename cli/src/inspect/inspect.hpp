#pragma once

// `pollscope inspect`: the epoll instances of live processes, each registration classified from
// what the kernel shows (classify.hpp), optionally sampled repeatedly to show each set's size
// over time and its growth rate.

#include <sys/types.h>

#include <iosfwd>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "inspect/classify.hpp"
#include "inspect/suppression.hpp"

namespace pollscope {

// --watch's range, in seconds.
inline constexpr double kShortestWatch = 0.001;
inline constexpr double kLongestWatch = 3600.0;

struct InspectRequest {
  std::vector<pid_t> pids;
  bool all = false;                            // every process this user may inspect
  std::optional<double> watch_seconds;         // the interval between samples; none: one sample
  int samples = 5;                             // with watch_seconds
  bool json = false;                           // JSON on stdout instead of text
  std::optional<std::string> out_path;         // the JSON to this file (atomically)
  bool fail_on_findings = false;               // exit 1 when an error was found
  bool fail_on_warnings = false;               // exit 1 when anything was found
  std::vector<std::string> suppress;           // --suppress: one rule each (suppression.hpp)
  std::vector<std::string> suppression_files;  // --suppressions: files of rules
};

// One epoll set's size at each sample.
struct SetHistory {
  pid_t pid = 0;
  int epoll_fd = -1;
  std::vector<double> times_s;  // since the first sample
  std::vector<std::size_t> sizes;
};

struct ProcessView {
  ProcessFiles files;
  std::vector<EpollSetView> sets;
};

struct InspectOutcome {
  std::vector<ProcessView> processes;  // as the last sample saw them
  std::vector<SetHistory> histories;   // with --watch
  std::vector<Finding> findings;       // the last sample's, and growth over the samples, that
                                       // no rule suppressed
  std::vector<SuppressionRule> suppressions;
  SuppressionTally suppressed;
  std::size_t unreadable = 0;  // --all: processes this user may not inspect
};

// The epoll sets among `files` (a process's descriptors as listed), each read and classified into
// `sets`. A number that names no epoll set any more when it is read (closed, or reused for
// another file by a busy program meanwhile) is skipped; the error is any other that reading a
// set gave (EACCES...).
[[nodiscard]] std::error_code read_epoll_sets(const ProcessFiles& files,
                                              std::vector<EpollSetView>& sets,
                                              std::vector<Finding>& findings);

// Runs `pollscope inspect`; the exit code as documented in `pollscope --help`.
int run_inspect(const InspectRequest& request, std::ostream& out, std::ostream& err);

// A set that grew over three samples or more and never shrank, as a `growing` finding.
void find_growth(const std::vector<SetHistory>& histories, std::vector<Finding>& findings);

// The document `pollscope inspect --json` writes (cli/findings.schema.json), and the text.
[[nodiscard]] nlohmann::json inspect_document(const InspectOutcome& outcome);
[[nodiscard]] std::string inspect_text(const InspectOutcome& outcome);

}  // namespace pollscope

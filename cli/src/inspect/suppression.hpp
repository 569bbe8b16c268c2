#pragma once

// Suppressions for `pollscope inspect` and `pollscope trace`: findings a user has read and
// accepted, kept out of the errors, the warnings and --fail-on-*, as Valgrind's and the
// sanitizers' suppression files do. Some libraries leave registrations to the kernel by design
// (libev removes a stopped watcher's lazily; Asio makes no EPOLL_CTL_DEL for a socket it closes
// itself), and a program built on them shows a `vanished` warning per descriptor: a rule such as
// `vanished:libev.so*` keeps those out and every other finding in.
//
// A rule is KIND or KIND:PATTERN. KIND is a finding kind (kLeakFindingKinds) or `*`. PATTERN is
// a glob (fnmatch: `*`, `?`, `[...]`) matched against where the finding comes from: each frame
// of the registration's stack (trace) by its module's path and file name, its function and its
// source file; the finding's site; and the program of its process (trace: the executable's
// path and file name; inspect: /proc/PID/comm). Without a pattern, every finding of the kind.
// A suppressions file holds one rule per line; `#` starts a comment, blank lines are skipped.

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "inspect/finding.hpp"

namespace pollscope {

struct SuppressionRule {
  std::string text;     // as given, for the report
  std::string kind;     // a finding kind, or "*"
  std::string pattern;  // empty: every finding of the kind
};

// The rules of --suppress (each one rule) and of --suppressions (each a file), in that order.
// A rule that is not one, or a file that cannot be read, throws a Failure (exit 2) naming the
// option or the file and line.
[[nodiscard]] std::vector<SuppressionRule> load_suppressions(const std::vector<std::string>& rules,
                                                             const std::vector<std::string>& files);

// The program of a finding's process, for a rule's pattern; empty when unknown.
using ProgramOf = std::function<std::string(pid_t)>;

// What suppress() kept out: per rule, in the rules' order (a finding is counted by the first
// rule that matches it).
struct SuppressionTally {
  std::vector<std::size_t> per_rule;
  std::size_t total = 0;
};

// Removes from `findings` those a rule matches.
SuppressionTally suppress(const std::vector<SuppressionRule>& rules, const ProgramOf& program_of,
                          std::vector<Finding>& findings);

// Whether `rule` matches `finding` of a process running `program`.
[[nodiscard]] bool suppresses(const SuppressionRule& rule, const Finding& finding,
                              std::string_view program);

// The leak block's "suppressed" count and "suppressions" list ({"rule", "findings"} per rule).
void add_suppressions(nlohmann::json& leaks, const std::vector<SuppressionRule>& rules,
                      const SuppressionTally& tally);

// ", 3 suppressed" after a tally for a person; empty when nothing was.
[[nodiscard]] std::string suppressed_text(const SuppressionTally& tally);

}  // namespace pollscope

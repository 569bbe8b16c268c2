#pragma once

// One function per subcommand: each declares its options on `app` and, when chosen, calls the
// plain function in src/verbs/verbs.hpp that does the work, leaving its
// exit code in `exit_code`.

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace pollscope::commands {

void add_run(CLI::App& app, int& exit_code);
void add_validate(CLI::App& app, int& exit_code);
void add_scenarios(CLI::App& app, int& exit_code);
void add_compare(CLI::App& app, int& exit_code);
void add_ab(CLI::App& app, int& exit_code);
void add_inspect(CLI::App& app, int& exit_code);
void add_trace(CLI::App& app, int& exit_code);

// For every option that names a file or directory: empty is refused ("--baseline: is empty"),
// never taken as absent. A CI script whose variable is unset would otherwise run without its
// baseline, or with the built-in scenario, and pass.
inline CLI::Validator not_empty() {
  return CLI::Validator(
      [](const std::string& value) { return value.empty() ? std::string("is empty") : ""; }, "");
}

// For every number of seconds, before its CLI::Range: a range lets NaN through (every comparison
// with NaN is false), and "inf" parses as a number too.
inline CLI::Validator finite_number() {
  return CLI::Validator(
      [](const std::string& value) {
        // What strtod cannot read is left to the option's own conversion, which names it.
        return std::isfinite(std::strtod(value.c_str(), nullptr))
                   ? std::string()
                   : "must be a finite number, got " + value;
      },
      "");
}

// --memory-budget MIB, for the commands that check a scenario's buffering (run, validate).
inline void add_memory_budget(CLI::App& command, std::uint64_t& mib) {
  command
      .add_option("--memory-budget", mib,
                  "MiB a scenario may buffer in pollscope's memory at worst (default 1024)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 30));
}

// --suppress RULE and --suppressions FILE, for the commands that report findings (inspect,
// trace): the rules of cli/src/inspect/suppression.hpp.
inline void add_suppressions(CLI::App& command, std::vector<std::string>& rules,
                             std::vector<std::string>& files) {
  command
      .add_option("--suppress", rules,
                  "Keep findings of KIND (a kind or *), or of KIND:PATTERN whose stack, site or "
                  "program matches the glob PATTERN, out of the counts and --fail-on-*; "
                  "repeatable")
      ->type_name("RULE")
      ->allow_extra_args(false);
  command
      .add_option("--suppressions", files,
                  "A file of suppression rules, one per line (# comments); repeatable")
      ->type_name("FILE")
      ->allow_extra_args(false)
      ->check(not_empty());
}

}  // namespace pollscope::commands

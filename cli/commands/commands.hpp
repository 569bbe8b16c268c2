#pragma once

// One function per subcommand: each declares its options on `app` and, when chosen, calls the
// plain function in src/verbs/verbs.hpp that does the work, leaving its
// exit code in `exit_code`.

#include <CLI/CLI.hpp>

#include <cstdint>

namespace pollscope::commands {

void add_run(CLI::App& app, int& exit_code);
void add_validate(CLI::App& app, int& exit_code);
void add_scenarios(CLI::App& app, int& exit_code);
void add_compare(CLI::App& app, int& exit_code);
void add_ab(CLI::App& app, int& exit_code);
void add_inspect(CLI::App& app, int& exit_code);
void add_trace(CLI::App& app, int& exit_code);

// --memory-budget MIB, for the commands that check a scenario's buffering (run, validate).
inline void add_memory_budget(CLI::App& command, std::uint64_t& mib) {
  command
      .add_option("--memory-budget", mib,
                  "MiB a scenario may buffer in pollscope's memory at worst (default 1024)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 30));
}

}  // namespace pollscope::commands

#pragma once

// One function per subcommand: each declares its options on `app` and, when chosen, calls the
// plain function in src/verbs/verbs.hpp that does the work, leaving its
// exit code in `exit_code`.

#include <CLI/CLI.hpp>

namespace pollscope::commands {

void add_run(CLI::App& app, int& exit_code);
void add_validate(CLI::App& app, int& exit_code);
void add_scenarios(CLI::App& app, int& exit_code);
void add_compare(CLI::App& app, int& exit_code);
void add_ab(CLI::App& app, int& exit_code);

}  // namespace pollscope::commands

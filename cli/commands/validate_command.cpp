#include <iostream>
#include <memory>

#include "commands.hpp"
#include "verbs/verbs.hpp"

namespace pollscope::commands {

void add_validate(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand("validate", "Check a scenario file without running it");
  auto path = std::make_shared<std::string>();
  auto budget = std::make_shared<std::uint64_t>(kDefaultMemoryBudgetMib);
  command->add_option("scenario", *path, "Scenario file (JSON), or - for stdin")
      ->required()
      ->check(not_empty());
  add_memory_budget(*command, *budget);
  command->callback(
      [path, budget, &exit_code] { exit_code = validate_command(*path, std::cout, *budget); });
}

}  // namespace pollscope::commands

#include <iostream>
#include <memory>

#include "commands.hpp"
#include "verbs/verbs.hpp"

namespace pollscope::commands {

void add_validate(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand("validate", "Check a scenario file without running it");
  auto path = std::make_shared<std::string>();
  command->add_option("scenario", *path, "Scenario file (JSON)")->required();
  command->callback([path, &exit_code] { exit_code = validate_command(*path, std::cout); });
}

}  // namespace pollscope::commands

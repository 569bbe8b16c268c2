#include <iostream>
#include <memory>

#include "commands.hpp"
#include "verbs/verbs.hpp"

namespace pollscope::commands {

void add_scenarios(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand("scenarios", "List the shipped scenarios, one line each");
  auto directory = std::make_shared<std::string>();
  command
      ->add_option("--dir", *directory,
                   "Directory to list (default: $POLLSCOPE_SCENARIOS or the shipped one)")
      ->check(not_empty());
  command->callback([directory, &exit_code] {
    exit_code = scenarios_command(directory->empty() ? scenarios_directory() : *directory,
                                  std::cout, std::cerr);
  });
}

}  // namespace pollscope::commands

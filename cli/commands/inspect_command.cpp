#include <iostream>
#include <memory>

#include "commands.hpp"
#include "inspect/inspect.hpp"

namespace pollscope::commands {

void add_inspect(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "inspect",
      "List the epoll registrations of live processes and find zombies, duplicates, "
      "token collisions and growing sets");
  auto request = std::make_shared<InspectRequest>();
  command->add_option("pid", request->pids, "Processes to inspect");
  command->add_flag("--all", request->all, "Every process this user may inspect");
  command
      ->add_option("--watch", request->watch_seconds,
                   "Sample every SECONDS and report each set's size over time and growth rate")
      ->check(finite_number())
      ->check(CLI::Range(kShortestWatch, kLongestWatch));
  command->add_option("--samples", request->samples, "With --watch: how many samples (default 5)")
      ->check(CLI::Range(2, 100000));
  command->add_flag("--json", request->json, "Print the findings as JSON instead of text");
  command->add_option("--out,-o", request->out_path, "Write the JSON to this file (atomically)")
      ->check(not_empty());
  command->add_flag("--fail-on-findings", request->fail_on_findings,
                    "Exit 1 when an error is found");
  command->add_flag("--fail-on-warnings", request->fail_on_warnings,
                    "Exit 1 when an error or a warning is found");
  add_suppressions(*command, request->suppress, request->suppression_files);
  command->callback(
      [request, &exit_code] { exit_code = run_inspect(*request, std::cout, std::cerr); });
}

}  // namespace pollscope::commands

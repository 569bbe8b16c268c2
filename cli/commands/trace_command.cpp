#include <iostream>
#include <memory>

#include "commands.hpp"
#include "trace/trace.hpp"

namespace pollscope::commands {

void add_trace(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "trace",
      "Run a command with the epoll interposer loaded and report the registrations it "
      "leaks (vanished, zombies, closed sets, collisions, leaked at exit)");
  auto request = std::make_shared<TraceRequest>();
  command
      ->add_option("--out,-o", request->out_path,
                   "Write the findings as JSON to this file (atomically)")
      ->check(not_empty());
  command
      ->add_option("--interval", request->interval_seconds,
                   "Also write the findings every SECONDS while the command runs")
      ->check(finite_number())
      ->check(CLI::Range(kShortestInterval, kLongestInterval));
  command->add_flag("--fail-on-findings", request->fail_on_findings,
                    "Exit 1 when an error is found (zombie, token collision, growing set)");
  command->add_flag("--fail-on-warnings", request->fail_on_warnings,
                    "Exit 1 when an error or a warning is found");
  add_suppressions(*command, request->suppress, request->suppression_files);
  command->add_flag("--quiet,-q", request->quiet, "No summary on stderr");
  command->add_option("command", request->command, "The command to run, after --")->required();
  command->callback([request, &exit_code] { exit_code = run_trace(*request, std::cerr); });
}

}  // namespace pollscope::commands

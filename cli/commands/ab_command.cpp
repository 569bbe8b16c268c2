#include <iostream>
#include <memory>

#include "commands.hpp"
#include "verbs/ab.hpp"

namespace pollscope::commands {

void add_ab(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "ab", "Run two pollscope builds alternately (ABBA) and judge the candidate (JSON out)");
  auto request = std::make_shared<AbRequest>();
  auto scenario = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto keep = std::make_shared<std::string>();
  command->add_option("--base", request->base, "The base build's pollscope")
      ->required()
      ->check(not_empty());
  command->add_option("--candidate", request->candidate, "The candidate build's pollscope")
      ->required()
      ->check(not_empty());
  command
      ->add_option("--base-arg", request->base_args,
                   "Give the base's runs this argument too (repeatable): --backend=B, "
                   "--single-thread-polls or --receive-ahead; write "
                   "--base-arg=--single-thread-polls")
      ->allow_extra_args(false);
  command
      ->add_option("--candidate-arg", request->candidate_args,
                   "The same for the candidate's runs: one build against itself in two "
                   "configurations")
      ->allow_extra_args(false);
  command->add_option("scenario", *scenario, "Scenario file (default: the built-in one)")
      ->check(not_empty());
  command->add_option("--rounds", request->rounds, "Runs per side (at least 2)")
      ->capture_default_str();
  command->add_option("--out,-o", *out, "Write the comparison to this file (atomically)")
      ->check(not_empty());
  command->add_option("--keep-reports", *keep, "Keep every run's report in this directory")
      ->check(not_empty());
  command->add_flag("--strict", request->strict, "An inconclusive verdict exits 4");
  command->add_flag("--instructions", request->instructions,
                    "Also run each build once under callgrind and compare instructions per event");
  command
      ->add_option("--format", request->formats,
                   "Also write KIND=FILE: junit, markdown, benchmark-smaller, benchmark-bigger, "
                   "bencher (repeatable)")
      ->allow_extra_args(false);
  command->add_flag("--quiet,-q", request->quiet, "No summary on stderr");
  command->callback([=, &exit_code] {
    if (!scenario->empty()) request->scenario_path = *scenario;
    if (!out->empty()) request->out_path = *out;
    if (!keep->empty()) request->keep_reports = *keep;
    exit_code = ab_command(*request, std::cout, std::cerr);
  });
}

}  // namespace pollscope::commands

#include <iostream>
#include <memory>

#include "commands.hpp"
#include "verbs/verbs.hpp"

namespace pollscope::commands {

void add_compare(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "compare", "Compare a run's report with a baseline's, figure by figure (JSON out)");
  auto request = std::make_shared<CompareRequest>();
  auto out = std::make_shared<std::string>();
  command->add_option("baseline", request->baseline_path, "The baseline's report (pollscope run)")
      ->check(not_empty());
  command->add_option("current", request->current_path, "The report to judge against it")
      ->check(not_empty());
  command
      ->add_option("--base", request->base_paths,
                   "Several reports a side: a base build's report (repeatable; with --candidate "
                   "instead of BASELINE CURRENT, judged as `ab` judges)")
      ->allow_extra_args(false)
      ->check(not_empty());
  command
      ->add_option("--candidate", request->candidate_paths,
                   "A candidate build's report (repeatable)")
      ->allow_extra_args(false)
      ->check(not_empty());
  command
      ->add_option("--format", request->formats,
                   "With --base: also write KIND=FILE (junit, markdown, benchmark-smaller, "
                   "benchmark-bigger, bencher; repeatable)")
      ->allow_extra_args(false);
  command->add_flag("--strict", request->strict, "With --base: an inconclusive verdict exits 4");
  command
      ->add_option("--out,-o", *out,
                   "Write the comparison to this file (atomically) instead of stdout")
      ->check(not_empty());
  // One value per occurrence, so that a report after the flag is not taken as a second value.
  command
      ->add_option("--tolerance", request->options.tolerances,
                   "METRIC=PERCENT: how much worse than the baseline METRIC may get, in "
                   "percent of it (repeatable; adds METRIC when it is not compared)")
      ->allow_extra_args(false);
  command
      ->add_option("--metric", request->options.metrics,
                   "Compare only these figures, named as in thresholds (repeatable)")
      ->allow_extra_args(false);
  command->add_flag("--allow-different-scenario", request->options.allow_different_scenario,
                    "Compare reports of different scenarios (a warning, not an error)");
  command->add_flag("--quiet,-q", request->quiet, "No summary on stderr");
  command->callback([=, &exit_code] {
    if (!out->empty()) request->out_path = *out;
    exit_code = compare_command(*request, std::cout, std::cerr);
  });
}

}  // namespace pollscope::commands

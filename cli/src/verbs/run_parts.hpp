#pragma once

// The parts of `pollscope run` apart from run.cpp: the checks of its request before anything runs
// (run_checks.cpp), and what runs pollscope again: the repetitions of --repeat and the run under
// callgrind of --instructions (run_instructions.cpp).

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "verbs/verbs.hpp"

namespace pollscope {

// Refuses (exit 2) a scenario on stdin that a second reader would need: --baseline -, the
// processes of --repeat or --instructions.
void check_stdin_read_once(const RunRequest& request);

// Applies --capture to `scenario` and checks it and --pcap-out against it: a Failure for what
// the run could not honour, exit 3 for an interface this machine has not.
void apply_capture(const RunRequest& request, Scenario& scenario);

// The command line (argv[1] on) of one run like `request`, once, its report to `report`.
[[nodiscard]] std::vector<std::string> single_run_arguments(const RunRequest& request,
                                                            const std::string& report);

// Whether this process is the run that `--instructions` started under callgrind.
[[nodiscard]] bool inside_callgrind();

// Runs the scenario once under callgrind (instructions counted in the measured phases only)
// and returns its report with overall.cost.instructions_per_event. A Failure when valgrind is
// not installed (invalid input: the option cannot be honoured) or the run fails.
[[nodiscard]] nlohmann::json run_under_callgrind(const RunRequest& request);

// The instructions callgrind counted, from its output file's "summary:" (or "totals:") line.
[[nodiscard]] std::optional<double> callgrind_total(const std::string& text);

}  // namespace pollscope

#pragma once

// `pollscope ab`: the interleaved comparison of two builds (ab.cpp).

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "compare/compare.hpp"
#include "gate/gate.hpp"

namespace pollscope {

struct AbRequest {
  std::string base;       // the base build's pollscope
  std::string candidate;  // the candidate's
  // --base-arg, --candidate-arg: more arguments to that side's `pollscope run`, so that one
  // build can be judged against itself in two configurations (check_run_arguments).
  std::vector<std::string> base_args;
  std::vector<std::string> candidate_args;
  std::optional<std::string> scenario_path;  // none: the built-in default scenario
  int rounds = 10;                           // runs per side
  std::optional<std::string> out_path;       // none: the comparison goes to stdout
  std::optional<std::string> keep_reports;   // keep every run's report in this directory
  bool strict = false;                       // an inconclusive verdict exits 4
  bool instructions = false;         // also one run a side under callgrind: instructions per event
  std::vector<std::string> formats;  // --format KIND=FILE (gate/ci_formats.hpp)
  bool quiet = false;
};

// 0 unless a figure regressed (1); with `strict`, 4 when inconclusive.
[[nodiscard]] int exit_code_of(stats::Verdict verdict, bool strict);

// Every file a gate writes at the end (the comparison, each --format KIND=FILE), checked before
// anything runs: two in one place would leave only the last one written. Exit 2 otherwise.
void check_gate_outputs(const std::optional<std::string>& out_path,
                        const std::vector<std::string>& formats);

// Runs both builds `rounds` times each, ABBA, and writes their comparison (kind "ab"); after
// SIGINT or SIGTERM, that of the rounds that ended, marked interrupted, and returns 130.
int ab_command(const AbRequest& request, std::ostream& out, std::ostream& err);

}  // namespace pollscope

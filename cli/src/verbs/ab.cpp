// `pollscope ab`: two builds of pollscope run the same scenario alternately, in ABBA order and
// each run a fresh process, so that drift and neighbours weigh on both sides alike; their
// reports are judged together (gate/gate.hpp).

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <system_error>

#include <fmt/format.h>

#include "gate/ci_formats.hpp"
#include "gate/gate_json.hpp"
#include "io/child_run.hpp"
#include "io/files.hpp"
#include "io/output.hpp"
#include "scenario/scenario.hpp"
#include "verbs/ab.hpp"

namespace pollscope {

namespace {

// Runs `binary run [SCENARIO] --quiet --out report`; a run whose thresholds failed still wrote
// its report (exit 1).
int run_once(const std::string& binary, const AbRequest& request, const std::string& report,
             bool instructions = false) {
  std::vector<std::string> args = {"run", "--quiet", "--out", report};
  if (instructions) args.push_back("--instructions");
  if (request.scenario_path) args.push_back(*request.scenario_path);
  return run_child(binary, args);
}

GateInput load_input(const std::string& path) {
  auto loaded = load_report(path);
  if (auto* problem = std::get_if<Problem>(&loaded)) throw Failure::invalid_input(*problem);
  return {path, std::get<nlohmann::json>(std::move(loaded))};
}

void check_ran(const std::string& binary, int code) {
  if (code != kExitPassed && code != kExitThresholdFailed) {
    throw Failure::environment(fmt::format("ab: {} run exited with {} (no report)", binary, code));
  }
}

// Instructions do not vary from run to run: one run a side under callgrind, apart from the
// timed ones, which callgrind would slow fifty-fold. A build that cannot count them (no
// valgrind, or a base older than --instructions) leaves a warning, not a failed gate.
std::vector<std::string> add_instruction_runs(const AbRequest& request,
                                              const std::string& directory,
                                              std::vector<GateInput>& base,
                                              std::vector<GateInput>& candidate) {
  std::vector<std::string> warnings;
  for (auto* side : {&base, &candidate}) {
    const bool base_turn = side == &base;
    const std::string& binary = base_turn ? request.base : request.candidate;
    const std::string report =
        fmt::format("{}/{}-instructions.json", directory, base_turn ? "base" : "candidate");
    const int code = run_once(binary, request, report, true);
    if (code != kExitPassed && code != kExitThresholdFailed) {
      warnings.push_back(fmt::format("{} could not count instructions (exit {})", binary, code));
      continue;
    }
    side->push_back(load_input(report));
    side->back().instructions_only = true;
  }
  return warnings;
}

void check_executable(const std::string& binary, const char* option) {
  if (::access(binary.c_str(), X_OK) != 0) {
    throw Failure::invalid_input(Problem{option, "", binary + " is not an executable file"});
  }
}

// Checked here, once, with this build's rules: a scenario that every run would refuse must
// cost no round, nor leave only "exited with 2" behind.
void check_scenario(const std::optional<std::string>& path) {
  if (!path) return;
  if (*path == "-") {
    throw Failure::invalid_input(
        Problem{"scenario", "", "- (stdin) can be read by one run only: give a file"});
  }
  auto loaded = load_scenario(*path);
  if (auto* problem = std::get_if<Problem>(&loaded)) throw Failure::invalid_input(*problem);
}

// Every file ab writes at the end, checked before the first round.
void check_outputs(const AbRequest& request) {
  check_destination(request.out_path);
  for (const std::string& format : request.formats) {
    auto parsed = parse_format(format);
    if (auto* problem = std::get_if<Problem>(&parsed)) throw Failure::invalid_input(*problem);
    const auto& destination = std::get<FormatRequest>(parsed);
    check_destination(destination.path, "--format " + destination.kind);
  }
}

// --keep-reports: made now, parents included. A path where no directory can be is a usage error;
// one the system will not let pollscope make or write in is the machine's.
void make_report_directory(const std::string& path) {
  const auto problem = [&path](const std::string& reason) {
    return Problem{"--keep-reports " + path, "", reason};
  };
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error == std::errc::file_exists || error == std::errc::not_a_directory) {
    throw Failure::invalid_input(problem("not a directory, and one cannot be made there"));
  }
  if (error) throw Failure(kExitEnvironment, problem("cannot create: " + error.message()));
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    throw Failure(kExitEnvironment, problem(std::string("cannot write: ") + std::strerror(errno)));
  }
}

}  // namespace

int exit_code_of(stats::Verdict verdict, bool strict) {
  if (verdict == stats::Verdict::regressed) return kExitRegressed;
  if (verdict == stats::Verdict::inconclusive && strict) return kExitInconclusive;
  return kExitPassed;
}

int ab_command(const AbRequest& request, std::ostream& out, std::ostream& err) {
  check_executable(request.base, "--base");
  check_executable(request.candidate, "--candidate");
  if (request.rounds < 2) {
    throw Failure::invalid_input(Problem{"--rounds", "", "needs at least 2 rounds"});
  }
  if (auto problem = check_formats(request.formats)) throw Failure::invalid_input(*problem);
  check_scenario(request.scenario_path);
  check_outputs(request);
  std::optional<TemporaryDirectory> temporary;
  if (request.keep_reports) {
    make_report_directory(*request.keep_reports);
  } else {
    temporary.emplace("pollscope-ab");
  }
  const std::string directory = temporary ? temporary->path() : *request.keep_reports;
  std::vector<GateInput> base, candidate;
  for (int round = 0; round < request.rounds; ++round) {
    // A B, then B A: each side runs first as often as second.
    for (const bool base_turn : {round % 2 == 0, round % 2 != 0}) {
      const std::string report =
          fmt::format("{}/{}-{}.json", directory, base_turn ? "base" : "candidate", round);
      const std::string& binary = base_turn ? request.base : request.candidate;
      check_ran(binary, run_once(binary, request, report));
      (base_turn ? base : candidate).push_back(load_input(report));
    }
  }
  std::vector<std::string> warnings;
  if (request.instructions) warnings = add_instruction_runs(request, directory, base, candidate);
  auto compared = compare_repeated(base, candidate, GateOptions{});
  if (auto* problem = std::get_if<Problem>(&compared)) throw Failure::invalid_input(*problem);
  auto& comparison = std::get<GateComparison>(compared);
  comparison.warnings.insert(comparison.warnings.end(), warnings.begin(), warnings.end());
  write_document(gate_document(comparison, request.rounds).dump(2) + "\n", request.out_path, out);
  write_formats(comparison, request.formats);
  if (!request.quiet) err << gate_summary(comparison, "pollscope: ");
  return exit_code_of(comparison.verdict(), request.strict);
}

}  // namespace pollscope

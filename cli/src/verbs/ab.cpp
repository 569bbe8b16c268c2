// `pollscope ab`: two builds of pollscope run the same scenario alternately, in ABBA order and
// each run a fresh process, so that drift and neighbours weigh on both sides alike; their
// reports are judged together (gate/gate.hpp).

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <ostream>

#include <fmt/format.h>

#include "gate/gate_json.hpp"
#include "io/files.hpp"
#include "verbs/ab.hpp"

namespace pollscope {

namespace {

// Runs `binary run [SCENARIO] --quiet --out report`; a run whose thresholds failed still wrote
// its report (exit 1).
void run_once(const std::string& binary, const std::optional<std::string>& scenario,
              const std::string& report) {
  std::vector<std::string> args = {binary, "run", "--quiet", "--out", report};
  if (scenario) args.push_back(*scenario);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t child = ::fork();
  if (child < 0) throw Failure::environment("pollscope: ab: fork failed");
  if (child == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code != kExitPassed && code != kExitThresholdFailed) {
    throw Failure::environment(
        fmt::format("pollscope: ab: {} run exited with {} (no report)", binary, code));
  }
}

GateInput load_input(const std::string& path) {
  auto loaded = load_report(path);
  if (auto* problem = std::get_if<Problem>(&loaded)) throw Failure::invalid_input(*problem);
  return {path, std::get<nlohmann::json>(std::move(loaded))};
}

std::string report_directory(const AbRequest& request) {
  if (request.keep_reports) {
    std::filesystem::create_directories(*request.keep_reports);
    return *request.keep_reports;
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "pollscope-ab-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw Failure::environment("pollscope: ab: cannot make a temporary directory");
  }
  return pattern;
}

void check_executable(const std::string& binary, const char* option) {
  if (::access(binary.c_str(), X_OK) != 0) {
    throw Failure::invalid_input(Problem{option, "", binary + " is not an executable file"});
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
  const std::string directory = report_directory(request);
  std::vector<GateInput> base, candidate;
  for (int round = 0; round < request.rounds; ++round) {
    // A B, then B A: each side runs first as often as second.
    for (const bool base_turn : {round % 2 == 0, round % 2 != 0}) {
      const std::string report =
          fmt::format("{}/{}-{}.json", directory, base_turn ? "base" : "candidate", round);
      run_once(base_turn ? request.base : request.candidate, request.scenario_path, report);
      (base_turn ? base : candidate).push_back(load_input(report));
    }
  }
  if (!request.keep_reports) std::filesystem::remove_all(directory);
  auto compared = compare_repeated(base, candidate, GateOptions{});
  if (auto* problem = std::get_if<Problem>(&compared)) throw Failure::invalid_input(*problem);
  const auto& comparison = std::get<GateComparison>(compared);
  write_document(gate_document(comparison, request.rounds).dump(2) + "\n", request.out_path, out);
  if (!request.quiet) err << gate_summary(comparison, "pollscope: ");
  return exit_code_of(comparison.verdict(), request.strict);
}

}  // namespace pollscope

// `pollscope ab`: two builds of pollscope run the same scenario alternately, in ABBA order and
// each run a fresh process, so that drift and neighbours weigh on both sides alike; their
// reports are judged together (gate/gate.hpp).

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <system_error>

#include <fmt/format.h>

#include "engine/engine.hpp"
#include "engine/supervisor.hpp"
#include "gate/ci_formats.hpp"
#include "gate/gate_json.hpp"
#include "io/child_run.hpp"
#include "io/files.hpp"
#include "io/output.hpp"
#include "scenario/scenario.hpp"
#include "verbs/ab.hpp"
#include "verbs/verbs.hpp"

namespace pollscope {

namespace {

using std::chrono::milliseconds;

// SIGINT and SIGTERM held (io/output.hpp) while ab works: a stop ends the rounds, not ab, so that
// the running build is stopped too, the rounds that ended are judged and the temporary reports
// go. A stop that arrives while ab fails anyway is dropped with the failure's exit code.
struct HeldStops {
  HeldStops() { hold_signals(); }
  ~HeldStops() {
    (void)take_held_signal();
    release_signals();
  }
  HeldStops(const HeldStops&) = delete;
  HeldStops& operator=(const HeldStops&) = delete;
};

// How long one run may take: the run's own bound on its set-up and phases (hang_deadline_ms),
// twice over for a loaded machine; ten times under callgrind, which runs fifty times slower.
// A test seam: POLLSCOPE_AB_RUN_LIMIT_MS replaces it, so that a test sees a hung build stopped
// without waiting a minute.
milliseconds run_limit(const Scenario& scenario, bool instructions) {
  const char* given = std::getenv("POLLSCOPE_AB_RUN_LIMIT_MS");
  std::uint64_t limit = 0;
  if (given != nullptr &&
      std::from_chars(given, given + std::strlen(given), limit).ec == std::errc{} && limit > 0) {
    return milliseconds(limit);
  }
  return milliseconds(hang_deadline_ms(scenario) * (instructions ? 10 : 2));
}

// Runs one side's `BINARY run --quiet --out REPORT [ITS ARGS] [SCENARIO]`, its stdout on ab's
// stderr, within `limit`; its exit code, or none when it was interrupted: by a stop here
// (passed on to it) or by its own exit 130. A run past its limit is stopped and fails the gate.
std::optional<int> run_once(bool base_turn, const AbRequest& request, const std::string& report,
                            milliseconds limit, bool instructions = false) {
  if (pending_held_signal() != 0) return std::nullopt;
  const std::string& binary = base_turn ? request.base : request.candidate;
  const auto& side_args = base_turn ? request.base_args : request.candidate_args;
  std::vector<std::string> args = {"run", "--quiet", "--out", report};
  args.insert(args.end(), side_args.begin(), side_args.end());
  if (instructions) args.push_back("--instructions");
  if (request.scenario_path) args.push_back(*request.scenario_path);
  const ChildEnd end = run_child(binary, args, ChildControl{true, limit, pending_held_signal});
  if (end.stopped || end.code == kExitInterrupted) return std::nullopt;
  if (end.overran) {
    throw Failure::environment(fmt::format("ab: {} run did not end within {:.1f} s: stopped",
                                           binary, static_cast<double>(limit.count()) / 1000));
  }
  return end.code;
}

void check_ran(const std::string& binary, int code) {
  if (code != kExitPassed && code != kExitThresholdFailed) {
    throw Failure::environment(fmt::format("ab: {} run exited with {} (no report)", binary, code));
  }
}

// A run's report. One that a run said it wrote (exit 0 or 1) but is missing or broken is the
// build's failure, named by the build: the file is a temporary one.
GateInput load_input(const std::string& binary, int code, const std::string& path) {
  auto loaded = load_report(path);
  if (auto* problem = std::get_if<Problem>(&loaded)) {
    throw Failure::environment(
        fmt::format("ab: {} run exited with {} but left no valid report: {}", binary, code,
                    Problem{"", problem->path, problem->reason}.to_string()));
  }
  return {path, std::get<nlohmann::json>(std::move(loaded))};
}

// What the rounds left: the reports of the rounds that ended, and what stopped them early.
struct Rounds {
  std::vector<GateInput> base;
  std::vector<GateInput> candidate;
  int completed = 0;
  std::optional<std::string> interruption;  // "SIGTERM", or "BINARY run exited with 130"
};

std::string interruption_by(const std::string& binary) {
  const int signal = pending_held_signal();
  if (signal == 0) return binary + " run exited with 130";
  const char* name = ::sigabbrev_np(signal);
  return fmt::format("SIG{}", name != nullptr ? name : "?");
}

Rounds run_rounds(const AbRequest& request, const std::string& directory, milliseconds limit) {
  Rounds rounds;
  for (int round = 0; round < request.rounds; ++round) {
    GateInput ran[2];  // base, candidate: kept once both ran, so that the sides stay paired
    // A B, then B A: each side runs first as often as second.
    for (const bool base_turn : {round % 2 == 0, round % 2 != 0}) {
      const std::string report =
          fmt::format("{}/{}-{}.json", directory, base_turn ? "base" : "candidate", round);
      const std::string& binary = base_turn ? request.base : request.candidate;
      const auto code = run_once(base_turn, request, report, limit);
      if (!code) {
        rounds.interruption = interruption_by(binary);
        return rounds;
      }
      check_ran(binary, *code);
      ran[base_turn ? 0 : 1] = load_input(binary, *code, report);
    }
    rounds.base.push_back(std::move(ran[0]));
    rounds.candidate.push_back(std::move(ran[1]));
    ++rounds.completed;
  }
  return rounds;
}

// Instructions do not vary from run to run: one run a side under callgrind, apart from the
// timed ones, which callgrind would slow fifty-fold. A build that cannot count them (no
// valgrind, or a base older than --instructions) leaves a warning, not a failed gate.
std::vector<std::string> add_instruction_runs(const AbRequest& request,
                                              const std::string& directory, milliseconds limit,
                                              Rounds& rounds) {
  std::vector<std::string> warnings;
  for (auto* side : {&rounds.base, &rounds.candidate}) {
    const bool base_turn = side == &rounds.base;
    const std::string& binary = base_turn ? request.base : request.candidate;
    const std::string report =
        fmt::format("{}/{}-instructions.json", directory, base_turn ? "base" : "candidate");
    const auto code = run_once(base_turn, request, report, limit, true);
    if (!code) {
      rounds.interruption = interruption_by(binary);
      std::erase_if(rounds.base, [](const GateInput& input) { return input.instructions_only; });
      break;
    }
    if (*code != kExitPassed && *code != kExitThresholdFailed) {
      warnings.push_back(fmt::format("{} could not count instructions (exit {})", binary, *code));
      continue;
    }
    side->push_back(load_input(binary, *code, report));
    side->back().instructions_only = true;
  }
  return warnings;
}

// A regular file: a directory passes access(X_OK), and would fail only in the first round.
void check_executable(const std::string& binary, const char* option) {
  struct stat status {};
  if (::stat(binary.c_str(), &status) != 0 || !S_ISREG(status.st_mode) ||
      ::access(binary.c_str(), X_OK) != 0) {
    throw Failure::invalid_input(Problem{option, "", binary + " is not an executable file"});
  }
}

// The run options a side may add: those that choose what libpoll runs on. The rest ab sets itself
// (--out, --quiet, --instructions, the scenario) or would make the sides' runs unlike (--repeat,
// --baseline, --capture).
void check_run_arguments(const std::vector<std::string>& args, const char* option) {
  for (const std::string& arg : args) {
    const bool backend =
        arg == "--backend=epoll" || arg == "--backend=poll" || arg == "--backend=io_uring";
    if (backend || arg == "--single-thread-polls" || arg == "--receive-ahead") continue;
    throw Failure::invalid_input(
        Problem{fmt::format("{} {}", option, arg), "",
                "not a run option ab passes on (--backend=epoll|poll|io_uring, "
                "--single-thread-polls, --receive-ahead)"});
  }
}

// What each side's runs were given beyond ab's own arguments, in the comparison.
void add_run_arguments(const AbRequest& request, nlohmann::json& document) {
  if (!request.base_args.empty()) document["base_args"] = request.base_args;
  if (!request.candidate_args.empty()) document["candidate_args"] = request.candidate_args;
}

// Checked here, once, with this build's rules and the runs' default memory budget: a scenario
// that every run would refuse (invalid, over the budget, past the descriptor limit) must cost no
// round, nor leave only "exited with 2" behind. Its phases bound each run.
Scenario check_scenario(const std::optional<std::string>& path) {
  if (path && *path == "-") {
    throw Failure::invalid_input(
        Problem{"scenario", "", "- (stdin) can be read by one run only: give a file"});
  }
  const std::string file = path.value_or("(built-in default scenario)");
  auto loaded = path
                    ? load_within_budget(*path, kDefaultMemoryBudgetMib)
                    : parse_scenario(nlohmann::json::parse(default_scenario_text(), nullptr, false),
                                     file, kDefaultMemoryBudgetMib);
  if (auto* problem = std::get_if<Problem>(&loaded)) throw Failure::invalid_input(*problem);
  Scenario scenario = std::get<Scenario>(std::move(loaded));
  // The runs inherit the limit raised here.
  if (auto refused = raise_fd_limit(scenario)) {
    throw Failure(kExitEnvironment, Problem{file, "/sockets/count", *refused});
  }
  return scenario;
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

// After a stop: the comparison of the rounds that ended (none when no round did) in a document
// marked interrupted, and no --format file, none of which could say that it is partial.
int write_interrupted(const AbRequest& request, const Scenario& scenario, const Rounds& rounds,
                      std::ostream& out, std::ostream& err) {
  const std::string what = fmt::format("interrupted after {} of {} rounds ({})", rounds.completed,
                                       request.rounds, *rounds.interruption);
  GateComparison comparison;
  comparison.scenario = scenario.name;
  if (rounds.completed > 0) {
    auto compared = compare_repeated(rounds.base, rounds.candidate, GateOptions{});
    if (auto* problem = std::get_if<Problem>(&compared)) throw Failure::invalid_input(*problem);
    comparison = std::get<GateComparison>(std::move(compared));
  }
  comparison.warnings.push_back(what);
  nlohmann::json document = gate_document(comparison, rounds.completed);
  add_run_arguments(request, document);
  document["interrupted"] = true;
  document["verdict"] = "interrupted";
  write_document(document.dump(2) + "\n", request.out_path, out);
  err << "pollscope: ab: " << what << "\n";
  return kExitInterrupted;
}

}  // namespace

int exit_code_of(stats::Verdict verdict, bool strict) {
  if (verdict == stats::Verdict::regressed) return kExitRegressed;
  if (verdict == stats::Verdict::inconclusive && strict) return kExitInconclusive;
  return kExitPassed;
}

void check_gate_outputs(const std::optional<std::string>& out_path,
                        const std::vector<std::string>& formats) {
  check_destination(out_path);
  std::vector<FormatRequest> earlier;
  for (const std::string& format : formats) {
    auto parsed = parse_format(format);
    if (auto* problem = std::get_if<Problem>(&parsed)) throw Failure::invalid_input(*problem);
    const auto& destination = std::get<FormatRequest>(parsed);
    const std::string option = "--format " + destination.kind;
    check_destination(destination.path, option);
    const auto refuse = [&](const std::string& reason) {
      return Failure::invalid_input(Problem{option + " " + destination.path, "", reason});
    };
    if (same_destination(destination.path, out_path, option)) {
      throw refuse(out_path.value_or("-") == "-"
                       ? "is stdout, where the comparison goes: give --out a file"
                       : "the same file as --out");
    }
    for (const FormatRequest& other : earlier) {
      if (same_destination(destination.path, other.path, option)) {
        throw refuse("the same file as --format " + other.kind);
      }
    }
    earlier.push_back(destination);
  }
}

int ab_command(const AbRequest& request, std::ostream& out, std::ostream& err) {
  const HeldStops held;  // before the temporary directory, which must go however ab ends
  check_executable(request.base, "--base");
  check_executable(request.candidate, "--candidate");
  check_run_arguments(request.base_args, "--base-arg");
  check_run_arguments(request.candidate_args, "--candidate-arg");
  if (request.rounds < 2) {
    throw Failure::invalid_input(Problem{"--rounds", "", "needs at least 2 rounds"});
  }
  if (auto problem = check_formats(request.formats)) throw Failure::invalid_input(*problem);
  const Scenario scenario = check_scenario(request.scenario_path);
  check_gate_outputs(request.out_path, request.formats);
  std::optional<TemporaryDirectory> temporary;
  if (request.keep_reports) {
    make_report_directory(*request.keep_reports);
  } else {
    temporary.emplace("pollscope-ab");
  }
  const std::string directory = temporary ? temporary->path() : *request.keep_reports;
  Rounds rounds = run_rounds(request, directory, run_limit(scenario, false));
  std::vector<std::string> warnings;
  if (request.instructions && !rounds.interruption) {
    warnings = add_instruction_runs(request, directory, run_limit(scenario, true), rounds);
  }
  if (rounds.interruption) return write_interrupted(request, scenario, rounds, out, err);
  auto compared = compare_repeated(rounds.base, rounds.candidate, GateOptions{});
  if (auto* problem = std::get_if<Problem>(&compared)) throw Failure::invalid_input(*problem);
  auto& comparison = std::get<GateComparison>(compared);
  comparison.warnings.insert(comparison.warnings.end(), warnings.begin(), warnings.end());
  nlohmann::json document = gate_document(comparison, request.rounds);
  add_run_arguments(request, document);
  write_document(document.dump(2) + "\n", request.out_path, out);
  write_formats(comparison, request.formats);
  if (!request.quiet) err << gate_summary(comparison, "pollscope: ");
  return exit_code_of(comparison.verdict(), request.strict);
}

}  // namespace pollscope

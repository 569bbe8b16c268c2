#include "run.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <ostream>

#include <fmt/format.h>

#include "engine.hpp"
#include "report.hpp"
#include "scenario.hpp"

namespace pollscope {

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void request_stop(int) {
  stop_requested.store(true, std::memory_order_relaxed);
}

// SIGINT and SIGTERM end the run cleanly while it is installed, and restore what was there.
class StopSignals {
 public:
  StopSignals() {
    stop_requested = false;
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &old_interrupt_);
    ::sigaction(SIGTERM, &action, &old_terminate_);
  }
  ~StopSignals() {
    ::sigaction(SIGINT, &old_interrupt_, nullptr);
    ::sigaction(SIGTERM, &old_terminate_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_interrupt_ {};
  struct sigaction old_terminate_ {};
};

std::string iso_time_now() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::variant<Scenario, ScenarioError> load(const std::optional<std::string>& path) {
  if (path) return load_scenario(*path);
  const auto document = nlohmann::json::parse(default_scenario_text(), nullptr, false);
  return parse_scenario(document, "(built-in default scenario)");
}

}  // namespace

int run_command(const RunRequest& request, std::ostream& out, std::ostream& err) {
  auto loaded = load(request.scenario_path);
  if (auto* error = std::get_if<ScenarioError>(&loaded)) {
    err << "pollscope: " << error->to_string() << "\n";
    return kExitInvalidInput;
  }
  Scenario scenario = std::get<Scenario>(std::move(loaded));

  // A baseline that cannot be compared with this run is refused before the run, not after it.
  nlohmann::json baseline;
  if (request.baseline_path) {
    auto loaded_baseline = load_baseline(
        *request.baseline_path, scenario_hash(scenario.source),
        request.scenario_path.value_or("the built-in default scenario"), request.compare);
    if (auto* error = std::get_if<CompareError>(&loaded_baseline)) {
      err << "pollscope: " << error->to_string() << "\n";
      return kExitInvalidInput;
    }
    baseline = std::get<nlohmann::json>(std::move(loaded_baseline));
  }

  StopSignals signals;
  RunOptions options;
  options.backend = request.backend;
  options.stop = &stop_requested;
  const bool progress = !request.quiet && ::isatty(STDERR_FILENO) == 1;
  if (progress) {
    options.progress = [&err](const std::string& phase, double seconds, std::uint64_t events) {
      err << fmt::format("\rpollscope: phase {}: {:.0f} s, {} events   ", phase, seconds, events)
          << std::flush;
    };
  }
  const std::string start_time = iso_time_now();
  RunOutcome outcome;
  try {
    outcome = run_scenario(scenario, options);
  } catch (const EnvironmentError& error) {
    if (progress) err << "\n";
    err << "pollscope: " << error.what() << "\n";
    return kExitEnvironment;
  }
  if (progress) err << "\n";

  auto report = make_report(scenario, outcome, start_time);
  if (request.baseline_path && !outcome.interrupted) {
    auto compared = compare_reports(baseline, *request.baseline_path, report,
                                    request.out_path.value_or("(stdout)"), request.compare);
    // check_baseline checked all of it on the baseline's side, and this report is well formed.
    if (auto* error = std::get_if<CompareError>(&compared)) {
      err << "pollscope: " << error->to_string() << "\n";
      return kExitInvalidInput;
    }
    const auto& comparison = std::get<ReportComparison>(compared);
    for (const std::string& warning : comparison.warnings) {
      err << "pollscope: warning: " << warning << "\n";
    }
    report["baseline"] = to_json(comparison);
    if (comparison.regressed()) report["verdict"] = "fail";
  }
  const std::string text = report.dump(2) + "\n";
  if (!write_document(text, request.out_path, out, err)) return kExitEnvironment;
  if (!request.quiet) err << human_summary(report);

  const auto verdict = verdict_of(report);
  if (verdict.interrupted) return kExitInterrupted;
  return verdict.thresholds_passed ? kExitPassed : kExitThresholdFailed;
}

int validate_command(const std::string& path, std::ostream& out, std::ostream& err) {
  auto loaded = load_scenario(path);
  if (auto* error = std::get_if<ScenarioError>(&loaded)) {
    err << "pollscope: " << error->to_string() << "\n";
    return kExitInvalidInput;
  }
  const auto& scenario = std::get<Scenario>(loaded);
  out << fmt::format("{}: valid: scenario \"{}\", {} {} pairs, {} phase(s), {} threshold(s)\n",
                     path, scenario.name, scenario.sockets.count, to_string(scenario.sockets.kind),
                     scenario.phases.size(), scenario.thresholds.size());
  return kExitPassed;
}

int scenarios_command(const std::string& directory, std::ostream& out, std::ostream& err) {
  std::error_code error;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const auto& path = entry.path();
    if (path.extension() == ".json" &&
        path.filename().string().find(".schema.") == std::string::npos) {
      files.push_back(path);
    }
  }
  if (error) {
    err << "pollscope: " << directory << ": cannot list scenarios: " << error.message() << "\n";
    return kExitInvalidInput;
  }
  std::sort(files.begin(), files.end());
  int status = kExitPassed;
  for (const auto& file : files) {
    auto loaded = load_scenario(file.string());
    if (auto* problem = std::get_if<ScenarioError>(&loaded)) {
      err << "pollscope: " << problem->to_string() << "\n";
      status = kExitInvalidInput;
      continue;
    }
    const auto& scenario = std::get<Scenario>(loaded);
    out << fmt::format("{:<16} {}\n", scenario.name, scenario.description);
  }
  return status;
}

std::string scenarios_directory() {
  if (const char* forced = std::getenv("POLLSCOPE_SCENARIOS"); forced && *forced) return forced;
  if (std::filesystem::is_directory(POLLSCOPE_SOURCE_SCENARIOS)) return POLLSCOPE_SOURCE_SCENARIOS;
  return POLLSCOPE_INSTALLED_SCENARIOS;
}

}  // namespace pollscope

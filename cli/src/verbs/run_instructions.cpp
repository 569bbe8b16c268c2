// `pollscope run --instructions`: the same run under callgrind, which counts the user-space
// instructions executed while the measured phases run (engine/callgrind_zone.hpp) and nothing
// else. The count is the same from run to run to well under 1%, whatever the machine's load:
// the figure the performance gate can compare almost exactly.

#include <stdlib.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "io/child_run.hpp"
#include "io/files.hpp"
#include "verbs/run_parts.hpp"

namespace pollscope {

namespace {

constexpr const char* kInsideVariable = "POLLSCOPE_INSIDE_CALLGRIND";

nlohmann::json report_with_instructions(const std::string& directory) {
  auto loaded = read_json_file(directory + "/report.json");
  if (auto* problem = std::get_if<Problem>(&loaded)) throw Failure::invalid_input(*problem);
  nlohmann::json report = std::get<JsonFile>(std::move(loaded)).document;
  std::ifstream file(directory + "/callgrind.out");
  std::stringstream profile;
  profile << file.rdbuf();
  const auto total = callgrind_total(profile.str());
  if (!total) throw Failure::environment("--instructions: callgrind wrote no count");
  const double events = report.at("overall").value("events", 0.0);
  report["overall"]["cost"]["instructions_per_event"] = events > 0 ? *total / events : 0.0;
  return report;
}

}  // namespace

bool inside_callgrind() {
  return ::getenv(kInsideVariable) != nullptr;
}

std::optional<double> callgrind_total(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  std::optional<double> total;
  while (std::getline(lines, line)) {
    for (const std::string_view key : {"summary:", "totals:"}) {
      if (line.starts_with(key)) {
        try {
          total = std::stod(line.substr(key.size()));
        } catch (const std::exception&) {
          return std::nullopt;
        }
      }
    }
  }
  return total;
}

nlohmann::json run_under_callgrind(const RunRequest& request) {
  const auto valgrind = find_on_path("valgrind");
  if (!valgrind) {
    throw Failure::invalid_input(
        Problem{"--instructions", "", "needs valgrind (callgrind), which is not installed"});
  }
  const TemporaryDirectory temporary("pollscope-callgrind");
  const std::string& directory = temporary.path();
  std::vector<std::string> args = {"--tool=callgrind",
                                   "--instr-atstart=no",
                                   "--trace-children=no",
                                   "--quiet",
                                   "--callgrind-out-file=" + directory + "/callgrind.out",
                                   own_executable()};
  for (std::string& arg : single_run_arguments(request, directory + "/report.json")) {
    args.push_back(std::move(arg));
  }
  ::setenv(kInsideVariable, "1", 1);
  const int code = run_child(*valgrind, args);
  ::unsetenv(kInsideVariable);
  if (code != kExitPassed && code != kExitThresholdFailed) {
    throw Failure::environment(
        fmt::format("--instructions: the run under callgrind exited with {}", code));
  }
  return report_with_instructions(directory);
}

}  // namespace pollscope

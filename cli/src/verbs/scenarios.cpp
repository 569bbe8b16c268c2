// `pollscope validate` and `pollscope scenarios`: scenarios checked, not run.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <ostream>

#include <fmt/format.h>

#include "base/terminal_text.hpp"
#include "scenario/scenario.hpp"
#include "verbs/verbs.hpp"

namespace pollscope {

std::variant<Scenario, Problem> load_within_budget(const std::string& path,
                                                   std::uint64_t memory_budget_mib) {
  auto loaded = load_scenario(path, memory_budget_mib);
  if (const auto* scenario = std::get_if<Scenario>(&loaded)) {
    if (auto problem = check_memory_budget(*scenario, path, memory_budget_mib)) {
      return *std::move(problem);
    }
  }
  return loaded;
}

int validate_command(const std::string& path, std::ostream& out, std::uint64_t memory_budget_mib) {
  auto loaded = load_within_budget(path, memory_budget_mib);
  if (auto* problem = std::get_if<Problem>(&loaded)) throw Failure::invalid_input(*problem);
  const auto& scenario = std::get<Scenario>(loaded);
  out << fmt::format("{}: valid: scenario \"{}\", {} {} pairs, {} phase(s), {} threshold(s)\n",
                     terminal_text(path), terminal_text(scenario.name), scenario.sockets.count,
                     to_string(scenario.sockets.kind), scenario.phases.size(),
                     scenario.thresholds.size());
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
    throw Failure::invalid_input(
        Problem{directory, "", "cannot list scenarios: " + error.message()});
  }
  std::sort(files.begin(), files.end());
  int status = kExitPassed;
  for (const auto& file : files) {
    auto loaded = load_within_budget(file.string(), kDefaultMemoryBudgetMib);
    if (auto* problem = std::get_if<Problem>(&loaded)) {
      err << "pollscope: " << problem->to_string() << "\n";
      status = kExitInvalidInput;
      continue;
    }
    const auto& scenario = std::get<Scenario>(loaded);
    out << fmt::format("{:<16} {}\n", terminal_text(scenario.name),
                       terminal_text(scenario.description));
  }
  return status;
}

std::string scenarios_directory() {
  if (const char* forced = std::getenv("POLLSCOPE_SCENARIOS"); forced && *forced) return forced;
  if (std::filesystem::is_directory(POLLSCOPE_SOURCE_SCENARIOS)) return POLLSCOPE_SOURCE_SCENARIOS;
  return POLLSCOPE_INSTALLED_SCENARIOS;
}

}  // namespace pollscope

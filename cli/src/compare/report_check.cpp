// Reading and checking a report before it is compared, and a baseline before a run.

#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "base/json_text.hpp"
#include "compare/compare.hpp"
#include "compare/internal.hpp"
#include "io/files.hpp"
#include "report/report.hpp"

namespace pollscope {

namespace {

using json = nlohmann::json;

// A pollscope run report of this format, complete and not interrupted.
std::optional<Problem> check_header(const json& report, std::string_view file) {
  const auto fail = [&](std::string path, std::string reason) {
    return Problem{std::string(file), std::move(path), std::move(reason)};
  };
  if (!report.is_object()) {
    return fail("", fmt::format("not a pollscope report: the document is {}, not an object",
                                describe(report)));
  }
  if (report.contains("kind")) {
    return fail("/kind", "not a run's report (a comparison? compare the reports it was made of)");
  }
  const auto tool = report.find("tool");
  if (tool == report.end()) return fail("/tool", "missing: not a pollscope report");
  if (*tool != "pollscope") {
    return fail("/tool", fmt::format("not a pollscope report: expected \"pollscope\", got {}",
                                     shown(*tool)));
  }
  const auto format = report.find("format");
  if (format == report.end()) return fail("/format", "missing");
  if (!format->is_number_integer() || *format != kReportFormat) {
    return fail("/format",
                fmt::format("unsupported report format {} (this pollscope reads format {})",
                            shown(*format), kReportFormat));
  }
  const auto interrupted = report.find("interrupted");
  if (interrupted == report.end()) return fail("/interrupted", "missing");
  if (!interrupted->is_boolean()) {
    return fail("/interrupted", fmt::format("expected a boolean, got {}", describe(*interrupted)));
  }
  if (interrupted->get<bool>()) {
    return fail("/interrupted",
                "the run was interrupted: its figures cover only part of its scenario and "
                "cannot be compared");
  }
  return std::nullopt;
}

// `parent[key]` at `parent_path` is there and of `type`; otherwise what is wrong with it.
std::optional<Problem> member_problem(const json& parent, const std::string& parent_path,
                                      const char* key, json::value_t type, std::string_view file) {
  const std::string path = json_child(parent_path, key);
  const auto member = parent.find(key);
  if (member == parent.end()) return Problem{std::string(file), path, "missing"};
  if (member->type() == type) return std::nullopt;
  const std::string_view wanted = type == json::value_t::object    ? "an object"
                                  : type == json::value_t::array   ? "an array"
                                  : type == json::value_t::boolean ? "a boolean"
                                                                   : "a string";
  return Problem{std::string(file), path,
                 fmt::format("expected {}, got {}", wanted, describe(*member))};
}

// What figures are read from, in a report or in one of its repetitions (at `at`): the overall
// and leak blocks, and phases named each by a name of its own. A figure of a phase is found by
// the phase's name ("phases.steady.events_per_second"): with two phases of one name it would be
// one of them at random, so such a report (a scenario refuses such phases: a hand-edited or
// foreign one) cannot be read.
std::optional<Problem> check_blocks(const json& block, const std::string& at,
                                    std::string_view file) {
  for (const char* key : {"overall", "leaks"}) {
    if (auto error = member_problem(block, at, key, json::value_t::object, file)) return error;
  }
  if (auto error = member_problem(block, at, "phases", json::value_t::array, file)) return error;
  const json& phases = block.at("phases");
  // Each name and where it was first seen (a report of 16 MiB may hold many phases).
  std::unordered_map<std::string_view, std::size_t> seen;
  for (std::size_t index = 0; index < phases.size(); ++index) {
    const std::string path = json_child(json_child(at, "phases"), index);
    if (!phases[index].is_object()) {
      return Problem{std::string(file), path,
                     fmt::format("expected an object, got {}", describe(phases[index]))};
    }
    if (auto error = member_problem(phases[index], path, "name", json::value_t::string, file)) {
      return error;
    }
    const std::string& name = phases[index].at("name").get_ref<const std::string&>();
    const auto [first, added] = seen.emplace(name, index);
    if (!added) {
      return Problem{
          std::string(file), json_child(path, "name"),
          fmt::format("duplicate phase name {} (also {}): its figures would be ambiguous",
                      quote(name),
                      json_child(json_child(json_child(at, "phases"), first->second), "name"))};
    }
  }
  return std::nullopt;
}

// The thresholds the gate counts, when there are any: each an object with its text and whether
// it passed.
std::optional<Problem> check_thresholds(const json& block, const std::string& at,
                                        std::string_view file) {
  if (!block.contains("thresholds")) return std::nullopt;
  if (auto error = member_problem(block, at, "thresholds", json::value_t::array, file)) {
    return error;
  }
  const json& thresholds = block.at("thresholds");
  for (std::size_t index = 0; index < thresholds.size(); ++index) {
    const std::string path = json_child(json_child(at, "thresholds"), index);
    if (!thresholds[index].is_object()) {
      return Problem{std::string(file), path,
                     fmt::format("expected an object, got {}", describe(thresholds[index]))};
    }
    if (auto error =
            member_problem(thresholds[index], path, "threshold", json::value_t::string, file)) {
      return error;
    }
    if (auto error =
            member_problem(thresholds[index], path, "pass", json::value_t::boolean, file)) {
      return error;
    }
  }
  return std::nullopt;
}

// The repetitions of `run --repeat`, when there are any: each one's figures are read as a run's.
std::optional<Problem> check_repetitions(const json& report, std::string_view file) {
  if (!report.contains("repetitions")) return std::nullopt;
  if (auto error = member_problem(report, "", "repetitions", json::value_t::array, file)) {
    return error;
  }
  const json& repetitions = report.at("repetitions");
  for (std::size_t index = 0; index < repetitions.size(); ++index) {
    const std::string path = json_child("/repetitions", index);
    if (!repetitions[index].is_object()) {
      return Problem{std::string(file), path,
                     fmt::format("expected an object, got {}", describe(repetitions[index]))};
    }
    if (auto error = check_blocks(repetitions[index], path, file)) return error;
    if (auto error = check_thresholds(repetitions[index], path, file)) return error;
  }
  return std::nullopt;
}

// The context's strings, the blocks figures are read from, the thresholds and repetitions.
std::optional<Problem> check_structure(const json& report, std::string_view file) {
  if (auto error = member_problem(report, "", "context", json::value_t::object, file)) {
    return error;
  }
  for (const char* key :
       {"scenario", "scenario_hash", "backend", "build_type", "git_revision", "start_time"}) {
    if (auto error =
            member_problem(report.at("context"), "/context", key, json::value_t::string, file)) {
      return error;
    }
  }
  // Optional: reports written before they existed ran without (context_flag).
  for (const char* flag : {"single_thread_polls", "receive_ahead"}) {
    if (!report.at("context").contains(flag)) continue;
    if (auto error =
            member_problem(report.at("context"), "/context", flag, json::value_t::boolean, file)) {
      return error;
    }
  }
  if (auto error = check_blocks(report, "", file)) return error;
  if (auto error = check_thresholds(report, "", file)) return error;
  return check_repetitions(report, file);
}

}  // namespace

std::string context_string(const json& report, const char* key) {
  return report.at("context").at(key).get<std::string>();
}

bool context_flag(const json& report, const char* key) {
  return report.at("context").value(key, false);
}

std::optional<Problem> check_same_scenario(const json& baseline, std::string_view file,
                                           const std::string& other_hash, std::string_view other) {
  const std::string hash = context_string(baseline, "scenario_hash");
  if (hash == other_hash) return std::nullopt;
  return Problem{std::string(file), "/context/scenario_hash",
                 fmt::format("{}, but {} {}: the runs are of different scenarios "
                             "(--allow-different-scenario compares them anyway)",
                             printable(hash), other, printable(other_hash))};
}

std::variant<nlohmann::json, Problem> load_report(const std::string& path) {
  auto read = read_json_file(path);
  if (auto* problem = std::get_if<Problem>(&read)) return std::move(*problem);
  json report = std::get<JsonFile>(std::move(read)).document;
  if (auto problem = check_report(report, path)) return *std::move(problem);
  return report;
}

std::optional<Problem> check_report(const nlohmann::json& report, std::string_view file) {
  if (auto problem = check_header(report, file)) return problem;
  return check_structure(report, file);
}

std::optional<Problem> check_baseline(const nlohmann::json& baseline,
                                      std::string_view baseline_file,
                                      const std::string& scenario_hash,
                                      std::string_view scenario_file,
                                      const CompareOptions& options) {
  try {
    if (auto error = check_report(baseline, baseline_file)) return error;
    if (!options.allow_different_scenario) {
      if (auto error = check_same_scenario(baseline, baseline_file, scenario_hash,
                                           fmt::format("{} hashes to", scenario_file))) {
        return error;
      }
    }
  } catch (const std::exception& error) {
    return Problem{std::string(baseline_file), "", error.what()};
  }
  // Compared with itself, the baseline has each of its figures read that the run's comparison
  // will read (the run has the same phases, or fewer with another scenario), and the options
  // checked against it.
  auto self = compare_reports(baseline, baseline_file, baseline, baseline_file, options);
  if (auto* error = std::get_if<Problem>(&self)) return *std::move(error);
  return std::nullopt;
}

std::variant<nlohmann::json, Problem> load_baseline(const std::string& path,
                                                    const std::string& scenario_hash,
                                                    std::string_view scenario_file,
                                                    const CompareOptions& options) {
  auto baseline = load_report(path);
  if (std::holds_alternative<Problem>(baseline)) return baseline;
  if (auto error =
          check_baseline(std::get<json>(baseline), path, scenario_hash, scenario_file, options)) {
    return *std::move(error);
  }
  return baseline;
}

}  // namespace pollscope

#include <algorithm>
#include <filesystem>

#include "trace/across_processes.hpp"
#include "trace/trace.hpp"

namespace pollscope {

namespace {

std::string read_whole(const std::filesystem::path& path) {
  std::string text;
  if (FILE* file = std::fopen(path.c_str(), "re")) {
    char buffer[65536];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, file)) > 0;)
      text.append(buffer, n);
    std::fclose(file);
  }
  return text;
}

}  // namespace

TraceOutcome grade_directory(const std::string& directory, bool finished,
                             const std::vector<SuppressionRule>& rules) {
  TraceOutcome outcome;
  Symbolizer symbolizer;
  std::vector<std::filesystem::path> logs;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error))
    if (entry.path().extension() == ".log") logs.push_back(entry.path());
  std::sort(logs.begin(), logs.end());
  for (const auto& log : logs) {
    TracedProcess process;
    auto found = grade_process(parse_trace_records(read_whole(log)), finished, symbolizer, process);
    if (process.pid == 0) continue;
    outcome.processes.push_back(process);
    outcome.findings.insert(outcome.findings.end(), std::make_move_iterator(found.begin()),
                            std::make_move_iterator(found.end()));
  }
  end_what_children_removed(outcome.processes, outcome.findings);
  find_untraced_spawns(outcome.processes, outcome.findings);
  const auto program_of = [&](pid_t pid) {
    for (const auto& process : outcome.processes)
      if (process.pid == pid) return process.executable;
    return std::string();
  };
  outcome.suppressions = rules;
  outcome.suppressed = suppress(rules, program_of, outcome.findings);
  return outcome;
}

nlohmann::json trace_document(const TraceRequest& request, const TraceOutcome& outcome) {
  nlohmann::json document = {{"format", 1},
                             {"tool", "pollscope"},
                             {"kind", "trace"},
                             {"command", request.command},
                             {"running", outcome.running},
                             {"exit_status", nullptr},
                             {"processes", nlohmann::json::array()}};
  if (outcome.exit_status) document["exit_status"] = *outcome.exit_status;
  for (const auto& process : outcome.processes) {
    document["processes"].push_back({{"pid", process.pid},
                                     {"parent", process.parent},
                                     {"executable", process.executable},
                                     {"records", process.records}});
  }
  document["leaks"] = findings_block(outcome.findings);
  add_suppressions(document["leaks"], outcome.suppressions, outcome.suppressed);
  return document;
}

}  // namespace pollscope

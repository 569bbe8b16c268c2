// `pollscope compare`: two reports in, a comparison out.

#include <algorithm>
#include <ostream>

#include "base/terminal_text.hpp"
#include "gate/ci_formats.hpp"
#include "gate/gate_json.hpp"
#include "io/files.hpp"
#include "io/output.hpp"
#include "verbs/ab.hpp"
#include "verbs/verbs.hpp"

namespace pollscope {

namespace {

nlohmann::json load(const std::string& path) {
  auto loaded = load_report(path);
  if (auto* problem = std::get_if<Problem>(&loaded)) throw Failure::invalid_input(*problem);
  return std::get<nlohmann::json>(std::move(loaded));
}

std::vector<GateInput> load_side(const std::vector<std::string>& paths) {
  std::vector<GateInput> side;
  for (const std::string& path : paths) side.push_back({path, load(path)});
  return side;
}

// Stdin holds one report, read once: a second "-" would find it empty, and fail as if the
// report were.
void check_stdin_read_once(std::vector<std::string> paths) {
  if (std::count(paths.begin(), paths.end(), "-") > 1) {
    throw Failure::invalid_input(
        Problem{"-", "", "stdin is given for two reports and can be read once: give files"});
  }
}

// The options of two reports' comparison mean nothing to the gate, whose figures and tolerances
// are ab's: refused, so that a CI job never believes it loosened or narrowed the gate.
void refuse_report_options(const CompareOptions& options) {
  const auto refuse = [](const char* option) {
    throw Failure::invalid_input(
        Problem{option, "",
                "applies to BASELINE CURRENT, not to --base/--candidate (judged as ab "
                "judges, with its figures and tolerances)"});
  };
  if (!options.tolerances.empty()) refuse("--tolerance");
  if (!options.metrics.empty()) refuse("--metric");
  if (options.allow_different_scenario) refuse("--allow-different-scenario");
}

// The gate's options mean nothing to two reports' comparison, which has no CI formats and no
// inconclusive verdict: refused, so that a CI job never believes it wrote a JUnit file or made
// the comparison strict.
void refuse_gate_options(const CompareRequest& request) {
  const auto refuse = [](const char* option) {
    throw Failure::invalid_input(
        Problem{option, "",
                "applies to --base/--candidate (judged as ab judges), not to BASELINE CURRENT"});
  };
  if (!request.formats.empty()) refuse("--format");
  if (request.strict) refuse("--strict");
}

// Several reports a side, judged by their spread as `ab` judges them.
int compare_sides(const CompareRequest& request, std::ostream& out, std::ostream& err) {
  if (!request.baseline_path.empty() || !request.current_path.empty()) {
    throw Failure::invalid_input(Problem{
        "compare", "", "give reports either as BASELINE CURRENT or with --base and --candidate"});
  }
  refuse_report_options(request.options);
  std::vector<std::string> paths = request.base_paths;
  paths.insert(paths.end(), request.candidate_paths.begin(), request.candidate_paths.end());
  check_stdin_read_once(std::move(paths));
  if (auto problem = check_formats(request.formats)) throw Failure::invalid_input(*problem);
  check_gate_outputs(request.out_path, request.formats);
  OutputFile output = OutputFile::open(request.out_path);
  auto compared = compare_repeated(load_side(request.base_paths),
                                   load_side(request.candidate_paths), GateOptions{});
  if (auto* problem = std::get_if<Problem>(&compared)) throw Failure::invalid_input(*problem);
  const auto& comparison = std::get<GateComparison>(compared);
  injected_failure_point("io");
  output.write(gate_document(comparison, 0).dump(2) + "\n", out);
  write_formats(comparison, request.formats);
  if (!request.quiet) err << gate_summary(comparison, "pollscope: ");
  return exit_code_of(comparison.verdict(), request.strict);
}

}  // namespace

int compare_command(const CompareRequest& request, std::ostream& out, std::ostream& err) {
  if (!request.base_paths.empty() || !request.candidate_paths.empty()) {
    return compare_sides(request, out, err);
  }
  if (request.baseline_path.empty() || request.current_path.empty()) {
    throw Failure::invalid_input(
        Problem{"compare", "", "needs BASELINE and CURRENT reports, or --base and --candidate"});
  }
  refuse_gate_options(request);
  check_stdin_read_once({request.baseline_path, request.current_path});
  OutputFile output = OutputFile::open(request.out_path);
  const nlohmann::json baseline = load(request.baseline_path);
  const nlohmann::json current = load(request.current_path);
  auto compared = compare_reports(baseline, request.baseline_path, current, request.current_path,
                                  request.options);
  if (auto* problem = std::get_if<Problem>(&compared)) throw Failure::invalid_input(*problem);
  const auto& comparison = std::get<ReportComparison>(compared);

  for (const std::string& warning : comparison.warnings) {
    err << "pollscope: warning: " << one_line_text(warning) << "\n";
  }
  const nlohmann::json document = comparison_document(comparison);
  injected_failure_point("io");
  output.write(document.dump(2) + "\n", out);
  if (!request.quiet) err << comparison_summary(document, "pollscope: ");
  return comparison.regressed() ? kExitRegressed : kExitPassed;
}

}  // namespace pollscope

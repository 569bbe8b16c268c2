// `pollscope compare`: two reports in, a comparison out.

#include <ostream>

#include "io/files.hpp"
#include "io/output.hpp"
#include "verbs/verbs.hpp"

namespace pollscope {

namespace {

nlohmann::json load(const std::string& path) {
  auto loaded = load_report(path);
  if (auto* problem = std::get_if<Problem>(&loaded)) throw Failure::invalid_input(*problem);
  return std::get<nlohmann::json>(std::move(loaded));
}

}  // namespace

int compare_command(const CompareRequest& request, std::ostream& out, std::ostream& err) {
  OutputFile output = OutputFile::open(request.out_path);
  const nlohmann::json baseline = load(request.baseline_path);
  const nlohmann::json current = load(request.current_path);
  auto compared = compare_reports(baseline, request.baseline_path, current, request.current_path,
                                  request.options);
  if (auto* problem = std::get_if<Problem>(&compared)) throw Failure::invalid_input(*problem);
  const auto& comparison = std::get<ReportComparison>(compared);

  for (const std::string& warning : comparison.warnings) {
    err << "pollscope: warning: " << warning << "\n";
  }
  const nlohmann::json document = comparison_document(comparison);
  injected_failure_point("io");
  output.write(document.dump(2) + "\n", out);
  if (!request.quiet) err << comparison_summary(document, "pollscope: ");
  return comparison.regressed() ? kExitRegressed : kExitPassed;
}

}  // namespace pollscope

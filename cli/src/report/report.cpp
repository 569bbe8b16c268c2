#include "report/report.hpp"

#include "base/failure.hpp"
#include "base/json_text.hpp"
#include "figures/catalogue.hpp"
#include "report/lookup.hpp"

namespace pollscope {

namespace {

using json = nlohmann::json;

json value_json(const FigureSpec& spec, const Figures& figures) {
  if (const auto* histogram = std::get_if<Distribution>(&spec.reading)) {
    return (figures.**histogram).summary();
  }
  const double value = finite_or_zero(value_of(spec, figures));
  switch (spec.shape) {
    case Shape::count:
      return static_cast<std::uint64_t>(value);
    case Shape::flag:
      return value != 0;
    default:
      return value;
  }
}

// "registry_ns.register" is at /registry_ns/register.
json::json_pointer pointer_of(std::string_view name) {
  std::string pointer;
  for (std::size_t start = 0; start <= name.size();) {
    const auto dot = std::min(name.find('.', start), name.size());
    pointer = json_child(pointer, name.substr(start, dot - start));
    start = dot + 1;
  }
  return json::json_pointer(pointer);
}

bool compare(double actual, Comparison comparison, double limit) {
  switch (comparison) {
    case Comparison::less:
      return actual < limit;
    case Comparison::less_equal:
      return actual <= limit;
    case Comparison::greater:
      return actual > limit;
    case Comparison::greater_equal:
      return actual >= limit;
    case Comparison::equal:
      return actual == limit;
  }
  return false;
}

// Evaluates the scenario's thresholds on `report`; false when one failed.
bool evaluate_thresholds(const Scenario& scenario, json& report) {
  bool passed = true;
  report["thresholds"] = json::array();
  for (const Threshold& threshold : scenario.thresholds) {
    const auto actual = figure(report, threshold.metric);
    const bool pass = actual && compare(*actual, threshold.comparison, threshold.value);
    passed = passed && pass;
    json entry = {{"threshold", threshold.text},
                  {"metric", threshold.metric},
                  {"actual", actual ? finite_or_zero(*actual) : 0.0},
                  {"pass", pass}};
    // A figure shown only when it applies (a capture's, a replay's): say it is absent, not 0.
    if (!actual) entry["missing"] = "not in the report: " + threshold.metric;
    report["thresholds"].push_back(std::move(entry));
  }
  return passed;
}

}  // namespace

json figures_block(const Figures& figures, bool overall) {
  json block = json::object();
  for (const FigureSpec& spec : figure_catalogue()) {
    const bool here =
        spec.scope == Scope::phase_and_overall || (overall && spec.scope == Scope::overall);
    if (!here || (spec.shown_when != nullptr && spec.shown_when(figures) == 0)) continue;
    block[pointer_of(spec.name)] = value_json(spec, figures);
  }
  return block;
}

json leaks_block(const std::vector<LeakFinding>& leaks) {
  json block;
  for (const FigureSpec& spec : figure_catalogue()) {
    if (spec.scope != Scope::leak_check) continue;
    const std::string_view kind = std::get<LeakKind>(spec.reading).kind;
    std::uint64_t count = 0;
    for (const auto& leak : leaks) count += kind.empty() || leak.kind == kind;
    block[pointer_of(spec.name)] = count;
  }
  json& details = block["leaks"]["details"] = json::array();
  for (const auto& leak : leaks) {
    details.push_back({{"kind", leak.kind},
                       {"fd", leak.fd},
                       {"token", leak.token},
                       {"interest", leak.interest},
                       {"site", leak.site},
                       {"detail", leak.detail}});
  }
  return std::move(block["leaks"]);
}

json make_report(const Scenario& scenario, const RunOutcome& outcome,
                 const std::string& start_time) {
  injected_failure_point("report");
  json report;
  report["format"] = kReportFormat;
  report["tool"] = "pollscope";
  report["context"] = context_block(scenario, outcome, start_time);
  report["phases"] = json::array();
  for (const auto& phase : outcome.phases) {
    auto block = figures_block(phase.figures, false);
    block["name"] = phase.name;
    if (phase.leak_checked) block["leaks"] = leaks_block(phase.leaks);
    report["phases"].push_back(std::move(block));
  }
  report["overall"] = figures_block(outcome.overall, true);
  report["leaks"] = leaks_block(outcome.leaks);
  const bool passed = evaluate_thresholds(scenario, report);
  report["interrupted"] = outcome.interrupted;
  report["verdict"] = outcome.interrupted ? "interrupted" : (passed ? "pass" : "fail");
  if (const auto failure = missing_share(outcome)) {  // a partial report: a worker's share lacks
    report["incomplete"] = *failure;
    if (report["verdict"] == "pass") report["verdict"] = "fail";
  }
  return report;
}

Verdict verdict_of(const json& report) {
  Verdict verdict;
  verdict.interrupted = report.value("interrupted", false);
  verdict.thresholds_passed = report.value("verdict", "fail") != "fail";
  for (const auto& threshold : report.value("thresholds", json::array())) {
    if (!threshold.value("pass", false)) verdict.thresholds_passed = false;
  }
  return verdict;
}

}  // namespace pollscope

// Comparing two reports row by row.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <system_error>

#include <fmt/format.h>

#include "base/json_text.hpp"
#include "compare/compare.hpp"
#include "compare/internal.hpp"
#include "compare/rules.hpp"
#include "report/lookup.hpp"

namespace pollscope {

namespace {

using json = nlohmann::json;

// A step on the way to a figure that is not an object.
std::optional<Problem> blocked(const FigureLookup& found, std::string_view file) {
  if (found.blocked == nullptr) return std::nullopt;
  return Problem{std::string(file), found.pointer,
                 fmt::format("expected an object, got {}", describe(*found.blocked))};
}

// A figure's value in a report: none when the report has no such figure, a Problem when it has
// one that is not a number (a boolean counts as 1 or 0, as in thresholds) or is negative: every
// figure is a count, a rate or a time, and a negative one (a hand-edited or broken report) would
// read as an improvement, as the gate also refuses it.
std::variant<std::optional<double>, Problem> read_figure(const json& report,
                                                         const std::string& metric,
                                                         std::string_view file) {
  const FigureLookup found = look_up(report, metric);
  if (auto problem = blocked(found, file)) return *std::move(problem);
  if (found.node == nullptr) return std::optional<double>();
  if (!found.node->is_number() && !found.node->is_boolean()) {
    return Problem{std::string(file), found.pointer,
                   fmt::format("expected a number, got {}", describe(*found.node))};
  }
  const auto value = figure(report, metric);
  if (value && *value < 0) {
    return Problem{std::string(file), found.pointer,
                   fmt::format("is {}: a figure is never negative", shown(*found.node))};
  }
  return value;
}

// A figure named by --metric or --tolerance must be one of the baseline's.
std::optional<Problem> check_named_figure(const json& baseline, std::string_view file,
                                          const std::string& metric, const std::string& option) {
  const FigureLookup found = look_up(baseline, metric);
  if (auto problem = blocked(found, file)) return problem;
  if (found.node == nullptr || found.node->is_object() || found.node->is_array()) {
    return Problem{
        option, "",
        fmt::format("{} is not a figure of {} (figures are named as in thresholds: "
                    "events_per_second, latency_ns.p99, leaks.total, phases.NAME.FIGURE...)",
                    printable(metric), file)};
  }
  if (!found.node->is_number() && !found.node->is_boolean()) {
    return Problem{std::string(file), found.pointer,
                   fmt::format("expected a number, got {}", describe(*found.node))};
  }
  return std::nullopt;
}

struct Tolerance {
  std::string metric;
  double percent = 0;
  std::string option;  // "--tolerance METRIC=PERCENT", for errors
};

std::variant<Tolerance, Problem> parse_tolerance(std::string_view text) {
  Tolerance tolerance;
  tolerance.option = "--tolerance " + printable(text);
  const auto usage = [&](std::string reason) {
    return Problem{tolerance.option, "", std::move(reason)};
  };
  const auto equals = text.rfind('=');
  if (equals == std::string_view::npos) {
    return usage("expected METRIC=PERCENT, as in latency_ns.p99=50");
  }
  tolerance.metric = std::string(text.substr(0, equals));
  if (tolerance.metric.empty()) {
    return usage("no metric before \"=\" (expected METRIC=PERCENT, as in latency_ns.p99=50)");
  }
  std::string_view number = text.substr(equals + 1);
  if (number.ends_with('%')) number.remove_suffix(1);
  const char* end = number.data() + number.size();
  const auto [stop, error] = std::from_chars(number.data(), end, tolerance.percent);
  if (number.empty() || error != std::errc() || stop != end || !std::isfinite(tolerance.percent)) {
    return usage(fmt::format("the percent must be a number, 0 or more, got \"{}\"",
                             printable(text.substr(equals + 1))));
  }
  if (tolerance.percent < 0) {
    return usage(fmt::format("the percent must be 0 or more, got {}", printable(number)));
  }
  return tolerance;
}

// A file name as valid UTF-8 (invalid bytes replaced), so that the comparison's JSON can hold it:
// a name from the command line may be any bytes.
std::string utf8(std::string_view text) {
  const std::string quoted =
      json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
  return json::parse(quoted).get<std::string>();
}

ReportIdentity identity_of(const json& report, std::string_view file) {
  ReportIdentity identity;
  identity.file = utf8(file);
  identity.scenario = context_string(report, "scenario");
  identity.scenario_hash = context_string(report, "scenario_hash");
  identity.backend = context_string(report, "backend");
  identity.single_thread_polls = context_flag(report, "single_thread_polls");
  identity.receive_ahead = context_flag(report, "receive_ahead");
  identity.build_type = context_string(report, "build_type");
  identity.git_revision = context_string(report, "git_revision");
  identity.start_time = context_string(report, "start_time");
  return identity;
}

// A quotient that overflowed, as the largest finite double of its sign: the JSON stays finite
// and still says "enormous", where 0 would say "unchanged" (1e300 against 1e-300).
double saturated(double value) {
  if (std::isnan(value)) return 0;
  const double largest = std::numeric_limits<double>::max();
  return std::clamp(value, -largest, largest);
}

void judge(ComparisonRow& row) {
  if (row.missing()) return;
  const double baseline = *row.baseline;
  const double current = *row.current;
  if (baseline != 0) {
    row.ratio = saturated(current / baseline);
    row.change_percent = saturated((current - baseline) / baseline * 100);
  }
  // How far the figure moved the bad way, against how far its tolerance lets it.
  const double worse =
      row.direction == Direction::higher_is_better ? baseline - current : current - baseline;
  // The percent becomes a fraction first: |baseline| * percent overflows to infinity for a
  // baseline near the largest double, and an infinite allowance lets anything pass.
  const double allowed = std::abs(baseline) * (row.tolerance_percent / 100);
  row.regressed = worse > allowed;
  row.improved = -worse > allowed;
}

// What the options ask for: the figures named by --metric, and the tolerances, each checked
// against the baseline.
struct Asked {
  std::vector<std::string> metrics;
  std::map<std::string, double> tolerances;
  std::vector<std::string> tolerated;  // the metrics of --tolerance, in their order

  void add_metric(const std::string& metric) {
    if (std::find(metrics.begin(), metrics.end(), metric) == metrics.end()) {
      metrics.push_back(metric);
    }
  }
};

std::variant<Asked, Problem> read_options(const json& baseline, std::string_view baseline_file,
                                          const CompareOptions& options) {
  Asked asked;
  for (const std::string& metric : options.metrics) {
    if (auto error =
            check_named_figure(baseline, baseline_file, metric, "--metric " + printable(metric))) {
      return *std::move(error);
    }
    asked.add_metric(metric);
  }
  for (const std::string& text : options.tolerances) {
    auto parsed = parse_tolerance(text);
    if (auto* error = std::get_if<Problem>(&parsed)) return *std::move(error);
    const Tolerance& tolerance = std::get<Tolerance>(parsed);
    if (auto error =
            check_named_figure(baseline, baseline_file, tolerance.metric, tolerance.option)) {
      return *std::move(error);
    }
    if (rule_for(tolerance.metric).exact) {
      return Problem{tolerance.option, "",
                     fmt::format("{} is a correctness count: any increase is a regression, "
                                 "and it takes no tolerance",
                                 printable(tolerance.metric))};
    }
    asked.tolerances[tolerance.metric] = tolerance.percent;
    asked.tolerated.push_back(tolerance.metric);
  }
  return asked;
}

bool has_phase(const json& phases, const std::string& name) {
  return std::any_of(phases.begin(), phases.end(),
                     [&](const json& phase) { return phase.at("name") == name; });
}

// The default figures, and those of each phase both reports have (a warning for the others).
void add_default_metrics(const json& baseline, const json& current, ReportComparison& comparison,
                         Asked& asked) {
  for (const std::string& metric : default_metrics()) asked.add_metric(metric);
  const auto only_in = [&](const json& phases, const json& others, const std::string& file,
                           bool add) {
    for (const json& phase : phases) {
      const auto& name = phase.at("name").get_ref<const std::string&>();
      if (!has_phase(others, name)) {
        comparison.warnings.push_back(
            fmt::format("phase \"{}\" is only in {}: not compared", printable(name), file));
      } else if (add) {
        for (const std::string& figure : default_phase_figures()) {
          asked.add_metric(fmt::format("{}{}.{}", kPhasePrefix, name, figure));
        }
      }
    }
  };
  only_in(baseline.at("phases"), current.at("phases"), comparison.baseline.file, true);
  only_in(current.at("phases"), baseline.at("phases"), comparison.current.file, false);
}

// Who ran what: an error for different scenarios (unless allowed), warnings for other backends,
// Polls (single_thread_polls, receive_ahead) or build types.
std::optional<Problem> identify(const json& baseline, std::string_view baseline_file,
                                const json& current, std::string_view current_file,
                                const CompareOptions& options, ReportComparison& comparison) {
  comparison.baseline = identity_of(baseline, baseline_file);
  comparison.current = identity_of(current, current_file);
  const ReportIdentity& before = comparison.baseline;
  const ReportIdentity& after = comparison.current;
  if (before.scenario_hash != after.scenario_hash) {
    if (!options.allow_different_scenario) {
      return check_same_scenario(baseline, baseline_file, after.scenario_hash,
                                 fmt::format("{} has", current_file));
    }
    comparison.warnings.push_back(
        fmt::format("the scenarios differ: {} ran \"{}\" ({}), {} ran \"{}\" ({})", before.file,
                    printable(before.scenario), printable(before.scenario_hash), after.file,
                    printable(after.scenario), printable(after.scenario_hash)));
  }
  if (before.backend != after.backend) {
    comparison.warnings.push_back(fmt::format("the backends differ: {} ran on {}, {} on {}",
                                              before.file, printable(before.backend), after.file,
                                              printable(after.backend)));
  }
  if (before.single_thread_polls != after.single_thread_polls) {
    const auto polls = [](bool single) { return single ? "single-thread" : "shared"; };
    comparison.warnings.push_back(fmt::format("the Polls differ: {} ran {} Polls, {} {}",
                                              before.file, polls(before.single_thread_polls),
                                              after.file, polls(after.single_thread_polls)));
  }
  if (before.receive_ahead != after.receive_ahead) {
    const auto reads = [](bool ahead) { return ahead ? "received ahead" : "read by readiness"; };
    comparison.warnings.push_back(fmt::format("the reads differ: {}'s streams were {}, {}'s {}",
                                              before.file, reads(before.receive_ahead), after.file,
                                              reads(after.receive_ahead)));
  }
  if (before.build_type != after.build_type) {
    const auto built = [](const std::string& type) {
      return type.empty() ? std::string("(none)") : printable(type);
    };
    comparison.warnings.push_back(fmt::format("the build types differ: {} was built {}, {} {}",
                                              before.file, built(before.build_type), after.file,
                                              built(after.build_type)));
  }
  return std::nullopt;
}

std::variant<ComparisonRow, Problem> compare_row(const json& baseline,
                                                 std::string_view baseline_file,
                                                 const json& current, std::string_view current_file,
                                                 const Asked& asked, const std::string& metric) {
  ComparisonRow row;
  row.metric = metric;
  const Judgement rule = rule_for(metric);
  row.direction = rule.direction;
  row.tolerance_percent = rule.tolerance_percent;
  // A phase's figure takes the tolerance given for it, else the one given for the overall
  // figure of that name.
  if (auto exact = asked.tolerances.find(metric); exact != asked.tolerances.end()) {
    row.tolerance_percent = exact->second;
  } else if (auto overall = asked.tolerances.find(std::string(figure_of(metric)));
             overall != asked.tolerances.end()) {
    row.tolerance_percent = overall->second;
  }
  auto value = read_figure(baseline, metric, baseline_file);
  if (auto* error = std::get_if<Problem>(&value)) return *std::move(error);
  row.baseline = std::get<std::optional<double>>(value);
  value = read_figure(current, metric, current_file);
  if (auto* error = std::get_if<Problem>(&value)) return *std::move(error);
  row.current = std::get<std::optional<double>>(value);
  judge(row);
  return row;
}

std::variant<ReportComparison, Problem> compare_checked(const json& baseline,
                                                        std::string_view baseline_file,
                                                        const json& current,
                                                        std::string_view current_file,
                                                        const CompareOptions& options) {
  if (auto error = check_report(baseline, baseline_file)) return *std::move(error);
  if (auto error = check_report(current, current_file)) return *std::move(error);
  ReportComparison comparison;
  if (auto error = identify(baseline, baseline_file, current, current_file, options, comparison)) {
    return *std::move(error);
  }
  // The options: every figure they name must be one of the baseline's.
  auto read = read_options(baseline, baseline_file, options);
  if (auto* error = std::get_if<Problem>(&read)) return *std::move(error);
  Asked& asked = std::get<Asked>(read);
  if (options.metrics.empty()) add_default_metrics(baseline, current, comparison, asked);
  for (const std::string& metric : asked.tolerated) asked.add_metric(metric);
  for (const std::string& metric : asked.metrics) {
    auto row = compare_row(baseline, baseline_file, current, current_file, asked, metric);
    if (auto* error = std::get_if<Problem>(&row)) return *std::move(error);
    comparison.rows.push_back(std::get<ComparisonRow>(std::move(row)));
  }
  return comparison;
}

}  // namespace

std::size_t ReportComparison::regressions() const {
  return static_cast<std::size_t>(std::count_if(
      rows.begin(), rows.end(), [](const ComparisonRow& row) { return row.regressed; }));
}

std::size_t ReportComparison::improvements() const {
  return static_cast<std::size_t>(std::count_if(
      rows.begin(), rows.end(), [](const ComparisonRow& row) { return row.improved; }));
}

std::variant<ReportComparison, Problem> compare_reports(const nlohmann::json& baseline,
                                                        std::string_view baseline_file,
                                                        const nlohmann::json& current,
                                                        std::string_view current_file,
                                                        const CompareOptions& options) {
  injected_failure_point("compare");
  // Every value's type is checked before it is read; this is the promise that reports, however
  // odd, give a Problem and not an exception.
  try {
    return compare_checked(baseline, baseline_file, current, current_file, options);
  } catch (const json::exception& error) {
    return Problem{std::string(baseline_file), "",
                   fmt::format("cannot compare with {}: {}", current_file, error.what())};
  }
}

}  // namespace pollscope

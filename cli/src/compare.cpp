#include "compare.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <ostream>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "json_text.hpp"
#include "report.hpp"
#include "run.hpp"

namespace pollscope {

namespace {

using json = nlohmann::json;

// How a figure is judged.
struct Rule {
  Direction direction = Direction::lower_is_better;
  double tolerance_percent = 0;
  // A count that a correct library keeps where the baseline has it (spurious, missed and ghost
  // events, leaks): no tolerance, any increase regresses, and --tolerance cannot loosen it.
  bool correctness = false;
};

constexpr auto kHigher = Direction::higher_is_better;
constexpr auto kLower = Direction::lower_is_better;

// Default tolerances, from 34 back-to-back runs of scenarios/default.json (1.5 s, 200 TCP pairs)
// on the 2-core shared CI VM while neighbours were building (load average 3), looking at how
// much worse each run was than the one before it, which is what a side-by-side comparison in one
// CI job sees:
// - throughput: 95th percentile 12% worse, worst 15%: 15% (10% would fail one job in 14);
// - latency p50 and p99: 95th percentile 13%, worst 18% (one p99 outlier at 2.3x): 25%;
// - latency p99.9 is bimodal on a shared machine: about 0.3 ms, or one 4 ms scheduler tick
//   when a neighbour preempts the loop; 95th percentile 4.4x: 500% (flags a tail 6x worse);
// - registry p99s (a few hundred calls of a few microseconds, each one preemption away from 3x):
//   95th percentile 2.1x, worst 2.3x: 150%;
// - overhead per event (a calibrated clock read): 95th percentile 34%, one run 5.8x: 50%.
// On a quiet dedicated machine, tighten them with --tolerance.
constexpr double kThroughputTolerance = 15;
constexpr double kLatencyTolerance = 25;
constexpr double kTailTolerance = 500;
constexpr double kRegistryTolerance = 150;
constexpr double kOverheadTolerance = 50;

struct NamedRule {
  std::string_view figure;
  Rule rule;
};

// The figures compared when no --metric is given, in the order of the comparison's rows.
constexpr std::array<NamedRule, 13> kDefaultFigures = {{
    {"events_per_second", {kHigher, kThroughputTolerance, false}},
    {"achieved_rate_ratio", {kHigher, kThroughputTolerance, false}},
    {"latency_ns.p50", {kLower, kLatencyTolerance, false}},
    {"latency_ns.p99", {kLower, kLatencyTolerance, false}},
    {"latency_ns.p99_9", {kLower, kTailTolerance, false}},
    {"registry_ns.register.p99", {kLower, kRegistryTolerance, false}},
    {"registry_ns.reregister.p99", {kLower, kRegistryTolerance, false}},
    {"registry_ns.deregister.p99", {kLower, kRegistryTolerance, false}},
    {"overhead_ns_per_event", {kLower, kOverheadTolerance, false}},
    {"spurious_events", {kLower, 0, true}},
    {"missed_events", {kLower, 0, true}},
    {"loop.ghost_events", {kLower, 0, true}},
    {"leaks.total", {kLower, 0, true}},
}};

// Compared for each phase that both reports have, judged as the overall figure of that name.
constexpr std::array<std::string_view, 2> kPhaseFigures = {"events_per_second", "latency_ns.p99"};

constexpr std::string_view kPhasePrefix = "phases.";

// "phases.NAME.FIGURE" gives FIGURE; an overall figure's name is returned as it is.
std::string_view figure_of(std::string_view metric) {
  if (!metric.starts_with(kPhasePrefix)) return metric;
  const auto dot = metric.find('.', kPhasePrefix.size());
  return dot == std::string_view::npos ? metric : metric.substr(dot + 1);
}

// The rule of any figure, in the default table or not: correctness counts take no tolerance,
// throughput (and toggles applied at a rate) is better higher, anything else (a time, a count of
// work) is better lower.
Rule rule_for(std::string_view metric) {
  const std::string_view figure = figure_of(metric);
  for (const NamedRule& known : kDefaultFigures) {
    if (known.figure == figure) return known.rule;
  }
  if (figure.starts_with("leaks.") || figure == "spurious_events" || figure == "missed_events" ||
      figure == "ghost_events" || figure == "loop.ghost_events") {
    return {kLower, 0, true};
  }
  if (figure == "correct") return {kHigher, 0, true};  // true (1) is the good value
  if (figure == "events_per_second" || figure == "messages_per_second" ||
      figure == "achieved_rate_ratio" || figure == "toggles") {
    return {kHigher, kThroughputTolerance, false};
  }
  return {kLower, kLatencyTolerance, false};
}

// Text from the command line or a report, safe in a one-line message: as it is when it is
// printable ASCII, else as a JSON string (control characters escaped, invalid UTF-8 replaced).
std::string printable(std::string_view text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (plain) return std::string(text);
  return json(std::string(text)).dump(-1, ' ', true, json::error_handler_t::replace);
}

std::string plural(std::size_t count, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", count, count == 1 ? one : many);
}

// Where a figure is in a report, as figure() in report.cpp finds it: overall figures under
// "overall", the leak counts under "leaks", a phase's under the (last) phase of that name.
struct Located {
  std::string pointer;                // the figure's JSON pointer, or its parent's when absent
  const json* node = nullptr;         // null: the report has no such figure
  std::optional<CompareError> error;  // a step on the way is not an object
};

Located locate(const json& report, std::string_view metric, std::string_view file) {
  Located found;
  std::string_view rest = metric;
  if (metric.starts_with(kPhasePrefix)) {
    const auto dot = metric.find('.', kPhasePrefix.size());
    found.pointer = "/phases";
    if (dot == std::string_view::npos) return found;
    const auto name = metric.substr(kPhasePrefix.size(), dot - kPhasePrefix.size());
    const json& phases = report.at("phases");
    for (std::size_t index = 0; index < phases.size(); ++index) {
      if (phases[index].at("name").get_ref<const std::string&>() == name) {
        found.node = &phases[index];
        found.pointer = "/phases/" + std::to_string(index);
      }
    }
    if (found.node == nullptr) return found;
    rest = metric.substr(dot + 1);
  } else if (metric.starts_with("leaks.")) {
    found.node = &report.at("leaks");
    found.pointer = "/leaks";
    rest = metric.substr(6);
  } else {
    found.node = &report.at("overall");
    found.pointer = "/overall";
  }
  while (true) {
    const auto dot = rest.find('.');
    const std::string key(rest.substr(0, dot));
    if (!found.node->is_object()) {
      found.error = CompareError{std::string(file), found.pointer,
                                 fmt::format("expected an object, got {}", describe(*found.node))};
      found.node = nullptr;
      return found;
    }
    const auto member = found.node->find(key);
    if (member == found.node->end()) {
      found.node = nullptr;
      return found;
    }
    found.node = &*member;
    found.pointer = json_child(found.pointer, key);
    if (dot == std::string_view::npos) return found;
    rest.remove_prefix(dot + 1);
  }
}

// A figure's value in a report: none when the report has no such figure, an error when it has
// one that is not a number (a boolean counts as 1 or 0, as in thresholds).
std::variant<std::optional<double>, CompareError> read_figure(const json& report,
                                                              const std::string& metric,
                                                              std::string_view file) {
  Located found = locate(report, metric, file);
  if (found.error) return *std::move(found.error);
  if (found.node == nullptr) return std::optional<double>();
  if (!found.node->is_number() && !found.node->is_boolean()) {
    return CompareError{std::string(file), found.pointer,
                        fmt::format("expected a number, got {}", describe(*found.node))};
  }
  return figure(report, metric);
}

// A figure named by --metric or --tolerance must be one of the baseline's.
std::optional<CompareError> check_named_figure(const json& baseline, std::string_view file,
                                               const std::string& metric,
                                               const std::string& option) {
  Located found = locate(baseline, metric, file);
  if (found.error) return found.error;
  if (found.node == nullptr || found.node->is_object() || found.node->is_array()) {
    return CompareError{
        option, "",
        fmt::format("{} is not a figure of {} (figures are named as in thresholds: "
                    "events_per_second, latency_ns.p99, leaks.total, phases.NAME.FIGURE...)",
                    printable(metric), file)};
  }
  if (!found.node->is_number() && !found.node->is_boolean()) {
    return CompareError{std::string(file), found.pointer,
                        fmt::format("expected a number, got {}", describe(*found.node))};
  }
  return std::nullopt;
}

struct Tolerance {
  std::string metric;
  double percent = 0;
  std::string option;  // "--tolerance METRIC=PERCENT", for errors
};

std::variant<Tolerance, CompareError> parse_tolerance(std::string_view text) {
  Tolerance tolerance;
  tolerance.option = "--tolerance " + printable(text);
  const auto usage = [&](std::string reason) {
    return CompareError{tolerance.option, "", std::move(reason)};
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

std::string context_string(const json& report, const char* key) {
  return report.at("context").at(key).get<std::string>();
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
  identity.build_type = context_string(report, "build_type");
  identity.git_revision = context_string(report, "git_revision");
  identity.start_time = context_string(report, "start_time");
  return identity;
}

// The scenario the baseline ran must be the one compared with, whose hash `other_hash` comes
// from `other` ("cur.json has", "tiny.json hashes to").
std::optional<CompareError> check_same_scenario(const json& baseline, std::string_view file,
                                                const std::string& other_hash,
                                                std::string_view other) {
  const std::string hash = context_string(baseline, "scenario_hash");
  if (hash == other_hash) return std::nullopt;
  return CompareError{std::string(file), "/context/scenario_hash",
                      fmt::format("{}, but {} {}: the runs are of different scenarios "
                                  "(--allow-different-scenario compares them anyway)",
                                  printable(hash), other, printable(other_hash))};
}

void judge(ComparisonRow& row) {
  if (row.missing()) return;
  const double baseline = *row.baseline;
  const double current = *row.current;
  if (baseline != 0) {
    row.ratio = finite_or_zero(current / baseline);
    row.change_percent = finite_or_zero((current - baseline) / baseline * 100);
  }
  // How far the figure moved the bad way, against how far its tolerance lets it.
  const double worse = row.direction == kHigher ? baseline - current : current - baseline;
  const double allowed = std::abs(baseline) * row.tolerance_percent / 100;
  row.regressed = worse > allowed;
  row.improved = -worse > allowed;
}

std::variant<ReportComparison, CompareError> compare_checked(const json& baseline,
                                                             std::string_view baseline_file,
                                                             const json& current,
                                                             std::string_view current_file,
                                                             const CompareOptions& options) {
  if (auto error = check_report(baseline, baseline_file)) return *std::move(error);
  if (auto error = check_report(current, current_file)) return *std::move(error);

  ReportComparison comparison;
  comparison.baseline = identity_of(baseline, baseline_file);
  comparison.current = identity_of(current, current_file);
  const ReportIdentity& before = comparison.baseline;
  const ReportIdentity& after = comparison.current;
  if (before.scenario_hash != after.scenario_hash) {
    if (!options.allow_different_scenario) {
      return *check_same_scenario(baseline, baseline_file, after.scenario_hash,
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
  if (before.build_type != after.build_type) {
    const auto built = [](const std::string& type) {
      return type.empty() ? std::string("(none)") : printable(type);
    };
    comparison.warnings.push_back(fmt::format("the build types differ: {} was built {}, {} {}",
                                              before.file, built(before.build_type), after.file,
                                              built(after.build_type)));
  }

  // The options: every figure they name must be one of the baseline's.
  std::map<std::string, double> tolerances;
  std::vector<std::string> metrics;
  const auto add_metric = [&metrics](const std::string& metric) {
    if (std::find(metrics.begin(), metrics.end(), metric) == metrics.end()) {
      metrics.push_back(metric);
    }
  };
  for (const std::string& metric : options.metrics) {
    if (auto error =
            check_named_figure(baseline, baseline_file, metric, "--metric " + printable(metric))) {
      return *std::move(error);
    }
    add_metric(metric);
  }
  std::vector<Tolerance> parsed;
  for (const std::string& text : options.tolerances) {
    auto tolerance = parse_tolerance(text);
    if (auto* error = std::get_if<CompareError>(&tolerance)) return *std::move(error);
    parsed.push_back(std::get<Tolerance>(std::move(tolerance)));
    const Tolerance& last = parsed.back();
    if (auto error = check_named_figure(baseline, baseline_file, last.metric, last.option)) {
      return *std::move(error);
    }
    if (rule_for(last.metric).correctness) {
      return CompareError{last.option, "",
                          fmt::format("{} is a correctness count: any increase is a regression, "
                                      "and it takes no tolerance",
                                      printable(last.metric))};
    }
    tolerances[last.metric] = last.percent;
  }

  if (options.metrics.empty()) {
    for (const NamedRule& known : kDefaultFigures) add_metric(std::string(known.figure));
    const json& phases_before = baseline.at("phases");
    const json& phases_after = current.at("phases");
    const auto has_phase = [](const json& phases, const std::string& name) {
      return std::any_of(phases.begin(), phases.end(),
                         [&](const json& phase) { return phase.at("name") == name; });
    };
    for (const json& phase : phases_before) {
      const auto& name = phase.at("name").get_ref<const std::string&>();
      if (!has_phase(phases_after, name)) {
        comparison.warnings.push_back(
            fmt::format("phase \"{}\" is only in {}: not compared", printable(name), before.file));
        continue;
      }
      for (std::string_view figure : kPhaseFigures) {
        add_metric(fmt::format("{}{}.{}", kPhasePrefix, name, figure));
      }
    }
    for (const json& phase : phases_after) {
      const auto& name = phase.at("name").get_ref<const std::string&>();
      if (!has_phase(phases_before, name)) {
        comparison.warnings.push_back(
            fmt::format("phase \"{}\" is only in {}: not compared", printable(name), after.file));
      }
    }
  }
  for (const Tolerance& tolerance : parsed) add_metric(tolerance.metric);

  for (const std::string& metric : metrics) {
    ComparisonRow row;
    row.metric = metric;
    const Rule rule = rule_for(metric);
    row.direction = rule.direction;
    row.tolerance_percent = rule.tolerance_percent;
    // A phase's figure takes the tolerance given for it, else the one given for the overall
    // figure of that name.
    if (auto exact = tolerances.find(metric); exact != tolerances.end()) {
      row.tolerance_percent = exact->second;
    } else if (auto overall = tolerances.find(std::string(figure_of(metric)));
               overall != tolerances.end()) {
      row.tolerance_percent = overall->second;
    }
    auto value = read_figure(baseline, metric, baseline_file);
    if (auto* error = std::get_if<CompareError>(&value)) return *std::move(error);
    row.baseline = std::get<std::optional<double>>(value);
    value = read_figure(current, metric, current_file);
    if (auto* error = std::get_if<CompareError>(&value)) return *std::move(error);
    row.current = std::get<std::optional<double>>(value);
    judge(row);
    comparison.rows.push_back(std::move(row));
  }
  return comparison;
}

// A number as JSON: an integer when it is one (counts and nanoseconds read better without
// ".0"), never NaN or infinity.
json number_json(double value) {
  value = finite_or_zero(value);
  if (std::trunc(value) == value && std::abs(value) < 9007199254740992.0) {  // 2^53
    return static_cast<std::int64_t>(value);
  }
  return value;
}

json identity_json(const ReportIdentity& identity) {
  return {{"file", identity.file},
          {"scenario", identity.scenario},
          {"scenario_hash", identity.scenario_hash},
          {"backend", identity.backend},
          {"build_type", identity.build_type},
          {"git_revision", identity.git_revision},
          {"start_time", identity.start_time}};
}

// A figure for a person: whole above 1000, else four significant digits.
std::string shown_number(const json& value) {
  const double number = value.get<double>();
  if (std::abs(number) >= 1000) return fmt::format("{:.0f}", number);
  return fmt::format("{:.4g}", number);
}

std::string read_text(const std::string& path, std::optional<CompareError>& error) {
  const auto cannot_read = [&](int code) {
    error = CompareError{path, "",
                         fmt::format("cannot read: {}", std::generic_category().message(code))};
  };
  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    cannot_read(errno);
    return {};
  }
  std::string text;
  std::array<char, 16384> buffer;
  std::size_t read = 0;
  while ((read = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    text.append(buffer.data(), read);
  }
  if (std::ferror(file.get())) cannot_read(errno);  // a directory: EISDIR
  return text;
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

std::string CompareError::to_string() const {
  std::string line = subject;
  for (const std::string* part : {&path, &reason}) {
    if (part->empty()) continue;
    if (!line.empty()) line += ": ";
    line += *part;
  }
  return line;
}

std::variant<nlohmann::json, CompareError> load_report(const std::string& path) {
  std::optional<CompareError> error;
  const std::string text = read_text(path, error);
  if (error) return *std::move(error);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return CompareError{path, "", "not valid JSON: the file is empty"};
  }
  json report;
  try {
    report = json::parse(text);
  } catch (const json::exception& problem) {
    // what() starts with "[json.exception.parse_error.101] ": the id means nothing to a user.
    std::string_view message = problem.what();
    if (const auto end = message.find("] "); message.starts_with('[') && end != message.npos) {
      message.remove_prefix(end + 2);
    }
    return CompareError{path, "", fmt::format("not valid JSON: {}", message)};
  }
  if (auto problem = check_report(report, path)) return *std::move(problem);
  return report;
}

std::optional<CompareError> check_report(const nlohmann::json& report, std::string_view file) {
  const auto fail = [&](std::string path, std::string reason) {
    return CompareError{std::string(file), std::move(path), std::move(reason)};
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

  const auto object_member = [&](const json& parent, const std::string& parent_path,
                                 const char* key,
                                 json::value_t type) -> std::optional<CompareError> {
    const std::string path = json_child(parent_path, key);
    const auto member = parent.find(key);
    if (member == parent.end()) return fail(path, "missing");
    if (member->type() != type) {
      const std::string_view wanted = type == json::value_t::object  ? "an object"
                                      : type == json::value_t::array ? "an array"
                                                                     : "a string";
      return fail(path, fmt::format("expected {}, got {}", wanted, describe(*member)));
    }
    return std::nullopt;
  };
  if (auto error = object_member(report, "", "context", json::value_t::object)) return error;
  for (const char* key :
       {"scenario", "scenario_hash", "backend", "build_type", "git_revision", "start_time"}) {
    if (auto error = object_member(report.at("context"), "/context", key, json::value_t::string)) {
      return error;
    }
  }
  for (const char* key : {"overall", "leaks"}) {
    if (auto error = object_member(report, "", key, json::value_t::object)) return error;
  }
  if (auto error = object_member(report, "", "phases", json::value_t::array)) return error;
  const json& phases = report.at("phases");
  for (std::size_t index = 0; index < phases.size(); ++index) {
    const std::string path = "/phases/" + std::to_string(index);
    if (!phases[index].is_object()) {
      return fail(path, fmt::format("expected an object, got {}", describe(phases[index])));
    }
    if (auto error = object_member(phases[index], path, "name", json::value_t::string)) {
      return error;
    }
  }
  return std::nullopt;
}

std::variant<ReportComparison, CompareError> compare_reports(const nlohmann::json& baseline,
                                                             std::string_view baseline_file,
                                                             const nlohmann::json& current,
                                                             std::string_view current_file,
                                                             const CompareOptions& options) {
  // Every value's type is checked before it is read; this is the promise that reports, however
  // odd, give a CompareError and not an exception.
  try {
    return compare_checked(baseline, baseline_file, current, current_file, options);
  } catch (const std::exception& error) {
    return CompareError{std::string(baseline_file), "",
                        fmt::format("cannot compare with {}: {}", current_file, error.what())};
  }
}

std::optional<CompareError> check_baseline(const nlohmann::json& baseline,
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
    return CompareError{std::string(baseline_file), "", error.what()};
  }
  // Compared with itself, the baseline has each of its figures read that the run's comparison
  // will read (the run has the same phases, or fewer with another scenario), and the options
  // checked against it.
  auto self = compare_reports(baseline, baseline_file, baseline, baseline_file, options);
  if (auto* error = std::get_if<CompareError>(&self)) return *std::move(error);
  return std::nullopt;
}

std::variant<nlohmann::json, CompareError> load_baseline(const std::string& path,
                                                         const std::string& scenario_hash,
                                                         std::string_view scenario_file,
                                                         const CompareOptions& options) {
  auto baseline = load_report(path);
  if (std::holds_alternative<CompareError>(baseline)) return baseline;
  if (auto error =
          check_baseline(std::get<json>(baseline), path, scenario_hash, scenario_file, options)) {
    return *std::move(error);
  }
  return baseline;
}

std::string_view to_string(Direction direction) {
  return direction == Direction::higher_is_better ? "higher_is_better" : "lower_is_better";
}

nlohmann::json to_json(const ReportComparison& comparison) {
  json block;
  block["baseline"] = identity_json(comparison.baseline);
  block["current"] = identity_json(comparison.current);
  block["rows"] = json::array();
  for (const ComparisonRow& row : comparison.rows) {
    block["rows"].push_back(
        {{"metric", row.metric},
         {"baseline", row.baseline ? number_json(*row.baseline) : json(nullptr)},
         {"current", row.current ? number_json(*row.current) : json(nullptr)},
         {"ratio", finite_or_zero(row.ratio)},
         {"direction", to_string(row.direction)},
         {"tolerance_percent", number_json(row.tolerance_percent)},
         {"change_percent", finite_or_zero(row.change_percent)},
         {"regressed", row.regressed},
         {"improved", row.improved},
         {"missing", row.missing()}});
  }
  block["regressions"] = comparison.regressions();
  block["improvements"] = comparison.improvements();
  block["warnings"] = comparison.warnings;
  block["verdict"] = comparison.regressed() ? "regressed" : "pass";
  return block;
}

nlohmann::json comparison_document(const ReportComparison& comparison) {
  json document = to_json(comparison);
  document["format"] = kComparisonFormat;
  document["tool"] = "pollscope";
  document["kind"] = "comparison";
  return document;
}

std::string comparison_summary(const nlohmann::json& block, std::string_view prefix) {
  const auto& baseline_file = block.at("baseline").at("file").get_ref<const std::string&>();
  const auto& current_file = block.at("current").at("file").get_ref<const std::string&>();
  std::string text;
  for (const json& row : block.at("rows")) {
    const auto& metric = row.at("metric").get_ref<const std::string&>();
    if (row.at("missing").get<bool>()) {
      const bool in_baseline = !row.at("baseline").is_null();
      const bool in_current = !row.at("current").is_null();
      text += fmt::format("{}missing: {}: not in {}\n", prefix, metric,
                          in_baseline  ? current_file
                          : in_current ? baseline_file
                                       : fmt::format("{} nor {}", baseline_file, current_file));
      continue;
    }
    const bool regressed = row.at("regressed").get<bool>();
    if (!regressed && !row.at("improved").get<bool>()) continue;
    const double baseline = row.at("baseline").get<double>();
    text += fmt::format(
        "{}{}: {}: {} -> {} ({}; tolerance {}%, {})\n", prefix,
        regressed ? "regressed" : "improved", metric, shown_number(row.at("baseline")),
        shown_number(row.at("current")),
        baseline == 0 ? std::string("from 0")
                      : fmt::format("{:+.1f}%", row.at("change_percent").get<double>()),
        shown_number(row.at("tolerance_percent")),
        row.at("direction") == "higher_is_better" ? "higher is better" : "lower is better");
  }
  text += fmt::format(
      "{}verdict: {}: {}, {}, {} compared ({} -> {})\n", prefix,
      block.at("verdict").get<std::string>(),
      plural(block.at("regressions").get<std::size_t>(), "regression", "regressions"),
      plural(block.at("improvements").get<std::size_t>(), "improvement", "improvements"),
      plural(block.at("rows").size(), "figure", "figures"), baseline_file, current_file);
  return text;
}

int compare_command(const CompareRequest& request, std::ostream& out, std::ostream& err) {
  const auto fail = [&err](const CompareError& error) {
    err << "pollscope: " << error.to_string() << "\n";
    return kExitInvalidInput;
  };
  auto baseline = load_report(request.baseline_path);
  if (auto* error = std::get_if<CompareError>(&baseline)) return fail(*error);
  auto current = load_report(request.current_path);
  if (auto* error = std::get_if<CompareError>(&current)) return fail(*error);
  auto compared = compare_reports(std::get<json>(baseline), request.baseline_path,
                                  std::get<json>(current), request.current_path, request.options);
  if (auto* error = std::get_if<CompareError>(&compared)) return fail(*error);
  const auto& comparison = std::get<ReportComparison>(compared);

  for (const std::string& warning : comparison.warnings) {
    err << "pollscope: warning: " << warning << "\n";
  }
  const json document = comparison_document(comparison);
  const std::string text = document.dump(2) + "\n";
  if (!write_document(text, request.out_path, out, err)) return kExitEnvironment;
  if (!request.quiet) err << comparison_summary(document, "pollscope: ");
  return comparison.regressed() ? kExitRegressed : kExitPassed;
}

}  // namespace pollscope

#include "gate/ci_formats.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "io/files.hpp"

namespace pollscope {

namespace {

constexpr std::array<std::string_view, 5> kKinds = {"junit", "markdown", "benchmark-smaller",
                                                    "benchmark-bigger", "bencher"};

double median_of_copy(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

std::string unit_of(const std::string& metric) {
  const auto found = find_figure(metric);
  return found ? std::string(found->spec->unit) : "";
}

std::string benchmark_name(const GateComparison& comparison, const std::string& metric) {
  return fmt::format("{}: {}", comparison.scenario, metric);
}

std::string text_of(const GateComparison& comparison, const std::string& kind) {
  if (kind == "junit") return junit_xml(comparison);
  if (kind == "markdown") return markdown_summary(comparison);
  if (kind == "bencher") return bencher_json(comparison).dump(2) + "\n";
  const Direction better =
      kind == "benchmark-bigger" ? Direction::higher_is_better : Direction::lower_is_better;
  return benchmark_action_json(comparison, better).dump(2) + "\n";
}

// A Bencher measure's slug: lower case, letters, digits and dashes.
std::string slug(std::string_view metric) {
  std::string text;
  for (const char c : metric) text += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return text;
}

}  // namespace

std::variant<FormatRequest, Problem> parse_format(const std::string& text) {
  const auto equals = text.find('=');
  if (equals == std::string::npos || equals + 1 == text.size()) {
    return Problem{"--format", "", fmt::format("'{}' is not KIND=FILE", text)};
  }
  FormatRequest request{text.substr(0, equals), text.substr(equals + 1)};
  if (std::find(kKinds.begin(), kKinds.end(), request.kind) == kKinds.end()) {
    return Problem{
        "--format", "",
        fmt::format("unknown kind '{}' (one of: {})", request.kind, fmt::join(kKinds, ", "))};
  }
  return request;
}

std::optional<Problem> check_formats(const std::vector<std::string>& formats) {
  for (const std::string& format : formats) {
    auto parsed = parse_format(format);
    if (auto* problem = std::get_if<Problem>(&parsed)) return *problem;
  }
  return std::nullopt;
}

void write_formats(const GateComparison& comparison, const std::vector<std::string>& formats) {
  for (const std::string& format : formats) {
    auto parsed = parse_format(format);
    if (auto* problem = std::get_if<Problem>(&parsed)) throw Failure::invalid_input(*problem);
    const auto& request = std::get<FormatRequest>(parsed);
    write_atomically(request.path, text_of(comparison, request.kind), "--format " + request.kind);
  }
}

nlohmann::json benchmark_action_json(const GateComparison& comparison, Direction better) {
  nlohmann::json entries = nlohmann::json::array();
  for (const TimingRow& row : comparison.timings) {
    if (row.figure.direction != better) continue;
    entries.push_back({{"name", benchmark_name(comparison, row.figure.metric)},
                       {"unit", unit_of(row.figure.metric)},
                       {"value", median_of_copy(row.candidate)},
                       {"range", describe_ratio(row)},
                       {"extra", fmt::format("{} runs; {}", row.candidate.size(),
                                             stats::to_string(row.judgement.verdict))}});
  }
  if (better == Direction::lower_is_better) {  // every count: fewer is better
    for (const CountRow& row : comparison.counts) {
      const bool per_event = row.figure.metric.ends_with("_per_event");
      entries.push_back(
          {{"name", benchmark_name(comparison, row.figure.metric)},
           {"unit", per_event ? "per event" : "count"},
           {"value", row.candidate},
           {"extra", fmt::format("base {:.6g}; {}", row.base, stats::to_string(row.verdict))}});
    }
  }
  return entries;
}

nlohmann::json bencher_json(const GateComparison& comparison) {
  nlohmann::json measures = nlohmann::json::object();
  for (const TimingRow& row : comparison.timings) {
    const auto [low, high] = std::minmax_element(row.candidate.begin(), row.candidate.end());
    nlohmann::json metric = {{"value", median_of_copy(row.candidate)}};
    if (low != row.candidate.end()) {
      metric["lower_value"] = *low;
      metric["upper_value"] = *high;
    }
    measures[slug(row.figure.metric)] = metric;
  }
  for (const CountRow& row : comparison.counts) {
    measures[slug(row.figure.metric)] = {{"value", row.candidate}};
  }
  return {{comparison.scenario.empty() ? "pollscope" : comparison.scenario, measures}};
}

}  // namespace pollscope

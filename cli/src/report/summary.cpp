// The human summary: one line per summary line of the catalogue, each figure read back from the
// report by its name and shown in its unit.

#include <array>
#include <utility>

#include <fmt/format.h>

#include "figures/catalogue.hpp"
#include "report/lookup.hpp"
#include "report/report.hpp"

namespace pollscope {

namespace {

constexpr std::array<std::pair<SummaryLine, std::string_view>, 4> kLines = {{
    {SummaryLine::throughput, "throughput"},
    {SummaryLine::latency, "latency"},
    {SummaryLine::correctness, "correctness"},
    {SummaryLine::leaks, "leak check"},
}};

// The statistics of a histogram a person looks at first.
constexpr std::array<std::string_view, 4> kShownStatistics = {"p50", "p99", "p99_9", "max"};

std::string shown_value(double value, std::string_view unit) {
  if (unit == "ns")
    return value >= 1e4 ? fmt::format("{:.1f} us", value / 1e3) : fmt::format("{:.0f} ns", value);
  if (unit == "s") return fmt::format("{:.2f} s", value);
  if (unit == "1/s") return fmt::format("{:.0f}/s", value);
  if (unit == "count") return fmt::format("{:.0f}", value);
  return fmt::format("{:.3g}", value);
}

std::string shown_figure(const nlohmann::json& report, const FigureSpec& spec) {
  const std::string name(spec.name);
  if (spec.shape != Shape::histogram) {
    const auto value = figure(report, name);
    return value ? fmt::format("{} {}", name, shown_value(*value, spec.unit)) : std::string();
  }
  std::string text = name;
  for (std::string_view statistic : kShownStatistics) {
    const auto value = figure(report, fmt::format("{}.{}", name, statistic));
    if (value) text += fmt::format(" {} {}", statistic, shown_value(*value, spec.unit));
  }
  return text;
}

std::string summary_line(const nlohmann::json& report, SummaryLine line) {
  std::string text;
  for (const FigureSpec& spec : figure_catalogue()) {
    if (spec.summary != line) continue;
    const std::string shown = shown_figure(report, spec);
    if (shown.empty()) continue;
    text += (text.empty() ? "" : ", ") + shown;
  }
  return text;
}

}  // namespace

std::string human_summary(const nlohmann::json& report, std::string_view before_verdict) {
  const auto& context = report.at("context");
  std::string text = fmt::format(
      "pollscope: {} on {}{}{} ({} worker(s))\n", context.at("scenario").get<std::string>(),
      context.at("backend").get<std::string>(),
      context.value("single_thread_polls", false) ? ", single-thread Polls" : "",
      context.value("receive_ahead", false) ? ", receive-ahead" : "",
      context.at("workers").get<int>());
  for (const auto& [line, label] : kLines) {
    text += fmt::format("  {}: {}\n", label, summary_line(report, line));
  }
  for (const auto& threshold : report.at("thresholds")) {
    const std::string actual = threshold.contains("missing")
                                   ? threshold.at("missing").get<std::string>()
                                   : fmt::format("actual {}", threshold.at("actual").get<double>());
    text += fmt::format("  threshold {}: {} ({})\n", threshold.at("threshold").get<std::string>(),
                        threshold.at("pass").get<bool>() ? "pass" : "FAIL", actual);
  }
  text += before_verdict;
  text += fmt::format("  verdict: {}\n", report.at("verdict").get<std::string>());
  return text;
}

}  // namespace pollscope

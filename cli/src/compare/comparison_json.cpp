// The comparison as JSON, and as lines for a person.

#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "base/json_text.hpp"
#include "base/terminal_text.hpp"
#include "compare/compare.hpp"

namespace pollscope {

namespace {

using json = nlohmann::json;

std::string plural(std::size_t count, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", count, count == 1 ? one : many);
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
          {"single_thread_polls", identity.single_thread_polls},
          {"receive_ahead", identity.receive_ahead},
          {"build_type", identity.build_type},
          {"git_revision", identity.git_revision},
          {"start_time", identity.start_time}};
}

// A figure for a person: whole from 1000 up to 1e15, else four significant digits (1e+300, not
// three hundred digits).
std::string shown_number(const json& value) {
  const double number = value.get<double>();
  if (std::abs(number) >= 1000 && std::abs(number) < 1e15) return fmt::format("{:.0f}", number);
  return fmt::format("{:.4g}", number);
}

// A change in percent for a person. Past a billion percent the digits say nothing more, and the
// JSON's value may be a saturated overflow (compare.hpp): only its size and sign are true.
std::string shown_change(const json& row) {
  if (row.at("baseline").get<double>() == 0) return "from 0";
  constexpr double kHuge = 1e9;
  const double change = row.at("change_percent").get<double>();
  if (change >= kHuge) return ">+1e9%";
  if (change <= -kHuge) return "<-1e9%";
  return fmt::format("{:+.1f}%", change);
}

}  // namespace

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
  // Names from the command line and the reports (a phase's, in its figures' names) as one line
  // each: a hand-edited report's phase may be named with a newline or a terminal's escapes.
  const std::string baseline_file =
      one_line_text(block.at("baseline").at("file").get_ref<const std::string&>());
  const std::string current_file =
      one_line_text(block.at("current").at("file").get_ref<const std::string&>());
  std::string text;
  for (const json& row : block.at("rows")) {
    const std::string metric = one_line_text(row.at("metric").get_ref<const std::string&>());
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
    text += fmt::format(
        "{}{}: {}: {} -> {} ({}; tolerance {}%, {})\n", prefix,
        regressed ? "regressed" : "improved", metric, shown_number(row.at("baseline")),
        shown_number(row.at("current")), shown_change(row),
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

}  // namespace pollscope

#pragma once

// Finding a figure in a report by its dotted name, as thresholds, `compare` and `--metric` name
// it: "latency_ns.p99" (under "overall"), "leaks.total" (the report's own leak check),
// "phases.steady.events_per_second" (under the phase of that name). Phase names are unique in
// a report: a scenario refuses two phases of one name, and check_report (compare/compare.hpp)
// refuses a report that has them, so that no figure is read from one of two phases at random.
// Should an unchecked document have them, the first is found.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace pollscope {

struct FigureLookup {
  const nlohmann::json* node = nullptr;  // null: the report has no such figure
  // The figure's JSON pointer: where it is, or, when a step is missing, where it would be; when
  // a step on the way is not an object, that step's.
  std::string pointer;
  // A step on the way that is not an object (`pointer` names it), or null.
  const nlohmann::json* blocked = nullptr;
};

[[nodiscard]] FigureLookup look_up(const nlohmann::json& report, std::string_view name);

// The figure's value, a boolean counting as 1 or 0; none when the report has no such figure or
// it is not a number.
[[nodiscard]] std::optional<double> figure(const nlohmann::json& report, std::string_view name);

}  // namespace pollscope

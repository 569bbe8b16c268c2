#pragma once

// Finding a figure in a report by its dotted name, as thresholds, `compare` and `--metric` name
// it: "latency_ns.p99" (under "overall"), "leaks.total" (the report's own leak check),
// "phases.steady.events_per_second" (under the phase of that name; the last one, should two
// share it).

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace pollscope {

struct FigureLookup {
  const nlohmann::json* node = nullptr;  // null: the report has no such figure
  std::string pointer;  // the figure's JSON pointer, or the last step's found on the way
  // A step on the way that is not an object (`pointer` names it), or null.
  const nlohmann::json* blocked = nullptr;
};

[[nodiscard]] FigureLookup look_up(const nlohmann::json& report, std::string_view name);

// The figure's value, a boolean counting as 1 or 0; none when the report has no such figure or
// it is not a number.
[[nodiscard]] std::optional<double> figure(const nlohmann::json& report, std::string_view name);

}  // namespace pollscope

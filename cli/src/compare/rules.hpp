#pragma once

// compare's rules, read from the catalogue of figures: how each figure is judged, and which are
// compared when no --metric is given.

#include <string>
#include <string_view>
#include <vector>

#include "figures/catalogue.hpp"

namespace pollscope {

inline constexpr std::string_view kPhasePrefix = "phases.";

// "phases.NAME.FIGURE" gives FIGURE; an overall figure's name is returned as it is.
[[nodiscard]] std::string_view figure_of(std::string_view metric);

// How `metric` is judged (a phase's figure as the overall one of that name); a figure the
// catalogue does not know is judged as work: lower is better.
[[nodiscard]] Judgement rule_for(std::string_view metric);

// The figures compared by default, in the catalogue's order: the whole run's, and those compared
// for each phase too.
[[nodiscard]] std::vector<std::string> default_metrics();
[[nodiscard]] std::vector<std::string> default_phase_figures();

}  // namespace pollscope

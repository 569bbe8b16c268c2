#include "compare/rules.hpp"

namespace pollscope {

namespace {

std::string watched_name(const FigureSpec& spec, const Watch& watch) {
  std::string name(spec.name);
  // Appended in place: `"." + std::string(...)` inserts into a temporary, whose length GCC 12
  // cannot bound at -O2: it warns (-Wstringop-overflow in char_traits::copy) of a copy larger
  // than any object, on a path that cannot run.
  if (!watch.statistic.empty()) {
    name += '.';
    name += watch.statistic;
  }
  return name;
}

std::vector<std::string> watched(bool per_phase_only) {
  std::vector<std::string> names;
  for (const FigureSpec& spec : figure_catalogue()) {
    for (const Watch& watch : spec.watched) {
      if (!per_phase_only || watch.per_phase) names.push_back(watched_name(spec, watch));
    }
  }
  return names;
}

}  // namespace

std::string_view figure_of(std::string_view metric) {
  if (!metric.starts_with(kPhasePrefix)) return metric;
  const auto dot = metric.find('.', kPhasePrefix.size());
  return dot == std::string_view::npos ? metric : metric.substr(dot + 1);
}

Judgement rule_for(std::string_view metric) {
  const auto found = find_figure(figure_of(metric));
  if (!found) return Judgement{Direction::lower_is_better, 25, false};
  Judgement rule = found->spec->judgement;
  for (const Watch& watch : found->spec->watched) {
    if (watch.statistic == found->statistic) rule.tolerance_percent = watch.tolerance_percent;
  }
  if (rule.exact) rule.tolerance_percent = 0;
  return rule;
}

std::vector<std::string> default_metrics() {
  return watched(false);
}

std::vector<std::string> default_phase_figures() {
  return watched(true);
}

}  // namespace pollscope

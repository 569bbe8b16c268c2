// Thresholds: "METRIC OP VALUE", where METRIC is a figure of the catalogue.

#include <charconv>
#include <cmath>
#include <system_error>

#include "figures/catalogue.hpp"
#include "scenario/checker.hpp"

namespace pollscope::scenario_check {

namespace {

// Levenshtein distance, to suggest the metrics nearest a misspelt one.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string nearest(std::string_view wanted, const std::vector<std::string>& candidates,
                    std::size_t how_many) {
  std::vector<std::pair<std::size_t, std::size_t>> ranked;  // (distance, index): stable ties
  ranked.reserve(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    ranked.emplace_back(edit_distance(wanted, candidates[i]), i);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string_view> names;
  for (std::size_t i = 0; i < ranked.size() && i < how_many; ++i) {
    names.push_back(candidates[ranked[i].second]);
  }
  return join(names, ", ");
}

}  // namespace

std::string Checker::metric_problem(std::string_view metric, const std::vector<Phase>& phases) {
  constexpr std::string_view kPhasePrefix = "phases.";
  if (metric.starts_with(kPhasePrefix)) {
    const std::string_view rest = metric.substr(kPhasePrefix.size());
    const std::size_t dot = rest.find('.');
    const std::string_view phase = rest.substr(0, dot);
    std::vector<std::string> names;
    for (const Phase& p : phases) names.push_back(p.name);
    if (dot == std::string_view::npos) {
      return fmt::format("unknown metric {}: a phase's metric reads phases.<phase>.<metric>",
                         quote(metric));
    }
    if (!contains(names, phase)) {
      return fmt::format("unknown phase {} in metric {} (phases: {})", quote(phase), quote(metric),
                         join(names, ", "));
    }
    const std::string_view figure = rest.substr(dot + 1);
    if (contains(known_phase_metrics(), figure)) return {};
    if (contains(leak_metrics(), figure)) {
      const auto checked = std::find_if(phases.begin(), phases.end(), [&](const Phase& p) {
        return p.name == phase && p.leak_check;
      });
      if (checked != phases.end()) return {};
      return fmt::format(
          "unknown metric {}: phase {} has no leak check (set \"leak_check\": "
          "true)",
          quote(metric), phase);
    }
    if (contains(known_metrics(), figure)) {
      return fmt::format("unknown metric {}: {} is only measured for the whole run", quote(metric),
                         figure);
    }
    return fmt::format("unknown metric {} (valid ones include phases.{}.{})", quote(metric), phase,
                       nearest(figure, known_phase_metrics(), 4));
  }
  if (contains(known_metrics(), metric)) return {};
  return fmt::format("unknown metric {} (valid ones include {}, or phases.<phase>.<metric>)",
                     quote(metric), nearest(metric, known_metrics(), 4));
}

bool Checker::check_threshold(const json& value, const std::string& path,
                              const std::vector<Phase>& phases, Threshold* threshold) {
  if (!read_string(value, path, &threshold->text)) return false;
  std::vector<std::string_view> parts;
  const std::string_view text = threshold->text;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = std::min(text.find(' ', start), text.size());
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (parts.size() != 3) {
    return fail(path, fmt::format("expected \"METRIC OP VALUE\" such as "
                                  "\"latency_ns.p99 < 2000000\", got {}",
                                  shown(value)));
  }
  if (std::string problem = metric_problem(parts[0], phases); !problem.empty()) {
    return fail(path, std::move(problem));
  }
  threshold->metric = std::string(parts[0]);
  const auto comparison = std::find_if(kComparisons.begin(), kComparisons.end(),
                                       [&](Comparison c) { return to_string(c) == parts[1]; });
  if (comparison == kComparisons.end()) {
    return fail(path,
                fmt::format("unknown operator {} (use one of <, <=, >, >=, ==)", quote(parts[1])));
  }
  threshold->comparison = *comparison;
  double number = 0;
  const char* first = parts[2].data();
  const char* last = first + parts[2].size();
  if (!is_number_text(parts[2])) {
    return fail(path, fmt::format("{} is not a number", quote(parts[2])));
  }
  const auto [end, error] = std::from_chars(first, last, number);
  if (error != std::errc{} || end != last || !std::isfinite(number)) {
    return fail(path, fmt::format("{} is not a finite number", quote(parts[2])));
  }
  threshold->value = number;
  return true;
}

}  // namespace pollscope::scenario_check

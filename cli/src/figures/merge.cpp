// Merging figures, as the catalogue's merge rule of each says.

#include <algorithm>

#include "figures/catalogue.hpp"

namespace pollscope {

namespace {

// The mean of two measurements, each weighted (by its wall time, or its events).
double weighted(double mine, double my_weight, double theirs, double their_weight) {
  const double weight = my_weight + their_weight;
  return weight > 0 ? (mine * my_weight + theirs * their_weight) / weight : 0;
}

void merge_real(const FigureSpec& spec, double& into, double from, const Figures& before,
                const Figures& other, Combine how) {
  const bool parallel = how == Combine::parallel;
  switch (spec.merge) {
    case Merge::sum:
      into += from;
      break;
    case Merge::wall_time:
      into = parallel ? std::max(into, from) : into + from;
      break;
    case Merge::rate:
      into = parallel ? into + from : weighted(into, before.seconds, from, other.seconds);
      break;
    case Merge::per_event_mean:
      into = weighted(into, static_cast<double>(before.events), from,
                      static_cast<double>(other.events));
      break;
    default:
      break;
  }
}

}  // namespace

void merge_figures(Figures& into, const Figures& from, Combine how) {
  const Figures before = into;  // the weights are the figures before the merge
  for (const FigureSpec& spec : figure_catalogue()) {
    if (const auto* count = std::get_if<Count>(&spec.reading)) {
      into.** count += from.**count;  // counts merge by sum, whatever the combination
    } else if (const auto* real = std::get_if<Real>(&spec.reading)) {
      merge_real(spec, into.**real, from.**real, before, from, how);
    } else if (const auto* histogram = std::get_if<Distribution>(&spec.reading)) {
      (into.**histogram).merge(from.**histogram);
    }
  }
}

}  // namespace pollscope

#include "stats/ratio_interval.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "stats/rank_sum.hpp"

namespace pollscope::stats {

namespace {

// The largest k >= 1 whose tail P(U <= k - 1) stays within `tail`, and the coverage
// 1 - 2 P(U <= k - 1) the interval from the k-th smallest to the k-th largest ratio has.
struct Depth {
  std::size_t k = 1;
  double confidence = 0;
};

Depth exact_depth(std::size_t n, std::size_t m, double tail) {
  const auto distribution = exact_u_distribution(n, m);
  Depth depth{1, 1 - 2 * distribution[0]};
  double below = 0;  // P(U <= k - 1)
  for (std::size_t k = 1; k <= (n * m + 1) / 2; ++k) {
    below += distribution[k - 1];
    if (below > tail) break;
    depth = {k, 1 - 2 * below};
  }
  return depth;
}

Depth normal_depth(std::size_t n, std::size_t m, double tail) {
  const double nm = double(n) * double(m);
  const double sd = std::sqrt(nm * double(n + m + 1) / 12);
  // The quantile of the standard normal for `tail`, by bisection on erfc.
  double lo = 0, hi = 10;
  for (int i = 0; i < 60; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(mid / std::sqrt(2.0)) > tail ? lo : hi) = mid;
  }
  const double k = std::floor(nm / 2 - hi * sd);
  Depth depth;
  depth.k = k < 1 ? 1 : static_cast<std::size_t>(k);
  const double z = (nm / 2 - double(depth.k) + 0.5) / sd;
  depth.confidence = 1 - std::erfc(z / std::sqrt(2.0));
  return depth;
}

Depth depth_for(std::size_t n, std::size_t m, double level) {
  const double tail = (1 - level) / 2;
  return n * m <= kExactLimit ? exact_depth(n, m, tail) : normal_depth(n, m, tail);
}

}  // namespace

double interval_confidence(std::size_t n, std::size_t m, double level) {
  return n == 0 || m == 0 ? 0 : depth_for(n, m, level).confidence;
}

RatioInterval hodges_lehmann_ratio(std::span<const double> base, std::span<const double> candidate,
                                   double level) {
  RatioInterval result;
  if (base.empty() || candidate.empty()) return result;
  std::vector<double> logs;
  logs.reserve(base.size() * candidate.size());
  for (const double x : base) {
    for (const double y : candidate) logs.push_back(std::log(y) - std::log(x));
  }
  std::sort(logs.begin(), logs.end());
  const std::size_t pairs = logs.size();
  const double middle = pairs % 2 ? logs[pairs / 2] : (logs[pairs / 2 - 1] + logs[pairs / 2]) / 2;
  result.ratio = std::exp(middle);
  result.exact = pairs <= kExactLimit;
  const Depth depth = depth_for(base.size(), candidate.size(), level);
  result.low = std::exp(logs[depth.k - 1]);
  result.high = std::exp(logs[pairs - depth.k]);
  result.confidence = depth.confidence;
  return result;
}

}  // namespace pollscope::stats

#include "stats/rank_sum.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace pollscope::stats {

double mann_whitney_u(std::span<const double> base, std::span<const double> candidate) {
  double u = 0;
  for (const double x : base) {
    for (const double y : candidate) u += y > x ? 1.0 : (y == x ? 0.5 : 0.0);
  }
  return u;
}

std::vector<double> exact_u_distribution(std::size_t n, std::size_t m) {
  // [n+m choose n]_q = prod_{i=1..n} (1 - q^(m+i)) / (1 - q^i): multiply by the numerator, then
  // divide by the denominator, which divides exactly, term by term.
  const std::size_t size = n * m + 1;
  std::vector<double> ways(size + m + n, 0.0);
  ways[0] = 1;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t k = ways.size(); k-- > m + i;) ways[k] -= ways[k - (m + i)];
    for (std::size_t k = i; k < ways.size(); ++k) ways[k] += ways[k - i];
  }
  ways.resize(size);
  double total = 0;
  for (double& w : ways) {
    w = std::max(0.0, w);  // rounding in the division may leave a tail term a hair below zero
    total += w;
  }
  for (double& w : ways) w /= total;
  return ways;
}

namespace {

bool shares_a_value(std::span<const double> a, std::span<const double> b) {
  std::vector<double> sorted(b.begin(), b.end());
  std::sort(sorted.begin(), sorted.end());
  return std::any_of(a.begin(), a.end(),
                     [&](double x) { return std::binary_search(sorted.begin(), sorted.end(), x); });
}

double exact_p(double u, std::size_t n, std::size_t m) {
  const auto distribution = exact_u_distribution(n, m);
  double below = 0;  // P(U <= u)
  double above = 0;  // P(U >= u)
  for (std::size_t k = 0; k < distribution.size(); ++k) {
    if (static_cast<double>(k) <= u) below += distribution[k];
    if (static_cast<double>(k) >= u) above += distribution[k];
  }
  return std::min(1.0, 2 * std::min(below, above));
}

// The variance of U under the null, less what ties within the pooled sample take away.
double tie_corrected_variance(std::span<const double> base, std::span<const double> candidate) {
  std::map<double, double> counts;
  for (const double x : base) counts[x] += 1;
  for (const double y : candidate) counts[y] += 1;
  const double n = static_cast<double>(base.size());
  const double m = static_cast<double>(candidate.size());
  const double total = n + m;
  double ties = 0;
  for (const auto& [value, t] : counts) ties += t * t * t - t;
  return n * m / 12 * ((total + 1) - ties / (total * (total - 1)));
}

}  // namespace

RankSumTest rank_sum_test(std::span<const double> base, std::span<const double> candidate) {
  RankSumTest test;
  if (base.empty() || candidate.empty()) return test;
  test.u = mann_whitney_u(base, candidate);
  const std::size_t n = base.size();
  const std::size_t m = candidate.size();
  if (n * m <= kExactLimit && !shares_a_value(base, candidate)) {
    test.exact = true;
    test.p_value = exact_p(test.u, n, m);
    return test;
  }
  const double variance = tie_corrected_variance(base, candidate);
  if (variance <= 0) return test;  // every value the same: no evidence either way
  const double distance = std::max(0.0, std::abs(test.u - double(n) * double(m) / 2) - 0.5);
  test.p_value = std::min(1.0, std::erfc(distance / std::sqrt(variance) / std::sqrt(2.0)));
  return test;
}

}  // namespace pollscope::stats

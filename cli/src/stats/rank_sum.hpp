#pragma once

// The Mann–Whitney U test (Wilcoxon rank-sum): does one sample tend to hold larger values than
// the other? It assumes nothing about the shape of the timings, which on a shared machine are
// skewed and heavy-tailed, only that each sample's values are independent draws.

#include <span>
#include <vector>

namespace pollscope::stats {

// U counts the pairs (x from `base`, y from `candidate`) with y > x, a tie counting one half.
[[nodiscard]] double mann_whitney_u(std::span<const double> base,
                                    std::span<const double> candidate);

// The distribution of U under "no difference" for samples of n and m values without ties:
// element u is P(U = u), for u in 0..n*m. Exact (the coefficients of the Gaussian binomial
// [n+m choose n]), computed in O(n * n * m); meant for n, m up to a few hundred.
[[nodiscard]] std::vector<double> exact_u_distribution(std::size_t n, std::size_t m);

struct RankSumTest {
  double u = 0;        // mann_whitney_u(base, candidate)
  double p_value = 1;  // two-sided
  bool exact = false;  // from exact_u_distribution; otherwise the normal approximation
};

// The two-sided test. Exact when neither sample is large (n*m <= kExactLimit) and no value
// appears in both; otherwise the normal approximation with the tie correction and a continuity
// correction. Either sample empty: p = 1.
inline constexpr std::size_t kExactLimit = 40000;
[[nodiscard]] RankSumTest rank_sum_test(std::span<const double> base,
                                        std::span<const double> candidate);

}  // namespace pollscope::stats

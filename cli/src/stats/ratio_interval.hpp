#pragma once

// How much slower or faster is the candidate? The Hodges–Lehmann estimate of the shift between
// two samples, taken on the logarithms of the values so that the shift is a ratio: the median,
// over every pair (x from base, y from candidate), of y / x. Its confidence interval comes from
// the same pairs and the distribution of the Mann–Whitney U (Bauer 1972): the k-th smallest and
// k-th largest pairwise ratios, with k the largest count that keeps P(U < k) within half of
// what the confidence level leaves.

#include <cstddef>
#include <span>

namespace pollscope::stats {

struct RatioInterval {
  double ratio = 1;  // the estimate of candidate / base
  double low = 1;    // the interval's bounds
  double high = 1;
  // The interval's actual coverage: at least the level asked for when the samples allow it;
  // with few values the widest interval the pairs give (their smallest and largest ratios) may
  // cover less, and this says how much.
  double confidence = 0;
  bool exact = false;  // the coverage comes from the exact distribution of U
};

// Every value must be positive (timings, rates). `level` is the confidence asked for, e.g. 0.95.
// Either sample empty: the ratio 1 with confidence 0.
[[nodiscard]] RatioInterval hodges_lehmann_ratio(std::span<const double> base,
                                                 std::span<const double> candidate, double level);

// The coverage hodges_lehmann_ratio's interval has for samples of n and m values at `level`:
// whether so few values can say anything at that level, whatever they are. 0 when n or m is 0.
[[nodiscard]] double interval_confidence(std::size_t n, std::size_t m, double level);

}  // namespace pollscope::stats

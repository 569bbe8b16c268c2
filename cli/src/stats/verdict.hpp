#pragma once

// The verdict on one timing figure measured several times on each side: did the candidate get
// worse by more than the tolerance, better by more, stay within it, or can the samples not
// tell? "Inconclusive" is what a noisy machine should produce instead of a false alarm: the
// interval of the ratio reaches past a tolerance bound on one side and inside it on the other.

#include <span>
#include <string_view>

#include "figures/catalogue.hpp"
#include "stats/rank_sum.hpp"
#include "stats/ratio_interval.hpp"

namespace pollscope::stats {

enum class Verdict { unchanged, improved, regressed, inconclusive };

[[nodiscard]] std::string_view to_string(Verdict verdict);  // "unchanged", ...

struct TimingRule {
  Direction direction = Direction::lower_is_better;
  double tolerance_percent = 0;  // a move within it is no change
  double level = 0.95;           // the confidence of the ratio's interval
  double alpha = 0.05;           // the largest rank-sum p-value that counts as a difference
};

struct TimingJudgement {
  Verdict verdict = Verdict::inconclusive;
  RatioInterval interval;  // candidate / base
  RankSumTest test;
};

// Regressed: the whole interval lies beyond the tolerance the bad way, the rank-sum test finds
// a difference and the interval covers at least `level`. Improved: the same, the good way.
// Unchanged: the whole interval lies within the tolerance. Otherwise inconclusive. Values must
// be positive.
[[nodiscard]] TimingJudgement judge_timing(std::span<const double> base,
                                           std::span<const double> candidate,
                                           const TimingRule& rule);

}  // namespace pollscope::stats

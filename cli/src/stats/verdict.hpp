#pragma once

// The verdict on one timing figure measured several times on each side: did the candidate get
// worse by more than the tolerance, better by more, stay within it, or can the samples not
// tell? "Inconclusive" is what a noisy machine should produce instead of a false alarm: the
// interval of the ratio reaches past a tolerance bound on one side and inside it on the other.

#include <optional>
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
  // candidate / base; none when a side is empty or has a value at or below 0 (a build that
  // handled no event): a zero has no logarithm, and a made-up ratio of 1 would read as measured.
  std::optional<RatioInterval> interval;
  RankSumTest test;
};

// Regressed: the whole interval lies beyond the tolerance the bad way, the rank-sum test finds
// a difference and the interval covers at least `level`. Improved: the same, the good way.
// Unchanged: the whole interval lies within the tolerance and covers at least `level`.
// Otherwise inconclusive. Without a ratio (a value at or below 0): the same value throughout
// both sides is unchanged when the samples could reach `level`; else the rank-sum test must find
// a difference and the medians differ beyond the tolerance (a zero against a positive median
// always does).
[[nodiscard]] TimingJudgement judge_timing(std::span<const double> base,
                                           std::span<const double> candidate,
                                           const TimingRule& rule);

}  // namespace pollscope::stats

#include "stats/verdict.hpp"

#include <algorithm>
#include <cmath>

namespace pollscope::stats {

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::unchanged:
      return "unchanged";
    case Verdict::improved:
      return "improved";
    case Verdict::regressed:
      return "regressed";
    case Verdict::inconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

namespace {

bool all_positive(std::span<const double> sample) {
  return std::all_of(sample.begin(), sample.end(),
                     [](double value) { return value > 0 && std::isfinite(value); });
}

// Every value of both samples the same: an idle figure, zero in every round.
bool one_value(std::span<const double> base, std::span<const double> candidate) {
  const double first = base.front();
  const auto same = [first](double value) { return value == first; };
  return std::all_of(base.begin(), base.end(), same) &&
         std::all_of(candidate.begin(), candidate.end(), same);
}

}  // namespace

TimingJudgement judge_timing(std::span<const double> base, std::span<const double> candidate,
                             const TimingRule& rule) {
  TimingJudgement judgement;
  judgement.test = rank_sum_test(base, candidate);
  if (base.empty() || candidate.empty()) return judgement;
  // A zero has no place on a ratio scale (log 0): unchanged when both sides held the same value
  // throughout, else nothing can be said.
  if (!all_positive(base) || !all_positive(candidate)) {
    judgement.verdict = one_value(base, candidate) ? Verdict::unchanged : Verdict::inconclusive;
    return judgement;
  }
  judgement.interval = hodges_lehmann_ratio(base, candidate, rule.level);
  // "Worse by" as a ratio above 1, whichever way is better for the figure.
  const auto& interval = judgement.interval;
  const bool lower_better = rule.direction == Direction::lower_is_better;
  const double worse_low = lower_better ? interval.low : 1 / interval.high;
  const double worse_high = lower_better ? interval.high : 1 / interval.low;
  const double bound = 1 + rule.tolerance_percent / 100;
  const bool trusted =
      judgement.test.p_value <= rule.alpha && interval.confidence + 1e-9 >= rule.level;
  if (worse_low > bound && trusted) {
    judgement.verdict = Verdict::regressed;
  } else if (worse_high < 1 / bound && trusted) {
    judgement.verdict = Verdict::improved;
  } else if (worse_low >= 1 / bound && worse_high <= bound) {
    judgement.verdict = Verdict::unchanged;
  } else {
    judgement.verdict = Verdict::inconclusive;
  }
  return judgement;
}

}  // namespace pollscope::stats

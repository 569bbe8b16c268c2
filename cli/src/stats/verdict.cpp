#include "stats/verdict.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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

// Confidences computed two ways may differ in the last bits.
constexpr double kSlack = 1e-9;

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

double median(std::span<const double> sample) {
  std::vector<double> values(sample.begin(), sample.end());
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// How much worse the candidate's median is than the base's, as a ratio above 1 when worse;
// infinite against a zero, NaN when both are zero.
double worse_ratio(double base, double candidate, Direction direction) {
  const double worse = direction == Direction::lower_is_better ? candidate : base;
  const double better = direction == Direction::lower_is_better ? base : candidate;
  if (better != 0) return worse / better;
  return worse == 0 ? std::numeric_limits<double>::quiet_NaN()
                    : std::numeric_limits<double>::infinity();
}

// A side has a value at or below zero: no logarithm, so no interval; the rank test and the
// medians decide.
Verdict judge_without_ratio(std::span<const double> base, std::span<const double> candidate,
                            const TimingRule& rule, const RankSumTest& test) {
  if (one_value(base, candidate)) {
    const double coverage = interval_confidence(base.size(), candidate.size(), rule.level);
    return coverage + kSlack >= rule.level ? Verdict::unchanged : Verdict::inconclusive;
  }
  const double base_median = median(base), candidate_median = median(candidate);
  if (base_median < 0 || candidate_median < 0 || test.p_value > rule.alpha) {
    return Verdict::inconclusive;
  }
  const double worse = worse_ratio(base_median, candidate_median, rule.direction);
  const double bound = 1 + rule.tolerance_percent / 100;
  if (worse > bound) return Verdict::regressed;  // NaN compares false both ways
  if (worse < 1 / bound) return Verdict::improved;
  return Verdict::inconclusive;
}

Verdict judge_interval(const RatioInterval& interval, const RankSumTest& test,
                       const TimingRule& rule) {
  // "Worse by" as a ratio above 1, whichever way is better for the figure.
  const bool lower_better = rule.direction == Direction::lower_is_better;
  const double worse_low = lower_better ? interval.low : 1 / interval.high;
  const double worse_high = lower_better ? interval.high : 1 / interval.low;
  const double bound = 1 + rule.tolerance_percent / 100;
  // Every verdict but inconclusive needs the interval to cover the level: with too few values
  // a narrow interval of pairs is no evidence of "within the tolerance" either.
  const bool reached = interval.confidence + kSlack >= rule.level;
  const bool different = test.p_value <= rule.alpha;
  if (worse_low > bound && different && reached) return Verdict::regressed;
  if (worse_high < 1 / bound && different && reached) return Verdict::improved;
  if (worse_low >= 1 / bound && worse_high <= bound && reached) return Verdict::unchanged;
  return Verdict::inconclusive;
}

}  // namespace

TimingJudgement judge_timing(std::span<const double> base, std::span<const double> candidate,
                             const TimingRule& rule) {
  TimingJudgement judgement;
  judgement.test = rank_sum_test(base, candidate);
  if (base.empty() || candidate.empty()) return judgement;
  if (!all_positive(base) || !all_positive(candidate)) {
    judgement.verdict = judge_without_ratio(base, candidate, rule, judgement.test);
    return judgement;
  }
  judgement.interval = hodges_lehmann_ratio(base, candidate, rule.level);
  judgement.verdict = judge_interval(*judgement.interval, judgement.test, rule);
  return judgement;
}

}  // namespace pollscope::stats

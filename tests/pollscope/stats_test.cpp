// The statistics of the performance gate on synthetic samples whose answers are known: the
// exact distribution of the Mann–Whitney U, its p-values, the Hodges–Lehmann ratio and its
// interval, and the verdicts drawn from them.

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include <cmath>

#include "stats/rank_sum.hpp"
#include "stats/ratio_interval.hpp"
#include "stats/verdict.hpp"

namespace pollscope::stats {
namespace {

// `count` values around `centre`, each off by up to `spread` (a fraction) either way, from a
// fixed linear congruential sequence so that every run draws the same samples.
std::vector<double> noisy(double centre, double spread, int count, std::uint64_t& state) {
  std::vector<double> values;
  for (int i = 0; i < count; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const double uniform = double(state >> 11) / double(1ULL << 53);
    values.push_back(centre * (1 + spread * (2 * uniform - 1)));
  }
  return values;
}

TEST(RankSumTest, ExactDistributionOfTwoAgainstTwo) {
  // The 6 orders of two values against two give U = 0, 1, 2, 2, 3, 4.
  const auto distribution = exact_u_distribution(2, 2);
  const std::vector<double> expected = {1.0 / 6, 1.0 / 6, 2.0 / 6, 1.0 / 6, 1.0 / 6};
  ASSERT_EQ(distribution.size(), expected.size());
  for (std::size_t u = 0; u < expected.size(); ++u)
    EXPECT_NEAR(distribution[u], expected[u], 1e-12);
}

TEST(RankSumTest, ExactDistributionOfThreeAgainstThreeCountsPartitionsInABox) {
  const std::vector<int> ways = {1, 1, 2, 3, 3, 3, 3, 2, 1, 1};  // partitions in a 3x3 box
  const auto distribution = exact_u_distribution(3, 3);
  ASSERT_EQ(distribution.size(), ways.size());
  for (std::size_t u = 0; u < ways.size(); ++u) EXPECT_NEAR(distribution[u], ways[u] / 20.0, 1e-12);
}

TEST(RankSumTest, LargeExactDistributionIsSymmetricAndSumsToOne) {
  const auto distribution = exact_u_distribution(60, 40);
  double total = 0;
  for (std::size_t u = 0; u < distribution.size(); ++u) {
    total += distribution[u];
    EXPECT_NEAR(distribution[u], distribution[distribution.size() - 1 - u], 1e-12);
  }
  EXPECT_NEAR(total, 1.0, 1e-9);
}

TEST(RankSumTest, SeparatedSamplesOfFiveGiveTwoIn252) {
  const std::vector<double> base = {1, 2, 3, 4, 5};
  const std::vector<double> candidate = {6, 7, 8, 9, 10};
  const auto test = rank_sum_test(base, candidate);
  EXPECT_TRUE(test.exact);
  EXPECT_EQ(test.u, 25);
  EXPECT_NEAR(test.p_value, 2.0 / 252, 1e-12);
  EXPECT_NEAR(rank_sum_test(candidate, base).p_value, 2.0 / 252, 1e-12);
  EXPECT_EQ(rank_sum_test(candidate, base).u, 0);
}

TEST(RankSumTest, InterleavedSamplesAreFarFromSignificant) {
  // U = 6 of 9; P(U >= 6) = 7/20 for three against three.
  const std::vector<double> base = {1, 3, 5};
  const std::vector<double> candidate = {2, 4, 6};
  const auto test = rank_sum_test(base, candidate);
  EXPECT_EQ(test.u, 6);
  EXPECT_NEAR(test.p_value, 0.7, 1e-12);
}

TEST(RankSumTest, TiesCountHalfAndUseTheNormalApproximation) {
  const std::vector<double> base = {1, 2, 2, 3};
  const std::vector<double> candidate = {2, 3, 3, 4};
  const auto test = rank_sum_test(base, candidate);
  EXPECT_FALSE(test.exact);
  // Pairs y > x, a tie one half: x = 1: 4; each x = 2: 3 + 0.5; x = 3: 1 + 2 * 0.5.
  EXPECT_EQ(test.u, 4 + 3.5 + 3.5 + 2);
  EXPECT_GT(test.p_value, 0.05);
  EXPECT_LT(test.p_value, 1);
  const std::vector<double> same = {5, 5, 5};
  EXPECT_EQ(rank_sum_test(same, same).p_value, 1);
}

TEST(RankSumTest, LargeSeparatedSamplesUseTheNormalApproximation) {
  std::uint64_t state = 7;
  const auto base = noisy(100, 0.01, 250, state);
  const auto candidate = noisy(110, 0.01, 250, state);
  const auto test = rank_sum_test(base, candidate);
  EXPECT_FALSE(test.exact);
  EXPECT_EQ(test.u, 250.0 * 250.0);
  EXPECT_LT(test.p_value, 1e-10);
}

TEST(RatioIntervalTest, DoubledSamplesOfThreeGiveRatioTwo) {
  // Pairwise ratios 0.5, 1, 1, 2, 2, 2, 4, 4, 8: the median is 2; three against three can only
  // give the widest interval, which covers 1 - 2/20.
  const std::vector<double> base = {10, 20, 40};
  const std::vector<double> candidate = {20, 40, 80};
  const auto interval = hodges_lehmann_ratio(base, candidate, 0.95);
  EXPECT_NEAR(interval.ratio, 2, 1e-12);
  EXPECT_NEAR(interval.low, 0.5, 1e-12);
  EXPECT_NEAR(interval.high, 8, 1e-12);
  EXPECT_NEAR(interval.confidence, 0.9, 1e-12);
}

TEST(RatioIntervalTest, ScaledSampleGivesItsScale) {
  std::vector<double> base;
  for (int i = 1; i <= 10; ++i) base.push_back(i);
  std::vector<double> candidate;
  for (const double x : base) candidate.push_back(1.5 * x);
  const auto interval = hodges_lehmann_ratio(base, candidate, 0.95);
  EXPECT_NEAR(interval.ratio, 1.5, 1e-12);
  EXPECT_LT(interval.low, 1.5);
  EXPECT_GT(interval.high, 1.5);
  EXPECT_GE(interval.confidence, 0.95);
  EXPECT_TRUE(interval.exact);
}

TEST(RatioIntervalTest, IntervalCoversNoChangeAsOftenAsItPromises) {
  std::uint64_t state = 42;
  int covered = 0;
  const int trials = 400;
  for (int trial = 0; trial < trials; ++trial) {
    const auto base = noisy(1000, 0.2, 10, state);
    const auto candidate = noisy(1000, 0.2, 10, state);
    const auto interval = hodges_lehmann_ratio(base, candidate, 0.95);
    if (interval.low <= 1 && 1 <= interval.high) ++covered;
  }
  EXPECT_GE(covered, trials * 92 / 100);
  EXPECT_LE(covered, trials * 99 / 100);
}

TEST(VerdictTest, TenPercentSlowerWithOnePercentNoiseRegressed) {
  std::uint64_t state = 1;
  const auto base = noisy(1000, 0.01, 10, state);
  const auto candidate = noisy(1100, 0.01, 10, state);
  const auto judgement = judge_timing(base, candidate, {Direction::lower_is_better, 3});
  EXPECT_EQ(judgement.verdict, Verdict::regressed);
  ASSERT_TRUE(judgement.interval.has_value());
  EXPECT_NEAR(judgement.interval->ratio, 1.1, 0.01);
  EXPECT_LT(judgement.test.p_value, 0.001);
}

TEST(VerdictTest, SameDistributionIsUnchanged) {
  std::uint64_t state = 2;
  const auto base = noisy(1000, 0.01, 10, state);
  const auto candidate = noisy(1000, 0.01, 10, state);
  EXPECT_EQ(judge_timing(base, candidate, {Direction::lower_is_better, 3}).verdict,
            Verdict::unchanged);
}

TEST(VerdictTest, DirectionDecidesWhichWayRegresses) {
  std::uint64_t state = 3;
  const auto base = noisy(1000, 0.01, 10, state);
  const auto lower = noisy(900, 0.01, 10, state);
  const auto higher = noisy(1100, 0.01, 10, state);
  EXPECT_EQ(judge_timing(base, lower, {Direction::higher_is_better, 3}).verdict,
            Verdict::regressed);
  EXPECT_EQ(judge_timing(base, higher, {Direction::higher_is_better, 3}).verdict,
            Verdict::improved);
  EXPECT_EQ(judge_timing(base, lower, {Direction::lower_is_better, 3}).verdict, Verdict::improved);
}

// An idle figure (zero in every round) has no ratio: the same zeros on both sides are no
// change, and a zero against positive values is judged by the rank test alone; never a NaN,
// and never a ratio that was not measured.
TEST(VerdictTest, ZerosAreJudgedWithoutARatio) {
  const std::vector<double> zeros(4, 0.0);
  const auto same = judge_timing(zeros, zeros, {Direction::lower_is_better, 3});
  EXPECT_EQ(same.verdict, Verdict::unchanged);
  EXPECT_FALSE(same.interval.has_value());

  const std::vector<double> busy{10, 11, 10, 12};
  const auto against = judge_timing(zeros, busy, {Direction::lower_is_better, 3});
  EXPECT_EQ(against.verdict, Verdict::regressed);  // 4 against 4 apart: p = 2/70
  EXPECT_FALSE(against.interval.has_value());
  EXPECT_FALSE(std::isnan(against.test.p_value));
}

// A build that handled no event: its throughput is 0 in every run. Lower throughput is worse,
// so that is a regression as soon as the rank test can tell (4 runs a side), never a "1.000x".
TEST(VerdictTest, ZeroThroughputAgainstAPositiveBaseRegresses) {
  const std::vector<double> base{1000, 1010, 990, 1005};
  const std::vector<double> deaf(4, 0.0);
  const auto judged = judge_timing(base, deaf, {Direction::higher_is_better, 1});
  EXPECT_EQ(judged.verdict, Verdict::regressed);
  EXPECT_FALSE(judged.interval.has_value());
  // The other way round it improved; with two runs a side the rank test cannot tell.
  EXPECT_EQ(judge_timing(deaf, base, {Direction::higher_is_better, 1}).verdict, Verdict::improved);
  const std::vector<double> two{1000, 1010}, two_deaf(2, 0.0);
  EXPECT_EQ(judge_timing(two, two_deaf, {Direction::higher_is_better, 1}).verdict,
            Verdict::inconclusive);
  // A zero in some runs only: judged by the medians, here both positive and far apart.
  const std::vector<double> sometimes{0, 400, 410, 420};
  EXPECT_EQ(judge_timing(base, sometimes, {Direction::higher_is_better, 1}).verdict,
            Verdict::regressed);
}

// "Unchanged" claims the change lies within the tolerance at the confidence level; one or two
// runs a side cannot show that, however close their values, nor can three (90% at most).
TEST(VerdictTest, UnchangedNeedsTheConfidenceLevelToo) {
  const TimingRule rule{Direction::lower_is_better, 1};
  const std::vector<double> one{1000}, one_close{1004};
  const auto single = judge_timing(one, one_close, rule);
  EXPECT_EQ(single.verdict, Verdict::inconclusive);
  ASSERT_TRUE(single.interval.has_value());
  EXPECT_LT(single.interval->confidence, 0.95);
  const std::vector<double> three{1000, 1001, 1002}, three_close{1001, 1002, 1003};
  EXPECT_EQ(judge_timing(three, three_close, rule).verdict, Verdict::inconclusive);
  const std::vector<double> four{1000, 1001, 1002, 1003}, four_close{1001, 1002, 1003, 1004};
  EXPECT_EQ(judge_timing(four, four_close, rule).verdict, Verdict::unchanged);
  // The same holds for figures without a ratio: one zero a side says nothing.
  const std::vector<double> zero{0.0};
  EXPECT_EQ(judge_timing(zero, zero, rule).verdict, Verdict::inconclusive);
  EXPECT_NEAR(interval_confidence(3, 3, 0.95), 0.9, 1e-12);
  EXPECT_NEAR(interval_confidence(4, 4, 0.95), 1 - 2.0 / 70, 1e-12);
  EXPECT_EQ(interval_confidence(0, 4, 0.95), 0);
}

TEST(VerdictTest, SmallShiftInWideNoiseIsInconclusive) {
  std::uint64_t state = 4;
  const auto base = noisy(1000, 0.2, 5, state);
  const auto candidate = noisy(1030, 0.2, 5, state);
  EXPECT_EQ(judge_timing(base, candidate, {Direction::lower_is_better, 3}).verdict,
            Verdict::inconclusive);
}

TEST(VerdictTest, TooFewRepetitionsCannotRegress) {
  // Twice as slow, but three against three cannot reach 95% coverage.
  const std::vector<double> base = {10, 11, 12};
  const std::vector<double> candidate = {20, 21, 22};
  EXPECT_EQ(judge_timing(base, candidate, {Direction::lower_is_better, 3}).verdict,
            Verdict::inconclusive);
}

TEST(VerdictTest, VerdictsHaveNames) {
  EXPECT_EQ(to_string(Verdict::regressed), "regressed");
  EXPECT_EQ(to_string(Verdict::inconclusive), "inconclusive");
}

}  // namespace
}  // namespace pollscope::stats
